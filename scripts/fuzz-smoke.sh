#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a short time, with the
# memory budgets in fuzz/budgets.txt.
# Usage: scripts/fuzz-smoke.sh [seconds-per-target]
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 unlocks them on stable.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
for target in $(cargo fuzz list); do
  echo "--- fuzz $target (${seconds}s)"
  mkdir -p "corpus/$target"
  read -r max_len malloc_mb rss_mb < <(awk -v t="$target" '$1 == t { print $2, $3, $4 }' budgets.txt)
  if [ -z "${max_len:-}" ]; then
    echo "no budget for fuzz target $target in fuzz/budgets.txt: add one" >&2
    exit 1
  fi
  cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" \
    -max_len="$max_len" -malloc_limit_mb="$malloc_mb" -rss_limit_mb="$rss_mb" 2>&1 | tail -n 3
  unset max_len malloc_mb rss_mb
done
