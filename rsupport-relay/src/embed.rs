//! Running a relay inside another program: a builder with safe defaults,
//! and a handle that knows the relay's address and certificate fingerprint
//! and stops it either way.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use rsupport_relay::store::SqliteStore;
//! use rsupport_relay::{Relay, ShutdownMode};
//!
//! let relay = Relay::builder()
//!     .store(SqliteStore::open(std::path::Path::new("relay.db"))?)
//!     .start("127.0.0.1:7443")
//!     .await?;
//! println!("relay on {}, fingerprint {}", relay.local_addr(), relay.fingerprint_hex());
//! relay.stop(ShutdownMode::EndSessions).await?;
//! # Ok(()) }
//! ```
//!
//! The binary `rsupport-relay` is the complete program (configuration file,
//! certificate kept on disk, admin tool); this is for tests, demos and
//! vendors who host the relay inside a service of their own.

use std::net::SocketAddr;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rsupport_net::tls::{fingerprint_hex, server_config, Identity, TlsError};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{Account, PasswordHasher};
use crate::store::{SqliteStore, Store, StoreError};
use crate::{new_account, serve_until, AccountSpec, RelayConfig, ServeConfig, ShutdownMode};

/// Entry point of the embedding API: [`Relay::builder`].
#[derive(Debug)]
pub struct Relay;

impl Relay {
    /// A relay with the default configuration, an in-memory store and a
    /// fresh self-signed certificate for `localhost`.
    pub fn builder() -> RelayBuilder {
        RelayBuilder::default()
    }
}

/// Chooses what a relay started with [`RelayBuilder::start`] runs with.
#[derive(Default)]
pub struct RelayBuilder {
    config: RelayConfig,
    store: Option<Box<dyn Store>>,
    identity: Option<Identity>,
    client_roots: Option<rustls::RootCertStore>,
    plain_tcp: bool,
    rng: Option<Box<dyn RngCore + Send>>,
}

impl std::fmt::Debug for RelayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayBuilder")
            .field("config", &self.config)
            .field("custom_store", &self.store.is_some())
            .field("custom_identity", &self.identity.is_some())
            .field("client_certificates", &self.client_roots.is_some())
            .field("plain_tcp", &self.plain_tcp)
            .finish_non_exhaustive()
    }
}

impl RelayBuilder {
    /// Settings and limits (default: [`RelayConfig::default`]).
    pub fn config(mut self, config: RelayConfig) -> Self {
        self.config = config;
        self
    }

    /// Changes the configuration in place, keeping the rest.
    pub fn configure(mut self, change: impl FnOnce(&mut RelayConfig)) -> Self {
        change(&mut self.config);
        self
    }

