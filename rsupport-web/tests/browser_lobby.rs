//! The operator console's lobby in a real browser: an account with a second
//! factor and a password an admin set logs in with its authenticator code
//! and must choose its own password first; then it serves two customers at
//! once in tabs, one who joined with a code and one who asked for this
//! operator by ID (chat-first), and each tab's chat reaches its customer.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::path::Path;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_client::{Customer, HostPlatform, SessionHandle};
use rsupport_core::session::{ChatEvent, SessionEvent};
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::Role;
use rsupport_relay::auth::{totp, Argon2Params};
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{create_account, AccountSpec};
use rsupport_testkit::relay::{start_relay_with, wait_for};
use serde_json::json;
use support::{console_dir, Browser};

const USER: &str = "kenji";
const FIRST_PASSWORD: &str = "Temporary-Quartz-41";
const OWN_PASSWORD: &str = "Violet-Harbour-73-kenji";
const TOTP_SECRET: &[u8] = b"12345678901234567890";

/// An operator account as an admin leaves it: TOTP enrolled, and a
/// password the operator must change at first login. Returns its ID.
fn admin_made_account(db: &Path) -> String {
    let mut store = SqliteStore::open(db).unwrap();
    let mut account = create_account(
        &mut store,
        AccountSpec {
            username: USER,
            display_name: "Kenji",
            password: FIRST_PASSWORD,
            role: Role::Operator,
        },
        Argon2Params::insecure_fast(),
        &mut StdRng::seed_from_u64(3),
        0,
    )
    .unwrap();
    account.must_change_password = true;
    account.totp_secret = Some(rsupport_proto::relay::Secret::new(TOTP_SECRET.to_vec()));
    store.update_account(USER, &account).unwrap();
    account.operator_id
}

fn current_totp() -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    format!(
        "{:06}",
        totp::code_at_step(TOTP_SECRET, totp::step_of(now_ms), 6)
    )
}

async fn chat_line(cu: &mut SessionHandle) -> String {
    wait_for(cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(line)) => Some(line.text.clone()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_first_password_and_two_customers_in_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let operator_id = admin_made_account(&db);
    let root = console_dir();
    let target = start_relay_with(Some(&db), false, |c| c.web_root = Some(root)).await;
    let url = format!("https://{}/operator/", target.addr());
    let mut browser = Browser::start().await;
    browser.run(json!({"cmd": "open", "url": url})).await;

    // Without the authenticator code: told in plain words what is missing.
    let login = json!({"cmd": "login", "username": USER, "password": FIRST_PASSWORD});
    let refused = browser.run(login).await;
    assert_eq!(refused["page"], json!("error"), "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("six-digit code"),
        "{refused}"
    );
    // With it: the password an admin set must be replaced first.
    let login = json!({"cmd": "login", "username": USER, "password": FIRST_PASSWORD, "totp": current_totp()});
    let forced = browser.run(login).await;
    assert_eq!(forced["page"], json!("password"), "{forced}");
    browser.screenshot("operator-first-password").await;
    browser
        .run(json!({"cmd": "change_password", "old": FIRST_PASSWORD, "password": OWN_PASSWORD}))
        .await;
    let who = browser
        .run(json!({"cmd": "page_text", "testid": "who"}))
        .await;
    assert!(
        who["text"].as_str().unwrap().contains(&operator_id),
        "{who}"
    );

    // Customer one joins with a code.
    let code = browser.run(json!({"cmd": "issue_code"})).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let mut ann = one
        .join(
            &code,
            CustomerInfo {
                name: "Ann".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    browser.run(json!({"cmd": "wait_tabs", "count": 1})).await;

    // Customer two asks for this operator by ID, chat first.
    let two = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let info = CustomerInfo {
        name: "Ben".into(),
        description: "cannot print".into(),
        ..Default::default()
    };
    let contact = tokio::spawn(async move {
        two.contact(&operator_id, info, "Hello, are you there?")
            .await
    });
    browser.run(json!({"cmd": "accept_contact"})).await;
    let mut ben = contact.await.unwrap().unwrap();
    browser.run(json!({"cmd": "wait_tabs", "count": 2})).await;
    browser
        .run(json!({"cmd": "wait_chat", "text": "Hello, are you there?"}))
        .await;
    browser
        .run(json!({"cmd": "chat", "text": "Yes, Ben, I am here."}))
        .await;
    assert_eq!(chat_line(&mut ben).await, "Yes, Ben, I am here.");
    browser.screenshot("operator-two-tabs").await;

    // Back to the first tab: its chat goes to Ann only.
    browser.run(json!({"cmd": "tab", "index": 0})).await;
    browser
        .run(json!({"cmd": "chat", "text": "Ann, one moment."}))
        .await;
    assert_eq!(chat_line(&mut ann).await, "Ann, one moment.");
    browser.quit().await;
}
