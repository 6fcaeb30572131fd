//! The admin REST API under `/api/v1/`, described by `docs/openapi.json`
//! (served at `GET /api/v1/openapi.json`).
//!
//! The API is a client of the relay itself: a login opens an in-process
//! connection and logs in as the user with the caller's address (`link`),
//! so login limits, lockouts, TOTP, roles and audit are the relay's own.
//! Each call becomes an admin request on that connection.
//!
//! Sessions: cookie `rsupport_session` (`HttpOnly; Secure; SameSite=Strict;
//! Path=/`), a 256-bit random token kept only as its SHA-256. Every
//! `POST`/`PUT`/`PATCH`/`DELETE` needs the header `X-CSRF-Token` (from the
//! login answer or `GET /api/v1/me`) and an allowed `Origin`. Bodies are
//! JSON, at most [`MAX_BODY`] bytes; errors are
//! `{"error": "...", "what_to_do": "..."}`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use rsupport_proto::relay::{RequestError, RequestResult};
use rsupport_proto::Role;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::{percent_decode, Answer, WebFront};
use crate::server::Dialer;

mod accounts;
mod history;
mod link;
mod login;
pub(crate) mod stats;

use link::{SessionView, Sessions};

/// Largest request body.
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// How long a client may take to send its body.
const BODY_TIME: Duration = Duration::from_secs(10);
/// The session cookie's name.
pub(crate) const COOKIE: &str = "rsupport_session";
/// The OpenAPI document (also `docs/openapi.json`).
pub(crate) const OPENAPI: &str = include_str!("../../../../docs/openapi.json");

/// The admin API of one relay.
pub(crate) struct Api {
    dialer: Dialer,
    sessions: Arc<Sessions>,
}

/// An error answer in plain words.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    error: String,
    what_to_do: String,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        error: impl Into<String>,
        what_to_do: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            error: error.into(),
            what_to_do: what_to_do.into(),
        }
    }

    fn bad_request(error: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            error,
            "Correct the request; see /api/v1/openapi.json for what each endpoint takes.",
        )
    }

    fn relay_down() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "The connection to the relay for this login ended.",
            "Log in again.",
        )
    }

    fn into_answer(self) -> Answer {
        json_answer(
            self.status,
            &json!({"error": self.error, "what_to_do": self.what_to_do}),
        )
    }
}

impl From<link::LinkDown> for ApiError {
    fn from(_: link::LinkDown) -> Self {
        ApiError::relay_down()
    }
}

/// What a handler returns.
pub(crate) type ApiResult = Result<Answer, ApiError>;

/// A JSON answer that is never cached.
pub(crate) fn json_answer(status: StatusCode, body: &Value) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body.to_string())));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

/// `200 {"ok": true}`.
pub(crate) fn ok() -> ApiResult {
    Ok(json_answer(StatusCode::OK, &json!({"ok": true})))
}

/// Maps a relay's refusal to an HTTP error.
pub(crate) fn refused(result: &RequestResult, doing: &str) -> ApiError {
    let (status, what) = match result.error {
        Some(RequestError::NotAuthorized) => (StatusCode::FORBIDDEN, "Ask an admin to do this."),
        Some(RequestError::NotFound) => (
            StatusCode::NOT_FOUND,
            "Check the name or id; reload the list.",
        ),
        Some(RequestError::AlreadyExists) => (StatusCode::CONFLICT, "Choose another name."),
        Some(RequestError::WeakPassword) => (
            StatusCode::BAD_REQUEST,
            "Choose a longer password that is harder to guess (several unrelated words work well).",
        ),
        Some(RequestError::BadCredentials) => {
            (StatusCode::FORBIDDEN, "Type the current password again.")
        }
        Some(RequestError::InvalidArgument) => {
            (StatusCode::BAD_REQUEST, "Correct the value and try again.")
        }
        Some(RequestError::LimitReached) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Wait a little, or raise the limit in the settings.",
        ),
        Some(RequestError::ModeNotAllowed) => {
            (StatusCode::FORBIDDEN, "Ask an admin to allow this mode.")
        }
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Try again; if it keeps failing, look at the relay's log.",
        ),
    };
    let detail = if result.detail.is_empty() {
        "the relay refused".to_owned()
    } else {
        result.detail.clone()
    };
    ApiError::new(status, format!("{doing}: {detail}"), what)
}

