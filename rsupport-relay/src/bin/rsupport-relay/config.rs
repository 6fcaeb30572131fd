//! The configuration a command runs with: the file (relative paths anchored
//! at the file's folder), then the command-line overrides (relative to the
//! working directory, like any path typed in a shell), then the one
//! validation the admin API also applies ([`RelayConfig::validate`]).
//!
//! `serve`, `bootstrap` and `fingerprint` all go through [`load`], so they
//! agree on which database and which certificate a configuration means.

use std::path::{Path, PathBuf};

use rsupport_relay::{ConfigError, RelayConfig};

use crate::errors::CliError;
use crate::StateArgs;

/// Points to the sample that documents every key.
const SAMPLE_HINT: &str =
    "`rsupport-relay example-config` prints every setting with its default and meaning";

/// The configuration for `state` (and `listen`, for `serve`).
pub fn load(state: &StateArgs, listen: Option<String>) -> Result<RelayConfig, CliError> {
    let file = state.config.as_deref().map(shown);
    let mut config = match &state.config {
        Some(path) => RelayConfig::from_file(path).map_err(file_error)?,
        None => RelayConfig::default(),
    };
    if let Some(v) = listen {
        config.listen = v;
    }
    if let Some(v) = &state.db {
        config.database = v.clone();
    }
    if let Some(v) = &state.cert {
        config.cert = Some(v.clone());
    }
    if let Some(v) = &state.key {
        config.key = Some(v.clone());
    }
    if let Some(v) = &state.state_dir {
        config.state_dir = v.clone();
    }
    if let Err(problem) = config.validate() {
        return Err(match file {
            Some(file) => CliError::new(format!("{}: {problem}", file.display())).hint(format!(
                "change it in {} (or the matching option) and start again; {SAMPLE_HINT}",
                file.display()
            )),
            None => CliError::new(format!("{problem}"))
                .hint("fix the option, or put the relay's settings in a file given with --config"),
        });
    }
    Ok(config)
}

/// `path` made absolute and without `..` where the folder exists (for
/// messages: a relative path says little in a service's log).
pub fn shown(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(p) = parent.canonicalize() {
            return p.join(name);
        }
    }
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn file_error(e: ConfigError) -> CliError {
    match e {
        ConfigError::Read { path, source } => CliError::new(format!(
            "cannot read the configuration file {}: {source}",
            shown(&path).display()
        ))
        .hint(
            "check the --config path; to start one: `rsupport-relay example-config > relay.toml`",
        ),
        ConfigError::Parse {
            path,
            line,
            column,
            message,
        } => CliError::new(format!(
            "{}, line {line}, column {column}: {message}",
            shown(&path).display()
        ))
        .hint(SAMPLE_HINT),
        other => CliError::new(other.to_string()).hint(SAMPLE_HINT),
    }
}
