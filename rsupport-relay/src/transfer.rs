//! Handing a running session to a colleague: `TransferSession` →
//! `SessionOffer` to the colleague → `SessionOfferAnswer` → the customer is
//! re-routed to the colleague, who becomes the session's operator.
//!
//! Inviting a colleague as a second viewer (`InviteOperator`) needs fan-out
//! routing and is not supported yet.
//!
//! Only plaintext sessions can be handed over: in an end-to-end encrypted
//! session the colleague would have no keys. A hand-over with the
//! customer's confirmation (issue 17) will change that; until then both
//! requests are refused for encrypted sessions with [`E2E_HANDOVER_REFUSED`].

use rsupport_proto::relay::{
    Paired, PairingOrigin, RelayMessage, RequestError, RequestResult, Secret, SessionHandover,
    SessionOffer,
};
use rsupport_proto::{EndReason, Role};

use super::broker::{Broker, ConnId, Output};
use super::pairing::Link;

/// Why a transfer or invitation of an end-to-end encrypted session is refused.
pub(crate) const E2E_HANDOVER_REFUSED: &str = "this session is end-to-end encrypted; handing it \
     over needs the customer's confirmation, which this relay version does not support yet";

/// A transfer waiting for the colleague's answer.
#[derive(Debug)]
pub(crate) struct Offer {
    pub(crate) session_id: u64,
    pub(crate) from_conn: ConnId,
    pub(crate) to_conn: ConnId,
    pub(crate) expires_at_ms: u64,
}

impl Broker {
    pub(crate) fn handle_transfer(&mut self, conn: ConnId, h: SessionHandover, now_ms: u64) {
        let Some(session) = self
            .sessions
            .get(&h.session_id)
            .filter(|s| s.operator_link.is(conn))
        else {
            self.reply(
                conn,
                RequestResult::err(RequestError::NotFound, "no such session"),
            );
            return;
        };
        if !session.plaintext {
            self.reply(
                conn,
                RequestResult::err(RequestError::InvalidArgument, E2E_HANDOVER_REFUSED),
            );
            return;
        }
        let customer = session.customer.clone();
        let target = self
            .store
            .find_account_by_operator_id(&h.operator_id)
            .ok()
            .flatten()
            .filter(|a| a.enabled)
            .and_then(|a| self.online.get(&a.username).and_then(|l| l.last().copied()))
            .filter(|&c| c != conn);
        let Some(to_conn) = target else {
            self.reply(
                conn,
                RequestResult::err(RequestError::NotFound, "colleague not online"),
            );
            return;
        };
        let from_username = self
            .principal(conn)
            .map(|p| p.username.clone())
            .unwrap_or_default();
        let from_operator_id = self
            .store
            .find_account(&from_username)
            .ok()
            .flatten()
            .map(|a| a.operator_id)
            .unwrap_or_default();
        let offer_id = self.fresh_id();
        self.offers.insert(
            offer_id,
            Offer {
                session_id: h.session_id,
                from_conn: conn,
                to_conn,
                expires_at_ms: now_ms.saturating_add(self.config.contact_timeout_ms),
            },
        );
        self.send(
            to_conn,
            RelayMessage::SessionOffer(SessionOffer {
                offer_id,
                session_id: h.session_id,
                from_operator_id,
                customer,
                note: h.note,
                transfer: true,
            }),
        );
        self.reply(conn, RequestResult::ok());
    }

    /// `InviteOperator`: not supported; for an end-to-end encrypted session
    /// the answer says why it could not work either way.
    pub(crate) fn handle_invite(&mut self, conn: ConnId, h: SessionHandover) {
        let encrypted = self
            .sessions
            .get(&h.session_id)
            .is_some_and(|s| s.has(conn) && !s.plaintext);
        let detail = if encrypted {
            E2E_HANDOVER_REFUSED
        } else {
            "not supported by this relay version"
        };
        self.reply(
            conn,
            RequestResult::err(RequestError::InvalidArgument, detail),
        );
    }

