//! Security headers on every answer, and the `Origin` check.

use hyper::header::{HeaderMap, HeaderValue};

/// The headers every HTTP answer of the relay carries.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders {
    csp: HeaderValue,
    hsts: bool,
}

impl SecurityHeaders {
    /// For a relay with these extra allowed origins; HSTS when `tls`.
    pub(crate) fn new(allowed_origins: &[String], tls: bool) -> Self {
        SecurityHeaders {
            csp: csp(allowed_origins),
            hsts: tls,
        }
    }

    /// Adds the headers to an answer.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        headers.insert("content-security-policy", self.csp.clone());
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        if self.hsts {
            headers.insert(
                "strict-transport-security",
                HeaderValue::from_static("max-age=31536000"),
            );
        }
    }
}

/// The Content-Security-Policy: nothing inline, nothing from elsewhere,
/// except the allowed origins for connections and framing.
fn csp(allowed_origins: &[String]) -> HeaderValue {
    let extra: String = allowed_origins.iter().map(|o| format!(" {o}")).collect();
    let value = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: blob:; connect-src 'self'{extra}; frame-ancestors 'none'{extra}; \
         base-uri 'none'; form-action 'self'"
    );
    // 'none' must stand alone: with allowed origins, they replace it.
    let value = if allowed_origins.is_empty() {
        value
    } else {
        value.replace("frame-ancestors 'none' ", "frame-ancestors ")
    };
    // Origins are checked at start (`valid_origin`): always a valid header.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// Whether `origin` is a plain origin: `http(s)://host[:port]`, no path,
/// no user, nothing a header could not carry.
pub fn valid_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest.len() <= 253 + 6
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Whether a request's `Origin` may act on this relay: its own origin
/// (the `Host` the request was sent to, over this relay's scheme) or one
/// of the allowed origins. `None` when the request names no origin.
pub(crate) fn origin_allowed(headers: &HeaderMap, allowed: &[String], tls: bool) -> Option<bool> {
    let origin = headers.get("origin")?.to_str().ok();
    let Some(origin) = origin else {
        return Some(false);
    };
    let host = headers.get("host").and_then(|h| h.to_str().ok());
    let scheme = if tls { "https://" } else { "http://" };
    let own = host.is_some_and(|h| origin.strip_prefix(scheme) == Some(h));
    Some(own || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_and_listed_origins_pass_others_do_not() {
        let allowed = vec!["https://help.example.com".to_owned()];
        let own = headers(&[("host", "relay:7443"), ("origin", "https://relay:7443")]);
        assert_eq!(origin_allowed(&own, &allowed, true), Some(true));
        assert_eq!(origin_allowed(&own, &allowed, false), Some(false));
        let listed = headers(&[("host", "relay"), ("origin", "https://help.example.com")]);
        assert_eq!(origin_allowed(&listed, &allowed, true), Some(true));
        let evil = headers(&[("host", "relay"), ("origin", "https://evil.example")]);
        assert_eq!(origin_allowed(&evil, &allowed, true), Some(false));
        let prefix = headers(&[("host", "relay"), ("origin", "https://relay.evil")]);
        assert_eq!(origin_allowed(&prefix, &allowed, true), Some(false));
        assert_eq!(
            origin_allowed(&headers(&[("host", "relay")]), &allowed, true),
            None
        );
    }

    #[test]
    fn origins_in_the_settings_are_plain_origins() {
        assert!(valid_origin("https://help.example.com"));
        assert!(valid_origin("http://localhost:8080"));
        assert!(!valid_origin("https://a.example/path"));
        assert!(!valid_origin("https://a.example; script-src *"));
        assert!(!valid_origin("ftp://a.example"));
        assert!(!valid_origin("https://"));
        assert!(!valid_origin("*"));
    }

    #[test]
    fn the_policy_lists_allowed_origins_only_where_it_should() {
        let plain = csp(&[]);
        assert!(plain.to_str().unwrap().contains("frame-ancestors 'none';"));
        let with = csp(&["https://help.example.com".into()]);
        let with = with.to_str().unwrap();
        assert!(with.contains("connect-src 'self' https://help.example.com;"));
        assert!(with.contains("frame-ancestors https://help.example.com;"));
        assert!(with.contains("script-src 'self' 'wasm-unsafe-eval';"));
    }
}
