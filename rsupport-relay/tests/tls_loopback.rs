//! The relay over real TLS on loopback: certificate pinning, a TLS 1.2-only
//! client, a full pairing with forwarding, bad input closing only the
//! offending connection, and graceful shutdown.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_net::tls::{client_config, Trust};
use rsupport_net::{connect, Incoming, LinkError, RelayConnection};
use rsupport_proto::envelope::{Envelope, PayloadProtection, Priority};
use rsupport_proto::relay::{LoginStatus, RelayMessage};
use rsupport_proto::{CloseReason, EndReason, Role};
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{
    bootstrap_admin, create_account, AccountSpec, Relay, RelayConfig, RunningRelay, ShutdownMode,
};
use rsupport_testkit::web::{log_in, pair_by_code};
use tokio::net::TcpStream;

const PW: &str = "Operator1";

struct TestRelay {
    addr: SocketAddr,
    /// The relay's database file (readable while it runs: SQLite WAL).
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
    fingerprint: [u8; 32],
    /// The relay's certificate (PEM), for clients that trust it as a root.
    cert_pem: String,
    running: RunningRelay,
}

async fn start_relay() -> TestRelay {
    start_relay_with(|_| {}).await
}

async fn start_relay_with(tune: impl FnOnce(&mut RelayConfig)) -> TestRelay {
    let (identity, cert_pem, _) =
        rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
    let fingerprint = identity.fingerprint();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let mut store = SqliteStore::open(&db).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let fast = Argon2Params::insecure_fast();
    bootstrap_admin(
        &mut store,
        "root",
        "violet-kettle-harbor-42",
        fast,
        &mut rng,
        0,
    )
    .unwrap();
    let operator = AccountSpec {
        username: "aiko",
        display_name: "Aiko",
        password: PW,
        role: Role::Operator,
    };
    create_account(&mut store, operator, fast, &mut rng, 0).unwrap();

    let running = Relay::builder()
        .configure(|relay| {
            relay.argon2 = fast;
            relay.handshake_timeout_ms = 300;
            relay.idle_timeout_ms = 600;
            tune(relay);
        })
        .store(store)
        .identity(identity)
        .rng(StdRng::seed_from_u64(4))
        .start("127.0.0.1:0")
        .await
        .unwrap();
    TestRelay {
        addr: running.local_addr(),
        db,
        _dir: dir,
        fingerprint,
        cert_pem,
        running,
    }
}

type Conn = RelayConnection<tokio_rustls::client::TlsStream<TcpStream>>;

async fn client(relay: &TestRelay, role: Role) -> Conn {
    let tls = client_config(Trust::Fingerprint(relay.fingerprint), None).unwrap();
    let mut c = connect(relay.addr, "localhost", tls).await.unwrap();
    c.hello(role, "test").await.unwrap();
    c
}

async fn operator(relay: &TestRelay) -> Conn {
    let mut c = client(relay, Role::Operator).await;
    assert_eq!(log_in(&mut c, "aiko", PW).await, LoginStatus::Ok);
    c
}

/// An operator and a customer paired through a session code.
async fn pair(relay: &TestRelay) -> (Conn, Conn, u64) {
    let mut op = operator(relay).await;
    let mut cu = client(relay, Role::Customer).await;
    let id = pair_by_code(&mut op, &mut cu).await;
    (op, cu, id)
}

fn envelope(session_id: u64, priority: Priority, seq: u64, payload: &[u8]) -> Envelope {
    Envelope {
        session_id,
        priority,
        protection: PayloadProtection::Sealed,
        seq,
        payload: Bytes::copy_from_slice(payload),
    }
}

