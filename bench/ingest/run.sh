#!/usr/bin/env bash
# Ingest speed into SQLite: EVENTS (default 1,000,000) generated usage events
# as JSON lines, in time order as exports are (bench/ingest/gen.py), taken in
#   1. by `tokenwise ingest` (release build) into a fresh ledger;
#   2. through `POST /api/v1/events:batch` of a running `tokenwise serve`,
#      10,000 lines a request, two requests at a time, into a fresh ledger;
#   3. by the peer: the plain sqlite3 shell importing the same lines into the
#      same usage_events table and indexes (bench/ingest/peer.sql).
# Each with the default durability (an fsync per committed transaction).
#   bench/ingest/run.sh
#   EVENTS=100000 bench/ingest/run.sh
#   TMPDIR=/dev/shm bench/ingest/run.sh   # ledgers in memory: no disk in the figures
#   BIN=/path/to/tokenwise bench/ingest/run.sh   # another build (a baseline), not rebuilt
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS="${EVENTS:-1000000}"
DATA=bench/ingest/data
FILE="$DATA/events-$EVENTS.jsonl"
mkdir -p "$DATA"
[[ -f "$FILE" ]] || python3 bench/ingest/gen.py "$EVENTS" "$FILE"
if [[ -z "${BIN:-}" ]]; then
  cargo build --release -p tokenwise-cli
  BIN="$PWD/target/release/tokenwise"
fi
WORK="$(mktemp -d)"
SERVE=""
trap '[[ -n "$SERVE" ]] && kill "$SERVE" 2>/dev/null; rm -rf "$WORK"' EXIT
report() { # name wall user sys
  python3 -c "import sys; n,w,u,s=int(sys.argv[1]),*map(float,sys.argv[2:5]); print(f'{sys.argv[5]:<28} {n:>9,} events {w:7.2f} s wall ({u:.2f} s user, {s:.2f} s sys)  {n/w:>9,.0f} events/s')" "$EVENTS" "$@"
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. The CLI.
/usr/bin/time -f "%e %U %S" -o "$WORK/cli.time" \
  "$BIN" ingest --config examples/acme.toml --database "sqlite://$WORK/cli.db" "$FILE" --format jsonl
read -r wall user sys < "$WORK/cli.time"
report "$wall" "$user" "$sys" "tokenwise ingest (CLI)"

# 2. The API.
split -l 10000 "$FILE" "$WORK/part-"
"$BIN" serve --config examples/acme.toml --database "sqlite://$WORK/api.db" --listen 127.0.0.1:0 > "$WORK/serve.out" 2>/dev/null &
SERVE=$!
until grep -q "listening on" "$WORK/serve.out" 2>/dev/null; do sleep 0.1; done
URL="http://$(grep -o 'listening on http://[^ ]*' "$WORK/serve.out" | cut -d/ -f3)"
KEY="$("$BIN" keys create --config examples/acme.toml --database "sqlite://$WORK/api.db" --user hugo.martin)"
before="$(cut -d' ' -f14,15 /proc/$SERVE/stat)"
start="$(date +%s.%N)"
ls "$WORK"/part-* | xargs -P 2 -I{} curl -sf -o /dev/null -H "Authorization: Bearer $KEY" \
  -H "content-type: application/x-ndjson" --data-binary @{} "$URL/api/v1/events:batch"
end="$(date +%s.%N)"
after="$(cut -d' ' -f14,15 /proc/$SERVE/stat)"
tick="$(getconf CLK_TCK)"
read -r u0 s0 <<< "$before"; read -r u1 s1 <<< "$after"
report "$(python3 -c "print($end - $start)")" "$(python3 -c "print(($u1 - $u0) / $tick)")" \
  "$(python3 -c "print(($s1 - $s0) / $tick)")" "POST /api/v1/events:batch"
stored="$(sqlite3 "$WORK/api.db" 'SELECT COUNT(*) FROM usage_events')"
[[ "$stored" == "$EVENTS" ]] || { echo "the API stored $stored of $EVENTS"; exit 1; }

# 3. The peer: the same lines, table and indexes, with the sqlite3 shell.
mkdir "$WORK/peer"
ln -s "$PWD/$FILE" "$WORK/peer/events.jsonl"
{ sqlite3 "$WORK/cli.db" ".schema usage_events"; cat bench/ingest/peer.sql; } > "$WORK/peer/peer.sql"
(cd "$WORK/peer" && /usr/bin/time -f "%e %U %S" -o ../peer.time sqlite3 peer.db < peer.sql > /dev/null)
read -r wall user sys < "$WORK/peer.time"
report "$wall" "$user" "$sys" "sqlite3 shell (peer)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
