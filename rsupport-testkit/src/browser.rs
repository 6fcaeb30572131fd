//! Headless Chromium driving the web console (feature `browser`), for the
//! browser tests and the demo: `web/tests/driver.mjs` (Playwright with
//! Debian's `chromium`) reads one JSON command per line and answers each
//! with one JSON line, `{"ok": true, ...}` or `{"ok": false, "error": ...}`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long one browser step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(45);

/// The workspace's `web/` folder (the console's sources and drivers).
pub fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("web")
}

/// Headless Chromium behind `web/tests/driver.mjs`.
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Browser {
    /// Starts the operator console's driver (Debian's chromium, npm's
    /// playwright-core).
    pub async fn start() -> Browser {
        Self::start_script("tests/driver.mjs").await
    }

    /// Starts a driver script (path relative to `web/`) that speaks the
    /// same line protocol.
    pub async fn start_script(script: &str) -> Browser {
        let web = web_dir();
        assert!(
            web.join("node_modules/playwright-core").is_dir(),
            "playwright-core is not installed: run `bash scripts/build-web.sh` (it runs npm ci in web/)"
        );
        let mut child = Command::new("node")
            .arg(script)
            .current_dir(&web)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (install nodejs: scripts/install-deps.sh)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Browser {
            child,
            stdin,
            stdout,
        }
    }

    /// Runs one command; panics with the driver's error (and the page's
    /// console) when it fails.
    pub async fn run(&mut self, command: Value) -> Value {
        let answer = self.try_run(command.clone()).await;
        if answer["ok"] != json!(true) {
            // What the page looked like when the step failed, for people.
            let path = shots().join("failed-step.png");
            let _ = self
                .try_run(json!({"cmd": "screenshot", "path": path}))
                .await;
        }
        assert_eq!(
            answer["ok"],
            json!(true),
            "browser step {command} failed: {answer}"
        );
        answer
    }

    /// Runs one command and returns the driver's answer, failed or not.
    pub async fn try_run(&mut self, command: Value) -> Value {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let reply = tokio::time::timeout(STEP, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("browser step {command} took over {STEP:?}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the browser driver exited during {command}"));
        serde_json::from_str(&reply).unwrap()
    }

    /// Saves a screenshot of the page as `target/web-shots/NAME.png`.
    pub async fn screenshot(&mut self, name: &str) {
        let path = shots().join(format!("{name}.png"));
        self.screenshot_to(&path).await;
    }

    /// Saves a screenshot of the page at `path`.
    pub async fn screenshot_to(&mut self, path: &Path) {
        self.run(json!({"cmd": "screenshot", "path": path})).await;
    }

    /// The visible session's canvas as (width, height, RGBA).
    pub async fn canvas(&mut self, scratch: &Path) -> (u32, u32, Vec<u8>) {
        let path = scratch.join("canvas.rgba");
        let answer = self.run(json!({"cmd": "canvas", "path": path})).await;
        let width = u32::try_from(answer["width"].as_u64().unwrap()).unwrap();
        let height = u32::try_from(answer["height"].as_u64().unwrap()).unwrap();
        (width, height, std::fs::read(&path).unwrap())
    }

    /// Opens the console at `url`, logs in and issues a code.
    pub async fn operator_with_code(
        &mut self,
        url: &str,
        username: &str,
        password: &str,
    ) -> String {
        self.run(json!({"cmd": "open", "url": url})).await;
        self.screenshot("operator-login").await;
        let login = self
            .run(json!({"cmd": "login", "username": username, "password": password}))
            .await;
        assert_eq!(login["page"], json!("lobby"), "{login}");
        let code = self.run(json!({"cmd": "issue_code"})).await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        self.screenshot("operator-code").await;
        code
    }

    /// Closes the browser.
    pub async fn quit(mut self) {
        let _ = self.stdin.write_all(b"{\"cmd\":\"quit\"}\n").await;
        let _ = self.stdin.flush().await;
        let _ = tokio::time::timeout(STEP, self.child.wait()).await;
    }
}

/// Where screenshots of the console go (looked at by people, kept by CI).
pub fn shots() -> PathBuf {
    web_dir().parent().unwrap().join("target/web-shots")
}
