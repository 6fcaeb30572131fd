#!/usr/bin/env bash
# Installs what the web console's build and browser tests use on Debian 12:
# Debian's Rust toolchain for wasm32 (rustup's toolchain here has no wasm32
# standard library; see ../shared/notes/WEB-TOOLCHAIN.md), clang/LLVM for
# ring's and zstd's C parts, headless Chromium, Node.js for TypeScript and
# Playwright, and a Japanese font so screenshots show the text they hold.
set -euo pipefail

packages=(
  rustc-web cargo-web rust-web-src   # Rust for wasm32 with the std source
  lld-22 clang-22 llvm-22            # wasm linker; C for wasm32
  chromium                           # the browser the tests drive
  fonts-ipafont-gothic               # Japanese glyphs in screenshots
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js for tsc and playwright-core: the machine's own when it has one
# (a NodeSource build brings npm with it and conflicts with Debian's npm).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# rustc-web and rust-web-src must come from the same release (a security
# update may move both; a mismatch fails deep inside -Zbuild-std).
rustc_v=$(dpkg-query -W -f='${Version}' rustc-web)
src_v=$(dpkg-query -W -f='${Version}' rust-web-src)
if [[ "$rustc_v" != "$src_v" ]]; then
  echo "install-web-deps: rustc-web $rustc_v and rust-web-src $src_v differ;" >&2
  echo "  run: apt-get install --only-upgrade rustc-web rust-web-src" >&2
  exit 1
fi
