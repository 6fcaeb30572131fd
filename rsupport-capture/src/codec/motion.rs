//! Scroll and move detection: finds regions of the new frame that are a
//! shifted copy of the viewer's framebuffer, so they travel as `CopyRect`s
//! instead of pixels.
//!
//! 1. **Vote for offsets.** A rolling hash over every horizontal
//!    window (24 pixels) picks *anchors* by content (the hash's top bits are zero), so the
//!    same content yields the same anchors wherever it moved. Anchors of the
//!    old frame go into a map; anchors of the new frame look themselves up and
//!    vote for `(old − new)` offsets. Uniform windows are skipped: they match
//!    everywhere and would drown the vote.
//! 2. **Confirm per tile.** Each dirty tile is compared byte for byte against
//!    the old frame at the best offsets.
//! 3. **Grow to pixel precision.** Matching tiles merge into rectangles that
//!    then grow row by row and column by column while pixels still match, so
//!    window edges that do not sit on the tile grid are copied too.
//!
//! Every copy is verified, so the result is exact whatever the hashes say.

use std::collections::HashMap;

use rsupport_proto::screen::CopyRect;

/// Pixels in a hash window.
const WINDOW: usize = 24;
/// Anchor density: one window in 2^ANCHOR_BITS.
const ANCHOR_BITS: u32 = 5;
/// Offsets tried per frame.
const MAX_CANDIDATES: usize = 4;
/// Fewest votes that make an offset worth trying.
const MIN_VOTES: u32 = 3;
/// Multiplier of the rolling polynomial hash.
const MUL: u64 = 0x0000_0100_0000_01b3;

/// A frame as the motion search sees it.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub(crate) pixels: &'a [u8],
    pub(crate) width: usize,
    pub(crate) height: usize,
}

impl Plane<'_> {
    #[inline]
    fn span(&self, x: usize, y: usize, w: usize) -> &[u8] {
        let s = (y * self.width + x) * 4;
        &self.pixels[s..s + w * 4]
    }
}

/// Pixel-space rectangle, half-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub(crate) x0: usize,
    pub(crate) y0: usize,
    pub(crate) x1: usize,
    pub(crate) y1: usize,
}

#[inline(always)]
fn pixel_value(c: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])) + 1
}

/// Calls `anchor(x_start, hash)` for every anchor window of row `y` between `x0..x1`.
#[inline]
fn anchors_in_row(
    p: &Plane<'_>,
    y: usize,
    x0: usize,
    x1: usize,
    mut anchor: impl FnMut(usize, u64),
) {
    if x1 < x0 + WINDOW {
        return;
    }
    let pow = MUL.wrapping_pow(WINDOW as u32);
    let row = p.span(x0, y, x1 - x0);
    let mut h = 0u64;
    let mut same_run = 0usize;
    let mut last = u64::MAX;
    // Prime the first window, then roll: add the entering pixel, drop the leaving one.
    for c in row[..WINDOW * 4].chunks_exact(4) {
        let v = pixel_value(c);
        same_run = if v == last { same_run + 1 } else { 1 };
        last = v;
        h = h.wrapping_mul(MUL).wrapping_add(v);
    }
    let mut check = |i: usize, h: u64, same_run: usize| {
        if same_run < WINDOW {
            let mixed = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            if mixed >> (64 - ANCHOR_BITS) == 0 {
                anchor(x0 + i, mixed);
            }
        }
    };
    check(0, h, same_run);
    let entering = row[WINDOW * 4..].chunks_exact(4);
    let leaving = row.chunks_exact(4);
    for (i, (e, l)) in entering.zip(leaving).enumerate() {
        let v = pixel_value(e);
        same_run = if v == last { same_run + 1 } else { 1 };
        last = v;
        h = h
            .wrapping_mul(MUL)
            .wrapping_add(v)
            .wrapping_sub(pixel_value(l).wrapping_mul(pow));
        check(i + 1, h, same_run);
    }
}

