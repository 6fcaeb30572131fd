//! A private X desktop to check a session against (feature `x11`):
//! [`draw_desktop`] paints a known picture, [`server_picture`] reads the X
//! server's own copy of the screen, and [`Observer`] is a small X client
//! that sees what an injector did: a full-screen window with the input
//! focus that records pointer motion, buttons and key presses (translated
//! to keysyms with the keyboard map in force).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, ImageFormat, InputFocus,
    KeyButMask, Mapping, Rectangle, Window, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::COPY_DEPTH_FROM_PARENT;

/// Draws a window with coloured bars and a noisy block, so the codec sees
/// solid, palette and raw tiles.
pub fn draw_desktop(conn: &RustConnection, screen_num: usize) {
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

/// The X server's own picture of the top-left `width`×`height` of the
/// screen, as BGRA with opaque alpha.
pub fn server_picture(
    conn: &RustConnection,
    screen_num: usize,
    width: u16,
    height: u16,
) -> Vec<u8> {
    let root = conn.setup().roots[screen_num].root;
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, root, 0, 0, width, height, !0)
        .unwrap()
        .reply()
        .unwrap();
    let mut data = image.data;
    for px in data.chunks_exact_mut(4) {
        px[3] = 0xFF;
    }
    data
}

/// `pixels` (BGRA) with every alpha set to opaque, as screens are.
pub fn opaque(pixels: &[u8]) -> Vec<u8> {
    let mut p = pixels.to_vec();
    for px in p.chunks_exact_mut(4) {
        px[3] = 0xFF;
    }
    p
}

/// Starts a private Xvfb. Serialised within the test binary: two threads
/// starting at once can both pick the same free display (the second server
/// fails, and its test would silently share the first one's display).
pub fn start_xvfb() -> crate::Xvfb {
    static START: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = START.lock().unwrap_or_else(|e| e.into_inner());
    crate::Xvfb::start()
}

/// Something the observer window saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The pointer moved to (x, y) on the root window.
    Motion {
        /// Root x.
        x: i16,
        /// Root y.
        y: i16,
    },
    /// A button went down (1 left, 2 middle, 3 right, 4/5 wheel).
    ButtonPress(u8),
    /// A button went up.
    ButtonRelease(u8),
    /// A key went down.
    KeyPress {
        /// What the key map in force made of it.
        keysym: u32,
        /// Shift was held.
        shift: bool,
    },
    /// A key went up.
    KeyRelease {
        /// What the key map in force made of it.
        keysym: u32,
    },
}

/// An X client that records the input its full-screen window receives.
pub struct Observer {
    conn: Arc<RustConnection>,
    /// The observing window.
    pub window: Window,
    events: mpsc::Receiver<(Instant, Seen)>,
}

/// The core keyboard map, as the reader thread keeps it.
struct KeyMap {
    min_keycode: u8,
    per_keycode: usize,
    mapping: Vec<u32>,
}

impl KeyMap {
    /// `None` when the server is gone.
    fn fetch(conn: &RustConnection) -> Option<KeyMap> {
        let setup = conn.setup();
        let (min_keycode, count) = (setup.min_keycode, setup.max_keycode - setup.min_keycode + 1);
        let reply = conn
            .get_keyboard_mapping(min_keycode, count)
            .ok()?
            .reply()
            .ok()?;
        Some(KeyMap {
            min_keycode,
            per_keycode: usize::from(reply.keysyms_per_keycode),
            mapping: reply.keysyms,
        })
    }

    fn keysym(&self, keycode: u8, shift: bool) -> u32 {
        let i = usize::from(keycode - self.min_keycode) * self.per_keycode;
        let syms = &self.mapping[i..i + self.per_keycode];
        let (l0, l1) = (syms[0], syms.get(1).copied().unwrap_or(0));
        match (shift, l1) {
            (false, _) => l0,
            (true, 0) => char::from_u32(l0)
                .filter(|c| c.is_ascii_lowercase())
                .map_or(l0, |c| u32::from(c.to_ascii_uppercase())),
            (true, l1) => l1,
        }
    }
}

