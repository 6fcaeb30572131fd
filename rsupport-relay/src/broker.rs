//! The sans-IO relay broker: accounts, codes, pairing and limits.
//!
//! The broker never touches a socket or a clock. The driver feeds it
//! connection events and decoded [`RelayMessage`]s with the current time, and
//! drains [`Output`]s (messages to send, routes to install, connections to
//! close) and the next deadline:
//!
//! ```text
//! loop {
//!     match next_event(until = broker.poll_timeout()) {
//!         Connected(id, info) => broker.handle_connect(id, info, now),
//!         Message(id, msg)    => broker.handle_message(id, msg, now),
//!         Disconnected(id)    => broker.handle_disconnect(id, now),
//!         Timer               => broker.handle_timeout(now),
//!         Checked(job, res)   => broker.handle_password_checked(job, res, now),
//!     }
//!     while let Some(out) = broker.poll_output() {
//!         match out {
//!             CheckPassword(job) => pool.submit(job) or handle_password_checked(job.id, Busy),
//!             out => apply(out),
//!         }
//!     }
//! }
//! ```
//!
//! The broker never hashes a password itself: argon2 is slow on purpose,
//! and one login must not hold up every other connection.
//!
//! Session payloads do not pass through the broker: on pairing it emits
//! [`Output::Route`] and the driver forwards `Session` frames itself,
//! counting bytes in the shared [`TrafficMeter`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::RngCore;
use rsupport_proto::relay::admin::AuditRecord;
use rsupport_proto::relay::{HelloAck, RelayMessage, RequestError, RequestResult};
use rsupport_proto::{negotiate, CloseReason, Role};

use super::codes::PendingCode;
use super::config::{RelayConfig, Settings};
use super::limits::resumes::ResumeLimits;
use super::limits::{codes::CodeLimits, contacts::ContactLimits, refusals::RefusalLog};
use super::pairing::{Contact, Session};
use crate::auth::PasswordHasher;
use crate::hashing::PasswordJob;
use crate::lockout::Lockouts;
use crate::login::Pending;
use crate::store::Store;

/// A connection, numbered by the driver.
pub type ConnId = u64;

/// What the driver knows about a new connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Peer address (for rate limits and the audit log).
    pub source: IpAddr,
    /// The peer presented a client certificate that verified against the client CA.
    pub client_cert: bool,
}

/// Bytes forwarded in one session, counted by the driver.
#[derive(Debug, Default)]
pub struct TrafficMeter {
    /// Bytes delivered to the operator.
    pub to_operator: AtomicU64,
    /// Bytes delivered to the customer.
    pub to_customer: AtomicU64,
}

impl TrafficMeter {
    /// Adds `n` bytes in one direction.
    pub fn add(&self, to_operator: bool, n: u64) {
        let c = if to_operator {
            &self.to_operator
        } else {
            &self.to_customer
        };
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// What the broker asks the driver to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Send a relay-control message.
    Send {
        /// To whom.
        conn: ConnId,
        /// What.
        message: RelayMessage,
    },
    /// Forward `Session` frames with `session_id` from `conn` to `peer`.
    Route {
        /// The sender.
        conn: ConnId,
        /// The session.
        session_id: u64,
        /// The receiver.
        peer: ConnId,
        /// Where to count forwarded bytes.
        meter: Arc<TrafficMeter>,
        /// Whether `peer` is the operator side.
        peer_is_operator: bool,
    },
    /// Stop forwarding `session_id` from `conn`.
    Unroute {
        /// The sender.
        conn: ConnId,
        /// The session.
        session_id: u64,
    },
    /// Check a password off the broker thread (on the driver's
    /// [`PasswordPool`](crate::PasswordPool), or with [`PasswordJob::run`]),
    /// then report with [`Broker::handle_password_checked`] —
    /// [`PasswordOutcome::Busy`](crate::PasswordOutcome::Busy) at once when
    /// the pool's queue is full.
    CheckPassword(PasswordJob),
    /// Send `Close` and hang up. The driver reports `handle_disconnect` afterwards.
    Close {
        /// Whom.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
        /// Detail for the peer (never secrets).
        detail: String,
    },
}

/// A logged-in operator or admin.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) username: String,
    pub(crate) role: Role,
    pub(crate) display_name: String,
    pub(crate) must_change_password: bool,
}

