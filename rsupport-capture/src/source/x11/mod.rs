//! X11 capture over one persistent x11rb connection (pure Rust, no libxcb).
//!
//! * Pixels: MIT-SHM `GetImage` into a memfd shared with the server; plain core
//!   `GetImage` when SHM is unavailable (remote display, old server).
//! * Monitors: RandR 1.5 `GetMonitors`; the whole screen when RandR is missing.
//! * Dirty regions: a DAMAGE object on the root, drained into an XFIXES region
//!   each frame (`DamageSubtract` + `FetchRegion`, pipelined with the image).
//! * Cursor: XFIXES `GetCursorImage` when a `CursorNotify` says the shape changed,
//!   `QueryPointer` for the position.
//!
//! Supported pixel format: 24/32-bit TrueColor, 32 bits per pixel, LSB first
//! (every X server on x86/ARM). Anything else is refused with
//! [`CaptureError::UnsupportedFormat`].

mod shm;
mod wallpaper;
mod windows;

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConnectionExt as _, EventMask, ImageFormat, ImageOrder, Window,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

use super::mask::{apply_mask, is_kept, visible_parts, StackedWindow};
use super::types::{
    CaptureArea, CaptureError, CursorImage, CursorUpdate, DirtyRegion, MonitorId, MonitorInfo,
    Rect, WindowInfo, WindowSelection,
};
use super::{ensure_size, resolve_area, Capturer};
use crate::BgraFrame;
use shm::ShmSegment;

pub use wallpaper::X11Wallpaper;

x11rb::atom_manager! {
    /// Atoms the X11 backend looks up once per connection.
    pub(crate) Atoms: AtomsCookie {
        net_client_list: &b"_NET_CLIENT_LIST"[..],
        net_wm_name: &b"_NET_WM_NAME"[..],
        utf8_string: &b"UTF8_STRING"[..],
        xrootpmap_id: &b"_XROOTPMAP_ID"[..],
        esetroot_pmap_id: &b"ESETROOT_PMAP_ID"[..],
    }
}

/// Maps any x11rb error to a backend error (no foreign types in public variants).
pub(crate) fn backend(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Backend(e.to_string())
}

/// How pixels get from the X server to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureMethod {
    /// MIT-SHM: the server writes into shared memory.
    Shm,
    /// Core `GetImage`: pixels travel through the socket (the slow fallback).
    GetImage,
}

/// A persistent connection to an X server that captures the screen.
///
/// ```no_run
/// use rsupport_capture::source::{Capturer, DirtyRegion, X11Capturer};
/// use rsupport_capture::BgraFrame;
/// let mut cap = X11Capturer::connect(None)?; // $DISPLAY
/// let mut frame = BgraFrame::filled(0, 0, [0; 4]);
/// let mut dirty = DirtyRegion::new();
/// cap.capture(&mut frame, &mut dirty)?;
/// # Ok::<(), rsupport_capture::source::CaptureError>(())
/// ```
pub struct X11Capturer {
    conn: RustConnection,
    root: Window,
    screen: Rect,
    area: Rect,
    method: CaptureMethod,
    shm: Option<ShmSegment>,
    /// DAMAGE object on the root and the XFIXES region its damage is moved into.
    damage: Option<(damage::Damage, xfixes::Region)>,
    has_xfixes: bool,
    has_randr_monitors: bool,
    atoms: Atoms,
    selection: WindowSelection,
    /// The next capture must report the whole frame (area or mask changed).
    force_full: bool,
    cursor_changed: bool,
    cursor_serial_sent: Option<u32>,
    stack: Vec<StackedWindow>,
    keep_desktop: Vec<Rect>,
    keep_frame: Vec<Rect>,
    keep_prev: Vec<Rect>,
    /// Damage of the current capture in frame coordinates (scratch).
    damaged: Vec<Rect>,
    incremental: bool,
    spans: Vec<(usize, usize)>,
}

impl std::fmt::Debug for X11Capturer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Capturer")
            .field("root", &self.root)
            .field("area", &self.area)
            .field("method", &self.method)
            .field("damage", &self.damage.is_some())
            .finish_non_exhaustive()
    }
}

