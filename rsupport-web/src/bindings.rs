//! [`WebConsole`]: the [`Console`] as the page's JavaScript sees it.
//!
//! Session ids cross as decimal strings (JavaScript numbers lose precision
//! above 2^53), events as JSON text, pixels as `Uint8Array`s. Every request
//! moves what it produced to the outgoing queue at once; the page then sends
//! [`poll_outgoing`](WebConsole::poll_outgoing) on its WebSocket.

use rsupport_input::keysym::Keysym;
use rsupport_proto::Rect;
use wasm_bindgen::prelude::*;
use web_time::{Instant, SystemTime, UNIX_EPOCH};

use crate::console::{Console, ConsoleError};
use crate::display::DisplayRequest;
use crate::live::LiveSession;

/// The operator's console in the browser (see the crate docs).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WebConsole {
    console: Console,
    /// Pixels of the last [`WebConsole::rgba_view`], read by the page in
    /// place (no copy out of WebAssembly memory).
    scratch: Vec<u8>,
}

fn js(e: ConsoleError) -> JsError {
    JsError::new(&e.to_string())
}

fn session_id(id: &str) -> Result<u64, JsError> {
    id.parse()
        .map_err(|_| JsError::new("that is not a session id; reload the page"))
}

fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The keysym a DOM `KeyboardEvent.key` names when it is one character;
/// 0 otherwise (the customer's side then uses the physical key's code).
fn keysym_of(key: &str) -> u32 {
    let mut chars = key.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Keysym::from_char(c).map_or(0, |k| k.0),
        _ => 0,
    }
}

#[wasm_bindgen]
impl WebConsole {
    /// A console that says hello to the relay as `software`.
    #[wasm_bindgen(constructor)]
    pub fn new(software: &str) -> WebConsole {
        WebConsole {
            console: Console::new(software),
            scratch: Vec::new(),
        }
    }

    /// Registers the font drawings' labels are drawn with (TTF/OTF bytes;
    /// the page fetches DejaVu Sans beside the module, which stays smaller
    /// without it). Until then labels are not drawn in the overlay.
    pub fn load_font(data: Vec<u8>) -> Result<(), JsError> {
        rsupport_core::annotate::set_fallback_font(data).map_err(|e| JsError::new(&e.to_string()))
    }

