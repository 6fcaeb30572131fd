//! A real relay's web front door on loopback: HTTPS requests, WebSockets
//! and native connections to the same TLS port, a login and a pairing by
//! session code on any framed connection, a logged-in API client with its
//! cookie and CSRF token, and a small JSON Schema checker for the relay's
//! OpenAPI document.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_net::tls::{client_config, Trust};
use rsupport_net::ws::WsStream;
use rsupport_net::RelayConnection;
use rsupport_proto::relay::{CustomerInfo, Login, LoginStatus, RelayMessage};
use rsupport_proto::Role;
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::SqliteStore;
use rsupport_relay::{
    bootstrap_admin, create_account, AccountSpec, Relay, RelayConfig, RunningRelay, ShutdownMode,
};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::WebSocketStream;

/// The admin account of every web test relay.
pub const ADMIN: &str = "root";
/// Its password.
pub const ADMIN_PASSWORD: &str = "violet-kettle-harbor-42";
/// The operator account of every web test relay.
pub const OPERATOR: &str = "aiko";
/// Its password.
pub const OPERATOR_PASSWORD: &str = "Operator1";
/// How long a test waits before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// A TLS client stream to the relay.
pub type Tls = TlsStream<TcpStream>;

/// A real TLS relay on 127.0.0.1 with an admin and an operator, over a
/// SQLite file.
pub struct WebRelay {
    addr: SocketAddr,
    fingerprint: [u8; 32],
    running: Option<RunningRelay>,
}

impl WebRelay {
    /// Starts a relay whose database is `db`, adjusted by `configure`.
    pub async fn start(db: &Path, configure: impl FnOnce(&mut RelayConfig)) -> WebRelay {
        let (identity, _, _) =
            rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
        let fingerprint = identity.fingerprint();
        let mut store = SqliteStore::open(db).unwrap();
        let mut rng = StdRng::seed_from_u64(21);
        let fast = Argon2Params::insecure_fast();
        bootstrap_admin(&mut store, ADMIN, ADMIN_PASSWORD, fast, &mut rng, 0).unwrap();
        let operator = AccountSpec {
            username: OPERATOR,
            display_name: "Aiko",
            password: OPERATOR_PASSWORD,
            role: Role::Operator,
        };
        create_account(&mut store, operator, fast, &mut rng, 0).unwrap();
        let running = Relay::builder()
            .configure(|relay| {
                relay.argon2 = fast;
                configure(relay);
            })
            .store(store)
            .identity(identity)
            .rng(StdRng::seed_from_u64(22))
            .start("127.0.0.1:0")
            .await
            .unwrap();
        WebRelay {
            addr: running.local_addr(),
            fingerprint,
            running: Some(running),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its certificate's SHA-256 fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The `Host` a browser would send.
    pub fn host(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    /// The relay's own origin, as a browser on its pages would send it.
    pub fn origin(&self) -> String {
        format!("https://{}", self.host())
    }

    /// A TLS connection to the relay's port (nothing sent yet).
    pub async fn tls(&self) -> Tls {
        let config = client_config(Trust::Fingerprint(self.fingerprint), None).unwrap();
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .unwrap()
    }

    /// A native framed connection that said `Hello` as `role`.
    pub async fn native(&self, role: Role) -> RelayConnection<Tls> {
        let mut c = RelayConnection::new(self.tls().await);
        c.hello(role, "web-test").await.unwrap();
        c
    }

    /// One HTTP/1.1 request on a fresh connection; `headers` are added to
    /// `Host`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let io = TokioIo::new(self.tls().await);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.host());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
        let answer = tokio::time::timeout(WAIT, sender.send_request(req))
            .await
            .expect("answer in time")
            .unwrap();
        let (parts, body) = answer.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], b"").await
    }