impl X11Capturer {
    /// Connects to `display` (`None`: `$DISPLAY`) and uses MIT-SHM when the server
    /// offers it, `GetImage` otherwise. Captures the whole screen until
    /// [`select_area`](Capturer::select_area) says otherwise.
    pub fn connect(display: Option<&str>) -> Result<Self, CaptureError> {
        X11Capturer::connect_with(display, CaptureMethod::Shm)
    }

    /// As [`connect`](Self::connect) with a preferred method: `Shm` still falls
    /// back to `GetImage` when SHM cannot be set up; `GetImage` never uses SHM
    /// (the baseline benchmarks compare against).
    pub fn connect_with(
        display: Option<&str>,
        prefer: CaptureMethod,
    ) -> Result<Self, CaptureError> {
        let (conn, screen_num) =
            x11rb::connect(display).map_err(|e| CaptureError::Connect(e.to_string()))?;
        let setup = conn.setup();
        let screen = setup
            .roots
            .get(screen_num)
            .ok_or_else(|| CaptureError::Connect(format!("no screen {screen_num}")))?;
        check_format(setup, screen)?;
        let root = screen.root;
        let screen_rect = Rect::new(
            0,
            0,
            u32::from(screen.width_in_pixels),
            u32::from(screen.height_in_pixels),
        );
        let atoms = Atoms::new(&conn)
            .map_err(backend)?
            .reply()
            .map_err(backend)?;

        let has_xfixes = extension_present(&conn, xfixes::X11_EXTENSION_NAME)
            && conn
                .xfixes_query_version(5, 0)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some();
        // Root ConfigureNotify tells us when RandR resizes the screen.
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(EventMask::STRUCTURE_NOTIFY),
        )
        .map_err(backend)?;
        if has_xfixes {
            conn.xfixes_select_cursor_input(root, xfixes::CursorNotifyMask::DISPLAY_CURSOR)
                .map_err(backend)?;
        }
        let damage = if has_xfixes && extension_present(&conn, damage::X11_EXTENSION_NAME) {
            setup_damage(&conn, root).ok()
        } else {
            None
        };
        let has_randr_monitors = extension_present(&conn, randr::X11_EXTENSION_NAME)
            && conn
                .randr_query_version(1, 5)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|v| (v.major_version, v.minor_version) >= (1, 5));

        let mut cap = X11Capturer {
            conn,
            root,
            screen: screen_rect,
            area: screen_rect,
            method: CaptureMethod::GetImage,
            shm: None,
            damage,
            has_xfixes,
            has_randr_monitors,
            atoms,
            selection: WindowSelection::Everything,
            force_full: true,
            cursor_changed: true,
            cursor_serial_sent: None,
            stack: Vec::new(),
            keep_desktop: Vec::new(),
            keep_frame: Vec::new(),
            keep_prev: Vec::new(),
            damaged: Vec::new(),
            incremental: false,
            spans: Vec::new(),
        };
        if prefer == CaptureMethod::Shm && extension_present(&cap.conn, "MIT-SHM") {
            let shm_ok = cap
                .conn
                .shm_query_version()
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|v| (v.major_version, v.minor_version) >= (1, 2));
            if shm_ok {
                if let Ok(seg) = ShmSegment::create(&cap.conn, area_bytes(screen_rect)) {
                    cap.shm = Some(seg);
                    cap.method = CaptureMethod::Shm;
                }
            }
        }
        Ok(cap)
    }

    /// Incremental mode: when DAMAGE is available, a capture copies only the
    /// damaged rectangles into `frame`, and none at all (no image request either)
    /// when nothing changed. An idle or mostly idle screen then costs almost nothing.
    ///
    /// Only for callers that pass the *same* frame to every capture and never
    /// change its pixels in between (an encoder that reads the frame, say): any
    /// other frame would keep stale pixels. Ignored while application selection
    /// is active (masking needs the whole frame each time). Off by default.
    pub fn set_incremental(&mut self, on: bool) {
        self.incremental = on;
        self.force_full = true;
    }

    /// The method in use.
    pub fn method(&self) -> CaptureMethod {
        self.method
    }

    /// True when dirty regions come from DAMAGE (otherwise every frame is full).
    pub fn has_damage(&self) -> bool {
        self.damage.is_some()
    }

    /// The size of the X screen (the virtual desktop).
    pub fn screen(&self) -> Rect {
        self.screen
    }

    /// Reads queued events: cursor shape changes (DAMAGE notifications need no
    /// handling, the damage region is read each frame). Keeps the event queue from
    /// growing when nobody else reads it.
    fn drain_events(&mut self) -> Result<(), CaptureError> {
        while let Some(event) = self.conn.poll_for_event().map_err(backend)? {
            match event {
                Event::XfixesCursorNotify(_) => self.cursor_changed = true,
                Event::ConfigureNotify(e) if e.window == self.root => {
                    let screen = Rect::new(0, 0, u32::from(e.width), u32::from(e.height));
                    if screen != self.screen {
                        self.screen = screen;
                        // Keep what is still on screen; a vanished area falls back
                        // to the whole screen rather than failing every capture.
                        self.area = self.area.intersect(&screen).unwrap_or(screen);
                        self.force_full = true;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn capture_pixels(
        &mut self,
        frame: &mut BgraFrame,
        dirty: &mut DirtyRegion,
        incremental: bool,
    ) -> Result<(), CaptureError> {
        let area = self.area;
        let (x, y) = (to_i16(area.x)?, to_i16(area.y)?);
        let (w, h) = (to_u16(area.width)?, to_u16(area.height)?);
        let bytes = area_bytes(area);

        if self.method == CaptureMethod::Shm && self.shm.as_ref().is_some_and(|s| s.len() < bytes) {
            if let Some(old) = self.shm.take() {
                old.detach(&self.conn);
            }
            self.shm = Some(ShmSegment::create(&self.conn, bytes)?);
        }

        // Take the damage first: whatever is drawn after this shows up next frame.
        let damage_cookie = match self.damage {
            Some((dmg, region)) => {
                self.conn
                    .damage_subtract(dmg, x11rb::NONE, region)
                    .map_err(backend)?;
                Some(self.conn.xfixes_fetch_region(region).map_err(backend)?)
            }
            None => None,
        };
        let incremental = incremental && damage_cookie.is_some() && !dirty.is_full();
        self.damaged.clear();
        if let Some(cookie) = damage_cookie {
            // In incremental mode this costs a round trip before the image request,
            // which pays for itself: an idle screen needs no image at all.
            let region = cookie.reply().map_err(backend)?;
            let bounds = Rect::new(0, 0, area.width, area.height);
            for r in region.rectangles {
                let r = Rect::new(
                    i32::from(r.x),
                    i32::from(r.y),
                    u32::from(r.width),
                    u32::from(r.height),
                );
                if let Some(r) = r.relative_to(area.x, area.y).intersect(&bounds) {
                    self.damaged.push(r);
                }
            }
            for r in &self.damaged {
                dirty.add(*r, area.width, area.height);
            }
        } else {
            dirty.set_full();
        }
        if incremental && self.damaged.is_empty() {
            return Ok(()); // nothing changed: the caller's frame is already right
        }
        if incremental && self.method == CaptureMethod::Shm && self.fetch_damaged_only(frame)? {
            return Ok(());
        }

        let stride = area.width as usize * 4;
        let copy = |src: &[u8], frame: &mut BgraFrame| {
            if incremental {
                for r in &self.damaged {
                    copy_rect(frame.pixels_mut(), src, stride, *r);
                }
            } else {
                copy_opaque(frame.pixels_mut(), src);
            }
        };
        match (&self.shm, self.method) {
            (Some(seg), CaptureMethod::Shm) => {
                self.conn
                    .shm_get_image(
                        self.root,
                        x,
                        y,
                        w,
                        h,
                        !0,
                        ImageFormat::Z_PIXMAP.into(),
                        seg.seg(),
                        0,
                    )
                    .map_err(backend)?
                    .reply()
                    .map_err(backend)?;
                let src = seg
                    .bytes(bytes)
                    .ok_or_else(|| CaptureError::Backend("SHM segment too small".into()))?;
                copy(src, frame);
            }
            _ => {
                let reply = self
                    .conn
                    .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, w, h, !0)
                    .map_err(backend)?
                    .reply()
                    .map_err(backend)?;
                if reply.data.len() < bytes {
                    return Err(CaptureError::UnsupportedFormat(format!(
                        "GetImage returned {} bytes for {bytes}",
                        reply.data.len()
                    )));
                }
                copy(&reply.data, frame);
            }
        }
        Ok(())
    }

    /// Incremental SHM path for a few damaged rectangles: one `shm::GetImage` per
    /// rectangle, packed one after another in the segment, so the server copies
    /// only what changed. Returns false (nothing done) when the rectangles are
    /// too many or too large for the segment; the caller then fetches the area.
    fn fetch_damaged_only(&self, frame: &mut BgraFrame) -> Result<bool, CaptureError> {
        const MAX_RECTS: usize = 32;
        let Some(seg) = &self.shm else {
            return Ok(false);
        };
        let total: usize = self.damaged.iter().map(|r| r.area() as usize * 4).sum();
        if self.damaged.len() > MAX_RECTS || total > seg.len() || total > area_bytes(self.area) / 2
        {
            return Ok(false);
        }
        let mut cookies = Vec::with_capacity(self.damaged.len());
        let mut offset = 0usize;
        for r in &self.damaged {
            let cookie = self
                .conn
                .shm_get_image(
                    self.root,
                    to_i16(self.area.x + r.x)?,
                    to_i16(self.area.y + r.y)?,
                    to_u16(r.width)?,
                    to_u16(r.height)?,
                    !0,
                    ImageFormat::Z_PIXMAP.into(),
                    seg.seg(),
                    u32::try_from(offset).map_err(backend)?,
                )
                .map_err(backend)?;
            cookies.push(cookie);
            offset += r.area() as usize * 4;
        }
        for cookie in cookies {
            cookie.reply().map_err(backend)?;
        }
        let packed = seg
            .bytes(total)
            .ok_or_else(|| CaptureError::Backend("SHM segment too small".into()))?;
        let stride = frame.stride();
        let mut offset = 0usize;
        for r in &self.damaged {
            let row_bytes = r.width as usize * 4;
            for (i, src) in packed
                .get(offset..offset + r.area() as usize * 4)
                .unwrap_or_default()
                .chunks_exact(row_bytes.max(4))
                .enumerate()
            {
                let start = (r.y as usize + i) * stride + r.x as usize * 4;
                if let Some(dst) = frame.pixels_mut().get_mut(start..start + row_bytes) {
                    copy_opaque(dst, src);
                }
            }
            offset += r.area() as usize * 4;
        }
        Ok(true)
    }

    fn update_mask(&mut self) -> Result<(), CaptureError> {
        self.keep_desktop.clear();
        if let WindowSelection::Only(ids) = &self.selection {
            windows::masking_stack(&self.conn, self.root, ids, &mut self.stack)?;
            visible_parts(&self.stack, &mut self.keep_desktop);
        }
        Ok(())
    }
}

impl Capturer for X11Capturer {
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        let whole = || vec![MonitorInfo::new(MonitorId(0), "screen", self.screen, true)];
        if !self.has_randr_monitors {
            return Ok(whole());
        }
        let reply = self
            .conn
            .randr_get_monitors(self.root, true)
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        let names: Vec<_> = reply
            .monitors
            .iter()
            .map(|m| self.conn.get_atom_name(m.name))
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        let mut out = Vec::with_capacity(reply.monitors.len());
        for (m, name) in reply.monitors.iter().zip(names) {
            let name = name
                .reply()
                .map(|n| String::from_utf8_lossy(&n.name).into_owned())
                .unwrap_or_default();
            out.push(MonitorInfo::new(
                MonitorId(u64::from(m.name)),
                name,
                Rect::new(
                    i32::from(m.x),
                    i32::from(m.y),
                    u32::from(m.width),
                    u32::from(m.height),
                ),
                m.primary,
            ));
        }
        if out.is_empty() {
            return Ok(whole());
        }
        Ok(out)
    }

    fn select_area(&mut self, area: CaptureArea) -> Result<Rect, CaptureError> {
        let monitors = match area {
            CaptureArea::Monitor(_) => self.monitors()?,
            _ => Vec::new(),
        };
        self.area = resolve_area(area, &monitors, self.screen)?;
        self.force_full = true;
        Ok(self.area)
    }

    fn area(&self) -> Rect {
        self.area
    }

    fn windows(&mut self) -> Result<Vec<WindowInfo>, CaptureError> {
        windows::list(&self.conn, self.root, &self.atoms)
    }

    fn select_windows(&mut self, selection: WindowSelection) -> Result<(), CaptureError> {
        self.selection = selection;
        self.force_full = true;
        Ok(())
    }

    fn capture(
        &mut self,
        frame: &mut BgraFrame,
        dirty: &mut DirtyRegion,
    ) -> Result<(), CaptureError> {
        self.drain_events()?;
        let resized = ensure_size(frame, self.area.width, self.area.height);
        dirty.clear();
        if resized || self.force_full {
            dirty.set_full();
        }
        let masking = matches!(self.selection, WindowSelection::Only(_));
        if masking {
            // Hold the server still between reading the window stack and reading
            // the pixels: otherwise a window moving in between could leave an
            // unselected window's pixels outside the mask for a frame.
            self.conn.grab_server().map_err(backend)?;
            let result = self
                .update_mask()
                .and_then(|()| self.capture_pixels(frame, dirty, false));
            self.conn.ungrab_server().map_err(backend)?;
            self.conn.flush().map_err(backend)?;
            result?;
            std::mem::swap(&mut self.keep_frame, &mut self.keep_prev);
            self.keep_frame.clear();
            let (ax, ay) = (self.area.x, self.area.y);
            self.keep_frame
                .extend(self.keep_desktop.iter().map(|r| r.relative_to(ax, ay)));
            apply_mask(frame, &self.keep_frame, &mut self.spans);
            // Pixels whose masking changed (a window moved or was uncovered) are
            // inside the old or the new keep set.
            if self.keep_frame != self.keep_prev {
                for r in self.keep_prev.iter().chain(&self.keep_frame) {
                    dirty.add(*r, self.area.width, self.area.height);
                }
            }
        } else {
            let incremental = self.incremental;
            self.capture_pixels(frame, dirty, incremental)?;
            self.keep_desktop.clear();
            self.keep_frame.clear();
        }
        self.force_full = false;
        Ok(())
    }

    fn poll_cursor(&mut self) -> Result<CursorUpdate, CaptureError> {
        self.drain_events()?;
        let pointer = self
            .conn
            .query_pointer(self.root)
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        let (x, y) = (i32::from(pointer.root_x), i32::from(pointer.root_y));
        let shared = match self.selection {
            WindowSelection::Everything => true,
            WindowSelection::Only(_) => is_kept(&self.keep_desktop, x, y),
        };
        let position =
            (shared && self.area.contains(x, y)).then(|| (x - self.area.x, y - self.area.y));

        let mut shape = None;
        if self.has_xfixes && self.cursor_changed {
            self.cursor_changed = false;
            let img = self
                .conn
                .xfixes_get_cursor_image()
                .map_err(backend)?
                .reply()
                .map_err(backend)?;
            if self.cursor_serial_sent != Some(img.cursor_serial) {
                self.cursor_serial_sent = Some(img.cursor_serial);
                // XFIXES packs each pixel as ARGB in a u32; little-endian bytes are BGRA.
                let bgra = img
                    .cursor_image
                    .iter()
                    .flat_map(|p| p.to_le_bytes())
                    .collect();
                shape = CursorImage::new(
                    u32::from(img.width),
                    u32::from(img.height),
                    u32::from(img.xhot),
                    u32::from(img.yhot),
                    u64::from(img.cursor_serial),
                    bgra,
                );
            }
        }
        Ok(CursorUpdate {
            position,
            desktop_position: (x, y),
            shape,
        })
    }
}

impl Drop for X11Capturer {
    fn drop(&mut self) {
        if let Some(seg) = self.shm.take() {
            seg.detach(&self.conn);
        }
        if let Some((dmg, region)) = self.damage.take() {
            let _ = self.conn.damage_destroy(dmg);
            let _ = self.conn.xfixes_destroy_region(region);
        }
        let _ = self.conn.flush();
    }
}

fn extension_present(conn: &RustConnection, name: &'static str) -> bool {
    conn.extension_information(name).ok().flatten().is_some()
}

fn setup_damage(
    conn: &RustConnection,
    root: Window,
) -> Result<(damage::Damage, xfixes::Region), CaptureError> {
    conn.damage_query_version(1, 1)
        .map_err(backend)?
        .reply()
        .map_err(backend)?;
    let region = conn.generate_id().map_err(backend)?;
    conn.xfixes_create_region(region, &[]).map_err(backend)?;
    let dmg = conn.generate_id().map_err(backend)?;
    // NonEmpty: one event when damage appears; the region itself is read per frame.
    conn.damage_create(dmg, root, damage::ReportLevel::NON_EMPTY)
        .map_err(backend)?
        .check()
        .map_err(backend)?;
    Ok((dmg, region))
}

fn check_format(
    setup: &x11rb::protocol::xproto::Setup,
    screen: &x11rb::protocol::xproto::Screen,
) -> Result<(), CaptureError> {
    let bpp = setup
        .pixmap_formats
        .iter()
        .find(|f| f.depth == screen.root_depth)
        .map(|f| f.bits_per_pixel);
    let visual = screen
        .allowed_depths
        .iter()
        .flat_map(|d| d.visuals.iter())
        .find(|v| v.visual_id == screen.root_visual);
    let masks_ok = visual.is_some_and(|v| {
        (v.red_mask, v.green_mask, v.blue_mask) == (0x00ff_0000, 0x0000_ff00, 0x0000_00ff)
    });
    if bpp != Some(32) || setup.image_byte_order != ImageOrder::LSB_FIRST || !masks_ok {
        return Err(CaptureError::UnsupportedFormat(format!(
            "depth {} with {bpp:?} bits per pixel, byte order {:?}",
            screen.root_depth, setup.image_byte_order
        )));
    }
    Ok(())
}

fn area_bytes(r: Rect) -> usize {
    r.width as usize * r.height as usize * 4
}

fn to_i16(v: i32) -> Result<i16, CaptureError> {
    i16::try_from(v).map_err(|_| CaptureError::Backend(format!("coordinate {v} out of X11 range")))
}

fn to_u16(v: u32) -> Result<u16, CaptureError> {
    u16::try_from(v).map_err(|_| CaptureError::Backend(format!("size {v} out of X11 range")))
}

/// Copies X pixels (BGRX: the fourth byte is padding, often 0) and makes every
/// pixel opaque, so frames from every backend carry alpha 255.
fn copy_opaque(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
        let v = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) | 0xff00_0000;
        d.copy_from_slice(&v.to_le_bytes());
    }
}

