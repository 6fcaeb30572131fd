//! A relay front that sees what a compromised relay machine sees: it
//! terminates the parties' TLS with its own certificate, re-encrypts to the
//! real relay, and records every frame it forwards, decoded from TLS.
//!
//! With [`Tap::man_in_the_middle`] it also takes part in the end-to-end key
//! exchange: it keeps each party's exchange messages from the relay and
//! answers them from a session of its own keyed with a guessed code, as a
//! relay that wanted to read the session would.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rsupport_client::RelayTarget;
use rsupport_core::e2e::KeyExchange;
use rsupport_core::session::Session;
use rsupport_core::Side;
use rsupport_net::tls::{fingerprint_hex, Identity, Trust};
use rsupport_net::{Incoming, RelayConnection};
use rsupport_proto::envelope::{Envelope, PayloadProtection};
use rsupport_proto::relay::RelayMessage;
use rsupport_proto::Role;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A recording (and optionally meddling) front for a relay on loopback.
pub struct Tap {
    addr: SocketAddr,
    fingerprint: String,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Every frame body forwarded, both ways, concatenated.
    recorded: Mutex<Vec<u8>>,
    /// The session envelopes among them, as the relay decodes them.
    envelopes: Mutex<Vec<Envelope>>,
    /// Secret digits the meddling tap guesses (`None`: only records).
    guess: Option<String>,
    /// Exchange messages the tap kept from the relay.
    intercepted: Mutex<u64>,
}

impl Tap {
    /// A tap in front of the relay at `relay` (whose certificate has the
    /// SHA-256 `relay_fingerprint`) that records and forwards.
    pub async fn start(relay: SocketAddr, relay_fingerprint: &str) -> Tap {
        Self::start_with(relay, relay_fingerprint, None).await
    }

    /// A tap that also runs its own key exchange with each party, guessing
    /// the code's secret digits as `guess`.
    pub async fn man_in_the_middle(relay: SocketAddr, relay_fingerprint: &str, guess: &str) -> Tap {
        Self::start_with(relay, relay_fingerprint, Some(guess.to_owned())).await
    }

    async fn start_with(relay: SocketAddr, relay_fingerprint: &str, guess: Option<String>) -> Tap {
        let (identity, _, _) =
            rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
        let fingerprint = fingerprint_hex(&identity.fingerprint());
        let acceptor = TlsAcceptor::from(tls_server(identity));
        let upstream_fp = rsupport_net::tls::parse_fingerprint(relay_fingerprint).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            guess,
            ..Shared::default()
        });
        let s = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, s) = (acceptor.clone(), s.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(client).await {
                        serve(RelayConnection::new(tls), relay, upstream_fp, s).await;
                    }
                });
            }
        });
        Tap {
            addr,
            fingerprint,
            shared,
        }
    }

    /// What parties connect to (pinned to the tap's own certificate).
    pub fn target(&self) -> RelayTarget {
        RelayTarget::pinned(self.addr.to_string(), "localhost", self.fingerprint.clone())
    }

    /// Every frame body the tap forwarded so far, both directions.
    pub fn recorded(&self) -> Vec<u8> {
        self.shared.recorded.lock().unwrap().clone()
    }

    /// The session envelopes forwarded so far, both directions.
    pub fn envelopes(&self) -> Vec<Envelope> {
        self.shared.envelopes.lock().unwrap().clone()
    }

    /// Key-exchange messages the meddling tap kept from the relay.
    pub fn intercepted(&self) -> u64 {
        *self.shared.intercepted.lock().unwrap()
    }
}

fn tls_server(identity: Identity) -> Arc<rustls::ServerConfig> {
    rsupport_net::tls::server_config(identity, None).unwrap()
}

/// The meddler's own session with one party, keyed with the guess.
fn fake_session(side: Side, session_id: u64, guess: &str) -> Session {
    crate::relay::headless_session(
        side,
        session_id,
        KeyExchange::Code {
            secret: guess.into(),
        },
    )
}

async fn serve<S>(client: RelayConnection<S>, relay: SocketAddr, fp: [u8; 32], s: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let tls = rsupport_net::tls::client_config(Trust::Fingerprint(fp), None).unwrap();
    let Ok(upstream) = rsupport_net::connect(relay, "localhost", tls).await else {
        return;
    };
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut relay_rd, mut relay_wr) = upstream.into_split();
    // The meddler's sessions on this connection, by session id.
    let mut fakes: HashMap<u64, Session> = HashMap::new();
    let record = |body: &[u8]| s.recorded.lock().unwrap().extend_from_slice(body);
    let keep = |env: &Envelope| s.envelopes.lock().unwrap().push(env.clone());
    loop {
        tokio::select! {
            from_client = client_rd.recv() => match from_client {
                Ok(Incoming::Relay(m)) => {
                    record(&m.encode());
                    if relay_wr.send(&m).await.is_err() { return; }
                }
                Ok(Incoming::Session(env)) => {
                    record(&env.encode());
                    keep(&env);
                    if let Some(fake) = (env.protection == PayloadProtection::Handshake)
                        .then(|| fakes.get_mut(&env.session_id))
                        .flatten()
                    {
                        // Kept from the relay: the meddler answers itself.
                        *s.intercepted.lock().unwrap() += 1;
                        let _ = fake.handle_envelope(env, Instant::now());
                        for out in drain(fake) {
                            if client_wr.send_envelope(&out).await.is_err() { return; }
                        }
                    } else if relay_wr.send_envelope(&env).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(_) => return,
            },
            from_relay = relay_rd.recv() => match from_relay {
                Ok(Incoming::Relay(m)) => {
                    record(&m.encode());
                    let started = match (&m, &s.guess) {
                        (RelayMessage::Paired(p), Some(guess)) => {
                            // This party's peer is played by the meddler.
                            let side = match p.peer_role {
                                Role::Customer => Side::Customer,
                                _ => Side::Operator,
                            };
                            fakes.insert(p.session_id, fake_session(side, p.session_id, guess));
                            Some(p.session_id)
                        }
                        _ => None,
                    };
                    if client_wr.send(&m).await.is_err() { return; }
                    if let Some(fake) = started.and_then(|id| fakes.get_mut(&id)) {
                        for out in drain(fake) {
                            if client_wr.send_envelope(&out).await.is_err() { return; }
                        }
                    }
                }
                Ok(Incoming::Session(env)) => {
                    record(&env.encode());
                    keep(&env);
                    if client_wr.send_envelope(&env).await.is_err() { return; }
                }
                Ok(_) | Err(_) => return,
            },
        }
    }
}

/// The key-exchange messages a fake session wants to send.
fn drain(fake: &mut Session) -> Vec<Envelope> {
    let out: Vec<Envelope> = std::iter::from_fn(|| fake.poll_transmit())
        .filter(|e| e.protection == PayloadProtection::Handshake)
        .collect();
    while fake.poll_event().is_some() {}
    out
}
