#!/usr/bin/env bash
# Scrape-path cost, weir beside vmagent and Prometheus (issue 7's bar): T targets x S series
# of `gen_expo.py` exposition (~195 bytes a sample) served by a private nginx on 127.0.0.1,
# scraped every 10 s. weir forwards every sample as line protocol to a discarding sink
# (nginx `return 204`); vmagent remote-writes to the same sink; Prometheus keeps its TSDB in
# a temp dir. Each tool runs alone, one after the other, for the same time. After a warm-up
# the script reads the process's CPU seconds (utime + stime from /proc/PID/stat) and the
# tool's own sample counter, waits SECONDS, reads them again, and takes peak RSS (VmHWM).
#
#   bash bench/scrape.sh [TARGETS] [SERIES] [SECONDS]      (default 100 10000 120)
#
# Env: SOAK_WRITE_RATE (also /write this many points/s into weir and print its RSS per
# minute: the soak, see bench/soak.sh), WARMUP (seconds before measuring, default 25), TOOLS (default "weir vmagent
# prometheus"), WEIR_PRELOAD (a malloc to LD_PRELOAD into weir only, e.g.
# /usr/lib/x86_64-linux-gnu/libjemalloc.so.2, to see what another allocator would save).
# Installs only nginx (apt-get) when it is missing. Traffic stays on 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGETS="${1:-100}"
SERIES="${2:-10000}"
DURATION="${3:-120}"
WARMUP="${WARMUP:-25}"
TOOLS="${TOOLS:-weir vmagent prometheus}"

bounded() { # NAME VALUE MIN MAX
    if ! [[ "$2" =~ ^[0-9]+$ ]] || (("$2" < "$3" || "$2" > "$4")); then
        echo "scrape.sh: $1 must be an integer in $3..$4, got '$2'" >&2
        exit 2
    fi
}
bounded TARGETS "$TARGETS" 1 1000
bounded SERIES "$SERIES" 1 100000
bounded SECONDS "$DURATION" 10 3600
bounded WARMUP "$WARMUP" 0 600

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weir-target}"
WORK="$(mktemp -d /tmp/weir-scrape-bench.XXXXXX)"
chmod 755 "$WORK" # nginx workers started by root run as nobody and must read the fixture
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sleep in the background so INT/TERM run the cleanup at once, not after the sleep.
pause() { # SECONDS
    sleep "$1" &
    wait $!
}

stop() { # PID
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "scrape.sh: installing nginx" >&2
    apt-get install -y nginx >"$WORK/apt.log" 2>&1 || {
        cat "$WORK/apt.log" >&2
        exit 1
    }
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
for tool in $TOOLS; do
    case "$tool" in
    weir)
        # On the shared dev machine every cargo run goes through this lock.
        lock=()
        [ -e /tmp/weir-cargo.lock ] && command -v flock >/dev/null && lock=(flock /tmp/weir-cargo.lock)
        "${lock[@]}" cargo build --release -q --manifest-path "$ROOT/Cargo.toml" --bin weir
        ;;
    vmagent | prometheus) command -v "$tool" >/dev/null || {
        echo "scrape.sh: $tool not found (bash tests/peers/peers.sh installs it)" >&2
        exit 1
    } ;;
    *) echo "scrape.sh: unknown tool '$tool' (weir, vmagent, prometheus)" >&2 && exit 2 ;;
    esac
done
WEIR="$CARGO_TARGET_DIR/release/weir"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
FIXTURE_PORT="$(free_port)"
SINK_PORT="$(free_port)"
TOOL_PORT="$(free_port)"

echo "scrape.sh: generating $TARGETS x $SERIES fixture" >&2
python3 "$ROOT/bench/gen_expo.py" --targets "$TARGETS" --series "$SERIES" \
    --host "127.0.0.1:$FIXTURE_PORT" --out "$WORK/fixture" >"$WORK/manifest.out"
cat "$WORK/manifest.out" >&2
FILE_SD="$WORK/fixture/file_sd/targets.json"