/// Copies one rectangle (frame coordinates, inside the frame) of a packed
/// BGRX image with `stride` bytes per row, making it opaque.
fn copy_rect(dst: &mut [u8], src: &[u8], stride: usize, r: Rect) {
    let (x0, w) = (r.x.max(0) as usize * 4, r.width as usize * 4);
    for y in r.y.max(0) as usize..(r.y.max(0) as usize + r.height as usize) {
        let range = y * stride + x0..y * stride + x0 + w;
        if let (Some(d), Some(s)) = (dst.get_mut(range.clone()), src.get(range)) {
            copy_opaque(d, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rect_touches_only_the_rectangle() {
        let src: Vec<u8> = (0..4 * 4 * 3).map(|i| i as u8).collect(); // 4x3
        let mut dst = vec![0u8; src.len()];
        copy_rect(&mut dst, &src, 16, Rect::new(1, 1, 2, 1));
        for (i, (d, s)) in dst.iter().zip(&src).enumerate() {
            let (px, py) = (i / 4 % 4, i / 16);
            let inside = (1..3).contains(&px) && py == 1;
            let want = if !inside {
                0
            } else if i % 4 == 3 {
                255
            } else {
                *s
            };
            assert_eq!(*d, want, "byte {i}");
        }
    }

    #[test]
    fn copy_opaque_sets_alpha_only() {
        let src = [1, 2, 3, 0, 4, 5, 6, 7];
        let mut dst = [0u8; 8];
        copy_opaque(&mut dst, &src);
        assert_eq!(dst, [1, 2, 3, 255, 4, 5, 6, 255]);
    }
}
