//! Accounts and relay settings.

use hyper::StatusCode;
use rand::RngCore;
use rsupport_proto::relay::admin::{AccountSummary, RelaySettings};
use rsupport_proto::relay::{AdminCommand, AdminReply, Secret};
use rsupport_proto::{ConnectionMode, Role};
use serde_json::{json, Value};

use super::link::SessionView;
use super::{json_answer, ok, refused, ApiError, ApiResult, Call};
use crate::auth::totp::encode_base32;
use crate::auth::{mode_from_name, mode_name, role_from_name, role_name};

/// Runs a command that answers with a plain result.
async fn command(
    session: &SessionView,
    command: AdminCommand,
    doing: &str,
) -> Result<(), ApiError> {
    match session.link.admin(command).await? {
        AdminReply::Result(r) if r.is_ok() => Ok(()),
        AdminReply::Result(r) => Err(refused(&r, doing)),
        _ => Err(unexpected()),
    }
}

pub(super) fn unexpected() -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "The relay gave an answer the API did not expect.",
        "Try again; if it keeps happening, report it with the relay's version.",
    )
}

fn account_json(a: &AccountSummary) -> Value {
    json!({
        "username": a.username,
        "display_name": a.display_name,
        "role": role_name(a.role),
        "enabled": a.enabled,
        "blocked_until_ms": a.blocked_until_ms,
        "allowed_modes": a.allowed_modes.iter().map(|m| mode_name(*m)).collect::<Vec<_>>(),
        "full_file_control": a.full_file_control,
        "totp_enabled": a.totp_enabled,
        "operator_id": a.operator_id,
    })
}

/// `GET /accounts`.
pub(super) async fn list(session: &SessionView) -> ApiResult {
    match session.link.admin(AdminCommand::ListAccounts).await? {
        AdminReply::Accounts(list) => Ok(json_answer(
            StatusCode::OK,
            &json!({"accounts": list.iter().map(account_json).collect::<Vec<_>>()}),
        )),
        AdminReply::Result(r) => Err(refused(&r, "The accounts could not be listed")),
        _ => Err(unexpected()),
    }
}

fn parse_role(name: &str) -> Result<Role, ApiError> {
    match role_from_name(name) {
        Some(r @ (Role::Operator | Role::Admin)) => Ok(r),
        _ => Err(ApiError::bad_request(format!(
            "`role` must be \"operator\" or \"admin\", not {name:?}"
        ))),
    }
}

/// `POST /accounts` {username, display_name?, password, role}.
pub(super) async fn create(call: &Call, session: &SessionView) -> ApiResult {
    let username = call.field("username")?;
    let password = call.field("password")?;
    let role = parse_role(&call.field("role")?)?;
    let display_name = call
        .opt_field("display_name")?
        .unwrap_or_else(|| username.clone());
    let cmd = AdminCommand::CreateAccount {
        username: username.clone(),
        display_name,
        password: Secret::new(password),
        role,
    };
    command(session, cmd, &format!("{username} was not created")).await?;
    Ok(json_answer(StatusCode::CREATED, &json!({"ok": true})))
}

/// `PATCH /accounts/{username}` {enabled?, full_file_control?,
/// allowed_modes?, display_name?, new_username?}: each given field in turn.
pub(super) async fn update(call: &Call, session: &SessionView, name: &str) -> ApiResult {
    let name = name.to_owned();
    let modes = match call.body.get("allowed_modes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|m| m.as_str().and_then(mode_from_name))
                .collect::<Option<Vec<ConnectionMode>>>()
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "`allowed_modes` must list mode names: view_customer, control_customer, \
                         manage_customer, share_operator_screen, show_operator_screen",
                    )
                })?,
        ),
        Some(_) => return Err(ApiError::bad_request("`allowed_modes` must be a list")),
    };
    let enabled = call.opt_bool("enabled")?;
    let full = call.opt_bool("full_file_control")?;
    let display_name = call.opt_field("display_name")?;
    let new_username = call.opt_field("new_username")?;
    if let Some(enabled) = enabled {
        let cmd = AdminCommand::SetAccountEnabled {
            username: name.clone(),
            enabled,
        };
        command(session, cmd, &format!("{name} was not changed")).await?;
    }
    if let Some(enabled) = full {
        let cmd = AdminCommand::SetFullFileControl {
            username: name.clone(),
            enabled,
        };
        command(session, cmd, &format!("{name} was not changed")).await?;
    }
    if let Some(modes) = modes {
        let cmd = AdminCommand::SetAllowedModes {
            username: name.clone(),
            modes,
        };
        command(
            session,
            cmd,
            &format!("the modes of {name} were not changed"),
        )
        .await?;
    }
    if display_name.is_some() || new_username.is_some() {
        let cmd = AdminCommand::RenameAccount {
            username: name.clone(),
            new_username: new_username.unwrap_or_default(),
            new_display_name: display_name.unwrap_or_default(),
        };
        command(session, cmd, &format!("{name} was not renamed")).await?;
    }
    ok()
}

