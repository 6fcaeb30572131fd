//! The admin tool's connection: TLS to the relay with a pinned fingerprint
//! or a CA, login (with TOTP and the first-login password change), and one
//! request/answer at a time.
//!
//! Each way this can fail is told in terms of what the admin typed: the
//! address (`--relay`), the pin (`--fingerprint` / `--ca`), the account
//! (`--username`), and what to do next — e.g. a locked account says until
//! when, and which command unblocks it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use rsupport_net::tls::{client_config, parse_fingerprint, roots_from_pem, Trust};
use rsupport_net::{connect, LinkError, RelayConnection};
use rsupport_proto::relay::admin::{AdminCommand, AdminReply, AdminRequest};
use rsupport_proto::relay::{
    Login, LoginResult, LoginStatus, RelayMessage, RequestError, RequestResult,
};
use rsupport_proto::Role;

use crate::errors::{duration, utc_time, CliError};

/// How long one request may wait for the relay's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the relay is and how to trust it, and who logs in.
#[derive(Args)]
pub struct ConnArgs {
    /// Relay address, host:port.
    #[arg(long, default_value = "127.0.0.1:7443")]
    pub relay: String,
    /// Name to check in the relay certificate (with --ca).
    #[arg(long, default_value = "localhost")]
    pub server_name: String,
    /// Pin the relay certificate by SHA-256 fingerprint (`rsupport-relay fingerprint` prints it).
    #[arg(long, conflicts_with = "ca")]
    pub fingerprint: Option<String>,
    /// Trust the relay certificate through this CA (PEM).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Your user name (password typed, piped, or from RSUPPORT_PASSWORD; TOTP from RSUPPORT_TOTP).
    #[arg(long, default_value = "")]
    pub username: String,
}

/// A logged-in admin connection.
pub struct Session {
    conn: RelayConnection<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    relay: String,
    next_id: u64,
}

impl Session {
    /// Connects, says hello and logs in as an admin.
    pub async fn open(args: &ConnArgs) -> Result<Self, CliError> {
        let trust = trust(args)?;
        let tls = client_config(trust, None)
            .map_err(|e| CliError::new(format!("cannot set up TLS: {e}")))?;
        let mut conn = connect(args.relay.as_str(), &args.server_name, tls)
            .await
            .map_err(|e| connect_error(args, e))?;
        conn.hello(
            Role::Admin,
            concat!("rsupport-relay-cli/", env!("CARGO_PKG_VERSION")),
        )
        .await
        .map_err(|e| link_error(&args.relay, e))?;
        let mut session = Session {
            conn,
            relay: args.relay.clone(),
            next_id: 1,
        };
        session.login(args).await?;
        Ok(session)
    }

    async fn login(&mut self, args: &ConnArgs) -> Result<(), CliError> {
        let user = &args.username;
        let password =
            crate::prompt::password("RSUPPORT_PASSWORD", &format!("password for {user}")).await?;
        let totp = std::env::var("RSUPPORT_TOTP").unwrap_or_default();
        self.send(RelayMessage::Login(Login {
            username: user.clone(),
            password: password.clone().into(),
            totp: totp.into(),
        }))
        .await?;
        let result = match self.recv().await? {
            RelayMessage::LoginResult(r) => r,
            _ => return Err(self.unexpected()),
        };
        if result.status != LoginStatus::Ok {
            return Err(login_refused(args, &result));
        }
        if result.role != Some(Role::Admin) {
            return Err(CliError::new(format!(
                "{user} is not an admin account; admin commands need one"
            ))
            .hint("log in with an admin's --username, or ask an admin to act"));
        }
        if result.must_change_password {
            crate::errors::eprint_line(&format!(
                "{user} must choose a new password before anything else"
            ));
            let new = crate::prompt::new_password(
                "RSUPPORT_NEW_OWN_PASSWORD",
                &format!("new password for {user}"),
            )
            .await?;
            self.send(RelayMessage::ChangePassword {
                old_password: password.into(),
                new_password: new.into(),
            })
            .await?;
            match self.recv().await? {
                RelayMessage::RequestResult(r) if r.is_ok() => {}
                RelayMessage::RequestResult(r) => {
                    return Err(refused(&format!("changing the password of {user}"), &r))
                }
                _ => return Err(self.unexpected()),
            }
        }
        Ok(())
    }

    /// Sends one admin command and waits for its answer.
    pub async fn request(&mut self, command: AdminCommand) -> Result<AdminReply, CliError> {
        let request_id = self.next_id;
        self.next_id += 1;
        self.send(RelayMessage::AdminRequest(AdminRequest {
            request_id,
            command,
        }))
        .await?;
        loop {
            match self.recv().await? {
                RelayMessage::AdminResponse(r) if r.request_id == request_id => return Ok(r.reply),
                _ => continue,
            }
        }
    }

    /// An answer of a kind the command does not expect.
    pub fn unexpected(&self) -> CliError {
        CliError::new(format!(
            "the relay at {} gave an answer this tool does not understand",
            self.relay
        ))
        .hint("are the relay and this tool the same version? (`rsupport-relay --version`)")
    }

    async fn send(&mut self, message: RelayMessage) -> Result<(), CliError> {
        self.conn
            .send(&message)
            .await
            .map_err(|e| link_error(&self.relay, e))
    }

