//! The web front door: HTTPS and WebSocket on the relay's own port.
//!
//! After the TLS handshake the relay looks at the first bytes a client
//! sends (`sniff`): an HTTP/1.1 request line goes here, anything else is
//! the native framed protocol. Here, [hyper] serves:
//!
//! - `GET /ws`: a WebSocket carrying exactly the native byte stream
//!   (`rsupport_net::ws`), run by the relay's ordinary connection driver;
//! - `/api/v1/…`: the admin REST API (`api`), a client of the relay itself;
//! - everything else: the web console's files from
//!   [`RelayConfig::web_root`](crate::RelayConfig::web_root) (`assets`).
//!
//! Every answer carries the security headers (`headers`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role as WsRole;
use tokio_tungstenite::WebSocketStream;

use crate::server::Dialer;

mod api;
mod assets;
#[doc(hidden)]
pub mod fuzzing;
mod headers;
pub(crate) mod sniff;

pub use headers::valid_origin;

/// An HTTP answer.
pub(crate) type Answer = Response<Full<Bytes>>;

/// Largest request header block.
const MAX_HEADERS: usize = 64 * 1024;

/// The web front door of one running relay.
pub(crate) struct WebFront {
    dialer: Dialer,
    tls: bool,
    allowed_origins: Vec<String>,
    headers: headers::SecurityHeaders,
    assets: assets::Assets,
    api: api::Api,
    handshake: Duration,
}

impl WebFront {
    /// The front door for the relay `dialer` reaches; `tls` when it serves TLS.
    pub(crate) fn start(dialer: Dialer, tls: bool) -> Arc<WebFront> {
        let relay = dialer.relay();
        let front = Arc::new(WebFront {
            tls,
            allowed_origins: relay.web_allowed_origins.clone(),
            headers: headers::SecurityHeaders::new(&relay.web_allowed_origins, tls),
            assets: assets::Assets::new(relay.web_root.clone()),
            api: api::Api::new(dialer.clone()),
            handshake: Duration::from_millis(relay.handshake_timeout_ms),
            dialer,
        });
        front.api.start_sweeper();
        front
    }

    /// Serves HTTP/1.1 on `stream` from `addr` until the client is done
    /// (or the connection became a WebSocket and that ended).
    pub(crate) async fn serve<S>(self: Arc<Self>, stream: S, addr: SocketAddr, client_cert: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let upgraded = Arc::new(Mutex::new(None::<AbortOnDrop>));
        let slot = upgraded.clone();
        let front = self.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let (front, slot) = (front.clone(), slot.clone());
            async move {
                let mut answer = front.handle(req, addr, client_cert, &slot).await;
                front.headers.apply(answer.headers_mut());
                Ok::<_, Infallible>(answer)
            }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.handshake)
            .max_buf_size(MAX_HEADERS);
        let conn = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        if let Err(e) = conn.await {
            tracing::debug!(%addr, error = %e, "HTTP connection ended");
        }
        let task = upgraded.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut task) = task {
            let _ = (&mut task.0).await;
        }
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
        addr: SocketAddr,
        client_cert: bool,
        slot: &Mutex<Option<AbortOnDrop>>,
    ) -> Answer {
        let path = req.uri().path();
        if path == "/ws" {
            return self.websocket(req, addr, client_cert, slot);
        }
        if path == "/api" || path.starts_with("/api/") {
            return self.api.handle(req, addr, self).await;
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Only GET and HEAD serve files.",
            );
        }
        let head = req.method() == Method::HEAD;
        let mut answer = self.assets.serve(req.uri().path(), req.headers()).await;
        if head {
            *answer.body_mut() = Full::new(Bytes::new());
        }
        answer
    }

    /// Whether the request's `Origin` may act here (`None`: it names none).
    pub(crate) fn origin_allowed(&self, headers: &hyper::HeaderMap) -> Option<bool> {
        headers::origin_allowed(headers, &self.allowed_origins, self.tls)
    }

    /// `GET /ws`: checks the upgrade and the origin, answers 101 and runs
    /// the connection on the upgraded socket.
    fn websocket(
        &self,
        req: Request<Incoming>,
        addr: SocketAddr,
        client_cert: bool,
        slot: &Mutex<Option<AbortOnDrop>>,
    ) -> Answer {
        if req.method() != Method::GET {
            return error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "The WebSocket is opened with GET.",
            );
        }
        let h = req.headers();
        let has = |name: &str, token: &str| {
            h.get_all(name).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            })
        };
        let key = h.get("sec-websocket-key").map(|k| k.as_bytes().to_vec());
        let (true, true, true, Some(key)) = (
            has("connection", "upgrade"),
            has("upgrade", "websocket"),
            has("sec-websocket-version", "13"),
            key,
        ) else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This address is the relay's WebSocket: open it with a WebSocket client (version 13).",
            );
        };
        if self.origin_allowed(h) == Some(false) {
            return error_page(
                StatusCode::FORBIDDEN,
                "Pages from this origin may not connect to the relay. An admin can add the \
                 origin to web_allowed_origins in the relay's configuration.",
            );
        }
        let accept = derive_accept_key(&key);
        let on_upgrade = hyper::upgrade::on(req);
        let dialer = self.dialer.clone();
        let task = tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                WsRole::Server,
                Some(rsupport_net::ws::config()),
            )
            .await;
            dialer
                .run(rsupport_net::ws::WsStream::new(ws), addr, client_cert)
                .await;
        });
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(AbortOnDrop(task));
        let mut answer = Response::new(Full::new(Bytes::new()));
        *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = answer.headers_mut();
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("connection", HeaderValue::from_static("Upgrade"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert("sec-websocket-accept", accept);
        }
        answer
    }
}

/// Aborts the task when dropped (the relay stopped mid-connection).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A small plain-text answer for people: what went wrong and what to do.
pub(crate) fn error_page(status: StatusCode, text: &str) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}

/// `%XX` escapes decoded; `None` for a bad escape or text that is not UTF-8.
/// One decoder for console file paths and API paths and queries, so both
/// refuse the same escapes.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