/// A parsed request: what the handlers need.
pub(crate) struct Call {
    pub(crate) method: Method,
    /// Path segments after `/api/v1/`.
    pub(crate) segments: Vec<String>,
    /// Query parameters (decoded).
    pub(crate) query: Vec<(String, String)>,
    /// The JSON body (`Null` when empty).
    pub(crate) body: Value,
    /// The caller.
    pub(crate) addr: SocketAddr,
    /// The session cookie's token, if any.
    pub(crate) token: Option<String>,
}

impl Call {
    /// A query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A string field of the body.
    pub(crate) fn field(&self, name: &str) -> Result<String, ApiError> {
        match self.body.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::bad_request(format!("`{name}` must be text"))),
            None => Err(ApiError::bad_request(format!("`{name}` is missing"))),
        }
    }

    /// An optional string field of the body.
    pub(crate) fn opt_field(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_request(format!("`{name}` must be text"))),
        }
    }

    /// An optional true/false field of the body.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::bad_request(format!(
                "`{name}` must be true or false"
            ))),
        }
    }
}

impl Api {
    /// The API for the relay `dialer` reaches.
    pub(crate) fn new(dialer: Dialer) -> Self {
        Api {
            dialer,
            sessions: Arc::new(Sessions::default()),
        }
    }

