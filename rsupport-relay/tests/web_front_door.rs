//! The web front door on the relay's one TLS port: native clients and
//! browsers side by side, garbage and silence refused within the handshake
//! deadline, and the WebSocket carrying the native byte stream.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rsupport_net::ws::MAX_MESSAGE;
use rsupport_net::{Incoming, LinkError, RelayConnection};
use rsupport_proto::envelope::{Envelope, PayloadProtection, Priority};
use rsupport_proto::framing::{Frame, FrameKind, HEADER_LEN};
use rsupport_proto::relay::{Hello, LoginStatus, RelayMessage};
use rsupport_proto::{Role, PROTOCOL_VERSION};
use rsupport_testkit::web::{log_in, pair_by_code, WebRelay, OPERATOR, OPERATOR_PASSWORD, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

async fn relay(dir: &tempfile::TempDir) -> WebRelay {
    WebRelay::start(&dir.path().join("relay.db"), |c| {
        c.handshake_timeout_ms = 500;
    })
    .await
}

#[tokio::test]
async fn a_native_client_and_a_browser_share_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let mut native = relay.native(Role::Customer).await;
    let page = relay.get("/").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("web console is not installed"));
    assert!(page.header("content-security-policy").is_some());
    // The native connection still works after the browser's visit.
    native.send(&RelayMessage::Ping { nonce: 7 }).await.unwrap();
    assert_eq!(
        native.recv_relay().await.unwrap(),
        RelayMessage::Pong { nonce: 7 }
    );
}

/// Reads until the relay hangs up; fails if it does not within `within`.
async fn expect_hang_up(tls: &mut rsupport_testkit::web::Tls, within: Duration) {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the relay hung up in time");
}

#[tokio::test]
async fn garbage_and_silence_are_cut_and_the_relay_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    // Bytes that are neither a frame nor a request: closed as a bad frame.
    let mut garbage = relay.tls().await;
    garbage
        .write_all(b"\xff\xff\xff\xff\xffnonsense")
        .await
        .unwrap();
    expect_hang_up(&mut garbage, WAIT).await;
    // Half a request method, then silence: cut at the handshake deadline.
    let mut half = relay.tls().await;
    half.write_all(b"OPTIO").await.unwrap();
    expect_hang_up(&mut half, Duration::from_secs(5)).await;
    // Nothing at all: cut too.
    let mut silent = relay.tls().await;
    expect_hang_up(&mut silent, Duration::from_secs(5)).await;
    // A request line that never ends: hyper's header deadline.
    let mut slow = relay.tls().await;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    expect_hang_up(&mut slow, Duration::from_secs(5)).await;
    // Not HTTP after all.
    let mut bad_http = relay.tls().await;
    bad_http
        .write_all(b"GET \x00\x01\x02 nonsense\r\n\r\n")
        .await
        .unwrap();
    expect_hang_up(&mut bad_http, WAIT).await;
    assert_eq!(relay.get("/").await.status, 200);
    let _ = relay.native(Role::Customer).await;
}

#[tokio::test]
async fn with_the_web_front_door_off_http_is_just_bad_frames() {
    let dir = tempfile::tempdir().unwrap();
    let relay = WebRelay::start(&dir.path().join("relay.db"), |c| c.web_enabled = false).await;
    let mut tls = relay.tls().await;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut answer)).await;
    assert!(!answer.starts_with(b"HTTP/"));
    let _ = relay.native(Role::Customer).await;
}

fn envelope(session_id: u64, seq: u64, payload: Bytes) -> Envelope {
    Envelope {
        session_id,
        priority: Priority::Screen,
        protection: PayloadProtection::Sealed,
        seq,
        payload,
    }
}

async fn next_envelope<S>(c: &mut RelayConnection<S>) -> Envelope
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(WAIT, async {
        loop {
            if let Incoming::Session(env) = c.recv().await.unwrap() {
                return env;
            }
        }
    })
    .await
    .expect("an envelope in time")
}

