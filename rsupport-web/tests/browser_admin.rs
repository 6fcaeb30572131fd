//! The admin console in a real browser (headless Chromium, driven by
//! Playwright through `web/tests/admin-driver.mjs`) against a real relay
//! over TLS serving the built console. Everything the admin does goes
//! through the pages (typing and clicking); native programs
//! (`rsupport_client`) play the operators and the customer, and check that
//! what the admin did took effect: a new account must choose a password at
//! first login, restricted modes are exactly what the operator gets, an
//! unblocked operator logs in again, a session ended on the page ends for
//! both parties, and history, CSV export and statistics show it.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::time::Duration;

use rsupport_client::{
    ClientError, Customer, HostPlatform, Operator, OperatorOptions, RelayTarget,
};
use rsupport_core::session::{ControlEvent, SessionEvent};
use rsupport_proto::relay::{CustomerInfo, LoginStatus};
use rsupport_proto::{ConnectionMode, EndReason};
use rsupport_testkit::browser::shots;
use rsupport_testkit::relay::{session_started, wait_for};
use rsupport_testkit::web::{WebRelay, ADMIN, ADMIN_PASSWORD, OPERATOR, OPERATOR_PASSWORD};
use serde_json::{json, Value};
use support::{console_dir, Browser};

/// First passwords the admin types for new accounts, and the ones chosen later.
const BOSS_FIRST: &str = "copper-meadow-first-31";
const BOSS_OWN: &str = "quiet-orchard-lamp-58";
const KENJI_FIRST: &str = "harbor-lantern-first-72";
const KENJI_OWN: &str = "saffron-bridge-cello-19";

fn pinned(relay: &WebRelay) -> RelayTarget {
    let hex: Vec<String> = relay
        .fingerprint()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    RelayTarget::pinned(relay.addr().to_string(), "localhost", hex.join(":"))
}

async fn native_login(
    target: &RelayTarget,
    username: &str,
    password: &str,
) -> Result<Operator, ClientError> {
    let mut operator = Operator::connect(target, OperatorOptions::default()).await?;
    operator.login(username, password, None).await?;
    Ok(operator)
}

async fn shot(browser: &mut Browser, name: &str) {
    browser.screenshot(&format!("admin-{name}")).await;
}

/// Cells of the rows whose cells include `needle` exactly.
fn rows_with<'a>(rows: &'a Value, needle: &str) -> Vec<&'a Value> {
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r.as_array().unwrap().iter().any(|c| c == needle))
        .collect()
}

