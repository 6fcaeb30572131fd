//! The web console's files: content types, caching, traversal refused, the
//! built-in page without a console, and the security headers on every answer.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::web::{Reply, WebRelay};

const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                   img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

fn assert_secured(reply: &Reply) {
    assert_eq!(reply.header("content-security-policy"), Some(CSP));
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    assert!(reply
        .header("strict-transport-security")
        .is_some_and(|v| v.starts_with("max-age=")));
}

#[tokio::test]
async fn files_are_served_with_their_types_and_revalidated_by_etag() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("console");
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::create_dir_all(root.join("admin")).unwrap();
    let files: &[(&str, &str)] = &[
        ("index.html", "text/html; charset=utf-8"),
        ("admin/index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("m.mjs", "text/javascript; charset=utf-8"),
        ("s.css", "text/css; charset=utf-8"),
        ("pkg/rsupport_web_bg.wasm", "application/wasm"),
        ("i.svg", "image/svg+xml"),
        ("p.png", "image/png"),
        ("d.json", "application/json"),
        ("favicon.ico", "image/x-icon"),
    ];
    for (name, _) in files {
        std::fs::write(root.join(name), format!("contents of {name}")).unwrap();
    }
    let relay = WebRelay::start(&dir.path().join("relay.db"), |c| {
        c.web_root = Some(root.clone());
    })
    .await;
    for (name, ty) in files {
        let reply = relay.get(&format!("/{name}")).await;
        assert_eq!(reply.status, 200, "{name}");
        assert_eq!(reply.header("content-type"), Some(*ty), "{name}");
        assert_eq!(reply.text(), format!("contents of {name}"));
        assert_secured(&reply);
    }
    let index = relay.get("/").await;
    assert_eq!(index.text(), "contents of index.html");
    let admin = relay.get("/admin/").await;
    assert_eq!(admin.text(), "contents of admin/index.html");
    let moved = relay.get("/admin").await;
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location"), Some("/admin/"));

    let etag = index.header("etag").unwrap().to_owned();
    let again = relay
        .send("GET", "/", &[("if-none-match", etag.as_str())], b"")
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_secured(&again);
    let head = relay.send("HEAD", "/app.js", &[], b"").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn paths_out_of_the_folder_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("console");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "index").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    std::fs::write(root.join(".hidden"), "hidden").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
    let relay = WebRelay::start(&dir.path().join("relay.db"), |c| {
        c.web_root = Some(root.clone());
    })
    .await;
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/x/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/link.txt",
        "/up/secret.txt",
        "/.hidden",
        "/index.html%00.png",
        "/nothing.js",
        "/%",
    ] {
        let reply = relay.get(path).await;
        assert!(
            matches!(reply.status, 400 | 404),
            "{path}: {} {}",
            reply.status,
            reply.text()
        );
        assert!(!reply.text().contains("secret"), "{path}");
        // hyper answers some malformed targets itself, before the relay's handler.
        if reply.status == 404 {
            assert_secured(&reply);
        }
    }
    let post = relay.send("POST", "/index.html", &[], b"x").await;
    assert_eq!(post.status, 405);
    assert_secured(&post);
}

#[tokio::test]
async fn without_a_console_the_relay_says_how_to_install_one() {
    let dir = tempfile::tempdir().unwrap();
    let relay = WebRelay::start(&dir.path().join("relay.db"), |_| {}).await;
    let page = relay.get("/").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("--web-root"));
    assert!(!page.text().contains("<script"));
    assert!(!page.text().contains("style="));
    assert_secured(&page);
    let missing = relay.get("/operator/").await;
    assert_eq!(missing.status, 404);
    assert_secured(&missing);
}

#[tokio::test]
async fn allowed_origins_appear_in_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let relay = WebRelay::start(&dir.path().join("relay.db"), |c| {
        c.web_allowed_origins = vec!["https://help.example.com".into()];
    })
    .await;
    let page = relay.get("/").await;
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("connect-src 'self' https://help.example.com;"),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors https://help.example.com;"),
        "{csp}"
    );
}

#[tokio::test]
async fn the_admin_console_is_served_and_has_nothing_inline() {
    let dir = tempfile::tempdir().unwrap();
    let console = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/console");
    let relay = WebRelay::start(&dir.path().join("relay.db"), |c| {
        c.web_root = Some(console.clone());
    })
    .await;
    for (path, ty) in [
        ("/", "text/html; charset=utf-8"),
        ("/admin/", "text/html; charset=utf-8"),
        ("/admin/app.js", "text/javascript; charset=utf-8"),
        ("/admin/admin.css", "text/css; charset=utf-8"),
        ("/common/api.js", "text/javascript; charset=utf-8"),
        ("/common/console.css", "text/css; charset=utf-8"),
    ] {
        let reply = relay.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(ty), "{path}");
        let text = reply.text();
        if ty.starts_with("text/html") {
            // The CSP forbids inline scripts, inline styles and handlers.
            for script in text.split("<script").skip(1) {
                assert!(script.split('>').next().unwrap().contains("src="), "{path}");
            }
            assert!(!text.contains("<style"), "{path}");
            assert!(!text.contains(" style="), "{path}");
            assert!(!text.contains(" onclick="), "{path}");
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{path}: no CDN"
            );
        }
    }
}
