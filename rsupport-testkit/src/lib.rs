//! Test support shared by the rsupport crates (dev-dependency only).
//!
//! - [`Xvfb`]: a private X server (always).
//! - `broker` (feature `broker`): the relay's sans-IO broker on a virtual
//!   clock with accounts, for relay tests.
//! - `relay` (feature `relay`): a real relay over TLS on loopback with a
//!   SQLite store, restartable, a forwarder that cuts or stalls the link,
//!   and operator/customer pairs through the vendor API.
//! - `pair` (feature `pair`): an operator's and a customer's session back
//!   to back on a virtual clock, no relay or sockets.
//! - `web` (feature `web`): a real relay's web front door on loopback:
//!   HTTPS requests, WebSockets, an API client, a JSON Schema checker.
//! - `print` (feature `print`): PDF fixtures, CUPS queues, a print source
//!   fed from a channel.
//! - `browser` (feature `browser`): headless Chromium driving the web
//!   console through `web/tests/driver.mjs`.
//! - `x11` (feature `x11`): a drawn X desktop, the server's own picture of
//!   it, and an observer of injected input.
//!
//! [`Xvfb`] starts a private X server on a free display for one test run and
//! stops it when dropped. Tests that need X call [`Xvfb::start`] and *fail*
//! when Xvfb is missing: X11 tests must run in CI, never skip silently.

#[cfg(feature = "broker")]
pub mod broker;
#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "pair")]
pub mod pair;
#[cfg(feature = "print")]
pub mod print;
#[cfg(feature = "relay")]
pub mod relay;
#[cfg(feature = "relay")]
pub mod tap;
#[cfg(feature = "web")]
pub mod web;
#[cfg(feature = "x11")]
pub mod x11;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Xvfb server, killed on drop.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    display: u32,
}

impl Xvfb {
    /// Starts `Xvfb :N -screen 0 1920x1080x24` on the first free display at or after :90.
    ///
    /// Panics with a clear message when Xvfb is not installed or does not come
    /// up: a test that needs X must not pass without one.
    pub fn start() -> Xvfb {
        Xvfb::start_with_size(1920, 1080)
    }

    /// As [`Xvfb::start`] with a chosen screen size (depth 24).
    pub fn start_with_size(width: u32, height: u32) -> Xvfb {
        // Threads of one test binary start servers one at a time: two threads
        // probing together could both pick the same free display.
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        // Each process picks from its own band so parallel test binaries rarely collide;
        // the lock file check below settles the rest.
        let base = 90 + (std::process::id() % 200) * 4;
        for display in base..base + 400 {
            if Path::new(&format!("/tmp/.X{display}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{display}")).exists()
            {
                continue;
            }
            let child = Command::new("Xvfb")
                .arg(format!(":{display}"))
                .args(["-screen", "0", &format!("{width}x{height}x24")])
                .args(["-nolisten", "tcp", "-noreset", "+extension", "XFIXES"])
                .args(["+extension", "DAMAGE", "+extension", "XTEST"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match child {
                Ok(c) => c,
                Err(e) => panic!(
                    "cannot run Xvfb ({e}); install it (Debian: apt-get install xvfb) — \
                     X11 tests never skip"
                ),
            };
            let socket = format!("/tmp/.X11-unix/X{display}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&socket).exists() {
                    // The socket may belong to a server another process started
                    // on the same display a moment earlier: ours must still be alive.
                    std::thread::sleep(Duration::from_millis(30));
                    if let Ok(None) = child.try_wait() {
                        return Xvfb { child, display };
                    }
                    break;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost a race for this display; try the next
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("Xvfb did not start on any display");
    }

    /// The display name, e.g. `":93"`, for `DISPLAY` or `x11rb::connect`.
    pub fn display(&self) -> String {
        format!(":{}", self.display)
    }

    /// The display number.
    pub fn number(&self) -> u32 {
        self.display
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid` in KiB, read from `/proc/PID/status`
/// (0 when it cannot be read): what the memory benches report.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
