//! Protocol walk-through: what an operator and a customer say to each other
//! during a session, framed, routed by envelope header, and decoded on the
//! other side — all in memory.
//!
//! Run with `cargo run --example demo`. (The full demo — relay, operator and
//! client on loopback TLS — replaces this once the session layer lands.)

use bytes::BytesMut;
use rsupport::proto::annotate::{AnnotateMessage, Argb};
use rsupport::proto::chat::{ChatMessage, ChatText};
use rsupport::proto::control::{ConsentDecision, ControlMessage};
use rsupport::proto::envelope::Envelope;
use rsupport::proto::files::{FileEntry, FileMessage, FileOffer};
use rsupport::proto::framing::{encode_frame, FrameDecoder, FrameKind, FrameLimits};
use rsupport::proto::session::SessionMessage;
use rsupport::proto::{negotiate, ConnectionMode, EndReason, Point, PROTOCOL_VERSION};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let version = negotiate(1, PROTOCOL_VERSION)?;
    println!("protocol version negotiated: {version}");

    let session_id = 4711;
    let script: Vec<(&str, SessionMessage)> = vec![
        (
            "operator",
            ControlMessage::ModeRequest {
                request_id: 1,
                mode: ConnectionMode::ControlCustomer,
                reason: "to check your printer settings".into(),
            }
            .into(),
        ),
        (
            "customer",
            ControlMessage::ModeAnswer {
                request_id: 1,
                decision: ConsentDecision::Allow,
                mode: Some(ConnectionMode::ControlCustomer),
            }
            .into(),
        ),
        (
            "customer",
            ChatMessage::Text(ChatText {
                id: 1,
                text: "プリンターが動きません".into(),
                sent_at_ms: 0,
                sender_name: "Customer".into(),
            })
            .into(),
        ),
        (
            "operator",
            AnnotateMessage::StrokeBegin {
                stroke_id: 1,
                color: Argb::new(255, 255, 0, 0),
                width_centipx: 400,
                start: Point::new(640, 360),
                monitor_id: 0,
            }
            .into(),
        ),
        (
            "operator",
            FileMessage::Offer(FileOffer {
                transfer_id: 1,
                entries: vec![FileEntry {
                    path: "drivers/setup.exe".into(),
                    size: 18_000_000,
                    directory: false,
                    modified_ms: 0,
                }],
            })
            .into(),
        ),
        (
            "operator",
            ControlMessage::End {
                reason: EndReason::OperatorEnded,
                detail: "solved".into(),
            }
            .into(),
        ),
    ];

    // Sender side: message → envelope → frame, all onto one byte stream.
    let limits = FrameLimits::default();
    let mut wire = BytesMut::new();
    for (seq, (_, message)) in script.iter().enumerate() {
        let envelope = message.into_envelope(session_id, seq as u64);
        encode_frame(FrameKind::Session, &envelope.encode(), &limits, &mut wire)?;
    }
    println!("{} messages framed into {} bytes", script.len(), wire.len());

    // Receiver side: the relay reads only the envelope header; the peer decodes the payload.
    let mut decoder = FrameDecoder::new(limits);
    let mut received = 0;
    while let Some(frame) = decoder.decode(&mut wire)? {
        let size = frame.wire_len();
        let envelope = Envelope::decode(frame.body)?;
        let message = SessionMessage::decode(envelope.payload.clone())?;
        let (from, sent) = &script[received];
        assert_eq!(&message, sent, "decoded message differs from the one sent");
        println!(
            "  {from:>8} → seq {} {:?} ({size} bytes): {}",
            envelope.seq,
            envelope.priority,
            summary(&message)
        );
        received += 1;
    }
    println!("all {received} messages arrived intact");
    Ok(())
}

fn summary(message: &SessionMessage) -> &'static str {
    match message {
        SessionMessage::Control(ControlMessage::ModeRequest { .. }) => "asks for remote control",
        SessionMessage::Control(ControlMessage::ModeAnswer { .. }) => "allows remote control",
        SessionMessage::Control(ControlMessage::End { .. }) => "ends the session",
        SessionMessage::Chat(_) => "chat line",
        SessionMessage::Annotate(_) => "starts drawing",
        SessionMessage::File(_) => "offers a file",
        _ => "other",
    }
}
