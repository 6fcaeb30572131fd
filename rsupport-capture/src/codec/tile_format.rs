//! Pixel encodings of one tile: solid, palette + run lengths, median-predicted
//! residuals, raw and JPEG. Encoders read a rectangle of a frame buffer;
//! decoders write one. Decoders check every index and length and never panic.

use std::io::Cursor;

use super::error::CodecError;

/// A rectangle of a frame buffer, in pixels, already known to fit inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Area {
    pub(crate) x: usize,
    pub(crate) y: usize,
    pub(crate) w: usize,
    pub(crate) h: usize,
}

impl Area {
    pub(crate) fn pixels(&self) -> usize {
        self.w * self.h
    }

    /// Byte range of row `r` of the area inside a buffer with `stride` bytes per row.
    #[inline]
    pub(crate) fn row_range(&self, stride: usize, r: usize) -> std::ops::Range<usize> {
        let start = (self.y + r) * stride + self.x * 4;
        start..start + self.w * 4
    }
}

#[inline(always)]
fn px(chunk: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(chunk);
    u32::from_le_bytes(b)
}

/// What a colour scan found.
pub(crate) enum Scan {
    /// One colour (BGRA).
    Solid([u8; 4]),
    /// At most 256 colours: palette entries and `(index, varint run)` pairs.
    Palette {
        colors: Vec<[u8; 4]>,
        runs: Vec<u8>,
        run_count: usize,
    },
    /// More than 256 colours.
    Many,
}

/// Reusable lookup table for palette scans (no allocation per tile).
pub(crate) struct PaletteScratch {
    keys: Vec<u32>,
    slots: Vec<u16>,
    gen: Vec<u32>,
    current: u32,
}

const TABLE: usize = 1024;

impl Default for PaletteScratch {
    fn default() -> Self {
        PaletteScratch {
            keys: vec![0; TABLE],
            slots: vec![0; TABLE],
            gen: vec![0; TABLE],
            current: 0,
        }
    }
}

impl PaletteScratch {
    /// Index of `color` in `palette`, adding it; `None` past 256 colours.
    #[inline]
    fn index_of(&mut self, color: u32, palette: &mut Vec<u32>) -> Option<u8> {
        let mut slot = (color.wrapping_mul(0x9e37_79b1) >> 22) as usize;
        loop {
            if self.gen[slot] != self.current {
                if palette.len() == 256 {
                    return None;
                }
                self.gen[slot] = self.current;
                self.keys[slot] = color;
                self.slots[slot] = palette.len() as u16;
                palette.push(color);
                return Some((palette.len() - 1) as u8);
            }
            if self.keys[slot] == color {
                return Some(self.slots[slot] as u8);
            }
            slot = (slot + 1) & (TABLE - 1);
        }
    }
}

fn push_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Scans `area` for its colours, building palette runs as it goes.
pub(crate) fn scan(src: &[u8], stride: usize, area: Area, scratch: &mut PaletteScratch) -> Scan {
    scratch.current = scratch.current.wrapping_add(1);
    if scratch.current == 0 {
        scratch.gen.fill(0);
        scratch.current = 1;
    }
    let mut palette: Vec<u32> = Vec::new();
    let mut runs = Vec::new();
    let mut run_count = 0;
    let mut cur_color = 0u32;
    let mut cur_index = 0u8;
    let mut run = 0usize;
    for r in 0..area.h {
        for c in src[area.row_range(stride, r)].chunks_exact(4) {
            let color = px(c);
            if run > 0 && color == cur_color {
                run += 1;
                continue;
            }
            if run > 0 {
                runs.push(cur_index);
                push_varint(&mut runs, run);
                run_count += 1;
            }
            match scratch.index_of(color, &mut palette) {
                Some(i) => cur_index = i,
                None => return Scan::Many,
            }
            cur_color = color;
            run = 1;
        }
    }
    if palette.len() == 1 {
        return Scan::Solid(cur_color.to_le_bytes());
    }
    runs.push(cur_index);
    push_varint(&mut runs, run);
    run_count += 1;
    Scan::Palette {
        colors: palette.iter().map(|c| c.to_le_bytes()).collect(),
        runs,
        run_count,
    }
}

