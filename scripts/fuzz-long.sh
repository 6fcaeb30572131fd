#!/usr/bin/env bash
# Runs every cargo-fuzz target for a long time (default 600 s each) with the
# memory budgets in fuzz/budgets.txt, and prints executions and findings.
# Usage: scripts/fuzz-long.sh [seconds-per-target] [target…]
# Runs the targets one after another; run two copies with different target
# lists to use two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for target in "${targets[@]}"; do
  read -r max_len malloc_mb rss_mb < <(awk -v t="$target" '$1 == t { print $2, $3, $4 }' budgets.txt)
  if [ -z "${max_len:-}" ]; then
    echo "no budget for fuzz target $target in fuzz/budgets.txt: add one" >&2
    exit 1
  fi
  mkdir -p "corpus/$target"
  log="$(mktemp)"
  echo "--- fuzz $target: ${seconds}s, max_len $max_len, malloc_limit_mb $malloc_mb, rss_limit_mb $rss_mb"
  status=0
  cargo fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len="$max_len" \
    -malloc_limit_mb="$malloc_mb" -rss_limit_mb="$rss_mb" >"$log" 2>&1 || status=$?
  grep -E "^(#[0-9]+\s+DONE|Done [0-9]+ runs)|ERROR|SUMMARY|malloc\(|out-of-memory" "$log" | tail -n 5 || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $target FAILED (exit $status); full log: $log" >&2
    exit "$status"
  fi
  rm -f "$log"
  unset max_len malloc_mb rss_mb
done
