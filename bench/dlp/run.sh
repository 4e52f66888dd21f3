#!/usr/bin/env bash
# DLP speed and accuracy, tokenwise beside Presidio's pattern recognizers,
# in one run on one machine.
#   bench/dlp/run.sh
# Needs cargo and python3; installs Faker and presidio-analyzer (pinned in
# bench/dlp/requirements.txt) into bench/.venv-dlp the first time.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/bench/dlp/results}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

venv=$ROOT/bench/.venv-dlp
if [[ ! -x $venv/bin/python ]] || ! cmp -s bench/dlp/requirements.txt "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/dlp/requirements.txt
  cp bench/dlp/requirements.txt "$venv/requirements.txt"
fi

echo "==> building"
cargo build --release --locked -p tokenwise-cli
cargo build --release --manifest-path bench/dlp/speed/Cargo.toml

echo "==> inputs"
"$venv/bin/python" bench/dlp/make_inputs.py "$work"
ls -l "$work"

echo "==> tokenwise speed (one thread)"
bench/dlp/speed/target/release/tokenwise-dlp-speed "$work/prose.txt" "$work/code.txt" "$work/dense.txt" "$work/intl.txt" "$work/disguised.txt" "$work/mixed.txt" | tee "$OUT/tokenwise.jsonl"

echo "==> accuracy (tokenwise and Presidio) and Presidio speed"
"$venv/bin/python" bench/dlp/compare.py "$ROOT/target/release/tokenwise" "$work" | tee "$OUT/compare.jsonl"
