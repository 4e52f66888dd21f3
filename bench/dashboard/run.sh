#!/usr/bin/env bash
# Server time of each dashboard page over a simulated month (issue [9]:
# every page under 200 ms). Fills a ledger with the demo's whole month,
# serves it on a manual clock at the month's last evening, logs in one
# person per role, and times each page N times with curl — beside the JSON
# API call that reads the same figures (the scores), measured in the same
# run as the baseline. Usage: bench/dashboard/run.sh [BIN] [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${1:-target/release/tokenwise}"
N="${2:-20}"
DATA="bench/dashboard/data"
rm -rf "$DATA" && mkdir -p "$DATA"
"$BIN" demo --no-serve --data-dir "$DATA" > /dev/null
cp -r examples/prices "$DATA/prices"
cp examples/acme.toml "$DATA/acme.toml"
DB="sqlite://$PWD/$DATA/demo-ledger.db"
"$BIN" serve --config "$DATA/acme.toml" --database "$DB" --listen 127.0.0.1:0 \
  --manual-clock 2026-11-30T20:00:00Z > "$DATA/serve.out" 2> /dev/null &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
until grep -q "listening on" "$DATA/serve.out"; do sleep 0.2; done
URL="http://$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$DATA/serve.out")"

time_it() { # LABEL CURL-ARGS… : p50 and max of N requests, in ms
  local label=$1; shift
  for _ in $(seq "$N"); do curl -s -o /dev/null -w "%{time_total}\n" "$@"; done |
    sort -n | awk -v l="$label" '{a[NR]=$1*1000} END {printf "%-34s p50 %6.1f ms   max %6.1f ms\n", l, a[int((NR+1)/2)], a[NR]}'
}
for who in ivan.petrov:me lucia.fernandez:team; do
  user=${who%%:*}; page=${who##*:}
  key=$("$BIN" keys create --config "$DATA/acme.toml" --database "$DB" --user "$user" 2> /dev/null)
  curl -s -c "$DATA/jar" -o /dev/null -d "api_key=$key" "$URL/login"
  time_it "/$page ($user)" -b "$DATA/jar" "$URL/$page"
  time_it "GET /api/v1/scores ($user)" -H "Authorization: Bearer $key" "$URL/api/v1/scores?period=2026-11"
done
echo "($("$BIN" --version 2>/dev/null || echo tokenwise), $(nproc) cores, $N requests each, one at a time)"
rm -rf "$DATA"
