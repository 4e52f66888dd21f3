#!/usr/bin/env bash
# Scoring a month at scale: USERS people (default 10,000) and EVENTS usage
# events (default 10,000,000) with 20 outcomes a person, generated through
# the real store into a SQLite ledger, then `tokenwise score` timed with
# hyperfine for one model and for the six-model comparison.
#   bench/scoring/run.sh            # 10k users, 10M events (generation takes minutes)
#   USERS=1000 EVENTS=1000000 bench/scoring/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS="${USERS:-10000}"
EVENTS="${EVENTS:-10000000}"
OUT="bench/scoring/data/${USERS}x${EVENTS}"
cargo build --release -p tokenwise-cli
cargo build --release --manifest-path bench/scoring/Cargo.toml
if [[ ! -f "$OUT/ledger.db" ]]; then
  bench/scoring/target/release/tokenwise-scoring-bench "$OUT" "$USERS" "$EVENTS"
fi
BIN=target/release/tokenwise
ARGS=(--config "$OUT/policy.toml" --database "sqlite://$PWD/$OUT/ledger.db" --period 2026-10 --json)
"$BIN" score "${ARGS[@]}" | python3 -c 'import json,sys; b=json.load(sys.stdin); print(len(b["scores"]), "subjects scored under", b["rules_version"])'
hyperfine --warmup 1 --runs 5 --export-markdown "$OUT/score.md" \
  "$BIN score ${ARGS[*]} > /dev/null" \
  "$BIN score ${ARGS[*]} --compare > /dev/null"
cat "$OUT/score.md"
