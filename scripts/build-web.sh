#!/usr/bin/env bash
# Builds the web console into target/web/console/: the pages and scripts
# from web/console/ and the operator's session (rsupport-web) compiled to
# WebAssembly with its JavaScript glue in pkg/. Serve that folder with
# `rsupport-relay serve --web-root target/web/console`.
#
# Needs Debian's Rust toolchain for wasm32 (scripts/install-web-deps.sh
# installs it): rustup's toolchain here has no wasm32 standard library.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=target/web/console
section() { echo "--- build-web: $* (+$((SECONDS))s)"; }

section "wasm-bindgen tool (pinned, tools/wasm-bindgen)"
cargo build --release --locked --quiet \
  --manifest-path tools/wasm-bindgen/Cargo.toml --target-dir target/tools
bindgen=$root/target/tools/release/wasm-bindgen
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
have=$("$bindgen" --version | awk '{print $2}')
if [[ "$want" != "$have" ]]; then
  echo "build-web: wasm-bindgen tool is $have but Cargo.lock has the library at $want;" >&2
  echo "           set the same version in tools/wasm-bindgen/Cargo.toml" >&2
  exit 1
fi

section "rsupport-web for wasm32 (Debian's rustc $(/usr/bin/rustc --version | awk '{print $2}'))"
(
  # shellcheck source=scripts/wasm-env.sh
  source scripts/wasm-env.sh
  /usr/bin/cargo build --profile web --locked --target wasm32-unknown-unknown \
    -Zbuild-std=std,panic_abort -Ztrim-paths --target-dir target/web/cargo \
    -p rsupport-web
)

section "JavaScript glue and pages"
rm -rf "$out"
mkdir -p "$out"
cp -R web/console/. "$out/"
"$bindgen" --target web --out-dir "$out/pkg" \
  target/web/cargo/wasm32-unknown-unknown/web/rsupport_web.wasm
section "the labels' font (DejaVu Sans, from the dejavu crate the native build embeds)"
dejavu=$(cargo metadata --format-version 1 --locked |
  grep -o '"manifest_path":"[^"]*/dejavu-[0-9.]*/Cargo.toml"' | head -n 1 | cut -d'"' -f4)
mkdir -p "$out/fonts"
cp "$(dirname "$dejavu")"/assets/dejavu-fonts-ttf-*/ttf/DejaVuSans.ttf "$out/fonts/"

section "TypeScript (web/src)"
(cd web && npm ci --no-audit --no-fund --silent && npx --no-install tsc -p tsconfig.json)
wasm=$out/pkg/rsupport_web_bg.wasm
echo "build-web: $wasm: $(stat -c %s "$wasm") bytes, $(gzip -9c "$wasm" | wc -c) gzipped"
section "done: serve $out"
