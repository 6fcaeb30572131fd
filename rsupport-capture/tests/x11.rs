//! The X11 backend against a real X server (a private Xvfb per test).
//!
//! Each test draws known content with its own x11rb connection, captures it with
//! [`X11Capturer`] and compares pixels exactly. Without Xvfb these tests fail
//! (`Xvfb::start` panics): they never skip.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{bgra, Desk};
use rsupport_capture::source::{
    CaptureArea, CaptureMethod, Capturer, DirtyRegion, Rect, WindowId, WindowSelection,
    X11Capturer, MASK_BGRA,
};
use rsupport_capture::BgraFrame;
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::xproto::ConnectionExt as _;
use x11rb::protocol::xtest::ConnectionExt as _;

fn grab(cap: &mut X11Capturer) -> (BgraFrame, DirtyRegion) {
    let mut frame = BgraFrame::filled(0, 0, [0; 4]);
    let mut dirty = DirtyRegion::new();
    cap.capture(&mut frame, &mut dirty).expect("capture");
    (frame, dirty)
}

#[test]
fn shm_capture_matches_drawn_pixels_exactly() {
    let x = common::xvfb(640, 480);
    let desk = Desk::open(&x, 0x20_40_60);
    let win = desk.window(100, 50, 200, 100, 0x11_22_33);
    desk.fill(win, 10, 10, 20, 10, 0xff_00_00);
    desk.fill(win, 150, 70, 50, 30, 0x00_80_ff);
    desk.sync();

    let mut shm = X11Capturer::connect(Some(&x.display())).expect("connect");
    assert_eq!(shm.method(), CaptureMethod::Shm, "Xvfb offers MIT-SHM");
    let (frame, dirty) = grab(&mut shm);
    assert!(dirty.is_full(), "the first frame is all new");
    assert_eq!((frame.width(), frame.height()), (640, 480));

    let expected = |px: i32, py: i32| -> u32 {
        let inside = |x0, y0, w, h| px >= x0 && py >= y0 && px < x0 + w && py < y0 + h;
        if inside(250, 120, 50, 30) {
            0x00_80_ff
        } else if inside(110, 60, 20, 10) {
            0xff_00_00
        } else if inside(100, 50, 200, 100) {
            0x11_22_33
        } else {
            0x20_40_60
        }
    };
    for py in 0..480 {
        for px in 0..640 {
            assert_eq!(
                frame.pixel(px as u32, py as u32),
                Some(bgra(expected(px, py))),
                "pixel {px},{py}"
            );
        }
    }

    // The GetImage fallback sees exactly the same screen.
    let mut plain =
        X11Capturer::connect_with(Some(&x.display()), CaptureMethod::GetImage).expect("connect");
    assert_eq!(plain.method(), CaptureMethod::GetImage);
    let (frame2, _) = grab(&mut plain);
    assert!(frame == frame2, "SHM and GetImage frames differ");

    // A region is exactly that part of the screen.
    let area = shm
        .select_area(CaptureArea::Region(Rect::new(110, 60, 20, 10)))
        .expect("region");
    assert_eq!(area, Rect::new(110, 60, 20, 10));
    let (red, dirty) = grab(&mut shm);
    assert!(dirty.is_full(), "a new area is all new");
    assert_eq!((red.width(), red.height()), (20, 10));
    assert!(red.pixels().chunks(4).all(|p| p == bgra(0xff_00_00)));
}

