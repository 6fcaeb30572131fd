//! `admin`: administer a running relay over TLS, logged in as an admin —
//! accounts, lockouts, modes, TOTP, settings, sessions, audit export.
//!
//! The relay decides and validates (the same rules as for the file's
//! `[settings]`); this tool turns the admin's words into commands and the
//! answers into lines a person can read or a script can parse.

use clap::{Args, Subcommand, ValueEnum};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rsupport_proto::relay::admin::{AdminCommand, AdminReply, AuditQuery, RelaySettings};
use rsupport_proto::relay::Secret;
use rsupport_proto::{ConnectionMode, Role};
use rsupport_relay::audit::{write_csv, write_csv_header, write_jsonl};
use rsupport_relay::auth::{mode_from_name, mode_name, role_name, totp};
use rsupport_relay::Settings;

use crate::errors::{utc_time, write_error, CliError, Out};
use crate::login::{refused, ConnArgs, Session};

/// `rsupport-relay admin …`
#[derive(Args)]
pub struct AdminArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Work on the relay's database directly, without logging in (only
    /// `unblock`): the relay's TOML configuration file. Works while the
    /// relay runs; for when no admin can log in.
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,
    /// As --config, naming the database file instead.
    #[arg(long, global = true)]
    db: Option<std::path::PathBuf>,
    #[command(subcommand)]
    action: AdminAction,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Operator,
    Admin,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum AuditFormat {
    Csv,
    Jsonl,
}

#[derive(Subcommand)]
enum AdminAction {
    /// List accounts.
    List,
    /// Create an account (new password typed twice, piped, or from RSUPPORT_NEW_PASSWORD;
    /// the user must change it at first login).
    CreateAccount {
        /// User name.
        username: String,
        /// Display name.
        #[arg(long, default_value = "")]
        display: String,
        /// Role.
        #[arg(long, value_enum, default_value = "operator")]
        role: RoleArg,
    },
    /// Disable an account (its connections are closed).
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
    /// Set a new password (typed twice, piped, or from RSUPPORT_NEW_PASSWORD); the user must change it.
    ResetPassword {
        /// User name.
        username: String,
    },
    /// Choose the connection modes an operator may use (comma-separated:
    /// view_customer, control_customer, manage_customer, share_operator_screen,
    /// show_operator_screen).
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
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Lift every lockout and slow-down of an account now. With --config
    /// (or --db) on the relay's machine, works without logging in, also
    /// while the relay runs.
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
    /// Show the settings in force (as a `[settings]` table), or change them with key=value pairs.
    Settings {
        /// e.g. code_length=8 lockout_ms=600000 allow_plaintext_sessions=true
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
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: AuditFormat,
    },
}

