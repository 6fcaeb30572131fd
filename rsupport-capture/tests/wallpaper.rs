//! Wallpaper hide/restore on a real X server: the restored background must be
//! pixel-for-pixel the one before.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{bgra, Desk};
use rsupport_capture::source::{
    Capturer, DirtyRegion, WallpaperControl, X11Capturer, X11Wallpaper,
};
use rsupport_capture::BgraFrame;
use x11rb::protocol::xproto::{AtomEnum, ChangeWindowAttributesAux, ConnectionExt as _, PropMode};
use x11rb::wrapper::ConnectionExt as _;

fn screenshot(display: &str) -> BgraFrame {
    let mut cap = X11Capturer::connect(Some(display)).unwrap();
    let mut frame = BgraFrame::filled(0, 0, [0; 4]);
    cap.capture(&mut frame, &mut DirtyRegion::new()).unwrap();
    frame
}

/// A patterned pixmap, so "restored" cannot pass by accident with a flat colour.
fn patterned_pixmap(desk: &Desk, w: u16, h: u16) -> u32 {
    let pm = desk.pixmap(w, h);
    for i in 0..16u16 {
        let rgb = 0x10_00_00 * u32::from(i) + 0x00_0f_00 * u32::from(15 - i) + 0x37;
        let (x0, y0) = ((i * 7) % w, (i * 5) % h);
        desk.fill(pm, x0 as i16, y0 as i16, w - x0, 9, rgb);
    }
    pm
}

const SOLID: u32 = 0x12_34_56;

#[test]
fn hide_and_restore_a_published_wallpaper_pixmap() {
    let x = common::xvfb(320, 200);
    let desk = Desk::open(&x, 0);
    let pm = patterned_pixmap(&desk, 120, 90); // tiled over the root
    desk.conn
        .change_window_attributes(
            desk.root,
            &ChangeWindowAttributesAux::new().background_pixmap(pm),
        )
        .unwrap();
    desk.conn.clear_area(false, desk.root, 0, 0, 0, 0).unwrap();
    let prop = desk
        .conn
        .intern_atom(false, b"_XROOTPMAP_ID")
        .unwrap()
        .reply()
        .unwrap()
        .atom;
    desk.conn
        .change_property32(PropMode::REPLACE, desk.root, prop, AtomEnum::PIXMAP, &[pm])
        .unwrap();
    desk.sync();
    let before = screenshot(&x.display());
    assert!(
        before
            .pixels()
            .chunks(4)
            .any(|p| p != before.pixel(0, 0).unwrap()),
        "the wallpaper must not be flat for this test to mean anything"
    );

    let mut wp = X11Wallpaper::connect(Some(&x.display()), SOLID).unwrap();
    wp.hide().unwrap();
    assert!(wp.is_hidden());
    let hidden = screenshot(&x.display());
    assert!(hidden.pixels().chunks(4).all(|p| p == bgra(SOLID)));

    wp.restore().unwrap();
    assert!(!wp.is_hidden());
    assert!(
        screenshot(&x.display()) == before,
        "restored wallpaper differs"
    );
}

#[test]
fn hide_and_restore_an_unpublished_background_by_snapshot_and_on_drop() {
    let x = common::xvfb(320, 200);
    let desk = Desk::open(&x, 0x44_88_cc);
    // A patterned background with no _XROOTPMAP_ID (like `xsetroot -bitmap`).
    let pm = patterned_pixmap(&desk, 64, 48);
    desk.conn
        .change_window_attributes(
            desk.root,
            &ChangeWindowAttributesAux::new().background_pixmap(pm),
        )
        .unwrap();
    desk.conn.free_pixmap(pm).unwrap();
    desk.conn.clear_area(false, desk.root, 0, 0, 0, 0).unwrap();
    // A window on top: the snapshot must still see the background under it.
    let win = desk.window(20, 20, 100, 80, 0xff_ff_ff);
    desk.sync();
    let before = screenshot(&x.display());

    {
        let mut wp = X11Wallpaper::connect(Some(&x.display()), SOLID).unwrap();
        wp.hide().unwrap();
        let hidden = screenshot(&x.display());
        assert_eq!(hidden.pixel(200, 150), Some(bgra(SOLID)));
        assert_eq!(hidden.pixel(30, 30), Some(bgra(0xff_ff_ff)), "windows stay");
        // Dropped while hidden: restores by itself.
    }
    assert!(
        screenshot(&x.display()) == before,
        "background not restored on drop"
    );

    // Unmapping the window shows the background that was under it: also restored.
    desk.conn.unmap_window(win).unwrap();
    desk.sync();
    let bare = screenshot(&x.display());
    desk.conn.map_window(win).unwrap();
    desk.sync();
    let mut wp = X11Wallpaper::connect(Some(&x.display()), SOLID).unwrap();
    wp.hide().unwrap();
    wp.restore().unwrap();
    desk.conn.unmap_window(win).unwrap();
    desk.sync();
    assert!(
        screenshot(&x.display()) == bare,
        "background under the window differs"
    );
}
