//! The broker on a virtual clock, without sockets: lockout, codes, rate
//! limits, pairing, the role × request matrix, and restarts on a real SQLite file.

use std::net::IpAddr;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_core::auth::Argon2Params;
use rsupport_core::relay::{bootstrap_admin, Broker, ConnId, ConnInfo, Output, RelayConfig};
use rsupport_core::store::{SqliteStore, Store};
use rsupport_proto::relay::admin::{
    AdminCommand, AdminReply, AdminRequest, AuditQuery, RelaySettings,
};
use rsupport_proto::relay::{CustomerInfo, Paired};
use rsupport_proto::relay::{
    Hello, JoinRefusal, Login, LoginStatus, RelayMessage, RequestError, Secret,
};
use rsupport_proto::{CloseReason, EndReason, Role, PROTOCOL_VERSION};

const MIN: u64 = 60_000;
const T0: u64 = 1_700_000_000_000;
const ADMIN_PW: &str = "Admin1234";
const OP_PW: &str = "Operator1";

fn config() -> RelayConfig {
    let mut c = RelayConfig::default();
    c.argon2 = Argon2Params::insecure_fast();
    c
}

struct Harness {
    broker: Broker,
    next_conn: ConnId,
    now: u64,
}

impl Harness {
    fn new(store: Box<dyn Store>, config: RelayConfig) -> Self {
        Harness {
            broker: Broker::new(config, store, Box::new(StdRng::seed_from_u64(7))),
            next_conn: 1,
            now: T0,
        }
    }

    /// A fresh relay with an admin `root` and an operator `aiko`.
    fn with_accounts() -> Self {
        let mut store = SqliteStore::in_memory().unwrap();
        bootstrap_admin(
            &mut store,
            "root",
            ADMIN_PW,
            Argon2Params::insecure_fast(),
            &mut StdRng::seed_from_u64(1),
            T0,
        )
        .unwrap();
        let mut h = Harness::new(Box::new(store), config());
        let admin = h.login("root", ADMIN_PW);
        h.admin_ok(
            admin,
            AdminCommand::CreateAccount {
                username: "aiko".into(),
                display_name: "Aiko".into(),
                password: OP_PW.into(),
                role: Role::Operator,
            },
        );
        h
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.broker.poll_output()).collect()
    }

    fn sent_to(&mut self, conn: ConnId) -> Vec<RelayMessage> {
        self.drain()
            .into_iter()
            .filter_map(|o| match o {
                Output::Send { conn: c, message } if c == conn => Some(message),
                _ => None,
            })
            .collect()
    }

    fn connect_from(&mut self, role: Role, source: &str) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        let source: IpAddr = source.parse().unwrap();
        self.broker.handle_connect(
            id,
            ConnInfo {
                source,
                client_cert: false,
            },
            self.now,
        );
        self.broker.handle_message(
            id,
            RelayMessage::Hello(Hello {
                min_version: PROTOCOL_VERSION,
                max_version: PROTOCOL_VERSION,
                role,
                software: "test".into(),
            }),
            self.now,
        );
        assert!(matches!(
            self.sent_to(id).as_slice(),
            [RelayMessage::HelloAck(_)]
        ));
        id
    }

    fn connect(&mut self, role: Role) -> ConnId {
        self.connect_from(role, "192.0.2.1")
    }

    fn try_login(
        &mut self,
        conn: ConnId,
        user: &str,
        pw: &str,
    ) -> rsupport_proto::relay::LoginResult {
        self.broker.handle_message(
            conn,
            RelayMessage::Login(Login {
                username: user.into(),
                password: pw.into(),
                totp: Secret::default(),
            }),
            self.now,
        );
        match self.sent_to(conn).pop() {
            Some(RelayMessage::LoginResult(r)) => r,
            other => panic!("expected LoginResult, got {other:?}"),
        }
    }

    /// Logs in (changing the initial password to the same policy-valid one if required).
    fn login(&mut self, user: &str, pw: &str) -> ConnId {
        let conn = self.connect(Role::Operator);
        let r = self.try_login(conn, user, pw);
        assert_eq!(r.status, LoginStatus::Ok, "{user}");
        if r.must_change_password {
            self.broker.handle_message(
                conn,
                RelayMessage::ChangePassword {
                    old_password: pw.into(),
                    new_password: pw.into(),
                },
                self.now,
            );
            assert!(
                matches!(self.sent_to(conn).as_slice(), [RelayMessage::RequestResult(r)] if r.is_ok())
            );
        }
        conn
    }

    fn admin(&mut self, conn: ConnId, command: AdminCommand) -> AdminReply {
        self.broker.handle_message(
            conn,
            RelayMessage::AdminRequest(AdminRequest {
                request_id: 9,
                command,
            }),
            self.now,
        );
        match self.sent_to(conn).pop() {
            Some(RelayMessage::AdminResponse(r)) => {
                assert_eq!(r.request_id, 9);
                r.reply
            }
            other => panic!("expected AdminResponse, got {other:?}"),
        }
    }

    fn admin_ok(&mut self, conn: ConnId, command: AdminCommand) {
        match self.admin(conn, command) {
            AdminReply::Result(r) => assert!(r.is_ok(), "{r:?}"),
            other => panic!("{other:?}"),
        }
    }

    fn issue_code(&mut self, op: ConnId) -> String {
        self.broker
            .handle_message(op, RelayMessage::IssueCode { ttl_secs: 0 }, self.now);
        match self.sent_to(op).pop() {
            Some(RelayMessage::CodeIssued(c)) => c.code.into_inner(),
            other => panic!("expected CodeIssued, got {other:?}"),
        }
    }

    /// Customer joins with `code`; returns every output.
    fn join(&mut self, customer: ConnId, code: &str) -> Vec<Output> {
        self.broker.handle_message(
            customer,
            RelayMessage::JoinByCode {
                code: code.into(),
                customer: CustomerInfo {
                    name: "Bob".into(),
                    ..Default::default()
                },
            },
            self.now,
        );
        self.drain()
    }

    fn audit_kinds(&self) -> Vec<String> {
        self.broker
            .store()
            .query_audit(&AuditQuery::default(), 10_000)
            .unwrap()
            .into_iter()
            .map(|r| r.kind)
            .collect()
    }
}