#[derive(Debug)]
pub(crate) enum Phase {
    /// Waiting for `Hello` until the deadline.
    AwaitingHello { deadline_ms: u64 },
    /// A customer's program.
    Customer,
    /// An operator or admin program before login.
    Anonymous,
    /// Logged in.
    LoggedIn(Principal),
    /// Close requested; ignore further input.
    Closing,
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) info: ConnInfo,
    pub(crate) phase: Phase,
    /// Sessions this connection takes part in.
    pub(crate) sessions: HashSet<u64>,
    /// A customer's pending chat-first contact.
    pub(crate) contact: Option<u64>,
    /// After `Hello`: when to check that the connection has logged in,
    /// joined, contacted or resumed ([`crate::conn_deadline`]).
    pub(crate) auth_check: Option<crate::conn_deadline::AuthCheck>,
    /// The next `ChangePassword` from this connection is not looked at before this.
    pub(crate) password_change_not_before_ms: u64,
    /// The protocol version negotiated in `Hello` (0 before it): below
    /// [`E2E_PROTOCOL_VERSION`](rsupport_proto::E2E_PROTOCOL_VERSION) the
    /// program cannot encrypt sessions end to end.
    pub(crate) version: u32,
}

impl Conn {
    /// The program on this connection can take part in an end-to-end
    /// encrypted session.
    pub(crate) fn encrypts(&self) -> bool {
        self.version >= rsupport_proto::E2E_PROTOCOL_VERSION
    }
}