#[test]
fn monitors_come_from_randr_with_offsets() {
    let x = common::xvfb(1280, 480);
    let desk = Desk::open(&x, 0x00_00_00);
    let c = &desk.conn;
    c.randr_query_version(1, 5).unwrap().reply().unwrap();
    for (name, x0) in [(&b"LEFT-HALF"[..], 0i16), (&b"RIGHT-HALF"[..], 640)] {
        let atom = c.intern_atom(false, name).unwrap().reply().unwrap().atom;
        let info = randr::MonitorInfo {
            name: atom,
            primary: x0 == 640,
            automatic: false,
            x: x0,
            y: 0,
            width: 640,
            height: 480,
            width_in_millimeters: 160,
            height_in_millimeters: 120,
            outputs: vec![],
        };
        c.randr_set_monitor(desk.root, info)
            .unwrap()
            .check()
            .unwrap();
    }
    let win = desk.window(700, 10, 40, 40, 0xab_cd_ef);
    desk.sync();

    let mut cap = X11Capturer::connect(Some(&x.display())).unwrap();
    let monitors = cap.monitors().unwrap();
    let right = monitors
        .iter()
        .find(|m| m.name == "RIGHT-HALF")
        .unwrap_or_else(|| panic!("RIGHT-HALF missing from {monitors:?}"));
    let left = monitors.iter().find(|m| m.name == "LEFT-HALF").unwrap();
    assert_eq!(right.rect, Rect::new(640, 0, 640, 480));
    assert_eq!(left.rect, Rect::new(0, 0, 640, 480));
    assert!(right.primary && !left.primary);

    cap.select_area(CaptureArea::Monitor(right.id)).unwrap();
    let (frame, _) = grab(&mut cap);
    assert_eq!((frame.width(), frame.height()), (640, 480));
    // The window at desktop x=700 is at x=60 of the right monitor.
    assert_eq!(frame.pixel(60, 10), Some(bgra(0xab_cd_ef)));
    assert_eq!(frame.pixel(59, 10), Some(bgra(0)));
    let _ = win;
}

#[test]
fn cursor_position_follows_xtest_and_warp_and_shape_changes_are_reported() {
    let x = common::xvfb(640, 480);
    let desk = Desk::open(&x, 0x20_20_20);
    let mut cap = X11Capturer::connect(Some(&x.display())).unwrap();

    // XTEST motion (type 6 = MotionNotify), absolute on the root.
    desk.conn
        .xtest_fake_input(6, 0, 0, desk.root, 321, 123, 0)
        .unwrap();
    desk.sync();
    let first = cap.poll_cursor().unwrap();
    assert_eq!(first.desktop_position, (321, 123));
    assert_eq!(first.position, Some((321, 123)));
    let shape = first.shape.expect("the first poll carries the shape");
    assert!(shape.width > 0 && shape.height > 0);

    desk.conn
        .warp_pointer(x11rb::NONE, desk.root, 0, 0, 0, 0, 17, 399)
        .unwrap();
    desk.sync();
    cap.select_area(CaptureArea::Region(Rect::new(10, 300, 100, 100)))
        .unwrap();
    let warped = cap.poll_cursor().unwrap();
    assert_eq!(warped.desktop_position, (17, 399));
    assert_eq!(warped.position, Some((7, 99)), "relative to the area");
    assert!(warped.shape.is_none(), "shape unchanged, not resent");

    // A new root cursor (16x16, hot spot 3,5) is announced by XFIXES.
    let cursor = desk.pixmap_cursor(16, 16, 3, 5);
    desk.conn
        .change_window_attributes(
            desk.root,
            &x11rb::protocol::xproto::ChangeWindowAttributesAux::new().cursor(cursor),
        )
        .unwrap();
    desk.sync();
    let changed = cap.poll_cursor().unwrap();
    let new_shape = changed.shape.expect("shape change reported");
    assert_ne!(new_shape.serial, shape.serial);
    assert_eq!(
        (
            new_shape.width,
            new_shape.height,
            new_shape.hot_x,
            new_shape.hot_y
        ),
        (16, 16, 3, 5)
    );
    assert_eq!(new_shape.bgra.len(), 16 * 16 * 4);
}

