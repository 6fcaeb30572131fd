//! The installed program as an admin uses it (README, "Self-host the
//! relay"): the real `rsupport-relay` binary, bootstrapped, served on
//! loopback with a configuration file in another folder than the working
//! directory, administered over TLS with the fingerprint it printed, and
//! stopped with SIGTERM.
//!
//! Every wait polls against a generous deadline, so a loaded machine makes
//! the test slower, never flaky, and a broken relay makes it fail, never hang.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rsupport-relay");
/// Long enough for a debug build on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(120);
const ADMIN_PASSWORD: &str = "velvet-compass-orbit-63";

/// Loopback only, any free port (the relay prints the one it got), and cheap
/// password hashing so the debug build's argon2 does not dominate the run.
const CONFIG: &str = r#"
listen = "127.0.0.1:0"
database = "relay.db"
state_dir = "state"

[argon2]
m_cost = 64
t_cost = 1
p_cost = 1
"#;

/// A running `rsupport-relay serve`; killed if the test ends early.
struct Relay {
    child: Child,
    stderr: thread::JoinHandle<String>,
    fingerprint: String,
    addr: String,
}

impl Relay {
    fn start(cwd: &Path, config: &str) -> Relay {
        let mut child = Command::new(BIN)
            .args(["serve", "--config", config])
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = collect(child.stderr.take().unwrap());
        let (lines, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut relay = Relay {
            child,
            stderr,
            fingerprint: String::new(),
            addr: String::new(),
        };
        let until = Instant::now() + DEADLINE;
        while relay.addr.is_empty() {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(fp) = line.strip_prefix("certificate SHA-256 fingerprint: ") {
                        relay.fingerprint = fp.to_owned();
                    } else if let Some(addr) = line.strip_prefix("listening on ") {
                        relay.addr = addr.to_owned();
                    }
                }
                Err(_) => {
                    let _ = relay.child.kill();
                    let _ = relay.child.wait();
                    let log = std::mem::replace(&mut relay.stderr, thread::spawn(String::new));
                    panic!(
                        "the relay did not say where it listens; its log:\n{}",
                        log.join().unwrap()
                    );
                }
            }
        }
        assert_eq!(relay.fingerprint.len(), 32 * 3 - 1, "{}", relay.fingerprint);
        relay
    }

    /// `rsupport-relay admin --relay … --fingerprint … --username root ARGS`.
    fn admin(&self, cwd: &Path, args: &[&str], new_password: Option<&str>) -> Output {
        self.admin_as(cwd, ADMIN_PASSWORD, args, new_password)
    }

    /// [`Relay::admin`] with `password` for root.
    fn admin_as(
        &self,
        cwd: &Path,
        password: &str,
        args: &[&str],
        new_password: Option<&str>,
    ) -> Output {
        let mut all = vec![
            "admin",
            "--relay",
            self.addr.as_str(),
            "--fingerprint",
            self.fingerprint.as_str(),
            "--username",
            "root",
        ];
        all.extend_from_slice(args);
        let mut cmd = Command::new(BIN);
        cmd.args(&all)
            .current_dir(cwd)
            .env("RSUPPORT_PASSWORD", password);
        if let Some(p) = new_password {
            cmd.env("RSUPPORT_NEW_PASSWORD", p);
        }
        run(&mut cmd)
    }

    /// Sends SIGTERM and waits for the relay to exit; returns its status and log.
    fn terminate(mut self) -> (ExitStatus, String) {
        use rustix::process::{kill_process, Pid, Signal};
        kill_process(Pid::from_child(&self.child), Signal::TERM).unwrap();
        let status = wait(&mut self.child);
        let log = std::mem::replace(&mut self.stderr, thread::spawn(String::new));
        (status, log.join().unwrap())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs a command with stdin closed, within the deadline.
fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let status = wait(&mut child);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Reads a pipe to its end on a thread (so a full pipe never blocks the child).
fn collect(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Polls until `child` exits; kills it and fails past the deadline.
fn wait(child: &mut Child) -> ExitStatus {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("process {} did not exit within {DEADLINE:?}", child.id());
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bootstrap_serve_administer_and_stop_from_another_folder() {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(etc.join("relay.toml"), CONFIG).unwrap();

    // Bootstrap from another folder: the database lands beside the config.
    let out = run(Command::new(BIN)
        .args([
            "bootstrap",
            "--config",
            "../etc/relay.toml",
            "--username",
            "root",
        ])
        .current_dir(&elsewhere)
        .env("RSUPPORT_PASSWORD", ADMIN_PASSWORD));
    assert!(out.status.success(), "bootstrap failed: {}", out.stderr);
    assert!(out.stdout.contains("admin root created"), "{}", out.stdout);
    assert!(etc.join("relay.db").exists());
    assert!(!elsewhere.join("relay.db").exists());

    // Serve from that other folder: certificate and database beside the config.
    let relay = Relay::start(&elsewhere, "../etc/relay.toml");
    assert!(etc.join("state/relay-cert.pem").exists());
    assert!(!elsewhere.join("state").exists());

    // Administer over TLS, pinned to the printed fingerprint.
    let out = relay.admin(
        &elsewhere,
        &[
            "create-account",
            "aiko",
            "--display",
            "Aiko Tanaka",
            "--role",
            "operator",
        ],
        Some("harbor-lantern-quiet-27"),
    );
    assert!(
        out.status.success(),
        "create-account failed: {}",
        out.stderr
    );
    assert_eq!(out.stdout.trim(), "ok");
    let out = relay.admin(&elsewhere, &["list"], None);
    assert!(out.status.success(), "list failed: {}", out.stderr);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("aiko\tAiko Tanaka\toperator\t")),
        "{}",
        out.stdout
    );

    // A refusal is a sentence, not a Debug dump.
    let out = relay.admin(
        &elsewhere,
        &["create-account", "aiko"],
        Some("harbor-lantern-quiet-27"),
    );
    assert!(!out.status.success());
    assert!(
        out.stderr
            .starts_with("error: creating account aiko refused: name taken"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Some("), "{}", out.stderr);

    // The fingerprint subcommand reads the same certificate.
    let out = run(Command::new(BIN)
        .args(["fingerprint", "--config", "etc/relay.toml"])
        .current_dir(root.path()));
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), relay.fingerprint);

    // SIGTERM: the relay stops for a restart, cleanly.
    let fingerprint = relay.fingerprint.clone();
    let (status, log) = relay.terminate();
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(log.contains("stopping for a restart"), "{log}");

    // Started again from yet another folder: same certificate, same accounts.
    let relay = Relay::start(root.path(), "etc/relay.toml");
    assert_eq!(relay.fingerprint, fingerprint);
    let out = relay.admin(root.path(), &["list"], None);
    assert!(
        out.stdout.contains("aiko\t"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let (status, _) = relay.terminate();
    assert!(status.success());
}

#[test]
fn a_bad_code_length_is_refused_at_start_with_a_readable_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, format!("{CONFIG}\n[settings]\ncode_length = 3\n")).unwrap();
    let out = run(Command::new(BIN)
        .args(["serve", "--config", "relay.toml"])
        .current_dir(dir.path()));
    assert!(!out.status.success(), "the relay started: {}", out.stdout);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{}", out.stderr);
    for words in [
        "relay.toml",
        "[settings] code_length = 3",
        "between 6 and 11",
        "change it in",
    ] {
        assert!(
            out.stderr.contains(words),
            "missing {words:?} in:\n{}",
            out.stderr
        );
    }
    assert!(!out.stdout.contains("listening"), "{}", out.stdout);
    assert!(!dir.path().join("relay.db").exists(), "nothing is created");
}

#[test]
fn an_unknown_key_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("relay.toml"), "listen_port = 7443\n").unwrap();
    let out = run(Command::new(BIN)
        .args(["serve", "--config", "relay.toml"])
        .current_dir(dir.path()));
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("line 1, column 1: unknown field `listen_port`"),
        "{}",
        out.stderr
    );
}

