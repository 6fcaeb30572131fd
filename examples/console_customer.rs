//! The customer's console on a terminal: join with a session code (or
//! contact an operator by ID), decide every consent request, chat, pause,
//! send files, print, end. To see what an integration needs, start with
//! `customer.rs`; this is the bigger program beside it.
//!
//! ```text
//! cargo run --example console_customer -- --relay 127.0.0.1:7443 --fingerprint AB:CD:… --code "123 456 789 012"
//! cargo run --example console_customer -- … --operator-id 123456789 --message "my printer is broken"
//! ```
//!
//! The real X display is shared when `DISPLAY` is set (and `--synthetic` is
//! not given); nothing is shown or injected before you answer `y`. Typed
//! lines are chat; `/help` lists the commands ([`HELP`]). Files the operator
//! offers are saved into `--download-dir` if you answer `y`.
//!
//! With `--printer` a printer named "rsupport-remote" appears in CUPS while
//! the session runs: print to it from any application (`lp -d rsupport-remote
//! FILE.pdf`) and, in control or manage mode, the job comes out on the
//! operator's side.

mod common;

use clap::Parser;
use common::tools::{mode_words, print_line, sharing_words, tool_command, TransferBars};
use common::{stdin_lines, RelayArgs};
use rsupport::capture::source::{X11Capturer, X11Wallpaper};
use rsupport::client::{Customer, HostPlatform};
use rsupport::core::files::FileEvent;
use rsupport::core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport::input::inject::{X11Injector, X11LocalActivity};
use rsupport::print::{
    CupsRegistration, PrinterRegistration, VirtualPrinter, VirtualPrinterConfig,
};
use rsupport::proto::relay::CustomerInfo;
use rsupport::proto::EndReason;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Printed once connected and by `/help`: one line per command.
const HELP: &str = "\
commands (any other line is chat to the operator):
  /help                this list
  /pause               stop showing your screen for now (nothing is captured or sent)
  /resume              show your screen again
  /revoke              take control of your mouse and keyboard back
  /send PATH           offer a file or folder to the operator
  /draw X Y X Y …      draw a line through the points
  /laser X Y           show the laser pointer at X Y
  /label X Y TEXT      write TEXT at X Y
  /undo                remove your last drawing
  /clear               remove all drawings
  /print-cancel ID     cancel print job ID
  /end                 end the session and quit
When the operator asks for access or sends files, answer y or n.";

#[derive(Parser, Debug)]
#[command(about = "rsupport customer client (terminal)")]
struct Cli {
    #[command(flatten)]
    relay: RelayArgs,
    /// The session code the operator gave you.
    #[arg(long, conflicts_with = "operator_id")]
    code: Option<String>,
    /// Or contact this operator by ID (chat first).
    #[arg(long)]
    operator_id: Option<String>,
    /// First chat line for a contact.
    #[arg(long, default_value = "Hello, I need help")]
    message: String,
    /// Your name, shown to the operator.
    #[arg(long, default_value = "Customer")]
    name: String,
    /// Share a synthetic desktop instead of the real screen.
    #[arg(long)]
    synthetic: bool,
    /// Where accepted files are saved.
    #[arg(long, default_value = "rsupport-downloads")]
    download_dir: std::path::PathBuf,
    /// Offer a printer (CUPS queue "rsupport-remote") whose jobs go to the operator.
    #[arg(long)]
    printer: bool,
}