fn refused(outputs: &[Output], conn: ConnId) -> Option<JoinRefusal> {
    outputs.iter().find_map(|o| match o {
        Output::Send {
            conn: c,
            message: RelayMessage::JoinRefused { reason, .. },
        } if *c == conn => Some(*reason),
        _ => None,
    })
}

fn paired(outputs: &[Output], conn: ConnId) -> Option<Paired> {
    outputs.iter().find_map(|o| match o {
        Output::Send {
            conn: c,
            message: RelayMessage::Paired(p),
        } if *c == conn => Some(p.clone()),
        _ => None,
    })
}

#[test]
fn three_wrong_passwords_block_for_twenty_minutes() {
    let mut h = Harness::with_accounts();
    let conn = h.connect(Role::Operator);
    assert_eq!(
        h.try_login(conn, "aiko", "Wrong1234").status,
        LoginStatus::BadCredentials
    );
    assert_eq!(
        h.try_login(conn, "aiko", "Wrong1234").status,
        LoginStatus::BadCredentials
    );
    let third = h.try_login(conn, "aiko", "Wrong1234");
    assert_eq!(third.status, LoginStatus::Blocked);
    assert_eq!(third.blocked_until_ms, h.now + 20 * MIN);

    h.now += 19 * MIN + 59_000;
    let r = h.try_login(conn, "aiko", OP_PW);
    assert_eq!(
        r.status,
        LoginStatus::Blocked,
        "still blocked at 19:59 with the right password"
    );

    h.now += 2_000; // 20:01
    assert_eq!(h.try_login(conn, "aiko", OP_PW).status, LoginStatus::Ok);
    let kinds = h.audit_kinds();
    for k in [
        "login_failed",
        "blocked",
        "login_blocked",
        "unblocked",
        "login_ok",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} audited: {kinds:?}");
    }
}

