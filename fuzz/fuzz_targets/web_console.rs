//! The browser console's input path: a logged-in console with one session
//! receives what a hostile relay (or a compromised network path before the
//! end-to-end layer) sends: any relay-control messages and session frames,
//! and raw bytes cut anywhere. It must never panic, and what it queues for
//! the page and the socket stays bounded.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rsupport_proto::framing::{encode_frame, FrameKind, FrameLimits};
use rsupport_proto::relay::{
    CustomerInfo, HelloAck, LoginResult, LoginStatus, Paired, PairingOrigin, RelayMessage, Secret,
};
use rsupport_proto::{ConnectionMode, Role};
use rsupport_web::Console;
use web_time::Instant;

fn frame(kind: FrameKind, body: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    encode_frame(kind, body, &FrameLimits::default(), &mut out).expect("a small frame encodes");
    out.to_vec()
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut console = Console::new("fuzz");
    let hello = RelayMessage::HelloAck(HelloAck {
        version: rsupport_proto::PROTOCOL_VERSION,
        relay_name: "relay".into(),
        now_ms: 0,
    });
    console.receive(&frame(FrameKind::Relay, &hello.encode()), now);
    let login = RelayMessage::LoginResult(LoginResult {
        status: LoginStatus::Ok,
        blocked_until_ms: 0,
        role: Some(Role::Operator),
        operator_id: "123456789".into(),
        display_name: "Op".into(),
        allowed_modes: ConnectionMode::ALL.to_vec(),
        full_file_control: false,
        must_change_password: false,
    });
    console.receive(&frame(FrameKind::Relay, &login.encode()), now);
    let paired = RelayMessage::Paired(Paired {
        session_id: 7,
        peer_role: Role::Customer,
        peer_name: "Bob".into(),
        customer: CustomerInfo::default(),
        time_limit_ms: 0,
        resume_token: Secret::new(Bytes::from_static(&[1; 32])),
        origin: PairingOrigin::SessionCode,
        allowed_modes: ConnectionMode::ALL.to_vec(),
        full_file_control: false,
        remote_printing: true,
        code: "1234567".into(),
        plaintext: false,
    });
    console.receive(&frame(FrameKind::Relay, &paired.encode()), now);
    // The input: records of [kind, len_hi, len_lo, body…] become frames;
    // kind 0xff sends the rest as raw bytes (cut frames, garbage headers).
    let mut rest = data;
    while let [kind, hi, lo, tail @ ..] = rest {
        if *kind == 0xff {
            console.receive(tail, now);
            break;
        }
        let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        let (body, after) = tail.split_at(len);
        let kind = if kind % 2 == 0 { FrameKind::Relay } else { FrameKind::Session };
        console.receive(&frame(kind, body), now);
        console.handle_timeout(now);
        rest = after;
    }
    let mut events = 0;
    while console.poll_event().is_some() {
        events += 1;
    }
    assert!(events <= 4096 + 16, "the page's queue is bounded: {events}");
    let mut outgoing = 0usize;
    while let Some(bytes) = console.poll_outgoing() {
        outgoing += bytes.len();
    }
    assert!(outgoing <= 64 * 1024 * 1024, "the socket's queue is bounded: {outgoing}");
});
