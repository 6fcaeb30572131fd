//! Deterministic synthetic screen sequences for tests, benches and demos.
//!
//! Each [`Scenario`] models a workload a remote-support session sees; the
//! same scenario, size and seed always produce the same frames (integer
//! arithmetic only, no floating point, no clock, no global RNG).
//!
//! | scenario | what changes per frame |
//! |---|---|
//! | [`Scenario::Typing`] | one character typed into an editor, caret moves |
//! | [`Scenario::Scrolling`] | a long document (text and pictures) scrolls 24 px; scrollbar thumb moves |
//! | [`Scenario::WindowDrag`] | a 720×480 window moves 6 px right and 3 px down over a busy wallpaper |
//! | [`Scenario::Video`] | a 640×360 video region shows new photo-like content |

use crate::source::{DirtyRegion, Rect};
use crate::BgraFrame;

/// A workload to synthesise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scenario {
    /// Typing into a text editor.
    Typing,
    /// Scrolling a long document.
    Scrolling,
    /// Dragging a window over a busy wallpaper.
    WindowDrag,
    /// A video playing in part of the screen.
    Video,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: &'static [Scenario] = &[
        Scenario::Typing,
        Scenario::Scrolling,
        Scenario::WindowDrag,
        Scenario::Video,
    ];

    /// Short name (`typing`, `scrolling`, `window-drag`, `video`).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Typing => "typing",
            Scenario::Scrolling => "scrolling",
            Scenario::WindowDrag => "window-drag",
            Scenario::Video => "video",
        }
    }

    /// The scenario with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.iter().copied().find(|s| s.name() == name)
    }
}

/// A stream of frames of one scenario.
#[derive(Debug, Clone)]
pub struct Sequence {
    scenario: Scenario,
    seed: u64,
    index: u64,
    canvas: BgraFrame,
    /// Typing: caret column and line. Drag: window position. Scrolling: offset.
    state: (i64, i64),
    damage: DirtyRegion,
}

const WHITE: [u8; 4] = [255, 255, 255, 255];
const INK: [u8; 4] = [40, 30, 30, 255];
const CELL_W: usize = 9;
const CELL_H: usize = 18;
const WIN_W: usize = 720;
const WIN_H: usize = 480;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fill(f: &mut BgraFrame, x: usize, y: usize, w: usize, h: usize, c: [u8; 4]) {
    let (fw, fh) = (f.width() as usize, f.height() as usize);
    let (x1, y1) = ((x + w).min(fw), (y + h).min(fh));
    let stride = f.stride();
    let px = f.pixels_mut();
    for yy in y.min(y1)..y1 {
        for p in px[yy * stride + x.min(x1) * 4..yy * stride + x1 * 4].chunks_exact_mut(4) {
            p.copy_from_slice(&c);
        }
    }
}

fn put(f: &mut BgraFrame, x: usize, y: usize, c: [u8; 4]) {
    if x < f.width() as usize && y < f.height() as usize {
        let i = y * f.stride() + x * 4;
        f.pixels_mut()[i..i + 4].copy_from_slice(&c);
    }
}

/// Draws a pseudo-glyph (a 7×12 bit pattern chosen by `code`) with a lighter
/// anti-aliasing fringe, the way rendered text looks to a codec.
fn glyph(f: &mut BgraFrame, x: usize, y: usize, code: u64, ink: [u8; 4], bg: [u8; 4]) {
    let bits = mix(code.wrapping_add(0x5151));
    let fringe = [
        ((u16::from(ink[0]) + u16::from(bg[0])) / 2) as u8,
        ((u16::from(ink[1]) + u16::from(bg[1])) / 2) as u8,
        ((u16::from(ink[2]) + u16::from(bg[2])) / 2) as u8,
        255,
    ];
    for r in 0..12usize {
        // Three bits per row pick a stroke shape: glyph-like, not noise.
        let shape = (bits >> ((r % 21) * 3)) & 7;
        let cols: &[usize] = match shape {
            0 => &[0, 1, 5, 6],
            1 => &[1, 2, 3, 4, 5],
            2 => &[0, 6],
            3 => &[3],
            4 => &[0, 1, 2, 3, 4, 5, 6],
            5 => &[0, 3, 6],
            6 => &[5, 6],
            _ => &[1, 2],
        };
        for &c in cols {
            put(f, x + c, y + 3 + r, ink);
        }
        if let Some(&last) = cols.last() {
            put(f, x + last + 1, y + 3 + r, fringe);
        }
    }
}

