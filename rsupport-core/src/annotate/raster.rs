//! Composites an [`AnnotationLayer`] onto a BGRA frame, so a product's
//! overlay window and a session recording show the same picture.
//!
//! Strokes are anti-aliased by exact coverage of a round-capped, round-joined
//! pen: each pixel's distance to the polyline decides how much of the pen
//! covers it. A stroke's coverage is collected first (maximum over its
//! segments) and blended once, so joints and overlaps are not darker than
//! the rest of a semi-transparent stroke.

use web_time::Instant;

use rsupport_capture::BgraFrame;
use rsupport_proto::annotate::Argb;
use rsupport_proto::Point;

use super::layer::{AnnotationLayer, Item, Stroke};
use super::text;

/// Laser dot radius in monitor pixels.
pub const LASER_RADIUS: f32 = 6.0;

/// Draws the layer's items for `monitor_id` onto `frame`, which shows that
/// monitor at its own resolution.
pub fn render(layer: &AnnotationLayer, frame: &mut BgraFrame, monitor_id: u32, now: Instant) {
    render_scaled(layer, frame, monitor_id, 1.0, now);
}

/// Draws the layer onto `frame`, a view of the monitor scaled by `scale`
/// (0.5 = half size): positions, pen widths, dot sizes and font sizes are
/// all scaled, so a drawing stays on what it marks at any zoom.
pub fn render_scaled(
    layer: &AnnotationLayer,
    frame: &mut BgraFrame,
    monitor_id: u32,
    scale: f32,
    now: Instant,
) {
    if !(scale.is_finite() && scale > 0.0) {
        return;
    }
    let mut canvas = Canvas::new(frame);
    for item in layer.items() {
        match item {
            Item::Stroke(s) if s.monitor_id == monitor_id => draw_stroke(&mut canvas, s, scale),
            Item::Label(l) if l.monitor_id == monitor_id => text::draw_label(&mut canvas, l, scale),
            _ => {}
        }
    }
    for dot in layer.lasers(now).filter(|d| d.monitor_id == monitor_id) {
        let radius = (LASER_RADIUS * scale).max(2.0);
        let c = to_view(dot.position, scale);
        canvas.fill_polyline(&[c], radius, dot.color, dot.opacity(now));
    }
}

/// The centre of monitor pixel `p` in view coordinates.
fn to_view(p: Point, scale: f32) -> (f32, f32) {
    ((p.x as f32 + 0.5) * scale, (p.y as f32 + 0.5) * scale)
}

fn draw_stroke(canvas: &mut Canvas<'_>, s: &Stroke, scale: f32) {
    let points: Vec<(f32, f32)> = s.points.iter().map(|p| to_view(*p, scale)).collect();
    // Even a hair-thin pen leaves a visible line when zoomed out.
    let half_width = (s.width * scale / 2.0).max(0.5);
    canvas.fill_polyline(&points, half_width, s.color, 1.0);
}

/// A frame being drawn on.
pub(crate) struct Canvas<'a> {
    frame: &'a mut BgraFrame,
    /// Frame-sized coverage scratch, all zero between shapes: each shape
    /// clears only what it touched, so its cost follows its ink, not its
    /// bounding box.
    coverage: Vec<u8>,
    /// Per row of the current shape: the touched x range.
    spans: Vec<(i64, i64)>,
}

impl<'a> Canvas<'a> {
    pub(crate) fn new(frame: &'a mut BgraFrame) -> Self {
        Canvas {
            frame,
            coverage: Vec::new(),
            spans: Vec::new(),
        }
    }

    pub(crate) fn width(&self) -> u32 {
        self.frame.width()
    }

    pub(crate) fn height(&self) -> u32 {
        self.frame.height()
    }

