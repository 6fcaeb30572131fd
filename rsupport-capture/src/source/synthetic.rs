//! A deterministic scripted desktop: the test double for [`Capturer`].
//!
//! Two monitors side by side (the second offset downwards), a smooth "photo"
//! background, a terminal window that types one character cell per frame and a
//! viewer window that slides back and forth over the background, plus a cursor
//! that moves every frame and changes shape every 40 frames. Every capture
//! advances the script by one tick; the same tick always gives the same pixels,
//! and the dirty rectangles are exactly what the script changed.

use super::mask::{apply_mask, is_kept, visible_parts, StackedWindow};
use super::types::{
    CaptureArea, CaptureError, CursorImage, CursorUpdate, DirtyRegion, MonitorId, MonitorInfo,
    Rect, WindowId, WindowInfo, WindowSelection,
};
use super::{ensure_size, resolve_area, Capturer};
use crate::BgraFrame;

const TITLE_BAR: u32 = 20;
const CELL_W: u32 = 8;
const CELL_H: u32 = 16;
const TERMINAL_OUTER: Rect = Rect::new(20, 20, 344, 226);
const TERMINAL_ID: WindowId = WindowId(1);
const VIEWER_ID: WindowId = WindowId(2);
const VIEWER_SIZE: (u32, u32) = (200, 150);
const CURSOR_SHAPE_TICKS: u64 = 40;

/// The scripted desktop. See the module docs for what it shows.
#[derive(Debug, Clone)]
pub struct SyntheticSource {
    monitors: Vec<MonitorInfo>,
    desktop: Rect,
    area: Rect,
    selection: WindowSelection,
    /// Tick of the next capture.
    tick: u64,
    /// Tick of the previous capture, `None` before the first or after a change
    /// that invalidates the caller's frame.
    shown: Option<u64>,
    cursor_serial_sent: Option<u64>,
    keep: Vec<Rect>,
    spans: Vec<(usize, usize)>,
}

impl Default for SyntheticSource {
    fn default() -> Self {
        SyntheticSource::new()
    }
}

impl SyntheticSource {
    /// The standard scripted desktop: monitor 0 is 640×400 at (0, 0), monitor 1
    /// is 400×300 at (640, 40). The whole virtual desktop is captured.
    pub fn new() -> Self {
        SyntheticSource::with_monitors(vec![
            MonitorInfo::new(MonitorId(0), "SYN-0", Rect::new(0, 0, 640, 400), true),
            MonitorInfo::new(MonitorId(1), "SYN-1", Rect::new(640, 40, 400, 300), false),
        ])
    }

