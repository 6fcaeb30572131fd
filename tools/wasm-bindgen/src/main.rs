//! `wasm-bindgen`, the command-line tool, at the version the workspace pins.
fn main() -> anyhow::Result<()> {
    wasm_bindgen_cli::wasm_bindgen::run_cli_with_args(std::env::args_os())
}