/// One palette index byte per pixel of `area`, using the table of the
/// [`scan`] that just found this area's palette.
pub(crate) fn palette_indices(
    src: &[u8],
    stride: usize,
    area: Area,
    scratch: &mut PaletteScratch,
    palette: &[[u8; 4]],
) -> Vec<u8> {
    let mut table: Vec<u32> = palette.iter().map(|c| u32::from_le_bytes(*c)).collect();
    let mut out = Vec::with_capacity(area.pixels());
    let (mut last, mut last_index) = (None, 0u8);
    for r in 0..area.h {
        for c in src[area.row_range(stride, r)].chunks_exact(4) {
            let color = px(c);
            if last != Some(color) {
                // Every colour is already in the table, so this never adds one.
                last_index = scratch.index_of(color, &mut table).unwrap_or(0);
                last = Some(color);
            }
            out.push(last_index);
        }
    }
    out
}

/// Writes one palette colour per index byte into `area` of `dst`.
pub(crate) fn decode_indices(
    colors: &[[u8; 4]],
    indices: &[u8],
    dst: &mut [u8],
    stride: usize,
    area: Area,
) -> Result<(), CodecError> {
    if indices.len() != area.pixels() {
        return Err(CodecError::Corrupt("index count"));
    }
    for (r, row_idx) in indices.chunks_exact(area.w).enumerate() {
        let row = dst
            .get_mut(area.row_range(stride, r))
            .ok_or(CodecError::OutOfBounds("tile"))?;
        for (p, &i) in row.chunks_exact_mut(4).zip(row_idx) {
            let color = colors
                .get(usize::from(i))
                .ok_or(CodecError::Corrupt("palette index out of range"))?;
            p.copy_from_slice(color);
        }
    }
    Ok(())
}

/// The JPEG-LS median predictor of one channel.
#[inline(always)]
fn med(a: u8, b: u8, c: u8) -> u8 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    if c >= hi {
        lo
    } else if c <= lo {
        hi
    } else {
        a.wrapping_add(b).wrapping_sub(c)
    }
}

/// Median-predictor residuals of `area`: four planes (B, G, R, A), each
/// row-major. Planes keep bytes of like statistics together, which zstd
/// compresses better (an opaque alpha plane shrinks to almost nothing).
pub(crate) fn encode_predicted(src: &[u8], stride: usize, area: Area, out: &mut Vec<u8>) {
    let n = area.pixels();
    out.clear();
    out.resize(n * 4, 0);
    let (b, rest) = out.split_at_mut(n);
    let (g, rest) = rest.split_at_mut(n);
    let (r_plane, a_plane) = rest.split_at_mut(n);
    let mut planes = [b, g, r_plane, a_plane];
    let zero = vec![0u8; area.w * 4];
    for r in 0..area.h {
        let cur = &src[area.row_range(stride, r)];
        let up: &[u8] = if r == 0 {
            &zero
        } else {
            &src[area.row_range(stride, r - 1)]
        };
        let base = r * area.w;
        for (k, plane) in planes.iter_mut().enumerate() {
            let row = &mut plane[base..base + area.w];
            row[0] = cur[k].wrapping_sub(med(0, up[k], 0));
            for (c, out) in row.iter_mut().enumerate().skip(1) {
                let i = c * 4 + k;
                *out = cur[i].wrapping_sub(med(cur[i - 4], up[i], up[i - 4]));
            }
        }
    }
}

/// Undoes [`encode_predicted`] into `area` of `dst`. `residuals` is `area.pixels() * 4` bytes.
pub(crate) fn decode_predicted(
    residuals: &[u8],
    dst: &mut [u8],
    stride: usize,
    area: Area,
) -> Result<(), CodecError> {
    let n = area.pixels();
    if residuals.len() != n * 4 {
        return Err(CodecError::Corrupt("predicted length"));
    }
    let row_bytes = area.w * 4;
    let mut prev = vec![0u8; row_bytes];
    let mut line = vec![0u8; row_bytes];
    for r in 0..area.h {
        let base = r * area.w;
        for k in 0..4 {
            let res = &residuals[k * n + base..k * n + base + area.w];
            line[k] = res[0].wrapping_add(med(0, prev[k], 0));
            for (c, r) in res.iter().enumerate().skip(1) {
                let i = c * 4 + k;
                line[i] = r.wrapping_add(med(line[i - 4], prev[i], prev[i - 4]));
            }
        }
        let range = area.row_range(stride, r);
        dst.get_mut(range)
            .ok_or(CodecError::OutOfBounds("tile"))?
            .copy_from_slice(&line);
        std::mem::swap(&mut prev, &mut line);
    }
    Ok(())
}

