//! The broker's accounts on a virtual clock: lockout and unblock, settings,
//! the role x request matrix, password changes, restarts on a real SQLite
//! file, audit queries, password spraying.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_proto::relay::admin::{AdminCommand, AdminReply, AuditQuery, RelaySettings};
use rsupport_proto::relay::{Login, LoginStatus, RelayMessage, RequestError};
use rsupport_proto::Role;
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::bootstrap_admin;
use rsupport_relay::store::{SqliteStore, Store};

use common::*;

#[test]
fn five_wrong_passwords_refuse_that_source_for_twenty_minutes() {
    let mut h = Harness::with_accounts();
    let conn = h.connect(Role::Operator);
    for _ in 0..5 {
        assert_eq!(
            h.try_login_waiting(conn, "aiko", "Wrong1234", 10_000)
                .status,
            LoginStatus::BadCredentials
        );
    }
    let locked_at = h.now;
    let r = h.try_login(conn, "aiko", OP_PW);
    assert_eq!(
        r.status,
        LoginStatus::RateLimited,
        "right password, same source"
    );
    assert_eq!(r.blocked_until_ms, locked_at + 20 * MIN);
    h.now = locked_at + 19 * MIN + 59_000;
    assert_eq!(
        h.try_login(conn, "aiko", OP_PW).status,
        LoginStatus::RateLimited,
        "still refused at 19:59"
    );
    h.now = locked_at + 20 * MIN;
    assert_eq!(h.try_login(conn, "aiko", OP_PW).status, LoginStatus::Ok);
    let kinds = h.audit_kinds();
    for k in ["login_failed", "source_locked_out", "login_ok"] {
        assert!(kinds.iter().any(|x| x == k), "{k} audited: {kinds:?}");
    }
}

#[test]
fn admin_unblocks_at_once() {
    let mut h = Harness::with_accounts();
    let conn = h.connect(Role::Operator);
    for _ in 0..5 {
        h.try_login_waiting(conn, "aiko", "Wrong1234", 10_000);
    }
    assert_eq!(
        h.try_login(conn, "aiko", OP_PW).status,
        LoginStatus::RateLimited
    );
    let admin = h.login("root", ADMIN_PW);
    h.admin_ok(
        admin,
        AdminCommand::UnblockAccount {
            username: "aiko".into(),
        },
    );
    assert_eq!(h.try_login(conn, "aiko", OP_PW).status, LoginStatus::Ok);
    assert!(h
        .audit_rows_of("unblocked")
        .iter()
        .any(|r| r.detail.contains("by root")));
}

#[test]
fn lockout_settings_are_configurable_within_bounds() {
    let mut h = Harness::with_accounts();
    let admin = h.login("root", ADMIN_PW);
    h.admin_ok(
        admin,
        AdminCommand::UpdateSettings(RelaySettings {
            max_failed_logins: Some(3),
            lockout_ms: Some(MIN),
            ..Default::default()
        }),
    );
    for refused in [Some(0), Some(MIN - 1), Some(24 * 60 * MIN + 1)] {
        match h.admin(
            admin,
            AdminCommand::UpdateSettings(RelaySettings {
                lockout_ms: refused,
                ..Default::default()
            }),
        ) {
            AdminReply::Result(r) => {
                assert_eq!(r.error, Some(RequestError::InvalidArgument), "{refused:?}")
            }
            other => panic!("{other:?}"),
        }
    }
    let conn = h.connect(Role::Operator);
    for _ in 0..3 {
        assert_eq!(
            h.try_login_waiting(conn, "aiko", "Wrong1234", 10_000)
                .status,
            LoginStatus::BadCredentials
        );
    }
    assert_eq!(
        h.try_login(conn, "aiko", OP_PW).status,
        LoginStatus::RateLimited
    );
    h.now += MIN;
    assert_eq!(h.try_login(conn, "aiko", OP_PW).status, LoginStatus::Ok);
}

