//! Text labels, rendered with `ab_glyph` (pure Rust) from DejaVu Sans, which
//! the `dejavu` crate embeds (Bitstream Vera / DejaVu licence: free to use
//! and redistribute). Characters the font lacks draw as its missing-glyph box.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

use super::layer::Label;
use super::raster::Canvas;

fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(dejavu::sans::regular()).ok())
        .as_ref()
}

/// Width and height in view pixels that `text` takes at `size_px`.
pub fn measure(text: &str, size_px: f32) -> (f32, f32) {
    let Some(font) = font() else {
        return (0.0, 0.0);
    };
    let scaled = font.as_scaled(PxScale::from(size_px));
    let line_height = scaled.height() + scaled.line_gap();
    let mut widest: f32 = 0.0;
    let mut lines = 0;
    for line in text.split('\n') {
        lines += 1;
        let mut caret = 0.0;
        let mut prev = None;
        for ch in line.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        widest = widest.max(caret);
    }
    (widest, line_height * lines as f32)
}

/// Draws `label` with its top-left corner at its position, scaled.
pub(crate) fn draw_label(canvas: &mut Canvas<'_>, label: &Label, scale: f32) {
    let Some(font) = font() else { return };
    let size = label.size_px as f32 * scale;
    if size < 1.0 {
        return; // too small to read; drawing noise would not help
    }
    let scaled = font.as_scaled(PxScale::from(size));
    let line_height = scaled.height() + scaled.line_gap();
    let left = label.position.x as f32 * scale;
    let mut baseline = label.position.y as f32 * scale + scaled.ascent();
    for line in label.text.split('\n') {
        let mut caret = left;
        let mut prev = None;
        for ch in line.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(size, point(caret, baseline));
            caret += scaled.h_advance(id);
            prev = Some(id);
            if caret > canvas.width() as f32 + size {
                break; // the rest of the line is off the frame
            }
            let Some(outlined) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outlined.px_bounds();
            let (ox, oy) = (bounds.min.x as i64, bounds.min.y as i64);
            outlined.draw(|x, y, coverage| {
                canvas.blend(ox + i64::from(x), oy + i64::from(y), label.color, coverage);
            });
        }
        baseline += line_height;
        if baseline - scaled.ascent() > canvas.height() as f32 {
            break;
        }
    }
}
