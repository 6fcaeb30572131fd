#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a short time.
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
  cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 | tail -n 3
done
