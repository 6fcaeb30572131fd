//! Sessions that outlive a connection: suspension when a party's connection
//! drops, `Resume` with a rotating token, grace expiry, and persistence so a
//! restarted relay can take its sessions back.
//!
//! ```text
//! party's connection drops ──► side Suspended { until = now + resume_grace_ms }
//!                              peer hears PeerSuspended, routes removed
//! Resume { id, token } ok  ──► side Attached(new conn), routes back,
//!                              Paired(Resumed, fresh token), peer hears PeerResumed
//! grace over               ──► session ends with PeerLost (both told)
//! relay restart            ──► persisted sessions come back suspended on both sides
//! ```

use std::sync::Arc;

use bytes::Bytes;
use rand::RngCore;
use rsupport_proto::relay::{
    Paired, PairingOrigin, RelayMessage, RequestError, RequestResult, Secret,
};
use rsupport_proto::{CloseReason, EndReason, Role};
use subtle::ConstantTimeEq;

use super::broker::{Broker, ConnId, Output, Phase, TrafficMeter};
use super::pairing::{customer_label, token_hash, Link, Session};
use crate::store::SessionRecord;
use crate::Source;

/// The refusal of an operator `Resume` without the client certificate
/// operators must present (the session goes on; the operator may retry with one).
const NO_CLIENT_CERT: &str = "operators must present a client certificate";

/// The refusal of an operator `Resume` when the account cannot be read.
const STORE_UNAVAILABLE: &str = "the relay cannot check the operator account now; try again";

/// Which party of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    Operator,
    Customer,
}

impl Broker {
    /// A fresh 256-bit resume token and its SHA-256.
    pub(crate) fn fresh_token(&mut self) -> (Bytes, [u8; 32]) {
        let mut token = [0u8; 32];
        self.rng.fill_bytes(&mut token);
        let hash = token_hash(&token);
        (Bytes::copy_from_slice(&token), hash)
    }

    /// Routes `session_id` both ways between an operator and a customer connection.
    pub(crate) fn route_pair(
        &mut self,
        session_id: u64,
        operator_conn: ConnId,
        customer_conn: ConnId,
        meter: &Arc<TrafficMeter>,
    ) {
        self.push(Output::Route {
            conn: operator_conn,
            session_id,
            peer: customer_conn,
            meter: meter.clone(),
            peer_is_operator: false,
        });
        self.push(Output::Route {
            conn: customer_conn,
            session_id,
            peer: operator_conn,
            meter: meter.clone(),
            peer_is_operator: true,
        });
    }

    /// Writes the session's resumable state to the store (on pairing, token
    /// rotation and operator change), so a restarted relay can take it back.
    pub(crate) fn persist_session(&mut self, session_id: u64) {
        let Some(s) = self.sessions.get(&session_id) else {
            return;
        };
        let record = SessionRecord::new(
            session_id,
            s.operator_username.clone(),
            s.customer.clone(),
            s.modes.clone(),
            s.full_file_control,
            s.started_ms,
            s.deadline_ms,
            s.operator_token,
            s.customer_token,
        )
        .with_operator_credential_version(s.operator_credential_version)
        .with_plaintext(s.plaintext);
        if let Err(e) = self.store.save_session(&record) {
            tracing::error!(error = %e, "cannot persist a session; it will not survive a restart");
        }
    }

    /// `conn` dropped while attached to `session_id`: suspend its side for
    /// the grace period (or end the session when resuming is switched off).
    pub(crate) fn suspend(&mut self, session_id: u64, conn: ConnId, now_ms: u64) {
        let grace_ms = self.settings.resume_grace_ms;
        if grace_ms == 0 {
            self.end_session(session_id, EndReason::PeerLost, now_ms);
            return;
        }
        let until_ms = now_ms.saturating_add(grace_ms);
        let Some(s) = self.sessions.get_mut(&session_id) else {
            return;
        };
        let (party, peer) = if s.operator_link.is(conn) {
            s.operator_link = Link::Suspended { until_ms };
            (Party::Operator, s.customer_link.conn())
        } else if s.customer_link.is(conn) {
            s.customer_link = Link::Suspended { until_ms };
            (Party::Customer, s.operator_link.conn())
        } else {
            return;
        };
        let (username, label) = (s.operator_username.clone(), customer_label(&s.customer));
        if let Some(peer) = peer {
            // Frames from the peer have nowhere to go until the party is back.
            self.push(Output::Unroute {
                conn: peer,
                session_id,
            });
            self.send(
                peer,
                RelayMessage::PeerSuspended {
                    session_id,
                    grace_ms,
                },
            );
        }
        self.audit(now_ms, "session_suspended", &username, conn, |r| {
            r.session_id = session_id;
            r.customer = label;
            r.detail = format!("party={party:?} grace_ms={grace_ms}");
        });
    }