    /// Starts the task that keeps web sessions alive and ends idle ones;
    /// it stops with the relay.
    pub(crate) fn start_sweeper(&self) {
        let sessions = Arc::downgrade(&self.sessions);
        let dialer = self.dialer.clone();
        // Well inside the relay's idle timeout, so the connections never idle out.
        let every =
            Duration::from_millis((dialer.relay().idle_timeout_ms / 3).clamp(1_000, 30_000));
        tokio::spawn(async move {
            let sweeping = async {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(sessions) = sessions.upgrade() else {
                        return;
                    };
                    sessions.sweep().await;
                }
            };
            tokio::select! {
                () = sweeping => {}
                () = dialer.stopped() => {}
            }
        });
    }

    /// Answers one API request.
    pub(crate) async fn handle(
        &self,
        req: Request<Incoming>,
        addr: SocketAddr,
        front: &WebFront,
    ) -> Answer {
        let mut answer = match self.route(req, addr, front).await {
            Ok(a) => a,
            Err(e) => e.into_answer(),
        };
        answer
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        answer
    }

    async fn route(&self, req: Request<Incoming>, addr: SocketAddr, front: &WebFront) -> ApiResult {
        let path = req.uri().path().to_owned();
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            return Err(not_found());
        };
        let segments: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_decode(s)
                    .ok_or_else(|| ApiError::bad_request("the path has a bad %-escape"))
            })
            .collect::<Result<_, _>>()?;
        let query = req.uri().query().map(parse_query).unwrap_or_default();
        let method = req.method().clone();
        let token = cookie_token(req.headers());
        let changes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        if changes && front.origin_allowed(req.headers()) != Some(true) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "This request did not come from the relay's own pages or an allowed site.",
                "Use the console served by the relay; an admin can add a vendor's site to \
                 web_allowed_origins.",
            ));
        }
        let csrf = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_body(req).await?;
        let call = Call {
            method,
            segments,
            query,
            body,
            addr,
            token,
        };
        let seg: Vec<&str> = call.segments.iter().map(String::as_str).collect();
        match (&call.method, seg.as_slice()) {
            (&Method::GET, ["openapi.json"]) => {
                let doc: Value = serde_json::from_str(OPENAPI).unwrap_or(Value::Null);
                return Ok(json_answer(StatusCode::OK, &doc));
            }
            (&Method::POST, ["login"]) => return login::login(self, &call).await,
            _ => {}
        }
        // Everything else needs a session, and changes need its CSRF token.
        let session = self.session(&call)?;
        if changes {
            let sent = csrf.unwrap_or_default();
            if !bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "The request's CSRF token is missing or wrong.",
                    "Reload the page; send X-CSRF-Token from the login answer or GET /api/v1/me.",
                ));
            }
        }
        match (&call.method, seg.as_slice()) {
            (&Method::GET, ["me"]) => return login::me(&session),
            (&Method::POST, ["logout"]) => return login::logout(self, &call),
            (&Method::POST, ["password"]) => {
                return login::change_password(self, &call, &session).await
            }
            _ => {}
        }
        if session.must_change_password {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "You must choose a new password before anything else.",
                "Change your password (POST /api/v1/password), then try again.",
            ));
        }
        if session.role != Role::Admin {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "{} is not an admin account; the admin API needs one.",
                    session.username
                ),
                "Log in with an admin account, or ask an admin to do this.",
            ));
        }
        match (&call.method, seg.as_slice()) {
            (&Method::GET, ["accounts"]) => accounts::list(&session).await,
            (&Method::POST, ["accounts"]) => accounts::create(&call, &session).await,
            (&Method::PATCH, ["accounts", name]) => accounts::update(&call, &session, name).await,
            (&Method::POST, ["accounts", name, "password"]) => {
                accounts::reset_password(&call, &session, name).await
            }
            (&Method::POST, ["accounts", name, "unblock"]) => {
                accounts::unblock(&session, name).await
            }
            (&Method::POST, ["accounts", name, "totp"]) => {
                accounts::enrol_totp(&session, name).await
            }
            (&Method::DELETE, ["accounts", name, "totp"]) => {
                accounts::remove_totp(&session, name).await
            }
            (&Method::GET, ["settings"]) => accounts::settings(&session).await,
            (&Method::PATCH, ["settings"]) => accounts::update_settings(&call, &session).await,
            (&Method::GET, ["sessions"]) => history::live_sessions(&session).await,
            (&Method::DELETE, ["sessions", id]) => history::end_session(&session, id).await,
            (&Method::GET, ["audit"]) => history::audit(&call, &session).await,
            (&Method::GET, ["audit", "export"]) => history::export(&call, &session).await,
            (&Method::GET, ["stats"]) => history::stats(&call, &session).await,
            _ => Err(not_found()),
        }
    }

    fn session(&self, call: &Call) -> Result<SessionView, ApiError> {
        call.token
            .as_deref()
            .and_then(|t| self.sessions.get(t))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "You are not logged in (or your login ended after 30 minutes without use).",
                    "Log in (POST /api/v1/login).",
                )
            })
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "There is no such API endpoint.",
        "See /api/v1/openapi.json for the endpoints.",
    )
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes within [`BODY_TIME`].
async fn read_body(req: Request<Incoming>) -> Result<Value, ApiError> {
    let limited = Limited::new(req.into_body(), MAX_BODY);
    let bytes = match tokio::time::timeout(BODY_TIME, limited.collect()).await {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not arrive in time.",
                "Try again on a better connection.",
            ))
        }
        Ok(Err(_)) => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "The request body is larger than {} KiB or broken off.",
                    MAX_BODY / 1024
                ),
                "Send a smaller request.",
            ))
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ (Value::Object(_) | Value::Null)) => Ok(v),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

/// The session cookie's token from the `Cookie` headers.
pub(crate) fn cookie_token(headers: &hyper::HeaderMap) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `a=1&b=x%20y` into pairs; bad escapes leave the raw text.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .take(64)
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                percent_decode(&s).unwrap_or(s)
            };
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_queries_are_read_without_panicking() {
        let mut h = hyper::HeaderMap::new();
        let token = "ab".repeat(32);
        h.insert(
            "cookie",
            HeaderValue::from_str(&format!("x=1; {COOKIE}={token}; y")).unwrap(),
        );
        assert_eq!(cookie_token(&h), Some(token));
        h.insert("cookie", HeaderValue::from_static("rsupport_session=short"));
        assert_eq!(cookie_token(&h), None);
        assert_eq!(
            parse_query("a=1&b=x%20y&c&d=%zz"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into()),
                ("d".into(), "%zz".into())
            ]
        );
        for weird in ["%", "%%%", "=&=&", "a=%f0%9f", "&&&"] {
            let _ = parse_query(weird);
        }
    }
}
