//! Logins under attack, on a virtual clock: per-source lockouts that cannot
//! lock the owner out, password work handed off the broker thread, the same
//! answers for unknown and existing user names, refusals counted rather
//! than audited one by one, and the password policy.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use rsupport_proto::relay::admin::{AdminCommand, AdminReply};
use rsupport_proto::relay::{Login, LoginResult, LoginStatus, RelayMessage, RequestError};
use rsupport_proto::{CloseReason, Role};
use rsupport_relay::store::SqliteStore;
use rsupport_relay::{Output, PasswordOutcome};

use common::*;

/// `n` attacker sources: IPv4 10.0.x.y and, every third, an IPv6 /64.
fn sources(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i % 3 == 2 {
                format!("2001:db8:{i:x}:1::{i:x}")
            } else {
                format!("10.0.{}.{}", i / 250, i % 250 + 1)
            }
        })
        .collect()
}

fn login_msg(user: &str, pw: &str) -> RelayMessage {
    RelayMessage::Login(Login {
        username: user.into(),
        password: pw.into(),
        totp: "".into(),
    })
}

#[test]
fn root_cannot_be_locked_out_by_many_sources() {
    let mut h = Harness::with_accounts(); // root logged in from 192.0.2.1: a known source
    let attackers: Vec<u64> = sources(34)
        .iter()
        .map(|s| h.connect_from(Role::Admin, s))
        .collect();
    let mut hashed = 0;
    for i in 0..993 {
        let conn = attackers[i % attackers.len()];
        let r = h.try_login(conn, "root", &format!("guess-{i}"));
        match r.status {
            LoginStatus::BadCredentials => hashed += 1,
            LoginStatus::RateLimited => assert!(r.blocked_until_ms > h.now),
            other => panic!("attempt {i}: {other:?}"),
        }
        h.now += 100;
    }
    assert!(hashed < 993, "refused attempts are not checked: {hashed}");
    // The owner, from the known source: in at once.
    let home = h.connect_from(Role::Admin, "192.0.2.1");
    assert_eq!(h.try_login(home, "root", ADMIN_PW).status, LoginStatus::Ok);
    // From a fresh, unrelated source: slowed down at most, never refused.
    let travel = h.connect_from(Role::Admin, "198.51.100.7");
    let r = h.try_login(travel, "root", ADMIN_PW);
    if r.status == LoginStatus::RateLimited {
        assert!(
            r.blocked_until_ms <= h.now + 10_000,
            "a slow-down, not a lock"
        );
        h.now = r.blocked_until_ms;
        assert_eq!(
            h.try_login(travel, "root", ADMIN_PW).status,
            LoginStatus::Ok
        );
    } else {
        assert_eq!(r.status, LoginStatus::Ok);
    }
}

#[test]
fn unknown_sources_of_an_attacked_account_share_one_try_per_ten_seconds() {
    let mut h = Harness::with_accounts();
    let attackers: Vec<u64> = sources(30)
        .iter()
        .map(|s| h.connect_from(Role::Operator, s))
        .collect();
    for &conn in &attackers[..20] {
        assert_eq!(
            h.try_login(conn, "root", "guess").status,
            LoginStatus::BadCredentials
        );
    }
    let fresh = h.connect_from(Role::Operator, "198.51.100.9");
    assert_eq!(
        h.try_login(fresh, "root", "guess").status,
        LoginStatus::BadCredentials,
        "one unknown source gets the slot"
    );
    let r = h.try_login(attackers[25], "root", "guess");
    assert_eq!(r.status, LoginStatus::RateLimited);
    assert_eq!(r.blocked_until_ms, h.now + 10_000);
    // The known source is never held back.
    let home = h.connect_from(Role::Admin, "192.0.2.1");
    assert_eq!(h.try_login(home, "root", ADMIN_PW).status, LoginStatus::Ok);
}