    /// `Resume`: re-attaches `conn` to the side whose token matches.
    /// Wrong tokens count in their own limits (`limits::resumes`), never in
    /// the session-code limits, and their audit rows are summarised per
    /// source and minute, so a flood can neither lock the party out nor
    /// fill the audit history.
    pub(crate) fn handle_resume(
        &mut self,
        conn: ConnId,
        session_id: u64,
        token: &[u8],
        now_ms: u64,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let source = Source::of(c.info.source);
        // The connection's role decides which token it may present.
        let party = if matches!(c.phase, Phase::Customer) {
            Party::Customer
        } else {
            Party::Operator
        };
        if self
            .resume_limits
            .check(source, session_id, now_ms)
            .is_err()
        {
            self.audit_refusal(now_ms, "resume_rate_limited", conn, None, |r| {
                r.session_id = session_id;
                r.detail = "wrong resume tokens from this source over the allowance".into();
            });
            self.reply(
                conn,
                RequestResult::err(RequestError::LimitReached, "too many failures; try later"),
            );
            return;
        }
        let presented = token_hash(token);
        let valid = self.sessions.get(&session_id).is_some_and(|s| {
            let stored = match party {
                Party::Operator => &s.operator_token,
                Party::Customer => &s.customer_token,
            };
            bool::from(stored.ct_eq(&presented))
        });
        let busy = party == Party::Customer
            && self
                .sessions
                .get(&session_id)
                .is_none_or(|s| !s.customer_link.is(conn))
            && self.customer_busy(conn);
        // An operator seat is taken back only by a connection that could log
        // in now: the account still exists and is enabled, its password and
        // second factor are the ones the session was paired under, and it
        // brings a client certificate where operators need one.
        let operator_refusal = if valid && party == Party::Operator {
            self.operator_resume_refusal(session_id, conn)
        } else {
            None
        };
        if let Some(why) = operator_refusal {
            let username = self
                .sessions
                .get(&session_id)
                .map(|s| s.operator_username.clone())
                .unwrap_or_default();
            self.audit(now_ms, "resume_refused", &username, conn, |r| {
                r.session_id = session_id;
                r.detail = why.to_owned();
            });
            if why != NO_CLIENT_CERT && why != STORE_UNAVAILABLE {
                self.end_session(session_id, EndReason::AdminEnded, now_ms);
            }
            self.reply(conn, RequestResult::err(RequestError::NotAuthorized, why));
            return;
        }
        if !valid || busy {
            let running = self.sessions.contains_key(&session_id);
            self.resume_limits
                .record_failure(source, session_id, running, now_ms);
            self.audit_refusal(now_ms, "resume_failed", conn, None, |r| {
                r.session_id = session_id;
                r.detail = format!("party={party:?}");
            });
            self.reply(
                conn,
                RequestResult::err(RequestError::NotFound, "no such session or token"),
            );
            return;
        }
        self.attach(session_id, party, conn, now_ms);
    }