/// Runs one admin action.
pub async fn run(args: AdminArgs) -> Result<(), CliError> {
    if args.config.is_some() || args.db.is_some() {
        return offline(args);
    }
    if args.conn.username.is_empty() {
        return Err(CliError::new("no admin user name given").hint(
            "add --username ADMIN to administer a running relay, or --config relay.toml \
                   with `unblock USER` to lift a lockout on the relay's machine",
        ));
    }
    // Check what can be checked before asking for a password.
    let settings = match &args.action {
        AdminAction::Settings { set } if !set.is_empty() => Some(parse_settings(set)?),
        _ => None,
    };
    let modes = match &args.action {
        AdminAction::SetModes { modes, .. } => Some(parse_modes(modes)?),
        _ => None,
    };
    let mut session = Session::open(&args.conn).await?;
    let (action, command) = match args.action {
        AdminAction::List => return list(&mut session).await,
        AdminAction::Audit {
            from,
            to,
            operator,
            format,
        } => return audit(&mut session, from, to, operator, format).await,
        AdminAction::Settings { .. } => match settings {
            None => return show_settings(&mut session).await,
            Some(s) => (
                "changing the settings".to_owned(),
                AdminCommand::UpdateSettings(s),
            ),
        },
        AdminAction::CreateAccount {
            username,
            display,
            role,
        } => {
            let password = crate::prompt::new_password(
                "RSUPPORT_NEW_PASSWORD",
                &format!("initial password for {username}"),
            )
            .await?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Operator => Role::Operator,
            };
            (
                format!("creating account {username}"),
                AdminCommand::CreateAccount {
                    username,
                    display_name: display,
                    password: password.into(),
                    role,
                },
            )
        }
        AdminAction::Disable { username } => (
            format!("disabling {username}"),
            AdminCommand::SetAccountEnabled {
                username,
                enabled: false,
            },
        ),
        AdminAction::Enable { username } => (
            format!("enabling {username}"),
            AdminCommand::SetAccountEnabled {
                username,
                enabled: true,
            },
        ),
        AdminAction::Rename {
            username,
            new_username,
            new_display,
        } => (
            format!("renaming {username}"),
            AdminCommand::RenameAccount {
                username,
                new_username,
                new_display_name: new_display,
            },
        ),
        AdminAction::ResetPassword { username } => {
            let password = crate::prompt::new_password(
                "RSUPPORT_NEW_PASSWORD",
                &format!("new password for {username}"),
            )
            .await?;
            (
                format!("setting a new password for {username}"),
                AdminCommand::ResetPassword {
                    username,
                    new_password: password.into(),
                },
            )
        }
        AdminAction::SetModes { username, .. } => (
            format!("setting the modes of {username}"),
            AdminCommand::SetAllowedModes {
                username,
                modes: modes.unwrap_or_default(),
            },
        ),
        AdminAction::FileControl { username, state } => (
            format!("changing file control for {username}"),
            AdminCommand::SetFullFileControl {
                username,
                enabled: matches!(state, OnOff::On),
            },
        ),
        AdminAction::Unblock { username } => (
            format!("unblocking {username}"),
            AdminCommand::UnblockAccount { username },
        ),
        AdminAction::Totp { username, disable } => {
            return set_totp(&mut session, username, disable).await
        }
        AdminAction::EndSession { session_id } => (
            format!("ending session {session_id}"),
            AdminCommand::EndSession { session_id },
        ),
    };
    match session.request(command).await? {
        AdminReply::Result(r) if r.is_ok() => Out::new().line("ok"),
        AdminReply::Result(r) => Err(refused(&action, &r)),
        _ => Err(session.unexpected()),
    }
}

async fn list(session: &mut Session) -> Result<(), CliError> {
    let list = match session.request(AdminCommand::ListAccounts).await? {
        AdminReply::Accounts(list) => list,
        AdminReply::Result(r) => return Err(refused("listing the accounts", &r)),
        _ => return Err(session.unexpected()),
    };
    let now = rsupport_relay::now_ms();
    let mut out = Out::new();
    for a in list {
        let modes: Vec<&str> = a.allowed_modes.iter().map(|m| mode_name(*m)).collect();
        let locked = if a.blocked_until_ms > now {
            format!("until {}", utc_time(a.blocked_until_ms)).replace(' ', "_")
        } else {
            "no".into()
        };
        out.line(&format!(
            "{}\t{}\t{}\tid={}\tenabled={}\tlocked={}\ttotp={}\tfile_control={}\tmodes={}",
            a.username,
            a.display_name,
            role_name(a.role),
            a.operator_id,
            a.enabled,
            locked,
            a.totp_enabled,
            a.full_file_control,
            modes.join(",")
        ))?;
    }
    out.flush()
}

async fn audit(
    session: &mut Session,
    from: u64,
    to: u64,
    operator: String,
    format: AuditFormat,
) -> Result<(), CliError> {
    let mut out = Out::new();
    if let AuditFormat::Csv = format {
        write_csv_header(out.writer()).map_err(write_error)?;
    }
    let mut after_id = 0;
    loop {
        let query = AuditQuery {
            from_ms: from,
            to_ms: to,
            operator_username: operator.clone(),
            limit: 0,
            after_id,
        };
        let page = match session.request(AdminCommand::QueryAudit(query)).await? {
            AdminReply::Audit(page) => page,
            AdminReply::Result(r) => return Err(refused("reading the audit history", &r)),
            _ => return Err(session.unexpected()),
        };
        match format {
            AuditFormat::Jsonl => write_jsonl(&page.records, out.writer()),
            AuditFormat::Csv => write_csv(&page.records, out.writer()),
        }
        .map_err(write_error)?;
        match page.records.last() {
            Some(last) if page.truncated => after_id = last.id,
            _ => return out.flush(),
        }
    }
}

