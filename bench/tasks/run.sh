#!/usr/bin/env bash
# What the cost of a task on the answer costs: one commit of one usage event
# (the gateway's commit at low load) without a task, with a task (its running
# total upserted in the same transaction and returned), on SQLite with each
# durability and on PostgreSQL; and the one read a stream makes before its
# headers. Cases are interleaved in rounds so drift hits them alike.
#   TOKENWISE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/tasks/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --manifest-path bench/tasks/Cargo.toml
bench/tasks/target/release/tokenwise-task-bench
