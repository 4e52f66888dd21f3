#!/usr/bin/env bash
# Gateway overhead, tokenwise beside LiteLLM's proxy, in one run on one box:
# the same mock upstream (tokenwise mock-upstream), the same load generator,
# the same requests. Overhead = latency through a gateway minus latency
# straight to the mock, at the same percentile and the same offered rate.
#
#   bench/gateway/run.sh                 # 100 and 1000 req/s, 20 s each, plus max rate
#   DURATION=5 RATES="100" bench/gateway/run.sh   # a quick look
#   SKIP_LITELLM=1 bench/gateway/run.sh  # tokenwise only
#   ONLY='^(direct|tokenwise|tokenwise-task)$' bench/gateway/run.sh   # only these targets
#   RATES=10 MAX_RUN= SKIP_OHA=1 bench/gateway/run.sh   # a rate LiteLLM can sustain, no max-rate runs
#   BASELINE=../old-checkout SKIP_LITELLM=1 bench/gateway/run.sh
#       # also an earlier build of tokenwise ("tokenwise-before": BASELINE's
#       # target/release/tokenwise with BASELINE's examples/acme.toml), same run
#   NOVEUM=1 bench/gateway/run.sh        # also the bare Rust proxy noveum-ai-gateway 2.0.1
#       # (no ledger, no DLP, no budgets: the floor a proxy costs); built with
#       # `cargo install noveum-ai-gateway --version 2.0.1 --locked` if not on PATH (~8 min)
#   TRACE_DIR=/tmp/tr bench/gateway/run.sh   # also each request's send time and latency,
#       # one file a run (MODE-NAME-RATE-RUN.txt), to see when the slow ones happened
#
# "tokenwise-task" is the same tokenwise server (fsync per batch) with every
# request naming one task (`x-tokenwise-task: $TASK`), so each call also
# updates that task's running total and answers with it (streams: one read
# before the headers): the overhead of the task's cost on the answer.
# "tokenwise-process_crash-task" is the same on the process_crash server.
#
# Needs: cargo, python3 (for LiteLLM's venv), network access to crates.io and
# PyPI the first time (oha, litellm). Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-20}
RATES=${RATES:-"100 1000"}
MODES=${MODES:-"chat stream"}   # non-streaming and streaming requests
MAX_CONCURRENCY=${MAX_CONCURRENCY:-32}
REPEAT=${REPEAT:-3}       # runs per cell, interleaved; the report takes the median
# The load generator gets CPU 0; the mock and the gateways share CPU 1, so the
# generator's own work does not land on the gateway's core.
PIN_LOAD=${PIN_LOAD:-"taskset -c 0"}
PIN_SUT=${PIN_SUT:-"taskset -c 1"}
[[ $(nproc) -ge 2 ]] || { PIN_LOAD=""; PIN_SUT=""; }
LITELLM_VERSION=1.108.0   # 1.107.0 was a compromised release; do not use it
OUT=${OUT:-$ROOT/bench/gateway/results}
mkdir -p "$OUT"
work=$(mktemp -d)
pids=()
# Servers are started inside $(…) (to read their address), so their ids are
# kept in a file: a variable set in that subshell would be lost.
cleanup() {
  for p in "${pids[@]}" $(cat "$work/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> building (release)"
cargo build --release --locked -p tokenwise-cli
cargo build --release --manifest-path bench/loadgen/Cargo.toml
TW=$ROOT/target/release/tokenwise
LOADGEN=$ROOT/bench/loadgen/target/release/tokenwise-loadgen
if [[ -z "${SKIP_OHA:-}" ]] && ! command -v oha >/dev/null; then cargo install oha --locked; fi

source "$ROOT/bench/listen.sh"

echo "==> mock upstream"
MOCK=$(listen $PIN_SUT "$TW" mock-upstream --listen 127.0.0.1:0)
cp -r examples/prices "$work/prices"
sed "s#http://127.0.0.1:9100#http://$MOCK#" examples/acme.toml >"$work/acme.toml"
# Two gateways on the same mock: every call is committed to the ledger before
# it is answered in both; they differ in what that commit survives.
echo "==> tokenwise serve, durability = power_loss (fsync per batch) and process_crash"
sed 's/^listen = .*/&\ndurability = "process_crash"/' "$work/acme.toml" >"$work/acme-os.toml"
TOKENWISE=$(OPENAI_API_KEY=sk-bench ANTHROPIC_API_KEY=sk-bench listen $PIN_SUT "$TW" serve --config "$work/acme.toml" --listen 127.0.0.1:0 --database "sqlite://$work/ledger.db")
KEY=$("$TW" keys create --config "$work/acme.toml" --database "sqlite://$work/ledger.db" --user ivan.petrov --use-case support-reply 2>/dev/null)
TOKENWISE_OS=$(OPENAI_API_KEY=sk-bench ANTHROPIC_API_KEY=sk-bench listen $PIN_SUT "$TW" serve --config "$work/acme-os.toml" --listen 127.0.0.1:0 --database "sqlite://$work/ledger-os.db")
KEY_OS=$("$TW" keys create --config "$work/acme-os.toml" --database "sqlite://$work/ledger-os.db" --user ivan.petrov --use-case support-reply 2>/dev/null)

BEFORE=""
if [[ -n "${BASELINE:-}" ]]; then
  echo "==> tokenwise before ($BASELINE)"
  OLD=$BASELINE/target/release/tokenwise
  [[ -x $OLD ]] || (cd "$BASELINE" && cargo build --release --locked -p tokenwise-cli)
  mkdir -p "$work/before" && cp -r "$BASELINE/examples/prices" "$work/before/prices"
  sed "s#http://127.0.0.1:9100#http://$MOCK#" "$BASELINE/examples/acme.toml" >"$work/before/acme.toml"
  BEFORE=$(OPENAI_API_KEY=sk-bench ANTHROPIC_API_KEY=sk-bench listen $PIN_SUT "$OLD" serve --config "$work/before/acme.toml" --listen 127.0.0.1:0 --database "sqlite://$work/ledger-before.db")
  KEY_BEFORE=$("$OLD" keys create --config "$work/before/acme.toml" --database "sqlite://$work/ledger-before.db" --user ivan.petrov --use-case support-reply 2>/dev/null)
fi

PROXY=""
if [[ -n "${NOVEUM:-}" ]]; then
  echo "==> noveum-ai-gateway 2.0.1 (bare proxy)"
  command -v noveum-ai-gateway >/dev/null || cargo install noveum-ai-gateway --version 2.0.1 --locked
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # It logs every request at INFO; at WARN it does no more per call than tokenwise does.
  HOST=127.0.0.1 PORT=$port OPENAI_BASE_URL=http://$MOCK RUST_LOG=warn \
    $PIN_SUT noveum-ai-gateway >"$work/noveum.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  PROXY=127.0.0.1:$port
fi

LITELLM=""
if [[ -z "${SKIP_LITELLM:-}" ]]; then
  echo "==> LiteLLM proxy $LITELLM_VERSION"
  venv=$ROOT/bench/.venv-litellm
  if [[ ! -x $venv/bin/litellm ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$work/litellm.yaml" <<YAML
model_list:
  - model_name: gpt-4.1-mini
    litellm_params:
      model: openai/gpt-4.1-mini
      api_base: http://$MOCK/v1
      api_key: any
YAML
  LITELLM_MASTER_KEY=sk-bench-0123456789abcdef0123456789abcdef LITELLM_LOCAL_MODEL_COST_MAP=True \
    $PIN_SUT "$venv/bin/litellm" --config "$work/litellm.yaml" --host 127.0.0.1 --port "$port" >"$work/litellm.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/health/liveliness" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:$port/health/liveliness" >/dev/null || { cat "$work/litellm.log"; exit 1; }
  LITELLM=127.0.0.1:$port
fi

body=$BENCH_BODY
echo "$body" >"$work/chat.json"
echo "${body%\}},\"stream\":true}" >"$work/stream.json"

run() { # NAME URL AUTH BODY RATE [HEADER] [RUN]
  local name=$1 url=$2 auth=$3 bodyfile=$4 rate=$5 header=${6:-} rep=${7:-1}
  local extra=()
  [[ -n ${TRACE_DIR:-} ]] && mkdir -p "$TRACE_DIR" && extra+=(--trace "$TRACE_DIR/${name//\//-}-$rep.txt")
  [[ -n $auth ]] && extra+=(--header "Authorization: Bearer $auth")
  [[ -n $header ]] && extra+=(--header "$header")
  $PIN_LOAD "$LOADGEN" --url "$url" --body "$bodyfile" --rate "$rate" --duration "$DURATION" --concurrency "$MAX_CONCURRENCY" \
    --header 'content-type: application/json' "${extra[@]}" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); d["name"]=sys.argv[1]; print(json.dumps(d))' "$name" \
    | tee -a "$OUT/raw.jsonl"
}

: >"$OUT/raw.jsonl"
TASK=${TASK:-BENCH-1}
targets=("direct|http://$MOCK/v1/chat/completions|" "tokenwise|http://$TOKENWISE/v1/chat/completions|$KEY"
         "tokenwise-task|http://$TOKENWISE/v1/chat/completions|$KEY|x-tokenwise-task: $TASK"
         "tokenwise-process_crash|http://$TOKENWISE_OS/v1/chat/completions|$KEY_OS"
         "tokenwise-process_crash-task|http://$TOKENWISE_OS/v1/chat/completions|$KEY_OS|x-tokenwise-task: $TASK")
[[ -n $BEFORE ]] && targets+=("tokenwise-before|http://$BEFORE/v1/chat/completions|$KEY_BEFORE")
[[ -n $PROXY ]] && targets+=("noveum|http://$PROXY/v1/chat/completions|sk-bench")
[[ -n $LITELLM ]] && targets+=("litellm|http://$LITELLM/v1/chat/completions|sk-bench-0123456789abcdef0123456789abcdef")
for mode in $MODES; do
  for rate in $RATES ${MAX_RUN-0}; do
    for rep in $(seq "$REPEAT"); do
      for t in "${targets[@]}"; do
        IFS='|' read -r name url auth header <<<"$t"
        [[ -n ${ONLY:-} && ! $name =~ $ONLY ]] && continue
        # LiteLLM cannot sustain 1000 req/s on this box, nor keep up at
        # max rate; one run of it per cell is enough to show that.
        [[ $name == litellm && $rep -gt 1 ]] && continue
        echo "--> $mode $name rate=${rate/#0/max} run $rep"
        run "$mode/$name/$rate" "$url" "$auth" "$work/$mode.json" "$rate" "$header" "$rep" >/dev/null
      done
    done
  done
done

[[ -z "${SKIP_OHA:-}" ]] && echo "==> oha cross-check (non-streaming, 50 connections, ${DURATION}s)"
[[ -n "${SKIP_OHA:-}" ]] && targets=()
for t in "${targets[@]}"; do
  IFS='|' read -r name url auth header <<<"$t"
  [[ -n ${ONLY:-} && ! $name =~ $ONLY ]] && continue
  hdr=(-H 'content-type: application/json'); [[ -n $auth ]] && hdr+=(-H "Authorization: Bearer $auth")
  [[ -n $header ]] && hdr+=(-H "$header")
  $PIN_LOAD oha --no-tui -z "${DURATION}s" -c 50 -m POST -d "$body" "${hdr[@]}" --output-format json "$url" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["summary"]; p=d["latencyPercentiles"]; print(json.dumps({"name":"oha/"+sys.argv[1],"rps":s["requestsPerSec"],"success":s["successRate"],"p50_ms":p["p50"]*1e3,"p99_ms":p["p99"]*1e3}))' "$name" \
    | tee -a "$OUT/raw.jsonl" >/dev/null
done

for db in ledger ledger-os ${BEFORE:+ledger-before}; do
  rows=$(sqlite3 "$work/$db.db" 'SELECT COUNT(*), SUM(estimated) FROM usage_events' 2>/dev/null || echo "?")
  echo "$db.db rows written during the run (count|estimated): $rows" | tee -a "$OUT/ledger.txt"
done
# The task's running total against its rows, after every call the run made.
for db in ledger ledger-os; do
  task_check=$(sqlite3 "$work/$db.db" "SELECT (SELECT calls || '|' || cost_nanos FROM tasks WHERE task = '$TASK') || ' vs ' || (SELECT COUNT(*) || '|' || SUM(cost_nanos) FROM usage_events WHERE task = '$TASK')" 2>/dev/null || echo "?")
  echo "$db.db: task $TASK running total (calls|cost_nanos) vs its ledger rows: $task_check" | tee -a "$OUT/ledger.txt"
done
python3 bench/gateway/report.py "$OUT/raw.jsonl" | tee "$OUT/report.md"