#[tokio::test]
async fn an_operator_over_websocket_pairs_with_a_native_customer_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let mut op = relay.framed_ws(Role::Operator).await;
    assert_eq!(
        log_in(&mut op, OPERATOR, OPERATOR_PASSWORD).await,
        LoginStatus::Ok
    );
    let mut cu = relay.native(Role::Customer).await;
    let session_id = pair_by_code(&mut op, &mut cu).await;
    // Small and large payloads (a large one spans several WebSocket
    // messages from the relay and one big message from the browser).
    let sizes = [1usize, 1000, 64 * 1024 + 3, 300 * 1024];
    for (seq, size) in sizes.into_iter().enumerate() {
        let payload: Bytes = (0..size).map(|i| (i * 7 + seq) as u8).collect();
        let sent = envelope(session_id, seq as u64, payload.clone());
        op.send_envelope(&sent).await.unwrap();
        assert_eq!(next_envelope(&mut cu).await, sent);
        let back = envelope(session_id, 100 + seq as u64, payload);
        cu.send_envelope(&back).await.unwrap();
        assert_eq!(next_envelope(&mut op).await, back);
    }
}

fn frame(message: RelayMessage) -> Vec<u8> {
    let f = Frame::new(FrameKind::Relay, message.encode());
    [&f.header()[..], &f.body[..]].concat()
}

/// Reads until the WebSocket ends; fails if it does not in time.
async fn expect_ws_closed(ws: &mut tokio_tungstenite::WebSocketStream<rsupport_testkit::web::Tls>) {
    tokio::time::timeout(WAIT, async { while let Some(Ok(_)) = ws.next().await {} })
        .await
        .expect("the relay closed the WebSocket");
}

#[tokio::test]
async fn text_messages_and_oversize_messages_close_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let mut ws = relay.websocket(Some(&relay.origin())).await.unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    expect_ws_closed(&mut ws).await;

    // A well-formed stream (Hello, then Pings) in one message: answered
    // while the message fits, refused unread when it is one byte too big.
    let hello = frame(RelayMessage::Hello(Hello {
        min_version: PROTOCOL_VERSION,
        max_version: PROTOCOL_VERSION,
        role: Role::Customer,
        software: "web-test".into(),
    }));
    let ping = frame(RelayMessage::Ping { nonce: 1 });
    let mut ws = relay.websocket(None).await.unwrap();
    ws.send(Message::binary([hello.clone(), ping.clone()].concat()))
        .await
        .unwrap();
    let answer = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
    assert!(matches!(answer, Some(Ok(Message::Binary(_)))), "{answer:?}");

    let mut big = hello;
    while big.len() + ping.len() <= MAX_MESSAGE {
        big.extend_from_slice(&ping);
    }
    big.resize(MAX_MESSAGE + 1, 0);
    let mut ws = relay.websocket(None).await.unwrap();
    let _ = ws.send(Message::binary(big)).await;
    tokio::time::timeout(WAIT, async {
        while let Some(Ok(m)) = ws.next().await {
            // Only the relay's goodbye, never a HelloAck: nothing was read.
            if let Message::Binary(b) = m {
                let body = b.slice(HEADER_LEN..);
                let said = RelayMessage::decode(body).unwrap();
                assert!(matches!(said, RelayMessage::Close { .. }), "{said:?}");
            }
        }
    })
    .await
    .expect("the relay closed the WebSocket");

    // Pings are answered, and a socket that keeps the rules stays open.
    let mut ws = relay.websocket(None).await.unwrap();
    ws.send(Message::Ping(Bytes::from_static(b"hi")))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(Bytes::from_static(b"hi")));
}

#[tokio::test]
async fn a_page_from_another_origin_may_not_open_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let relay = WebRelay::start(&dir.path().join("relay.db"), |c| {
        c.web_allowed_origins = vec!["https://help.example.com".into()];
    })
    .await;
    match relay.websocket(Some("https://evil.example")).await {
        Err(WsError::Http(answer)) => assert_eq!(answer.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    // The vendor's listed site may.
    let ws = relay.websocket(Some("https://help.example.com")).await;
    assert!(ws.is_ok());
}

#[tokio::test]
async fn a_websocket_client_that_breaks_the_framing_is_closed_like_a_native_one() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let mut c = relay.framed_ws(Role::Customer).await;
    // A frame of an unknown kind.
    c.send_raw(&[9, 0, 0, 0, 1, 0]).await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match c.recv().await {
                Err(LinkError::Closed { .. }) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok());
}
