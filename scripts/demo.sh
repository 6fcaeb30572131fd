#!/usr/bin/env bash
# Runs the demo: relay, operator and customer in one process over loopback
# TLS. It needs no system packages (it shares the X display when DISPLAY is
# set, a synthetic desktop otherwise), so there is nothing to install first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --example demo