impl Observer {
    /// Opens a full-screen window on `display`, maps it, gives it the focus,
    /// and starts a thread that reads its events as they arrive (like any
    /// X application) and timestamps them.
    pub fn open(display: &str) -> Observer {
        let (conn, screen) = x11rb::connect(Some(display)).expect("observer connects to Xvfb");
        let screen = &conn.setup().roots[screen];
        let (root, w, h) = (screen.root, screen.width_in_pixels, screen.height_in_pixels);
        let window = conn.generate_id().unwrap();
        let mask = EventMask::KEY_PRESS
            | EventMask::KEY_RELEASE
            | EventMask::BUTTON_PRESS
            | EventMask::BUTTON_RELEASE
            | EventMask::POINTER_MOTION
            | EventMask::STRUCTURE_NOTIFY;
        conn.create_window(
            COPY_DEPTH_FROM_PARENT,
            window,
            root,
            0,
            0,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new().event_mask(mask).override_redirect(1),
        )
        .unwrap();
        conn.map_window(window).unwrap();
        conn.flush().unwrap();
        loop {
            if let Event::MapNotify(_) = conn.wait_for_event().unwrap() {
                break;
            }
        }
        conn.set_input_focus(InputFocus::POINTER_ROOT, window, x11rb::CURRENT_TIME)
            .unwrap();
        conn.get_input_focus().unwrap().reply().unwrap(); // sync
        let conn = Arc::new(conn);
        let (tx, events) = mpsc::channel();
        let reader = Arc::clone(&conn);
        std::thread::spawn(move || {
            let Some(mut map) = KeyMap::fetch(&reader) else {
                return;
            };
            // Ends when the connection closes (the server went away).
            while let Ok(event) = reader.wait_for_event() {
                let now = Instant::now();
                let seen = match event {
                    Event::MotionNotify(e) => Seen::Motion {
                        x: e.root_x,
                        y: e.root_y,
                    },
                    Event::ButtonPress(e) => Seen::ButtonPress(e.detail),
                    Event::ButtonRelease(e) => Seen::ButtonRelease(e.detail),
                    Event::KeyPress(e) => {
                        let shift = e.state.contains(KeyButMask::SHIFT);
                        Seen::KeyPress {
                            keysym: map.keysym(e.detail, shift),
                            shift,
                        }
                    }
                    Event::KeyRelease(e) => {
                        let shift = e.state.contains(KeyButMask::SHIFT);
                        Seen::KeyRelease {
                            keysym: map.keysym(e.detail, shift),
                        }
                    }
                    Event::MappingNotify(e) if e.request == Mapping::KEYBOARD => {
                        match KeyMap::fetch(&reader) {
                            Some(m) => map = m,
                            None => return,
                        }
                        continue;
                    }
                    _ => continue,
                };
                if tx.send((now, seen)).is_err() {
                    return;
                }
            }
        });
        Observer {
            conn,
            window,
            events,
        }
    }

    /// The whole core keyboard map (to check it is restored).
    pub fn keyboard_mapping(&mut self) -> Vec<u32> {
        KeyMap::fetch(&self.conn)
            .expect("the X server is up")
            .mapping
    }

    /// Keycodes down on the server (stuck keys).
    pub fn keys_down(&self) -> Vec<u8> {
        let reply = self.conn.query_keymap().unwrap().reply().unwrap();
        (0u16..256)
            .filter(|&kc| reply.keys[usize::from(kc / 8)] & (1 << (kc % 8)) != 0)
            .map(|kc| kc as u8)
            .collect()
    }

    /// The next observed input event with the time the reader received it,
    /// or `None` after `timeout`.
    pub fn next_timed(&mut self, timeout: Duration) -> Option<(Instant, Seen)> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The next observed input event, or `None` after `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<Seen> {
        self.next_timed(timeout).map(|(_, seen)| seen)
    }

    /// Events until `n` have been seen (panics if they do not come).
    pub fn take(&mut self, n: usize) -> Vec<Seen> {
        (0..n)
            .map(|i| {
                self.next(Duration::from_secs(10))
                    .unwrap_or_else(|| panic!("only {i} of {n} events arrived"))
            })
            .collect()
    }

    /// Events until `pred` matches one (that one included).
    pub fn until(&mut self, pred: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        let mut seen = Vec::new();
        loop {
            let e = self
                .next(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("expected event never came; saw {seen:?}"));
            seen.push(e);
            if pred(&e) {
                return seen;
            }
        }
    }

    /// Drains pending events and returns them (waiting `settle` for stragglers).
    pub fn drain(&mut self, settle: Duration) -> Vec<Seen> {
        std::iter::from_fn(|| self.next(settle)).collect()
    }
}

/// Key presses only, as keysyms, without modifier keys.
pub fn typed(seen: &[Seen]) -> Vec<u32> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::KeyPress { keysym, .. } if !(0xffe1..=0xffee).contains(keysym) => Some(*keysym),
            _ => None,
        })
        .collect()
}

/// The keysyms X11 uses for `text`'s characters.
pub fn keysyms_of(text: &str) -> Vec<u32> {
    text.chars()
        .map(|c| {
            let cp = u32::from(c);
            if (0x20..0x7f).contains(&cp) || (0xa0..0x100).contains(&cp) {
                cp
            } else {
                0x0100_0000 + cp
            }
        })
        .collect()
}