/// Old-frame positions of anchors with one hash; more than this many is
/// treated as too common to vote.
const MAX_SAME: usize = 4;

/// Offsets `(dx, dy)` (source = destination + offset), most voted first.
pub(crate) fn vote_offsets(old: &Plane<'_>, new: &Plane<'_>, area: Bounds) -> Vec<(i32, i32)> {
    // (hash, x, y) of every anchor of the old frame, sorted by hash for lookups.
    let mut seen: Vec<(u64, u32, u32)> = Vec::new();
    for y in area.y0..area.y1 {
        anchors_in_row(old, y, area.x0, area.x1, |x, h| {
            seen.push((h, x as u32, y as u32))
        });
    }
    seen.sort_unstable();
    let mut votes: HashMap<(i32, i32), u32> = HashMap::new();
    for y in (area.y0..area.y1).step_by(3) {
        anchors_in_row(new, y, area.x0, area.x1, |x, h| {
            let from = seen.partition_point(|e| e.0 < h);
            let same = seen[from..]
                .iter()
                .take_while(|e| e.0 == h)
                .take(MAX_SAME + 1);
            if same.clone().count() > MAX_SAME {
                return;
            }
            for &(_, ox, oy) in same {
                let d = (ox as i32 - x as i32, oy as i32 - y as i32);
                if d != (0, 0) {
                    *votes.entry(d).or_insert(0) += 1;
                }
            }
        });
    }
    let mut ranked: Vec<((i32, i32), u32)> =
        votes.into_iter().filter(|&(_, n)| n >= MIN_VOTES).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(MAX_CANDIDATES)
        .map(|(d, _)| d)
        .collect()
}

/// Whether `new` at `r` equals `old` at `r` shifted by `d`, source inside the frame.
fn region_matches(old: &Plane<'_>, new: &Plane<'_>, r: Bounds, d: (i32, i32)) -> bool {
    let (sx, sy) = (r.x0 as i64 + i64::from(d.0), r.y0 as i64 + i64::from(d.1));
    let (w, h) = (r.x1 - r.x0, r.y1 - r.y0);
    if sx < 0 || sy < 0 || sx as usize + w > old.width || sy as usize + h > old.height {
        return false;
    }
    let (sx, sy) = (sx as usize, sy as usize);
    (0..h).all(|i| new.span(r.x0, r.y0 + i, w) == old.span(sx, sy + i, w))
}

fn column_matches(
    old: &Plane<'_>,
    new: &Plane<'_>,
    x: usize,
    y0: usize,
    y1: usize,
    d: (i32, i32),
) -> bool {
    region_matches(
        old,
        new,
        Bounds {
            x0: x,
            y0,
            x1: x + 1,
            y1,
        },
        d,
    )
}

fn row_matches(
    old: &Plane<'_>,
    new: &Plane<'_>,
    y: usize,
    x0: usize,
    x1: usize,
    d: (i32, i32),
) -> bool {
    region_matches(
        old,
        new,
        Bounds {
            x0,
            y0: y,
            x1,
            y1: y + 1,
        },
        d,
    )
}

/// Grows `r` (already matching at `d`) by up to `reach` pixels per side while pixels match.
fn grow(old: &Plane<'_>, new: &Plane<'_>, mut r: Bounds, d: (i32, i32), reach: usize) -> Bounds {
    for _ in 0..reach {
        if r.x0 == 0 || !column_matches(old, new, r.x0 - 1, r.y0, r.y1, d) {
            break;
        }
        r.x0 -= 1;
    }
    for _ in 0..reach {
        if r.x1 >= new.width || !column_matches(old, new, r.x1, r.y0, r.y1, d) {
            break;
        }
        r.x1 += 1;
    }
    for _ in 0..reach {
        if r.y0 == 0 || !row_matches(old, new, r.y0 - 1, r.x0, r.x1, d) {
            break;
        }
        r.y0 -= 1;
    }
    for _ in 0..reach {
        if r.y1 >= new.height || !row_matches(old, new, r.y1, r.x0, r.x1, d) {
            break;
        }
        r.y1 += 1;
    }
    r
}

