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
use support::{grant, paired, start_relay, wait_for, WAIT};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, ImageFormat, KeyButMask, Rectangle,
    WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

const W: u16 = 800;
const H: u16 = 600;

/// Draws a window with coloured bars and a noisy block, so the codec sees
/// solid, palette and raw tiles.
fn draw_desktop(conn: &RustConnection, screen_num: usize) {
    let screen = &conn.setup().roots[screen_num];
    let win = conn.generate_id().unwrap();
    conn.create_window(
        screen.root_depth,
        win,
        screen.root,
        40,
        30,
        500,
        400,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new()
            .background_pixel(0x00F0_F0F0)
            .override_redirect(1),
    )
    .unwrap();
    conn.map_window(win).unwrap();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, win, &CreateGCAux::new()).unwrap();
    for (i, rgb) in [0x00C0_3030u32, 0x0030_A040, 0x0030_50C0, 0x0020_2020]
        .iter()
        .enumerate()
    {
        conn.change_gc(
            gc,
            &x11rb::protocol::xproto::ChangeGCAux::new().foreground(*rgb),
        )
        .unwrap();
        let y = 20 + 40 * i16::try_from(i).unwrap();
        conn.poly_fill_rectangle(
            win,
            gc,
            &[Rectangle {
                x: 20,
                y,
                width: 300,
                height: 24,
            }],
        )
        .unwrap();
    }
    // A 128×128 block of pseudo-random pixels (photo-like content).
    let mut noise = Vec::with_capacity(128 * 128 * 4);
    let mut state = 0x1234_5678u32;
    for _ in 0..128 * 128 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        noise.extend_from_slice(&[state as u8, (state >> 8) as u8, (state >> 16) as u8, 0]);
    }
    conn.put_image(
        ImageFormat::Z_PIXMAP,
        win,
        gc,
        128,
        128,
        340,
        200,
        0,
        screen.root_depth,
        &noise,
    )
    .unwrap();
    conn.sync().unwrap();
}

/// The X server's own picture of the screen, as BGRA with opaque alpha.
fn server_picture(conn: &RustConnection, screen_num: usize) -> Vec<u8> {
    let root = conn.setup().roots[screen_num].root;
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, root, 0, 0, W, H, !0)
        .unwrap()
        .reply()
        .unwrap();
    let mut data = image.data;
    for px in data.chunks_exact_mut(4) {
        px[3] = 0xFF;
    }
    data
}

fn opaque(pixels: &[u8]) -> Vec<u8> {
    let mut p = pixels.to_vec();
    for px in p.chunks_exact_mut(4) {
        px[3] = 0xFF;
    }
    p
}

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
    let expected = server_picture(&conn, screen_num);
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
