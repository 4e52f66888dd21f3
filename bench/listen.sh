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