#[test]
fn admin_unblocks_at_once() {
    let mut h = Harness::with_accounts();
    let conn = h.connect(Role::Operator);
    for _ in 0..3 {
        h.try_login(conn, "aiko", "Wrong1234");
    }
    assert_eq!(
        h.try_login(conn, "aiko", OP_PW).status,
        LoginStatus::Blocked
    );
    let admin = h.login("root", ADMIN_PW);
    h.admin_ok(
        admin,
        AdminCommand::UnblockAccount {
            username: "aiko".into(),
        },
    );
    assert_eq!(h.try_login(conn, "aiko", OP_PW).status, LoginStatus::Ok);
    let unblocks = h
        .broker
        .store()
        .query_audit(&AuditQuery::default(), 1000)
        .unwrap();
    assert!(unblocks
        .iter()
        .any(|r| r.kind == "unblocked" && r.detail.contains("by root")));
}

#[test]
fn lockout_settings_are_configurable() {
    let mut h = Harness::with_accounts();
    let admin = h.login("root", ADMIN_PW);
    h.admin_ok(
        admin,
        AdminCommand::UpdateSettings(RelaySettings {
            max_failed_logins: Some(5),
            lockout_ms: Some(MIN),
            ..Default::default()
        }),
    );
    let conn = h.connect(Role::Operator);
    for _ in 0..4 {
        assert_eq!(
            h.try_login(conn, "aiko", "Wrong1234").status,
            LoginStatus::BadCredentials
        );
    }
    assert_eq!(
        h.try_login(conn, "aiko", "Wrong1234").status,
        LoginStatus::Blocked
    );
    h.now += MIN;
    assert_eq!(h.try_login(conn, "aiko", OP_PW).status, LoginStatus::Ok);
}

#[test]
fn code_pairs_customer_with_the_issuing_operator_once() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.admin_ok(
        admin,
        AdminCommand::CreateAccount {
            username: "ken".into(),
            display_name: "Ken".into(),
            password: OP_PW.into(),
            role: Role::Operator,
        },
    );
    let ken = h.login("ken", OP_PW);
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    assert_eq!(code.len(), 8);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let _ = h.issue_code(ken); // another operator online with a code of his own

    let customer = h.connect(Role::Customer);
    let out = h.join(customer, &code);
    let to_customer = paired(&out, customer).expect("customer paired");
    let to_aiko = paired(&out, aiko).expect("issuing operator paired");
    assert!(paired(&out, ken).is_none());
    assert_eq!(to_customer.session_id, to_aiko.session_id);
    assert_eq!(to_customer.peer_name, "Aiko");
    assert!(out.iter().any(
        |o| matches!(o, Output::Route { conn, peer, .. } if *conn == customer && *peer == aiko)
    ));

    // Single use.
    let again = h.connect(Role::Customer);
    assert_eq!(
        refused(&h.join(again, &code), again),
        Some(JoinRefusal::InvalidCode)
    );

    // Either side ends it; both are told, routes go, history records it.
    h.broker.handle_message(
        customer,
        RelayMessage::LeaveSession {
            session_id: to_customer.session_id,
            reason: EndReason::CustomerEnded,
        },
        h.now + 5_000,
    );
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o, Output::Send { conn, message: RelayMessage::SessionEnded { reason: EndReason::CustomerEnded, duration_ms: 5_000, .. } } if *conn == aiko)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Unroute { conn, .. } if *conn == aiko)));
    let ended = h
        .broker
        .store()
        .query_audit(&AuditQuery::default(), 1000)
        .unwrap();
    let row = ended
        .iter()
        .find(|r| r.kind == "session_ended")
        .expect("session audited");
    assert_eq!(row.operator_username, "aiko");
    assert_eq!(row.customer, "Bob");
    assert_eq!(row.ended_ms - row.started_ms, 5_000);
    assert_eq!(row.end_reason, Some(EndReason::CustomerEnded));
}

impl Harness {
    fn admin_conn(&mut self) -> ConnId {
        self.login("root", ADMIN_PW)
    }
}

