//! Shared harness for the broker tests: a broker on a virtual clock over a
//! real (in-memory) SQLite store.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_proto::relay::admin::{
    AdminCommand, AdminReply, AdminRequest, AuditQuery, AuditRecord, RelaySettings,
};
use rsupport_proto::relay::{CustomerInfo, Paired};
use rsupport_proto::relay::{Hello, JoinRefusal, Login, LoginStatus, RelayMessage, Secret};
use rsupport_proto::{EndReason, Role, PROTOCOL_VERSION};
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{bootstrap_admin, Broker, ConnId, ConnInfo, Output, PasswordJob, RelayConfig};

/// One minute of the virtual clock, in ms.
pub const MIN: u64 = 60_000;
/// The virtual clock's start, ms since the epoch.
pub const T0: u64 = 1_700_000_000_000;
/// Password of the bootstrapped admin `root`.
pub const ADMIN_PW: &str = "violet-kettle-harbor-42";
/// Password of operators made with [`Harness::create_operator`].
pub const OP_PW: &str = "amber-lantern-quiet-17";

/// A relay configuration with fast (test-strength) password hashing.
pub fn config() -> RelayConfig {
    let mut c = RelayConfig::default();
    c.argon2 = Argon2Params::insecure_fast();
    c
}

/// `store` with the first admin, `root` / [`ADMIN_PW`].
pub fn with_admin(mut store: SqliteStore) -> SqliteStore {
    bootstrap_admin(
        &mut store,
        "root",
        ADMIN_PW,
        Argon2Params::insecure_fast(),
        &mut StdRng::seed_from_u64(1),
        T0,
    )
    .unwrap();
    store
}

/// A broker on a virtual clock, with helpers that speak the relay protocol.
pub struct Harness {
    /// The broker under test.
    pub broker: Broker,
    /// The id the next connection gets.
    pub next_conn: ConnId,
    /// The virtual clock, ms since the epoch.
    pub now: u64,
    /// [`Harness::drain`] runs the broker's password jobs at once (on the
    /// test's thread, as the relay's worker pool would) and feeds the
    /// outcome back. Off: the jobs stay in [`Harness::jobs`] for the test.
    pub run_password_jobs: bool,
    /// Password jobs seen while `run_password_jobs` was off.
    pub jobs: Vec<PasswordJob>,
}

impl Harness {
    /// A broker over `store` with `config`, at [`T0`].
    pub fn new(store: Box<dyn Store>, config: RelayConfig) -> Self {
        Harness {
            broker: Broker::new(config, store, Box::new(StdRng::seed_from_u64(7))),
            next_conn: 1,
            now: T0,
            run_password_jobs: true,
            jobs: Vec::new(),
        }
    }

    /// A fresh relay with an admin `root` and an operator `aiko`.
    pub fn with_accounts() -> Self {
        Self::with_accounts_in(SqliteStore::in_memory().unwrap())
    }

    /// [`Harness::with_accounts`] over `store` (a SQLite file, to restart on).
    pub fn with_accounts_in(store: SqliteStore) -> Self {
        let mut h = Harness::new(Box::new(with_admin(store)), config());
        let admin = h.login("root", ADMIN_PW);
        h.create_operator(admin, "aiko", "Aiko");
        h
    }

    /// The admin logged in on `admin` creates an operator with [`OP_PW`].
    pub fn create_operator(&mut self, admin: ConnId, username: &str, display_name: &str) {
        self.admin_ok(
            admin,
            AdminCommand::CreateAccount {
                username: username.into(),
                display_name: display_name.into(),
                password: OP_PW.into(),
                role: Role::Operator,
            },
        );
    }

    /// Every output the broker has queued; password jobs are run (see
    /// [`Harness::run_password_jobs`]) and not returned.
    pub fn drain(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(o) = self.broker.poll_output() {
            match o {
                Output::CheckPassword(job) if self.run_password_jobs => {
                    let outcome = job.run();
                    self.broker
                        .handle_password_checked(job.id, outcome, self.now);
                }
                Output::CheckPassword(job) => self.jobs.push(job),
                o => out.push(o),
            }
        }
        out
    }