fn platform(synthetic: bool) -> Result<HostPlatform, Error> {
    if synthetic {
        return Ok(HostPlatform::synthetic());
    }
    let display = std::env::var("DISPLAY").map_err(|_| "no DISPLAY; use --synthetic")?;
    // The customer's own mouse and keyboard take control back (local input wins).
    let mut local = X11LocalActivity::connect(Some(&display))?;
    Ok(HostPlatform::new(
        Box::new(X11Capturer::connect(Some(&display))?),
        Box::new(X11Injector::connect(Some(&display))?),
        Some(Box::new(X11Wallpaper::connect(
            Some(&display),
            0x003a_6ea5,
        )?)),
    )
    .with_local_activity(move || local.poll().is_ok_and(|n| n > 0)))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cli = Cli::parse();
    let mut platform = platform(cli.synthetic)?;
    let mut registration = None;
    if cli.printer {
        // A folder only this user can enter ($XDG_RUNTIME_DIR or a 0700
        // folder of ours in the temp dir): print documents wait there.
        let spool = rsupport::print::spool::default_spool_dir("rsupport-client-print")?;
        let printer =
            VirtualPrinter::start(VirtualPrinterConfig::new("rsupport remote printer", spool))
                .await?;
        registration = Some(CupsRegistration::install("rsupport-remote", printer.uri()).await?);
        println!("printer \"rsupport-remote\" installed; it sends jobs to the operator");
        platform = platform.with_printer(printer);
    }
    let customer = Customer::connect(&cli.relay.target()?, platform).await?;
    let info = CustomerInfo {
        name: cli.name.clone(),
        hostname: std::env::var("HOSTNAME").unwrap_or_default(),
        os: std::env::consts::OS.into(),
        ..Default::default()
    };
    let mut session = match (&cli.code, &cli.operator_id) {
        (Some(code), _) => customer.join(code, info).await?,
        (None, Some(id)) => customer.contact(id, info, &cli.message).await?,
        (None, None) => return Err("give --code or --operator-id".into()),
    };
    println!("connected to {}", session.peer_name());
    println!("{HELP}");
    let mut lines = stdin_lines();
    let mut pending_consent: Option<u32> = None;
    let mut pending_files: Option<u64> = None;
    let mut bars = TransferBars::default();
    loop {
        tokio::select! {
            event = session.next_event() => {
                let Some(event) = event else { break };
                match event {
                    SessionEvent::Control(ControlEvent::ConsentRequested { request_id, mode, reason }) => {
                        println!(
                            "{} asks to {}{}. Allow? [y/N]",
                            session.peer_name(),
                            mode_words(mode),
                            if reason.is_empty() { String::new() } else { format!(" ({reason})") }
                        );
                        pending_consent = Some(request_id);
                    }
                    SessionEvent::Control(ControlEvent::ConsentTimedOut { .. }) => {
                        println!("(no answer in time: refused)");
                        pending_consent = None;
                    }
                    SessionEvent::Control(ControlEvent::SharingChanged(s)) => println!("{}", sharing_words(&s)),
                    SessionEvent::Control(ControlEvent::Ended { reason, detail, .. }) => {
                        println!("session ended: {reason:?}{}", if detail.is_empty() { String::new() } else { format!(" — {detail}") });
                        break;
                    }
                    SessionEvent::Chat(ChatEvent::Received(l)) => println!("{}: {}", l.sender_name, l.text),
                    SessionEvent::Protection(p) => println!("{p}"),
                    SessionEvent::Notice(n) => println!("notice: {n:?}"),
                    SessionEvent::Connection(state) => println!("connection: {state:?}"),
                    SessionEvent::File(FileEvent::OfferReceived { transfer_id, entries, total_size }) => {
                        println!(
                            "The operator sends {} item(s), {total_size} bytes, into {}. Accept? [y/N]",
                            entries.len(),
                            cli.download_dir.display()
                        );
                        pending_files = Some(transfer_id);
                    }
                    SessionEvent::File(e) => {
                        if let Some(line) = bars.on_file_event(&e) {
                            println!("{line}");
                        }
                    }
                    SessionEvent::Print(e) => {
                        if let Some(line) = print_line(&e) {
                            println!("{line}");
                        }
                    }
                    SessionEvent::AnnotationsChanged => {
                        let n = session.annotation_layer().await?.items().len();
                        println!("drawing: {n} annotation(s) on your screen");
                    }
                    _ => {}
                }
            }
            line = lines.recv() => {
                let Some(line) = line else { break };
                let line = line.trim();
                if let Some(id) = pending_files.take() {
                    let result = if line.eq_ignore_ascii_case("y") {
                        std::fs::create_dir_all(&cli.download_dir)?;
                        session.accept_files(id, &cli.download_dir).await
                    } else {
                        session.decline_files(id, "declined by the customer")
                    };
                    if let Err(e) = result {
                        println!("not done: {e}");
                    }
                    continue;
                }
                if pending_consent.is_none() {
                    if let Some(result) = tool_command(&session, line).await {
                        if let Err(e) = result {
                            println!("not done: {e}");
                        }
                        continue;
                    }
                }
                let result = match (pending_consent.take(), line) {
                    (Some(id), answer) => {
                        let allow = answer.eq_ignore_ascii_case("y");
                        println!("{}", if allow { "You allowed it." } else { "You refused." });
                        session.decide(id, allow).await
                    }
                    (None, send) if send.starts_with("/send ") => {
                        session.send_files(send.trim_start_matches("/send ").trim()).await.map(|_| ())
                    }
                    (None, "/pause") => session.set_paused(true).await,
                    (None, "/resume") => session.set_paused(false).await,
                    (None, "/revoke") => session.revoke_control(),
                    (None, "/end") => session.end(EndReason::CustomerEnded, "").await,
                    (None, "") => Ok(()),
                    (None, "/help") => {
                        println!("{HELP}");
                        Ok(())
                    }
                    (None, command) if command.starts_with('/') => {
                        println!("unknown command {command}; /help lists the commands");
                        Ok(())
                    }
                    (None, text) => session.send_chat(text).await.map(|_| ()),
                };
                if let Err(e) = result {
                    println!("not done: {e}");
                }
            }
        }
    }
    if let Some(registration) = registration.as_mut() {
        registration.uninstall().await?;
    }
    Ok(())
}
