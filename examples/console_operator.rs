//! The operator's side on a terminal: log in, give the customer a code,
//! ask for a mode, chat, drive input and save what you see.
//!
//! ```text
//! RSUPPORT_PASSWORD=… cargo run --example operator -- \
//!     --relay 127.0.0.1:7443 --fingerprint AB:CD:… --username aiko --mode control --screenshot view.png
//! ```
//!
//! Typed lines are chat; lines starting with `/` are commands:
//! `/mode view|control|manage|share|show`, `/move X Y`, `/click X Y`,
//! `/type TEXT`, `/key CODE` (DOM code, e.g. `Enter`), `/cad` (Ctrl+Alt+Del),
//! `/shot FILE.png` (with the drawings on it), `/depth 24|16|256|16c|4`,
//! `/send PATH` (file or folder), `/accept ID DIR`, `/decline ID`,
//! `/draw X Y X Y …`, `/laser X Y`, `/label X Y TEXT`, `/undo`, `/clear`,
//! `/print-accept ID`, `/print-decline ID`, `/print-cancel ID`, `/end`.
//!
//! Jobs the customer prints (in control or manage mode) come out of the CUPS
//! queue given by `--print-queue`, or are saved into `--print-dir`.

mod common;

use std::path::PathBuf;

use clap::Parser;
use std::sync::Arc;

use common::tools::{print_line, tool_command, with_annotations, TransferBars};
use common::{secret, stdin_lines, RelayArgs};
use rsupport::client::{LobbyEvent, Operator, OperatorOptions, SessionHandle};
use rsupport::core::files::FileEvent;
use rsupport::core::print::{OperatorPrintEvent, PrintEvent, ReceiverEvent};
use rsupport::core::session::screen::ViewerScreenEvent;
use rsupport::core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport::print::{CupsQueueSink, PrintSink, SaveToDirectory};
use rsupport::proto::input::{InputMessage, KeyInput, MouseButton, SpecialKey};
use rsupport::proto::screen::DisplaySettings;
use rsupport::proto::{ColorDepth, ConnectionMode, EndReason, Point};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "rsupport operator console (terminal)")]
struct Cli {
    #[command(flatten)]
    relay: RelayArgs,
    /// Operator user name (password from RSUPPORT_PASSWORD or stdin).
    #[arg(long)]
    username: String,
    /// Mode to request once the customer joins.
    #[arg(long, default_value = "view")]
    mode: String,
    /// Save the customer's screen to this PNG after the first frames, then continue.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Accept chat-first contacts automatically (otherwise asked on the terminal).
    #[arg(long)]
    accept_contacts: bool,
    /// Print the customer's jobs on this CUPS queue.
    #[arg(long, conflicts_with = "print_dir")]
    print_queue: Option<String>,
    /// Or save them into this folder.
    #[arg(long, default_value = "rsupport-prints")]
    print_dir: PathBuf,
    /// Accept every print job without asking.
    #[arg(long)]
    accept_print: bool,
}