# nginx: the fixture (the value variant flips every 10 s, as gen_expo.py intends) and the
# discarding sink, which answers 204 to everything and throws request bodies away.
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 1000000;
    map \$msec \$variant {
        "~[02468][0-9][.][0-9]+\$" v0;
        default v1;
    }
    server {
        listen 127.0.0.1:$FIXTURE_PORT;
        default_type "text/plain; version=0.0.4; charset=utf-8";
        location /t/ { root $WORK/fixture/www/\$variant; }
    }
    server {
        listen 127.0.0.1:$SINK_PORT;
        client_max_body_size 0;
        client_body_buffer_size 16m;
        location / { return 204; }
    }
}
NGINX
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" >"$WORK/nginx/stdout" 2>&1 &
PIDS+=($!)
wait_http() { # URL SECONDS
    local deadline=$((SECONDS + $2))
    until [ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)" = 200 ]; do
        if ((SECONDS >= deadline)); then
            echo "scrape.sh: $1 did not answer within $2 s" >&2
            return 1
        fi
        sleep 0.2
    done
}
wait_http "http://127.0.0.1:$FIXTURE_PORT/t/1/metrics" 10 || {
    tail -n 5 "$WORK/nginx/stdout" "$WORK/nginx/error.log" >&2 2>/dev/null
    exit 1
}

# Shared Prometheus-style config for vmagent and Prometheus.
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 10s
  scrape_timeout: 10s
scrape_configs:
  - job_name: bench
    file_sd_configs:
      - files: ["$FILE_SD"]
YAML

cat >"$WORK/forward.tick" <<'TICK'
dbrp "bench"."autogen"

stream
    |from()
        .database('bench')
    |influxDBOut()
        .database('sink')
TICK
cat >"$WORK/weir.toml" <<TOML
data_dir = "$WORK/weir-data"
[http]
bind-address = "127.0.0.1:$TOOL_PORT"
[logging]
level = "WARN"
[[file-discovery]]
id = "bench"
files = ["$FILE_SD"]
[[scraper]]
enabled = true
name = "bench"
db = "bench"
rp = "autogen"
scrape-interval = "10s"
scrape-timeout = "10s"
discoverer-id = "bench"
discoverer-service = "file-discovery"
[[influxdb]]
name = "discard"
enabled = true
default = true
urls = ["http://127.0.0.1:$SINK_PORT"]
[[task]]
id = "forward"
path = "$WORK/forward.tick"
dbrps = ["bench.autogen"]
TOML

# The samples a tool has scraped so far, from its own /metrics.
samples() { # TOOL
    local url="http://127.0.0.1:$TOOL_PORT/metrics"
    curl -fsS --max-time 5 "$url" | python3 -c '
import sys
tool = sys.argv[1]
wanted = {"weir": "weir_scraped_points_total",
          "vmagent": "vm_promscrape_scraped_samples_sum",
          "prometheus": "prometheus_tsdb_head_samples_appended_total"}[tool]
total = 0.0
for line in sys.stdin:
    if line.startswith("#"):
        continue
    name = line.split("{", 1)[0].split(" ", 1)[0]
    if name == wanted:
        total += float(line.rsplit(" ", 1)[1])
print(int(total))
' "$1"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS="$(getconf CLK_TCK)"

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
run() { # TOOL
    local tool="$1" pid
    rm -rf "$WORK/data-$tool"
    mkdir -p "$WORK/data-$tool"
    case "$tool" in
    weir)
        if [ -n "${WEIR_PRELOAD:-}" ]; then
            LD_PRELOAD="$WEIR_PRELOAD" "$WEIR" serve --config "$WORK/weir.toml" >"$WORK/$tool.log" 2>&1 &
        else
            "$WEIR" serve --config "$WORK/weir.toml" >"$WORK/$tool.log" 2>&1 &
        fi
        ;;
    vmagent)
        vmagent -promscrape.config="$WORK/prometheus.yml" \
            -remoteWrite.url="http://127.0.0.1:$SINK_PORT/api/v1/write" \
            -remoteWrite.tmpDataPath="$WORK/data-$tool" \
            -httpListenAddr="127.0.0.1:$TOOL_PORT" -loggerLevel=ERROR >"$WORK/$tool.log" 2>&1 &
        ;;
    prometheus)
        prometheus --config.file="$WORK/prometheus.yml" \
            --storage.tsdb.path="$WORK/data-$tool" \
            --web.listen-address="127.0.0.1:$TOOL_PORT" --log.level=warn >"$WORK/$tool.log" 2>&1 &
        ;;
    esac
    pid=$!
    PIDS+=("$pid")
    if ! wait_http "http://127.0.0.1:$TOOL_PORT/metrics" 30; then
        tail -n 30 "$WORK/$tool.log" >&2
        stop "$pid"
        return 0
    fi
    echo "scrape.sh: $tool running (pid $pid); warm-up ${WARMUP}s, then ${DURATION}s measured" >&2
    local writer="" sampler=""
    if [ "$tool" = weir ] && [ -n "${SOAK_WRITE_RATE:-}" ]; then
        # The soak: /write at SOAK_WRITE_RATE points/s beside the scrapes, RSS every 10 s.
        python3 "$ROOT/bench/gen_lp.py" --points 1000000 --hosts 1000 --out "$WORK/lp" >/dev/null
        python3 "$ROOT/bench/post_lp.py" "http://127.0.0.1:$TOOL_PORT/write?db=bench&rp=autogen&precision=s" \
            "$WORK/lp" --rate "$SOAK_WRITE_RATE" --duration $((WARMUP + DURATION)) >"$WORK/writer.json" 2>&1 &
        writer=$!
        PIDS+=("$writer")
        (
            start=$SECONDS
            while kill -0 "$pid" 2>/dev/null; do
                echo "$((SECONDS - start)) $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")"
                sleep 10
            done
        ) >"$WORK/rss.tsv" &
        sampler=$!
        PIDS+=("$sampler")
    fi
    pause "$WARMUP"
    local cpu_before samples_before cpu_after samples_after rss_kb
    cpu_before="$(cpu_ticks "$pid")"
    samples_before="$(samples "$tool")"
    pause "$DURATION"
    cpu_after="$(cpu_ticks "$pid")"
    samples_after="$(samples "$tool")"
    rss_kb="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")"
    echo "{\"tool\": \"$tool\", \"samples\": $((samples_after - samples_before)), \"cpu_ticks\": $((cpu_after - cpu_before)), \"rss_kb\": $rss_kb}" >>"$RESULTS"
    if [ -n "$writer" ]; then
        wait "$writer" 2>/dev/null || true
        echo "scrape.sh: writer: $(cat "$WORK/writer.json")" >&2
        # RSS per minute (from the 10 s samples), and the soak's verdict: the last 10 minutes
        # within ±10 % of minutes 5-10.
        python3 - "$WORK/rss.tsv" <<'PY' >&2
