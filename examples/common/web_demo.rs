//! The demo's last step: the same relay serves the web console.
//!
//! Headless Chromium logs in as the demo operator, issues a code, a demo
//! customer joins and allows a view, and a screenshot of the console showing
//! the customer's screen is saved. Then, in a terminal, the relay keeps
//! serving for a person: open the printed URL, log in, and accept the demo
//! customer who asks for you by operator ID.

use std::path::{Path, PathBuf};

use rsupport::client::{Customer, HostPlatform, RelayTarget, SessionHandle};
use rsupport::core::session::{ControlEvent, SessionEvent};
use rsupport::proto::relay::CustomerInfo;
use rsupport_testkit::browser::Browser;
use serde_json::json;

use super::demo_support::{wait, Error, OPERATOR, OPERATOR_PASSWORD};

/// Where `scripts/build-web.sh` puts the console.
pub fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web/console")
}

/// Allows every mode the operator asks for, until the session ends.
fn consent_to_everything(mut session: SessionHandle) {
    tokio::spawn(async move {
        while let Some(event) = session.next_event().await {
            match event {
                SessionEvent::Control(ControlEvent::ConsentRequested { request_id, .. }) => {
                    let _ = session.decide(request_id, true).await;
                }
                SessionEvent::Control(ControlEvent::Ended { .. }) => return,
                _ => {}
            }
        }
    });
}

/// Drives the console headless and saves `console.png` in `state`.
pub async fn screenshot_of_the_console(
    target: &RelayTarget,
    url: &str,
    platform: HostPlatform,
    state: &Path,
) -> Result<PathBuf, Error> {
    let mut browser = Browser::start().await;
    let code = browser
        .operator_with_code(url, OPERATOR, OPERATOR_PASSWORD)
        .await;
    println!("web console: headless Chromium logged in and issued code {code}");
    let customer = Customer::connect(target, platform).await?;
    let info = CustomerInfo {
        name: "Web demo customer".into(),
        ..Default::default()
    };
    let mut session = customer.join(&code, info).await?;
    browser.run(json!({"cmd": "wait_session"})).await;
    browser.run(json!({"cmd": "request", "mode": "view"})).await;
    let request = wait(&mut session, |e| match e {
        SessionEvent::Control(ControlEvent::ConsentRequested { request_id, .. }) => {
            Some(*request_id)
        }
        _ => None,
    })
    .await?;
    session.decide(request, true).await?;
    browser.run(json!({"cmd": "wait_drawn", "count": 1})).await;
    let path = state.join("console.png");
    browser.screenshot_to(&path).await;
    browser.run(json!({"cmd": "end"})).await;
    browser.quit().await;
    Ok(path)
}

/// In a terminal: a customer asks for the operator by ID and allows what
/// the person in the console asks; returns when Enter is pressed.
pub async fn serve_a_person(
    target: &RelayTarget,
    url: &str,
    operator_id: &str,
    platform: HostPlatform,
) -> Result<(), Error> {
    println!();
    println!("The web console is up. Open {url}");
    println!("(the certificate is the demo relay's own: accept it in the browser),");
    println!(
        "log in as {OPERATOR} / {OPERATOR_PASSWORD}, and accept the customer who asks for you."
    );
    println!("The demo customer allows every mode you ask for. Press Enter to stop.");
    let customer = Customer::connect(target, platform).await?;
    let info = CustomerInfo {
        name: "Demo customer".into(),
        description: "wants to see the web console".into(),
        ..Default::default()
    };
    let operator_id = operator_id.to_owned();
    tokio::spawn(async move {
        match customer
            .contact(&operator_id, info, "Hello! Can you help me?")
            .await
        {
            Ok(session) => consent_to_everything(session),
            Err(e) => eprintln!("demo customer: {e}"),
        }
    });
    let mut line = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
    Ok(())
}
