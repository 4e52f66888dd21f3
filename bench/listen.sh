# Sourced by bench scripts. `listen CMD...` starts a tokenwise process in the
# background, records its pid in $work/pids (the caller's trap kills them)
# and prints the address it announced. Needs $work (a scratch directory).
listen() {
  local log=$work/$RANDOM.log
  "$@" >"$log" 2>&1 &
  echo $! >>"$work/pids"
  for _ in $(seq 100); do
    if grep -q "listening on http://" "$log"; then grep -o 'http://[^ ]*' "$log" | head -1 | sed 's#http://##'; return; fi
    sleep 0.1
  done
  echo "no address from $*" >&2; cat "$log" >&2; exit 1
}

# The one chat request every gateway bench sends.
BENCH_BODY='{"model":"gpt-4.1-mini","messages":[{"role":"system","content":"You draft replies for Acme support."},{"role":"user","content":"Where is my refund for order 1042? It has been ten days."}],"max_tokens":32}'

# `bench_setup CONFIG` (needs $ROOT and $work): builds the release binary
# (unless BIN names another build) and the load generator, sets TW and
# LOADGEN, starts the mock upstream (MOCK: its address) and writes
# $work/acme.toml, CONFIG sent to the mock, beside a copy of examples/prices,
# and $work/chat.json, the request.
bench_setup() {
  [[ -n ${BIN:-} ]] || cargo build --release --locked -p tokenwise-cli
  cargo build --release --manifest-path "$ROOT/bench/loadgen/Cargo.toml"
  TW=${BIN:-$ROOT/target/release/tokenwise}
  LOADGEN=$ROOT/bench/loadgen/target/release/tokenwise-loadgen
  MOCK=$(listen "$TW" mock-upstream --listen 127.0.0.1:0)
  cp -r "$ROOT/examples/prices" "$work/prices"
  sed "s#http://127.0.0.1:9100#http://$MOCK#" "$1" >"$work/acme.toml"
  echo "$BENCH_BODY" >"$work/chat.json"
}

# `fresh_db NAME` (needs $PG, a PostgreSQL URL): drops and creates database
# NAME on the same server, applies DB_SETTINGS to it (space-separated
# name=value: ALTER DATABASE … SET) and sets DB_URL to it.
fresh_db() {
  psql -q "$PG" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  local setting
  for setting in ${DB_SETTINGS:-}; do
    psql -q "$PG" -c "ALTER DATABASE $1 SET ${setting%%=*} = '${setting#*=}'" >/dev/null
  done
  DB_URL="${PG%/*}/$1"
}