    /// The relay messages queued for `conn` (other outputs are dropped).
    pub fn sent_to(&mut self, conn: ConnId) -> Vec<RelayMessage> {
        self.drain()
            .into_iter()
            .filter_map(|o| match o {
                Output::Send { conn: c, message } if c == conn => Some(message),
                _ => None,
            })
            .collect()
    }

    /// The operator ID (for chat-first contact) of account `username`.
    pub fn operator_id(&self, username: &str) -> String {
        self.broker
            .store()
            .find_account(username)
            .expect("the store answers")
            .expect("the account exists")
            .operator_id
    }

    /// Opens a connection from `source` and says Hello as `role`.
    pub fn connect_from(&mut self, role: Role, source: &str) -> ConnId {
        self.connect_with(role, source, false)
    }

    /// Opens a connection from `source`, with or without a verified client
    /// certificate, and says Hello as `role`.
    pub fn connect_with(&mut self, role: Role, source: &str, client_cert: bool) -> ConnId {
        self.connect_speaking(role, source, client_cert, PROTOCOL_VERSION)
    }

    /// Opens a connection from 192.0.2.1 whose program speaks only protocol
    /// 1 (it cannot encrypt sessions end to end), and says Hello as `role`.
    pub fn connect_v1(&mut self, role: Role) -> ConnId {
        self.connect_speaking(role, "192.0.2.1", false, 1)
    }

