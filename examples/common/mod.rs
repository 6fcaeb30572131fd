//! Shared by the two terminal consoles: how to reach the relay, reading
//! terminal lines without blocking the session, and passwords.

#![allow(dead_code)] // each console uses a different part

pub mod tools;

use clap::Args;
use rsupport::client::RelayTarget;
use tokio::sync::mpsc;

/// Where the relay is and how to trust its certificate.
#[derive(Args, Debug)]
pub struct RelayArgs {
    /// Relay address, host:port.
    #[arg(long, default_value = "127.0.0.1:7443")]
    pub relay: String,
    /// Name on the relay's certificate.
    #[arg(long, default_value = "localhost")]
    pub server_name: String,
    /// Pin the relay's certificate by SHA-256 fingerprint (printed by the relay).
    #[arg(long, conflicts_with = "ca")]
    pub fingerprint: Option<String>,
    /// Or trust the CA (or certificate) in this PEM file.
    #[arg(long)]
    pub ca: Option<std::path::PathBuf>,
}

impl RelayArgs {
    /// The relay target these arguments describe.
    pub fn target(&self) -> Result<RelayTarget, String> {
        match (&self.fingerprint, &self.ca) {
            (Some(fp), _) => Ok(RelayTarget::pinned(&self.relay, &self.server_name, fp)),
            (None, Some(ca)) => Ok(RelayTarget::with_ca(&self.relay, &self.server_name, ca)),
            (None, None) => {
                Err("give --fingerprint (printed by the relay at start) or --ca".into())
            }
        }
    }
}

/// Terminal lines, read on a plain thread: a reader blocked in stdin must
/// not keep the runtime from shutting down once the session is over.
pub fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A password from the environment variable `var` (scripts), else typed on
/// the terminal without echo. Never an argument: those land in shell
/// history and the process list. An empty variable counts as unset, so a
/// stray `VAR=` does not spend a login attempt.
pub fn secret(var: &str, prompt: &str) -> std::io::Result<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => rpassword::prompt_password(format!("{prompt}: ")),
    }
}

/// A new password, typed twice on the terminal (or taken from `var`).
pub fn new_secret(var: &str, prompt: &str) -> Result<String, String> {
    if let Ok(v) = std::env::var(var) {
        if !v.is_empty() {
            return Ok(v);
        }
    }
    let first = rpassword::prompt_password(format!("{prompt}: ")).map_err(|e| e.to_string())?;
    let again = rpassword::prompt_password("again: ").map_err(|e| e.to_string())?;
    if first != again {
        return Err("the two passwords differ; nothing was changed".into());
    }
    Ok(first)
}
