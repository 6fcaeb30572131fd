//! Hostile key-exchange messages: arbitrary bytes decoded as
//! `e2e::Handshake`, and fed as handshake envelopes to fresh sessions of
//! both sides (code and contact exchanges). Nothing panics, no session is
//! ever announced as encrypted with keys the fuzzer could not have, and
//! what is refused ends the session with `KeyExchangeFailed` or is dropped.
#![no_main]

use std::time::Instant;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rsupport_core::e2e::{HelpdeskKey, KeyExchange, Protection};
use rsupport_core::session::SessionEvent;
use rsupport_core::Side;
use rsupport_proto::e2e::Handshake;
use rsupport_proto::envelope::{Envelope, PayloadProtection, Priority};
use rsupport_proto::ConnectionMode;
use rsupport_testkit::pair::{code_exchange, session_keyed, SESSION_ID};

fuzz_target!(|data: &[u8]| {
    let _ = Handshake::decode(Bytes::copy_from_slice(data));
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let side = if flags & 1 == 0 {
        Side::Operator
    } else {
        Side::Customer
    };
    let exchange = match flags >> 1 & 3 {
        0 => code_exchange(),
        1 => KeyExchange::Contact {
            helpdesk: None,
            pinned: None,
        },
        _ => match HelpdeskKey::generate() {
            Ok(key) => KeyExchange::Contact {
                pinned: Some(key.public_key()),
                helpdesk: Some(key),
            },
            Err(_) => return,
        },
    };
    let mut session = session_keyed(side, &ConnectionMode::ALL, false, None, exchange);
    let now = Instant::now();
    for chunk in rest.split(|b| *b == 0xFE).take(16) {
        let envelope = Envelope {
            session_id: SESSION_ID,
            priority: Priority::Control,
            protection: PayloadProtection::Handshake,
            seq: 0,
            payload: Bytes::copy_from_slice(chunk),
        };
        let _ = session.handle_envelope(envelope, now);
        while session.poll_transmit().is_some() {}
        while let Some(event) = session.poll_event() {
            // Without the code, the fuzzer cannot complete an exchange the
            // session checks; a contact exchange without a pinned key has
            // nothing to check and may complete (that is its documented limit).
            if let SessionEvent::Protection(Protection::Encrypted { verification, .. }) = event {
                assert_eq!(
                    verification,
                    rsupport_core::e2e::Verification::Unverified,
                    "verified keys from a stranger"
                );
            }
        }
    }
});
