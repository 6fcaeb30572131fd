//! The rsupport relay server, and its admin command line.
//!
//! ```text
//! rsupport-relay bootstrap --config relay.toml --username root   # first admin (once)
//! rsupport-relay serve --config relay.toml       # run the relay (Ctrl-C: stop and end
//!                                                # sessions; SIGTERM: stop for a restart,
//!                                                # sessions resume when it is back)
//! rsupport-relay fingerprint --config relay.toml # the SHA-256 to give operators and customers
//! rsupport-relay example-config > relay.toml     # every setting, commented, with its default
//! rsupport-relay admin --relay host:7443 --fingerprint AB:CD:… --username root list
//! rsupport-relay admin … create-account aiko --display "Aiko" --role operator
//! rsupport-relay admin … audit --from 0 --operator aiko --format csv > history.csv
//! ```
//!
//! Passwords are never taken as arguments (they would land in shell history
//! and the process list): they are typed without echo, or read as one line
//! from a pipe, or taken from `RSUPPORT_PASSWORD` / `RSUPPORT_NEW_PASSWORD`
//! ([`prompt`]).
//!
//! One module per concern: [`serve`] runs the relay, [`bootstrap`] creates
//! the first admin, [`fingerprint`] prints the certificate's fingerprint,
//! [`admin`] is the remote admin tool (over [`login`]), [`prompt`] reads
//! passwords, and [`errors`] is how failures are told to a person. This file
//! only holds the command line and `main`.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod admin;
mod bootstrap;
mod config;
mod errors;
mod fingerprint;
mod login;
mod prompt;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::errors::CliError;

#[derive(Parser)]
#[command(
    name = "rsupport-relay",
    version,
    about = "rsupport relay server and admin tool",
    long_about = "rsupport relay server and admin tool.\n\n\
        First start: `bootstrap` the first admin, then `serve`, then create operator \
        accounts with `admin … create-account`. Relative paths in the configuration \
        file are relative to the file's folder; relative paths given as options are \
        relative to the working directory."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay.
    Serve(ServeArgs),
    /// Create the first admin account directly in the database (refused once an admin exists).
    Bootstrap(BootstrapArgs),
    /// Print the SHA-256 fingerprint of the relay's certificate (operators and
    /// customers pin it).
    Fingerprint(StateArgs),
    /// Administer a running relay over TLS.
    Admin(admin::AdminArgs),
    /// Print a commented configuration file with every setting and its default.
    ExampleConfig,
}

/// The sample configuration, built in so an installed relay can print it.
const EXAMPLE_CONFIG: &str = include_str!("../../../relay.example.toml");

/// Where the relay keeps its state: a configuration file, and overrides.
#[derive(Args)]
struct StateArgs {
    /// TOML configuration file (every field optional; see relay.example.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Database file (overrides the file; relative to the working directory).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Certificate chain PEM (overrides the file).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Private key PEM (overrides the file).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Where a generated certificate is kept (overrides the file).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Listen address, host:port (overrides the file).
    #[arg(long)]
    listen: Option<String>,
    /// Folder with the web console's files, served on the relay's port
    /// (overrides `web_root` in the file).
    #[arg(long)]
    web_root: Option<PathBuf>,
}

#[derive(Args)]
struct BootstrapArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Admin user name.
    #[arg(long)]
    username: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            return report(&CliError::new(format!(
                "cannot start the async runtime: {e}"
            )))
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await.map_err(Some),
            // Ctrl-C during a prompt or a request: leave at once (the prompt
            // puts the terminal's echo back as its future is dropped).
            command => tokio::select! {
                r = run_tool(command) => r.map_err(Some),
                _ = tokio::signal::ctrl_c() => Err(None),
            },
        }
    });
    // A password prompt may still block a thread on stdin: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Some(e)) => report(&e),
        Err(None) => {
            // The cursor may sit after a prompt: end that line first.
            errors::eprint_line("\ninterrupted");
            ExitCode::from(130)
        }
    }
}

async fn run_tool(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve(args) => serve::run(args).await,
        Command::Bootstrap(args) => bootstrap::run(args).await,
        Command::Fingerprint(args) => fingerprint::run(&args),
        Command::Admin(args) => admin::run(args).await,
        Command::ExampleConfig => {
            let mut out = errors::Out::new();
            out.line(EXAMPLE_CONFIG.trim_end())?;
            out.flush()
        }
    }
}

/// Prints `error: …` (and the hint) on stderr; never a `Debug` dump.
fn report(error: &CliError) -> ExitCode {
    errors::eprint_line(&format!("error: {error}"));
    ExitCode::FAILURE
}

/// Logs to stderr, plain (no colours) unless stderr is a terminal, so log
/// files and journald get no escape codes; a closed stderr loses the log
/// lines but never stops the relay. `RUST_LOG` chooses the level.
fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(|| errors::QuietStderr)
        .init();
}