#[test]
fn codes_expire_at_their_ttl() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    h.now += 10 * MIN - 1;
    assert_eq!(
        h.broker.poll_timeout(),
        Some(h.now + 1),
        "the expiry is a deadline"
    );
    h.broker.handle_timeout(h.now);
    let late = h.connect(Role::Customer);
    h.now += 1;
    h.broker.handle_timeout(h.now);
    assert_eq!(
        refused(&h.join(late, &code), late),
        Some(JoinRefusal::InvalidCode)
    );
    assert!(h.audit_kinds().contains(&"code_expired".to_string()));

    // One millisecond before the TTL it still works.
    let code = h.issue_code(aiko);
    h.now += 10 * MIN - 1;
    let c = h.connect(Role::Customer);
    assert!(paired(&h.join(c, &code), c).is_some());
}

#[test]
fn code_guessing_from_many_sources_stays_within_the_budget() {
    let mut cfg = config();
    cfg.code_failure_budget = 20;
    cfg.code_failures_per_source = 3;
    let mut store = SqliteStore::in_memory().unwrap();
    bootstrap_admin(
        &mut store,
        "root",
        ADMIN_PW,
        Argon2Params::insecure_fast(),
        &mut StdRng::seed_from_u64(1),
        T0,
    )
    .unwrap();
    let mut h = Harness::new(Box::new(store), cfg);
    let op = h.login("root", ADMIN_PW);
    let code = h.issue_code(op);
    let code_value: u64 = code.parse().unwrap();

    // A guesser enumerates every 8-digit code near the real one from a fresh
    // address each time. Only `budget` attempts are ever evaluated; the rest —
    // the right code included — are refused by the rate limit.
    let start = code_value.saturating_sub(500);
    let mut evaluated = 0;
    let mut succeeded = false;
    for (i, guess) in (start..start + 1000).enumerate() {
        let c = h.connect_from(
            Role::Customer,
            &format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
        );
        let out = h.join(c, &format!("{guess:08}"));
        match refused(&out, c) {
            Some(JoinRefusal::InvalidCode) => evaluated += 1,
            Some(JoinRefusal::RateLimited) => {}
            None => succeeded = true,
            other => panic!("{other:?}"),
        }
    }
    assert!(
        !succeeded,
        "the real code was reached only after the budget was spent"
    );
    assert_eq!(evaluated, 20);
    assert_eq!(
        h.audit_kinds()
            .iter()
            .filter(|k| *k == "code_failed")
            .count(),
        20
    );

    // One source alone is stopped after its own allowance.
    h.now += 10 * MIN;
    let code = h.issue_code(op);
    let c = h.connect_from(Role::Customer, "198.51.100.7");
    for _ in 0..3 {
        assert_eq!(
            refused(&h.join(c, "00000000"), c),
            Some(JoinRefusal::InvalidCode)
        );
    }
    assert_eq!(
        refused(&h.join(c, &code), c),
        Some(JoinRefusal::RateLimited)
    );
    // Another source with the right code still gets in.
    let d = h.connect_from(Role::Customer, "198.51.100.8");
    assert!(paired(&h.join(d, &code), d).is_some());
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
    h.broker.handle_message(
        c,
        RelayMessage::ChangePassword {
            old_password: OP_PW.into(),
            new_password: "NewPass99".into(),
        },
        h.now,
    );
    assert!(matches!(h.sent_to(c).as_slice(), [RelayMessage::RequestResult(r)] if r.is_ok()));
    let code = h.issue_code(c);
    assert_eq!(code.len(), 8);
}

#[test]
fn chat_first_contact_reaches_the_addressed_operator() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let operator_id = h
        .broker
        .store()
        .find_account("aiko")
        .unwrap()
        .unwrap()
        .operator_id;
    let customer = h.connect(Role::Customer);
    h.broker.handle_message(
        customer,
        RelayMessage::ContactOperator(rsupport_proto::relay::ContactOperator {
            operator_id: operator_id.clone(),
            customer: CustomerInfo {
                name: "Bob".into(),
                ..Default::default()
            },
            first_message: "help".into(),
        }),
        h.now,
    );
    let contact_id = match h.sent_to(aiko).as_slice() {
        [RelayMessage::ContactRequest(r)] => r.contact_id,
        other => panic!("{other:?}"),
    };
    h.broker.handle_message(
        aiko,
        RelayMessage::ContactAnswer {
            contact_id,
            accept: true,
        },
        h.now,
    );
    let out = h.drain();
    assert_eq!(
        paired(&out, customer).unwrap().origin,
        rsupport_proto::relay::PairingOrigin::Contact
    );

    // Unknown or offline operator.
    let other = h.connect(Role::Customer);
    h.broker.handle_message(
        other,
        RelayMessage::ContactOperator(rsupport_proto::relay::ContactOperator {
            operator_id: "nobody".into(),
            customer: CustomerInfo::default(),
            first_message: String::new(),
        }),
        h.now,
    );
    assert_eq!(
        refused(&h.drain(), other),
        Some(JoinRefusal::OperatorOffline)
    );
}