#[test]
fn damage_reports_the_changed_region() {
    let x = common::xvfb(640, 480);
    let desk = Desk::open(&x, 0x30_30_30);
    let win = desk.window(0, 0, 640, 480, 0x30_30_30);
    desk.sync();
    let mut cap = X11Capturer::connect(Some(&x.display())).unwrap();
    assert!(cap.has_damage(), "Xvfb offers DAMAGE");
    let mut frame = BgraFrame::filled(0, 0, [0; 4]);
    let mut dirty = DirtyRegion::new();
    cap.capture(&mut frame, &mut dirty).unwrap();
    assert!(dirty.is_full());
    cap.capture(&mut frame, &mut dirty).unwrap();
    assert!(dirty.is_unchanged(), "nothing drawn: {:?}", dirty.rects());

    desk.fill(win, 500, 400, 30, 20, 0x00_ff_00);
    desk.sync();
    cap.capture(&mut frame, &mut dirty).unwrap();
    assert!(!dirty.is_full());
    let changed = Rect::new(500, 400, 30, 20);
    for py in changed.y..changed.y + 20 {
        for px in changed.x..changed.x + 30 {
            assert!(
                dirty.rects().iter().any(|r| r.contains(px, py)),
                "{px},{py} not reported in {:?}",
                dirty.rects()
            );
        }
    }
    let reported: u64 = dirty.rects().iter().map(Rect::area).sum();
    assert_eq!(reported, changed.area(), "exactly the filled rectangle");
    assert_eq!(frame.pixel(510, 410), Some(bgra(0x00_ff_00)));

    // Selecting an area translates the damage into frame coordinates.
    cap.select_area(CaptureArea::Region(Rect::new(400, 300, 240, 180)))
        .unwrap();
    cap.capture(&mut frame, &mut dirty).unwrap();
    desk.fill(win, 600, 450, 5, 5, 0xff_ff_00);
    desk.sync();
    cap.capture(&mut frame, &mut dirty).unwrap();
    assert_eq!(dirty.rects(), &[Rect::new(200, 150, 5, 5)]);
}

#[test]
fn incremental_mode_copies_only_damage_and_stays_exact() {
    let x = common::xvfb(640, 480);
    let desk = Desk::open(&x, 0x30_30_30);
    let win = desk.window(0, 0, 640, 480, 0x30_30_30);
    desk.sync();
    let mut cap = X11Capturer::connect(Some(&x.display())).unwrap();
    cap.set_incremental(true);
    let mut frame = BgraFrame::filled(0, 0, [0; 4]);
    let mut dirty = DirtyRegion::new();
    cap.capture(&mut frame, &mut dirty).unwrap();
    assert!(dirty.is_full());

    // Idle: nothing reported, nothing touched (a marker pixel survives).
    frame.pixels_mut()[..4].copy_from_slice(&[1, 2, 3, 4]);
    cap.capture(&mut frame, &mut dirty).unwrap();
    assert!(dirty.is_unchanged());
    assert_eq!(
        frame.pixel(0, 0),
        Some([1, 2, 3, 4]),
        "idle capture rewrote pixels"
    );
    frame.pixels_mut()[..4].copy_from_slice(&bgra(0x30_30_30));

    // Changes land exactly: the reused frame equals a fresh full capture.
    for (i, (fx, fy)) in [(10i16, 10i16), (300, 200), (630, 470)]
        .into_iter()
        .enumerate()
    {
        desk.fill(win, fx, fy, 40, 30, 0x11_00_00 * (i as u32 + 1) + 0x55);
        desk.sync();
        cap.capture(&mut frame, &mut dirty).unwrap();
        assert!(!dirty.is_full() && !dirty.rects().is_empty());
        let (fresh, _) = grab(&mut X11Capturer::connect(Some(&x.display())).unwrap());
        assert!(frame == fresh, "incremental frame differs after change {i}");
    }
}

