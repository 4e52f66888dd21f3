#!/usr/bin/env bash
# Cost of a budget hold + capture in process, on SQLite and on PostgreSQL.
#   TOKENWISE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/budgets/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --manifest-path bench/budgets/Cargo.toml
# TOKENWISE_BENCH_ONLY_REPLICAS=1 runs only the replica cases (shared rows and escrow, 1 and 3
# stores); TOKENWISE_BENCH_PER (calls per task, default 300) and TOKENWISE_BENCH_TASKS (16).
bench/budgets/target/release/tokenwise-budget-bench
