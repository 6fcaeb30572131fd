//! `POST /login`, `GET /me`, `POST /logout`, `POST /password`.

use hyper::header::{HeaderValue, RETRY_AFTER, SET_COOKIE};
use hyper::StatusCode;
use rsupport_proto::relay::LoginStatus;
use serde_json::json;

use super::link::{self, SessionView};
use super::{json_answer, ok, refused, Api, ApiError, ApiResult, Call, COOKIE};
use crate::auth::role_name;
use crate::server::now_ms;

/// Logs in as the relay would a native program from the caller's address.
pub(super) async fn login(api: &Api, call: &Call) -> ApiResult {
    let username = call.field("username")?;
    let password = call.field("password")?;
    let totp = call.opt_field("totp")?.unwrap_or_default();
    let (result, connection) =
        link::login(&api.dialer, call.addr, username.clone(), password, totp).await?;
    let refusal = |status, reason: &str, error: &str, what: &str| {
        json_answer(
            status,
            &json!({"error": error, "what_to_do": what, "reason": reason}),
        )
    };
    let answer = match (result.status, connection) {
        (LoginStatus::Ok, Some(connection)) => {
            let Some((token, csrf)) = api.sessions.insert(&result, &username, connection) else {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The relay holds as many web logins as it allows.",
                    "Try again later; idle logins end after 30 minutes.",
                ));
            };
            let role = result.role.map_or("operator", role_name);
            let mut answer = json_answer(
                StatusCode::OK,
                &json!({
                    "username": username,
                    "display_name": result.display_name,
                    "role": role,
                    "must_change_password": result.must_change_password,
                    "csrf_token": csrf,
                }),
            );
            let cookie = format!("{COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                answer.headers_mut().insert(SET_COOKIE, v);
            }
            answer
        }
        (LoginStatus::TotpRequired, _) => refusal(
            StatusCode::UNAUTHORIZED,
            "totp_required",
            "This account needs the 6-digit code from its authenticator app.",
            "Type the code from the authenticator app and log in again.",
        ),
        (LoginStatus::BadTotp, _) => refusal(
            StatusCode::UNAUTHORIZED,
            "bad_totp",
            "The authenticator code was wrong or too old.",
            "Type the code the app shows now.",
        ),
        (LoginStatus::Disabled, _) => refusal(
            StatusCode::FORBIDDEN,
            "disabled",
            "This account is disabled.",
            "Ask an admin to enable it.",
        ),
        (status @ (LoginStatus::Blocked | LoginStatus::RateLimited), _) => {
            let wait_ms = result.blocked_until_ms.saturating_sub(now_ms());
            let (reason, error) = if status == LoginStatus::Blocked {
                (
                    "locked_out",
                    "Too many failed logins: this account is locked for now.",
                )
            } else {
                (
                    "too_many_attempts",
                    "Too many login attempts from here, or the relay is busy.",
                )
            };
            let mut answer = json_answer(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({
                    "error": error,
                    "what_to_do": format!(
                        "Try again in {} minute(s); an admin can unblock the account sooner.",
                        wait_ms.div_ceil(60_000).max(1)
                    ),
                    "reason": reason,
                    "retry_after_ms": wait_ms,
                }),
            );
            if let Ok(v) = HeaderValue::from_str(&wait_ms.div_ceil(1000).max(1).to_string()) {
                answer.headers_mut().insert(RETRY_AFTER, v);
            }
            answer
        }
        (LoginStatus::BadCredentials, _) => refusal(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "Wrong user name or password.",
            "Check both and try again; repeated failures lock the account for a while.",
        ),
        _ => refusal(
            StatusCode::FORBIDDEN,
            "not_allowed",
            "The relay did not let this login in.",
            "Try again; if it keeps failing, ask an admin.",
        ),
    };
    Ok(answer)
}

/// Who is logged in, and the CSRF token for this session.
pub(super) fn me(session: &SessionView) -> ApiResult {
    Ok(json_answer(
        StatusCode::OK,
        &json!({
            "username": session.username,
            "display_name": session.display_name,
            "role": role_name(session.role),
            "must_change_password": session.must_change_password,
            "csrf_token": session.csrf,
        }),
    ))
}

/// Ends the session and clears the cookie.
pub(super) fn logout(api: &Api, call: &Call) -> ApiResult {
    if let Some(token) = &call.token {
        api.sessions.remove(token);
    }
    let mut answer = ok()?;
    let cookie = format!("{COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        answer.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(answer)
}

/// Changes one's own password (also the forced first-login change).
pub(super) async fn change_password(api: &Api, call: &Call, session: &SessionView) -> ApiResult {
    let old = call.field("old_password")?;
    let new = call.field("new_password")?;
    let result = session.link.change_password(old, new).await?;
    if !result.is_ok() {
        return Err(refused(&result, "The password was not changed"));
    }
    if let Some(token) = &call.token {
        api.sessions.password_changed(token);
    }
    ok()
}
