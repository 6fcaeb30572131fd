//! The xcap backend on Linux/X11 (Xvfb), checked against the X11 backend.
//! Runs only with `--features xcap` (which needs the PipeWire development files).
#![cfg(all(feature = "xcap", target_os = "linux"))]
#![allow(clippy::unwrap_used)]

mod common;

use common::{bgra, Desk};
use rsupport_capture::source::{
    Capturer, DirtyRegion, Rect, WindowId, WindowSelection, XcapCapturer, MASK_BGRA,
};
use rsupport_capture::BgraFrame;
use x11rb::protocol::xproto::ConnectionExt as _;

#[test]
fn xcap_sees_what_x11_sees_and_masks_the_same_way() {
    let x = common::xvfb(640, 480);
    let desk = Desk::open(&x, 0x10_20_30);
    let win = desk.window(40, 30, 200, 100, 0xaa_bb_cc);
    desk.name(win, "Shared", "shared-app");
    // xcap lists X11 windows only under an EWMH window manager: publish what one would.
    desk.set_client_list(&[win]);
    desk.set_window_list(b"_NET_CLIENT_LIST_STACKING", &[win]);
    // xcap refuses to work when these atoms were never interned (no EWMH WM ran).
    for name in [
        &b"_NET_WM_STATE"[..],
        b"_NET_WM_STATE_HIDDEN",
        b"_NET_WM_STATE_MAXIMIZED_VERT",
        b"_NET_WM_STATE_MAXIMIZED_HORZ",
        b"_NET_ACTIVE_WINDOW",
        b"_NET_WM_PID",
        b"COMPOUND_TEXT",
    ] {
        desk.conn.intern_atom(false, name).unwrap().reply().unwrap();
    }
    desk.sync();
    // xcap reads the display from the environment (this binary's only test).
    std::env::set_var("DISPLAY", x.display());
    std::env::remove_var("WAYLAND_DISPLAY");

    let mut cap = XcapCapturer::new();
    let monitors = cap.monitors().unwrap();
    assert_eq!(monitors.len(), 1, "{monitors:?}");
    assert_eq!(monitors[0].rect, Rect::new(0, 0, 640, 480));
    let mut frame = BgraFrame::filled(0, 0, [0; 4]);
    let mut dirty = DirtyRegion::new();
    cap.capture(&mut frame, &mut dirty).unwrap();
    assert!(dirty.is_full());
    assert_eq!((frame.width(), frame.height()), (640, 480));
    assert_eq!(frame.pixel(50, 40), Some(bgra(0xaa_bb_cc)));
    assert_eq!(frame.pixel(300, 300), Some(bgra(0x10_20_30)));

    let listed = cap.windows().unwrap();
    let shared = listed
        .iter()
        .find(|w| w.id == WindowId(u64::from(win)))
        .unwrap_or_else(|| panic!("window missing from {listed:?}"));
    cap.select_windows(WindowSelection::Only(vec![shared.id]))
        .unwrap();
    cap.capture(&mut frame, &mut dirty).unwrap();
    assert_eq!(frame.pixel(50, 40), Some(bgra(0xaa_bb_cc)));
    assert_eq!(frame.pixel(300, 300), Some(MASK_BGRA));
}