fn mode(name: &str) -> Option<ConnectionMode> {
    Some(match name {
        "view" => ConnectionMode::ViewCustomer,
        "control" => ConnectionMode::ControlCustomer,
        "manage" => ConnectionMode::ManageCustomer,
        "share" => ConnectionMode::ShareOperatorScreen,
        "show" => ConnectionMode::ShowOperatorScreen,
        _ => return None,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cli = Cli::parse();
    let first_mode = mode(&cli.mode).ok_or("unknown --mode")?;
    let password = secret("RSUPPORT_PASSWORD", "password")?;
    let totp = std::env::var("RSUPPORT_TOTP").ok();
    let sink: Arc<dyn PrintSink> = match &cli.print_queue {
        Some(queue) => Arc::new(CupsQueueSink::new(queue)?),
        None => Arc::new(SaveToDirectory::new(&cli.print_dir)),
    };
    let options = OperatorOptions::default().with_print_sink(sink);
    let mut operator = Operator::connect(&cli.relay.target()?, options).await?;
    let login = operator
        .login(&cli.username, &password, totp.as_deref())
        .await?;
    if login.must_change_password {
        let new = secret("RSUPPORT_NEW_PASSWORD", "new password (first login)")?;
        operator.change_password(&password, &new).await?;
        println!("password changed");
    }
    println!(
        "logged in as {} — customers can contact operator ID {}",
        login.display_name, login.operator_id
    );
    let invitation = operator.issue_code().await?;
    println!(
        "session code: {}  {}",
        invitation.code(),
        invitation.join_link()
    );
    let mut lines = stdin_lines();

    let mut session = loop {
        match operator
            .next_event()
            .await
            .ok_or("relay connection closed")?
        {
            LobbyEvent::SessionStarted(s) => break s,
            LobbyEvent::ContactRequest(c) => {
                println!(
                    "contact from {} ({}): {}",
                    c.customer.name, c.customer.description, c.first_message
                );
                let accept = cli.accept_contacts || {
                    println!("accept? [y/N]");
                    lines.recv().await.is_some_and(|l| l.trim() == "y")
                };
                operator.answer_contact(c.contact_id, accept)?;
            }
            _ => {}
        }
    };
    println!(
        "customer {} joined ({})",
        session.customer().name,
        session.customer().description
    );
    session.request_mode(first_mode, "to help you").await?;
    let mut screenshot = cli.screenshot.clone();
    let mut bars = TransferBars::default();

    loop {
        tokio::select! {
            event = session.next_event() => {
                let Some(event) = event else { break };
                if let SessionEvent::File(e) = &event {
                    if let Some(line) = bars.on_file_event(e) {
                        println!("{line}");
                    }
                }
                if let SessionEvent::Print(e) = &event {
                    on_print_event(&session, e, cli.accept_print).await;
                }
                if !on_event(&session, &event, &mut screenshot).await? {
                    break;
                }
            }
            line = lines.recv() => {
                let Some(line) = line else { break };
                if !on_line(&mut session, line.trim()).await? {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Shows a print event; accepts offers when told to.
async fn on_print_event(session: &SessionHandle, event: &PrintEvent, accept_all: bool) {
    if let Some(line) = print_line(event) {
        println!("{line}");
    }
    if let PrintEvent::Operator(OperatorPrintEvent::Channel(ReceiverEvent::Offered(offer))) = event
    {
        if accept_all {
            if let Err(e) = session.accept_print(offer.job_id).await {
                println!("print job not accepted: {e}");
            }
        }
    }
}

/// Prints an event; returns false when the session is over.
async fn on_event(
    session: &SessionHandle,
    event: &SessionEvent,
    screenshot: &mut Option<PathBuf>,
) -> Result<bool, Error> {
    match event {
        SessionEvent::Chat(ChatEvent::Received(l)) => println!("{}: {}", l.sender_name, l.text),
        SessionEvent::Control(ControlEvent::SharingChanged(s)) => println!("sharing: {s:?}"),
        SessionEvent::Control(ControlEvent::ModeRefused { mode, decision }) => {
            println!("the customer refused {mode:?} ({decision:?})")
        }
        SessionEvent::Control(ControlEvent::Ended { reason, .. }) => {
            println!("session ended: {reason:?}");
            return Ok(false);
        }
        SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => {
            if let Some(path) = screenshot.take() {
                if let Some(frame) = session.framebuffer().await? {
                    save_png(&frame, &path)?;
                    println!(
                        "saved {}x{} to {}",
                        frame.width(),
                        frame.height(),
                        path.display()
                    );
                }
            }
        }
        SessionEvent::ViewerScreen(ViewerScreenEvent::Screenshot(shot)) => {
            let path = format!("screenshot-{}.png", shot.request_id);
            std::fs::write(&path, &shot.png)?;
            println!("host screenshot saved to {path}");
        }
        SessionEvent::Notice(n) => println!("notice: {n:?}"),
        SessionEvent::Connection(state) => println!("connection: {state:?}"),
        SessionEvent::File(FileEvent::OfferReceived {
            transfer_id,
            entries,
            total_size,
        }) => println!(
            "the customer offers {} item(s), {total_size} bytes: /accept {transfer_id} DIR or /decline {transfer_id}",
            entries.len()
        ),
        SessionEvent::AnnotationsChanged => {
            let n = session.annotation_layer().await?.items().len();
            println!("drawing: {n} annotation(s) on the screen");
        }
        _ => {}
    }
    Ok(true)
}

/// Acts on a typed line; returns false to quit.
async fn on_line(session: &mut SessionHandle, line: &str) -> Result<bool, Error> {
    if let Some(result) = tool_command(session, line).await {
        if let Err(e) = result {
            println!("not done: {e}");
        }
        return Ok(true);
    }
    let mut words = line.split_whitespace();
    let number = |w: Option<&str>| w.and_then(|v| v.parse::<i32>().ok()).unwrap_or(0);
    let result = match words.next() {
        None => Ok(()),
        Some("/end") => {
            session.end(EndReason::OperatorEnded, "")?;
            return Ok(true); // the Ended event stops the loop
        }
        Some("/mode") => match words.next().and_then(mode) {
            Some(m) => session.request_mode(m, "").await.map(|_| ()),
            None => {
                println!("modes: view control manage share show");
                Ok(())
            }
        },
        Some("/move") => {
            let position = Point::new(number(words.next()), number(words.next()));
            session
                .send_input(InputMessage::PointerMove { position })
                .await
        }
        Some("/click") => {
            let position = Point::new(number(words.next()), number(words.next()));
            for pressed in [true, false] {
                session
                    .send_input(InputMessage::PointerButton {
                        button: MouseButton::Left,
                        pressed,
                        position,
                    })
                    .await?;
            }
            Ok(())
        }
        Some("/type") => {
            let text = line.trim_start_matches("/type").trim().to_owned();
            session.send_input(InputMessage::Text { text }).await
        }
        Some("/key") => {
            let code = words.next().unwrap_or("Enter").to_owned();
            for pressed in [true, false] {
                session
                    .send_input(InputMessage::Key(KeyInput {
                        code: code.clone(),
                        keysym: None,
                        pressed,
                        repeat: false,
                    }))
                    .await?;
            }
            Ok(())
        }
        Some("/cad") => {
            session
                .send_input(InputMessage::Special(SpecialKey::CtrlAltDel))
                .await
        }
        Some("/shot") => {
            match (words.next(), session.framebuffer().await?) {
                (Some(path), Some(frame)) => {
                    save_png(&with_annotations(session, frame).await?, path.as_ref())?
                }
                _ => println!("usage: /shot FILE.png (after the first frame)"),
            }
            Ok(())
        }
        Some("/depth") => {
            let depth = match words.next() {
                Some("16") => ColorDepth::HighColor,
                Some("256") => ColorDepth::Colors256,
                Some("16c") => ColorDepth::Colors16,
                Some("4") => ColorDepth::Colors4,
                _ => ColorDepth::TrueColor,
            };
            session.set_display_settings(DisplaySettings {
                color_depth: depth,
                ..DisplaySettings::default()
            })
        }
        Some("/send") => {
            let path = line.trim_start_matches("/send").trim();
            session
                .send_files(path)
                .await
                .map(|id| println!("offered as transfer {id}"))
        }
        Some("/accept") => {
            let id = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            session.accept_files(id, words.next().unwrap_or(".")).await
        }
        Some("/decline") => {
            let id = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            session.decline_files(id, "declined by the operator")
        }
        Some(w) if w.starts_with('/') => {
            println!("unknown command {w}");
            Ok(())
        }
        Some(_) => session.send_chat(line).await.map(|_| ()),
    };
    if let Err(e) = result {
        println!("not done: {e}");
    }
    Ok(true)
}

fn save_png(frame: &rsupport::capture::BgraFrame, path: &std::path::Path) -> Result<(), Error> {
    std::fs::write(path, frame.to_png()?)?;
    Ok(())
}