    pub(crate) fn handle_offer_answer(
        &mut self,
        conn: ConnId,
        offer_id: u64,
        accept: bool,
        now_ms: u64,
    ) {
        if self.offers.get(&offer_id).is_none_or(|o| o.to_conn != conn) {
            self.reply(
                conn,
                RequestResult::err(RequestError::NotFound, "no such offer"),
            );
            return;
        }
        let Some(offer) = self.offers.remove(&offer_id) else {
            return;
        };
        let still_there = self
            .sessions
            .get(&offer.session_id)
            .is_some_and(|s| s.operator_link.is(offer.from_conn));
        if !accept || !still_there {
            let detail = if accept {
                "session is over"
            } else {
                "colleague declined"
            };
            self.reply(
                offer.from_conn,
                RequestResult::err(RequestError::NotAuthorized, detail),
            );
            if !still_there {
                self.reply(conn, RequestResult::err(RequestError::NotFound, detail));
            }
            return;
        }
        self.move_session(offer.session_id, offer.from_conn, conn, now_ms);
    }

    /// Re-routes `session_id` from operator connection `from` to `to`.
    fn move_session(&mut self, session_id: u64, from: ConnId, to: ConnId, now_ms: u64) {
        let Some(to_principal) = self.principal(to).cloned() else {
            return;
        };
        let from_user = self
            .principal(from)
            .map(|p| p.username.clone())
            .unwrap_or_default();
        let account = self
            .store
            .find_account(&to_principal.username)
            .ok()
            .flatten();
        let (modes, full_file_control, credential_version) = account
            .map(|a| (a.allowed_modes, a.full_file_control, a.credential_version))
            .unwrap_or_default();
        let (operator_token, operator_hash) = self.fresh_token();
        let (customer_token, customer_hash) = self.fresh_token();
        let Some(s) = self.sessions.get_mut(&session_id) else {
            return;
        };
        s.operator_link = Link::Attached(to);
        s.operator_username = to_principal.username.clone();
        s.operator_credential_version = credential_version;
        s.modes = modes.clone();
        s.full_file_control = full_file_control;
        s.operator_token = operator_hash;
        // A suspended customer keeps its token: it cannot hear a new one.
        let customer_conn = s.customer_link.conn();
        if customer_conn.is_some() {
            s.customer_token = customer_hash;
        }
        let (customer, meter, started_ms, plaintext) = (
            s.customer.clone(),
            s.meter.clone(),
            s.started_ms,
            s.plaintext,
        );
        let time_limit_ms = s.deadline_ms.map_or(0, |d| d.saturating_sub(started_ms));

        if let Some(c) = self.conns.get_mut(&from) {
            c.sessions.remove(&session_id);
        }
        if let Some(c) = self.conns.get_mut(&to) {
            c.sessions.insert(session_id);
        }
        self.push(Output::Unroute {
            conn: from,
            session_id,
        });
        self.send(
            from,
            RelayMessage::SessionEnded {
                session_id,
                reason: EndReason::Transferred,
                duration_ms: now_ms.saturating_sub(started_ms),
            },
        );
        self.persist_session(session_id);
        if let Some(customer_conn) = customer_conn {
            self.route_pair(session_id, to, customer_conn, &meter);
        }
        let mut paired = vec![(to, Role::Customer, customer.name.clone(), operator_token)];
        if let Some(customer_conn) = customer_conn {
            paired.push((
                customer_conn,
                Role::Operator,
                to_principal.display_name.clone(),
                customer_token,
            ));
        }
        for (dest, peer_role, peer_name, token) in paired {
            self.send(
                dest,
                RelayMessage::Paired(Paired {
                    session_id,
                    peer_role,
                    peer_name,
                    customer: customer.clone(),
                    time_limit_ms,
                    resume_token: Secret::new(token),
                    origin: PairingOrigin::Transfer,
                    allowed_modes: modes.clone(),
                    full_file_control,
                    remote_printing: self.settings.remote_printing,
                    code: String::new(),
                    plaintext,
                }),
            );
        }
        let to_user = to_principal.username;
        self.audit(now_ms, "session_transferred", &to_user, to, |r| {
            r.session_id = session_id;
            r.detail = format!("from {from_user} to {to_user}");
        });
    }

    pub(crate) fn expire_offers(&mut self, now_ms: u64) {
        let expired: Vec<u64> = self
            .offers
            .iter()
            .filter(|(_, o)| o.expires_at_ms <= now_ms)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            if let Some(o) = self.offers.remove(&id) {
                self.reply(
                    o.from_conn,
                    RequestResult::err(RequestError::NotAuthorized, "colleague did not answer"),
                );
            }
        }
    }
}
