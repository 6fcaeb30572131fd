//! `fingerprint`: print the SHA-256 fingerprint of the relay's certificate,
//! read from the same files `serve` uses, without starting the relay.
//!
//! Operators and customers pin this value (`--fingerprint`), so the admin
//! needs it on its own, in a form a script can copy: one line on stdout.

use rsupport_net::tls::{fingerprint_hex, Identity};

use crate::config::shown;
use crate::errors::{CliError, Out};
use crate::StateArgs;

/// Prints the fingerprint.
pub fn run(args: &StateArgs) -> Result<(), CliError> {
    let config = crate::config::load(args, None)?;
    let (cert, key) = match (&config.cert, &config.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => (
            config.state_dir.join("relay-cert.pem"),
            config.state_dir.join("relay-key.pem"),
        ),
    };
    if !cert.exists() {
        return Err(CliError::new(format!(
            "no certificate at {} yet",
            shown(&cert).display()
        ))
        .hint("start the relay once with `rsupport-relay serve` and the same --config: it generates one there"));
    }
    let identity = Identity::from_pem_files(&cert, &key)
        .map_err(|e| CliError::new(format!("cannot read the relay's certificate: {e}")))?;
    if identity.chain.is_empty() {
        return Err(CliError::new(format!(
            "{} holds no certificate",
            shown(&cert).display()
        )));
    }
    Out::new().line(&fingerprint_hex(&identity.fingerprint()))
}
