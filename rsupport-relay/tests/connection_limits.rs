//! Connection slots over real TLS on loopback (H3, L3): one source cannot
//! take more than its share, half-open sockets count, and a trusted load
//! balancer's PROXY header decides who the source is.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_net::tls::{client_config, Trust};
use rsupport_net::RelayConnection;
use rsupport_proto::Role;
use rsupport_relay::store::SqliteStore;
use rsupport_relay::{Relay, RelayConfig, RunningRelay};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

struct TestRelay {
    addr: SocketAddr,
    fingerprint: [u8; 32],
    _running: RunningRelay,
}

async fn start(tune: impl FnOnce(&mut RelayConfig)) -> TestRelay {
    let (identity, _, _) = rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
    let fingerprint = identity.fingerprint();
    let running = Relay::builder()
        .configure(|c| {
            c.argon2 = rsupport_relay::auth::Argon2Params::insecure_fast();
            tune(c);
        })
        .store(SqliteStore::in_memory().unwrap())
        .identity(identity)
        .rng(StdRng::seed_from_u64(4))
        .start("127.0.0.1:0")
        .await
        .unwrap();
    TestRelay {
        addr: running.local_addr(),
        fingerprint,
        _running: running,
    }
}

/// A TCP connection to the relay from `source` (any 127.0.0.0/8 address is
/// loopback on Linux, so each one is a different source).
async fn tcp_from(relay: &TestRelay, source: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse().unwrap(), 0))
        .unwrap();
    socket.connect(relay.addr).await.unwrap()
}

/// TLS and `Hello` over `tcp`, after sending `preamble` (a PROXY header).
type Conn = RelayConnection<tokio_rustls::client::TlsStream<TcpStream>>;

async fn hello_over(
    relay: &TestRelay,
    mut tcp: TcpStream,
    preamble: &[u8],
) -> Result<Conn, String> {
    tcp.write_all(preamble).await.map_err(|e| e.to_string())?;
    let tls = client_config(Trust::Fingerprint(relay.fingerprint), None).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .map_err(|_| "TLS timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let mut conn = RelayConnection::new(stream);
    tokio::time::timeout(
        Duration::from_secs(10),
        conn.hello(Role::Customer, "limits test"),
    )
    .await
    .map_err(|_| "Hello timed out".to_string())?
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

async fn hello_from(relay: &TestRelay, source: &str) -> Result<Conn, String> {
    hello_over(relay, tcp_from(relay, source).await, b"").await
}

#[tokio::test]
async fn one_source_cannot_take_every_slot_even_with_half_open_sockets() {
    let relay = start(|c| c.max_connections_per_source = 20).await;
    // 20 sockets that never start TLS: half-open, but they count.
    let mut half_open = Vec::new();
    for _ in 0..20 {
        half_open.push(tcp_from(&relay, "127.0.0.1").await);
    }
    // The 21st connection from that source is refused...
    assert!(hello_from(&relay, "127.0.0.1").await.is_err());
    // ...while another source connects.
    let _other = hello_from(&relay, "127.0.0.2").await.unwrap();
    // Closing one frees its slot (once the relay has seen it go).
    drop(half_open.pop());
    let mut ok = false;
    for _ in 0..100 {
        if hello_from(&relay, "127.0.0.1").await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "a freed slot can be used again");
}

fn proxy_v1(client: &str) -> Vec<u8> {
    format!("PROXY TCP4 {client} 127.0.0.1 40000 7443\r\n").into_bytes()
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_the_limits_count() {
    let relay = start(|c| {
        c.max_connections_per_source = 2;
        c.trusted_proxies = vec!["127.0.0.0/30".into()];
    })
    .await;
    let mut kept = Vec::new();
    for _ in 0..2 {
        let tcp = tcp_from(&relay, "127.0.0.1").await;
        kept.push(
            hello_over(&relay, tcp, &proxy_v1("198.51.100.7"))
                .await
                .unwrap(),
        );
    }
    // A third for the same real client is refused...
    let tcp = tcp_from(&relay, "127.0.0.1").await;
    assert!(hello_over(&relay, tcp, &proxy_v1("198.51.100.7"))
        .await
        .is_err());
    // ...though the proxy's own address is not capped: other clients pass.
    for client in ["198.51.100.8", "198.51.100.9"] {
        let tcp = tcp_from(&relay, "127.0.0.1").await;
        kept.push(hello_over(&relay, tcp, &proxy_v1(client)).await.unwrap());
    }
    // A trusted proxy may also connect without a header (a health check).
    hello_from(&relay, "127.0.0.2").await.unwrap();
}

#[tokio::test]
async fn a_proxy_header_from_an_untrusted_peer_is_refused() {
    let relay = start(|_| {}).await;
    let tcp = tcp_from(&relay, "127.0.0.1").await;
    assert!(hello_over(&relay, tcp, &proxy_v1("198.51.100.7"))
        .await
        .is_err());
    // The same peer without a header is served.
    hello_from(&relay, "127.0.0.1").await.unwrap();
}