#[test]
fn the_broker_hands_password_work_out_and_never_hashes_itself() {
    let mut h = Harness::with_accounts();
    h.run_password_jobs = false;
    let conn = h.connect(Role::Admin);
    h.broker
        .handle_message(conn, login_msg("root", ADMIN_PW), h.now);
    assert!(
        h.sent_to(conn).is_empty(),
        "no answer before the password is checked"
    );
    let job = h.jobs.pop().expect("a password job");
    // A second login on the same connection while the first is checked: no new job.
    h.broker
        .handle_message(conn, login_msg("root", ADMIN_PW), h.now);
    assert!(matches!(h.sent_to(conn).as_slice(),
        [RelayMessage::LoginResult(r)] if r.status == LoginStatus::RateLimited));
    assert!(h.jobs.is_empty());
    // The worker's answer finishes the login.
    h.broker.handle_password_checked(job.id, job.run(), h.now);
    assert!(matches!(h.sent_to(conn).as_slice(),
        [RelayMessage::LoginResult(r)] if r.status == LoginStatus::Ok));

    // A full queue: refused as busy, nothing counted.
    let other = h.connect(Role::Operator);
    h.broker
        .handle_message(other, login_msg("aiko", "guess"), h.now);
    assert!(h.sent_to(other).is_empty());
    let job = h.jobs.pop().unwrap();
    h.broker
        .handle_password_checked(job.id, PasswordOutcome::Busy, h.now);
    let busy = match h.sent_to(other).as_slice() {
        [RelayMessage::LoginResult(r)] => r.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(busy.status, LoginStatus::RateLimited);
    assert!(busy.blocked_until_ms > h.now);
    // An admin's new password is hashed on the pool too.
    h.run_password_jobs = true;
    let admin = h.admin_conn();
    h.run_password_jobs = false;
    h.broker.handle_message(
        admin,
        RelayMessage::AdminRequest(rsupport_proto::relay::admin::AdminRequest {
            request_id: 5,
            command: AdminCommand::ResetPassword {
                username: "aiko".into(),
                new_password: "Granite-otter-sunrise-58".into(),
            },
        }),
        h.now,
    );
    assert!(h.sent_to(admin).is_empty(), "no answer before the hash");
    let job = h.jobs.pop().expect("a hashing job");
    h.broker.handle_password_checked(job.id, job.run(), h.now);
    assert!(matches!(h.sent_to(admin).as_slice(),
        [RelayMessage::AdminResponse(r)] if r.request_id == 5
            && matches!(&r.reply, AdminReply::Result(res) if res.is_ok())));
    h.run_password_jobs = true;
    let aiko = h.connect_from(Role::Operator, "203.0.113.40");
    assert_eq!(
        h.try_login(aiko, "aiko", "Granite-otter-sunrise-58").status,
        LoginStatus::Ok
    );
    // An outcome for a job nobody waits for is ignored.
    h.broker
        .handle_password_checked(9_999, PasswordOutcome::Busy, h.now);
    assert!(h.drain().is_empty());
}

#[test]
fn change_password_goes_through_the_pool_and_wrong_old_passwords_count() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let change = |h: &mut Harness, old: &str, new: &str| -> Vec<Output> {
        h.broker.handle_message(
            aiko,
            RelayMessage::ChangePassword {
                old_password: old.into(),
                new_password: new.into(),
            },
            h.now,
        );
        h.drain()
    };
    let error = |out: &[Output]| {
        out.iter().find_map(|o| match o {
            Output::Send {
                message: RelayMessage::RequestResult(r),
                ..
            } => r.error,
            _ => None,
        })
    };
    // Refused without any hashing: same as old, weak.
    h.run_password_jobs = false;
    let out = change(&mut h, OP_PW, OP_PW);
    assert_eq!(error(&out), Some(RequestError::WeakPassword));
    h.now += 1000;
    let out = change(&mut h, OP_PW, "Password123!");
    assert_eq!(error(&out), Some(RequestError::WeakPassword));
    assert!(h.jobs.is_empty());
    // Rate-limited per connection.
    let out = change(&mut h, OP_PW, "Granite-otter-sunrise-58");
    assert_eq!(error(&out), Some(RequestError::LimitReached));
    assert!(h.jobs.is_empty());
    h.run_password_jobs = true;
    // Wrong old passwords count like failed logins from this source.
    let mut closed = false;
    for _ in 0..5 {
        h.now += 5_000;
        let out = change(&mut h, "not-the-password", "Granite-otter-sunrise-58");
        closed = out.iter().any(|o| {
            matches!(o, Output::Close { conn, reason: CloseReason::RateLimited, .. } if *conn == aiko)
        });
        if !closed {
            assert_eq!(error(&out), Some(RequestError::BadCredentials));
        }
    }
    assert!(closed, "the fifth wrong password closes the connection");
    let again = h.connect(Role::Operator);
    assert_eq!(
        h.try_login(again, "aiko", OP_PW).status,
        LoginStatus::RateLimited,
        "this source is refused for aiko"
    );
    let elsewhere = h.connect_from(Role::Operator, "203.0.113.20");
    assert_eq!(
        h.try_login(elsewhere, "aiko", OP_PW).status,
        LoginStatus::Ok
    );
}

