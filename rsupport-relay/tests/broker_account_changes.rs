//! Account changes cut off whoever used the old credentials: disabling an
//! account, resetting or changing its password and changing its TOTP end
//! its sessions and close its other consoles, and `Resume` of an operator
//! seat checks the account (also after a restart) and, where operators need
//! one, the client certificate.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use bytes::Bytes;
use rsupport_proto::relay::admin::AdminCommand;
use rsupport_proto::relay::{Paired, RelayMessage, RequestError, Secret};
use rsupport_proto::{CloseReason, EndReason, Role};
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::Output;

use common::*;

/// Aiko (logged in on a new connection) and a customer in a session.
fn session(h: &mut Harness) -> (u64, u64, Paired) {
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    let customer = h.connect(Role::Customer);
    let out = h.join(customer, &code);
    (aiko, customer, paired(&out, aiko).unwrap())
}

fn ended(outputs: &[Output], to: u64) -> Option<EndReason> {
    outputs.iter().find_map(|o| match o {
        Output::Send {
            conn,
            message: RelayMessage::SessionEnded { reason, .. },
        } if *conn == to => Some(*reason),
        _ => None,
    })
}

fn closed(outputs: &[Output], to: u64) -> bool {
    outputs
        .iter()
        .any(|o| matches!(o, Output::Close { conn, reason: CloseReason::Unauthorized, .. } if *conn == to))
}

fn resume_refused(h: &mut Harness, conn: u64, session_id: u64, token: &Secret<Bytes>) -> bool {
    h.broker.handle_message(
        conn,
        RelayMessage::Resume {
            session_id,
            resume_token: token.clone(),
        },
        h.now,
    );
    let out = h.drain();
    paired(&out, conn).is_none()
}

/// Runs `change` as root, and checks that aiko's session ended for both
/// parties, her console was closed, and her old token no longer resumes.
fn cuts_off(change: AdminCommand) {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    let (aiko, customer, op) = session(&mut h);
    h.broker.handle_message(
        admin,
        RelayMessage::AdminRequest(rsupport_proto::relay::admin::AdminRequest {
            request_id: 1,
            command: change.clone(),
        }),
        h.now,
    );
    let out = h.drain();
    assert_eq!(ended(&out, aiko), Some(EndReason::AdminEnded), "{change:?}");
    assert_eq!(
        ended(&out, customer),
        Some(EndReason::AdminEnded),
        "{change:?}"
    );
    assert!(closed(&out, aiko), "{change:?}");
    assert_eq!(h.broker.session_count(), 0);
    let back = h.connect(Role::Operator);
    assert!(resume_refused(
        &mut h,
        back,
        op.session_id,
        &op.resume_token
    ));
}

#[test]
fn disabling_an_account_ends_its_sessions() {
    cuts_off(AdminCommand::SetAccountEnabled {
        username: "aiko".into(),
        enabled: false,
    });
}

#[test]
fn resetting_a_password_ends_its_sessions() {
    cuts_off(AdminCommand::ResetPassword {
        username: "aiko".into(),
        new_password: "Granite-otter-sunrise-58".into(),
    });
}

#[test]
fn changing_totp_ends_its_sessions() {
    cuts_off(AdminCommand::SetTotp {
        username: "aiko".into(),
        secret_base32: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
    });
}

#[test]
fn changing_ones_own_password_closes_the_other_consoles_and_their_sessions() {
    let mut h = Harness::with_accounts();
    let (stolen, customer, stolen_paired) = session(&mut h);
    // The owner, on another console with a session of her own.
    let owner = h.login("aiko", OP_PW);
    let code = h.issue_code(owner);
    let own_customer = h.connect(Role::Customer);
    let out = h.join(own_customer, &code);
    let own = paired(&out, owner).unwrap();
    h.broker.handle_message(
        owner,
        RelayMessage::ChangePassword {
            old_password: OP_PW.into(),
            new_password: "Granite-otter-sunrise-58".into(),
        },
        h.now,
    );
    let out = h.drain();
    assert!(closed(&out, stolen));
    assert_eq!(ended(&out, customer), Some(EndReason::AdminEnded));
    assert!(!closed(&out, owner));
    assert_eq!(
        ended(&out, own_customer),
        None,
        "the owner's own session goes on"
    );
    assert_eq!(h.broker.session_count(), 1);
    let thief = h.connect(Role::Operator);
    assert!(resume_refused(
        &mut h,
        thief,
        stolen_paired.session_id,
        &stolen_paired.resume_token
    ));
    // The owner's session still resumes after a drop.
    h.broker.handle_disconnect(owner, h.now);
    h.drain();
    let back = h.connect(Role::Operator);
    assert!(!resume_refused(
        &mut h,
        back,
        own.session_id,
        &own.resume_token
    ));
}

#[test]
fn restored_sessions_of_a_disabled_account_are_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let op = {
        let mut h = Harness::with_accounts_in(SqliteStore::open(&path).unwrap());
        let (_, _, op) = session(&mut h);
        h.broker.shutdown_for_restart(h.now);
        op
    };
    // Disabled while the relay was down (straight in the database).
    let mut store = SqliteStore::open(&path).unwrap();
    let mut aiko = store.find_account("aiko").unwrap().unwrap();
    aiko.enabled = false;
    store.update_account("aiko", &aiko).unwrap();
    drop(store);
    let mut h = Harness::new(Box::new(SqliteStore::open(&path).unwrap()), config());
    assert_eq!(h.broker.restore_sessions(h.now), 1);
    let back = h.connect(Role::Operator);
    h.broker.handle_message(
        back,
        RelayMessage::Resume {
            session_id: op.session_id,
            resume_token: op.resume_token.clone(),
        },
        h.now,
    );
    let out = h.drain();
    assert!(paired(&out, back).is_none());
    assert!(out.iter().any(|o| matches!(o,
        Output::Send { conn, message: RelayMessage::RequestResult(r) }
            if *conn == back && r.error == Some(RequestError::NotAuthorized))));
    assert_eq!(h.broker.session_count(), 0, "the session ended");
}

#[test]
fn an_operator_seat_resumes_only_with_a_client_certificate_where_required() {
    let mut cfg = config();
    cfg.require_client_cert_for_operators = true;
    let mut h = Harness::new(Box::new(with_admin(SqliteStore::in_memory().unwrap())), cfg);
    let admin = h.connect_with(Role::Admin, "192.0.2.1", true);
    assert_eq!(
        h.try_login(admin, "root", ADMIN_PW).status,
        rsupport_proto::relay::LoginStatus::Ok
    );
    h.create_operator(admin, "aiko", "Aiko");
    let aiko = h.connect_with(Role::Operator, "192.0.2.1", true);
    h.try_login(aiko, "aiko", OP_PW);
    h.change_password(aiko, OP_PW, "Granite-otter-sunrise-58");
    let code = h.issue_code(aiko);
    let customer = h.connect(Role::Customer);
    let out = h.join(customer, &code);
    let op = paired(&out, aiko).unwrap();
    h.broker.handle_disconnect(aiko, h.now);
    h.drain();

    let bare = h.connect_with(Role::Operator, "192.0.2.1", false);
    assert!(resume_refused(
        &mut h,
        bare,
        op.session_id,
        &op.resume_token
    ));
    assert_eq!(
        h.broker.session_count(),
        1,
        "the session waits for its operator"
    );
    let with_cert = h.connect_with(Role::Operator, "192.0.2.1", true);
    assert!(!resume_refused(
        &mut h,
        with_cert,
        op.session_id,
        &op.resume_token
    ));
}