/// The relay's protocol state machine. See the module docs for the run loop.
pub struct Broker {
    pub(crate) config: RelayConfig,
    pub(crate) settings: Settings,
    pub(crate) store: Box<dyn Store>,
    pub(crate) rng: Box<dyn RngCore + Send>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) conns: HashMap<ConnId, Conn>,
    /// Online operators: user name → connections (newest last).
    pub(crate) online: HashMap<String, Vec<ConnId>>,
    /// Unused codes by SHA-256 of the code, so lookups reveal nothing by timing.
    pub(crate) codes: HashMap<[u8; 32], PendingCode>,
    pub(crate) sessions: HashMap<u64, Session>,
    pub(crate) contacts: HashMap<u64, Contact>,
    pub(crate) offers: HashMap<u64, super::transfer::Offer>,
    /// Wrong session codes (never shared with anything else).
    pub(crate) code_limits: CodeLimits,
    /// Wrong resume tokens.
    pub(crate) resume_limits: ResumeLimits,
    /// Chat-first contact requests.
    pub(crate) contact_limits: ContactLimits,
    /// Audit rows about refusals, summarised per source and minute.
    pub(crate) refusals: RefusalLog,
    /// Failed logins per (account, source) and per account.
    pub(crate) lockouts: Lockouts,
    /// Password checks handed to the driver, by job id.
    pub(crate) pending: HashMap<u64, Pending>,
    pub(crate) next_job: u64,
    pub(crate) next_id: u64,
    /// Stopping for a restart: disconnects no longer suspend or end sessions.
    pub(crate) stopping: bool,
    out: VecDeque<Output>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("conns", &self.conns.len())
            .field("sessions", &self.sessions.len())
            .field("codes", &self.codes.len())
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker over `store`, with `rng` for codes, ids and salts.
    /// Run-time settings are the config defaults with the store's overrides on top.
    pub fn new(
        config: RelayConfig,
        store: Box<dyn Store>,
        mut rng: Box<dyn RngCore + Send>,
    ) -> Self {
        let mut settings = config.settings.clone();
        match store.load_settings() {
            Ok(stored) => settings.apply(&stored),
            Err(e) => {
                tracing::error!(error = %e, "cannot load stored settings; using config defaults")
            }
        }
        // Overrides saved under older, looser rules (say 8-digit codes) do
        // not survive a rule that now refuses them: each refused one falls
        // back to the file's value (the file itself was validated at start).
        for _ in 0..16 {
            let Err(e) = config.check_settings(&settings) else {
                break;
            };
            tracing::error!(problem = %e, "a stored setting is refused; using the configuration file's value");
            if !settings.reset_field(e.key, &config.settings) {
                settings = config.settings.clone();
            }
        }
        let hasher = PasswordHasher::new(config.argon2, &mut *rng);
        let code_limits = CodeLimits::new(
            config.code_failures_per_source,
            config.code_failure_budget,
            config.code_failure_window_ms,
        );
        Broker {
            lockouts: Lockouts::default(),
            pending: HashMap::new(),
            next_job: 1,
            config,
            settings,
            store,
            rng,
            hasher,
            conns: HashMap::new(),
            online: HashMap::new(),
            codes: HashMap::new(),
            sessions: HashMap::new(),
            contacts: HashMap::new(),
            offers: HashMap::new(),
            code_limits,
            resume_limits: ResumeLimits::default(),
            contact_limits: ContactLimits::default(),
            refusals: RefusalLog::default(),
            next_id: 1,
            stopping: false,
            out: VecDeque::new(),
        }
    }

    // ---- getters ----------------------------------------------------------

    /// The run-time settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Running sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The store (for tools and tests).
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    // ---- inputs -----------------------------------------------------------

    /// A connection finished its TLS handshake.
    pub fn handle_connect(&mut self, conn: ConnId, info: ConnInfo, now_ms: u64) {
        let deadline_ms = now_ms.saturating_add(self.config.handshake_timeout_ms);
        self.conns.insert(
            conn,
            Conn {
                info,
                phase: Phase::AwaitingHello { deadline_ms },
                sessions: HashSet::new(),
                contact: None,
                auth_check: None,
                password_change_not_before_ms: 0,
                version: 0,
            },
        );
    }

    /// A connection is gone (the peer hung up, or the driver closed it).
    /// Its sessions are suspended for [`Settings::resume_grace_ms`]: the
    /// party may come back with `Resume`.
    pub fn handle_disconnect(&mut self, conn: ConnId, now_ms: u64) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Phase::LoggedIn(p) = &c.phase {
            if let Some(list) = self.online.get_mut(&p.username) {
                list.retain(|&x| x != conn);
                if list.is_empty() {
                    self.online.remove(&p.username);
                }
            }
            self.cancel_codes_of(conn, now_ms);
        }
        if let Some(contact) = c.contact {
            self.contacts.remove(&contact);
        }
        self.offers
            .retain(|_, o| o.from_conn != conn && o.to_conn != conn);
        // Customers waiting for this operator's answer hear that it left.
        let orphaned: Vec<u64> = self
            .contacts
            .iter()
            .filter(|(_, ct)| ct.operator_conn == conn)
            .map(|(&id, _)| id)
            .collect();
        for id in orphaned {
            if let Some(ct) = self.contacts.remove(&id) {
                if let Some(cc) = self.conns.get_mut(&ct.customer_conn) {
                    cc.contact = None;
                }
                self.send(
                    ct.customer_conn,
                    RelayMessage::JoinRefused {
                        reason: rsupport_proto::relay::JoinRefusal::OperatorOffline,
                        retry_after_ms: 0,
                    },
                );
            }
        }
        if self.stopping {
            return; // the sessions stay in the store for the next run
        }
        for session_id in c.sessions {
            self.suspend(session_id, conn, now_ms);
        }
    }

    /// A decoded relay-control message from `conn`.
    pub fn handle_message(&mut self, conn: ConnId, message: RelayMessage, now_ms: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        match (&c.phase, message) {
            (Phase::Closing, _) => {}
            (_, RelayMessage::Ping { nonce }) => self.send(conn, RelayMessage::Pong { nonce }),
            (_, RelayMessage::Pong { .. }) => {}
            (_, RelayMessage::Close { .. }) => self.close(conn, CloseReason::Normal, ""),
            (Phase::AwaitingHello { .. }, RelayMessage::Hello(h)) => {
                match negotiate(h.min_version, h.max_version) {
                    Ok(version) => {
                        let phase = if h.role == Role::Customer {
                            Phase::Customer
                        } else {
                            Phase::Anonymous
                        };
                        let auth_timeout_ms = self.config.auth_timeout_ms;
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.phase = phase;
                            c.version = version;
                            c.auth_check = Some(crate::conn_deadline::AuthCheck::after_hello(
                                now_ms,
                                auth_timeout_ms,
                            ));
                        }
                        self.send(
                            conn,
                            RelayMessage::HelloAck(HelloAck {
                                version,
                                relay_name: self.config.name.clone(),
                                now_ms,
                            }),
                        );
                    }
                    Err(e) => self.close(conn, CloseReason::VersionMismatch, &e.to_string()),
                }
            }
            (Phase::AwaitingHello { .. }, _) => {
                self.close(conn, CloseReason::UnexpectedMessage, "Hello expected")
            }
            (_, RelayMessage::Hello(_)) => {
                self.close(conn, CloseReason::UnexpectedMessage, "second Hello")
            }
            (_, RelayMessage::Login(l)) => self.handle_login(conn, l, now_ms),
            // Before login too: the token authenticates this one session only.
            (
                _,
                RelayMessage::Resume {
                    session_id,
                    resume_token,
                },
            ) => self.handle_resume(conn, session_id, resume_token.expose(), now_ms),
            // A resumed operator that has not logged in again may still leave.
            (
                Phase::Customer | Phase::Anonymous | Phase::LoggedIn(_),
                RelayMessage::LeaveSession { session_id, reason },
            ) => self.handle_leave(conn, session_id, reason, now_ms),
            (
                Phase::LoggedIn(_),
                RelayMessage::ChangePassword {
                    old_password,
                    new_password,
                },
            ) => self.handle_change_password(
                conn,
                old_password.expose(),
                new_password.expose(),
                now_ms,
            ),
            (Phase::LoggedIn(p), RelayMessage::AdminRequest(req)) => {
                if p.role == Role::Admin && !p.must_change_password {
                    self.handle_admin(conn, req, now_ms);
                } else {
                    let username = p.username.clone();
                    self.audit(now_ms, "admin_denied", &username, conn, |r| {
                        r.detail = "non-admin sent an admin request".into()
                    });
                    self.send(
                        conn,
                        RelayMessage::AdminResponse(rsupport_proto::relay::AdminResponse::error(
                            req.request_id,
                            RequestError::NotAuthorized,
                            "admin role required",
                        )),
                    );
                }
            }
            (Phase::LoggedIn(p), _) if p.must_change_password => self.send(
                conn,
                RelayMessage::RequestResult(RequestResult::err(
                    RequestError::NotAuthorized,
                    "change your password first",
                )),
            ),
            (Phase::LoggedIn(_), RelayMessage::IssueCode { ttl_secs }) => {
                self.handle_issue_code(conn, ttl_secs, now_ms)
            }
            (Phase::LoggedIn(_), RelayMessage::CancelCode { code }) => {
                self.handle_cancel_code(conn, code.expose(), now_ms)
            }
            (Phase::LoggedIn(_), RelayMessage::ContactAnswer { contact_id, accept }) => {
                self.handle_contact_answer(conn, contact_id, accept, now_ms)
            }
            (Phase::Customer, RelayMessage::JoinByCode { code, customer }) => {
                self.handle_join(conn, code.expose(), customer, now_ms)
            }
            (Phase::Customer, RelayMessage::ContactOperator(c)) => {
                self.handle_contact(conn, c, now_ms)
            }
            (Phase::LoggedIn(_), RelayMessage::TransferSession(h)) => {
                self.handle_transfer(conn, h, now_ms)
            }
            (Phase::LoggedIn(_), RelayMessage::SessionOfferAnswer { offer_id, accept }) => {
                self.handle_offer_answer(conn, offer_id, accept, now_ms)
            }
            (Phase::Customer | Phase::LoggedIn(_), RelayMessage::InviteOperator(h)) => {
                self.handle_invite(conn, h)
            }
            (Phase::Customer | Phase::Anonymous, RelayMessage::AdminRequest(req)) => self.send(
                conn,
                RelayMessage::AdminResponse(rsupport_proto::relay::AdminResponse::error(
                    req.request_id,
                    RequestError::NotAuthorized,
                    "log in as an admin first",
                )),
            ),
            (
                Phase::LoggedIn(_),
                RelayMessage::JoinByCode { .. } | RelayMessage::ContactOperator(_),
            ) => self.send(
                conn,
                RelayMessage::RequestResult(RequestResult::err(
                    RequestError::NotAuthorized,
                    "customers only",
                )),
            ),
            (Phase::Customer | Phase::Anonymous, _) => self.send(
                conn,
                RelayMessage::RequestResult(RequestResult::err(
                    RequestError::NotAuthorized,
                    "not allowed",
                )),
            ),
            // relay → party messages sent the wrong way.
            (_, _) => self.close(
                conn,
                CloseReason::UnexpectedMessage,
                "relay-to-party message",
            ),
        }
    }

    /// Time passed: expire codes, handshakes and contacts; warn and end sessions.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let late: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.phase, Phase::AwaitingHello { deadline_ms } if deadline_ms <= now_ms))
            .map(|(&id, _)| id)
            .collect();
        for conn in late {
            self.close(conn, CloseReason::Timeout, "no Hello in time");
        }
        self.check_auth_deadlines(now_ms);
        self.expire_codes(now_ms);
        self.expire_contacts(now_ms);
        self.expire_offers(now_ms);
        self.check_session_limits(now_ms);
        self.expire_suspensions(now_ms);
        self.code_limits.prune(now_ms);
        self.resume_limits.prune(now_ms);
        self.contact_limits.prune(now_ms);
        self.flush_refusals(now_ms);
        self.lockouts.sweep(self.lockout_policy(), now_ms);
    }

    /// The relay is shutting down for good: end every session (reason
    /// `RelayShutdown`) and close every connection. To stop for a restart
    /// that keeps sessions resumable, use [`Broker::shutdown_for_restart`].
    pub fn shutdown(&mut self, now_ms: u64) {
        let ids: Vec<u64> = self.sessions.keys().copied().collect();
        for id in ids {
            self.end_session(id, rsupport_proto::EndReason::RelayShutdown, now_ms);
        }
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close(conn, CloseReason::Shutdown, "relay shutting down");
        }
    }

    // ---- outputs ----------------------------------------------------------

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Broker::handle_timeout`] should be called next (ms since epoch).
    pub fn poll_timeout(&self) -> Option<u64> {
        let hello = self.conns.values().filter_map(|c| match c.phase {
            Phase::AwaitingHello { deadline_ms } => Some(deadline_ms),
            _ => None,
        });
        let codes = self.codes.values().map(|c| c.expires_at_ms);
        let contacts = self.contacts.values().map(|c| c.expires_at_ms);
        let sessions = self.sessions.values().filter_map(Session::next_deadline);
        let offers = self.offers.values().map(|o| o.expires_at_ms);
        let auth = self.conns.values().filter_map(Conn::auth_deadline);
        hello
            .chain(auth)
            .chain(codes)
            .chain(contacts)
            .chain(sessions)
            .chain(offers)
            .chain(self.refusals.next_due_ms())
            .min()
    }

    // ---- helpers for the handler modules -----------------------------------

    pub(crate) fn send(&mut self, conn: ConnId, message: RelayMessage) {
        self.out.push_back(Output::Send { conn, message });
    }

    pub(crate) fn push(&mut self, output: Output) {
        self.out.push_back(output);
    }

    pub(crate) fn reply(&mut self, conn: ConnId, result: RequestResult) {
        self.send(conn, RelayMessage::RequestResult(result));
    }

    /// Asks the driver to close `conn`; further input from it is ignored.
    pub(crate) fn close(&mut self, conn: ConnId, reason: CloseReason, detail: &str) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if matches!(c.phase, Phase::Closing) {
                return;
            }
            c.phase = Phase::Closing;
            self.out.push_back(Output::Close {
                conn,
                reason,
                detail: detail.to_owned(),
            });
        }
    }

    pub(crate) fn principal(&self, conn: ConnId) -> Option<&Principal> {
        match &self.conns.get(&conn)?.phase {
            Phase::LoggedIn(p) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn source(&self, conn: ConnId) -> String {
        self.conns
            .get(&conn)
            .map(|c| c.info.source.to_string())
            .unwrap_or_default()
    }

    pub(crate) fn fresh_id(&mut self) -> u64 {
        // Random high bits make ids unguessable across restarts; the counter keeps them unique.
        let id = (self.rng.next_u64() & 0xffff_ffff_0000_0000) | (self.next_id & 0xffff_ffff);
        self.next_id += 1;
        id.max(1)
    }

    /// Writes an audit record (`fill` sets the fields beyond time, kind, operator and source).
    pub(crate) fn audit(
        &mut self,
        now_ms: u64,
        kind: &str,
        operator: &str,
        conn: ConnId,
        fill: impl FnOnce(&mut AuditRecord),
    ) {
        let mut r = AuditRecord {
            at_ms: now_ms,
            kind: kind.to_owned(),
            operator_username: operator.to_owned(),
            source: self.source(conn),
            ..AuditRecord::default()
        };
        fill(&mut r);
        self.write_audit(r);
    }

    /// Stores an audit record. User names are cut to the longest valid
    /// one: a typed name can be any 1 KiB, and the audit must not keep it.
    fn write_audit(&mut self, mut r: AuditRecord) {
        let cut = super::login::cut_username(&r.operator_username).len();
        r.operator_username.truncate(cut);
        tracing::info!(kind = %r.kind, operator = %r.operator_username, source = %r.source, session = r.session_id, "audit");
        if let Err(e) = self.store.append_audit(&r) {
            tracing::error!(error = %e, kind = %r.kind, "cannot write audit record");
        }
    }
}
