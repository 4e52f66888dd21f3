#!/usr/bin/env bash
# Cost of a budget hold + capture in process, on SQLite and on PostgreSQL.
#   TOKENWISE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/budgets/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --manifest-path bench/budgets/Cargo.toml
bench/budgets/target/release/tokenwise-budget-bench