async fn show_settings(session: &mut Session) -> Result<(), CliError> {
    let wire = match session.request(AdminCommand::GetSettings).await? {
        AdminReply::Settings(s) => s,
        AdminReply::Result(r) => return Err(refused("reading the settings", &r)),
        _ => return Err(session.unexpected()),
    };
    let mut settings = Settings::default();
    settings.apply(&wire);
    // The same form as the configuration file's table, so it can be pasted there.
    let text = toml::to_string(&settings)
        .map_err(|e| CliError::new(format!("cannot show the settings: {e}")))?;
    let mut out = Out::new();
    out.line("[settings]")?;
    for line in text.lines() {
        out.line(line)?;
    }
    out.flush()
}

async fn set_totp(session: &mut Session, username: String, disable: bool) -> Result<(), CliError> {
    let secret = if disable {
        String::new()
    } else {
        let mut bytes = [0u8; 20];
        StdRng::from_os_rng().fill_bytes(&mut bytes);
        totp::encode_base32(&bytes)
    };
    let command = AdminCommand::SetTotp {
        username: username.clone(),
        secret_base32: Secret::new(secret.clone()),
    };
    match session.request(command).await? {
        AdminReply::Result(r) if r.is_ok() => {}
        AdminReply::Result(r) => return Err(refused(&format!("changing TOTP for {username}"), &r)),
        _ => return Err(session.unexpected()),
    }
    let mut out = Out::new();
    if disable {
        return out.line(&format!("TOTP is off for {username}"));
    }
    out.line(&format!(
        "TOTP is on for {username}. Enter this secret in the authenticator app now; it is not shown again:"
    ))?;
    out.line(&format!("  secret: {secret}"))?;
    out.line(&format!(
        "  or scan/open: otpauth://totp/rsupport:{username}?secret={secret}&issuer=rsupport"
    ))
}

/// Every key `settings key=value` accepts, in the order of the `[settings]` table.
const SETTING_KEYS: &[&str] = &[
    "max_failed_logins",
    "lockout_ms",
    "code_length",
    "code_ttl_ms",
    "max_concurrent_sessions",
    "max_session_ms",
    "time_warning_ms",
    "join_url_template",
    "remote_printing",
    "resume_grace_ms",
    "allow_plaintext_sessions",
];

fn parse_settings(pairs: &[String]) -> Result<RelaySettings, CliError> {
    let mut s = RelaySettings::default();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(CliError::new(format!("`{pair}` is not key=value"))
                .hint("e.g. `settings code_length=8 lockout_ms=600000`"));
        };
        let number = |what: &str| {
            CliError::new(format!("{key}={value}: {key} takes {what}"))
                .hint("`settings` without arguments shows the current values")
        };
        let int = || value.parse::<u64>().map_err(|_| number("a whole number"));
        let small = || {
            value
                .parse::<u32>()
                .map_err(|_| number("a whole number up to 4294967295"))
        };
        match key {
            "max_failed_logins" => s.max_failed_logins = Some(small()?),
            "lockout_ms" => s.lockout_ms = Some(int()?),
            "code_length" => s.code_length = Some(small()?),
            "code_ttl_ms" => s.code_ttl_ms = Some(int()?),
            "max_concurrent_sessions" => s.max_concurrent_sessions = Some(small()?),
            "max_session_ms" => s.max_session_ms = Some(int()?),
            "time_warning_ms" => s.time_warning_ms = Some(int()?),
            "join_url_template" => s.join_url_template = Some(value.to_owned()),
            "remote_printing" => {
                s.remote_printing = Some(value.parse().map_err(|_| number("true or false"))?)
            }
            "resume_grace_ms" => s.resume_grace_ms = Some(int()?),
            "allow_plaintext_sessions" => {
                s.allow_plaintext_sessions =
                    Some(value.parse().map_err(|_| number("true or false"))?)
            }
            _ => {
                return Err(CliError::new(format!("unknown setting {key}"))
                    .hint(format!("the settings are {}", SETTING_KEYS.join(", "))))
            }
        }
    }
    Ok(s)
}