/// The tile grid of a frame and which tiles changed.
pub(crate) struct TileGrid<'a> {
    pub(crate) tile: usize,
    pub(crate) cols: usize,
    pub(crate) rows: usize,
    pub(crate) dirty: &'a [bool],
}

impl TileGrid<'_> {
    pub(crate) fn bounds(&self, col: usize, row: usize, width: usize, height: usize) -> Bounds {
        Bounds {
            x0: col * self.tile,
            y0: row * self.tile,
            x1: ((col + 1) * self.tile).min(width),
            y1: ((row + 1) * self.tile).min(height),
        }
    }
}

/// Finds copy rectangles that turn `old` into `new` over as many dirty tiles
/// as possible. Destinations do not overlap at tile level; every copy is exact.
pub(crate) fn detect(
    old: &Plane<'_>,
    new: &Plane<'_>,
    grid: &TileGrid<'_>,
    min_dirty: usize,
) -> Vec<CopyRect> {
    let dirty_count = grid.dirty.iter().filter(|d| **d).count();
    if dirty_count < min_dirty || old.width != new.width || old.height != new.height {
        return Vec::new();
    }
    // Bounding box of the dirty tiles.
    let (mut c0, mut r0, mut c1, mut r1) = (usize::MAX, usize::MAX, 0, 0);
    for r in 0..grid.rows {
        for c in 0..grid.cols {
            if grid.dirty[r * grid.cols + c] {
                c0 = c0.min(c);
                r0 = r0.min(r);
                c1 = c1.max(c + 1);
                r1 = r1.max(r + 1);
            }
        }
    }
    let area = Bounds {
        x0: c0 * grid.tile,
        y0: r0 * grid.tile,
        x1: (c1 * grid.tile).min(new.width),
        y1: (r1 * grid.tile).min(new.height),
    };
    let candidates = vote_offsets(old, new, area);
    if candidates.is_empty() {
        return Vec::new();
    }
    // Which candidate each dirty tile matches (index + 1; 0 = none).
    let mut assigned = vec![0usize; grid.dirty.len()];
    for r in r0..r1 {
        for c in c0..c1 {
            let i = r * grid.cols + c;
            if !grid.dirty[i] {
                continue;
            }
            let b = grid.bounds(c, r, new.width, new.height);
            if let Some(k) = candidates
                .iter()
                .position(|&d| region_matches(old, new, b, d))
            {
                assigned[i] = k + 1;
            }
        }
    }
    // Runs of tiles per row, then merged down rows with the same span.
    let mut rects: Vec<(usize, Bounds)> = Vec::new();
    for r in r0..r1 {
        let mut c = c0;
        while c < c1 {
            let k = assigned[r * grid.cols + c];
            if k == 0 {
                c += 1;
                continue;
            }
            let start = c;
            while c < c1 && assigned[r * grid.cols + c] == k {
                c += 1;
            }
            let b = Bounds {
                x0: start * grid.tile,
                y0: r * grid.tile,
                x1: (c * grid.tile).min(new.width),
                y1: ((r + 1) * grid.tile).min(new.height),
            };
            match rects
                .iter_mut()
                .find(|(kk, o)| *kk == k && o.x0 == b.x0 && o.x1 == b.x1 && o.y1 == b.y0)
            {
                Some((_, o)) => o.y1 = b.y1,
                None => rects.push((k, b)),
            }
        }
    }
    rects
        .into_iter()
        .map(|(k, b)| {
            let d = candidates[k - 1];
            let g = grow(old, new, b, d, grid.tile - 1);
            CopyRect {
                src_x: (g.x0 as i64 + i64::from(d.0)) as u32,
                src_y: (g.y0 as i64 + i64::from(d.1)) as u32,
                dst_x: g.x0 as u32,
                dst_y: g.y0 as u32,
                width: (g.x1 - g.x0) as u32,
                height: (g.y1 - g.y0) as u32,
            }
        })
        .collect()
}
