//! Text labels, rendered with `ab_glyph` (pure Rust) from DejaVu Sans, which
//! the `dejavu` crate embeds (feature `bundled-font`, on by default;
//! Bitstream Vera / DejaVu licence: free to use and redistribute). DejaVu
//! has no CJK glyphs: a product showing Japanese or Chinese labels
//! registers a system font with [`set_fallback_font`]; without one, such
//! characters draw as the missing-glyph box. Without `bundled-font` (the
//! browser console, which fetches the font separately to keep its module
//! small) the font registered with [`set_fallback_font`] draws everything,
//! and labels draw nothing until one is.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontArc, GlyphId, InvalidFont, PxScale, ScaleFont};

use super::layer::Label;
use super::raster::Canvas;

#[cfg(feature = "bundled-font")]
fn primary() -> Option<&'static FontArc> {
    static FONT: OnceLock<Option<FontArc>> = OnceLock::new();
    FONT.get_or_init(|| FontArc::try_from_slice(dejavu::sans::regular()).ok())
        .as_ref()
}

#[cfg(not(feature = "bundled-font"))]
fn primary() -> Option<&'static FontArc> {
    FALLBACK.get()
}

static FALLBACK: OnceLock<FontArc> = OnceLock::new();

/// Largest font size drawn, in view pixels, whatever the label size and zoom.
pub const MAX_RENDERED_SIZE_PX: f32 = 1024.0;

/// Why [`set_fallback_font`] refused a font.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FontError {
    /// Not a TrueType/OpenType font.
    #[error("not a TrueType or OpenType font")]
    Invalid,
    /// A fallback font was already set (it is process-wide and set once).
    #[error("a fallback font is already set")]
    AlreadySet,
}

impl From<InvalidFont> for FontError {
    fn from(_: InvalidFont) -> Self {
        FontError::Invalid
    }
}

/// Registers, once per process, a font (TTF/OTF bytes, e.g. a system Noto
/// Sans CJK) used for characters DejaVu Sans lacks.
pub fn set_fallback_font(data: Vec<u8>) -> Result<(), FontError> {
    let font = FontArc::try_from_vec(data)?;
    FALLBACK.set(font).map_err(|_| FontError::AlreadySet)
}

/// The font that draws `ch`, and its glyph.
fn pick(ch: char) -> Option<(&'static FontArc, GlyphId)> {
    let main = primary()?;
    let id = main.glyph_id(ch);
    if id.0 == 0 {
        if let Some(fb) = FALLBACK.get() {
            let fid = fb.glyph_id(ch);
            if fid.0 != 0 {
                return Some((fb, fid));
            }
        }
    }
    Some((main, id))
}

/// Width and height in view pixels that `text` takes at `size_px`.
pub fn measure(text: &str, size_px: f32) -> (f32, f32) {
    let Some(font) = primary() else {
        return (0.0, 0.0);
    };
    let line_height = line_height(font, size_px);
    let mut widest: f32 = 0.0;
    let mut lines = 0;
    for line in text.split('\n') {
        lines += 1;
        let mut caret = 0.0;
        let mut prev = None;
        for ch in line.chars() {
            let Some((f, id)) = pick(ch) else { continue };
            caret += kern(prev, f, id, size_px);
            caret += f.as_scaled(PxScale::from(size_px)).h_advance(id);
            prev = Some((f, id));
        }
        widest = widest.max(caret);
    }
    (widest, line_height * lines as f32)
}

/// Draws `label` with its top-left corner at its position, scaled.
pub(crate) fn draw_label(canvas: &mut Canvas<'_>, label: &Label, scale: f32) {
    let Some(font) = primary() else { return };
    // Capped: the glyph rasteriser allocates size² coverage per glyph, and a
    // huge zoom must not turn a peer's label into a memory bomb.
    let size = (label.size_px as f32 * scale).min(MAX_RENDERED_SIZE_PX);
    if size < 1.0 {
        return; // too small to read; drawing noise would not help
    }
    let ascent = font.as_scaled(PxScale::from(size)).ascent();
    let line_height = line_height(font, size);
    let (width, height) = (canvas.width() as f32, canvas.height() as f32);
    let left = label.position.x as f32 * scale;
    let mut baseline = label.position.y as f32 * scale + ascent;
    for line in label.text.split('\n') {
        if baseline - ascent > height {
            break; // this and later lines are below the frame
        }
        if baseline + size >= 0.0 {
            draw_line(canvas, line, left, baseline, size, width, label);
        }
        baseline += line_height;
    }
}

fn draw_line(
    canvas: &mut Canvas<'_>,
    line: &str,
    left: f32,
    baseline: f32,
    size: f32,
    width: f32,
    label: &Label,
) {
    let mut caret = left;
    let mut prev = None;
    for ch in line.chars() {
        if caret > width {
            break; // the rest of the line is right of the frame
        }
        let Some((f, id)) = pick(ch) else { continue };
        caret += kern(prev, f, id, size);
        let pen = caret;
        caret += f.as_scaled(PxScale::from(size)).h_advance(id);
        prev = Some((f, id));
        if caret + size < 0.0 {
            continue; // left of the frame
        }
        // Outline the glyph near the origin and move the pixels afterwards:
        // far-off coordinates would cost the rasteriser its float precision.
        let (px, py) = (pen.floor(), baseline.floor());
        let glyph = id.with_scale_and_position(size, point(pen - px, baseline - py));
        let Some(outlined) = f.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        let ox = px as i64 + bounds.min.x as i64;
        let oy = py as i64 + bounds.min.y as i64;
        outlined.draw(|x, y, coverage| {
            canvas.blend(ox + i64::from(x), oy + i64::from(y), label.color, coverage);
        });
    }
}

fn line_height(font: &FontArc, size: f32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    scaled.height() + scaled.line_gap()
}

/// Kerning between two glyphs of the same font (none across fonts).
fn kern(prev: Option<(&FontArc, GlyphId)>, font: &FontArc, id: GlyphId, size: f32) -> f32 {
    match prev {
        Some((pf, pid)) if std::ptr::eq(pf, font) => {
            font.as_scaled(PxScale::from(size)).kern(pid, id)
        }
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_loads_and_garbage_is_refused() {
        assert!(primary().is_some());
        assert!(pick('A').is_some_and(|(_, id)| id.0 != 0));
        assert_eq!(
            set_fallback_font(b"not a font".to_vec()),
            Err(FontError::Invalid)
        );
    }
}
