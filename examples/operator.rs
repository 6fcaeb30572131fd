//! The operator's side of an integration: what a product copies.
//!
//! ```text
//! RSUPPORT_FINGERPRINT=AB:CD:… cargo run --example operator -- aiko
//! ```
//!
//! `RSUPPORT_RELAY` is the relay's host:port (default 127.0.0.1:7443); the
//! password is typed without echo (scripts set `RSUPPORT_PASSWORD`). Prints
//! a session code, waits for the customer, asks for control; typed lines are
//! chat, `/end` ends.

use rsupport::core::session::screen::ViewerScreenEvent;
use rsupport::core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport::proto::{ConnectionMode, EndReason};
use rsupport::{LobbyEvent, Operator, OperatorOptions, RelayTarget};
use tokio::io::{AsyncBufReadExt, BufReader};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    let result = run().await;
    if let Err(e) = &result {
        eprintln!("error: {e}");
    }
    std::process::exit(i32::from(result.is_err())); // a pending stdin read must not hold us
}

async fn run() -> Result<(), Error> {
    let username = std::env::args().nth(1).ok_or("usage: operator USERNAME")?;
    let relay = std::env::var("RSUPPORT_RELAY").unwrap_or("127.0.0.1:7443".into());
    let fingerprint = std::env::var("RSUPPORT_FINGERPRINT")
        .map_err(|_| "set RSUPPORT_FINGERPRINT to the fingerprint the relay prints")?;
    // Pinning the relay's certificate: a self-hosted relay needs no CA.
    let target = RelayTarget::pinned(relay, "localhost", fingerprint);
    let mut operator = Operator::connect(&target, OperatorOptions::default()).await?;
    let password = secret("RSUPPORT_PASSWORD", &format!("password for {username}"))?;
    let login = operator.login(&username, &password, None).await?;
    if login.must_change_password {
        // Accounts an admin creates start with a password only the admin knew.
        let new = secret("RSUPPORT_NEW_PASSWORD", "choose a new password")?;
        operator.change_password(&password, &new).await?;
    }
    let invitation = operator.issue_code().await?;
    println!("logged in as {}", login.display_name);
    println!(
        "tell the customer the session code {}",
        invitation.display_code()
    );
    // Chat-first contacts and colleagues' offers also arrive here: see console_operator.rs.
    let mut session = loop {
        match operator.next_event().await {
            Some(LobbyEvent::SessionStarted(session)) => break session,
            Some(_) => {}
            None => return Err("the relay connection closed".into()),
        }
    };
    println!("{} joined; type to chat", session.customer().name);
    // The customer's program asks them; nothing is shown before they allow it.
    let control = ConnectionMode::ControlCustomer;
    session.request_mode(control, "to fix your printer").await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let (mut frames, mut ending) = (0u64, false); // frames seen; end sent
    loop {
        tokio::select! {
            event = session.next_event() => match event {
                // Closed once the end has gone out and the SDK has left the session.
                None => return Ok(()),
                // The product's viewer paints session.framebuffer() here and sends
                // the operator's mouse and keys with session.send_input(…).
                Some(SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { width, height, .. })) => {
                    frames += 1;
                    if frames == 1 { println!("the customer's screen arrives: {width}x{height}") }
                }
                Some(SessionEvent::Control(ControlEvent::SharingChanged(s))) =>
                    println!("sharing: {}", s.mode().map_or("chat only".into(), |m| format!("{m:?}"))),
                Some(SessionEvent::Control(ControlEvent::ModeRefused { mode, .. })) => println!("the customer refused {mode:?}"),
                Some(SessionEvent::Chat(ChatEvent::Received(line))) => println!("{}: {}", line.sender_name, line.text),
                Some(SessionEvent::Protection(p)) => println!("{p}"),
                Some(SessionEvent::Control(ControlEvent::Ended { reason, .. })) => println!("session ended ({reason:?}) after {frames} screen updates"),
                Some(_) => {}
            },
            line = lines.next_line(), if !ending => {
                let done = match line?.as_deref().map(str::trim) {
                    None | Some("/end") => {
                        ending = true; // keep reading events until the end has gone out
                        session.end(EndReason::OperatorEnded, "").await
                    }
                    Some(text) => session.send_chat(text).await.map(drop),
                };
                if let Err(e) = done { println!("not done: {e}") }
            }
        }
    }
}

/// From `var` (scripts), else typed without echo; never an argument (shell history, `ps`).
fn secret(var: &str, prompt: &str) -> std::io::Result<String> {
    match std::env::var(var) {
        Ok(password) if !password.is_empty() => Ok(password),
        _ => rpassword::prompt_password(format!("{prompt}: ")),
    }
}
