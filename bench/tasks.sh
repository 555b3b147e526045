#!/usr/bin/env bash
# Many tasks on one stream (the fan-out issue's table): /write of 2M points (100 hosts) with
# 1 task, 10 identical tasks, and 100 tasks each reading its own measurement (1% of the
# points), `from().measurement(..).groupBy('host')|window(10s)|mean('value')|httpOut`.
# Prints CPU-seconds per million points and peak RSS for each, and the ratios to one task.
# Kapacitor 1.5.7 is not in Debian; there is no run of it here (the issue's figures for it
# were measured with a kapacitord built elsewhere).
#
#   bash bench/tasks.sh [POINTS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POINTS="${1:-2000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weir-target}"
if [ -z "${WEIR_BINARY:-}" ]; then
    cargo build --release -q --manifest-path "$ROOT/Cargo.toml" --bin weir
    export WEIR_BINARY="$CARGO_TARGET_DIR/release/weir"
fi
run() { env "$@" PEERS=none bash "$ROOT/bench/write.sh" "$POINTS" | grep '"points_per_s"'; }
one=$(run TASKS=1)
ten=$(run TASKS=10)
hundred=$(run TASKS=100 MEASUREMENTS=100)
python3 - "$one" "$ten" "$hundred" <<'PY'
import json, sys
rows = [("1 task", json.loads(sys.argv[1])), ("10 identical tasks", json.loads(sys.argv[2])),
        ("100 tasks, 1% each", json.loads(sys.argv[3]))]
base = rows[0][1]
print("%-22s %12s %10s %12s %9s" % ("tasks", "CPU-s/M", "x 1 task", "peak RSS MB", "+MB"))
for name, r in rows:
    print("%-22s %12.2f %10.2f %12d %9d" % (name, r["cpu_s_per_million"],
          r["cpu_s_per_million"] / base["cpu_s_per_million"], r["peak_rss_mb"],
          r["peak_rss_mb"] - base["peak_rss_mb"]))
PY
