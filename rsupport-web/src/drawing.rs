//! The operator's drawing tools on the customer's screen (pen, laser,
//! label, undo, clear) and the overlay the page shows them on.
//!
//! The page sends points in framebuffer pixels; drawings live in monitor
//! pixels (the customer's side may show the screen scaled), so both
//! directions go through [`LiveSession::frame_scale`]. The overlay is
//! rendered by the same code the customer's side uses, so both see the
//! same drawing.

use rsupport_capture::BgraFrame;
use rsupport_core::annotate::{render_scaled, Argb};
use rsupport_proto::Point;
use web_time::Instant;

use crate::live::LiveSession;

/// A page colour "#rrggbb" as an opaque [`Argb`] (red when unreadable).
pub fn color_from_hex(hex: &str) -> Argb {
    let digits = hex.trim_start_matches('#');
    let channel = |at: usize| {
        digits
            .get(at..at + 2)
            .and_then(|d| u8::from_str_radix(d, 16).ok())
    };
    match (digits.len(), channel(0), channel(2), channel(4)) {
        (6, Some(r), Some(g), Some(b)) => Argb::new(255, r, g, b),
        _ => Argb::new(255, 230, 30, 30),
    }
}

impl LiveSession {
    fn monitor_point(&self, x: i32, y: i32) -> Point {
        let scale = self.frame_scale();
        Point::new(
            (x as f32 / scale).round() as i32,
            (y as f32 / scale).round() as i32,
        )
    }

    /// Starts a pen stroke at (x, y) in framebuffer pixels; returns its id.
    pub fn pen_down(&mut self, x: i32, y: i32, color: &str, width_px: f32, now: Instant) -> u64 {
        let (start, monitor) = (self.monitor_point(x, y), self.active_monitor());
        let width = width_px.clamp(1.0, 64.0) / self.frame_scale();
        self.session
            .annotator()
            .begin_stroke(color_from_hex(color), width, start, monitor, now)
    }

    /// Extends stroke `id` to (x, y).
    pub fn pen_move(&mut self, id: u64, x: i32, y: i32, now: Instant) {
        let point = self.monitor_point(x, y);
        self.session.annotator().extend_stroke(id, &[point], now);
    }

    /// Ends stroke `id`.
    pub fn pen_up(&mut self, id: u64, now: Instant) {
        self.session.annotator().end_stroke(id, now);
    }

    /// A laser dot at (x, y) that fades by itself.
    pub fn laser(&mut self, x: i32, y: i32, color: &str, now: Instant) {
        let (at, monitor) = (self.monitor_point(x, y), self.active_monitor());
        self.session
            .annotator()
            .laser(at, color_from_hex(color), monitor, now);
    }

    /// A text label at (x, y).
    pub fn label(&mut self, x: i32, y: i32, text: &str, color: &str, now: Instant) {
        let (at, monitor) = (self.monitor_point(x, y), self.active_monitor());
        let size = (20.0 / self.frame_scale()).round() as u32;
        let _ = self
            .session
            .annotator()
            .label(at, text, color_from_hex(color), size, monitor, now);
    }

    /// Takes back our last drawing.
    pub fn undo_drawing(&mut self, now: Instant) {
        self.session.annotator().undo(now);
    }

    /// Removes every drawing (both parties').
    pub fn clear_drawings(&mut self, now: Instant) {
        self.session.annotator().clear(now);
    }

    /// The drawings as straight RGBA over a transparent framebuffer-sized
    /// picture, for the page's overlay canvas (empty without a screen).
    pub fn overlay_rgba(&mut self, now: Instant) -> Vec<u8> {
        let (width, height) = match self.session.framebuffer() {
            Some(frame) => (frame.width(), frame.height()),
            None => return Vec::new(),
        };
        let (scale, monitor) = (self.frame_scale(), self.active_monitor());
        let mut picture = BgraFrame::filled(width, height, [0, 0, 0, 0]);
        render_scaled(
            self.session.annotator().layer(),
            &mut picture,
            monitor,
            scale,
            now,
        );
        let mut pixels = picture.into_pixels();
        for px in pixels.chunks_exact_mut(4) {
            // Rendering blends over transparent black: premultiplied BGRA.
            let a = u32::from(px[3]);
            let straight = |c: u8| {
                ((u32::from(c) * 255 + a / 2).checked_div(a)).map_or(0, |v| v.min(255) as u8)
            };
            let (b, g, r) = (px[0], px[1], px[2]);
            px[0] = straight(r);
            px[1] = straight(g);
            px[2] = straight(b);
        }
        pixels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_colours_parse() {
        assert_eq!(color_from_hex("#1f6feb"), Argb::new(255, 0x1f, 0x6f, 0xeb));
        assert_eq!(color_from_hex("nonsense"), Argb::new(255, 230, 30, 30));
    }
}
