#!/usr/bin/env bash
# Installs what the tests need, then runs the whole test suite
# (unit, integration against Xvfb / real TLS / SQLite, doc tests; examples are built).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace --locked