/// Every admin locked out (here: root, one failure allowed): `admin unblock
/// --config` on the relay's machine works on the database directly, while
/// the relay runs, and the running relay lets root in again.
#[test]
fn offline_unblock_recovers_a_locked_out_admin_while_the_relay_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}\n[settings]\nmax_failed_logins = 1\n");
    std::fs::write(dir.path().join("relay.toml"), config).unwrap();
    let out = run(Command::new(BIN)
        .args(["bootstrap", "--config", "relay.toml", "--username", "root"])
        .current_dir(dir.path())
        .env("RSUPPORT_PASSWORD", ADMIN_PASSWORD));
    assert!(out.status.success(), "bootstrap failed: {}", out.stderr);
    let relay = Relay::start(dir.path(), "relay.toml");

    let out = relay.admin_as(dir.path(), "wrong-password-guess", &["list"], None);
    assert!(!out.status.success());
    let out = relay.admin(dir.path(), &["list"], None);
    assert!(!out.status.success(), "locked out: {}", out.stdout);
    assert!(
        out.stderr.contains("refuses logins as root"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("admin unblock --config"),
        "{}",
        out.stderr
    );

    let out = run(Command::new(BIN)
        .args(["admin", "unblock", "--config", "relay.toml", "root"])
        .current_dir(dir.path()));
    assert!(
        out.status.success(),
        "offline unblock failed: {}",
        out.stderr
    );
    assert!(out.stdout.contains("root unblocked"), "{}", out.stdout);

    let out = relay.admin(dir.path(), &["list"], None);
    assert!(out.status.success(), "root is back: {}", out.stderr);
    assert!(out.stdout.contains("root\t"), "{}", out.stdout);

    let out = run(Command::new(BIN)
        .args(["admin", "unblock", "--config", "relay.toml", "nobody"])
        .current_dir(dir.path()));
    assert!(!out.status.success());
    assert!(out.stderr.contains("no account nobody"), "{}", out.stderr);
    let (status, _) = relay.terminate();
    assert!(status.success());
}