#[test]
fn application_selection_masks_everything_but_the_chosen_window() {
    let x = common::xvfb(640, 480);
    let desk = Desk::open(&x, 0x10_50_10);
    let chosen = desk.window(50, 50, 300, 200, 0xc0_00_00);
    desk.name(chosen, "Invoice.ods — Calc", "libreoffice-calc");
    let other = desk.window(250, 150, 200, 200, 0x00_00_c0);
    desk.name(other, "Secret chat", "chat");
    desk.sync();

    let mut cap = X11Capturer::connect(Some(&x.display())).unwrap();
    let windows = cap.windows().unwrap();
    let info = windows
        .iter()
        .find(|w| w.id == WindowId(u64::from(chosen)))
        .unwrap_or_else(|| panic!("chosen window missing from {windows:?}"));
    assert_eq!(info.title, "Invoice.ods — Calc");
    assert_eq!(info.app, "libreoffice-calc");
    assert_eq!(info.rect, Rect::new(50, 50, 300, 200));
    assert!(windows.iter().any(|w| w.title == "Secret chat"));

    cap.select_windows(WindowSelection::Only(vec![info.id]))
        .unwrap();
    let (frame, _) = grab(&mut cap);
    let red = bgra(0xc0_00_00);
    for py in 0..480u32 {
        for px in 0..640u32 {
            let (xi, yi) = (px as i32, py as i32);
            let in_chosen = Rect::new(50, 50, 300, 200).contains(xi, yi);
            let under_other = Rect::new(250, 150, 200, 200).contains(xi, yi);
            let want = if in_chosen && !under_other {
                red
            } else {
                MASK_BGRA
            };
            assert_eq!(frame.pixel(px, py), Some(want), "pixel {px},{py}");
        }
    }

    // The pointer over a masked part is not reported.
    desk.conn
        .warp_pointer(x11rb::NONE, desk.root, 0, 0, 0, 0, 400, 300)
        .unwrap();
    desk.sync();
    assert_eq!(cap.poll_cursor().unwrap().position, None);
    desk.conn
        .warp_pointer(x11rb::NONE, desk.root, 0, 0, 0, 0, 60, 60)
        .unwrap();
    desk.sync();
    assert_eq!(cap.poll_cursor().unwrap().position, Some((60, 60)));

    // Raise the chosen window: now all of it is shared, and the change is dirty.
    desk.conn
        .configure_window(
            chosen,
            &x11rb::protocol::xproto::ConfigureWindowAux::new()
                .stack_mode(x11rb::protocol::xproto::StackMode::ABOVE),
        )
        .unwrap();
    desk.sync();
    let mut frame2 = frame.clone();
    let mut dirty = DirtyRegion::new();
    cap.capture(&mut frame2, &mut dirty).unwrap();
    assert_eq!(frame2.pixel(300, 200), Some(red));
    assert!(dirty.is_full() || dirty.rects().iter().any(|r| r.contains(300, 200)));
}

#[test]
fn getimage_capture_works_when_shm_is_not_used() {
    let x = common::xvfb(320, 240);
    let desk = Desk::open(&x, 0x01_02_03);
    let win = desk.window(10, 10, 30, 30, 0xfe_dc_ba);
    desk.sync();
    let mut cap = X11Capturer::connect_with(Some(&x.display()), CaptureMethod::GetImage).unwrap();
    let (frame, _) = grab(&mut cap);
    assert_eq!(frame.pixel(10, 10), Some(bgra(0xfe_dc_ba)));
    assert_eq!(frame.pixel(40, 40), Some(bgra(0x01_02_03)));
    let _ = win;
}