    /// Opens a connection from `source` whose program speaks protocol
    /// `version` only, and says Hello as `role`.
    pub fn connect_speaking(
        &mut self,
        role: Role,
        source: &str,
        client_cert: bool,
        version: u32,
    ) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        let source: IpAddr = source.parse().unwrap();
        self.broker.handle_connect(
            id,
            ConnInfo {
                source,
                client_cert,
            },
            self.now,
        );
        self.broker.handle_message(
            id,
            RelayMessage::Hello(Hello {
                min_version: version,
                max_version: version,
                role,
                software: "test".into(),
            }),
            self.now,
        );
        assert!(matches!(
            self.sent_to(id).as_slice(),
            [RelayMessage::HelloAck(a)] if a.version == version
        ));
        id
    }

    /// Opens a connection from 192.0.2.1 and says Hello as `role`.
    pub fn connect(&mut self, role: Role) -> ConnId {
        self.connect_from(role, "192.0.2.1")
    }

    /// Logs in on `conn` and returns the relay's answer.
    pub fn try_login(
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

    /// [`Harness::try_login`], moving the virtual clock on while the relay
    /// answers `RateLimited` with a retry time at most `patience_ms` away
    /// (slow-downs), so the answer is the one for the password.
    pub fn try_login_waiting(
        &mut self,
        conn: ConnId,
        user: &str,
        pw: &str,
        patience_ms: u64,
    ) -> rsupport_proto::relay::LoginResult {
        loop {
            let r = self.try_login(conn, user, pw);
            if r.status != LoginStatus::RateLimited
                || r.blocked_until_ms > self.now.saturating_add(patience_ms)
            {
                return r;
            }
            self.now = r.blocked_until_ms;
        }
    }

    /// Logs in (changing the initial password to the same policy-valid one if required).
    pub fn login(&mut self, user: &str, pw: &str) -> ConnId {
        let conn = self.connect(Role::Operator);
        self.login_on(conn, user, pw);
        conn
    }

    /// [`Harness::login`] from a program that speaks only protocol 1.
    pub fn login_v1(&mut self, user: &str, pw: &str) -> ConnId {
        let conn = self.connect_v1(Role::Operator);
        self.login_on(conn, user, pw);
        conn
    }

    /// Logs in on the open connection `conn`, as [`Harness::login`] does.
    pub fn login_on(&mut self, conn: ConnId, user: &str, pw: &str) {
        let r = self.try_login(conn, user, pw);
        assert_eq!(r.status, LoginStatus::Ok, "{user}");
        if r.must_change_password {
            // The new password must differ from the old: change it away and
            // back, so that tests keep logging in with `pw`.
            let other = format!("{pw}-changed");
            self.change_password(conn, pw, &other);
            self.change_password(conn, &other, pw);
        }
    }

    /// Changes the password of the user logged in on `conn`; fails the
    /// test unless the relay accepts it. Moves the clock past the
    /// per-connection interval between changes.
    pub fn change_password(&mut self, conn: ConnId, old: &str, new: &str) {
        self.broker.handle_message(
            conn,
            RelayMessage::ChangePassword {
                old_password: old.into(),
                new_password: new.into(),
            },
            self.now,
        );
        let sent = self.sent_to(conn);
        assert!(
            matches!(sent.as_slice(), [RelayMessage::RequestResult(r)] if r.is_ok()),
            "{sent:?}"
        );
        self.now += 1000;
    }

    /// Sends an admin command on `conn` and returns the reply.
    pub fn admin(&mut self, conn: ConnId, command: AdminCommand) -> AdminReply {
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

    /// Sends an admin command and fails the test unless it succeeds.
    pub fn admin_ok(&mut self, conn: ConnId, command: AdminCommand) {
        match self.admin(conn, command) {
            AdminReply::Result(r) => assert!(r.is_ok(), "{r:?}"),
            other => panic!("{other:?}"),
        }
    }

    /// Asks for a session code on the operator connection `op`.
    pub fn issue_code(&mut self, op: ConnId) -> String {
        self.broker
            .handle_message(op, RelayMessage::IssueCode { ttl_secs: 0 }, self.now);
        match self.sent_to(op).pop() {
            Some(RelayMessage::CodeIssued(c)) => c.code.into_inner(),
            other => panic!("expected CodeIssued, got {other:?}"),
        }
    }

    /// Customer joins with `code`; returns every output.
    pub fn join(&mut self, customer: ConnId, code: &str) -> Vec<Output> {
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

    /// The admin logged in on `admin` allows (or forbids) sessions with a
    /// program that cannot encrypt end to end.
    pub fn allow_plaintext(&mut self, admin: ConnId, allow: bool) {
        self.admin_ok(
            admin,
            AdminCommand::UpdateSettings(RelaySettings {
                allow_plaintext_sessions: Some(allow),
                ..Default::default()
            }),
        );
    }

    /// `conn` leaves `session_id` giving `reason`; returns every output.
    pub fn leave(&mut self, conn: ConnId, session_id: u64, reason: EndReason) -> Vec<Output> {
        self.broker.handle_message(
            conn,
            RelayMessage::LeaveSession { session_id, reason },
            self.now,
        );
        self.drain()
    }

    /// The audit records stored so far, oldest first.
    pub fn audit_rows(&self) -> Vec<AuditRecord> {
        self.broker
            .store()
            .query_audit(&AuditQuery::default(), 10_000)
            .unwrap()
    }

    /// The audit records of kind `kind` stored so far, oldest first.
    pub fn audit_rows_of(&self, kind: &str) -> Vec<AuditRecord> {
        self.audit_rows()
            .into_iter()
            .filter(|r| r.kind == kind)
            .collect()
    }

    /// The kinds of the audit records stored so far, oldest first.
    pub fn audit_kinds(&self) -> Vec<String> {
        self.audit_rows().into_iter().map(|r| r.kind).collect()
    }
}

/// The join refusal sent to `conn` among `outputs`, if any.
pub fn refused(outputs: &[Output], conn: ConnId) -> Option<JoinRefusal> {
    outputs.iter().find_map(|o| match o {
        Output::Send {
            conn: c,
            message: RelayMessage::JoinRefused { reason, .. },
        } if *c == conn => Some(*reason),
        _ => None,
    })
}

/// The `Paired` message sent to `conn` among `outputs`, if any.
pub fn paired(outputs: &[Output], conn: ConnId) -> Option<Paired> {
    outputs.iter().find_map(|o| match o {
        Output::Send {
            conn: c,
            message: RelayMessage::Paired(p),
        } if *c == conn => Some(p.clone()),
        _ => None,
    })
}

impl Harness {
    /// A connection logged in as the admin `root`.
    pub fn admin_conn(&mut self) -> ConnId {
        self.login("root", ADMIN_PW)
    }
}
