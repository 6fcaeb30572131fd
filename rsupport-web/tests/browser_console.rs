//! The operator console in a real browser (headless Chromium, driven by
//! Playwright) against a real relay over TLS and a customer program sharing
//! a private Xvfb display: the canvas must equal the X server's own picture
//! after consent and show nothing before it; clicks, keys and Japanese text
//! committed by an input method must arrive on the X server; chat must work
//! both ways; a customer that sends a forged frame must not crash the tab.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::time::Duration;

use rsupport_core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport_testkit::relay::{wait_for, WAIT};
use rsupport_testkit::x11::{keysyms_of, server_picture, typed, Observer, Seen};
use serde_json::json;
use support::{
    bgra_to_rgba, next_request, relay_with_console, x11_platform, x_desktop, Browser, Scene,
};

const W: u16 = 1024;
const H: u16 = 768;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_in_the_browser_sees_and_controls_a_real_x_desktop() {
    let (xvfb, conn, screen_num) = x_desktop(W, H);
    let display = xvfb.display();
    let scratch = tempfile::tempdir().unwrap();

    let Scene {
        mut browser,
        mut cu,
        code,
        ..
    } = Scene::start(x11_platform(&display)).await;
    assert_eq!(code.len(), 12, "7 relay digits and 5 secret ones: {code}");
    browser
        .run(json!({"cmd": "wait_text", "testid": "protection", "text": "end-to-end encrypted"}))
        .await;
    let badge = browser
        .run(json!({"cmd": "text_of", "testid": "protection"}))
        .await;
    let rsupport_core::e2e::Protection::Encrypted { fingerprint, .. } = cu.protection() else {
        panic!("the customer's side is encrypted end to end");
    };
    assert!(
        badge["text"].as_str().unwrap().contains(&fingerprint),
        "the browser shows the customer's fingerprint {fingerprint}: {badge}"
    );

    // Nothing is drawn before the customer allows it.
    browser.run(json!({"cmd": "scale", "value": "1"})).await;
    browser
        .run(json!({"cmd": "request", "mode": "control"}))
        .await;
    let request_id = next_request(&mut cu).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (w, h, _) = browser.canvas(scratch.path()).await;
    assert_eq!((w, h), (0, 0), "no pixels before consent");
    browser.screenshot("operator-asking").await;
    cu.decide(request_id, true).await.unwrap();
    browser
        .run(json!({"cmd": "wait_text", "testid": "state", "text": "controlling"}))
        .await;

    // The canvas converges to exactly what the X server shows.
    let expected = bgra_to_rgba(&server_picture(&conn, screen_num, W, H));
    let matched = tokio::time::timeout(WAIT, async {
        loop {
            let (w, h, rgba) = browser.canvas(scratch.path()).await;
            if (w, h) == (u32::from(W), u32::from(H)) && rgba == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(matched.is_ok(), "the canvas equals the X server's picture");
    // The customer's cursor shape is the canvas's cursor.
    let cursor = tokio::time::timeout(WAIT, async {
        loop {
            let css = browser.run(json!({"cmd": "cursor_css"})).await["cursor"]
                .as_str()
                .unwrap()
                .to_owned();
            if css.starts_with("url(\"data:image/png") {
                return css;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        cursor.is_ok(),
        "the X cursor's shape is drawn as the canvas's cursor"
    );
    browser.screenshot("operator-session").await;

    // Input from the browser arrives on the customer's X server.
    let mut observer = Observer::open(&display);
    browser
        .run(json!({"cmd": "click", "x": 321, "y": 234}))
        .await;
    let seen = observer.until(|s| *s == Seen::ButtonRelease(1));
    assert!(
        seen.contains(&Seen::Motion { x: 321, y: 234 }) || seen.contains(&Seen::ButtonPress(1)),
        "the click reached X: {seen:?}"
    );
    assert!(
        seen.contains(&Seen::ButtonPress(1)),
        "button 1 pressed: {seen:?}"
    );
    let pointer =
        x11rb::protocol::xproto::ConnectionExt::query_pointer(&conn, conn_root(&conn, screen_num))
            .unwrap()
            .reply()
            .unwrap();
    assert_eq!(
        (pointer.root_x, pointer.root_y),
        (321, 234),
        "where the operator clicked"
    );

    browser
        .run(json!({"cmd": "type", "text": "Hello, X!"}))
        .await;
    let last = *keysyms_of("!").last().unwrap();
    let seen = observer.until(|s| *s == Seen::KeyRelease { keysym: last });
    assert_eq!(
        typed(&seen),
        keysyms_of("Hello, X!"),
        "typed keys: {seen:?}"
    );

    let japanese = "日本語です";
    browser.run(json!({"cmd": "ime", "text": japanese})).await;
    let last = *keysyms_of(japanese).last().unwrap();
    let seen = observer.until(|s| *s == Seen::KeyRelease { keysym: last });
    assert_eq!(
        typed(&seen),
        keysyms_of(japanese),
        "committed Japanese text: {seen:?}"
    );

    // Chat both ways.
    browser
        .run(json!({"cmd": "chat", "text": "Can you see my mouse?"}))
        .await;
    let line = wait_for(&mut cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(line)) => Some(line.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(line, "Can you see my mouse?");
    cu.send_chat("Yes, it moves — ありがとう").await.unwrap();
    browser
        .run(json!({"cmd": "wait_chat", "text": "Yes, it moves — ありがとう"}))
        .await;
    browser.screenshot("operator-chat").await;

    // The operator ends the session; the customer's side sees it end.
    browser.run(json!({"cmd": "end"})).await;
    let ended = wait_for(&mut cu, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { reason, .. }) => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(ended, rsupport_proto::EndReason::OperatorEnded);
    browser
        .run(json!({"cmd": "wait_text", "testid": "state", "text": "ended"}))
        .await;
    browser.screenshot("operator-ended").await;
    browser.quit().await;
}

fn conn_root(conn: &x11rb::rust_connection::RustConnection, screen_num: usize) -> u32 {
    use x11rb::connection::Connection;
    conn.setup().roots[screen_num].root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_frame_does_not_crash_the_tab() {
    use bytes::Bytes;
    use rsupport_capture::codec::crafted;
    use rsupport_proto::chat::{ChatMessage, ChatText};
    use rsupport_proto::envelope::Priority;
    use rsupport_proto::screen::{ScreenMessage, TileCompression};
    use rsupport_proto::session::SessionMessage;
    use rsupport_testkit::relay::KeyedCustomer;

    let scratch = tempfile::tempdir().unwrap();
    let (target, url) = relay_with_console().await;
    let mut browser = Browser::start().await;
    let code = support::operator_with_code(&mut browser, &url).await;
    // A modified customer program: it holds the session's keys, so what it
    // sends opens in the browser, and it grants a view so frames are allowed.
    let mut hostile = KeyedCustomer::join(&target, &code).await;
    browser.run(json!({"cmd": "wait_session"})).await;
    browser.run(json!({"cmd": "request", "mode": "view"})).await;
    hostile.grant_next_request().await;
    browser
        .run(json!({"cmd": "wait_text", "testid": "state", "text": "viewing"}))
        .await;

    // An 8192² "solid" bomb, garbage that does not decode, then a chat line
    // that shows once all of it was handled.
    let bomb = SessionMessage::Screen(ScreenMessage::Frame(crafted::solid_bomb(
        8192,
        64,
        TileCompression::None,
    )));
    hostile.send(&bomb).await;
    for _ in 0..20 {
        hostile
            .send_bytes(
                Priority::Screen,
                Bytes::from_static(&[0xff, 0xff, 0xff, 0x07]),
            )
            .await;
    }
    let line = ChatText {
        id: 1,
        text: "still there?".into(),
        sent_at_ms: 0,
        sender_name: "hostile".into(),
    };
    hostile
        .send(&SessionMessage::Chat(ChatMessage::Text(line)))
        .await;
    browser
        .run(json!({"cmd": "wait_chat", "text": "still there?"}))
        .await;

    // The tab is alive, says it dropped what made no sense, drew no bomb,
    // and the session goes on both ways.
    browser
        .run(json!({"cmd": "wait_text", "testid": "notice", "text": "dropped"}))
        .await;
    let alive = browser.run(json!({"cmd": "alive"})).await;
    assert_eq!(alive["sum"], json!(42));
    let (w, h, _) = browser.canvas(scratch.path()).await;
    assert!(
        w <= 2560 && h <= 1600,
        "no frame beyond the viewer's cap was drawn: {w}x{h}"
    );
    browser.screenshot("operator-forged-frame").await;
    browser.run(json!({"cmd": "chat", "text": "yes"})).await;
    let got = hostile
        .wait_for(|e| match e {
            SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
            _ => None,
        })
        .await;
    assert_eq!(got, "yes");
    browser.quit().await;
}
