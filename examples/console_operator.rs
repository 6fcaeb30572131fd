//! The operator's console on a terminal: every feature of the SDK behind a
//! typed command. To see what an integration needs, start with
//! `operator.rs`; this is the bigger program beside it.
//!
//! ```text
//! cargo run --example console_operator -- \
//!     --relay 127.0.0.1:7443 --fingerprint AB:CD:… --username aiko --mode control
//! ```
//!
//! The password is typed without echo (or taken from `RSUPPORT_PASSWORD`;
//! TOTP from `RSUPPORT_TOTP`). Typed lines are chat; `/help` lists the
//! commands ([`HELP`]). Jobs the customer prints (in control or manage mode)
//! come out of the CUPS queue given by `--print-queue`, or are saved into
//! `--print-dir`.

mod common;

use std::path::PathBuf;

use clap::Parser;
use std::sync::Arc;

use common::tools::{print_line, sharing_words, tool_command, with_annotations, TransferBars};
use common::{new_secret, secret, stdin_lines, RelayArgs};
use rsupport::client::{LobbyEvent, Operator, OperatorOptions, SessionHandle};
use rsupport::core::files::FileEvent;
use rsupport::core::print::{OperatorPrintEvent, PrintEvent, ReceiverEvent};
use rsupport::core::session::screen::ViewerScreenEvent;
use rsupport::core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport::print::{CupsQueueSink, PrintSink, SaveToDirectory};
use rsupport::proto::input::{InputMessage, MouseButton, SpecialKey};
use rsupport::proto::screen::DisplaySettings;
use rsupport::proto::{ColorDepth, ConnectionMode, EndReason, Point};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Printed at start and by `/help`: one line per command.
const HELP: &str = "\
commands (any other line is chat to the customer):
  /help                      this list
  /mode view|control|manage|share|show   ask the customer for a connection mode
  /move X Y                  move the customer's pointer
  /click X Y                 left click at X Y
  /type TEXT                 type TEXT on the customer's machine
  /key CHORD                 press and release keys (ctrl+c, alt+f4, shift+tab, Enter, F5 …)
  /cad                       send Ctrl+Alt+Del
  /shot FILE.png             save what you see, with the drawings, as a PNG
  /depth 24|16|256|16c|4     colour depth of the customer's screen
  /send PATH                 offer a file or folder to the customer
  /accept ID DIR             accept the customer's files into folder DIR
  /decline ID                decline the customer's files
  /draw X Y X Y …            draw a line through the points on the customer's screen
  /laser X Y                 show the laser pointer at X Y
  /label X Y TEXT            write TEXT at X Y
  /undo                      remove your last drawing
  /clear                     remove all drawings
  /print-accept ID           print the customer's job ID on your side
  /print-decline ID          decline the customer's print job ID
  /print-cancel ID           cancel print job ID
  /end                       end the session and quit";

#[derive(Parser, Debug)]
#[command(about = "rsupport operator console (terminal)")]
struct Cli {
    #[command(flatten)]
    relay: RelayArgs,
    /// Operator user name (password typed without echo, or RSUPPORT_PASSWORD).
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

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cli = Cli::parse();
    let first_mode = ConnectionMode::from_short_name(&cli.mode)
        .ok_or("unknown --mode; use view, control, manage, share or show")?;
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
        let new = new_secret(
            "RSUPPORT_NEW_PASSWORD",
            "first login: choose a new password",
        )?;
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
        invitation.display_code(),
        invitation.join_link()
    );
    println!("{HELP}");
    let mut lines = stdin_lines();

    let mut session = loop {
        let event = tokio::select! {
            event = operator.next_event() => event.ok_or("relay connection closed")?,
            line = lines.recv() => {
                // Nothing typed before the join may reach the customer later as chat.
                match line.as_deref().map(str::trim) {
                    None | Some("/end") => return Ok(()),
                    Some("/help") => println!("{HELP}"),
                    Some(_) => println!("no customer yet: give them the code above (/end quits, /help lists commands)"),
                }
                continue;
            }
        };
        match event {
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
        SessionEvent::Protection(p) => println!("{p}"),
        SessionEvent::Control(ControlEvent::SharingChanged(s)) => println!("{}", sharing_words(s)),
        SessionEvent::Control(ControlEvent::ModeRefused { mode, decision }) => {
            println!("the customer refused {mode:?} ({decision:?})")
        }
        SessionEvent::Control(ControlEvent::Ended { reason, detail, .. }) => {
            // The detail says why in words (a failed key exchange, tampering).
            println!("session ended: {reason:?}{}", if detail.is_empty() { String::new() } else { format!(" — {detail}") });
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
    if line == "/help" {
        println!("{HELP}");
        return Ok(true);
    }
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
            session.end(EndReason::OperatorEnded, "").await?;
            return Ok(true); // the Ended event stops the loop
        }
        Some("/mode") => match words.next().and_then(ConnectionMode::from_short_name) {
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
            // A chord such as ctrl+c, alt+f4, shift+tab, Enter or ArrowUp,
            // turned into DOM codes here: the host maps them to its layout.
            let chord = words.next().unwrap_or("Enter");
            match rsupport::input::keymap::key_chord(chord) {
                Ok(keys) => {
                    for key in keys {
                        session.send_input(InputMessage::Key(key)).await?;
                    }
                }
                Err(e) => println!("{e}"),
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
                    let frame = with_annotations(session, frame).await?;
                    save_png(&frame, path.as_ref())?;
                    println!("saved {}x{} to {path}", frame.width(), frame.height());
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
            println!("unknown command {w}; /help lists the commands");
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