    async fn recv(&mut self) -> Result<RelayMessage, CliError> {
        match tokio::time::timeout(ANSWER_TIMEOUT, self.conn.recv_relay()).await {
            Ok(r) => r.map_err(|e| link_error(&self.relay, e)),
            Err(_) => Err(CliError::new(format!(
                "the relay at {} did not answer within {}",
                self.relay,
                duration(ANSWER_TIMEOUT.as_millis() as u64)
            ))
            .hint("see the relay's log")),
        }
    }
}

fn trust(args: &ConnArgs) -> Result<Trust, CliError> {
    match (&args.fingerprint, &args.ca) {
        (Some(fp), _) => parse_fingerprint(fp).map(Trust::Fingerprint).ok_or_else(|| {
            CliError::new(format!("--fingerprint {fp} is not a SHA-256 fingerprint"))
                .hint("copy the 64 hex digits (colons optional) that `rsupport-relay fingerprint` prints on the relay's machine")
        }),
        (None, Some(ca)) => roots_from_pem(ca)
            .map(Trust::Roots)
            .map_err(|e| CliError::new(format!("cannot load the CA: {e}"))),
        (None, None) => Err(CliError::new(
            "give --fingerprint (pin the relay's certificate) or --ca (the CA that signed it)",
        )
        .hint("`rsupport-relay fingerprint --config relay.toml` prints the fingerprint on the relay's machine")),
    }
}

fn connect_error(args: &ConnArgs, e: LinkError) -> CliError {
    let addr = &args.relay;
    if let LinkError::Io(io) = &e {
        let tls = io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(why)) = tls {
            return match &args.fingerprint {
                Some(fp) => CliError::new(format!(
                    "the relay at {addr} has another certificate than the one pinned with --fingerprint {fp}"
                ))
                .hint("compare with `rsupport-relay fingerprint --config …` on the relay's machine; a relay started with another state_dir has another certificate"),
                None => CliError::new(format!(
                    "the relay's certificate at {addr} is not trusted for the name {}: {why}",
                    args.server_name
                ))
                .hint("check --ca and --server-name"),
            };
        }
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return CliError::new(format!(
                "cannot reach the relay at {addr}: connection refused"
            ))
            .hint("is `rsupport-relay serve` running, and is --relay the address it listens on?");
        }
    }
    if let LinkError::ServerName = e {
        return CliError::new(format!(
            "--server-name {} is not a valid host name",
            args.server_name
        ));
    }
    CliError::new(format!("cannot connect to the relay at {addr}: {e}"))
        .hint("check --relay (host:port)")
}

fn link_error(relay: &str, e: LinkError) -> CliError {
    match e {
        LinkError::Closed { detail, .. } => CliError::new(format!(
            "the relay at {relay} closed the connection: {}",
            if detail.is_empty() {
                "no reason given"
            } else {
                &detail
            }
        )),
        LinkError::Eof => {
            CliError::new(format!("the relay at {relay} hung up")).hint("see the relay's log")
        }
        other => CliError::new(format!("talking to the relay at {relay} failed: {other}")),
    }
}

fn login_refused(args: &ConnArgs, r: &LoginResult) -> CliError {
    let user = &args.username;
    let unblock = format!(
        "an admin can unblock it now with `rsupport-relay admin --relay {} {} --username ADMIN unblock {user}`",
        args.relay,
        args.fingerprint
            .as_deref()
            .map_or("--fingerprint …".to_owned(), |f| format!("--fingerprint {f}")),
    );
    match r.status {
        LoginStatus::BadCredentials => {
            CliError::new(format!("login as {user} refused: wrong user name or password"))
                .hint("repeated failures lock the account for a while; an admin can set a new password with `reset-password`")
        }
        LoginStatus::Blocked | LoginStatus::RateLimited => {
            let left = r.blocked_until_ms.saturating_sub(rsupport_relay::now_ms());
            CliError::new(format!(
                "the relay refuses logins as {user} from this address until {} (in about {}): \
                 too many failed logins from here, or the relay is busy",
                utc_time(r.blocked_until_ms),
                duration(left)
            ))
            .hint(format!(
                "{unblock}; on the relay's machine, `rsupport-relay admin unblock --config relay.toml {user}` \
                 works without logging in"
            ))
        }
        LoginStatus::TotpRequired => {
            CliError::new(format!("{user} has two-factor login and no code was given"))
                .hint("set RSUPPORT_TOTP to the 6-digit code from the authenticator app")
        }
        LoginStatus::BadTotp => CliError::new(format!(
            "the TOTP code for {user} is wrong or was already used"
        ))
        .hint("set RSUPPORT_TOTP to the current code and try again"),
        LoginStatus::Disabled => CliError::new(format!("the account {user} is disabled"))
            .hint(format!("an admin can enable it with `… enable {user}`")),
        _ => CliError::new(format!("the relay did not let {user} log in now")),
    }
}

/// A refused request, e.g. "creating account aiko refused: name taken".
pub fn refused(action: &str, r: &RequestResult) -> CliError {
    let detail = if r.detail.is_empty() {
        "no reason given"
    } else {
        &r.detail
    };
    let e = CliError::new(format!("{action} refused: {detail}"));
    match r.error {
        Some(RequestError::NotAuthorized) => e.hint("this needs an admin account"),
        Some(RequestError::NotFound) => e.hint("`rsupport-relay admin … list` shows the accounts"),
        Some(RequestError::AlreadyExists) => e.hint("choose another name"),
        Some(RequestError::WeakPassword) => e.hint(
            "a password needs at least 12 characters and must not be a common password or pattern; a few unrelated words work well",
        ),
        Some(RequestError::Internal) => e.hint("the relay's log says more"),
        _ => e,
    }
}
