#!/usr/bin/env bash
# Soak: sustained gateway load (JSON and streamed chat calls, committed to a
# SQLite ledger with an fsync per batch) while API readers keep read
# transactions open, for DURATION seconds; the WAL's size over time goes to
# a CSV (bench/soak/results/wal-LABEL.csv) with requests answered, the
# database's size and the load average. The WAL must stay bounded (the
# checkpoint thread truncates it when the writer pauses, and past 64 MiB).
#
#   bench/soak/run.sh                        # 240 s, release build
#   DURATION=60 PROFILE=debug bench/soak/run.sh
#   TW=../old-checkout/target/release/tokenwise LABEL=before bench/soak/run.sh
#
# The load generator is bench/soak/load.py (python3, standard library only):
# WRITERS threads (16) send calls as fast as they are answered, READERS (2)
# read /api/v1/events and /api/v1/budgets in a loop.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-240}
PROFILE=${PROFILE:-release}
WRITERS=${WRITERS:-16}
READERS=${READERS:-2}
LABEL=${LABEL:-after}
OUT=${OUT:-$ROOT/bench/soak/results}
mkdir -p "$OUT"
if [[ -z "${TW:-}" ]]; then
  if [[ $PROFILE == release ]]; then cargo build --release --locked -p tokenwise-cli; else cargo build --locked -p tokenwise-cli; fi
  TW=$ROOT/${CARGO_TARGET_DIR:-target}/$PROFILE/tokenwise
fi
work=$(mktemp -d)
trap 'for p in $(cat "$work/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

source "$ROOT/bench/listen.sh"

MOCK=$(listen "$TW" mock-upstream --listen 127.0.0.1:0)
cp -r examples/prices "$work/prices"
sed "s#http://127.0.0.1:9100#http://$MOCK#" examples/acme.toml >"$work/acme.toml"
DB=$work/ledger.db
GW=$(OPENAI_API_KEY=sk-soak ANTHROPIC_API_KEY=sk-soak listen "$TW" serve --config "$work/acme.toml" --listen 127.0.0.1:0 --database "sqlite://$DB")
KEY=$("$TW" keys create --config "$work/acme.toml" --database "sqlite://$DB" --user ivan.petrov --use-case support-reply 2>/dev/null)
echo "==> soak $LABEL: $DURATION s, $WRITERS writers, $READERS readers, $TW"
python3 bench/soak/load.py "$GW" "$KEY" "$DB" "$DURATION" "$OUT/wal-$LABEL.csv" "$WRITERS" "$READERS" 5
python3 - "$OUT/wal-$LABEL.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
last = rows[-1]
wal = [int(r["wal_bytes"]) for r in rows]
req = int(last["requests"])
print(f"requests {req} ({req / max(1, float(last['elapsed_s'])):.0f}/s), errors {last['errors']}, reads {last['reads']}")
print(f"WAL: max {max(wal) / 2**20:.1f} MiB, last {wal[-1] / 2**20:.1f} MiB; database {int(last['db_bytes']) / 2**20:.1f} MiB")
print(f"load average (1 min) {min(float(r['load_1m']) for r in rows):.2f}-{max(float(r['load_1m']) for r in rows):.2f}")
PY
