#!/usr/bin/env bash
# CPU a call on PostgreSQL: one replica (its ledger on PostgreSQL, budgets on,
# escrow the default) on a fresh database, sent RATE req/s for DURATION s by
# the open-loop load generator after a short warm-up. Prints the latency
# percentiles, PostgreSQL's CPU a call (user + system of every process the
# postgres user runs, so the server must be on this machine) and the
# gateway's, and the rows PostgreSQL inserted, deleted and updated a call
# (pg_stat_database). Run two builds alternately to compare them:
#
#   bench/gateway/postgres-cpu.sh                       # this checkout's release build
#   BIN=/tmp/old/tokenwise bench/gateway/postgres-cpu.sh # another build, as it is
#   RATE=200 DURATION=20 CONFIG=my.toml bench/gateway/postgres-cpu.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test (the default)
#   DB_SETTINGS="jit=off" bench/gateway/postgres-cpu.sh   # the database's own settings
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
RATE=${RATE:-1000}
DURATION=${DURATION:-12}
CONFIG=${CONFIG:-examples/acme.toml}
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
work=$(mktemp -d)
trap 'for p in $(cat "$work/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
source "$ROOT/bench/listen.sh"
bench_setup "$CONFIG"
fresh_db tw_cpu_bench
DB=$DB_URL
ADDR=$(OPENAI_API_KEY=sk-bench ANTHROPIC_API_KEY=sk-bench listen "$TW" serve --config "$work/acme.toml" \
  --listen 127.0.0.1:0 --database "$DB")
SERVE=$(tail -1 "$work/pids")
KEY=$("$TW" keys create --config "$work/acme.toml" --database "$DB" --user ivan.petrov --use-case support-reply 2>/dev/null)
load() { # RATE DURATION
  "$LOADGEN" --url "http://$ADDR/v1/chat/completions" --body "$work/chat.json" --rate "$1" --duration "$2" \
    --concurrency 64 --header 'content-type: application/json' --header "Authorization: Bearer $KEY"
}
load 200 2 >/dev/null
# Clock ticks of user + system time: every postgres process, the gateway.
pg_ticks() { local s=0; for p in $(pgrep -u postgres); do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$s"; }
gw_ticks() { awk '{print $14 + $15}' "/proc/$SERVE/stat"; }
rows() { psql -qAt "$DB" -c "SELECT tup_inserted, tup_deleted, tup_updated FROM pg_stat_database WHERE datname = 'tw_cpu_bench'"; }
r0=$(rows); p0=$(pg_ticks); g0=$(gw_ticks)
load "$RATE" "$DURATION" >"$work/load.json"
p1=$(pg_ticks); g1=$(gw_ticks)
sleep 1 # the statistics collector's report
r1=$(rows)
python3 - "$work/load.json" "$(getconf CLK_TCK)" "$p0" "$p1" "$g0" "$g1" "$r0" "$r1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
tick = int(sys.argv[2])
p0, p1, g0, g1 = map(int, sys.argv[3:7])
(i0, d0, u0), (i1, d1, u1) = ([int(x) for x in a.split("|")] for a in sys.argv[7:9])
n, t = d["requests"], d["total"]
us = lambda a, b: (b - a) / tick / n * 1e6
print(f'{d["achieved_rate"]:.0f} req/s, {d["errors"]} errors, p50 {t["p50_ms"]:.2f} ms, p90 {t["p90_ms"]:.2f} ms, '
      f'p99 {t["p99_ms"]:.2f} ms; CPU a call: PostgreSQL {us(p0, p1):.0f} us, gateway {us(g0, g1):.0f} us; '
      f'rows a call: {(i1 - i0) / n:.1f} inserted, {(d1 - d0) / n:.1f} deleted, {(u1 - u0) / n:.1f} updated')
PY
