#!/usr/bin/env bash
# Installs the system packages the tests, benches and demo use on Debian 12.
# Building the crates needs none of them: a plain `cargo build` works without
# system -dev packages.
set -euo pipefail

packages=(
  xvfb        # private X servers for the X11 capture and input tests
  x11-utils   # xwininfo/xdpyinfo, used when diagnosing X tests
  xdotool     # drives real programs when recording screen corpora
  socat       # plain TCP forward, the baseline of the relay benchmark
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# CUPS, cups-pdf and poppler for the remote-printing tests; starts cupsd.
bash "$(dirname "$0")/install-print-deps.sh"

# The web console's toolchain and headless Chromium for its browser tests.
bash "$(dirname "$0")/install-web-deps.sh"
