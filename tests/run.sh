#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs the real peers (Debian and PyPI
# packages), starts them on 127.0.0.1, runs every test with the peers required (a missing
# peer fails instead of skipping), runs the example scripts and the Kapacitor compatibility
# cases against the weir binary, and stops the peers again.
#
#   bash tests/run.sh            everything
#   WEIR_SKIP_PEERS=1 bash tests/run.sh   unit tests only (peer tests skip)
#   WEIR_KEEP_PEERS=1 bash tests/run.sh   leave the peers running afterwards
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weir-target}"
export PEERS_VENV="${PEERS_VENV:-$HOME/.cache/weir-peers-venv}"
export PEERS_DIR="${PEERS_DIR:-/tmp/peers/run}"
PEERS="bash $ROOT/tests/peers/peers.sh"

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo-nextest >/dev/null 2>&1 && ! cargo nextest --version >/dev/null 2>&1; then
  NEXTEST=0
else
  NEXTEST=1
fi

if [ "${WEIR_SKIP_PEERS:-0}" != 1 ]; then
  step "installing test peers (apt + pip; idempotent)"
  $PEERS install all
  step "starting test peers on 127.0.0.1"
  # Peers already running (from an earlier run) are reused; WEIR_KEEP_PEERS=1 leaves them running.
  if [ "${WEIR_KEEP_PEERS:-0}" != 1 ]; then
    trap '$PEERS stop all >/dev/null 2>&1 || true' EXIT
  fi
  $PEERS start all
  $PEERS seed all
  eval "$($PEERS env)"
  export WEIR_REQUIRE_PEERS=1
fi

step "building"
cargo build --workspace --all-targets --locked
export WEIR_BIN="$CARGO_TARGET_DIR/debug/weir"

step "running the test suite"
if [ "$NEXTEST" = 1 ]; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

step "weir check / fmt --check / test on scripts/ and scripts/batch/"
"$WEIR_BIN" check scripts/*.tick scripts/batch/*.tick
"$WEIR_BIN" fmt --check scripts/*.tick scripts/batch/*.tick
failed=0
for script in scripts/*.tick scripts/batch/*.tick; do
  base="${script%.tick}"
  if [ -f "$base.lp" ] && [ -f "$base.expected.jsonl" ]; then
    "$WEIR_BIN" test "$script" --data "$base.lp" --expect "$base.expected.jsonl" || failed=1
  fi
done
[ "$failed" = 0 ] || { echo "weir test: some scripts differ from their expected output"; exit 1; }

step "Kapacitor compatibility cases"
WEIR="$WEIR_BIN" WEIR_ADDR=127.0.0.1:19192 ACCEPT_RUNDIR=/tmp/weir-accept bash tests/compat/run.sh weir