#[test]
fn unknown_and_existing_user_names_get_the_same_answers_and_work() {
    let mut h = Harness::with_accounts();
    let mut answers = |user: &str, source: &str| -> (Vec<(LoginStatus, u64)>, usize) {
        let start = h.now;
        let conn = h.connect_from(Role::Operator, source);
        let mut seen = Vec::new();
        let mut jobs = 0;
        for _ in 0..8 {
            h.run_password_jobs = false;
            h.broker
                .handle_message(conn, login_msg(user, "guess"), h.now);
            let mut sent = h.sent_to(conn);
            if let Some(job) = h.jobs.pop() {
                jobs += 1;
                h.broker.handle_password_checked(job.id, job.run(), h.now);
                sent = h.sent_to(conn);
            }
            let r: LoginResult = match sent.pop() {
                Some(RelayMessage::LoginResult(r)) => r,
                other => panic!("{other:?}"),
            };
            seen.push((r.status, r.blocked_until_ms.saturating_sub(start)));
            h.now += 1500;
        }
        h.now = start;
        (seen, jobs)
    };
    let existing = answers("aiko", "198.51.100.1");
    let unknown = answers("nobody-here", "198.51.100.2");
    h.run_password_jobs = true;
    assert_eq!(existing, unknown);
    assert!(existing
        .0
        .iter()
        .all(|(s, _)| matches!(s, LoginStatus::BadCredentials | LoginStatus::RateLimited)));
    // The admin's list shows that aiko is locked out from an address (the
    // unknown name is no account, so nothing about it shows); no other
    // account is touched.
    let admin = h.admin_conn();
    match h.admin(admin, AdminCommand::ListAccounts) {
        AdminReply::Accounts(list) => {
            for a in &list {
                assert_eq!(a.blocked_until_ms > 0, a.username == "aiko", "{a:?}");
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn totp_required_only_after_the_right_password_and_it_counts() {
    use rsupport_relay::auth::totp;
    let mut h = Harness::with_accounts();
    let _ = h.login("aiko", OP_PW);
    let admin = h.admin_conn();
    h.admin_ok(
        admin,
        AdminCommand::SetTotp {
            username: "aiko".into(),
            secret_base32: totp::encode_base32(b"0123456789abcdefghij").into(),
        },
    );
    let conn = h.connect_from(Role::Operator, "198.51.100.3");
    assert_eq!(
        h.try_login(conn, "aiko", "wrong-password").status,
        LoginStatus::BadCredentials,
        "a wrong password never hears about TOTP"
    );
    h.now += 60_000;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(h.try_login_waiting(conn, "aiko", OP_PW, 10_000).status);
    }
    assert_eq!(statuses[..4], [LoginStatus::TotpRequired; 4]);
    assert_eq!(
        h.try_login(conn, "aiko", OP_PW).status,
        LoginStatus::RateLimited,
        "confirming the password without a code counts toward the lockout"
    );
}

#[test]
fn refusals_are_counted_into_one_audit_row_per_minute() {
    let mut h = Harness::with_accounts();
    let conn = h.connect_from(Role::Operator, "10.0.0.9");
    for _ in 0..5 {
        h.try_login_waiting(conn, "root", "guess", 10_000);
    }
    let rows_before = h.audit_kinds().len();
    for _ in 0..1000 {
        assert_eq!(
            h.try_login(conn, "root", "guess").status,
            LoginStatus::RateLimited
        );
    }
    assert_eq!(
        h.audit_kinds().len(),
        rows_before + 1,
        "the first refusal is audited, the others only counted"
    );
    let due = h.broker.poll_timeout().unwrap();
    assert!(due <= h.now + 60_000);
    h.now += 60_000;
    h.broker.handle_timeout(h.now);
    let summaries = h.audit_rows_of("login_refused_locked");
    assert_eq!(summaries.len(), 2, "the first refusal and one summary row");
    assert!(
        summaries[1].detail.starts_with("999 more refused"),
        "{}",
        summaries[1].detail
    );
    assert_eq!(summaries[0].operator_username, "root");
    assert_eq!(summaries[1].source, "10.0.0.9");
}

#[test]
fn logins_without_a_client_certificate_are_summarised_with_short_names() {
    let mut cfg = config();
    cfg.require_client_cert_for_operators = true;
    let mut h = Harness::new(Box::new(with_admin(SqliteStore::in_memory().unwrap())), cfg);
    let conn = h.connect(Role::Operator);
    let long_name = "x".repeat(1000);
    for _ in 0..500 {
        assert_eq!(
            h.try_login(conn, &long_name, "guess").status,
            LoginStatus::NotAllowed
        );
    }
    h.now += 60_000;
    h.broker.handle_timeout(h.now);
    let refused = h.audit_rows_of("login_refused_no_certificate");
    assert_eq!(refused.len(), 2, "the first refusal and one summary row");
    assert_eq!(
        refused[0].operator_username.len(),
        64,
        "cut to a valid length"
    );
    assert!(h
        .audit_rows()
        .iter()
        .all(|r| r.operator_username.len() <= 64));
}

#[test]
fn weak_passwords_are_refused_with_a_reason() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    for weak in [
        "Password1",
        "Password123!",
        "kenji12345678",
        "qwertyuiop123",
    ] {
        match h.admin(
            admin,
            AdminCommand::CreateAccount {
                username: "kenji".into(),
                display_name: "Kenji Mori".into(),
                password: weak.into(),
                role: Role::Operator,
            },
        ) {
            AdminReply::Result(r) => {
                assert_eq!(r.error, Some(RequestError::WeakPassword), "{weak}");
                assert!(
                    r.detail.contains("12 characters") || r.detail.contains("too easy to guess"),
                    "{}",
                    r.detail
                );
            }
            other => panic!("{other:?}"),
        }
    }
    h.admin_ok(
        admin,
        AdminCommand::CreateAccount {
            username: "kenji".into(),
            display_name: "Kenji Mori".into(),
            password: "Granite-otter-sunrise-58".into(),
            role: Role::Operator,
        },
    );
}

#[test]
fn a_lockout_shows_in_the_admin_list_until_an_admin_lifts_it() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    let blocked = |h: &mut Harness| match h.admin(admin, AdminCommand::ListAccounts) {
        AdminReply::Accounts(list) => {
            list.into_iter()
                .find(|a| a.username == "aiko")
                .unwrap()
                .blocked_until_ms
        }
        other => panic!("{other:?}"),
    };
    for _ in 0..5 {
        let conn = h.connect_from(Role::Operator, "198.51.100.9");
        let _ = h.try_login(conn, "aiko", "not-her-password");
        h.now += MIN;
    }
    let conn = h.connect_from(Role::Operator, "198.51.100.9");
    assert_eq!(
        h.try_login(conn, "aiko", OP_PW).status,
        LoginStatus::RateLimited
    );
    let until = blocked(&mut h);
    assert!(until > h.now, "locked out until {until}, now {}", h.now);
    h.admin_ok(
        admin,
        AdminCommand::UnblockAccount {
            username: "aiko".into(),
        },
    );
    assert_eq!(blocked(&mut h), 0);
    let conn = h.connect_from(Role::Operator, "198.51.100.9");
    assert_eq!(h.try_login(conn, "aiko", OP_PW).status, LoginStatus::Ok);
}
