#!/usr/bin/env bash
# /write ingestion cost: line protocol parsed and routed into one
# `from().groupBy('host')|window().period(10s).every(10s)|mean('value')` task, 100 hosts,
# batches of 5,000 lines over one keep-alive HTTP connection. Prints the daemon's own CPU
# seconds (utime + stime from /proc/PID/stat) per million points.
#
#   bash bench/write.sh [POINTS]        (default 2,000,000)
#
# Env: WEIR_PRELOAD (a malloc to LD_PRELOAD into weir, e.g.
# /usr/lib/x86_64-linux-gnu/libmimalloc.so.2), WEIR_BINARY (skip the build, run this binary),
# DURABILITY (`log`, the default, or `none`: [ingress] durability), TASKS (identical copies of
# the task, default 1), MEASUREMENTS (spread the hosts over m0..m<M-1>; task n then reads
# m<n-1> only), QUEUE_MAX_BYTES ([ingress] queue-max-bytes, default 64MiB).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POINTS="${1:-2000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weir-target}"
if [ -z "${WEIR_BINARY:-}" ]; then
    cargo build --release -q --manifest-path "$ROOT/Cargo.toml" --bin weir
fi
WEIR="${WEIR_BINARY:-$CARGO_TARGET_DIR/release/weir}"
WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
MEASUREMENTS="${MEASUREMENTS:-1}"
python3 "$ROOT/bench/gen_lp.py" --points "$POINTS" --measurements "$MEASUREMENTS" --out "$WORK/lp" >/dev/null
PORT=$((20000 + RANDOM % 10000))
cat > "$WORK/mean.tick" <<'TICK'
dbrp "bench"."autogen"

stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |window()
        .period(10s)
        .every(10s)
    |mean('value')
    |httpOut('mean')
TICK
cat > "$WORK/weir.toml" <<TOML
data_dir = "$WORK/data"
[http]
bind-address = "127.0.0.1:$PORT"
[logging]
level = "WARN"
[ingress]
durability = "${DURABILITY:-log}"
queue-max-bytes = "${QUEUE_MAX_BYTES:-64MiB}"
TOML
for n in $(seq "${TASKS:-1}"); do
    script="$WORK/mean.tick"
    if [ "$MEASUREMENTS" -gt 1 ]; then
        # Task n reads measurement m<n-1> only: 1/MEASUREMENTS of the points.
        script="$WORK/mean$n.tick"
        sed "s/measurement('cpu')/measurement('m$(( (n - 1) % MEASUREMENTS ))')/" "$WORK/mean.tick" > "$script"
    fi
    printf '[[task]]\nid = "mean%s"\npath = "%s"\n' "$n" "$script" >> "$WORK/weir.toml"
done
${WEIR_PRELOAD:+env LD_PRELOAD=$WEIR_PRELOAD} "$WEIR" serve --config "$WORK/weir.toml" >"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/kapacitor/v1/ping" 2>/dev/null && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TICKS=$(getconf CLK_TCK)
before=$(cpu)
python3 "$ROOT/bench/post_lp.py" "http://127.0.0.1:$PORT/write?db=bench&rp=autogen&precision=s" "$WORK/lp" > "$WORK/post.json"
sleep 1
after=$(cpu)
kib() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$PID/status"; }
peak=$(kib VmHWM)
sleep 10
idle=$(kib VmRSS)
python3 - "$WORK/post.json" "$before" "$after" "$TICKS" "$peak" "$idle" <<'PY'
import json, sys
post = json.load(open(sys.argv[1]))
cpu = (float(sys.argv[3]) - float(sys.argv[2])) / float(sys.argv[4])
points = post["points"]
print(json.dumps({"points": points, "errors": post["errors"], "wall_s": post["wall_s"],
                  "weir_cpu_s": round(cpu, 3), "cpu_s_per_million": round(cpu / points * 1e6, 3),
                  "points_per_s": round(points / post["wall_s"]),
                  "peak_rss_mb": round(int(sys.argv[5]) / 1024), "rss_10s_after_mb": round(int(sys.argv[6]) / 1024)}))
PY
curl -fsS "http://127.0.0.1:$PORT/kapacitor/v1/tasks/mean1" | python3 -c 'import json,sys; s=json.load(sys.stdin)["stats"]["node-stats"]; print("task collected:", s["stream0"]["collected"], "window emitted:", s["window2"]["emitted"])'

# The same bodies into VictoriaMetrics (storing them), measured the same way, in the same run:
# the issue's bar is weir's CPU per million points against VictoriaMetrics'.
if [ "${PEERS:-vm}" = vm ] && command -v victoria-metrics >/dev/null; then
    VMPORT=$((30000 + RANDOM % 10000))
    victoria-metrics -storageDataPath="$WORK/vm" -httpListenAddr="127.0.0.1:$VMPORT" \
        -loggerLevel=ERROR >"$WORK/vm.log" 2>&1 &
    VMPID=$!
    trap 'kill "$PID" "$VMPID" 2>/dev/null; wait "$PID" "$VMPID" 2>/dev/null; rm -rf "$WORK"' EXIT
    for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$VMPORT/health" 2>/dev/null && break; sleep 0.1; done
    vmcpu() { awk '{print $14 + $15}' "/proc/$VMPID/stat"; }
    before=$(vmcpu)
    python3 "$ROOT/bench/post_lp.py" "http://127.0.0.1:$VMPORT/write?db=bench&precision=s" "$WORK/lp" > "$WORK/vmpost.json"
    sleep 1
    after=$(vmcpu)
    vmpeak=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$VMPID/status")
    python3 - "$WORK/vmpost.json" "$before" "$after" "$TICKS" "$vmpeak" <<'PY'
import json, sys
post = json.load(open(sys.argv[1]))
cpu = (float(sys.argv[3]) - float(sys.argv[2])) / float(sys.argv[4])
points = post["points"]
print(json.dumps({"peer": "victoria-metrics", "points": points, "wall_s": post["wall_s"],
                  "cpu_s_per_million": round(cpu / points * 1e6, 3),
                  "peak_rss_mb": round(int(sys.argv[5]) / 1024)}))
PY
fi