#[test]
fn reparented_clients_in_frames_are_found_and_masked_like_under_a_window_manager() {
    let x = common::xvfb(640, 480);
    let desk = Desk::open(&x, 0x10_10_10);
    // What a reparenting window manager builds: frame windows with title-bar
    // colour, each holding a client, and the EWMH client list on the root.
    let frame = desk.window(100, 100, 220, 170, 0x80_80_80);
    let client = desk.child(frame, 10, 30, 200, 130, 0xd0_20_20);
    desk.name(client, "Report", "writer");
    let frame2 = desk.window(250, 200, 150, 150, 0x70_70_70);
    let client2 = desk.child(frame2, 5, 25, 140, 120, 0x20_20_d0);
    desk.name(client2, "Mail", "mailer");
    desk.set_client_list(&[client, client2]);
    desk.sync();

    let mut cap = X11Capturer::connect(Some(&x.display())).unwrap();
    let windows = cap.windows().unwrap();
    let ids: Vec<_> = windows.iter().map(|w| w.id).collect();
    assert_eq!(
        ids,
        vec![WindowId(u64::from(client)), WindowId(u64::from(client2))],
        "the EWMH list names the clients, not the frames"
    );
    assert_eq!(windows[0].rect, Rect::new(110, 130, 200, 130));
    assert_eq!(windows[0].app, "writer");

    cap.select_windows(WindowSelection::Only(vec![WindowId(u64::from(client))]))
        .unwrap();
    let (frame_px, _) = grab(&mut cap);
    assert_eq!(
        frame_px.pixel(120, 140),
        Some(bgra(0xd0_20_20)),
        "client shown"
    );
    assert_eq!(
        frame_px.pixel(105, 105),
        Some(MASK_BGRA),
        "frame border masked"
    );
    // The second frame (stacked above) covers the client from (250, 200).
    assert_eq!(
        frame_px.pixel(260, 210),
        Some(MASK_BGRA),
        "covered part masked"
    );
    assert_eq!(frame_px.pixel(240, 210), Some(bgra(0xd0_20_20)));
    assert_eq!(frame_px.pixel(500, 400), Some(MASK_BGRA), "desktop masked");
}

#[test]
fn platform_capturer_picks_x11_from_display() {
    let x = common::xvfb(320, 240);
    let desk = Desk::open(&x, 0x0a_0b_0c);
    let _ = desk;
    // Only this test touches DISPLAY in this binary; the others pass it explicitly.
    std::env::set_var("DISPLAY", x.display());
    let mut cap = rsupport_capture::source::platform_capturer().unwrap();
    let mut frame = BgraFrame::filled(0, 0, [0; 4]);
    cap.capture(&mut frame, &mut DirtyRegion::new()).unwrap();
    assert_eq!((frame.width(), frame.height()), (320, 240));
    assert_eq!(frame.pixel(5, 5), Some(bgra(0x0a_0b_0c)));
}

#[test]
fn a_randr_screen_resize_is_followed() {
    let x = common::xvfb(640, 480);
    let desk = Desk::open(&x, 0x22_44_66);
    let c = &desk.conn;
    c.randr_query_version(1, 5).unwrap().reply().unwrap();
    let mut cap = X11Capturer::connect(Some(&x.display())).unwrap();
    let (before, _) = grab(&mut cap);
    assert_eq!((before.width(), before.height()), (640, 480));

    // What `xrandr --fb 320x240` does after switching the CRTC to a smaller mode.
    let res = c
        .randr_get_screen_resources(desk.root)
        .unwrap()
        .reply()
        .unwrap();
    let crtc = res.crtcs[0];
    let info = c.randr_get_crtc_info(crtc, 0).unwrap().reply().unwrap();
    let mode = c
        .randr_create_mode(
            desk.root,
            randr::ModeInfo {
                id: 0,
                width: 320,
                height: 240,
                dot_clock: 6_000_000,
                hsync_start: 330,
                hsync_end: 340,
                htotal: 350,
                hskew: 0,
                vsync_start: 245,
                vsync_end: 250,
                vtotal: 260,
                name_len: 7,
                mode_flags: randr::ModeFlag::from(0u32),
            },
            b"320x240",
        )
        .unwrap()
        .reply()
        .unwrap()
        .mode;
    c.randr_add_output_mode(info.outputs[0], mode)
        .unwrap()
        .check()
        .unwrap();
    c.randr_set_crtc_config(
        crtc,
        0,
        res.config_timestamp,
        0,
        0,
        mode,
        info.rotation,
        &info.outputs,
    )
    .unwrap()
    .reply()
    .unwrap();
    c.randr_set_screen_size(desk.root, 320, 240, 80, 60)
        .unwrap()
        .check()
        .unwrap();
    desk.sync();

    let (after, dirty) = grab(&mut cap);
    assert_eq!(cap.screen(), Rect::new(0, 0, 320, 240));
    assert_eq!((after.width(), after.height()), (320, 240));
    assert!(dirty.is_full());
    assert_eq!(after.pixel(300, 200), Some(bgra(0x22_44_66)));
}