    /// Opens `wss://…/ws` with `origin` (none when `None`).
    pub async fn websocket(
        &self,
        origin: Option<&str>,
    ) -> Result<WebSocketStream<Tls>, tokio_tungstenite::tungstenite::Error> {
        let mut req = format!("wss://{}/ws", self.host())
            .into_client_request()
            .unwrap();
        if let Some(origin) = origin {
            req.headers_mut().insert("origin", origin.parse().unwrap());
        }
        let config = rsupport_net::ws::config();
        tokio_tungstenite::client_async_with_config(req, self.tls().await, Some(config))
            .await
            .map(|(ws, _)| ws)
    }

    /// A framed connection over the WebSocket (same origin) that said
    /// `Hello` as `role`: what the browser console speaks.
    pub async fn framed_ws(&self, role: Role) -> RelayConnection<WsStream<Tls>> {
        let ws = self.websocket(Some(&self.origin())).await.unwrap();
        let mut c = RelayConnection::new(WsStream::new(ws));
        c.hello(role, "web-test").await.unwrap();
        c
    }

    /// An API client logged in as `username`.
    pub async fn api_login(&self, username: &str, password: &str) -> ApiClient<'_> {
        let mut client = ApiClient {
            relay: self,
            cookie: String::new(),
            csrf: String::new(),
        };
        let reply = client
            .post(
                "/api/v1/login",
                &serde_json::json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        client.cookie = reply.cookie().expect("a session cookie");
        client.csrf = reply.json()["csrf_token"].as_str().unwrap().to_owned();
        client
    }

    /// Stops the relay (ending every session) and waits for it.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            tokio::time::timeout(WAIT, running.stop(ShutdownMode::EndSessions))
                .await
                .unwrap()
                .unwrap();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// `name=value` of the `Set-Cookie` header, if any.
    pub fn cookie(&self) -> Option<String> {
        let set = self.header("set-cookie")?;
        Some(set.split(';').next()?.trim().to_owned())
    }
}

/// A logged-in API client: sends the session cookie, and on state-changing
/// requests the CSRF token and the relay's own `Origin`, as the console does.
pub struct ApiClient<'a> {
    /// The relay it talks to.
    pub relay: &'a WebRelay,
    /// `name=value` of the session cookie.
    pub cookie: String,
    /// The CSRF token from the login.
    pub csrf: String,
}

impl ApiClient<'_> {
    /// `GET path` with the cookie.
    pub async fn get(&self, path: &str) -> Reply {
        let cookie = self.cookie.clone();
        self.relay
            .send("GET", path, &[("cookie", cookie.as_str())], b"")
            .await
    }

    /// `method path` with a JSON body, the cookie, the CSRF token and the origin.
    pub async fn call(&self, method: &str, path: &str, body: &Value) -> Reply {
        let body = serde_json::to_vec(body).unwrap();
        let origin = self.relay.origin();
        let mut headers = vec![
            ("content-type", "application/json"),
            ("origin", origin.as_str()),
            ("x-csrf-token", self.csrf.as_str()),
        ];
        if !self.cookie.is_empty() {
            headers.push(("cookie", self.cookie.as_str()));
        }
        self.relay.send(method, path, &headers, &body).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path, body).await
    }
}

/// Logs `c` (past its `Hello`) in as `username` and returns the relay's
/// verdict. Generic over the stream so that native and WebSocket clients
/// log in the same way. The verdict must be the next message: the relay
/// sends nothing unasked here, so anything else first is a failure.
pub async fn log_in<S>(c: &mut RelayConnection<S>, username: &str, password: &str) -> LoginStatus
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    c.send(&RelayMessage::Login(Login {
        username: username.into(),
        password: password.into(),
        totp: Default::default(),
    }))
    .await
    .unwrap();
    match c.recv_relay().await.unwrap() {
        RelayMessage::LoginResult(r) => r.status,
        other => panic!("expected LoginResult, got {other:?}"),
    }
}