    /// Bytes from the WebSocket.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.console.receive(bytes, Instant::now());
    }

    /// The WebSocket closed.
    pub fn connection_lost(&mut self) {
        self.console.connection_lost();
    }

    /// Whether the page should dial the relay again (sessions are waiting).
    pub fn wants_reconnect(&self) -> bool {
        self.console.wants_reconnect()
    }

    /// A new WebSocket is open after a drop.
    pub fn reconnected(&mut self) {
        self.console.reconnected();
    }

    /// The page stopped dialing: the waiting sessions end.
    pub fn give_up(&mut self) {
        self.console.give_up();
    }

    /// The next bytes to send on the WebSocket, if any.
    pub fn poll_outgoing(&mut self) -> Option<Vec<u8>> {
        self.console.poll_outgoing()
    }

    /// The next event as JSON text, if any.
    pub fn poll_event(&mut self) -> Option<String> {
        self.console.poll_event().map(|e| e.to_json().to_string())
    }

    /// Milliseconds until [`tick`](Self::tick) wants to run; -1 for never.
    pub fn next_timeout_ms(&self) -> f64 {
        match self.console.poll_timeout() {
            Some(at) => at.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0,
            None => -1.0,
        }
    }

    /// Runs the timers that are due.
    pub fn tick(&mut self) {
        self.console.handle_timeout(Instant::now());
    }

    /// Logs in (`totp` empty without a second factor).
    pub fn login(&mut self, username: &str, password: &str, totp: &str) -> Result<(), JsError> {
        self.console.login(username, password, totp).map_err(js)
    }

    /// Changes our own password.
    pub fn change_password(&mut self, old: &str, new: &str) -> Result<(), JsError> {
        self.console.change_password(old, new).map_err(js)
    }

    /// Asks for a session code.
    pub fn issue_code(&mut self) -> Result<(), JsError> {
        self.console.issue_code(0).map_err(js)
    }

    /// Withdraws an unused code.
    pub fn cancel_code(&mut self, code: &str) -> Result<(), JsError> {
        self.console.cancel_code(code).map_err(js)
    }

    /// Accepts or declines a customer's chat-first contact.
    pub fn answer_contact(&mut self, contact: &str, accept: bool) -> Result<(), JsError> {
        let contact = session_id(contact)?;
        self.console.answer_contact(contact, accept).map_err(js)
    }

    /// Ends a session.
    pub fn end_session(&mut self, session: &str) -> Result<(), JsError> {
        let id = session_id(session)?;
        self.console.end_session(id, Instant::now()).map_err(js)
    }

    /// Asks the customer for a mode ("view", "control", "manage").
    pub fn request_mode(&mut self, session: &str, mode: &str, reason: &str) -> Result<(), JsError> {
        self.with(session, |live| live.request_mode(mode, reason))
    }

    /// Sends a chat line.
    pub fn chat(&mut self, session: &str, text: &str) -> Result<(), JsError> {
        let now_ms = wall_clock_ms();
        self.with(session, |live| live.chat(text, now_ms))
    }

    /// Typing in the chat box started or stopped.
    pub fn chat_typing(&mut self, session: &str, typing: bool) -> Result<(), JsError> {
        self.with(session, |live| {
            live.chat_typing(typing);
            Ok(())
        })
    }

    /// The pointer moved (screen pixels).
    pub fn pointer_move(&mut self, session: &str, x: i32, y: i32) -> Result<(), JsError> {
        self.with(session, |live| live.pointer_move(x, y))
    }

    /// A pointer button went down or up (DOM `MouseEvent.button`).
    pub fn pointer_button(
        &mut self,
        session: &str,
        button: u8,
        pressed: bool,
        x: i32,
        y: i32,
    ) -> Result<(), JsError> {
        self.with(session, |live| live.pointer_button(button, pressed, x, y))
    }

    /// Wheel movement in 1/120ths of a notch.
    pub fn wheel(&mut self, session: &str, dx: i32, dy: i32) -> Result<(), JsError> {
        self.with(session, |live| live.wheel(dx, dy))
    }

    /// A key: DOM `KeyboardEvent.code` and `.key`.
    pub fn key(
        &mut self,
        session: &str,
        code: &str,
        key: &str,
        pressed: bool,
        repeat: bool,
    ) -> Result<(), JsError> {
        let keysym = keysym_of(key);
        self.with(session, |live| live.key(code, keysym, pressed, repeat))
    }

    /// Text an input method committed.
    pub fn text(&mut self, session: &str, text: &str) -> Result<(), JsError> {
        self.with(session, |live| live.text(text))
    }

    /// A named key sequence ("ctrl_alt_del", "alt_hankaku_zenkaku").
    pub fn special(&mut self, session: &str, name: &str) -> Result<(), JsError> {
        self.with(session, |live| live.special(name))
    }

    /// Releases every key and button held (focus lost).
    pub fn release_all(&mut self, session: &str) -> Result<(), JsError> {
        self.with(session, LiveSession::release_all)
    }

    /// Asks for a full frame again.
    pub fn refresh(&mut self, session: &str) -> Result<(), JsError> {
        self.with(session, |live| {
            live.refresh();
            Ok(())
        })
    }

    /// Offers files to the customer: their names and sizes. Returns the
    /// transfer id followed by, per file, the name `file_read` events use.
    pub fn offer_files(
        &mut self,
        session: &str,
        names: Vec<String>,
        sizes: Vec<f64>,
    ) -> Result<Vec<String>, JsError> {
        let id = session_id(session)?;
        let files: Vec<(String, u64)> = names
            .into_iter()
            .zip(sizes)
            .map(|(n, s)| (n, s.max(0.0) as u64))
            .collect();
        let now = Instant::now();
        let (transfer, uploads) = self
            .console
            .session(id)
            .map_err(js)?
            .offer_files(&files, now);
        self.console.pump(now);
        Ok(std::iter::once(transfer.to_string())
            .chain(uploads)
            .collect())
    }

    /// The bytes a `file_read` event asked for.
    pub fn read_done(&mut self, session: &str, read: &str, bytes: Vec<u8>) -> Result<(), JsError> {
        let (id, read) = (session_id(session)?, session_id(read)?);
        let now = Instant::now();
        self.console
            .session(id)
            .map_err(js)?
            .read_done(read, bytes, now);
        self.console.pump(now);
        Ok(())
    }

    /// A `file_read` the page could not do.
    pub fn read_failed(&mut self, session: &str, read: &str) -> Result<(), JsError> {
        let (id, read) = (session_id(session)?, session_id(read)?);
        let now = Instant::now();
        self.console.session(id).map_err(js)?.read_failed(read, now);
        self.console.pump(now);
        Ok(())
    }

    /// Accepts the customer's file offer.
    pub fn accept_files(&mut self, session: &str, transfer: &str) -> Result<(), JsError> {
        let transfer = session_id(transfer)?;
        let now = Instant::now();
        self.with(session, |live| live.accept_files(transfer, now))
    }

    /// Declines the customer's file offer.
    pub fn decline_files(&mut self, session: &str, transfer: &str) -> Result<(), JsError> {
        let transfer = session_id(transfer)?;
        self.with(session, |live| live.decline_files(transfer))
    }

    /// Stops a transfer.
    pub fn cancel_files(&mut self, session: &str, transfer: &str) -> Result<(), JsError> {
        let transfer = session_id(transfer)?;
        let now = Instant::now();
        self.with(session, |live| {
            live.cancel_files(transfer, now);
            Ok(())
        })
    }

    /// The bytes of a received file (announced by `download_ready`); the
    /// console forgets them.
    pub fn take_download(&mut self, session: &str, download: &str) -> Result<Vec<u8>, JsError> {
        let (id, download) = (session_id(session)?, session_id(download)?);
        let live = self.console.session(id).map_err(js)?;
        live.take_download(download)
            .map(|d| d.bytes.to_vec())
            .ok_or_else(|| JsError::new("that file was already saved or is gone"))
    }

    /// Changes how the customer's side shares: colour depth ("true",
    /// "high", "256", "16", "4"), monitor id (0: keep), scale percent (0:
    /// none), plain wallpaper, and the windows to share (empty: all).
    pub fn set_display(
        &mut self,
        session: &str,
        depth: &str,
        monitor: u32,
        scale_percent: u32,
        hide_wallpaper: bool,
        windows: Vec<String>,
    ) -> Result<(), JsError> {
        let windows = windows
            .iter()
            .map(|w| session_id(w))
            .collect::<Result<Vec<u64>, JsError>>()?;
        let request = DisplayRequest {
            depth: depth.to_owned(),
            monitor,
            scale_percent,
            hide_wallpaper,
            windows,
        };
        self.with(session, |live| live.set_display(&request))
    }

    /// Asks for a screenshot (answered by a `screenshot_ready` event).
    pub fn request_screenshot(&mut self, session: &str) -> Result<(), JsError> {
        self.with(session, |live| {
            live.request_screenshot();
            Ok(())
        })
    }

    /// The last screenshot's PNG bytes (empty when none is waiting).
    pub fn take_screenshot(&mut self, session: &str) -> Result<Vec<u8>, JsError> {
        let id = session_id(session)?;
        Ok(self
            .console
            .session(id)
            .map_err(js)?
            .take_screenshot()
            .unwrap_or_default())
    }

    /// Starts a pen stroke (framebuffer pixels, "#rrggbb", pen width); returns its id.
    pub fn pen_down(
        &mut self,
        session: &str,
        x: i32,
        y: i32,
        color: &str,
        width: f32,
    ) -> Result<String, JsError> {
        let (id, now) = (session_id(session)?, Instant::now());
        let stroke = self
            .console
            .session(id)
            .map_err(js)?
            .pen_down(x, y, color, width, now);
        self.console.pump(now);
        Ok(stroke.to_string())
    }

    /// Extends a pen stroke.
    pub fn pen_move(&mut self, session: &str, stroke: &str, x: i32, y: i32) -> Result<(), JsError> {
        let (stroke, now) = (session_id(stroke)?, Instant::now());
        self.with(session, |live| {
            live.pen_move(stroke, x, y, now);
            Ok(())
        })
    }

    /// Ends a pen stroke.
    pub fn pen_up(&mut self, session: &str, stroke: &str) -> Result<(), JsError> {
        let (stroke, now) = (session_id(stroke)?, Instant::now());
        self.with(session, |live| {
            live.pen_up(stroke, now);
            Ok(())
        })
    }

    /// A fading laser dot.
    pub fn laser(&mut self, session: &str, x: i32, y: i32, color: &str) -> Result<(), JsError> {
        let now = Instant::now();
        self.with(session, |live| {
            live.laser(x, y, color, now);
            Ok(())
        })
    }

    /// A text label.
    pub fn label(
        &mut self,
        session: &str,
        x: i32,
        y: i32,
        text: &str,
        color: &str,
    ) -> Result<(), JsError> {
        let now = Instant::now();
        self.with(session, |live| {
            live.label(x, y, text, color, now);
            Ok(())
        })
    }

    /// Takes back our last drawing.
    pub fn undo_drawing(&mut self, session: &str) -> Result<(), JsError> {
        let now = Instant::now();
        self.with(session, |live| {
            live.undo_drawing(now);
            Ok(())
        })
    }

    /// Removes every drawing.
    pub fn clear_drawings(&mut self, session: &str) -> Result<(), JsError> {
        let now = Instant::now();
        self.with(session, |live| {
            live.clear_drawings(now);
            Ok(())
        })
    }

    /// The drawings as straight RGBA the size of the screen.
    pub fn overlay_rgba(&mut self, session: &str) -> Result<Vec<u8>, JsError> {
        let id = session_id(session)?;
        Ok(self
            .console
            .session(id)
            .map_err(js)?
            .overlay_rgba(Instant::now()))
    }

    /// Accepts a print job.
    pub fn accept_print(&mut self, session: &str, job: &str) -> Result<(), JsError> {
        let job = session_id(job)?;
        self.with(session, |live| live.accept_print(job))
    }

    /// Declines a print job.
    pub fn decline_print(&mut self, session: &str, job: &str) -> Result<(), JsError> {
        let job = session_id(job)?;
        self.with(session, |live| live.decline_print(job))
    }

    /// A received print document's file name and MIME type.
    pub fn print_document_info(
        &mut self,
        session: &str,
        job: &str,
    ) -> Result<Vec<String>, JsError> {
        let (id, job) = (session_id(session)?, session_id(job)?);
        let live = self.console.session(id).map_err(js)?;
        let (name, mime, _) = live
            .print_document(job)
            .ok_or_else(|| JsError::new("that print job is not here (yet)"))?;
        Ok(vec![name, mime.to_owned()])
    }

    /// A received print document's bytes.
    pub fn print_document(&mut self, session: &str, job: &str) -> Result<Vec<u8>, JsError> {
        let (id, job) = (session_id(session)?, session_id(job)?);
        let live = self.console.session(id).map_err(js)?;
        let (_, _, bytes) = live
            .print_document(job)
            .ok_or_else(|| JsError::new("that print job is not here (yet)"))?;
        Ok(bytes.to_vec())
    }

    /// Forgets a print document.
    pub fn discard_print(&mut self, session: &str, job: &str) -> Result<(), JsError> {
        let job = session_id(job)?;
        self.with(session, |live| {
            live.discard_print(job);
            Ok(())
        })
    }

    /// What changed since the last call, flat: the number of copies `n`;
    /// then `n` copies as src x, src y, dst x, dst y, width, height (replay
    /// them on the canvas, all reading it as it was before any of them);
    /// then rectangles as x, y, width, height to redraw from `rgba_view`.
    pub fn take_changes(&mut self, session: &str) -> Result<Vec<i32>, JsError> {
        let id = session_id(session)?;
        let (copies, rects) = self.console.take_changes(id);
        let int = |v: u32| i32::try_from(v).unwrap_or(0);
        let mut flat = Vec::with_capacity(1 + copies.len() * 6 + rects.len() * 4);
        flat.push(int(copies.len() as u32));
        for c in &copies {
            flat.extend([c.src_x, c.src_y, c.dst_x, c.dst_y, c.width, c.height].map(int));
        }
        for r in &rects {
            flat.extend([r.x, r.y, int(r.width), int(r.height)]);
        }
        Ok(flat)
    }

    /// RGBA pixels of a rectangle of the screen, converted into a buffer
    /// inside WebAssembly memory; returns its address (0: nothing to show).
    /// The page wraps `width * height * 4` bytes there in a
    /// `Uint8ClampedArray` over the module's memory and draws it before
    /// calling the console again (a call may move the buffer).
    pub fn rgba_view(
        &mut self,
        session: &str,
        x: i32,
        y: i32,
        width: u32,
        height: u32,
    ) -> Result<u32, JsError> {
        let id = session_id(session)?;
        if self
            .console
            .rgba_into(id, Rect::new(x, y, width, height), &mut self.scratch)
        {
            // Addresses in wasm32 memory fit in 32 bits.
            Ok(self.scratch.as_ptr() as usize as u32)
        } else {
            Ok(0)
        }
    }

    /// RGBA pixels of a rectangle of the screen, for `ImageData`.
    pub fn rgba(
        &self,
        session: &str,
        x: i32,
        y: i32,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, JsError> {
        let id = session_id(session)?;
        Ok(self.console.rgba(id, Rect::new(x, y, width, height)))
    }

    /// A cursor shape: width, height, hot x, hot y (empty when unknown).
    pub fn cursor_size(&mut self, session: &str, shape_id: &str) -> Result<Vec<u32>, JsError> {
        let (id, shape) = (session_id(session)?, session_id(shape_id)?);
        Ok(self
            .console
            .cursor_image(id, shape)
            .map(|(w, h, hx, hy, _)| vec![w, h, hx, hy])
            .unwrap_or_default())
    }

    /// A cursor shape's straight RGBA pixels (empty when unknown).
    pub fn cursor_rgba(&mut self, session: &str, shape_id: &str) -> Result<Vec<u8>, JsError> {
        let (id, shape) = (session_id(session)?, session_id(shape_id)?);
        Ok(self
            .console
            .cursor_image(id, shape)
            .map(|(.., rgba)| rgba)
            .unwrap_or_default())
    }

    fn with(
        &mut self,
        session: &str,
        act: impl FnOnce(&mut LiveSession) -> Result<(), ConsoleError>,
    ) -> Result<(), JsError> {
        let id = session_id(session)?;
        let result = self.console.session(id).and_then(act);
        self.console.pump(Instant::now());
        result.map_err(js)
    }
}
