//! The customer's side of an integration: what a product copies.
//!
//! ```text
//! RSUPPORT_FINGERPRINT=AB:CD:… cargo run --example customer -- 1234-5678
//! ```
//!
//! `RSUPPORT_RELAY` is the relay's host:port (default 127.0.0.1:7443). The X
//! display is shared when `DISPLAY` is set, a synthetic desktop otherwise,
//! and only after the customer answers `y`. Typed lines are chat; `/end` ends.

use rsupport::core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport::proto::{relay::CustomerInfo, ConnectionMode, EndReason};
use rsupport::{Customer, HostPlatform, RelayTarget};
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
    let code = std::env::args().nth(1).ok_or("usage: customer CODE")?;
    let relay = std::env::var("RSUPPORT_RELAY").unwrap_or("127.0.0.1:7443".into());
    let fingerprint = std::env::var("RSUPPORT_FINGERPRINT")
        .map_err(|_| "set RSUPPORT_FINGERPRINT to the fingerprint the relay prints")?;
    // Pinning the relay's certificate: a self-hosted relay needs no CA.
    let target = RelayTarget::pinned(relay, "localhost", fingerprint);
    let customer = Customer::connect(&target, platform()?).await?;
    let me = CustomerInfo {
        name: std::env::var("USER").unwrap_or("Customer".into()),
        os: std::env::consts::OS.into(),
        ..Default::default()
    };
    // People read codes out with spaces or dashes; the relay wants digits.
    let mut session = customer.join(&code.replace([' ', '-'], ""), me).await?;
    println!("connected to {}", session.peer_name());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let (mut asking, mut ending) = (None, false); // consent request awaiting y/n; end sent
    loop {
        tokio::select! {
            event = session.next_event() => match event {
                // Closed once the end has gone out and the SDK has left the session.
                None => return Ok(()),
                Some(SessionEvent::Control(ControlEvent::ConsentRequested { request_id, mode, reason })) => {
                    // The SDK shares nothing until the product's own UI asks and the customer says yes.
                    println!("{} asks to {} ({reason}). Allow? [y/N]", session.peer_name(), words(mode));
                    asking = Some(request_id);
                }
                Some(SessionEvent::Control(ControlEvent::ConsentTimedOut { .. })) => asking = None, // refused
                Some(SessionEvent::Control(ControlEvent::SharingChanged(s))) => {
                    println!("the operator may now {}", s.mode().map_or("only chat", words));
                }
                Some(SessionEvent::Chat(ChatEvent::Received(line))) => println!("{}: {}", line.sender_name, line.text),
                Some(SessionEvent::Protection(p)) => println!("{p}"),
                Some(SessionEvent::Control(ControlEvent::Ended { reason, .. })) => println!("session ended ({reason:?})"),
                Some(_) => {}
            },
            line = lines.next_line(), if !ending => {
                let done = match (asking.take(), line?.as_deref().map(str::trim)) {
                    (Some(id), Some(answer)) => session.decide(id, answer.eq_ignore_ascii_case("y")).await,
                    (_, None | Some("/end")) => {
                        ending = true; // keep reading events until the end has gone out
                        session.end(EndReason::CustomerEnded, "").await
                    }
                    (None, Some(text)) => session.send_chat(text).await.map(drop),
                };
                if let Err(e) = done { println!("not done: {e}") }
            }
        }
    }
}

/// The real screen when there is an X display; a synthetic one otherwise.
fn platform() -> Result<HostPlatform, Error> {
    use rsupport::{capture::source::X11Capturer, input::inject::X11Injector};
    let Ok(display) = std::env::var("DISPLAY") else {
        return Ok(HostPlatform::synthetic());
    };
    let open_failed = |e| format!("cannot open X display {display}: {e}");
    let capturer = Box::new(X11Capturer::connect(Some(&display)).map_err(open_failed)?);
    let injector = Box::new(X11Injector::connect(Some(&display))?);
    Ok(HostPlatform::new(capturer, injector, None))
}

/// A mode in the words the customer is asked in.
fn words(mode: ConnectionMode) -> &'static str {
    match mode {
        ConnectionMode::ViewCustomer => "see your screen",
        ConnectionMode::ControlCustomer => "see your screen and use your mouse and keyboard",
        _ => "use another kind of access",
    }
}