/// Every admin command, sent by a customer, an operator before login and a
/// logged-in operator, is refused and changes nothing.
#[test]
fn no_operator_request_reaches_an_admin_action() {
    let mut h = Harness::with_accounts();
    let commands = vec![
        AdminCommand::CreateAccount {
            username: "mallory".into(),
            display_name: String::new(),
            password: "Mallory123".into(),
            role: Role::Admin,
        },
        AdminCommand::SetAccountEnabled {
            username: "root".into(),
            enabled: false,
        },
        AdminCommand::RenameAccount {
            username: "root".into(),
            new_username: "x".into(),
            new_display_name: String::new(),
        },
        AdminCommand::ResetPassword {
            username: "root".into(),
            new_password: "Mallory123".into(),
        },
        AdminCommand::SetAllowedModes {
            username: "aiko".into(),
            modes: vec![],
        },
        AdminCommand::SetFullFileControl {
            username: "aiko".into(),
            enabled: true,
        },
        AdminCommand::UnblockAccount {
            username: "aiko".into(),
        },
        AdminCommand::ListAccounts,
        AdminCommand::QueryAudit(AuditQuery::default()),
        AdminCommand::GetSettings,
        AdminCommand::UpdateSettings(RelaySettings {
            max_failed_logins: Some(1000),
            ..Default::default()
        }),
        AdminCommand::SetTotp {
            username: "root".into(),
            secret_base32: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
        },
        AdminCommand::EndSession { session_id: 1 },
    ];
    let op = h.login("aiko", OP_PW);
    let anon = h.connect(Role::Operator);
    let customer = h.connect(Role::Customer);
    let before = h.broker.store().list_accounts().unwrap();
    let settings_before = h.broker.settings().clone();
    for sender in [op, anon, customer] {
        for cmd in &commands {
            match h.admin(sender, cmd.clone()) {
                AdminReply::Result(r) => {
                    assert_eq!(r.error, Some(RequestError::NotAuthorized), "{cmd:?}")
                }
                other => panic!("{cmd:?} answered with data: {other:?}"),
            }
        }
    }
    assert_eq!(h.broker.store().list_accounts().unwrap(), before);
    assert_eq!(h.broker.settings(), &settings_before);
    // Operator-level requests from a customer or before login are refused too.
    for sender in [anon, customer] {
        h.broker
            .handle_message(sender, RelayMessage::IssueCode { ttl_secs: 0 }, h.now);
        assert!(
            matches!(h.sent_to(sender).as_slice(), [RelayMessage::RequestResult(r)] if r.error == Some(RequestError::NotAuthorized))
        );
    }
}

#[test]
fn must_change_password_gates_everything_else() {
    let mut h = Harness::with_accounts();
    let c = h.connect(Role::Operator);
    assert!(h.try_login(c, "aiko", OP_PW).must_change_password);
    h.broker
        .handle_message(c, RelayMessage::IssueCode { ttl_secs: 0 }, h.now);
    assert!(matches!(h.sent_to(c).as_slice(), [RelayMessage::RequestResult(r)] if !r.is_ok()));
    h.broker.handle_message(
        c,
        RelayMessage::ChangePassword {
            old_password: OP_PW.into(),
            new_password: "short".into(),
        },
        h.now,
    );
    assert!(
        matches!(h.sent_to(c).as_slice(), [RelayMessage::RequestResult(r)] if r.error == Some(RequestError::WeakPassword))
    );
    h.now += 1000; // one change per connection per second
    h.broker.handle_message(
        c,
        RelayMessage::ChangePassword {
            old_password: OP_PW.into(),
            new_password: "Granite-otter-sunrise-58".into(),
        },
        h.now,
    );
    assert!(matches!(h.sent_to(c).as_slice(), [RelayMessage::RequestResult(r)] if r.is_ok()));
    let code = h.issue_code(c);
    assert_eq!(code.len(), 7);
}

#[test]
fn accounts_settings_and_history_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    {
        let mut h = Harness::with_accounts_in(SqliteStore::open(&path).unwrap());
        let admin = h.admin_conn();
        h.admin_ok(
            admin,
            AdminCommand::UpdateSettings(RelaySettings {
                code_length: Some(9),
                remote_printing: Some(false),
                allow_plaintext_sessions: Some(true),
                resume_grace_ms: Some(5_000),
                ..Default::default()
            }),
        );
        let aiko = h.login("aiko", OP_PW);
        assert_eq!(h.issue_code(aiko).len(), 9);
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 4);
    let mut h = Harness::new(Box::new(store), config());
    assert_eq!(h.broker.settings().code_length, 9, "settings survive");
    assert!(!h.broker.settings().remote_printing);
    assert!(h.broker.settings().allow_plaintext_sessions);
    assert_eq!(h.broker.settings().resume_grace_ms, 5_000);
    let aiko = h.login("aiko", OP_PW); // account and changed password survive
    assert_eq!(h.issue_code(aiko).len(), 9);
    let kinds = h.audit_kinds();
    assert!(
        kinds.iter().filter(|k| *k == "code_issued").count() == 2,
        "history survives: {kinds:?}"
    );
    assert!(kinds.contains(&"admin_bootstrapped".to_string()));
    // And bootstrap is closed for good.
    let mut store = SqliteStore::open(&path).unwrap();
    assert!(bootstrap_admin(
        &mut store,
        "evil",
        ADMIN_PW,
        Argon2Params::insecure_fast(),
        &mut StdRng::seed_from_u64(2),
        T0
    )
    .is_err());
}

