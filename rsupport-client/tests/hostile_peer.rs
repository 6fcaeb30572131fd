//! A hostile customer against a real operator program over a real relay:
//! the review's small frame update that made operator programs allocate
//! gigabytes, sent before the customer granted anything, and a stream of
//! malformed messages. The operator's session stays up and shows nothing.
//! Also what the operator's side may send or ask for: no key the customer
//! could not read, screenshots at the stream's scale.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use bytes::Bytes;
use rsupport_capture::codec::crafted;
use rsupport_client::{HostPlatform, LobbyEvent};
use rsupport_core::session::{ChatEvent, SessionEvent};
use rsupport_proto::chat::{ChatMessage, ChatText};
use rsupport_proto::envelope::Priority;
use rsupport_proto::input::{InputMessage, KeyInput};
use rsupport_proto::screen::{ScreenMessage, TileCompression};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::ConnectionMode;
use rsupport_testkit::relay::{start_relay, wait_for, KeyedCustomer, OPERATOR, PASSWORD, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_who_granted_nothing_cannot_make_the_operator_decode_a_frame() {
    let target = start_relay(None).await;
    let mut operator = rsupport_client::Operator::connect(&target, Default::default())
        .await
        .unwrap();
    operator.login(OPERATOR, PASSWORD, None).await.unwrap();
    let invitation = operator.issue_code().await.unwrap();
    // The hostile customer holds the session's keys: what it sends opens.
    let mut hostile = KeyedCustomer::join(&target, invitation.code()).await;
    let mut session = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::SessionStarted(s)) = operator.next_event().await {
                return s;
            }
        }
    })
    .await
    .unwrap();
    // The bomb, a stream of garbage (below the cut-off), a key code the
    // wire refuses, then a chat line that shows when all of it was handled.
    let bomb = SessionMessage::Screen(ScreenMessage::Frame(crafted::solid_bomb(
        8192,
        64,
        TileCompression::None,
    )));
    assert!(bomb.encode().len() < 4096);
    hostile.send(&bomb).await;
    for _ in 0..20 {
        hostile
            .send_bytes(
                Priority::Chat,
                Bytes::from_static(&[0xff, 0xff, 0xff, 0x07]),
            )
            .await;
    }
    let key = InputMessage::Key(KeyInput::new("ctrl+c", None, true));
    hostile.send(&SessionMessage::Input(key)).await;
    let line = ChatText {
        id: 1,
        text: "still here?".into(),
        sent_at_ms: 0,
        sender_name: "hostile".into(),
    };
    hostile
        .send(&SessionMessage::Chat(ChatMessage::Text(line)))
        .await;
    wait_for(&mut session, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) if l.text == "still here?" => Some(()),
        _ => None,
    })
    .await;
    // The operator's session is up, holds no picture, and counted it all.
    assert!(session.framebuffer().await.unwrap().is_none());
    let stats = session.stats().await.unwrap();
    assert_eq!(stats.frames_applied, 0);
    assert_eq!(stats.ignored_messages, 1, "the frame, not decoded");
    assert_eq!(stats.malformed_messages, 21);
    session.send_chat("yes").await.unwrap();
    // And the operator may still ask for a mode: the session goes on.
    session
        .request_mode(ConnectionMode::ViewCustomer, "help")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_send_a_key_the_customer_could_not_read() {
    let target = start_relay(None).await;
    let (_operator, op, _cu) =
        rsupport_testkit::relay::paired(&target, HostPlatform::synthetic()).await;
    let e = op
        .send_input(InputMessage::Key(KeyInput::new("ctrl+c", None, true)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ControlLeft"), "{e}");
}

/// Width and height from a PNG's header.
fn png_size(png: &[u8]) -> (u32, u32) {
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screenshot_comes_at_the_scale_of_the_stream() {
    use rsupport_core::session::screen::ViewerScreenEvent;
    use rsupport_proto::screen::DisplaySettings;

    let target = start_relay(None).await;
    let (_operator, mut op, mut cu) =
        rsupport_testkit::relay::paired(&target, HostPlatform::synthetic()).await;
    rsupport_testkit::relay::grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
    op.set_display_settings(DisplaySettings {
        scale_percent: 50,
        ..DisplaySettings::default()
    })
    .unwrap();
    // Once a half-size frame arrived, the host captures at that scale.
    let size = loop {
        wait_for(&mut op, |e| match e {
            SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => Some(()),
            _ => None,
        })
        .await;
        let fb = op.framebuffer().await.unwrap().unwrap();
        if fb.width() < 640 {
            break (fb.width(), fb.height());
        }
    };
    op.request_screenshot().unwrap();
    let png = wait_for(&mut op, |e| match e {
        SessionEvent::ViewerScreen(ViewerScreenEvent::Screenshot(s)) => Some(s.png.clone()),
        _ => None,
    })
    .await;
    assert_eq!(png_size(&png), size, "not the full-size capture");
}
