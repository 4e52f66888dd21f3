#!/usr/bin/env bash
# Cost of the per-request API key lookup: SQLite (read every request, no
# cache), the in-process cache hit it replaced, and PostgreSQL (cache hit,
# and the round trip a miss costs).
#   TOKENWISE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/keys/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --manifest-path bench/keys/Cargo.toml
bench/keys/target/release/tokenwise-key-bench