#[test]
fn licence_limits_sessions_and_time() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.admin_ok(
        admin,
        AdminCommand::UpdateSettings(RelaySettings {
            max_concurrent_sessions: Some(1),
            max_session_ms: Some(30 * MIN),
            time_warning_ms: Some(5 * MIN),
            ..Default::default()
        }),
    );
    let aiko = h.login("aiko", OP_PW);
    let (c1, c2) = (h.connect(Role::Customer), h.connect(Role::Customer));
    let code1 = h.issue_code(aiko);
    let code2 = h.issue_code(aiko);
    let session = paired(&h.join(c1, &code1), c1).unwrap();
    assert_eq!(session.time_limit_ms, 30 * MIN);
    assert_eq!(
        refused(&h.join(c2, &code2), c2),
        Some(JoinRefusal::LicenceLimit)
    );

    assert!(h
        .broker
        .poll_timeout()
        .is_some_and(|t| t <= h.now + 25 * MIN));
    h.now += 25 * MIN;
    h.broker.handle_timeout(h.now);
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o, Output::Send { conn, message: RelayMessage::TimeLimitWarning { remaining_ms, .. } } if *conn == c1 && *remaining_ms == 5 * MIN)));
    h.now += 5 * MIN;
    h.broker.handle_timeout(h.now);
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o, Output::Send { conn, message: RelayMessage::SessionEnded { reason: EndReason::TimeLimit, .. } } if *conn == aiko)));
    assert_eq!(h.broker.session_count(), 0);
    // The licence slot is free again.
    let code3 = h.issue_code(aiko);
    assert!(paired(&h.join(c2, &code3), c2).is_some());
}

#[test]
fn handshake_timeout_and_wrong_first_message_close() {
    let mut h = Harness::with_accounts();
    h.broker.handle_connect(
        100,
        ConnInfo {
            source: "192.0.2.9".parse().unwrap(),
            client_cert: false,
        },
        h.now,
    );
    h.broker.handle_connect(
        101,
        ConnInfo {
            source: "192.0.2.9".parse().unwrap(),
            client_cert: false,
        },
        h.now,
    );
    h.broker
        .handle_message(101, RelayMessage::IssueCode { ttl_secs: 0 }, h.now);
    h.now += 10_000;
    h.broker.handle_timeout(h.now);
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Close {
            conn: 100,
            reason: CloseReason::Timeout,
            ..
        }
    )));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Close {
            conn: 101,
            reason: CloseReason::UnexpectedMessage,
            ..
        }
    )));
}

#[test]
fn accounts_settings_and_history_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        bootstrap_admin(
            &mut store,
            "root",
            ADMIN_PW,
            Argon2Params::insecure_fast(),
            &mut StdRng::seed_from_u64(1),
            T0,
        )
        .unwrap();
        let mut h = Harness::new(Box::new(store), config());
        let admin = h.login("root", ADMIN_PW);
        h.admin_ok(
            admin,
            AdminCommand::CreateAccount {
                username: "aiko".into(),
                display_name: "Aiko".into(),
                password: OP_PW.into(),
                role: Role::Operator,
            },
        );
        h.admin_ok(
            admin,
            AdminCommand::UpdateSettings(RelaySettings {
                code_length: Some(10),
                ..Default::default()
            }),
        );
        let aiko = h.login("aiko", OP_PW);
        assert_eq!(h.issue_code(aiko).len(), 10);
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 1);
    let mut h = Harness::new(Box::new(store), config());
    assert_eq!(h.broker.settings().code_length, 10, "settings survive");
    let aiko = h.login("aiko", OP_PW); // account and changed password survive
    assert_eq!(h.issue_code(aiko).len(), 10);
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