    /// Why the operator's seat of `session_id` may not be resumed on
    /// `conn`, if it may not.
    fn operator_resume_refusal(&self, session_id: u64, conn: ConnId) -> Option<&'static str> {
        let s = self.sessions.get(&session_id)?;
        if self.config.require_client_cert_for_operators
            && !self.conns.get(&conn).is_some_and(|c| c.info.client_cert)
        {
            return Some(NO_CLIENT_CERT);
        }
        match self.store.find_account(&s.operator_username) {
            Ok(Some(a)) if !a.enabled => Some("the operator account is disabled"),
            Ok(Some(a)) if a.credential_version != s.operator_credential_version => {
                Some("the operator's password or second factor changed; log in again")
            }
            Ok(Some(_)) => None,
            Ok(None) => Some("the operator account no longer exists"),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the operator account on resume");
                Some(STORE_UNAVAILABLE)
            }
        }
    }

    fn attach(&mut self, session_id: u64, party: Party, conn: ConnId, now_ms: u64) {
        let (token, hash) = self.fresh_token();
        let Some(s) = self.sessions.get_mut(&session_id) else {
            return;
        };
        let link = match party {
            Party::Operator => &mut s.operator_link,
            Party::Customer => &mut s.customer_link,
        };
        // A party whose old connection the relay still thinks alive (a
        // half-open TCP connection) takes the session over from it.
        let previous = link.conn();
        *link = Link::Attached(conn);
        match party {
            Party::Operator => s.operator_token = hash,
            Party::Customer => s.customer_token = hash,
        }
        let other = match party {
            Party::Operator => s.customer_link,
            Party::Customer => s.operator_link,
        };
        let peer = other.conn();
        // After a restart the peer may not be back yet: say so at once.
        let peer_away_ms = match other {
            Link::Suspended { until_ms } => Some(until_ms.saturating_sub(now_ms)),
            Link::Attached(_) => None,
        };
        let time_limit_ms = s.deadline_ms.map_or(0, |d| d.saturating_sub(s.started_ms));
        let (customer, modes, full_file_control, meter, username, plaintext) = (
            s.customer.clone(),
            s.modes.clone(),
            s.full_file_control,
            s.meter.clone(),
            s.operator_username.clone(),
            s.plaintext,
        );
        if let Some(old) = previous.filter(|&old| old != conn) {
            if let Some(c) = self.conns.get_mut(&old) {
                c.sessions.remove(&session_id);
            }
            self.push(Output::Unroute {
                conn: old,
                session_id,
            });
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.sessions.insert(session_id);
        }
        self.persist_session(session_id);
        if let Some(peer) = peer {
            match party {
                Party::Operator => self.route_pair(session_id, conn, peer, &meter),
                Party::Customer => self.route_pair(session_id, peer, conn, &meter),
            }
        }
        let (peer_role, peer_name) = match party {
            Party::Operator => (Role::Customer, customer.name.clone()),
            Party::Customer => (
                Role::Operator,
                self.store
                    .find_account(&username)
                    .ok()
                    .flatten()
                    .map(|a| a.display_name)
                    .unwrap_or_default(),
            ),
        };
        let label = customer_label(&customer);
        // The peer hears first: once the resuming party has its Paired it
        // sends at once, and the peer must not take that for stray data.
        if let Some(peer) = peer {
            self.send(peer, RelayMessage::PeerResumed { session_id });
        }
        // Before Paired, so the party never takes the path for open while
        // the peer is still away (after a restart).
        if let Some(grace_ms) = peer_away_ms {
            self.send(
                conn,
                RelayMessage::PeerSuspended {
                    session_id,
                    grace_ms,
                },
            );
        }
        self.send(
            conn,
            RelayMessage::Paired(Paired {
                session_id,
                peer_role,
                peer_name,
                customer,
                time_limit_ms,
                resume_token: Secret::new(token),
                origin: PairingOrigin::Resumed,
                allowed_modes: modes,
                full_file_control,
                remote_printing: self.settings.remote_printing,
                code: String::new(),
                plaintext,
            }),
        );
        self.audit(now_ms, "session_resumed", &username, conn, |r| {
            r.session_id = session_id;
            r.customer = label;
            r.detail = format!("party={party:?}");
        });
    }

    /// Ends sessions whose suspended party did not come back in time.
    pub(crate) fn expire_suspensions(&mut self, now_ms: u64) {
        let expired: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.suspension_ends().is_some_and(|t| t <= now_ms))
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.end_session(id, EndReason::PeerLost, now_ms);
        }
    }

    /// Takes back the sessions a previous run of the relay left in the
    /// store, suspended on both sides with the grace period counted from
    /// `now_ms`. Sessions past their licence end are ended. Call once, at
    /// start-up, before serving connections; returns how many were restored.
    pub fn restore_sessions(&mut self, now_ms: u64) -> usize {
        let records = match self.store.load_sessions() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot load persisted sessions");
                return 0;
            }
        };
        let until_ms = now_ms.saturating_add(self.settings.resume_grace_ms);
        let mut restored = 0;
        for r in records {
            let warn_at_ms = r
                .deadline_ms
                .map(|d| d.saturating_sub(self.settings.time_warning_ms))
                .filter(|&w| w > now_ms);
            self.sessions.insert(
                r.session_id,
                Session {
                    operator_link: Link::Suspended { until_ms },
                    customer_link: Link::Suspended { until_ms },
                    operator_token: r.operator_token_hash,
                    customer_token: r.customer_token_hash,
                    operator_username: r.operator_username,
                    operator_credential_version: r.operator_credential_version,
                    customer: r.customer,
                    modes: r.modes,
                    full_file_control: r.full_file_control,
                    plaintext: r.plaintext,
                    // Not kept across a restart: a key exchange failing
                    // after one no longer counts against the source.
                    code_source: None,
                    started_ms: r.started_ms,
                    deadline_ms: r.deadline_ms,
                    warn_at_ms,
                    meter: Arc::new(TrafficMeter::default()),
                },
            );
            let expired =
                self.settings.resume_grace_ms == 0 || r.deadline_ms.is_some_and(|d| d <= now_ms);
            if expired {
                let reason = if self.settings.resume_grace_ms == 0 {
                    EndReason::PeerLost
                } else {
                    EndReason::TimeLimit
                };
                self.end_session(r.session_id, reason, now_ms);
            } else {
                restored += 1;
            }
        }
        if restored > 0 {
            tracing::info!(restored, "sessions waiting to be resumed");
        }
        restored
    }

    /// The relay stops to be restarted: close every connection but keep
    /// every session in the store, so the parties resume with the next run.
    pub fn shutdown_for_restart(&mut self, now_ms: u64) {
        self.stopping = true;
        let kept = self.sessions.len();
        self.audit(now_ms, "relay_restarting", "", 0, |r| {
            r.detail = format!("sessions_kept={kept}")
        });
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close(conn, CloseReason::Shutdown, "relay restarting");
        }
    }
}
