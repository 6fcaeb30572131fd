#!/usr/bin/env bash
# Installs what the tests need, then runs the whole test suite
# (unit, integration against Xvfb / real TLS / SQLite, headless Chromium,
# doc tests; examples are built). The web console is built first: its
# browser tests load it from target/web/console.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build-web.sh
cargo test --workspace --locked
