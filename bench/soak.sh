#!/usr/bin/env bash
# The 30-minute soak (not a test): weir scraping 100 targets x 10,000 series every 10 s and
# taking /write at 200,000 points/s at the same time; prints its RSS per minute and whether
# the last 10 minutes stay within ±10 % of minutes 5-10.
#
#   bash bench/soak.sh [SECONDS]      (default 1800)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOAK_WRITE_RATE="${SOAK_WRITE_RATE:-200000}" TOOLS=weir WARMUP=0 \
    exec bash "$ROOT/bench/scrape.sh" 100 10000 "${1:-1800}"
