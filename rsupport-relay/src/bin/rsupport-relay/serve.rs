//! `serve`: run the relay until Ctrl-C (end every session) or SIGTERM (stop
//! for a restart; sessions resume when the relay is back — what a service
//! manager sends on `systemctl restart`).
//!
//! Everything that can fail for a configuration reason (file, certificate,
//! database, address) is checked before the relay says it is ready, and each
//! failure names the file or address and what to change. Two silent traps
//! are turned into warnings: a new empty database or a database without an
//! admin (run `bootstrap`), and a freshly generated certificate next to an
//! existing database (operators' pinned fingerprints no longer match).

use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_net::tls::{fingerprint_hex, roots_from_pem, server_config, Identity};
use rsupport_proto::relay::admin::AuditQuery;
use rsupport_proto::Role;
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{serve_until, RelayConfig, ServeConfig, ShutdownMode};
use tokio::signal::unix::{signal, SignalKind};

use crate::config::shown;
use crate::errors::{CliError, Context, Out};
use crate::ServeArgs;

/// Runs the relay.
pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let mut config = crate::config::load(&args.state, args.listen)?;
    if let Some(root) = args.web_root {
        if !root.is_dir() {
            return Err(CliError::new(format!(
                "the web console folder {} does not exist or is not a folder",
                root.display()
            ))
            .hint("give --web-root the folder that holds the console's index.html"));
        }
        config.web_root = Some(root);
    }
    if let Some(file) = &args.state.config {
        tracing::info!(config = %shown(file).display(), "configuration read");
    }
    let db_existed = config.database.exists();
    let (identity, generated) = identity(&config)?;
    let tls = tls(&config, identity.clone())?;
    let store = open_store(&config.database)?;
    warn_about_state(&config, &store, db_existed, generated);
    let listener = bind(&config.listen).await?;
    let mut terminate =
        signal(SignalKind::terminate()).context(|| "cannot watch for SIGTERM".to_owned())?;
    let addr = listener
        .local_addr()
        .context(|| format!("cannot read the address of {}", config.listen))?;

    // Both lines on stdout: the fingerprint for people to pass on, the
    // address for scripts that started the relay on port 0.
    let mut out = Out::new();
    out.line(&format!(
        "certificate SHA-256 fingerprint: {}",
        fingerprint_hex(&identity.fingerprint())
    ))?;
    out.line(&format!("listening on {addr}"))?;
    out.flush()?;
    drop(out);
    tracing::info!(%addr, database = %shown(&config.database).display(), "relay ready");

    let serve_config = ServeConfig {
        relay: config,
        tls: Some(tls),
        store: Box::new(store),
        rng: Box::new(StdRng::from_os_rng()),
    };
    serve_until(listener, serve_config, async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("shutting down; ending every session");
                ShutdownMode::EndSessions
            }
            _ = terminate.recv() => {
                tracing::info!("stopping for a restart; sessions resume when the relay is back");
                ShutdownMode::KeepSessions
            }
        }
    })
    .await
    .context(|| format!("the relay on {addr} stopped with an error"))
}

/// The configured certificate, or the one generated in `state_dir` (made on
/// first start). Returns whether it was just generated.
pub fn identity(config: &RelayConfig) -> Result<(Identity, bool), CliError> {
    let identity = match (&config.cert, &config.key) {
        (Some(cert), Some(key)) => {
            let id = Identity::from_pem_files(cert, key).map_err(|e| {
                CliError::new(format!("cannot load the relay's certificate: {e}"))
                    .hint("`cert` must be a PEM certificate chain and `key` its PEM private key")
            })?;
            (id, false)
        }
        _ => {
            let dir = &config.state_dir;
            std::fs::create_dir_all(dir).map_err(|e| {
                CliError::new(format!(
                    "cannot create the state directory {}: {e}",
                    shown(dir).display()
                ))
                .hint("set `state_dir` to a folder the relay's user may write")
            })?;
            rsupport_relay::identity::load_or_generate(dir, &config.self_signed_names).map_err(
                |e| {
                    CliError::new(format!(
                        "cannot load or create the certificate in {}: {e}",
                        shown(dir).display()
                    ))
                },
            )?
        }
    };
    if identity.0.chain.is_empty() {
        return Err(CliError::new("the certificate file holds no certificate")
            .hint("`cert` must be a PEM file starting with -----BEGIN CERTIFICATE-----"));
    }
    Ok(identity)
}

fn tls(config: &RelayConfig, identity: Identity) -> Result<Arc<rustls::ServerConfig>, CliError> {
    let client_ca = match &config.client_ca {
        Some(ca) => Some(roots_from_pem(ca).map_err(|e| {
            CliError::new(format!("cannot load the client CA: {e}"))
                .hint("`client_ca` must be a PEM file of CA certificates")
        })?),
        None => None,
    };
    server_config(identity, client_ca).map_err(|e| {
        CliError::new(format!("the TLS setup was refused: {e}"))
            .hint("check that `key` is the private key of `cert`")
    })
}

fn open_store(db: &Path) -> Result<SqliteStore, CliError> {
    SqliteStore::open(db).map_err(|e| {
        CliError::new(format!(
            "cannot open the database {}: {e}",
            shown(db).display()
        ))
        .hint("check `database` and that the relay's user may write the file and its folder")
    })
}

fn warn_about_state(config: &RelayConfig, store: &SqliteStore, db_existed: bool, generated: bool) {
    let db = shown(&config.database);
    let has_admin = store
        .list_accounts()
        .map(|list| list.iter().any(|a| a.role == Role::Admin))
        .unwrap_or(true);
    if !db_existed {
        tracing::warn!(database = %db.display(), "created a new, empty database");
    }
    if !has_admin {
        tracing::warn!(
            "no admin account in {}: create one with `rsupport-relay bootstrap --db {} --username NAME` (or with the same --config)",
            db.display(),
            db.display()
        );
    }
    if generated {
        let dir = shown(&config.state_dir);
        // Bootstrap writes one audit record; anything more means a relay has
        // served from this database, with some other certificate.
        let served_before = store
            .query_audit(&AuditQuery::default(), 2)
            .map(|records| records.iter().any(|r| r.kind != "admin_bootstrapped"))
            .unwrap_or(false);
        if db_existed && served_before {
            tracing::warn!(
                "generated a NEW self-signed certificate in {} for an existing database: operators and customers who pinned the old fingerprint must use the new one (was the relay started with another state_dir?)",
                dir.display()
            );
        } else {
            tracing::info!(dir = %dir.display(), "generated a self-signed certificate");
        }
    }
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another program (another relay?) uses this port: stop it, or choose another `listen` address"
            }
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need root or CAP_NET_BIND_SERVICE (the systemd unit grants it); or use a port above 1023"
            }
            _ => "`listen` is host:port, e.g. 0.0.0.0:7443 or 127.0.0.1:7443",
        };
        CliError::new(format!("cannot listen on {listen}: {e}")).hint(hint)
    })
}
