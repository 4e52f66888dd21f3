#!/usr/bin/env bash
# How long the main job's simulated month takes: `tokenwise demo --no-serve
# --json` from a release build, RUNS times (default 3), each from a fresh
# ledger. Prints each run's requests, the simulation's own elapsed_s (from
# the demo's JSON: the month through the gateway, scoring and reports), the
# whole process's wall time, and requests per second.
#   bench/demo/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
cargo build --release -p tokenwise-cli
bin=target/release/tokenwise
echo "run requests elapsed_s wall_s requests_per_s"
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d)
  start=$(date +%s.%N)
  "$bin" demo --no-serve --json --listen 127.0.0.1:0 --data-dir "$dir" > "$dir/out.json" 2> "$dir/err.log"
  end=$(date +%s.%N)
  python3 - "$dir/out.json" "$i" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall = float(sys.argv[4]) - float(sys.argv[3])
print(sys.argv[2], r["requests"], r["elapsed_s"], round(wall, 1), round(r["requests"] / r["elapsed_s"]))
PY
  rm -rf "$dir"
done