/// Pairs a logged-in operator with a customer (both past `Hello`) the way
/// people do: the operator asks for a session code, the customer joins
/// with it as "Bob". Each answer must come next (as in [`log_in`]), and
/// both must hear `Paired` for the same session; returns its id.
pub async fn pair_by_code<O, C>(op: &mut RelayConnection<O>, cu: &mut RelayConnection<C>) -> u64
where
    O: AsyncRead + AsyncWrite + Unpin,
    C: AsyncRead + AsyncWrite + Unpin,
{
    op.send(&RelayMessage::IssueCode { ttl_secs: 0 })
        .await
        .unwrap();
    let code = match op.recv_relay().await.unwrap() {
        RelayMessage::CodeIssued(c) => c.code,
        other => panic!("expected CodeIssued, got {other:?}"),
    };
    cu.send(&RelayMessage::JoinByCode {
        code,
        customer: CustomerInfo {
            name: "Bob".into(),
            ..Default::default()
        },
    })
    .await
    .unwrap();
    let paired = |m: RelayMessage| match m {
        RelayMessage::Paired(p) => p.session_id,
        other => panic!("expected Paired, got {other:?}"),
    };
    let id = paired(cu.recv_relay().await.unwrap());
    assert_eq!(paired(op.recv_relay().await.unwrap()), id);
    id
}

/// Checks `value` against `schema`, resolving `$ref`s (`#/…`) in `root`.
/// The subset the relay's OpenAPI document uses: `type` (with
/// `nullable`), `properties`, `required`, `additionalProperties: false`,
/// `items`, `enum`, `oneOf`, `minimum`. Returns where and why it failed.
pub fn check_schema(root: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    check_at(root, schema, value, "$")
}

fn check_at(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .ok_or(format!("{at}: bad $ref"))?;
        let target = root
            .pointer(pointer)
            .ok_or(format!("{at}: $ref {reference} not found"))?;
        return check_at(root, target, value, at);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = options
            .iter()
            .filter(|o| check_at(root, o, value, at).is_ok())
            .count();
        if passing != 1 {
            return Err(format!("{at}: matches {passing} of oneOf, not exactly one"));
        }
    }
    if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return Ok(());
    }
    if let Some(ty) = schema.get("type").and_then(Value::as_str) {
        let ok = match ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            other => return Err(format!("{at}: schema type {other} unknown to the checker")),
        };
        if !ok {
            return Err(format!("{at}: expected {ty}, got {value}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n < min {
            return Err(format!("{at}: {n} below minimum {min}"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                return Err(format!("{at}: required field {name} missing"));
            }
        }
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => check_at(root, s, v, &format!("{at}.{name}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: field {name} not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            check_at(root, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The JSON schema of the answer to `method path` with `status` in the
/// OpenAPI document `doc` (`path` as written there, e.g.
/// `/api/v1/accounts/{username}`); panics when the document does not
/// describe that answer.
pub fn response_schema(doc: &Value, path: &str, method: &str, status: u16) -> Value {
    let operation = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(
        operation.is_object(),
        "{method} {path} not in the OpenAPI document"
    );
    let response = &operation["responses"][status.to_string()];
    let response = if response.is_object() {
        response
    } else {
        &operation["responses"]["default"]
    };
    assert!(
        response.is_object(),
        "{method} {path} {status} not documented"
    );
    let response = match response.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap(),
        None => response,
    };
    response["content"]["application/json"]["schema"].clone()
}

/// Asserts `reply` is a documented answer of `method path` and its JSON
/// body matches the document's schema.
pub fn assert_documented(doc: &Value, path: &str, method: &str, reply: &Reply) {
    let schema = response_schema(doc, path, method, reply.status);
    let body = reply.json();
    if let Err(e) = check_schema(doc, &schema, &body) {
        panic!("{method} {path} {}: {e}\nbody: {body}", reply.status);
    }
}

/// The relay's certificate trust for clients built by hand.
pub fn trust(relay: &WebRelay) -> Arc<rustls::ClientConfig> {
    client_config(Trust::Fingerprint(relay.fingerprint), None).unwrap()
}
