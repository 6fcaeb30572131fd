//! Shared by the browser tests: the built console, a relay serving it, and
//! headless Chromium driven through `web/tests/driver.mjs`.

#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use rsupport_client::RelayTarget;
pub use rsupport_testkit::browser::Browser;
use rsupport_testkit::relay::start_relay_with;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The console `scripts/build-web.sh` built; fails (never skips) without it.
pub fn console_dir() -> PathBuf {
    let dir = workspace().join("target/web/console");
    assert!(
        dir.join("pkg/rsupport_web_bg.wasm").is_file() && dir.join("operator/app.js").is_file(),
        "the web console is not built: run `bash scripts/build-web.sh` (scripts/test.sh does) \
         before these tests"
    );
    dir
}

/// Opens the console, logs in as the test relay's operator and issues a code.
pub async fn operator_with_code(browser: &mut Browser, url: &str) -> String {
    use rsupport_testkit::relay::{OPERATOR, PASSWORD};
    browser.operator_with_code(url, OPERATOR, PASSWORD).await
}

/// A relay on 127.0.0.1 serving the console; returns it and the console's URL.
pub async fn relay_with_console() -> (RelayTarget, String) {
    let root = console_dir();
    let target = start_relay_with(None, false, |config| {
        config.web_root = Some(root);
    })
    .await;
    let url = format!("https://{}/operator/", target.addr());
    (target, url)
}

/// BGRA (the X server's order) to RGBA (the canvas's), alpha opaque.
pub fn bgra_to_rgba(bgra: &[u8]) -> Vec<u8> {
    bgra.chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0], 0xFF])
        .collect()
}
