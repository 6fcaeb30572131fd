//! Chat-first contact: a customer asks an operator by ID, the operator
//! accepts or declines, and unanswered requests expire.
//!
//! The request is delivered whatever the programs' protocol versions
//! (refusing it would tell the asker that the operator is online); the
//! end-to-end check happens once the operator accepts (see `pairing`).

use rsupport_proto::relay::{
    ContactOperator, ContactRequest, JoinRefusal, PairingOrigin, RelayMessage, RequestError,
    RequestResult,
};
use rsupport_proto::text::clean_display_text;

use crate::broker::{Broker, ConnId};
use crate::limits::contacts::MAX_FIRST_MESSAGE_CHARS;
use crate::limits::refusals::Subject;
use crate::pairing::{
    clean_customer, customer_label, plaintext_between, Contact, Pairing, OPERATOR_CANNOT_ENCRYPT,
};

impl Broker {
    pub(crate) fn handle_contact(&mut self, conn: ConnId, c: ContactOperator, now_ms: u64) {
        let Some(source) = self.customer_may_ask(conn, now_ms) else {
            return;
        };
        // Every request counts, whatever its outcome, so probing operator
        // IDs costs as much as contacting one.
        if let Err(retry_at_ms) = self.contact_limits.source_request(source, now_ms) {
            self.audit_refusal(now_ms, "contact_rate_limited", conn, None, |r| {
                r.detail = "contact requests from this source over the allowance".into()
            });
            self.refuse(conn, JoinRefusal::RateLimited, retry_at_ms);
            return;
        }
        // Relay-wide, before the operator is looked up: says nothing about them.
        if self.sessions.len() >= self.settings.max_concurrent_sessions as usize {
            self.refuse(conn, JoinRefusal::LicenceLimit, 0);
            return;
        }
        let account = self
            .store
            .find_account_by_operator_id(&c.operator_id)
            .ok()
            .flatten();
        // Unknown, disabled and offline operators get the same answer.
        let target = account.filter(|a| a.enabled).and_then(|a| {
            let conn = self
                .online
                .get(&a.username)
                .and_then(|l| l.last().copied())?;
            Some((a.username, conn))
        });
        let Some((operator, operator_conn)) = target else {
            self.refuse(conn, JoinRefusal::OperatorOffline, 0);
            return;
        };
        if !self.contact_limits.deliver_to(&operator, now_ms) {
            self.audit_refusal(
                now_ms,
                "contact_limited",
                conn,
                Some(Subject::Operator(operator.clone())),
                |r| {
                    r.operator_username = operator.clone();
                    r.detail =
                        "the operator received the most contact requests allowed this hour".into()
                },
            );
            self.refuse(conn, JoinRefusal::OperatorOffline, 0);
            return;
        }
        let customer = clean_customer(c.customer);
        let first_message = clean_display_text(&c.first_message, MAX_FIRST_MESSAGE_CHARS);
        let contact_id = self.fresh_id();
        self.audit(now_ms, "contact_requested", &operator, conn, |r| {
            r.customer = customer_label(&customer)
        });
        self.contacts.insert(
            contact_id,
            Contact {
                customer_conn: conn,
                operator_conn,
                customer: customer.clone(),
                expires_at_ms: now_ms.saturating_add(self.config.contact_timeout_ms),
            },
        );
        if let Some(cc) = self.conns.get_mut(&conn) {
            cc.contact = Some(contact_id);
        }
        self.send(
            operator_conn,
            RelayMessage::ContactRequest(ContactRequest {
                contact_id,
                customer,
                first_message,
            }),
        );
    }

    pub(crate) fn handle_contact_answer(
        &mut self,
        conn: ConnId,
        contact_id: u64,
        accept: bool,
        now_ms: u64,
    ) {
        if self
            .contacts
            .get(&contact_id)
            .is_none_or(|c| c.operator_conn != conn)
        {
            self.reply(
                conn,
                RequestResult::err(RequestError::NotFound, "no such contact"),
            );
            return;
        }
        let Some(contact) = self.contacts.remove(&contact_id) else {
            return;
        };
        if let Some(cc) = self.conns.get_mut(&contact.customer_conn) {
            cc.contact = None;
        }
        // Checked once the operator accepts: refusing at the request would
        // tell anyone with the operator ID that it is online.
        let plaintext = plaintext_between(
            self.version_of(conn),
            self.version_of(contact.customer_conn),
        );
        if !accept {
            self.refuse(contact.customer_conn, JoinRefusal::Declined, 0);
        } else if plaintext && !self.settings.allow_plaintext_sessions {
            let operator = self
                .principal(conn)
                .map(|p| p.username.clone())
                .unwrap_or_default();
            self.audit_refusal(
                now_ms,
                "plaintext_refused",
                contact.customer_conn,
                None,
                |r| {
                    r.operator_username = operator;
                    r.detail = "the operator's program cannot encrypt end to end (protocol 1) \
                                and allow_plaintext_sessions is off"
                        .into();
                },
            );
            self.refuse(contact.customer_conn, JoinRefusal::NotEncrypted, 0);
            self.reply(
                conn,
                RequestResult::err(RequestError::InvalidArgument, OPERATOR_CANNOT_ENCRYPT),
            );
        } else if self.sessions.len() >= self.settings.max_concurrent_sessions as usize {
            self.refuse(contact.customer_conn, JoinRefusal::LicenceLimit, 0);
            self.reply(
                conn,
                RequestResult::err(RequestError::LimitReached, "licence session limit"),
            );
        } else {
            self.pair(
                conn,
                contact.customer_conn,
                contact.customer,
                Pairing {
                    origin: PairingOrigin::Contact,
                    code: String::new(),
                    code_source: None,
                    plaintext,
                },
                now_ms,
            );
        }
    }

    pub(crate) fn expire_contacts(&mut self, now_ms: u64) {
        let expired: Vec<u64> = self
            .contacts
            .iter()
            .filter(|(_, c)| c.expires_at_ms <= now_ms)
            .map(|(k, _)| *k)
            .collect();
        for id in expired {
            if let Some(c) = self.contacts.remove(&id) {
                if let Some(cc) = self.conns.get_mut(&c.customer_conn) {
                    cc.contact = None;
                }
                self.refuse(c.customer_conn, JoinRefusal::Declined, 0);
            }
        }
    }
}
