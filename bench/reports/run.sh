#!/usr/bin/env bash
# Finance's reports over a month at scale: USERS people (default 10,000) and
# EVENTS usage events (default 10,000,000), generated with bench/scoring's
# generator through the real store (so the writer keeps its daily usage
# rollup as in service), then `tokenwise report chargeback` as JSON, CSV and
# FOCUS, `report health`, and `report reconcile` of the month's own FOCUS file, each timed
# RUNS times; beside them, the one GROUP BY over the month's events that a
# chargeback without the rollup would run.
#   bench/reports/run.sh                      # 10k users, 10M events (generation takes long)
#   USERS=1000 EVENTS=1000000 bench/reports/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS="${USERS:-10000}"
EVENTS="${EVENTS:-10000000}"
RUNS="${RUNS:-3}"
OUT="bench/reports/data/${USERS}x${EVENTS}"
cargo build --release -p tokenwise-cli
CARGO_TARGET_DIR=target cargo build --release --manifest-path bench/scoring/Cargo.toml
if [[ ! -f "$OUT/ledger.db" ]]; then
  target/release/tokenwise-scoring-bench "$OUT" "$USERS" "$EVENTS"
fi
BIN=target/release/tokenwise
ARGS="--config $OUT/policy.toml --database sqlite://$PWD/$OUT/ledger.db"

# Mean, min and max wall time of RUNS runs of a shell command (after one warm-up).
time_it() {
  python3 - "$RUNS" "$1" <<'PY'
import subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2]
subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
ts = []
for _ in range(runs):
    t = time.perf_counter(); subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL); ts.append(time.perf_counter() - t)
print(f"| `{cmd.split(' --config')[0].replace('target/release/', '')}` | {sum(ts)/len(ts):.2f} s | {min(ts):.2f} … {max(ts):.2f} s |")
PY
}

$BIN report chargeback $ARGS --period 2026-10 --format focus > "$OUT/focus.csv"
echo "chargeback rows: $(($($BIN report chargeback $ARGS --period 2026-10 --format csv | wc -l) - 1)), FOCUS rows: $(($(wc -l < "$OUT/focus.csv") - 1))"
echo "| command (October 2026, ${USERS} people, ${EVENTS} events) | mean | min … max |"
echo "|---|---|---|"
for format in json csv focus; do
  time_it "$BIN report chargeback --period 2026-10 --format $format $ARGS"
done
time_it "$BIN report health --period 2026-10 $ARGS"
time_it "$BIN report reconcile $OUT/focus.csv --format focus --period 2026-10 $ARGS"
time_it "sqlite3 $OUT/ledger.db 'SELECT team_id, project_id, use_case, template, model, provider, price_version, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cached_read_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(cost_nanos) FROM usage_events WHERE ts_us >= 1790805600000000 AND ts_us < 1793487600000000 GROUP BY 1, 2, 3, 4, 5, 6, 7'"
