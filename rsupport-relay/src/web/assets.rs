//! The web console's files, from the folder `web_root`.
//!
//! `GET /` is `web_root/index.html`, `GET /x/y.js` is `web_root/x/y.js`.
//! A path with `..`, a backslash, a NUL, a hidden segment (`.git`) or that
//! resolves (through symlinks) outside the folder is not found. Answers
//! carry an `ETag` and are revalidated (`Cache-Control: no-cache`).
//! Without `web_root`, `/` is a built-in page saying how to install the
//! console.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Response, StatusCode};

use super::{error_page, percent_decode, Answer};

/// Largest file served (the console's WebAssembly is a few MiB).
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// The page served at `/` when no console is installed.
const NOT_INSTALLED: &str = include_str!("not_installed.html");

/// Serves files from a folder.
#[derive(Debug)]
pub(crate) struct Assets {
    root: Option<PathBuf>,
}

impl Assets {
    /// Files from `root`, or only the built-in page when `None`.
    pub(crate) fn new(root: Option<PathBuf>) -> Self {
        Assets { root }
    }

    /// The answer to `GET path`.
    pub(crate) async fn serve(&self, path: &str, request: &HeaderMap) -> Answer {
        let Some(relative) = safe_relative(path) else {
            return not_found();
        };
        let Some(root) = &self.root else {
            if relative.as_os_str().is_empty() || relative == Path::new("index.html") {
                return answer(
                    StatusCode::OK,
                    "text/html; charset=utf-8",
                    Bytes::from_static(NOT_INSTALLED.as_bytes()),
                );
            }
            return not_found();
        };
        let Ok(root) = tokio::fs::canonicalize(root).await else {
            tracing::warn!(web_root = %root.display(), "web_root cannot be read");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The web console's folder (web_root) cannot be read on the relay. An admin \
                 should check the path in the relay's configuration.",
            );
        };
        let Ok(mut file) = tokio::fs::canonicalize(root.join(&relative)).await else {
            return not_found();
        };
        // Symlinks may point anywhere: only what resolves inside the folder is served.
        if !file.starts_with(&root) {
            return not_found();
        }
        let Ok(mut meta) = tokio::fs::metadata(&file).await else {
            return not_found();
        };
        if meta.is_dir() {
            if !path.ends_with('/') {
                let mut moved = answer(StatusCode::MOVED_PERMANENTLY, "text/plain", Bytes::new());
                if let Ok(to) = HeaderValue::from_str(&format!("{path}/")) {
                    moved.headers_mut().insert(LOCATION, to);
                }
                return moved;
            }
            file.push("index.html");
            meta = match tokio::fs::metadata(&file).await {
                Ok(m) if m.is_file() => m,
                _ => return not_found(),
            };
        }
        if !meta.is_file() || meta.len() > MAX_FILE {
            return not_found();
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = format!("\"{:x}-{:x}\"", meta.len(), modified);
        let matches = request
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
        let mut reply = if matches {
            answer(StatusCode::NOT_MODIFIED, content_type(&file), Bytes::new())
        } else {
            match tokio::fs::read(&file).await {
                Ok(body) => answer(StatusCode::OK, content_type(&file), Bytes::from(body)),
                Err(_) => return not_found(),
            }
        };
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            reply.headers_mut().insert(ETAG, etag);
        }
        reply
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: Bytes) -> Answer {
    let mut reply = Response::new(Full::new(body));
    *reply.status_mut() = status;
    let h = reply.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    reply
}

fn not_found() -> Answer {
    error_page(
        StatusCode::NOT_FOUND,
        "There is no such page on this relay.",
    )
}

/// The file path a URL path names, relative to the folder; `None` when it
/// could leave the folder or name a hidden file. Empty means the index.
pub(crate) fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    let mut out = PathBuf::new();
    for segment in decoded.split('/') {
        if segment.is_empty() {
            continue;
        }
        if segment.starts_with('.')
            || segment.contains('\\')
            || segment.contains('\0')
            || segment.contains(':')
        {
            return None;
        }
        out.push(segment);
    }
    Some(out)
}

/// The `Content-Type` for a file, by its extension.
fn content_type(file: &Path) -> &'static str {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json" | "map") => "application/json",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_leave_the_folder_are_refused() {
        assert_eq!(safe_relative("/").unwrap(), PathBuf::new());
        assert_eq!(safe_relative("/a/b.js").unwrap(), PathBuf::from("a/b.js"));
        assert_eq!(safe_relative("//a//b.js").unwrap(), PathBuf::from("a/b.js"));
        for bad in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/secret",
            "/a/%2E%2E/b",
            "/.git/config",
            "/a\\..\\b",
            "/a%5c..%5cb",
            "/a%00.html",
            "/c:/windows",
            "/%zz",
            "/%",
            "/%ff",
        ] {
            assert!(safe_relative(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type(Path::new("a/pkg/x.wasm")), "application/wasm");
        assert_eq!(
            content_type(Path::new("x.MJS")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