fn parse_modes(list: &str) -> Result<Vec<ConnectionMode>, CliError> {
    list.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            mode_from_name(m).ok_or_else(|| {
                let names: Vec<&str> = ConnectionMode::ALL.iter().map(|m| mode_name(*m)).collect();
                CliError::new(format!("unknown mode {m}"))
                    .hint(format!("the modes are {}", names.join(", ")))
            })
        })
        .collect()
}

/// `admin --config relay.toml unblock USER`: straight on the database, so a
/// relay whose every admin is locked out can be recovered on its machine.
/// The running relay sees the raised lockout epoch at the account's next
/// login and forgets its lockouts then.
fn offline(args: AdminArgs) -> Result<(), CliError> {
    use rsupport_relay::store::{SqliteStore, Store, StoreError};
    let AdminAction::Unblock { username } = args.action else {
        return Err(CliError::new(
            "only `unblock` works on the database directly (--config or --db)",
        )
        .hint("administer a running relay over TLS with --username ADMIN instead"));
    };
    let state = crate::StateArgs {
        config: args.config,
        db: args.db,
        cert: None,
        key: None,
        state_dir: None,
    };
    let config = crate::config::load(&state, None)?;
    let db = crate::config::shown(&config.database);
    if !config.database.exists() {
        return Err(
            CliError::new(format!("there is no database at {}", db.display()))
                .hint("give the relay's own --config (or --db)"),
        );
    }
    let mut store = SqliteStore::open(&config.database).map_err(|e| {
        CliError::new(format!("cannot open the database {}: {e}", db.display()))
            .hint("run this as the user the relay runs as")
    })?;
    match store.bump_lockout_epoch(&username) {
        Ok(_) => {}
        Err(StoreError::NotFound) => {
            return Err(CliError::new(format!(
                "there is no account {username} in {}",
                db.display()
            )))
        }
        Err(e) => {
            return Err(CliError::new(format!(
                "cannot unblock {username} in {}: {e}",
                db.display()
            )))
        }
    }
    store
        .append_audit(&rsupport_proto::relay::admin::AuditRecord {
            at_ms: rsupport_relay::now_ms(),
            kind: "unblocked".into(),
            operator_username: username.clone(),
            source: "local".into(),
            detail: "every source's lockout lifted; offline, on the relay's machine".into(),
            ..Default::default()
        })
        .map_err(|e| CliError::new(format!("cannot write the audit record: {e}")))?;
    Out::new().line(&format!(
        "{username} unblocked in {}; a running relay sees it at the next login",
        db.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_errors_name_the_key() {
        let e = parse_settings(&["code_ttl_ms=abc".into()]).unwrap_err();
        assert!(e.to_string().contains("code_ttl_ms"), "{e}");
        let e = parse_settings(&["bogus=1".into()]).unwrap_err();
        assert!(e.to_string().contains("unknown setting bogus"), "{e}");
        assert!(e.to_string().contains("code_length"), "{e}");
        let s = parse_settings(&[
            "code_length=10".into(),
            "remote_printing=false".into(),
            "allow_plaintext_sessions=true".into(),
        ])
        .unwrap();
        assert_eq!(s.code_length, Some(10));
        assert_eq!(s.remote_printing, Some(false));
        assert_eq!(s.allow_plaintext_sessions, Some(true));
        let e = parse_settings(&["allow_plaintext_sessions=yes".into()]).unwrap_err();
        assert!(e.to_string().contains("true or false"), "{e}");
    }

    #[test]
    fn unknown_modes_list_the_valid_ones() {
        let e = parse_modes("view").unwrap_err().to_string();
        assert!(e.contains("view_customer"), "{e}");
        assert_eq!(
            parse_modes("view_customer, control_customer").unwrap(),
            vec![
                ConnectionMode::ViewCustomer,
                ConnectionMode::ControlCustomer
            ]
        );
    }
}
