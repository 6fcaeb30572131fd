//! The relay's web front door parsers that run before any login: protocol
//! sniffing, console file paths, API path segments, query strings, the
//! session cookie and the `Origin` check. Any bytes, never a panic, and
//! what each accepts keeps its promise: a sniff verdict never needs more
//! than `MAX_PEEK` bytes, a console path never leaves its folder, a query
//! has at most 64 pairs, a cookie token is 64 hex digits.
#![no_main]

use std::path::Component;

use libfuzzer_sys::fuzz_target;
use rsupport_relay::web::fuzzing::{
    api_segment, classify, console_file, origin_allowed, query, session_token, valid_origin,
    MAX_PEEK,
};

fuzz_target!(|data: &[u8]| {
    // Sniffing: a verdict stays once given, and MAX_PEEK bytes always decide.
    let mut verdict = None;
    for cut in 0..=data.len().min(MAX_PEEK) {
        let v = classify(data.get(..cut).unwrap_or_default());
        if let Some(earlier) = verdict {
            assert_eq!(v, Some(earlier), "a verdict changed with more bytes");
        }
        verdict = verdict.or(v);
    }
    if data.len() >= MAX_PEEK {
        assert!(verdict.is_some(), "{MAX_PEEK} bytes did not decide");
    }

    let text = String::from_utf8_lossy(data);

    // A console path never leaves the folder nor names a hidden file.
    if let Some(path) = console_file(&text) {
        for part in path.components() {
            match part {
                Component::Normal(name) => {
                    let name = name.to_string_lossy();
                    assert!(!name.starts_with('.'), "hidden or parent: {name:?}");
                    assert!(!name.contains(['\\', ':', '\0']), "{name:?}");
                }
                other => panic!("{other:?} in {path:?} from {text:?}"),
            }
        }
    }

    // A decoded API segment decodes again to itself once re-escaped.
    if let Some(decoded) = api_segment(&text) {
        let escaped: String = decoded.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(api_segment(&escaped).as_deref(), Some(decoded.as_str()));
    }

    assert!(query(&text).len() <= 64);

    // Cookies: the input split at ';' boundaries into several headers.
    let headers: Vec<&[u8]> = data.split(|&b| b == b'\n').take(16).collect();
    if let Some(token) = session_token(&headers) {
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    // Origin and Host from the two halves; a listed origin from the text.
    let (origin, host) = data.split_at(data.len() / 2);
    let allowed = vec![text.chars().take(64).collect::<String>()];
    let _ = origin_allowed(origin, Some(host), &allowed, true);
    let _ = origin_allowed(origin, None, &[], false);
    if valid_origin(&text) {
        assert!(text.starts_with("https://") || text.starts_with("http://"));
    }
});
