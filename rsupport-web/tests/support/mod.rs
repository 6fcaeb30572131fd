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

/// A customer program on `target` that joins with `code` as `name`.
pub async fn customer_joins(
    target: &RelayTarget,
    code: &str,
    platform: rsupport_client::HostPlatform,
    name: &str,
) -> rsupport_client::SessionHandle {
    let customer = rsupport_client::Customer::connect(target, platform)
        .await
        .unwrap();
    let info = rsupport_proto::relay::CustomerInfo {
        name: name.into(),
        ..Default::default()
    };
    customer.join(code, info).await.unwrap()
}

/// The id of the next mode request the customer is asked to allow.
pub async fn next_request(cu: &mut rsupport_client::SessionHandle) -> u32 {
    use rsupport_core::session::{ControlEvent, SessionEvent};
    rsupport_testkit::relay::wait_for(cu, |e| match e {
        SessionEvent::Control(ControlEvent::ConsentRequested { request_id, .. }) => {
            Some(*request_id)
        }
        _ => None,
    })
    .await
}

/// The customer allows the next mode the operator asks for.
pub async fn allow_next(cu: &mut rsupport_client::SessionHandle) {
    let request = next_request(cu).await;
    cu.decide(request, true).await.unwrap();
}

/// A customer's platform sharing X display `display` (capture and XTEST).
pub fn x11_platform(display: &str) -> rsupport_client::HostPlatform {
    rsupport_client::HostPlatform::new(
        Box::new(rsupport_capture::source::X11Capturer::connect(Some(display)).unwrap()),
        Box::new(rsupport_input::inject::X11Injector::connect(Some(display)).unwrap()),
        None,
    )
}

/// A relay serving the console, the operator logged in there with a code
/// issued, and a customer on `platform` joined with it (its tab open).
pub struct Scene {
    /// The relay.
    pub target: RelayTarget,
    /// The operator's browser.
    pub browser: Browser,
    /// The customer's side of the session.
    pub cu: rsupport_client::SessionHandle,
    /// The code the console issued.
    pub code: String,
}

impl Scene {
    /// Sets the scene (see [`Scene`]).
    pub async fn start(platform: rsupport_client::HostPlatform) -> Scene {
        let (target, url) = relay_with_console().await;
        let mut browser = Browser::start().await;
        let code = operator_with_code(&mut browser, &url).await;
        let cu = customer_joins(&target, &code, platform, "Bob").await;
        browser
            .run(serde_json::json!({"cmd": "wait_session"}))
            .await;
        Scene {
            target,
            browser,
            cu,
            code,
        }
    }
}

/// A private X server of `width`×`height` showing the test desktop, with a
/// connection to it and its screen number.
pub fn x_desktop(
    width: u16,
    height: u16,
) -> (
    rsupport_testkit::Xvfb,
    x11rb::rust_connection::RustConnection,
    usize,
) {
    let xvfb = rsupport_testkit::Xvfb::start_with_size(u32::from(width), u32::from(height));
    let (conn, screen_num) = x11rb::connect(Some(&xvfb.display())).unwrap();
    rsupport_testkit::x11::draw_desktop(&conn, screen_num);
    (xvfb, conn, screen_num)
}

/// Waits until the customer's side finished receiving a transfer with no
/// failed file, then checks `file` in `folder` is `expected` byte for byte.
pub async fn received_intact(
    cu: &mut rsupport_client::SessionHandle,
    folder: &Path,
    file: &str,
    expected: &[u8],
) {
    use rsupport_core::files::FileEvent;
    use rsupport_core::session::SessionEvent;
    use sha2::{Digest, Sha256};
    rsupport_testkit::relay::wait_for(cu, |e| match e {
        SessionEvent::File(FileEvent::Finished { failed_entries, .. }) => {
            assert_eq!(*failed_entries, 0);
            Some(())
        }
        _ => None,
    })
    .await;
    let arrived = std::fs::read(folder.join(file)).unwrap();
    assert_eq!(
        Sha256::digest(&arrived),
        Sha256::digest(expected),
        "{file} arrived intact"
    );
}
