//! Reading passwords without showing them.
//!
//! In order of precedence a password comes from:
//! 1. an environment variable (`RSUPPORT_PASSWORD`, `RSUPPORT_NEW_PASSWORD`, …),
//!    when set and not empty — for scripts and service managers;
//! 2. the terminal, typed with echo off; a *new* password is asked twice and
//!    both must match, and it is checked against the relay's password policy
//!    before it is sent, so a typo costs a retry here and not a lockout there;
//! 3. one line of standard input when it is not a terminal (`printf … |`).
//!
//! Passwords are never echoed, never logged and never part of an error message.
//! The blocking read runs on a blocking thread so that Ctrl-C still ends the
//! program; the echo is restored when the prompt's future is dropped.

use std::io::{BufRead, IsTerminal, Write};

use rsupport_relay::auth::check_policy;

use crate::errors::CliError;

/// How many times a person may retype a new password that does not match or
/// is too weak before the program gives up.
const NEW_PASSWORD_TRIES: usize = 3;

/// An existing password: from `env`, or asked once with `prompt`.
pub async fn password(env: &str, prompt: &str) -> Result<String, CliError> {
    if let Some(v) = from_env(env) {
        return Ok(v);
    }
    read_secret(prompt, env).await
}

/// A new password: from `env` (checked against the policy), or typed twice
/// on a terminal, or one line from a pipe.
pub async fn new_password(env: &str, prompt: &str) -> Result<String, CliError> {
    if let Some(v) = from_env(env) {
        return checked(v, env);
    }
    if !std::io::stdin().is_terminal() {
        return checked(read_secret(prompt, env).await?, env);
    }
    for _ in 0..NEW_PASSWORD_TRIES {
        let first = read_secret(prompt, env).await?;
        if let Err(e) = check_policy(&first, &[]) {
            say(&format!("{e}; try again"));
            continue;
        }
        let again = read_secret("type it again", env).await?;
        if again == first {
            return Ok(first);
        }
        say("the two passwords differ; try again");
    }
    Err(
        CliError::new(format!("no new password after {NEW_PASSWORD_TRIES} tries"))
            .hint(policy_hint()),
    )
}

fn checked(password: String, source: &str) -> Result<String, CliError> {
    match check_policy(&password, &[]) {
        Ok(()) => Ok(password),
        Err(e) => Err(CliError::new(format!(
            "the new password (from {source} or stdin) is refused: {e}"
        ))
        .hint(policy_hint())),
    }
}

fn policy_hint() -> &'static str {
    "a password needs at least 12 characters and must not be a common password or pattern; a few unrelated words work well"
}

/// The variable's value; an empty value counts as unset, so `VAR=` does not
/// send an empty password (which would count towards a lockout).
fn from_env(env: &str) -> Option<String> {
    std::env::var(env).ok().filter(|v| !v.is_empty())
}

fn say(line: &str) {
    crate::errors::eprint_line(line);
}

async fn read_secret(prompt: &str, env: &str) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    // Echo off for as long as this future lives (dropped on Ctrl-C too).
    let _echo = if terminal {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{prompt}: ");
        let _ = err.flush();
        EchoOff::new()
    } else {
        None
    };
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map(|n| (n, line))
    })
    .await
    .map_err(|_| CliError::new("reading the password stopped"))?;
    match line {
        Ok((0, _)) => Err(CliError::new(format!("no password given ({prompt})"))
            .hint(format!("type it, pipe it as one line, or set {env}"))),
        Ok((_, line)) => Ok(line.trim_end_matches(['\r', '\n']).to_owned()),
        Err(e) => Err(CliError::new(format!(
            "cannot read the password from stdin: {e}"
        ))),
    }
}

/// Terminal echo switched off (newline still echoed); restored on drop.
struct EchoOff {
    saved: rustix::termios::Termios,
}

impl EchoOff {
    fn new() -> Option<Self> {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        quiet.local_modes.insert(LocalModes::ECHONL);
        tcsetattr(&stdin, OptionalActions::Now, &quiet).ok()?;
        Some(EchoOff { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        use rustix::termios::{tcsetattr, OptionalActions};
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}
