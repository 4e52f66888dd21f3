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

# `bench_setup CONFIG` (needs $ROOT and $work): builds the release binary
# (unless BIN names another build) and the load generator, sets TW and
# LOADGEN, starts the mock upstream (MOCK: its address) and writes
# $work/acme.toml, CONFIG sent to the mock, beside a copy of examples/prices.
bench_setup() {
  [[ -n ${BIN:-} ]] || cargo build --release --locked -p tokenwise-cli
  cargo build --release --manifest-path "$ROOT/bench/loadgen/Cargo.toml"
  TW=${BIN:-$ROOT/target/release/tokenwise}
  LOADGEN=$ROOT/bench/loadgen/target/release/tokenwise-loadgen
  MOCK=$(listen "$TW" mock-upstream --listen 127.0.0.1:0)
  cp -r "$ROOT/examples/prices" "$work/prices"
  sed "s#http://127.0.0.1:9100#http://$MOCK#" "$1" >"$work/acme.toml"
}
