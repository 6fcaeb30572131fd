//! Window masking: turning "these windows, under those" into the set of pixels that
//! may leave the capture layer, and painting everything else over.
//!
//! Every backend uses the same two steps so that application selection behaves the
//! same everywhere: [`visible_parts`] computes what of each chosen window is not
//! covered by something stacked above it, and [`apply_mask`] replaces every pixel
//! outside those rectangles with [`MASK_BGRA`].

use super::types::Rect;
use crate::BgraFrame;

/// The colour (BGRA) that replaces every pixel not belonging to a shared window:
/// an opaque mid grey, easy to compress and clearly "nothing here".
pub const MASK_BGRA: [u8; 4] = [0x50, 0x50, 0x50, 0xff];

/// `rect` minus `hole`, appended to `out` as up to four disjoint rectangles.
pub fn subtract(rect: Rect, hole: &Rect, out: &mut Vec<Rect>) {
    let Some(h) = rect.intersect(hole) else {
        out.push(rect);
        return;
    };
    let (x0, y0, x1, y1) = (
        i64::from(rect.x),
        i64::from(rect.y),
        rect.right(),
        rect.bottom(),
    );
    let (hx0, hy0, hx1, hy1) = (i64::from(h.x), i64::from(h.y), h.right(), h.bottom());
    let mut push = |a: i64, b: i64, c: i64, d: i64| {
        if c > a && d > b {
            out.push(Rect::from_edges(a, b, c, d));
        }
    };
    push(x0, y0, x1, hy0); // band above the hole
    push(x0, hy1, x1, y1); // band below
    push(x0, hy0, hx0, hy1); // left of the hole
    push(hx1, hy0, x1, hy1); // right of the hole
}

/// A window in stacking order as the masking sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackedWindow {
    /// Everything the window (with its frame) covers, desktop coordinates.
    pub outer: Rect,
    /// The part to share when this window is selected (client area), or `None`
    /// when the window is not selected.
    pub shared: Option<Rect>,
}

/// The visible parts of the selected windows: for each window (given bottom to
/// top) whose `shared` is set, its shared rectangle minus the `outer` rectangle of
/// every window stacked above it. Results are appended to `out` (disjoint within
/// one window; rectangles of different windows never overlap either, because the
/// lower one is cut by the upper one's outer rectangle, which contains its shared
/// part).
pub fn visible_parts(stack: &[StackedWindow], out: &mut Vec<Rect>) {
    let mut pieces = Vec::new();
    let mut next = Vec::new();
    for (i, w) in stack.iter().enumerate() {
        let Some(shared) = w.shared else { continue };
        pieces.clear();
        pieces.push(shared);
        for above in stack.iter().skip(i + 1) {
            next.clear();
            for p in &pieces {
                subtract(*p, &above.outer, &mut next);
            }
            std::mem::swap(&mut pieces, &mut next);
            if pieces.is_empty() {
                break;
            }
        }
        out.extend(pieces.iter().filter(|r| !r.is_empty()));
    }
}

/// Paints every pixel of `frame` outside `keep` (frame coordinates) with
/// [`MASK_BGRA`]. `spans` is scratch space reused between calls.
pub fn apply_mask(frame: &mut BgraFrame, keep: &[Rect], spans: &mut Vec<(usize, usize)>) {
    let width = frame.width() as usize;
    let height = frame.height();
    let stride = frame.stride();
    let bounds = Rect::new(0, 0, frame.width(), height);
    let pixels = frame.pixels_mut();
    for y in 0..height {
        spans.clear();
        for r in keep {
            if let Some(c) = r.intersect(&bounds) {
                if c.contains(c.x, y as i32) {
                    let x0 = c.x as usize;
                    spans.push((x0, x0 + c.width as usize));
                }
            }
        }
        spans.sort_unstable();
        let row_start = y as usize * stride;
        let Some(row) = pixels.get_mut(row_start..row_start + stride) else {
            return;
        };
        let mut x = 0usize;
        for &(s, e) in spans.iter() {
            if s > x {
                fill(row, x, s);
            }
            x = x.max(e);
        }
        if x < width {
            fill(row, x, width);
        }
    }
}

fn fill(row: &mut [u8], from: usize, to: usize) {
    if let Some(part) = row.get_mut(from * 4..to * 4) {
        for px in part.chunks_exact_mut(4) {
            px.copy_from_slice(&MASK_BGRA);
        }
    }
}

/// True when `(x, y)` lies in one of `keep`.
pub fn is_kept(keep: &[Rect], x: i32, y: i32) -> bool {
    keep.iter().any(|r| r.contains(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(rects: &[Rect], x: i32, y: i32) -> usize {
        rects.iter().filter(|r| r.contains(x, y)).count()
    }

    #[test]
    fn subtract_covers_exactly_the_difference() {
        let a = Rect::new(0, 0, 10, 8);
        let hole = Rect::new(3, -2, 4, 5);
        let mut out = Vec::new();
        subtract(a, &hole, &mut out);
        for y in -3..12 {
            for x in -3..14 {
                let want = usize::from(a.contains(x, y) && !hole.contains(x, y));
                assert_eq!(covered(&out, x, y), want, "at {x},{y}");
            }
        }
    }

    #[test]
    fn upper_windows_cut_selected_ones() {
        let stack = [
            StackedWindow {
                outer: Rect::new(0, 0, 20, 20),
                shared: Some(Rect::new(1, 1, 18, 18)),
            },
            StackedWindow {
                outer: Rect::new(10, 10, 20, 20),
                shared: None,
            },
        ];
        let mut keep = Vec::new();
        visible_parts(&stack, &mut keep);
        assert!(is_kept(&keep, 5, 5));
        assert!(!is_kept(&keep, 12, 12)); // under the unselected window
        assert!(!is_kept(&keep, 0, 0)); // frame border, not client area
    }

    #[test]
    fn mask_paints_everything_else() {
        let mut f = BgraFrame::filled(6, 4, [1, 2, 3, 255]);
        let mut spans = Vec::new();
        apply_mask(
            &mut f,
            &[Rect::new(1, 1, 2, 2), Rect::new(2, 1, 3, 1)],
            &mut spans,
        );
        for y in 0..4 {
            for x in 0..6 {
                let kept =
                    (1..3).contains(&x) && (1..3).contains(&y) || (2..5).contains(&x) && y == 1;
                let want = if kept { [1, 2, 3, 255] } else { MASK_BGRA };
                assert_eq!(f.pixel(x, y), Some(want), "at {x},{y}");
            }
        }
    }
}