    /// A scripted desktop with the given monitors (the windows stay where the
    /// standard desktop has them; pixels outside every monitor are black).
    pub fn with_monitors(monitors: Vec<MonitorInfo>) -> Self {
        let desktop = monitors
            .iter()
            .fold(Rect::default(), |acc, m| acc.union(&m.rect));
        SyntheticSource {
            monitors,
            desktop,
            area: desktop,
            selection: WindowSelection::Everything,
            tick: 0,
            shown: None,
            cursor_serial_sent: None,
            keep: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// The tick the next capture renders.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The desktop's pixel at `(x, y)` at `tick` (desktop coordinates), without
    /// masking: what a perfect capture of the whole desktop shows.
    pub fn desktop_pixel(&self, tick: u64, x: i32, y: i32) -> [u8; 4] {
        if !self.monitors.iter().any(|m| m.rect.contains(x, y)) {
            return [0, 0, 0, 0xff];
        }
        let scene = Scene::at(tick);
        if let Some(px) = window_pixel(scene.viewer, x, y, viewer_content) {
            return px;
        }
        if let Some(px) = window_pixel(TERMINAL_OUTER, x, y, |cx, cy| {
            terminal_content(cx, cy, scene.typed)
        }) {
            return px;
        }
        background(x, y)
    }

    fn stack(&self, tick: u64) -> [(WindowId, StackedWindow); 2] {
        let scene = Scene::at(tick);
        let shared = |id: WindowId, outer: Rect| match &self.selection {
            WindowSelection::Everything => None,
            WindowSelection::Only(ids) => ids.contains(&id).then(|| client_rect(outer)),
        };
        [
            (
                TERMINAL_ID,
                StackedWindow {
                    outer: TERMINAL_OUTER,
                    shared: shared(TERMINAL_ID, TERMINAL_OUTER),
                },
            ),
            (
                VIEWER_ID,
                StackedWindow {
                    outer: scene.viewer,
                    shared: shared(VIEWER_ID, scene.viewer),
                },
            ),
        ]
    }

    /// What the script changed between `prev` and `tick`, in desktop coordinates.
    fn changes(prev: u64, tick: u64, out: &mut Vec<Rect>) {
        if tick != prev + 1 {
            out.push(Rect::new(i32::MIN / 2, i32::MIN / 2, u32::MAX, u32::MAX));
            return;
        }
        let (a, b) = (Scene::at(prev), Scene::at(tick));
        if a.viewer != b.viewer {
            out.push(a.viewer);
            out.push(b.viewer);
        }
        if b.typed > a.typed {
            for cell in a.typed..b.typed {
                out.push(cell_rect(cell));
            }
        } else if b.typed != a.typed {
            out.push(client_rect(TERMINAL_OUTER)); // screen cleared
        }
    }
}

impl Capturer for SyntheticSource {
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        Ok(self.monitors.clone())
    }

    fn select_area(&mut self, area: CaptureArea) -> Result<Rect, CaptureError> {
        self.area = resolve_area(area, &self.monitors, self.desktop)?;
        self.shown = None;
        Ok(self.area)
    }

    fn area(&self) -> Rect {
        self.area
    }

    fn windows(&mut self) -> Result<Vec<WindowInfo>, CaptureError> {
        let scene = Scene::at(self.tick);
        Ok(vec![
            WindowInfo::new(
                TERMINAL_ID,
                "Terminal",
                "synthetic-terminal",
                client_rect(TERMINAL_OUTER),
                true,
            ),
            WindowInfo::new(
                VIEWER_ID,
                "Photo viewer",
                "synthetic-viewer",
                client_rect(scene.viewer),
                true,
            ),
        ])
    }

    fn select_windows(&mut self, selection: WindowSelection) -> Result<(), CaptureError> {
        self.selection = selection;
        self.shown = None;
        Ok(())
    }

    fn capture(
        &mut self,
        frame: &mut BgraFrame,
        dirty: &mut DirtyRegion,
    ) -> Result<(), CaptureError> {
        let tick = self.tick;
        let area = self.area;
        let resized = ensure_size(frame, area.width, area.height);
        let stride = frame.stride();
        let pixels = frame.pixels_mut();
        for y in 0..area.height {
            let row_start = y as usize * stride;
            let Some(row) = pixels.get_mut(row_start..row_start + stride) else {
                break;
            };
            for (x, px) in row.chunks_exact_mut(4).enumerate() {
                let dx = area.x.saturating_add(x as i32);
                let dy = area.y.saturating_add(y as i32);
                px.copy_from_slice(&self.desktop_pixel(tick, dx, dy));
            }
        }
        self.keep.clear();
        let masking = matches!(self.selection, WindowSelection::Only(_));
        if masking {
            let stack = self.stack(tick).map(|(_, w)| w);
            let mut keep = std::mem::take(&mut self.keep);
            visible_parts(&stack, &mut keep);
            for r in &mut keep {
                *r = r.relative_to(area.x, area.y);
            }
            apply_mask(frame, &keep, &mut self.spans);
            self.keep = keep;
        }

        dirty.clear();
        match self.shown {
            Some(prev) if !resized && !masking => {
                let mut changed = Vec::new();
                SyntheticSource::changes(prev, tick, &mut changed);
                for r in changed {
                    dirty.add(r.relative_to(area.x, area.y), area.width, area.height);
                }
            }
            // Masks move with the windows; report everything rather than track them.
            _ => dirty.set_full(),
        }
        self.shown = Some(tick);
        self.tick += 1;
        Ok(())
    }

    fn poll_cursor(&mut self) -> Result<CursorUpdate, CaptureError> {
        let tick = self.shown.unwrap_or(self.tick);
        let (x, y) = cursor_position(tick, self.desktop);
        let over_shared = match self.selection {
            WindowSelection::Everything => true,
            WindowSelection::Only(_) => {
                let mut keep = Vec::new();
                visible_parts(&self.stack(tick).map(|(_, w)| w), &mut keep);
                is_kept(&keep, x, y)
            }
        };
        let position =
            (over_shared && self.area.contains(x, y)).then(|| (x - self.area.x, y - self.area.y));
        let serial = tick / CURSOR_SHAPE_TICKS + 1;
        let shape = (self.cursor_serial_sent != Some(serial)).then(|| cursor_shape(serial));
        self.cursor_serial_sent = Some(serial);
        Ok(CursorUpdate {
            position,
            desktop_position: (x, y),
            shape,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Scene {
    viewer: Rect,
    typed: u64,
}

impl Scene {
    fn at(tick: u64) -> Scene {
        let cells = u64::from(terminal_cols() * terminal_rows());
        Scene {
            viewer: Rect::new(
                300 + triangle(tick * 5, 500) as i32,
                150,
                VIEWER_SIZE.0,
                VIEWER_SIZE.1 + TITLE_BAR,
            ),
            typed: tick % cells,
        }
    }
}

/// 0, 1, …, period, period-1, …, 0, … (a bouncing position).
fn triangle(t: u64, period: u64) -> u64 {
    let p = t % (2 * period);
    if p <= period {
        p
    } else {
        2 * period - p
    }
}

fn client_rect(outer: Rect) -> Rect {
    Rect::new(
        outer.x,
        outer.y + TITLE_BAR as i32,
        outer.width,
        outer.height.saturating_sub(TITLE_BAR),
    )
}

fn terminal_cols() -> u32 {
    TERMINAL_OUTER.width / CELL_W
}

fn terminal_rows() -> u32 {
    (TERMINAL_OUTER.height - TITLE_BAR) / CELL_H
}

fn cell_rect(cell: u64) -> Rect {
    let cols = u64::from(terminal_cols());
    let client = client_rect(TERMINAL_OUTER);
    Rect::new(
        client.x + ((cell % cols) as u32 * CELL_W) as i32,
        client.y + ((cell / cols) as u32 * CELL_H) as i32,
        CELL_W,
        CELL_H,
    )
}

/// Pixel of a window with a title bar at `outer`, or `None` outside it.
fn window_pixel(
    outer: Rect,
    x: i32,
    y: i32,
    content: impl Fn(u32, u32) -> [u8; 4],
) -> Option<[u8; 4]> {
    if !outer.contains(x, y) {
        return None;
    }
    let (wx, wy) = ((x - outer.x) as u32, (y - outer.y) as u32);
    if wy < TITLE_BAR {
        return Some(if wx + 20 > outer.width && wy > 4 && wy < 16 {
            [0x30, 0x30, 0xd0, 0xff] // close button
        } else {
            [0x90, 0x60, 0x30, 0xff]
        });
    }
    Some(content(wx, wy - TITLE_BAR))
}

fn terminal_content(cx: u32, cy: u32, typed: u64) -> [u8; 4] {
    const BG: [u8; 4] = [0x20, 0x20, 0x20, 0xff];
    let cell = u64::from(cy / CELL_H) * u64::from(terminal_cols()) + u64::from(cx / CELL_W);
    if cx / CELL_W >= terminal_cols() || cell >= typed {
        return BG;
    }
    let (gx, gy) = (cx % CELL_W, cy % CELL_H);
    if !(3..13).contains(&gy) || gx == CELL_W - 1 {
        return BG;
    }
    // A pseudo-glyph: bits of a hash of (cell, row) decide which pixels are lit.
    let h = (cell.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(gy).wrapping_mul(0xbf58_476d))
        .rotate_left(17);
    if (h >> gx) & 1 == 1 {
        [0xd0, 0xd0, 0xd0, 0xff]
    } else {
        BG
    }
}

fn viewer_content(cx: u32, cy: u32) -> [u8; 4] {
    let checker = ((cx / 10) + (cy / 10)) % 2 == 0;
    let b = (cx * 255 / VIEWER_SIZE.0) as u8;
    let g = (cy * 255 / VIEWER_SIZE.1) as u8;
    if checker {
        [b, g, 0xe0, 0xff]
    } else {
        [g, b, 0x40, 0xff]
    }
}

fn background(x: i32, y: i32) -> [u8; 4] {
    // Smooth gradients with a slow ripple: photo-like, never a flat colour.
    let (x, y) = (x.unsigned_abs(), y.unsigned_abs());
    let ripple = ((x / 3 + y / 5) % 32) as u8;
    [
        (x / 4 % 256) as u8 ^ ripple,
        (y / 2 % 256) as u8,
        ((x + y) / 6 % 256) as u8,
        0xff,
    ]
}

fn cursor_position(tick: u64, desktop: Rect) -> (i32, i32) {
    let w = u64::from(desktop.width.max(2) - 1);
    let h = u64::from(desktop.height.max(2) - 1);
    (
        desktop.x + triangle(tick * 9, w) as i32,
        desktop.y + triangle(tick * 4, h) as i32,
    )
}

/// An arrow for odd serials, an I-beam for even ones.
fn cursor_shape(serial: u64) -> CursorImage {
    let (w, h) = if serial % 2 == 1 {
        (12u32, 19u32)
    } else {
        (7, 16)
    };
    let mut bgra = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let inside = if serial % 2 == 1 {
                x <= y && x < w && y < 16 // a triangle
            } else {
                x == 3 || y == 0 || y == h - 1 // an I-beam
            };
            bgra.extend_from_slice(if inside {
                &[0, 0, 0, 0xff]
            } else {
                &[0, 0, 0, 0]
            });
        }
    }
    let (hx, hy) = if serial % 2 == 1 { (0, 0) } else { (3, 8) };
    CursorImage::new(w, h, hx, hy, serial, bgra).unwrap_or_else(|| CursorImage {
        width: 0,
        height: 0,
        hot_x: 0,
        hot_y: 0,
        serial,
        bgra: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(src: &mut SyntheticSource, frame: &mut BgraFrame) -> DirtyRegion {
        let mut dirty = DirtyRegion::new();
        src.capture(frame, &mut dirty).unwrap();
        dirty
    }

    #[test]
    fn same_tick_same_pixels_and_monitor_offsets() {
        let mut a = SyntheticSource::new();
        let mut b = SyntheticSource::new();
        let (mut fa, mut fb) = (
            BgraFrame::filled(0, 0, [0; 4]),
            BgraFrame::filled(0, 0, [0; 4]),
        );
        for _ in 0..3 {
            capture(&mut a, &mut fa);
            capture(&mut b, &mut fb);
        }
        assert_eq!(fa, fb);
        b.select_area(CaptureArea::Monitor(MonitorId(1))).unwrap();
        let mut one = BgraFrame::filled(0, 0, [0; 4]);
        capture(&mut b, &mut one);
        assert_eq!((one.width(), one.height()), (400, 300));
        // Monitor 1 starts at (640, 40) on the desktop.
        assert_eq!(one.pixel(5, 7), Some(b.desktop_pixel(3, 645, 47)));
    }

    #[test]
    fn dirty_rects_cover_every_changed_pixel() {
        let mut src = SyntheticSource::new();
        let mut frame = BgraFrame::filled(0, 0, [0; 4]);
        assert!(capture(&mut src, &mut frame).is_full());
        let mut changed_total = 0;
        for _ in 0..60 {
            let before = frame.clone();
            let dirty = capture(&mut src, &mut frame);
            assert!(!dirty.is_full());
            for y in 0..frame.height() {
                for x in 0..frame.width() {
                    if before.pixel(x, y) != frame.pixel(x, y) {
                        changed_total += 1;
                        assert!(
                            dirty.rects().iter().any(|r| r.contains(x as i32, y as i32)),
                            "pixel {x},{y} changed outside the dirty rects"
                        );
                    }
                }
            }
        }
        assert!(changed_total > 0, "the script must change something");
    }

    #[test]
    fn selection_masks_other_windows_and_background() {
        let mut src = SyntheticSource::new();
        src.select_windows(WindowSelection::Only(vec![TERMINAL_ID]))
            .unwrap();
        let mut frame = BgraFrame::filled(0, 0, [0; 4]);
        capture(&mut src, &mut frame);
        let term = client_rect(TERMINAL_OUTER);
        // Inside the terminal: real content; background and title bar: mask.
        assert_eq!(
            frame.pixel(term.x as u32 + 1, term.y as u32 + 1),
            Some(src.desktop_pixel(0, term.x + 1, term.y + 1))
        );
        assert_eq!(frame.pixel(600, 390), Some(super::super::MASK_BGRA));
        assert_eq!(frame.pixel(30, 25), Some(super::super::MASK_BGRA));
        let viewer = Scene::at(0).viewer;
        assert_eq!(
            frame.pixel(viewer.x as u32 + 50, viewer.y as u32 + 50),
            Some(super::super::MASK_BGRA)
        );
    }

    #[test]
    fn cursor_moves_and_shape_is_sent_once_per_change() {
        let mut src = SyntheticSource::new();
        let mut frame = BgraFrame::filled(0, 0, [0; 4]);
        capture(&mut src, &mut frame);
        let first = src.poll_cursor().unwrap();
        assert!(first.shape.is_some());
        capture(&mut src, &mut frame);
        let second = src.poll_cursor().unwrap();
        assert!(second.shape.is_none());
        assert_ne!(first.desktop_position, second.desktop_position);
        for _ in 0..CURSOR_SHAPE_TICKS {
            capture(&mut src, &mut frame);
        }
        let later = src.poll_cursor().unwrap();
        assert_eq!(later.shape.map(|s| s.serial), Some(2));
    }
}
