//! The whole session on a real X server: the customer shares a private Xvfb
//! display (X11 capture with MIT-SHM, XTEST injection); the operator's
//! decoded framebuffer must equal the X server's own picture pixel for
//! pixel, operator input must arrive on that server, and ending the session
//! must leave its row in the relay's audit history (SQLite).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rsupport_testkit::relay as support;

use std::time::Duration;

use rsupport_capture::source::X11Capturer;
use rsupport_client::HostPlatform;
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::{ControlEvent, SessionEvent};
use rsupport_input::inject::X11Injector;
use rsupport_proto::input::{InputMessage, KeyInput, MouseButton};
use rsupport_proto::{ConnectionMode, EndReason, Point};
use rsupport_testkit::x11::{draw_desktop, opaque, server_picture};
use support::{grant, paired, start_relay, wait_for, WAIT};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, KeyButMask};

const W: u16 = 800;
const H: u16 = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_sees_and_controls_a_real_x_desktop() {
    let xvfb = rsupport_testkit::Xvfb::start_with_size(u32::from(W), u32::from(H));
    let display = xvfb.display();
    let (conn, screen_num) = x11rb::connect(Some(&display)).unwrap();
    draw_desktop(&conn, screen_num);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let target = start_relay(Some(&db)).await;
    let platform = HostPlatform::new(
        Box::new(X11Capturer::connect(Some(&display)).unwrap()),
        Box::new(X11Injector::connect(Some(&display)).unwrap()),
        None,
    );
    let (_operator, mut op, mut cu) = paired(&target, platform).await;
    let session_id = op.session_id();
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;

    // The operator's framebuffer converges to exactly what the server shows.
    let expected = server_picture(&conn, screen_num, W, H);
    let matched = tokio::time::timeout(WAIT, async {
        loop {
            wait_for(&mut op, |e| match e {
                SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => Some(()),
                _ => None,
            })
            .await;
            if let Some(fb) = op.framebuffer().await.unwrap() {
                assert_eq!((fb.width(), fb.height()), (u32::from(W), u32::from(H)));
                if opaque(fb.pixels()) == expected {
                    return true;
                }
            }
        }
    })
    .await;
    assert_eq!(
        matched,
        Ok(true),
        "framebuffer equals the X server's picture"
    );

    // Operator input lands on the customer's X server.
    op.send_input(InputMessage::PointerMove {
        position: Point::new(123, 321),
    })
    .await
    .unwrap();
    op.send_input(InputMessage::PointerButton {
        button: MouseButton::Left,
        pressed: true,
        position: Point::new(130, 330),
    })
    .await
    .unwrap();
    op.send_input(InputMessage::Key(KeyInput {
        code: "ShiftLeft".into(),
        keysym: Some(0xffe1),
        pressed: true,
        repeat: false,
    }))
    .await
    .unwrap();
    let root = conn.setup().roots[screen_num].root;
    let shift_keycode = conn
        .get_keyboard_mapping(
            conn.setup().min_keycode,
            conn.setup().max_keycode - conn.setup().min_keycode + 1,
        )
        .unwrap()
        .reply()
        .map(|m| {
            let per = usize::from(m.keysyms_per_keycode);
            m.keysyms
                .chunks(per)
                .position(|syms| syms.contains(&0xffe1))
                .map(|i| conn.setup().min_keycode + u8::try_from(i).unwrap())
        })
        .unwrap()
        .expect("Shift_L is mapped");
    let seen = tokio::time::timeout(WAIT, async {
        loop {
            let pointer = conn.query_pointer(root).unwrap().reply().unwrap();
            let keys = conn.query_keymap().unwrap().reply().unwrap();
            let shift_down =
                keys.keys[usize::from(shift_keycode / 8)] & (1 << (shift_keycode % 8)) != 0;
            if (pointer.root_x, pointer.root_y) == (130, 330)
                && pointer.mask.contains(KeyButMask::BUTTON1)
                && shift_down
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "pointer, button and key observed on the X server"
    );

    // Revoking control releases what the operator held (no stuck Shift or button).
    cu.revoke_control().unwrap();
    let released = tokio::time::timeout(WAIT, async {
        loop {
            let pointer = conn.query_pointer(root).unwrap().reply().unwrap();
            if !pointer.mask.contains(KeyButMask::BUTTON1)
                && !pointer.mask.contains(KeyButMask::SHIFT)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(released.is_ok(), "held keys and buttons released on revoke");

    // End: the relay records the session in its audit history.
    op.end(EndReason::OperatorEnded, "solved").await.unwrap();
    wait_for(&mut cu, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { .. }) => Some(()),
        _ => None,
    })
    .await;
    let row = support::ended_session_row(&db, session_id).await;
    assert_eq!(row.operator_username, support::OPERATOR);
    assert_eq!(row.end_reason, Some(EndReason::OperatorEnded));
    assert!(row.bytes_to_operator > 0, "frames were counted");
}
