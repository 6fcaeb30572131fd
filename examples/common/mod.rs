//! Shared by the `operator` and `client` examples: how to reach the relay,
//! and reading terminal lines without blocking the session.

#![allow(dead_code)] // each example uses a different part

pub mod tools;

use clap::Args;
use rsupport::client::RelayTarget;
use tokio::io::{AsyncBufReadExt, BufReader};
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
            (None, None) => Err("give --fingerprint or --ca".into()),
        }
    }
}

/// Terminal lines, read on a task so the session keeps running meanwhile.
pub fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads a secret from an environment variable, or else one line of stdin.
pub fn secret(var: &str, prompt: &str) -> std::io::Result<String> {
    if let Ok(v) = std::env::var(var) {
        return Ok(v);
    }
    eprint!("{prompt}: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