/// A tiny CSV reader for the export (quoted fields, doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_the_relay_from_the_console() {
    let scratch = tempfile::tempdir().unwrap();
    let root = console_dir();
    let relay = WebRelay::start(&scratch.path().join("relay.db"), |config| {
        config.web_root = Some(root);
        // Three wrong passwords lock an address out (the default is five).
        config.settings.max_failed_logins = 3;
    })
    .await;
    let target = pinned(&relay);
    let url = format!("https://{}/admin/", relay.addr());
    let mut browser = Browser::start_script("tests/admin-driver.mjs").await;

    // The admin logs in.
    let first = browser.run(json!({"cmd": "open", "url": url})).await;
    for part in ["nav", "totp", "logout"] {
        assert_eq!(first[part], false, "{part} shows before login: {first}");
    }
    shot(&mut browser, "login").await;
    browser
        .run(json!({"cmd": "login", "username": ADMIN, "password": ADMIN_PASSWORD}))
        .await;

    // A second admin made on the page must choose a password at first login.
    browser
        .run(
            json!({"cmd": "create_account", "username": "boss", "display_name": "Bo Boss",
                     "password": BOSS_FIRST, "role": "admin"}),
        )
        .await;
    browser.run(json!({"cmd": "logout"})).await;
    browser
        .run(
            json!({"cmd": "login", "username": "boss", "password": BOSS_FIRST,
                     "expect": "password"}),
        )
        .await;
    shot(&mut browser, "password").await;
    browser
        .run(json!({"cmd": "change_password", "old_password": BOSS_FIRST,
                     "new_password": BOSS_OWN}))
        .await;

    // An operator who may only view; a native login gets exactly that.
    browser
        .run(
            json!({"cmd": "create_account", "username": "kenji", "display_name": "Kenji Mori",
                     "password": KENJI_FIRST, "role": "operator"}),
        )
        .await;
    let set = browser
        .run(json!({"cmd": "set_modes", "username": "kenji", "modes": ["view_customer"]}))
        .await;
    assert_eq!(set["modes"], json!(["view_customer"]), "{set}");
    let mut kenji = native_login(&target, "kenji", KENJI_FIRST).await.unwrap();
    let info = kenji.login_info().unwrap().clone();
    assert!(
        info.must_change_password,
        "a new account changes its password first"
    );
    assert_eq!(info.allowed_modes, vec![ConnectionMode::ViewCustomer]);
    kenji.change_password(KENJI_FIRST, KENJI_OWN).await.unwrap();
    drop(kenji);
    let kenji = native_login(&target, "kenji", KENJI_OWN).await.unwrap();
    let info = kenji.login_info().unwrap();
    assert!(!info.must_change_password);
    assert_eq!(info.allowed_modes, vec![ConnectionMode::ViewCustomer]);
    drop(kenji);

    // Aiko is locked out by wrong native passwords; the admin unblocks her.
    let mut locked = false;
    for _ in 0..10 {
        match native_login(&target, OPERATOR, "not-her-password").await {
            Err(ClientError::LoginRefused {
                status: LoginStatus::BadCredentials,
                ..
            }) => {}
            Err(ClientError::LoginRefused {
                status: LoginStatus::RateLimited | LoginStatus::Blocked,
                blocked_until_ms,
                ..
            }) => {
                // Slowed down between tries, or locked out: a lockout lasts
                // 20 minutes, a slow-down a few seconds.
                let wait = blocked_until_ms
                    .map(|t| t.saturating_sub(now_ms()))
                    .unwrap_or(0);
                if wait > 60_000 {
                    locked = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(wait + 50)).await;
            }
            other => panic!("a wrong password got {:?}", other.map(|_| ())),
        }
    }
    assert!(locked, "three wrong passwords lock the address out");
    assert!(
        native_login(&target, OPERATOR, OPERATOR_PASSWORD)
            .await
            .is_err(),
        "even the right password is refused while locked out"
    );
    browser.run(json!({"cmd": "reload"})).await;
    let row = browser
        .run(json!({"cmd": "account", "username": OPERATOR}))
        .await;
    assert_eq!(row["unblock"], 1, "the page offers to unblock: {row}");
    shot(&mut browser, "accounts").await;
    browser
        .run(json!({"cmd": "unblock", "username": OPERATOR}))
        .await;
    let mut aiko = native_login(&target, OPERATOR, OPERATOR_PASSWORD)
        .await
        .expect("aiko logs in after the unblock");

    // A live session, seen on the page and ended there.
    let invitation = aiko.issue_code().await.unwrap();
    let customer = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let info = CustomerInfo {
        name: "Bob".into(),
        description: "printer broken".into(),
        ..Default::default()
    };
    let mut cu = customer.join(invitation.code(), info).await.unwrap();
    let mut op = session_started(&mut aiko).await;
    let id = op.session_id();
    tokio::time::sleep(Duration::from_millis(1200)).await; // a duration above one second
    let live = browser.run(json!({"cmd": "live_sessions"})).await;
    let rows = rows_with(&live["rows"], &id.to_string());
    assert_eq!(rows.len(), 1, "{live}");
    let row = rows[0].to_string();
    assert!(row.contains(OPERATOR) && row.contains("Bob"), "{row}");
    assert!(row.contains("customer connected"), "{row}");
    shot(&mut browser, "sessions").await;
    let after = browser
        .run(json!({"cmd": "end_session", "session_id": id.to_string()}))
        .await;
    assert!(rows_with(&after["rows"], &id.to_string()).is_empty());
    for side in [&mut op, &mut cu] {
        let reason = wait_for(side, |e| match e {
            SessionEvent::Control(ControlEvent::Ended { reason, .. }) => Some(*reason),
            _ => None,
        })
        .await;
        assert_eq!(reason, EndReason::AdminEnded);
    }
    let error = browser.run(json!({"cmd": "error_text"})).await;
    assert_eq!(error["text"], "", "the page shows no error: {error}");

    // History shows it with its duration; the CSV export holds it.
    let history = browser
        .run(json!({"cmd": "history", "operator": OPERATOR}))
        .await;
    let ended: Vec<&Value> = rows_with(&history["rows"], &id.to_string())
        .into_iter()
        .filter(|r| r[1] == "session ended")
        .collect();
    assert_eq!(ended.len(), 1, "{history}");
    let duration = ended[0][6].as_str().unwrap();
    assert!(
        duration.ends_with(" s"),
        "a duration of seconds: {duration}"
    );
    shot(&mut browser, "history").await;
    let csv_path = shots().join("admin-export.csv");
    browser
        .run(json!({"cmd": "export_csv", "path": csv_path}))
        .await;
    let csv = parse_csv(&std::fs::read_to_string(&csv_path).unwrap());
    let header = &csv[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = csv
        .iter()
        .find(|r| r[col("kind")] == "session_ended" && r[col("session_id")] == id.to_string())
        .unwrap_or_else(|| panic!("session {id} in the export: {csv:?}"));
    assert_eq!(row[col("operator")], OPERATOR);
    assert_eq!(row[col("customer")], "Bob (printer broken)");
    assert_eq!(row[col("end_reason")], "AdminEnded");
    let ms: u64 = row[col("duration_ms")].parse().unwrap();
    assert!(ms >= 1000, "{ms}");

    // Statistics: one session today, aiko's.
    let stats = browser.run(json!({"cmd": "stats"})).await;
    assert_eq!(
        stats["operators"],
        json!([[OPERATOR, "1", ms_text(ms)]]),
        "{stats}"
    );
    let days = stats["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{stats}");
    assert_eq!(days[0][1], "1", "{stats}");
    shot(&mut browser, "stats").await;

    browser.run(json!({"cmd": "settings"})).await;
    shot(&mut browser, "settings").await;
    browser.quit().await;
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// How the page writes a duration (app.js `duration`).
fn ms_text(ms: u64) -> String {
    let s = (ms as f64 / 1000.0).round() as u64;
    let (h, m) = (s / 3600, (s % 3600) / 60);
    if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {} s", s % 60)
    } else {
        format!("{s} s")
    }
}
