//! Entry points for the fuzz target `web_parsers` (`fuzz/`): the small
//! parsers the web front door runs on bytes from the network before anyone
//! logged in — protocol sniffing, URL path decoding (console files and API
//! paths), query strings, the session cookie and the `Origin` check.
//! Hidden from the documentation and not part of the stable API.

use std::path::PathBuf;

use hyper::header::{HeaderMap, HeaderValue};

use super::{api, assets, headers, sniff};

/// The most bytes the protocol sniffer ever needs to decide.
pub const MAX_PEEK: usize = sniff::MAX_PEEK;

/// What the first bytes of a connection say: `Some(true)` an HTTP request
/// (the web front door), `Some(false)` the framed protocol, `None` not yet
/// known (a proper prefix of a request method).
pub fn classify(first: &[u8]) -> Option<bool> {
    sniff::classify(first).map(|s| s == sniff::Speaks::Http)
}

/// The file a URL path names under the console folder, or `None` when the
/// path could leave it or names a hidden file.
pub fn console_file(path: &str) -> Option<PathBuf> {
    assets::safe_relative(path)
}

/// One `%`-escaped segment of an API path, decoded.
pub fn api_segment(segment: &str) -> Option<String> {
    super::percent_decode(segment)
}

/// A query string as the API reads it (at most 64 pairs).
pub fn query(query: &str) -> Vec<(String, String)> {
    api::parse_query(query)
}

/// The session cookie's token from `Cookie` header values (values a
/// header cannot carry are dropped, as hyper would refuse them).
pub fn session_token(cookies: &[&[u8]]) -> Option<String> {
    let mut map = HeaderMap::new();
    for value in cookies {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            map.append("cookie", v);
        }
    }
    api::cookie_token(&map)
}

/// Whether a request with these `Origin` and `Host` values may change
/// anything on a relay that allows `allowed` origins besides its own.
pub fn origin_allowed(
    origin: &[u8],
    host: Option<&[u8]>,
    allowed: &[String],
    tls: bool,
) -> Option<bool> {
    let mut map = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(origin) {
        map.insert("origin", v);
    }
    if let Some(Ok(v)) = host.map(HeaderValue::from_bytes) {
        map.insert("host", v);
    }
    headers::origin_allowed(&map, allowed, tls)
}

/// Whether an origin may be listed in `web_allowed_origins`.
pub fn valid_origin(origin: &str) -> bool {
    headers::valid_origin(origin)
}