    /// Blends `color` at `(x, y)` with extra opacity `alpha` (0..=1).
    pub(crate) fn blend(&mut self, x: i64, y: i64, color: Argb, alpha: f32) {
        let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y)) else {
            return;
        };
        let a = f32::from(color.alpha()) * alpha.clamp(0.0, 1.0) + 0.5;
        self.blend_a8(x, y, color, a as u32);
    }

    /// Source-over blend with opacity `a` in 0..=255, in integers (this is
    /// the innermost loop of every shape).
    fn blend_a8(&mut self, x: usize, y: usize, color: Argb, a: u32) {
        let (w, h) = (self.frame.width() as usize, self.frame.height() as usize);
        if a == 0 || x >= w || y >= h {
            return;
        }
        let a = a.min(255);
        let inv = 255 - a;
        let i = (y * w + x) * 4;
        let Some(px) = self.frame.pixels_mut().get_mut(i..i + 4) else {
            return;
        };
        let src = [color.blue(), color.green(), color.red(), 255];
        for (dst, src) in px.iter_mut().zip(src) {
            *dst = ((u32::from(src) * a + u32::from(*dst) * inv + 127) / 255) as u8;
        }
    }

    /// Fills the round pen of radius `half_width` moved along `points`
    /// (a single point is a dot).
    pub(crate) fn fill_polyline(
        &mut self,
        points: &[(f32, f32)],
        half_width: f32,
        color: Argb,
        opacity: f32,
    ) {
        let Some(&first) = points.first() else { return };
        let pad = half_width + 1.0;
        let (mut x0, mut y0, mut x1, mut y1) = (first.0, first.1, first.0, first.1);
        for &(x, y) in points {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        // Pixel box touched, clipped to the frame.
        let bx0 = ((x0 - pad).floor().max(0.0)) as i64;
        let by0 = ((y0 - pad).floor().max(0.0)) as i64;
        let bx1 = ((x1 + pad).ceil().min(self.width() as f32)) as i64;
        let by1 = ((y1 + pad).ceil().min(self.height() as f32)) as i64;
        if bx1 <= bx0 || by1 <= by0 {
            return;
        }
        let width = self.frame.width() as usize;
        let frame_len = width * self.frame.height() as usize;
        if self.coverage.len() != frame_len {
            self.coverage = vec![0; frame_len];
        }
        self.spans.clear();
        self.spans
            .resize((by1 - by0) as usize, (i64::MAX, i64::MIN));
        let segments = points.windows(2).map(|w| match w {
            [a, b] => (*a, *b),
            _ => (first, first),
        });
        let single = std::iter::once((first, first)).filter(|_| points.len() == 1);
        for (a, b) in segments.chain(single) {
            // This segment's own pixel box inside the shape's box.
            let sx0 = ((a.0.min(b.0) - pad).floor() as i64).max(bx0);
            let sy0 = ((a.1.min(b.1) - pad).floor() as i64).max(by0);
            let sx1 = ((a.0.max(b.0) + pad).ceil() as i64).min(bx1);
            let sy1 = ((a.1.max(b.1) + pad).ceil() as i64).min(by1);
            for py in sy0..sy1 {
                // Only the part of this row near the segment: work per segment
                // is about length × width, not its bounding box, so a peer's
                // long diagonal strokes cannot make rendering quadratic.
                let (rx0, rx1) = row_span(a, b, py as f32 + 0.5, pad);
                let rx0 = (rx0.floor() as i64).max(sx0);
                let rx1 = (rx1.ceil() as i64).saturating_add(1).min(sx1);
                if rx0 >= rx1 {
                    continue;
                }
                if let Some(span) = self.spans.get_mut((py - by0) as usize) {
                    *span = (span.0.min(rx0), span.1.max(rx1));
                }
                let row = py as usize * width;
                for px in rx0..rx1 {
                    let d = distance_to_segment((px as f32 + 0.5, py as f32 + 0.5), a, b);
                    let c = (half_width + 0.5 - d).clamp(0.0, 1.0);
                    if c > 0.0 {
                        let v = (c * 255.0 + 0.5) as u8;
                        if let Some(slot) = self.coverage.get_mut(row + px as usize) {
                            *slot = (*slot).max(v);
                        }
                    }
                }
            }
        }
        // Blend once per pixel and leave the scratch zeroed for the next shape.
        let spans = std::mem::take(&mut self.spans);
        // Opacity per unit of coverage, so each pixel costs one multiply.
        let scale = f32::from(color.alpha()) / 255.0 * opacity.clamp(0.0, 1.0);
        for (py, &(x0, x1)) in (by0..).zip(&spans) {
            let py = py as usize;
            for px in x0.max(0) as usize..x1.max(0) as usize {
                let Some(c) = self.coverage.get_mut(py * width + px).map(std::mem::take) else {
                    continue;
                };
                if c > 0 {
                    self.blend_a8(px, py, color, (f32::from(c) * scale + 0.5) as u32);
                }
            }
        }
        self.spans = spans;
    }
}

/// The x range (of pixel centres) on the row at height `y` that can lie
/// within `reach` of the segment `a`–`b`: the band around its line, clipped
/// to its box. Conservative; exact coverage is computed per pixel.
fn row_span(a: (f32, f32), b: (f32, f32), y: f32, reach: f32) -> (f32, f32) {
    let (lo, hi) = (a.0.min(b.0) - reach, a.0.max(b.0) + reach);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    // Horizontal (or a dot): the whole box row, at most length + 2·reach.
    if dy.abs() < f32::EPSILON {
        return (lo - 0.5, hi);
    }
    // |(x - ax)·dy - (y - ay)·dx| <= reach·len, solved for x.
    let centre = a.0 + (y - a.1) * dx / dy;
    let half = reach * len / dy.abs();
    ((centre - half).max(lo) - 0.5, (centre + half).min(hi))
}

fn distance_to_segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_span_covers_every_pixel_near_the_segment() {
        // Brute force: every pixel centre within reach is inside the span.
        let segs = [
            ((3.2, 4.7), (40.1, 90.3)),
            ((50.0, 5.0), (5.0, 6.0)),
            ((10.0, 10.0), (10.0, 80.0)),
            ((7.0, 7.0), (7.0, 7.0)),
        ];
        for (a, b) in segs {
            for reach in [1.5f32, 6.0] {
                for py in 0..100 {
                    let y = py as f32 + 0.5;
                    let (x0, x1) = row_span(a, b, y, reach);
                    for px in 0..100 {
                        let x = px as f32 + 0.5;
                        if distance_to_segment((x, y), a, b) <= reach {
                            assert!(
                                x >= x0 && x <= x1,
                                "{a:?}-{b:?} r{reach} ({x},{y}) not in {x0}..{x1}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn segment_distance() {
        assert_eq!(
            distance_to_segment((0.0, 1.0), (0.0, 0.0), (10.0, 0.0)),
            1.0
        );
        assert_eq!(
            distance_to_segment((-3.0, 4.0), (0.0, 0.0), (10.0, 0.0)),
            5.0
        );
        assert_eq!(distance_to_segment((3.0, 4.0), (0.0, 0.0), (0.0, 0.0)), 5.0);
    }

    #[test]
    fn blend_is_source_over() {
        let mut f = BgraFrame::filled(1, 1, [0, 0, 0, 255]);
        Canvas::new(&mut f).blend(0, 0, Argb::new(255, 200, 100, 50), 0.5);
        assert_eq!(f.pixel(0, 0), Some([25, 50, 100, 255]));
        // Outside the frame: ignored, no panic.
        Canvas::new(&mut f).blend(-1, 5, Argb(0xFFFFFFFF), 1.0);
    }
}
