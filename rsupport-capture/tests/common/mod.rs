//! Drawing known content on a test X server with a second x11rb connection.
#![allow(dead_code)] // each test binary uses a different subset
#![allow(clippy::unwrap_used)] // test set-up: a failure should panic loudly

use rsupport_testkit::Xvfb;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ChangeWindowAttributesAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, Cursor,
    Pixmap, PropMode, Rectangle, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Starts a private Xvfb, one at a time within this test binary.
///
/// `Xvfb::start` picks the first display without a lock file; two tests starting
/// at the same instant can both pick it, and the loser then talks to the winner's
/// server (its own exits, but the socket it waited for exists). Serialising the
/// starts in one process avoids that: once `start` returns, the lock file exists.
pub fn xvfb(width: u32, height: u32) -> Xvfb {
    static START: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = START.lock().unwrap_or_else(|e| e.into_inner());
    Xvfb::start_with_size(width, height)
}

/// The BGRA bytes a capture produces for X pixel value `0xRRGGBB`.
pub fn bgra(rgb: u32) -> [u8; 4] {
    [rgb as u8, (rgb >> 8) as u8, (rgb >> 16) as u8, 0xff]
}

/// A drawing connection to a test display.
pub struct Desk {
    pub conn: RustConnection,
    pub root: Window,
    pub depth: u8,
}

impl Desk {
    /// Connects and paints the root background `root_rgb`.
    pub fn open(x: &Xvfb, root_rgb: u32) -> Desk {
        let (conn, n) = x11rb::connect(Some(&x.display())).expect("connect to Xvfb");
        let screen = &conn.setup().roots[n];
        let (root, depth) = (screen.root, screen.root_depth);
        let desk = Desk { conn, root, depth };
        desk.set_root_pixel(root_rgb);
        desk.sync();
        desk
    }

    /// Sets the root background to a solid pixel value and repaints it.
    pub fn set_root_pixel(&self, rgb: u32) {
        self.conn
            .change_window_attributes(
                self.root,
                &ChangeWindowAttributesAux::new().background_pixel(rgb),
            )
            .unwrap();
        self.conn.clear_area(false, self.root, 0, 0, 0, 0).unwrap();
    }

    /// Maps a plain window (no window manager runs, so it lands where asked).
    pub fn window(&self, x: i16, y: i16, w: u16, h: u16, rgb: u32) -> Window {
        let id = self.conn.generate_id().unwrap();
        self.conn
            .create_window(
                self.depth,
                id,
                self.root,
                x,
                y,
                w,
                h,
                0,
                WindowClass::INPUT_OUTPUT,
                x11rb::COPY_FROM_PARENT,
                &CreateWindowAux::new().background_pixel(rgb),
            )
            .unwrap();
        self.conn.map_window(id).unwrap();
        id
    }

    /// Sets `_NET_WM_NAME` and `WM_CLASS` like a toolkit does.
    pub fn name(&self, w: Window, title: &str, class: &str) {
        let atom = |n: &[u8]| {
            self.conn
                .intern_atom(false, n)
                .unwrap()
                .reply()
                .unwrap()
                .atom
        };
        let (net_wm_name, utf8) = (atom(b"_NET_WM_NAME"), atom(b"UTF8_STRING"));
        self.conn
            .change_property8(PropMode::REPLACE, w, net_wm_name, utf8, title.as_bytes())
            .unwrap();
        let wm_class = format!("{class}\0{class}\0");
        self.conn
            .change_property8(
                PropMode::REPLACE,
                w,
                AtomEnum::WM_CLASS,
                AtomEnum::STRING,
                wm_class.as_bytes(),
            )
            .unwrap();
    }

    /// Fills a rectangle of `drawable` with a solid pixel value.
    pub fn fill(&self, drawable: u32, x: i16, y: i16, w: u16, h: u16, rgb: u32) {
        let gc = self.conn.generate_id().unwrap();
        self.conn
            .create_gc(gc, drawable, &CreateGCAux::new().foreground(rgb))
            .unwrap();
        self.conn
            .poly_fill_rectangle(
                drawable,
                gc,
                &[Rectangle {
                    x,
                    y,
                    width: w,
                    height: h,
                }],
            )
            .unwrap();
        self.conn.free_gc(gc).unwrap();
    }

    /// A screen-depth pixmap.
    pub fn pixmap(&self, w: u16, h: u16) -> Pixmap {
        let id = self.conn.generate_id().unwrap();
        self.conn
            .create_pixmap(self.depth, id, self.root, w, h)
            .unwrap();
        id
    }

    /// A cursor from 1-bit pixmaps (a filled square), no cursor font needed.
    pub fn pixmap_cursor(&self, w: u16, h: u16, hot_x: u16, hot_y: u16) -> Cursor {
        let bits = self.conn.generate_id().unwrap();
        self.conn.create_pixmap(1, bits, self.root, w, h).unwrap();
        self.fill(bits, 0, 0, w, h, 1);
        let cursor = self.conn.generate_id().unwrap();
        self.conn
            .create_cursor(
                cursor, bits, bits, 0, 0, 0, 0xffff, 0xffff, 0xffff, hot_x, hot_y,
            )
            .unwrap();
        cursor
    }

    /// Round trip: everything sent before has been executed by the server.
    pub fn sync(&self) {
        self.conn.get_input_focus().unwrap().reply().unwrap();
    }
}