import sys
rows = [tuple(map(int, line.split())) for line in open(sys.argv[1]) if len(line.split()) == 2]
minutes = {}
for second, kb in rows:
    minutes.setdefault(second // 60, []).append(kb / 1024)
print("minute  RSS MB (mean of its 10 s samples)")
for minute in sorted(minutes):
    print("%6d  %7.1f" % (minute, sum(minutes[minute]) / len(minutes[minute])))
early = [mb for m, v in minutes.items() if 5 <= m < 10 for mb in v]
last = max(minutes) if minutes else 0
late = [mb for m, v in minutes.items() if m >= last - 9 for mb in v]
if early and late and last >= 15:
    base = sum(early) / len(early)
    low, high = min(late), max(late)
    flat = base * 0.9 <= low and high <= base * 1.1
    print("minutes 5-10: %.1f MB; last 10 minutes %.1f-%.1f MB: %s" % (base, low, high, "flat (within 10%)" if flat else "NOT flat"))
PY
    fi
    if grep -qiE 'error|panic' "$WORK/$tool.log"; then
        echo "scrape.sh: $tool logged errors:" >&2
        grep -iE 'error|panic' "$WORK/$tool.log" | sort | uniq -c | sort -rn | head -n 5 >&2
    fi
    stop "$pid"
}
for tool in $TOOLS; do
    run "$tool"
done

echo "$TARGETS targets x $SERIES series, scraped every 10 s, ${DURATION}s measured after ${WARMUP}s warm-up"
python3 - "$RESULTS" "$TICKS" <<'PY'
import json, sys
ticks = float(sys.argv[2])
print("%-11s %12s %9s %17s %13s" % ("tool", "samples", "CPU-s", "CPU-s/M samples", "peak RSS MB"))
for line in open(sys.argv[1]):
    r = json.loads(line)
    cpu = r["cpu_ticks"] / ticks
    per_million = "%.2f" % (cpu / r["samples"] * 1e6) if r["samples"] > 0 else "n/a"
    print("%-11s %12d %9.2f %17s %13.1f" % (r["tool"], r["samples"], cpu, per_million, r["rss_kb"] / 1024))
PY