    /// Where accounts, settings, sessions and the audit history live
    /// (default: an in-memory SQLite database, gone when the relay stops).
    pub fn store(mut self, store: impl Store + 'static) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// The TLS certificate and key to present (default: a fresh
    /// self-signed certificate for `localhost`).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Also ask operators and admins for a client certificate signed by one
    /// of `roots` (customers connect without one).
    pub fn client_certificates(mut self, roots: rustls::RootCertStore) -> Self {
        self.client_roots = Some(roots);
        self
    }

    /// Randomness for codes, ids and salts (default: seeded from the OS).
    pub fn rng(mut self, rng: impl RngCore + Send + 'static) -> Self {
        self.rng = Some(Box::new(rng));
        self
    }

    /// Serves plain TCP without TLS: only for benchmarks on loopback, where
    /// the cost of TLS is measured separately. Never use it on a network.
    pub fn dangerous_plain_tcp(mut self) -> Self {
        self.plain_tcp = true;
        self
    }

    /// Binds `addr` and starts serving on the current tokio runtime.
    pub async fn start(self, addr: impl ToSocketAddrs) -> Result<RunningRelay, StartError> {
        let listener = TcpListener::bind(addr).await.map_err(StartError::Bind)?;
        self.start_on(listener)
    }

    /// Starts serving on a listener the caller bound.
    pub fn start_on(self, listener: TcpListener) -> Result<RunningRelay, StartError> {
        let local_addr = listener.local_addr().map_err(StartError::Bind)?;
        let (tls, fingerprint) = if self.plain_tcp {
            (None, None)
        } else {
            let identity = match self.identity {
                Some(identity) => identity,
                None => crate::identity::self_signed(&["localhost".into()])?.0,
            };
            let fingerprint = identity.fingerprint();
            (
                Some(server_config(identity, self.client_roots)?),
                Some(fingerprint),
            )
        };
        let store = match self.store {
            Some(store) => store,
            None => Box::new(SqliteStore::in_memory().map_err(StartError::Store)?),
        };
        let rng = self
            .rng
            .unwrap_or_else(|| Box::new(StdRng::from_os_rng()) as Box<dyn RngCore + Send>);
        let config = ServeConfig {
            relay: self.config,
            tls,
            store,
            rng,
        };
        let (stop, stopped) = oneshot::channel::<ShutdownMode>();
        let task = tokio::spawn(serve_until(listener, config, async move {
            // A dropped handle stops the relay too, ending its sessions.
            stopped.await.unwrap_or(ShutdownMode::EndSessions)
        }));
        Ok(RunningRelay {
            local_addr,
            fingerprint,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A relay serving in the background. Dropping the handle stops it
/// (ending its sessions); [`stop`](Self::stop) waits until it has.
#[derive(Debug)]
pub struct RunningRelay {
    local_addr: SocketAddr,
    fingerprint: Option<[u8; 32]>,
    stop: Option<oneshot::Sender<ShutdownMode>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningRelay {
    /// The address the relay listens on (with the real port when bound to
    /// port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// SHA-256 of the relay's certificate, `None` for plain TCP.
    pub fn fingerprint(&self) -> Option<[u8; 32]> {
        self.fingerprint
    }

    /// The fingerprint as operators and customers pin it (`AB:CD:…`);
    /// empty for plain TCP.
    pub fn fingerprint_hex(&self) -> String {
        self.fingerprint
            .map(|f| fingerprint_hex(&f))
            .unwrap_or_default()
    }

    /// Lets the relay serve until the tokio runtime shuts down, without a
    /// handle to stop it.
    pub fn detach(mut self) {
        if let Some(stop) = self.stop.take() {
            // Held by a task that never ends: the relay's shutdown future
            // then waits for the runtime itself to end.
            tokio::spawn(async move {
                let _stop = stop;
                std::future::pending::<()>().await;
            });
        }
        self.task = None;
    }

    /// Stops the relay the way `mode` says and waits until it has.
    pub async fn stop(mut self, mode: ShutdownMode) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(mode);
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Stops the relay at once, as a crash would: no goodbye to anyone, the
    /// store keeps what it had (the parties resume when a relay over the
    /// same store comes back).
    pub async fn crash(mut self) {
        self.stop = None;
        if let Some(task) = self.task.take() {
            task.abort();
            // Wait until the listener and connections are really gone, so
            // the address can be bound again.
            let _ = task.await;
        }
    }
}

impl Drop for RunningRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(ShutdownMode::EndSessions);
        }
    }
}

/// Why a relay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The address could not be bound (in use, or not allowed).
    #[error("cannot listen: {0}")]
    Bind(#[source] std::io::Error),
    /// The certificate or key was refused.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The default in-memory store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[source] StoreError),
}

/// Creates an account in `store` ready to log in (no password change
/// required): what tests, demos and provisioning scripts need. Admins create
/// accounts for people through the admin API instead, which makes them
/// change the password at first login.
pub fn create_account(
    store: &mut dyn Store,
    spec: AccountSpec<'_>,
    argon2: crate::auth::Argon2Params,
    rng: &mut dyn RngCore,
    now_ms: u64,
) -> Result<Account, StoreError> {
    let hasher = PasswordHasher::new(argon2, rng);
    let mut account = new_account(&*store, spec, &hasher, rng, now_ms)?;
    account.must_change_password = false;
    store.insert_account(&account)?;
    Ok(account)
}