/// `POST /accounts/{username}/password` {new_password}.
pub(super) async fn reset_password(call: &Call, session: &SessionView, name: &str) -> ApiResult {
    let cmd = AdminCommand::ResetPassword {
        username: name.to_owned(),
        new_password: Secret::new(call.field("new_password")?),
    };
    command(
        session,
        cmd,
        &format!("the password of {name} was not reset"),
    )
    .await?;
    ok()
}

/// `POST /accounts/{username}/unblock`.
pub(super) async fn unblock(session: &SessionView, name: &str) -> ApiResult {
    let cmd = AdminCommand::UnblockAccount {
        username: name.to_owned(),
    };
    command(session, cmd, &format!("{name} was not unblocked")).await?;
    ok()
}

/// `POST /accounts/{username}/totp`: a new secret, its `otpauth://` URI
/// and a QR code (SVG) for authenticator apps.
pub(super) async fn enrol_totp(session: &SessionView, name: &str) -> ApiResult {
    let mut secret = [0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    let secret = encode_base32(&secret);
    let cmd = AdminCommand::SetTotp {
        username: name.to_owned(),
        secret_base32: Secret::new(secret.clone()),
    };
    command(session, cmd, &format!("TOTP was not set up for {name}")).await?;
    let uri = otpauth_uri(name, &secret);
    Ok(json_answer(
        StatusCode::OK,
        &json!({"secret_base32": secret, "otpauth_uri": uri, "qr_svg": qr_svg(&uri)}),
    ))
}

/// `DELETE /accounts/{username}/totp`.
pub(super) async fn remove_totp(session: &SessionView, name: &str) -> ApiResult {
    let cmd = AdminCommand::SetTotp {
        username: name.to_owned(),
        secret_base32: Secret::new(String::new()),
    };
    command(session, cmd, &format!("TOTP was not removed from {name}")).await?;
    ok()
}

fn uri_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The URI authenticator apps read (Key Uri Format).
pub(super) fn otpauth_uri(username: &str, secret: &str) -> String {
    format!(
        "otpauth://totp/rsupport:{}?secret={secret}&issuer=rsupport&algorithm=SHA1&digits=6&period=30",
        uri_escape(username)
    )
}

/// The URI as a QR code in SVG, or empty if it cannot be encoded.
pub(super) fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
        Err(_) => String::new(),
    }
}

fn settings_json(s: &RelaySettings) -> Value {
    json!({
        "max_failed_logins": s.max_failed_logins,
        "lockout_ms": s.lockout_ms,
        "code_length": s.code_length,
        "code_ttl_ms": s.code_ttl_ms,
        "max_concurrent_sessions": s.max_concurrent_sessions,
        "max_session_ms": s.max_session_ms,
        "time_warning_ms": s.time_warning_ms,
        "join_url_template": s.join_url_template,
        "remote_printing": s.remote_printing,
        "resume_grace_ms": s.resume_grace_ms,
        "allow_plaintext_sessions": s.allow_plaintext_sessions,
    })
}

/// `GET /settings`.
pub(super) async fn settings(session: &SessionView) -> ApiResult {
    match session.link.admin(AdminCommand::GetSettings).await? {
        AdminReply::Settings(s) => Ok(json_answer(StatusCode::OK, &settings_json(&s))),
        AdminReply::Result(r) => Err(refused(&r, "The settings could not be read")),
        _ => Err(unexpected()),
    }
}

/// `PATCH /settings` with the fields to change; answers all settings.
pub(super) async fn update_settings(call: &Call, session: &SessionView) -> ApiResult {
    let Some(body) = call.body.as_object() else {
        return Err(ApiError::bad_request(
            "send the settings to change as a JSON object",
        ));
    };
    let mut s = RelaySettings::default();
    for (key, value) in body {
        let bad =
            || ApiError::bad_request(format!("`{key}` has the wrong type or is out of range"));
        let u64_ = || value.as_u64().ok_or_else(bad);
        let u32_ = || {
            value
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(bad)
        };
        match key.as_str() {
            "max_failed_logins" => s.max_failed_logins = Some(u32_()?),
            "lockout_ms" => s.lockout_ms = Some(u64_()?),
            "code_length" => s.code_length = Some(u32_()?),
            "code_ttl_ms" => s.code_ttl_ms = Some(u64_()?),
            "max_concurrent_sessions" => s.max_concurrent_sessions = Some(u32_()?),
            "max_session_ms" => s.max_session_ms = Some(u64_()?),
            "time_warning_ms" => s.time_warning_ms = Some(u64_()?),
            "join_url_template" => {
                s.join_url_template = Some(value.as_str().ok_or_else(bad)?.to_owned())
            }
            "remote_printing" => s.remote_printing = Some(value.as_bool().ok_or_else(bad)?),
            "resume_grace_ms" => s.resume_grace_ms = Some(u64_()?),
            "allow_plaintext_sessions" => {
                s.allow_plaintext_sessions = Some(value.as_bool().ok_or_else(bad)?)
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "there is no setting `{other}`"
                )))
            }
        }
    }
    command(
        session,
        AdminCommand::UpdateSettings(s),
        "The settings were not changed",
    )
    .await?;
    settings(session).await
}