/// Fills `area` of `dst` with one colour.
pub(crate) fn fill_solid(
    color: [u8; 4],
    dst: &mut [u8],
    stride: usize,
    area: Area,
) -> Result<(), CodecError> {
    for r in 0..area.h {
        let row = dst
            .get_mut(area.row_range(stride, r))
            .ok_or(CodecError::OutOfBounds("tile"))?;
        for p in row.chunks_exact_mut(4) {
            p.copy_from_slice(&color);
        }
    }
    Ok(())
}

/// Copies tightly packed BGRA `pixels` into `area` of `dst`.
pub(crate) fn blit(
    pixels: &[u8],
    dst: &mut [u8],
    stride: usize,
    area: Area,
) -> Result<(), CodecError> {
    let row_bytes = area.w * 4;
    if pixels.len() != row_bytes * area.h {
        return Err(CodecError::Corrupt("pixel length"));
    }
    for (r, src) in pixels.chunks_exact(row_bytes).enumerate() {
        dst.get_mut(area.row_range(stride, r))
            .ok_or(CodecError::OutOfBounds("tile"))?
            .copy_from_slice(src);
    }
    Ok(())
}

/// Copies `area` of `src` into a tightly packed buffer.
pub(crate) fn extract(src: &[u8], stride: usize, area: Area, out: &mut Vec<u8>) {
    out.clear();
    for r in 0..area.h {
        out.extend_from_slice(&src[area.row_range(stride, r)]);
    }
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<usize, CodecError> {
    let mut v: usize = 0;
    for shift in (0..35).step_by(7) {
        let b = *buf.get(*pos).ok_or(CodecError::Corrupt("truncated run"))?;
        *pos += 1;
        v |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(CodecError::Corrupt("run length varint too long"))
}

/// Decodes palette runs into `area` of `dst`. Every index must name a colour
/// and the runs must cover the area exactly.
pub(crate) fn decode_palette(
    colors: &[[u8; 4]],
    runs: &[u8],
    dst: &mut [u8],
    stride: usize,
    area: Area,
) -> Result<(), CodecError> {
    let total = area.pixels();
    let mut done = 0usize;
    let mut pos = 0usize;
    while pos < runs.len() {
        let index = runs[pos];
        pos += 1;
        let len = read_varint(runs, &mut pos)?;
        let color = *colors
            .get(usize::from(index))
            .ok_or(CodecError::Corrupt("palette index out of range"))?;
        if len == 0 || len > total - done {
            return Err(CodecError::Corrupt("run length"));
        }
        let mut left = len;
        while left > 0 {
            let (r, c) = (done / area.w, done % area.w);
            let n = left.min(area.w - c);
            let start = (area.y + r) * stride + (area.x + c) * 4;
            let row = dst
                .get_mut(start..start + n * 4)
                .ok_or(CodecError::OutOfBounds("tile"))?;
            for p in row.chunks_exact_mut(4) {
                p.copy_from_slice(&color);
            }
            done += n;
            left -= n;
        }
    }
    if done != total {
        return Err(CodecError::Corrupt("runs do not cover the tile"));
    }
    Ok(())
}

/// Encodes `area` as a baseline JPEG of `quality` (1–100).
pub(crate) fn encode_jpeg(src: &[u8], stride: usize, area: Area, quality: u8) -> Option<Vec<u8>> {
    let mut rgb = Vec::with_capacity(area.pixels() * 3);
    for r in 0..area.h {
        for p in src[area.row_range(stride, r)].chunks_exact(4) {
            rgb.extend_from_slice(&[p[2], p[1], p[0]]);
        }
    }
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    image::ImageEncoder::write_image(
        encoder,
        &rgb,
        area.w as u32,
        area.h as u32,
        image::ExtendedColorType::Rgb8,
    )
    .ok()?;
    Some(out)
}

/// Decodes a JPEG tile into `area` of `dst` (alpha 255). The JPEG's own size
/// must equal the tile's, checked from its header before decoding.
pub(crate) fn decode_jpeg(
    jpeg: &[u8],
    dst: &mut [u8],
    stride: usize,
    area: Area,
) -> Result<(), CodecError> {
    use image::ImageDecoder;
    let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(jpeg))
        .map_err(|_| CodecError::Corrupt("jpeg header"))?;
    if decoder.dimensions() != (area.w as u32, area.h as u32) {
        return Err(CodecError::Corrupt("jpeg size differs from the tile"));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(area.w as u32);
    limits.max_image_height = Some(area.h as u32);
    limits.max_alloc = Some((area.pixels() as u64) * 16 + 65_536);
    decoder
        .set_limits(limits)
        .map_err(|_| CodecError::OverLimit("jpeg"))?;
    let (bpp, gray) = match decoder.color_type() {
        image::ColorType::Rgb8 => (3, false),
        image::ColorType::L8 => (1, true),
        _ => return Err(CodecError::Corrupt("jpeg colour type")),
    };
    let mut buf = vec![0u8; area.pixels() * bpp];
    if decoder.total_bytes() != buf.len() as u64 {
        return Err(CodecError::Corrupt("jpeg size"));
    }
    decoder
        .read_image(&mut buf)
        .map_err(|_| CodecError::Corrupt("jpeg data"))?;
    for (r, src) in buf.chunks_exact(area.w * bpp).enumerate() {
        let row = dst
            .get_mut(area.row_range(stride, r))
            .ok_or(CodecError::OutOfBounds("tile"))?;
        for (d, s) in row.chunks_exact_mut(4).zip(src.chunks_exact(bpp)) {
            let (b, g, rr) = if gray {
                (s[0], s[0], s[0])
            } else {
                (s[2], s[1], s[0])
            };
            d.copy_from_slice(&[b, g, rr, 255]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(w: usize, h: usize, colors: u32) -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * 4);
        let mut s = 12345u32;
        for _ in 0..w * h {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            v.extend_from_slice(&((s >> 8) % colors).wrapping_mul(0x0103_0507).to_le_bytes());
        }
        v
    }

    #[test]
    fn palette_round_trips_inside_a_larger_buffer() {
        let (w, h) = (20, 9);
        let src = noisy(w, h, 5);
        let area = Area {
            x: 3,
            y: 2,
            w: 11,
            h: 5,
        };
        let Scan::Palette { colors, runs, .. } =
            scan(&src, w * 4, area, &mut PaletteScratch::default())
        else {
            panic!("5 colours make a palette")
        };
        let mut dst = vec![0u8; w * h * 4];
        decode_palette(&colors, &runs, &mut dst, w * 4, area).unwrap();
        for r in 0..area.h {
            assert_eq!(dst[area.row_range(w * 4, r)], src[area.row_range(w * 4, r)]);
        }
    }

    #[test]
    fn per_pixel_indices_round_trip_and_are_checked() {
        let (w, h) = (9, 6);
        let src = noisy(w, h, 7);
        let area = Area {
            x: 2,
            y: 1,
            w: 6,
            h: 4,
        };
        let mut scratch = PaletteScratch::default();
        let Scan::Palette { colors, .. } = scan(&src, w * 4, area, &mut scratch) else {
            panic!("7 colours make a palette")
        };
        let idx = palette_indices(&src, w * 4, area, &mut scratch, &colors);
        let mut dst = vec![0u8; w * h * 4];
        decode_indices(&colors, &idx, &mut dst, w * 4, area).unwrap();
        for r in 0..area.h {
            assert_eq!(dst[area.row_range(w * 4, r)], src[area.row_range(w * 4, r)]);
        }
        let mut bad = idx.clone();
        bad[3] = colors.len() as u8;
        assert!(decode_indices(&colors, &bad, &mut dst, w * 4, area).is_err());
        assert!(decode_indices(&colors, &idx[1..], &mut dst, w * 4, area).is_err());
    }

    #[test]
    fn scan_tells_solid_from_many() {
        let src = vec![7u8; 16 * 16 * 4];
        let area = Area {
            x: 0,
            y: 0,
            w: 16,
            h: 16,
        };
        assert!(matches!(
            scan(&src, 64, area, &mut PaletteScratch::default()),
            Scan::Solid([7, 7, 7, 7])
        ));
        let src = noisy(32, 32, 1 << 24);
        let area = Area {
            x: 0,
            y: 0,
            w: 32,
            h: 32,
        };
        assert!(matches!(
            scan(&src, 128, area, &mut PaletteScratch::default()),
            Scan::Many
        ));
    }

    #[test]
    fn predicted_round_trips() {
        let (w, h) = (13, 7);
        let src = noisy(w, h, 1 << 24);
        let area = Area {
            x: 1,
            y: 1,
            w: 10,
            h: 5,
        };
        let mut res = Vec::new();
        encode_predicted(&src, w * 4, area, &mut res);
        let mut dst = vec![0u8; w * h * 4];
        decode_predicted(&res, &mut dst, w * 4, area).unwrap();
        for r in 0..area.h {
            assert_eq!(dst[area.row_range(w * 4, r)], src[area.row_range(w * 4, r)]);
        }
    }

    #[test]
    fn hostile_runs_are_refused() {
        let area = Area {
            x: 0,
            y: 0,
            w: 2,
            h: 2,
        };
        let mut dst = vec![0u8; 16];
        let colors = [[1, 2, 3, 4]];
        // Index past the palette.
        assert!(decode_palette(&colors, &[1, 4], &mut dst, 8, area).is_err());
        // Too long, too short, zero, truncated, endless varint.
        assert!(decode_palette(&colors, &[0, 5], &mut dst, 8, area).is_err());
        assert!(decode_palette(&colors, &[0, 3], &mut dst, 8, area).is_err());
        assert!(decode_palette(&colors, &[0, 0, 0, 4], &mut dst, 8, area).is_err());
        assert!(decode_palette(&colors, &[0], &mut dst, 8, area).is_err());
        assert!(decode_palette(
            &colors,
            &[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &mut dst,
            8,
            area
        )
        .is_err());
        assert!(decode_palette(&colors, &[0, 4], &mut dst, 8, area).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn corrupted_jpeg_tiles_never_panic(flips in proptest::collection::vec((0usize..4096, 0u8..=255), 1..8)) {
            let (w, h) = (16, 16);
            let src: Vec<u8> = (0..w * h * 4).map(|i| (i * 7) as u8).collect();
            let area = Area { x: 0, y: 0, w, h };
            let mut jpeg = encode_jpeg(&src, w * 4, area, 80).unwrap();
            for (at, x) in flips {
                let i = at % jpeg.len();
                jpeg[i] ^= x;
            }
            let mut dst = vec![0u8; w * h * 4];
            let _ = decode_jpeg(&jpeg, &mut dst, w * 4, area);
        }
    }

    #[test]
    fn jpeg_round_trip_is_close_and_sized() {
        let (w, h) = (32, 16);
        let mut src = Vec::new();
        for y in 0..h {
            for x in 0..w {
                src.extend_from_slice(&[(x * 8) as u8, (y * 16) as u8, 128, 255]);
            }
        }
        let area = Area { x: 0, y: 0, w, h };
        let jpeg = encode_jpeg(&src, w * 4, area, 90).unwrap();
        let mut dst = vec![0u8; w * h * 4];
        decode_jpeg(&jpeg, &mut dst, w * 4, area).unwrap();
        let max_err = src
            .iter()
            .zip(&dst)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(max_err < 24, "max error {max_err}");
        let wrong = Area {
            x: 0,
            y: 0,
            w: 16,
            h: 16,
        };
        assert!(decode_jpeg(&jpeg, &mut dst, w * 4, wrong).is_err());
        assert!(decode_jpeg(&jpeg[..jpeg.len() / 2], &mut dst, w * 4, area).is_err());
    }
}