async fn expect_closed(c: &mut Conn, want: CloseReason) {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), c.recv())
            .await
            .expect("closed in time")
        {
            Err(LinkError::Closed { reason, .. }) => return assert_eq!(reason, want),
            Err(e) => panic!("expected Close({want:?}), got {e}"),
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn fingerprint_pinning_accepts_the_relay_and_rejects_another_certificate() {
    let relay = start_relay().await;
    let _ok = client(&relay, Role::Customer).await;

    let (other, _, _) = rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
    let tls = client_config(Trust::Fingerprint(other.fingerprint()), None).unwrap();
    assert!(matches!(
        connect(relay.addr, "localhost", tls).await,
        Err(LinkError::Io(_))
    ));
}

#[tokio::test]
async fn a_tls_1_2_only_client_is_served_and_verifies_the_relay() {
    let relay = start_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("relay-cert.pem");
    std::fs::write(&pem, &relay.cert_pem).unwrap();
    let roots = rsupport_net::tls::roots_from_pem(&pem).unwrap();
    let tls12_only = |roots| {
        rustls::ClientConfig::builder_with_provider(rsupport_net::tls::provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
    };
    let mut c = connect(
        relay.addr,
        "localhost",
        std::sync::Arc::new(tls12_only(roots)),
    )
    .await
    .unwrap();
    c.hello(Role::Customer, "tls12 test").await.unwrap();

    // The same client refuses a relay whose certificate it does not trust.
    let (other, other_pem, _) =
        rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
    assert_ne!(other.fingerprint(), relay.fingerprint);
    std::fs::write(&pem, other_pem).unwrap();
    let wrong_roots = rsupport_net::tls::roots_from_pem(&pem).unwrap();
    assert!(connect(
        relay.addr,
        "localhost",
        std::sync::Arc::new(tls12_only(wrong_roots))
    )
    .await
    .is_err());
}

#[tokio::test]
async fn paired_parties_exchange_opaque_envelopes_unchanged() {
    let relay = start_relay().await;
    let (mut op, mut cu, sid) = pair(&relay).await;
    let sent = envelope(sid, Priority::Screen, 1, b"\x00sealed\xffbytes");
    cu.send_envelope(&sent).await.unwrap();
    assert_eq!(op.recv().await.unwrap(), Incoming::Session(sent.clone()));
    let back = envelope(sid, Priority::Input, 7, &[9u8; 20_000]);
    op.send_envelope(&back).await.unwrap();
    assert_eq!(cu.recv().await.unwrap(), Incoming::Session(back.clone()));

    // Split halves work from different tasks.
    let (mut op_rx, mut op_tx) = op.into_split();
    let echo = tokio::spawn(async move {
        let Incoming::Session(e) = op_rx.recv().await.unwrap() else {
            panic!()
        };
        op_tx.send_envelope(&e).await.unwrap();
        (op_rx, op_tx)
    });
    let ping = envelope(sid, Priority::Chat, 3, b"echo me");
    cu.send_envelope(&ping).await.unwrap();
    assert_eq!(cu.recv().await.unwrap(), Incoming::Session(ping.clone()));
    let (mut op_rx, mut op_tx) = echo.await.unwrap();

    // A session id that is not the sender's is never delivered.
    cu.send_envelope(&envelope(sid ^ 1, Priority::Chat, 2, b"stray"))
        .await
        .unwrap();
    cu.send(&RelayMessage::Ping { nonce: 5 }).await.unwrap();
    assert_eq!(
        cu.recv().await.unwrap(),
        Incoming::Relay(RelayMessage::Pong { nonce: 5 })
    );
    op_tx.send(&RelayMessage::Ping { nonce: 6 }).await.unwrap();
    assert_eq!(
        op_rx.recv().await.unwrap(),
        Incoming::Relay(RelayMessage::Pong { nonce: 6 }),
        "no stray frame arrived first"
    );

    cu.send(&RelayMessage::LeaveSession {
        session_id: sid,
        reason: EndReason::CustomerEnded,
    })
    .await
    .unwrap();
    assert!(matches!(
        op_rx.recv().await.unwrap(),
        Incoming::Relay(RelayMessage::SessionEnded {
            reason: EndReason::CustomerEnded,
            ..
        })
    ));

    // The history has the session with the bytes forwarded each way (frame headers included).
    let store = SqliteStore::open(&relay.db).unwrap();
    let rows = store.query_audit(&Default::default(), 1000).unwrap();
    let row = rows
        .iter()
        .find(|r| r.kind == "session_ended")
        .expect("session audited");
    assert_eq!(row.session_id, sid);
    assert_eq!(row.customer, "Bob");
    assert_eq!(
        row.bytes_to_operator,
        (10 + sent.encode().len() + ping.encode().len()) as u64
    );
    assert_eq!(
        row.bytes_to_customer,
        (10 + back.encode().len() + ping.encode().len()) as u64
    );
    assert_eq!(row.end_reason, Some(EndReason::CustomerEnded));
}

/// The next session envelope, skipping relay messages (keep-alive pongs).
async fn recv_session(c: &mut Conn) -> Envelope {
    loop {
        if let Incoming::Session(e) = c.recv().await.unwrap() {
            return e;
        }
    }
}

#[tokio::test]
async fn bad_input_closes_only_the_offending_connection() {
    let relay = start_relay().await;
    let (mut op, mut cu, sid) = pair(&relay).await;

    let attacks = async {
        // Garbage: an unknown frame kind.
        let mut garbage = client(&relay, Role::Customer).await;
        garbage.send_raw(b"\x7fnot a frame").await.unwrap();
        expect_closed(&mut garbage, CloseReason::Malformed).await;

        // An oversized frame announced in the header.
        let mut big = client(&relay, Role::Customer).await;
        big.send_raw(&[0x02, 0xff, 0xff, 0xff, 0xff]).await.unwrap();
        expect_closed(&mut big, CloseReason::TooLarge).await;

        // A relay frame whose body is not a RelayMessage.
        let mut bad = client(&relay, Role::Customer).await;
        bad.send_raw(&[0x01, 0, 0, 0, 3, 0xff, 0xff, 0xff])
            .await
            .unwrap();
        expect_closed(&mut bad, CloseReason::Malformed).await;

        // A slow handshake: TCP connected, no TLS bytes: dropped after the handshake timeout.
        let mut slow = TcpStream::connect(relay.addr).await.unwrap();
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut slow, &mut byte),
        )
        .await
        .expect("closed in time");
        assert!(matches!(n, Ok(0) | Err(_)));

        // Half-open after Hello: closed by the idle timeout.
        let mut silent = client(&relay, Role::Customer).await;
        expect_closed(&mut silent, CloseReason::Timeout).await;
    };
    // Meanwhile the paired parties stay alive by pinging, as real clients do.
    let keepalive = async {
        for nonce in 0.. {
            cu.send(&RelayMessage::Ping { nonce }).await.unwrap();
            op.send(&RelayMessage::Ping { nonce }).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        _ = attacks => {}
        _ = keepalive => {}
    }

    // The paired session kept working throughout.
    let e = envelope(sid, Priority::Control, 1, b"still here");
    cu.send_envelope(&e).await.unwrap();
    assert_eq!(recv_session(&mut op).await, e);
}

#[tokio::test]
async fn shutdown_ends_sessions_and_says_goodbye() {
    let relay = start_relay().await;
    let (mut op, mut cu, _sid) = pair(&relay).await;
    let stopped = tokio::spawn(relay.running.stop(ShutdownMode::EndSessions));
    for c in [&mut op, &mut cu] {
        assert!(matches!(
            c.recv_relay().await.unwrap(),
            RelayMessage::SessionEnded {
                reason: EndReason::RelayShutdown,
                ..
            }
        ));
        expect_closed(c, CloseReason::Shutdown).await;
    }
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_slow_consumer_is_closed_instead_of_growing_memory() {
    let relay = start_relay_with(|c| {
        c.idle_timeout_ms = 30_000;
        c.slow_consumer_timeout_ms = 500;
    })
    .await;
    let (mut op, mut cu, sid) = pair(&relay).await;
    // The operator stops reading; the customer sends 32 MiB of bulk data. The
    // relay pauses the customer at the soft limit, then gives up on the operator.
    let chunk = vec![1u8; 256 * 1024];
    for seq in 0..128u64 {
        cu.send_envelope(&envelope(sid, Priority::Bulk, seq, &chunk))
            .await
            .unwrap();
    }
    // The session waits for the operator to resume; the customer is told.
    match cu.recv().await.unwrap() {
        Incoming::Relay(RelayMessage::PeerSuspended { session_id, .. }) => {
            assert_eq!(session_id, sid)
        }
        other => panic!("{other:?}"),
    }
    // The operator finds its connection gone (a `Close` cannot get through a full socket).
    loop {
        match op.recv().await {
            Ok(_) => {}
            Err(LinkError::Closed { reason, .. }) => {
                break assert_eq!(reason, CloseReason::SlowConsumer)
            }
            Err(LinkError::Eof | LinkError::Io(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_and_others_keep_working() {
    let relay = start_relay_with(|c| c.max_connections = 2).await;
    let mut first = client(&relay, Role::Customer).await;
    let _second = client(&relay, Role::Customer).await;
    let tls = client_config(Trust::Fingerprint(relay.fingerprint), None).unwrap();
    let third = async {
        let mut c = connect(relay.addr, "localhost", tls.clone()).await?;
        c.hello(Role::Customer, "t").await.map(|_| ())
    };
    assert!(third.await.is_err(), "the third connection is dropped");
    first.send(&RelayMessage::Ping { nonce: 1 }).await.unwrap();
    assert_eq!(
        first.recv().await.unwrap(),
        Incoming::Relay(RelayMessage::Pong { nonce: 1 })
    );
    // A slot frees when a connection leaves.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ok(mut c) = connect(relay.addr, "localhost", tls.clone()).await {
            if c.hello(Role::Customer, "t").await.is_ok() {
                again = Some(c);
                break;
            }
        }
    }
    assert!(again.is_some(), "a freed slot is reusable");
}
