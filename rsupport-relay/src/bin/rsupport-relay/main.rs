//! The rsupport relay server, and its admin command line.
//!
//! ```text
//! rsupport-relay serve --config relay.toml                 # run the relay (Ctrl-C: stop and end
//!                                                 # sessions; SIGTERM: stop for a restart,
//!                                                 # sessions resume when it is back)
//! rsupport-relay bootstrap --db relay.db --username root   # first admin (once; password from RSUPPORT_PASSWORD or stdin)
//! rsupport-relay admin --relay host:7443 --fingerprint AB:CD:… --username root list
//! rsupport-relay admin … create-account aiko --display "Aiko" --role operator   # new password from RSUPPORT_NEW_PASSWORD or stdin
//! rsupport-relay admin … audit --from 0 --operator aiko --format csv > history.csv
//! ```
//!
//! Passwords are never taken as arguments (they would land in shell history
//! and the process list): set the environment variable or type them on stdin.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rsupport_net::tls::{
    client_config, fingerprint_hex, parse_fingerprint, roots_from_pem, server_config, Identity,
    Trust,
};
use rsupport_net::{connect, RelayConnection};
use rsupport_proto::relay::admin::{
    AdminCommand, AdminReply, AdminRequest, AuditQuery, RelaySettings,
};
use rsupport_proto::relay::{Login, LoginStatus, RelayMessage, Secret};
use rsupport_proto::Role;
use rsupport_relay::audit::{write_csv, write_csv_header, write_jsonl};
use rsupport_relay::auth::{mode_from_name, mode_name, role_name, totp};
use rsupport_relay::store::SqliteStore;
use rsupport_relay::{
    bootstrap_admin, now_ms, serve_until, RelayConfig, ServeConfig, ShutdownMode,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(about = "rsupport relay server and admin tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay.
    Serve(ServeArgs),
    /// Create the first admin account directly in the database (refused once an admin exists).
    Bootstrap {
        /// SQLite database file.
        #[arg(long, default_value = "relay.db")]
        db: PathBuf,
        /// Admin user name.
        #[arg(long)]
        username: String,
    },
    /// Administer a running relay.
    Admin {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// TOML configuration file (every field optional).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen address (overrides the file).
    #[arg(long)]
    listen: Option<String>,
    /// Database file (overrides the file).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Certificate chain PEM (overrides the file).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Private key PEM (overrides the file).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Where a generated certificate is kept (overrides the file).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ConnArgs {
    /// Relay address, host:port.
    #[arg(long, default_value = "127.0.0.1:7443")]
    relay: String,
    /// Name to check in the relay certificate.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// Pin the relay certificate by SHA-256 fingerprint.
    #[arg(long, conflicts_with = "ca")]
    fingerprint: Option<String>,
    /// Trust the relay certificate through this CA (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Your user name (password from RSUPPORT_PASSWORD or stdin; TOTP from RSUPPORT_TOTP).
    #[arg(long)]
    username: String,
}

#[derive(Subcommand)]
enum AdminAction {
    /// List accounts.
    List,
    /// Create an account (password from RSUPPORT_NEW_PASSWORD or stdin).
    CreateAccount {
        /// User name.
        username: String,
        /// Display name.
        #[arg(long, default_value = "")]
        display: String,
        /// operator or admin.
        #[arg(long, default_value = "operator")]
        role: String,
    },
    /// Disable an account.
    Disable {
        /// User name.
        username: String,
    },
    /// Enable an account.
    Enable {
        /// User name.
        username: String,
    },
    /// Rename an account.
    Rename {
        /// User name.
        username: String,
        /// New user name.
        #[arg(long, default_value = "")]
        new_username: String,
        /// New display name.
        #[arg(long, default_value = "")]
        new_display: String,
    },
    /// Set a new password (from RSUPPORT_NEW_PASSWORD or stdin); the user must change it.
    ResetPassword {
        /// User name.
        username: String,
    },
    /// Choose the connection modes an operator may use (comma-separated, e.g. view_customer,control_customer).
    SetModes {
        /// User name.
        username: String,
        /// Modes.
        modes: String,
    },
    /// Grant (on) or withdraw (off) full file transfer control.
    FileControl {
        /// User name.
        username: String,
        /// on or off.
        state: String,
    },
    /// Lift a lockout now.
    Unblock {
        /// User name.
        username: String,
    },
    /// Turn on TOTP with a fresh secret (printed once), or off with --disable.
    Totp {
        /// User name.
        username: String,
        /// Turn it off.
        #[arg(long)]
        disable: bool,
    },
    /// End a running session.
    EndSession {
        /// Session id.
        session_id: u64,
    },
    /// Show settings, or change them with key=value pairs.
    Settings {
        /// e.g. code_length=10 lockout_ms=600000
        set: Vec<String>,
    },
    /// Export the audit history.
    Audit {
        /// From (ms since epoch, inclusive).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// To (ms since epoch, exclusive; 0 = now).
        #[arg(long, default_value_t = 0)]
        to: u64,
        /// Only this operator.
        #[arg(long, default_value = "")]
        operator: String,
        /// csv or jsonl.
        #[arg(long, default_value = "csv")]
        format: String,
    },
}

fn secret_from(env: &str, prompt: &str) -> Result<String, Error> {
    if let Ok(v) = std::env::var(env) {
        return Ok(v);
    }
    eprint!("{prompt}: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => run_serve(args).await,
        Command::Bootstrap { db, username } => {
            let password = secret_from("RSUPPORT_PASSWORD", "new admin password")?;
            let mut store = SqliteStore::open(&db)?;
            let params = RelayConfig::default().argon2;
            bootstrap_admin(
                &mut store,
                &username,
                &password,
                params,
                &mut StdRng::from_os_rng(),
                now_ms(),
            )?;
            println!("admin {username} created; bootstrap is now closed");
            Ok(())
        }
        Command::Admin { conn, action } => run_admin(conn, action).await,
    }
}

async fn run_serve(args: ServeArgs) -> Result<(), Error> {
    let mut config = match &args.config {
        Some(path) => RelayConfig::from_toml(&std::fs::read_to_string(path)?)?,
        None => RelayConfig::default(),
    };
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.db {
        config.database = v;
    }
    if let Some(v) = args.cert {
        config.cert = Some(v);
    }
    if let Some(v) = args.key {
        config.key = Some(v);
    }
    if let Some(v) = args.state_dir {
        config.state_dir = v;
    }
    let identity = match (&config.cert, &config.key) {
        (Some(c), Some(k)) => Identity::from_pem_files(c, k)?,
        _ => {
            std::fs::create_dir_all(&config.state_dir)?;
            let (id, fresh) = rsupport_relay::identity::load_or_generate(
                &config.state_dir,
                &config.self_signed_names,
            )?;
            if fresh {
                tracing::info!(dir = %config.state_dir.display(), "generated a self-signed certificate");
            }
            id
        }
    };
    println!(
        "certificate SHA-256 fingerprint: {}",
        fingerprint_hex(&identity.fingerprint())
    );
    let client_ca = config
        .client_ca
        .as_deref()
        .map(roots_from_pem)
        .transpose()?;
    let tls = server_config(identity, client_ca)?;
    let store = SqliteStore::open(&config.database)?;
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "relay listening");
    let serve_config = ServeConfig {
        relay: config,
        tls: Some(tls),
        store: Box::new(store),
        rng: Box::new(StdRng::from_os_rng()),
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
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
    .await?;
    Ok(())
}

type Conn = RelayConnection<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn login(args: &ConnArgs, role: Role) -> Result<Conn, Error> {
    let trust = match (&args.fingerprint, &args.ca) {
        (Some(fp), _) => Trust::Fingerprint(parse_fingerprint(fp).ok_or("bad fingerprint")?),
        (None, Some(ca)) => Trust::Roots(roots_from_pem(ca)?),
        (None, None) => return Err("give --fingerprint or --ca".into()),
    };
    let mut conn = connect(
        args.relay.as_str(),
        &args.server_name,
        client_config(trust, None)?,
    )
    .await?;
    conn.hello(
        role,
        concat!("rsupport-relay-cli/", env!("CARGO_PKG_VERSION")),
    )
    .await?;
    let password = secret_from("RSUPPORT_PASSWORD", "password")?;
    let totp = std::env::var("RSUPPORT_TOTP").unwrap_or_default();
    conn.send(&RelayMessage::Login(Login {
        username: args.username.clone(),
        password: password.into(),
        totp: totp.into(),
    }))
    .await?;
    match conn.recv_relay().await? {
        RelayMessage::LoginResult(r) if r.status == LoginStatus::Ok => {
            if r.must_change_password {
                let new = secret_from(
                    "RSUPPORT_NEW_OWN_PASSWORD",
                    "you must choose a new password",
                )?;
                let old = secret_from("RSUPPORT_PASSWORD", "current password")?;
                conn.send(&RelayMessage::ChangePassword {
                    old_password: old.into(),
                    new_password: new.into(),
                })
                .await?;
                match conn.recv_relay().await? {
                    RelayMessage::RequestResult(r) if r.is_ok() => {}
                    other => return Err(format!("password change failed: {other:?}").into()),
                }
            }
            Ok(conn)
        }
        RelayMessage::LoginResult(r) => Err(format!("login refused: {:?}", r.status).into()),
        other => Err(format!("unexpected answer: {other:?}").into()),
    }
}

async fn request(conn: &mut Conn, id: u64, command: AdminCommand) -> Result<AdminReply, Error> {
    conn.send(&RelayMessage::AdminRequest(AdminRequest {
        request_id: id,
        command,
    }))
    .await?;
    loop {
        match conn.recv_relay().await? {
            RelayMessage::AdminResponse(r) if r.request_id == id => return Ok(r.reply),
            _ => continue,
        }
    }
}

fn print_result(reply: AdminReply) -> Result<(), Error> {
    match reply {
        AdminReply::Result(r) if r.is_ok() => {
            println!("ok");
            Ok(())
        }
        AdminReply::Result(r) => Err(format!("refused: {:?} {}", r.error, r.detail).into()),
        other => Err(format!("unexpected reply: {other:?}").into()),
    }
}

fn parse_settings(pairs: &[String]) -> Result<RelaySettings, Error> {
    let mut s = RelaySettings::default();
    for pair in pairs {
        let (k, v) = pair.split_once('=').ok_or("settings are key=value")?;
        match k {
            "max_failed_logins" => s.max_failed_logins = Some(v.parse()?),
            "lockout_ms" => s.lockout_ms = Some(v.parse()?),
            "code_length" => s.code_length = Some(v.parse()?),
            "code_ttl_ms" => s.code_ttl_ms = Some(v.parse()?),
            "max_concurrent_sessions" => s.max_concurrent_sessions = Some(v.parse()?),
            "max_session_ms" => s.max_session_ms = Some(v.parse()?),
            "time_warning_ms" => s.time_warning_ms = Some(v.parse()?),
            "join_url_template" => s.join_url_template = Some(v.to_owned()),
            "remote_printing" => s.remote_printing = Some(v.parse()?),
            "resume_grace_ms" => s.resume_grace_ms = Some(v.parse()?),
            _ => return Err(format!("unknown setting {k}").into()),
        }
    }
    Ok(s)
}

async fn run_admin(args: ConnArgs, action: AdminAction) -> Result<(), Error> {
    let mut conn = login(&args, Role::Admin).await?;
    let command = match action {
        AdminAction::List => {
            let AdminReply::Accounts(list) =
                request(&mut conn, 1, AdminCommand::ListAccounts).await?
            else {
                return Err("unexpected reply".into());
            };
            for a in list {
                let modes: Vec<&str> = a.allowed_modes.iter().map(|m| mode_name(*m)).collect();
                println!(
                    "{}\t{}\t{}\tid={}\tenabled={}\tblocked_until_ms={}\ttotp={}\tfile_control={}\tmodes={}",
                    a.username, a.display_name, role_name(a.role), a.operator_id, a.enabled,
                    a.blocked_until_ms, a.totp_enabled, a.full_file_control, modes.join(",")
                );
            }
            return Ok(());
        }
        AdminAction::Audit {
            from,
            to,
            operator,
            format,
        } => {
            let mut out = std::io::stdout().lock();
            if format == "csv" {
                write_csv_header(&mut out)?;
            }
            let mut after_id = 0;
            loop {
                let q = AuditQuery {
                    from_ms: from,
                    to_ms: to,
                    operator_username: operator.clone(),
                    limit: 0,
                    after_id,
                };
                let AdminReply::Audit(page) =
                    request(&mut conn, 1, AdminCommand::QueryAudit(q)).await?
                else {
                    return Err("unexpected reply".into());
                };
                match format.as_str() {
                    "jsonl" => write_jsonl(&page.records, &mut out)?,
                    _ => write_csv(&page.records, &mut out)?,
                }
                match page.records.last() {
                    Some(last) if page.truncated => after_id = last.id,
                    _ => return Ok(()),
                }
            }
        }
        AdminAction::Settings { set } if set.is_empty() => {
            let AdminReply::Settings(s) = request(&mut conn, 1, AdminCommand::GetSettings).await?
            else {
                return Err("unexpected reply".into());
            };
            println!("{s:#?}");
            return Ok(());
        }
        AdminAction::Settings { set } => AdminCommand::UpdateSettings(parse_settings(&set)?),
        AdminAction::CreateAccount {
            username,
            display,
            role,
        } => {
            let role = match role.as_str() {
                "admin" => Role::Admin,
                "operator" => Role::Operator,
                _ => return Err("role is operator or admin".into()),
            };
            let password = secret_from(
                "RSUPPORT_NEW_PASSWORD",
                "initial password for the new account",
            )?;
            AdminCommand::CreateAccount {
                username,
                display_name: display,
                password: password.into(),
                role,
            }
        }
        AdminAction::Disable { username } => AdminCommand::SetAccountEnabled {
            username,
            enabled: false,
        },
        AdminAction::Enable { username } => AdminCommand::SetAccountEnabled {
            username,
            enabled: true,
        },
        AdminAction::Rename {
            username,
            new_username,
            new_display,
        } => AdminCommand::RenameAccount {
            username,
            new_username,
            new_display_name: new_display,
        },
        AdminAction::ResetPassword { username } => {
            let password = secret_from("RSUPPORT_NEW_PASSWORD", "new password")?;
            AdminCommand::ResetPassword {
                username,
                new_password: password.into(),
            }
        }
        AdminAction::SetModes { username, modes } => {
            let modes = modes
                .split(',')
                .filter(|m| !m.is_empty())
                .map(|m| mode_from_name(m).ok_or_else(|| format!("unknown mode {m}")))
                .collect::<Result<Vec<_>, _>>()?;
            AdminCommand::SetAllowedModes { username, modes }
        }
        AdminAction::FileControl { username, state } => AdminCommand::SetFullFileControl {
            username,
            enabled: state == "on",
        },
        AdminAction::Unblock { username } => AdminCommand::UnblockAccount { username },
        AdminAction::Totp { username, disable } => {
            let secret = if disable {
                String::new()
            } else {
                let mut bytes = [0u8; 20];
                StdRng::from_os_rng().fill_bytes(&mut bytes);
                let s = totp::encode_base32(&bytes);
                println!("TOTP secret (enter it in the authenticator app now; it is not shown again): {s}");
                s
            };
            AdminCommand::SetTotp {
                username,
                secret_base32: Secret::new(secret),
            }
        }
        AdminAction::EndSession { session_id } => AdminCommand::EndSession { session_id },
    };
    print_result(request(&mut conn, 1, command).await?)
}
