#!/usr/bin/env bash
# Installs what the demo needs, then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo run --release --locked --example demo
