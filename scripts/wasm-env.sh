# Sourced by the scripts that build rsupport-web: Debian's Rust toolchain
# (which ships the std source wasm32 needs) instead of rustup's, with its
# own target dir so the two compilers never share one.
# See ../shared/notes/WEB-TOOLCHAIN.md for why each variable is here.
export PATH=/usr/bin:/bin:$PATH
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CARGO_PROFILE_RELEASE_TRIM_PATHS=all
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22
export CC_wasm32_unknown_unknown=clang-22 AR_wasm32_unknown_unknown=llvm-ar-22
