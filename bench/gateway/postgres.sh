#!/usr/bin/env bash
# The gateway with its ledger on PostgreSQL (issue [12], part 3): the same
# mock upstream, request and open-loop load generator as run.sh, against
#   1. one replica at each of RATES req/s;
#   2. REPLICAS replicas sharing one database, each sent RATE/REPLICAS req/s
#      by a load generator of its own, all at once, for each of MULTI_RATES;
# budgets on (examples/acme.toml's envelopes, held and captured by escrow,
# the default on PostgreSQL), every call committed before it is answered.
# Afterwards each database is checked: one row per call, no held money left.
#
#   bench/gateway/postgres.sh
#   RATES="200 1000" MULTI_RATES="3000" DURATION=15 bench/gateway/postgres.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test (the default)
#   BIN=/path/to/tokenwise bench/gateway/postgres.sh   # another build (a baseline), not rebuilt
#   DB_SETTINGS="jit=off log_min_duration_statement=10" bench/gateway/postgres.sh
#       # settings of the bench's databases (ALTER DATABASE … SET), e.g. to log slow statements
#   TRACE_DIR=/tmp/tr bench/gateway/postgres.sh   # also each request's send time and
#       # latency, one file a run (NAME.txt), to see when the slow ones happened
#
# Nothing is pinned: PostgreSQL, the replicas, the mock and the load
# generators share the machine's cores, as a one-box deployment would.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-15}
RATES=${RATES-"200 1000"}
MULTI_RATES=${MULTI_RATES-"3000"}
REPLICAS=${REPLICAS:-3}
REPEAT=${REPEAT:-1}
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
OUT=${OUT:-$ROOT/bench/gateway/results}
mkdir -p "$OUT"
work=$(mktemp -d)
cleanup() {
  for p in $(cat "$work/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

source "$ROOT/bench/listen.sh"
bench_setup examples/acme.toml

# Starts N replicas on DB_URL; their addresses in ADDRS, a key in KEY.
start_replicas() { # N
  ADDRS=()
  for _ in $(seq "$1"); do
    ADDRS+=("$(OPENAI_API_KEY=sk-bench ANTHROPIC_API_KEY=sk-bench listen "$TW" serve --config "$work/acme.toml" \
      --listen 127.0.0.1:0 --database "$DB_URL")")
  done
  KEY=$("$TW" keys create --config "$work/acme.toml" --database "$DB_URL" --user ivan.petrov --use-case support-reply 2>/dev/null)
}

stop_replicas() {
  for p in $(cat "$work/pids"); do
    grep -q serve "/proc/$p/cmdline" 2>/dev/null && kill "$p" || true
  done
  sleep 1
}

KEY=""
load() { # NAME ADDR RATE
  local auth=()
  [[ -n $KEY ]] && auth=(--header "Authorization: Bearer $KEY")
  [[ -n ${TRACE_DIR:-} ]] && mkdir -p "$TRACE_DIR" && auth+=(--trace "$TRACE_DIR/${1//\//-}.txt")
  "$LOADGEN" --url "http://$2/v1/chat/completions" --body "$work/chat.json" --rate "$3" --duration "$DURATION" \
    --concurrency 64 --header 'content-type: application/json' "${auth[@]}" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); d["name"]=sys.argv[1]; print(json.dumps(d))' "$1"
}

check() { # LABEL: rows, held money and estimated rows left in DB_URL once the replicas stopped
  # Calls in the activity rollup, and in batches still pending for it (a
  # replica stopped within 50 ms of its last commit leaves them to the next
  # reader): together, every row. (A build from before the fold has no
  # pending table.)
  local pending="(SELECT COALESCE(SUM(cardinality(ids)), 0) FROM rollup_pending)"
  [[ $(psql -qAt "$DB_URL" -c "SELECT to_regclass('rollup_pending') IS NULL") == t ]] && pending=0
  local q="SELECT (SELECT COUNT(*) FROM usage_events), (SELECT COUNT(*) FILTER (WHERE estimated) FROM usage_events), \
    (SELECT COALESCE(SUM(held_nanos), 0) FROM budget_envelopes), \
    (SELECT COUNT(*) FROM budget_envelopes WHERE hard AND captured_nanos + held_nanos > limit_nanos), \
    (SELECT COALESCE(SUM(calls), 0) FROM activity_daily) + $pending"
  local got
  got=$(psql -qAt "$DB_URL" -c "$q")
  echo "$1: rows | estimated | held nanos left | hard envelopes over their limit | rolled up or pending = $got" \
    | tee -a "$OUT/postgres-ledger.txt"
  IFS='|' read -r rows _ _ over rolled <<<"$got"
  [[ $over == 0 && $rolled == "$rows" ]] || { echo "ledger check failed: $got" >&2; exit 1; }
}

: >"$OUT/postgres.jsonl"
: >"$OUT/postgres-ledger.txt"
load "direct" "$MOCK" 1000 >>"$OUT/postgres.jsonl" || true
for rep in $(seq "$REPEAT"); do
  for rate in $RATES; do
    echo "--> one replica, $rate req/s, run $rep"
    fresh_db tw_gw_bench_one
    start_replicas 1
    load "postgres/1/$rate" "${ADDRS[0]}" "$rate" >>"$OUT/postgres.jsonl"
    stop_replicas
    check "one replica, $rate req/s, run $rep"
  done
  for rate in $MULTI_RATES; do
    echo "--> $REPLICAS replicas, $rate req/s in all, run $rep"
    fresh_db tw_gw_bench_many
    start_replicas "$REPLICAS"
    each=$(python3 -c "print($rate / $REPLICAS)")
    gens=()
    for i in "${!ADDRS[@]}"; do
      load "postgres/$REPLICAS/$rate/replica-$i" "${ADDRS[$i]}" "$each" >"$work/multi-$i.json" &
      gens+=($!)
    done
    wait "${gens[@]}"
    cat "$work"/multi-*.json >>"$OUT/postgres.jsonl"
    stop_replicas
    check "$REPLICAS replicas, $rate req/s, run $rep"
  done
done
python3 - "$OUT/postgres.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| run | offered req/s | achieved req/s | errors | p50 ms | p90 ms | p99 ms | p99.9 ms |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    t = r["total"]
    print(f'| {r["name"]} | {r["target_rate"]:.0f} | {r["achieved_rate"]:.0f} | {r["errors"]} | {t["p50_ms"]:.2f} | {t["p90_ms"]:.2f} | {t["p99_ms"]:.2f} | {t["p999_ms"]:.2f} |')
PY
