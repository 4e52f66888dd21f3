#!/usr/bin/env bash
# The dashboard's pages over a month of demo data: server time per page.
# A release build fills a data dir with the demo's simulated month
# (`tokenwise demo --no-serve`), serves it on a manual clock at the month's
# last evening, logs each role in (an API key exchanged for a session
# cookie, as a browser does) and requests each page N times in a row with
# curl, one at a time. The figure is curl's time to the first byte
# (`time_starttransfer`): a page is rendered whole before its first byte
# leaves, so this is the server's time plus a loopback round trip. Beside
# each page, the JSON API call it is built on (the baseline), in the same run.
#   bench/dashboard/run.sh            # N=50
#   N=200 bench/dashboard/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${N:-50}"
DATA=bench/dashboard/data
CLOCK="2026-11-30T20:00:00Z"
cargo build --release -p tokenwise-cli
BIN="${CARGO_TARGET_DIR:-target}/release/tokenwise"
if [[ ! -f "$DATA/demo/demo-ledger.db" ]]; then
  mkdir -p "$DATA"
  "$BIN" demo --no-serve --data-dir "$DATA/demo" --listen 127.0.0.1:0 > "$DATA/demo.txt"
fi
cp -r examples/prices "$DATA/" 2>/dev/null || true
cp examples/acme.toml "$DATA/acme.toml"
DB="sqlite://$PWD/$DATA/demo/demo-ledger.db"
ARGS=(--config "$DATA/acme.toml" --database "$DB")

"$BIN" serve "${ARGS[@]}" --listen 127.0.0.1:0 --manual-clock "$CLOCK" > "$DATA/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  URL=$(grep -o 'listening on http://[^ ]*' "$DATA/serve.log" | head -1 | sed 's/listening on //') && [[ -n "$URL" ]] && break
  sleep 0.2
done

declare -A KEY COOKIE
for who in member:ivan.petrov manager:lucia.fernandez governance:omar.haddad finance:carl.johansson; do
  role=${who%%:*}
  KEY[$role]=$("$BIN" keys create "${ARGS[@]}" --user "${who#*:}")
  COOKIE[$role]=$(curl -s -o /dev/null -D - -X POST "$URL/login" --data-urlencode "api_key=${KEY[$role]}" \
    --data-urlencode "next=/" | grep -i '^set-cookie: tw_session=' | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//')
done

# p50, p99 and max (ms) of N requests of PATH with one header.
time_page() {
  local header=$1 path=$2
  for _ in $(seq "$N"); do
    curl -s -o /dev/null -H "$header" -w '%{http_code} %{time_starttransfer}\n' "$URL$path"
  done | python3 -c '
import sys
rows = [l.split() for l in sys.stdin]
bad = [c for c, _ in rows if c != "200"]
if bad: sys.exit(f"status {bad[0]} for '"$path"'")
t = sorted(float(s) * 1000 for _, s in rows)
q = lambda p: t[min(len(t) - 1, int(round(p * (len(t) - 1))))]
print(f"{q(0.5):.1f} | {q(0.99):.1f} | {t[-1]:.1f}")'
}

row() {
  local role=$1 path=$2 api=$3
  local page; page=$(time_page "Cookie: ${COOKIE[$role]}" "$path")
  local base="—"
  [[ -n "$api" ]] && base=$(time_page "Authorization: Bearer ${KEY[$role]}" "$api" | cut -d'|' -f1,2 | sed 's/ *$//')
  echo "| \`$path\` | $role | $page | \`${api:-—}\` $base |"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: $(grep -m1 -i 'requests\|calls' "$DATA/demo.txt" || true)"
echo "| page | role | p50 ms | p99 ms | max ms | baseline: the JSON API call it is built on, p50 / p99 ms |"
echo "|---|---|---|---|---|---|"
row member /me "/api/v1/events?limit=100"
row manager /team "/api/v1/budgets"
row governance /governance "/api/v1/anomalies?period=2026-11"
row governance /governance/violations ""
row governance /governance/models "/api/v1/scores/compare?period=2026-11"
row governance /governance/audit ""
row governance /governance/policy ""
row finance /finance "/api/v1/reports/chargeback?period=2026-11"
row finance "/finance?bucket=day" "/api/v1/reports/health?period=2026-11&bucket=day"
row finance /finance/chargeback.csv "/api/v1/reports/chargeback?period=2026-11&format=csv"
row finance /finance/focus.csv "/api/v1/reports/chargeback?period=2026-11&format=focus"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