/// Character code at `(line, col)` of a document: words of 2–9 letters.
fn text_char(seed: u64, line: u64, col: u64) -> Option<u64> {
    let h = mix(seed ^ line.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let len = 20 + (h % 140);
    if col >= len || (mix(h ^ (col / 7)) % 7 == col % 7 && col % 7 != 0) {
        return None; // past the line end, or a space
    }
    Some(mix(h ^ col) % 60)
}

/// A busy, photo-like wallpaper: overlapping gradients, diagonal bands and
/// low-amplitude noise.
fn wallpaper(seed: u64, x: usize, y: usize) -> [u8; 4] {
    let tri = |v: usize, p: usize| -> u8 {
        let m = v % (2 * p);
        ((if m < p { m } else { 2 * p - m }) * 255 / p) as u8
    };
    let n = mix(seed ^ ((y as u64) << 32) ^ x as u64);
    let noise = |k: u32| ((n >> k) & 7) as u8;
    [
        tri(x * 3 + y, 512) / 2 + 40 + noise(0),
        tri(x + y * 2 + 200, 384) / 3 + 60 + noise(8),
        tri(x * 2 + 3 * y + 1000, 640) / 2 + 50 + noise(16),
        255,
    ]
}

impl Sequence {
    /// A sequence of `width` × `height` frames (at least 800 × 600 gives the
    /// intended layouts; smaller sizes are clipped).
    pub fn new(scenario: Scenario, width: u32, height: u32, seed: u64) -> Sequence {
        let mut s = Sequence {
            scenario,
            seed,
            index: 0,
            canvas: BgraFrame::filled(width, height, WHITE),
            state: (0, 0),
            damage: DirtyRegion::new(),
        };
        s.draw_base();
        s
    }

    /// The scenario.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// Frames produced so far.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The next frame (the first call returns the starting screen).
    pub fn next_frame(&mut self) -> BgraFrame {
        self.damage.clear();
        if self.index == 0 {
            self.damage.set_full();
        } else {
            match self.scenario {
                Scenario::Typing => self.type_char(),
                Scenario::Scrolling => {
                    self.state.0 += 24;
                    self.mark(250, 40, usize::MAX, usize::MAX);
                    self.draw_document();
                }
                Scenario::WindowDrag => self.drag(),
                Scenario::Video => self.draw_video(),
            }
        }
        self.index += 1;
        self.canvas.clone()
    }

    /// What changed between the previous frame and the last one returned
    /// (full for the first frame), as a capture source with damage
    /// reporting would say.
    pub fn damage(&self) -> &DirtyRegion {
        &self.damage
    }

    /// Records a changed rectangle (clipped to the frame).
    fn mark(&mut self, x: usize, y: usize, w: usize, h: usize) {
        let (fw, fh) = (self.canvas.width(), self.canvas.height());
        let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        let rect = Rect::new(
            clamp(x).min(fw) as i32,
            clamp(y).min(fh) as i32,
            clamp(w).min(fw),
            clamp(h).min(fh),
        );
        self.damage.add(rect, fw, fh);
    }

    fn size(&self) -> (usize, usize) {
        (self.canvas.width() as usize, self.canvas.height() as usize)
    }

    fn draw_base(&mut self) {
        let (w, h) = self.size();
        match self.scenario {
            Scenario::Typing => {
                self.draw_chrome();
                // 30 lines of existing text; typing continues after them.
                for line in 0..30u64 {
                    self.draw_text_line(
                        60,
                        60 + line as usize * CELL_H,
                        line,
                        w.saturating_sub(80),
                    );
                }
                self.state = (0, 30);
            }
            Scenario::Scrolling => {
                self.draw_chrome();
                fill(&mut self.canvas, 0, 40, 250, h, [235, 230, 228, 255]);
                for i in 0..30u64 {
                    let code = mix(self.seed ^ i);
                    for c in 0..(8 + code % 12) as usize {
                        glyph(
                            &mut self.canvas,
                            16 + c * CELL_W,
                            60 + i as usize * 26,
                            mix(code ^ c as u64) % 60,
                            INK,
                            [235, 230, 228, 255],
                        );
                    }
                }
                self.draw_document();
            }
            Scenario::WindowDrag | Scenario::Video => {
                let seed = self.seed;
                let stride = self.canvas.stride();
                let px = self.canvas.pixels_mut();
                for y in 0..h {
                    for x in 0..w {
                        px[y * stride + x * 4..y * stride + x * 4 + 4]
                            .copy_from_slice(&wallpaper(seed, x, y));
                    }
                }
                fill(
                    &mut self.canvas,
                    0,
                    h.saturating_sub(40),
                    w,
                    40,
                    [60, 50, 45, 255],
                );
                if self.scenario == Scenario::WindowDrag {
                    self.state = (200, 150);
                    self.draw_window(200, 150);
                } else {
                    self.draw_window(w.saturating_sub(800) / 2, 120);
                    self.draw_video();
                }
            }
        }
    }

    /// Title bar and menu of an application filling the screen.
    fn draw_chrome(&mut self) {
        let (w, _) = self.size();
        fill(&mut self.canvas, 0, 0, w, 40, [120, 80, 50, 255]);
        for c in 0..24 {
            glyph(
                &mut self.canvas,
                20 + c * CELL_W,
                10,
                (c as u64 * 7) % 60,
                WHITE,
                [120, 80, 50, 255],
            );
        }
    }

    fn draw_text_line(&mut self, x: usize, y: usize, line: u64, max_w: usize) {
        for col in 0..(max_w / CELL_W) as u64 {
            if let Some(code) = text_char(self.seed, line, col) {
                glyph(
                    &mut self.canvas,
                    x + col as usize * CELL_W,
                    y,
                    code,
                    INK,
                    WHITE,
                );
            }
        }
    }

    fn caret(&mut self, visible: bool) {
        let (col, line) = (self.state.0 as usize, self.state.1 as usize);
        let c = if visible { INK } else { WHITE };
        self.mark(60 + col * CELL_W, 60 + line * CELL_H, CELL_W + 2, CELL_H);
        fill(
            &mut self.canvas,
            60 + col * CELL_W,
            60 + line * CELL_H + 2,
            2,
            CELL_H - 2,
            c,
        );
    }

    fn type_char(&mut self) {
        let (w, h) = self.size();
        self.caret(false);
        let code = mix(self.seed ^ self.index);
        let (col, line) = (self.state.0 as usize, self.state.1 as usize);
        if code % 6 != 0 {
            glyph(
                &mut self.canvas,
                60 + col * CELL_W + 2,
                60 + line * CELL_H,
                code % 60,
                INK,
                WHITE,
            );
        }
        self.state.0 += 1;
        if 60 + (self.state.0 as usize + 2) * CELL_W > w.min(1300) {
            self.state = (0, self.state.1 + 1);
            if 60 + (self.state.1 as usize + 2) * CELL_H > h {
                self.state.1 = 30;
            }
        }
        self.caret(true);
    }

    /// The visible part of an endless document at the current scroll offset.
    fn draw_document(&mut self) {
        let (w, h) = self.size();
        let (x0, y0, x1) = (250usize, 40usize, w.saturating_sub(20));
        let scroll = self.state.0 as usize;
        fill(&mut self.canvas, x0, y0, x1.saturating_sub(x0), h, WHITE);
        let line_h = 22usize;
        // Start a picture's height early so pictures scroll off line by line.
        let first = (scroll / line_h).saturating_sub(9);
        let last = (scroll + h) / line_h + 1;
        for line in first..=last {
            let top = (line * line_h) as i64 - scroll as i64 + y0 as i64;
            // Every 40 lines, a 9-line picture replaces the text.
            let block = line % 40;
            if block < 9 {
                if block == 0 {
                    self.draw_picture(x0 + 80, top, 600, 9 * line_h, line as u64);
                }
                continue;
            }
            if top < y0 as i64 - line_h as i64 || top >= h as i64 {
                continue;
            }
            for col in 0..(x1.saturating_sub(x0 + 60) / CELL_W) as u64 {
                if let Some(code) = text_char(self.seed, line as u64, col) {
                    let gy = top + 2;
                    if gy >= y0 as i64 && gy + CELL_H as i64 <= h as i64 {
                        glyph(
                            &mut self.canvas,
                            x0 + 30 + col as usize * CELL_W,
                            gy as usize,
                            code,
                            INK,
                            WHITE,
                        );
                    }
                }
            }
        }
        // Scrollbar with a thumb that follows the offset.
        fill(&mut self.canvas, x1, y0, 20, h, [220, 220, 220, 255]);
        let thumb = y0 + (scroll / 40) % h.saturating_sub(y0 + 60).max(1);
        fill(
            &mut self.canvas,
            x1 + 4,
            thumb,
            12,
            60,
            [150, 150, 150, 255],
        );
    }

    /// A photo-like picture (smooth colours plus noise) clipped to the document viewport.
    fn draw_picture(&mut self, x: usize, top: i64, pw: usize, ph: usize, id: u64) {
        let (_, h) = self.size();
        for r in 0..ph {
            let y = top + r as i64;
            if y < 40 || y >= h as i64 {
                continue;
            }
            for c in 0..pw {
                let mut p = wallpaper(self.seed ^ id, c + id as usize * 37, r);
                p[0] = p[0].wrapping_add((id * 40) as u8);
                put(&mut self.canvas, x + c, y as usize, p);
            }
        }
    }

    /// A window: title bar, text content and an icon.
    fn draw_window(&mut self, x: usize, y: usize) {
        self.mark(x, y, WIN_W, WIN_H);
        fill(&mut self.canvas, x, y, WIN_W, WIN_H, [90, 90, 90, 255]);
        fill(
            &mut self.canvas,
            x + 1,
            y + 1,
            WIN_W - 2,
            30,
            [180, 120, 60, 255],
        );
        for c in 0..20 {
            glyph(
                &mut self.canvas,
                x + 12 + c * CELL_W,
                y + 6,
                (c as u64 * 13) % 60,
                WHITE,
                [180, 120, 60, 255],
            );
        }
        fill(
            &mut self.canvas,
            x + 1,
            y + 31,
            WIN_W - 2,
            WIN_H - 32,
            WHITE,
        );
        for line in 0..20u64 {
            for col in 0..70u64 {
                if let Some(code) = text_char(self.seed, line + 1000, col) {
                    glyph(
                        &mut self.canvas,
                        x + 16 + col as usize * CELL_W,
                        y + 44 + line as usize * 21,
                        code,
                        INK,
                        WHITE,
                    );
                }
            }
        }
        fill(
            &mut self.canvas,
            x + WIN_W - 120,
            y + 60,
            80,
            80,
            [40, 160, 220, 255],
        );
    }

    fn drag(&mut self) {
        let (w, h) = self.size();
        let (ox, oy) = (self.state.0 as usize, self.state.1 as usize);
        // Uncover the wallpaper where the window was.
        self.mark(ox, oy, WIN_W + 6, WIN_H + 3);
        let seed = self.seed;
        for y in oy..(oy + WIN_H).min(h.saturating_sub(40)) {
            for x in ox..(ox + WIN_W).min(w) {
                put(&mut self.canvas, x, y, wallpaper(seed, x, y));
            }
        }
        let mut nx = ox + 6;
        let mut ny = oy + 3;
        if nx + WIN_W >= w {
            nx = 0;
        }
        if ny + WIN_H + 40 >= h {
            ny = 0;
        }
        self.state = (nx as i64, ny as i64);
        self.draw_window(nx, ny);
    }

    /// One new frame of "video": moving colour fields with sensor-like noise.
    fn draw_video(&mut self) {
        let (w, _) = self.size();
        let (vx, vy) = (w.saturating_sub(800) / 2 + 80, 120 + 60);
        let t = self.index as usize;
        self.mark(vx, vy, 640, 360);
        for r in 0..360usize {
            for c in 0..640usize {
                let mut p = wallpaper(self.seed ^ self.index, c + t * 5, r + t * 3);
                p[2] = p[2].wrapping_add(((c * r) / 512 + t * 2) as u8 / 4);
                put(&mut self.canvas, vx + c, vy + r, p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_deterministic_and_change() {
        for &s in Scenario::ALL {
            let mut a = Sequence::new(s, 1024, 768, 5);
            let mut b = Sequence::new(s, 1024, 768, 5);
            let (a0, a1) = (a.next_frame(), a.next_frame());
            assert_eq!(a0, b.next_frame(), "{s:?}");
            assert_eq!(a1, b.next_frame(), "{s:?}");
            assert_ne!(a0, a1, "{s:?} must change between frames");
            assert_eq!(Scenario::from_name(s.name()), Some(s));
        }
        let mut other = Sequence::new(Scenario::Typing, 1024, 768, 6);
        assert_ne!(
            other.next_frame(),
            Sequence::new(Scenario::Typing, 1024, 768, 5).next_frame()
        );
    }

    #[test]
    fn damage_covers_every_change() {
        for &s in Scenario::ALL {
            let mut q = Sequence::new(s, 1280, 720, 3);
            let mut prev = q.next_frame();
            assert!(q.damage().is_full());
            for _ in 0..4 {
                let next = q.next_frame();
                let inside = |x: u32, y: u32| {
                    q.damage()
                        .rects()
                        .iter()
                        .any(|r| r.contains(x as i32, y as i32))
                };
                for y in 0..720 {
                    for x in 0..1280 {
                        if prev.pixel(x, y) != next.pixel(x, y) {
                            assert!(inside(x, y), "{s:?}: ({x}, {y}) changed outside the damage");
                        }
                    }
                }
                prev = next;
            }
        }
    }

    #[test]
    fn small_sizes_do_not_panic() {
        for &s in Scenario::ALL {
            let mut q = Sequence::new(s, 64, 48, 1);
            for _ in 0..3 {
                assert_eq!(q.next_frame().width(), 64);
            }
        }
    }
}
