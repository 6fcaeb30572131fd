#!/usr/bin/env bash
# Runs the demo: relay, operator and customer in one process over loopback
# TLS (the customer shares the X display when DISPLAY is set, a synthetic
# desktop otherwise), then the same relay's web console in headless
# Chromium. Installs what the web console needs (Debian's wasm toolchain,
# Chromium, Node.js) and builds it first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-web-deps.sh
bash scripts/build-web.sh
cargo run --release --locked --example demo