#[test]
fn audit_query_filters_by_time_and_operator() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    h.now += MIN;
    let _ = h.issue_code(aiko);
    let admin = h.admin_conn();
    let page = match h.admin(
        admin,
        AdminCommand::QueryAudit(AuditQuery {
            operator_username: "aiko".into(),
            from_ms: T0 + MIN,
            ..Default::default()
        }),
    ) {
        AdminReply::Audit(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(!page.records.is_empty());
    assert!(page
        .records
        .iter()
        .all(|r| r.operator_username == "aiko" && r.at_ms >= T0 + MIN));
    assert!(page.records.iter().any(|r| r.kind == "code_issued"));
}

#[test]
fn a_source_spraying_passwords_is_cut_off_from_accounts_it_does_not_know() {
    let mut cfg = config();
    cfg.login_failures_per_source = 5;
    let store = with_admin(SqliteStore::in_memory().unwrap());
    let mut h = Harness::new(Box::new(store), cfg);
    // root logged in from the sprayer's address once: a known source.
    let _ = h.login("root", ADMIN_PW);
    let conn = h.connect_from(Role::Operator, "192.0.2.1");
    // Five different (unknown) accounts, one wrong password each: no per-account limit applies.
    for i in 0..5 {
        assert_eq!(
            h.try_login(conn, &format!("user{i}"), "Guess1234").status,
            LoginStatus::BadCredentials
        );
    }
    let r = h.try_login(conn, "user9", "Guess1234");
    assert_eq!(r.status, LoginStatus::RateLimited);
    assert!(r.blocked_until_ms > h.now);
    for _ in 0..20 {
        let again = h.try_login(conn, "user9", "Guess1234");
        assert_eq!(again.status, LoginStatus::RateLimited);
    }
    // Refusals are not audited one by one: the first at once, the rest
    // only counted into a summary row a minute later.
    let refused = h
        .audit_kinds()
        .iter()
        .filter(|k| k.starts_with("login_refused"))
        .count();
    assert_eq!(refused, 1);
    // The account that knows this source, and other sources, are unaffected.
    assert_eq!(h.try_login(conn, "root", ADMIN_PW).status, LoginStatus::Ok);
    let other = h.connect_from(Role::Operator, "203.0.113.6");
    assert_eq!(
        h.try_login(other, "user9", "Guess1234").status,
        LoginStatus::BadCredentials
    );
}

#[test]
fn totp_second_factor_is_required_checked_and_not_replayable() {
    use rsupport_relay::auth::totp;
    let mut h = Harness::with_accounts();
    let _ = h.login("aiko", OP_PW); // initial password change done
    let admin = h.admin_conn();
    let secret = b"0123456789abcdefghij";
    h.admin_ok(
        admin,
        AdminCommand::SetTotp {
            username: "aiko".into(),
            secret_base32: totp::encode_base32(secret).into(),
        },
    );
    let login = |h: &mut Harness, code: &str| {
        let c = h.connect(Role::Operator);
        h.broker.handle_message(
            c,
            RelayMessage::Login(Login {
                username: "aiko".into(),
                password: OP_PW.into(),
                totp: code.into(),
            }),
            h.now,
        );
        match h.sent_to(c).pop() {
            Some(RelayMessage::LoginResult(r)) => r.status,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(login(&mut h, ""), LoginStatus::TotpRequired);
    let right = format!("{:06}", totp::code_at_step(secret, totp::step_of(h.now), 6));
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(login(&mut h, &wrong), LoginStatus::BadTotp);
    // Both counted as failures of this source: the next try waits a second.
    assert_eq!(login(&mut h, &right), LoginStatus::RateLimited);
    h.now += 1000;
    assert_eq!(login(&mut h, &right), LoginStatus::Ok);
    assert_eq!(
        login(&mut h, &right),
        LoginStatus::BadTotp,
        "a code works once"
    );
    let list = match h.admin(admin, AdminCommand::ListAccounts) {
        AdminReply::Accounts(a) => a,
        other => panic!("{other:?}"),
    };
    assert!(list.iter().any(|a| a.username == "aiko" && a.totp_enabled));
}

#[test]
fn stored_settings_this_version_refuses_fall_back_to_the_file_one_by_one() {
    let mut store = with_admin(SqliteStore::in_memory().unwrap());
    // Saved by an older relay, whose code_length counted every digit the
    // customer types (12 to 16).
    store
        .save_settings(&RelaySettings {
            code_length: Some(12),
            resume_grace_ms: Some(5_000),
            ..Default::default()
        })
        .unwrap();
    let h = Harness::new(Box::new(store), config());
    assert_eq!(h.broker.settings().code_length, 7, "refused: file value");
    assert_eq!(h.broker.settings().resume_grace_ms, 5_000, "kept");
}
