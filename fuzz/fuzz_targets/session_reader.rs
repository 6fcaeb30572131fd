//! Arbitrary envelopes from a hostile peer, fed to whole sessions (operator
//! and customer, back to back on a virtual clock) between honest traffic,
//! before and after a mode is granted. The peer holds the session's keys, so
//! its payloads are sealed and reach the decoders; with flag 0x20 they go
//! unsealed with any protection byte instead (the record layer and the key
//! exchange face them, as they would face a hostile relay). Nothing panics, the sessions' own
//! replies keep flowing, and what a peer sends stays within the budgets
//! (a malformed message is dropped and counted; the libFuzzer memory limits
//! in fuzz/budgets.txt catch anything that grows past the session's budget).
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rsupport_core::files::{IoDone, StoreError};
use rsupport_core::session::{Session, SessionEvent};
use rsupport_core::Side;
use rsupport_proto::envelope::{Envelope, PayloadProtection, Priority};
use rsupport_proto::ConnectionMode;
use rsupport_testkit::pair::{session_with, SESSION_ID};

/// Delivers honest traffic both ways, answers file IO with a failure (this
/// target has no disk), and drains events, a bounded number of rounds.
fn settle(op: &mut Session, cu: &mut Session, now: Instant) {
    for _ in 0..16 {
        let mut moved = false;
        while let Some(envelope) = op.poll_transmit() {
            let _ = cu.handle_envelope(envelope, now);
            moved = true;
        }
        while let Some(envelope) = cu.poll_transmit() {
            let _ = op.handle_envelope(envelope, now);
            moved = true;
        }
        for side in [&mut *op, &mut *cu] {
            while let Some(request) = side.poll_io() {
                let failed: Result<IoDone, StoreError> =
                    Err(StoreError::io("fuzz", std::io::ErrorKind::Unsupported));
                side.handle_io(request.id, failed, now);
                moved = true;
            }
            while side.poll_event().is_some() {}
        }
        if !moved {
            return;
        }
    }
}

/// The operator asks for `mode`; the customer allows it if asked.
fn grant(op: &mut Session, cu: &mut Session, mode: ConnectionMode, now: Instant) {
    if op.control().request_mode(mode, "fuzz").is_err() {
        return;
    }
    for envelope in std::iter::from_fn(|| op.poll_transmit()).collect::<Vec<_>>() {
        let _ = cu.handle_envelope(envelope, now);
    }
    let asked = std::iter::from_fn(|| cu.poll_event()).find_map(|e| match e {
        SessionEvent::Control(rsupport_core::session::ControlEvent::ConsentRequested {
            request_id,
            ..
        }) => Some(request_id),
        _ => None,
    });
    if let Some(id) = asked {
        let _ = cu.control().decide(id, true);
    }
    settle(op, cu, now);
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let modes = [
        ConnectionMode::ViewCustomer,
        ConnectionMode::ControlCustomer,
        ConnectionMode::ManageCustomer,
        ConnectionMode::ShareOperatorScreen,
    ];
    let mut op = session_with(Side::Operator, &ConnectionMode::ALL, flags & 0x10 != 0, None);
    let mut cu = session_with(Side::Customer, &ConnectionMode::ALL, flags & 0x10 != 0, None);
    let mut now = Instant::now();
    let from_relay = flags & 0x20 != 0;
    // Flag 0x40 (with 0x20): the hostile bytes arrive before the key
    // exchange has run, so the exchange itself faces them.
    if !(from_relay && flags & 0x40 != 0) {
        settle(&mut op, &mut cu, now);
    }
    if flags & 1 != 0 {
        let mode = modes[usize::from(flags >> 1) % modes.len()];
        grant(&mut op, &mut cu, mode, now);
    }
    let mut seq = 1_000_000;
    for chunk in rest.split(|b| *b == 0xFE).take(256) {
        let Some((&control, payload)) = chunk.split_first() else {
            continue;
        };
        seq += 1;
        let priority = Priority::ALL[usize::from(control >> 5) % Priority::COUNT];
        let payload = Bytes::copy_from_slice(payload);
        // Low bit: which side the hostile party talks to.
        let (victim, peer) = if control & 1 == 0 {
            (&mut op, &mut cu)
        } else {
            (&mut cu, &mut op)
        };
        let envelope = if from_relay {
            Some(Envelope {
                session_id: SESSION_ID,
                priority,
                protection: PayloadProtection::ALL
                    [usize::from(control >> 1) % PayloadProtection::ALL.len()],
                seq,
                payload,
            })
        } else {
            peer.wrap_raw(priority, payload)
        };
        if let Some(envelope) = envelope {
            let _ = victim.handle_envelope(envelope, now);
        }
        now += Duration::from_millis(u64::from(control >> 1) * 50);
        op.handle_timeout(now);
        cu.handle_timeout(now);
        settle(&mut op, &mut cu, now);
    }
    // Whatever happened, a picture a viewer holds is within its limits.
    for side in [&op, &cu] {
        if let Some(frame) = side.framebuffer() {
            let pixels = u64::from(frame.width()) * u64::from(frame.height());
            assert!(pixels <= rsupport_capture::codec::DEFAULT_MAX_FRAME_PIXELS);
        }
    }
});
