#!/usr/bin/env bash
# Anomaly detection at scale: USERS people (default 10,000) and EVENTS usage
# events in a month (default 10,000,000) with planted anomalies, generated
# through the real store into a SQLite ledger; then one detection pass over
# the month timed (each store query, and the whole pass as
# `GET /api/v1/anomalies` runs it), and the prompt sketch's cost per size.
#   bench/anomalies/run.sh            # 10k users, 10M events (generation takes minutes)
#   USERS=1000 EVENTS=1000000 bench/anomalies/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS="${USERS:-10000}"
EVENTS="${EVENTS:-10000000}"
OUT="bench/anomalies/data/${USERS}x${EVENTS}"
cargo build --release --manifest-path bench/anomalies/Cargo.toml
BIN=bench/anomalies/target/release/tokenwise-anomalies-bench
if [[ ! -f "$OUT/ledger.db" ]]; then
  "$BIN" generate "$OUT" "$USERS" "$EVENTS"
fi
"$BIN" detect "$OUT"
"$BIN" detect "$OUT"   # warm cache
"$BIN" sketch
