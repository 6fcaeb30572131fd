//! The host side: turns a sequence of [`BgraFrame`]s into [`FrameUpdate`]s.
//!
//! Per frame: quantise (reduced colour depths) → find dirty tiles against a
//! model of the viewer's framebuffer → detect scrolls and moves (copy
//! rectangles, applied to the model) → encode each changed part of a dirty
//! tile (cache hit, solid, palette + runs, median-predicted, or JPEG for
//! photo-like tiles that keep changing when lossy tiles are allowed) → zstd.
//!
//! The model is exactly what the viewer's [`Decoder`](super::Decoder) holds,
//! so copies and lossy tiles never drift: a JPEG tile is decoded into the
//! model too, and is resent losslessly once its region stops changing.

use bytes::Bytes;
use rsupport_proto::screen::{
    DisplaySettings, FrameUpdate, PaletteIndices, PaletteTile, Tile, TileBatch, TileCompression,
    TileData, MAX_FRAME_SIDE, MAX_TILE_BYTES,
};
use rsupport_proto::ColorDepth;

use super::cache::{TileCache, DEFAULT_CACHE_BYTES};
use super::decoder::apply_copies;
use super::error::EncodeError;
use super::hash::hash_bytes;
use super::motion::{self, Plane, TileGrid};
use super::quantize::Quantizer;
use super::tile_format::{self, Area, PaletteScratch, Scan};
use crate::source::DirtyRegion;
use crate::BgraFrame;

/// Tile side, pixels.
pub const TILE: usize = 64;
/// Consecutive changed frames after which a photo-like tile may go lossy.
const LOSSY_AFTER: u8 = 3;
/// Tiles with at most this many colours always go as palette tiles; above
/// it (up to 256) only when their runs are long, else as predicted tiles
/// (measured: sending all ≤256-colour tiles as palettes made the window drag
/// 60% and the recorded drag 13% larger).
const PALETTE_MAX_COLORS: usize = 64;
/// Palette tiles with more than one run per this many pixels send per-pixel indices.
const PER_PIXEL_RUN_FACTOR: usize = 3;
/// Dirty tiles needed before the motion search runs (typing never pays for it).
const MOTION_MIN_DIRTY: usize = 4;

/// Encoder settings. Start from [`EncoderConfig::default`] and adjust fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncoderConfig {
    /// Colour depth to quantise to; only `TrueColor` is lossless.
    pub color_depth: ColorDepth,
    /// Whether photo-like tiles that keep changing may be sent as JPEG.
    pub allow_lossy: bool,
    /// JPEG quality (1–100).
    pub jpeg_quality: u8,
    /// Tile cache entries; must not exceed what the viewer advertised. 0 = no cache.
    pub cache_entries: usize,
    /// zstd level for the tile batch.
    pub zstd_level: i32,
    /// Detect scrolling and moved windows.
    pub detect_motion: bool,
    /// Monitor id written into every update.
    pub monitor_id: u32,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            color_depth: ColorDepth::TrueColor,
            allow_lossy: false,
            jpeg_quality: 70,
            cache_entries: 1024,
            zstd_level: 1,
            detect_motion: true,
            monitor_id: 0,
        }
    }
}

/// What the last [`Encoder::encode`] produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodeStats {
    /// Tiles that changed before copies were applied.
    pub dirty_tiles: usize,
    /// Copy rectangles sent.
    pub copies: usize,
    /// Tiles by encoding.
    pub solid: usize,
    /// Palette tiles.
    pub palette: usize,
    /// Median-predicted tiles.
    pub predicted: usize,
    /// Cache hits.
    pub cached: usize,
    /// JPEG tiles.
    pub jpeg: usize,
    /// Tile batch bytes before compression.
    pub raw_bytes: usize,
    /// Tile batch bytes after compression.
    pub compressed_bytes: usize,
}

/// Encodes frames for one viewer. See the [codec module docs](crate::codec) for
/// the pipeline and an example.
pub struct Encoder {
    config: EncoderConfig,
    quantizer: Quantizer,
    /// What the viewer's framebuffer holds.
    model: Option<BgraFrame>,
    /// Source pixels of the previous frame (only kept when lossy tiles are allowed).
    prev_source: Vec<u8>,
    quantized: Vec<u8>,
    dirty: Vec<bool>,
    /// Consecutive frames each tile changed in.
    age: Vec<u8>,
    /// Tiles whose model pixels came from a JPEG.
    lossy: Vec<bool>,
    cache: TileCache,
    next_cache_id: u64,
    seq: u64,
    force_key: bool,
    palette: PaletteScratch,
    scratch: Vec<u8>,
    copy_scratch: Vec<u8>,
    compressor: Option<zstd::bulk::Compressor<'static>>,
    stats: EncodeStats,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("config", &self.config)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// A tile's pixel rectangle, half-open.
#[derive(Clone, Copy)]
struct Span {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

impl Span {
    fn area(&self) -> Area {
        Area {
            x: self.x0,
            y: self.y0,
            w: self.x1 - self.x0,
            h: self.y1 - self.y0,
        }
    }
}

fn tile_span(col: usize, row: usize, width: usize, height: usize) -> Span {
    Span {
        x0: col * TILE,
        y0: row * TILE,
        x1: ((col + 1) * TILE).min(width),
        y1: ((row + 1) * TILE).min(height),
    }
}

/// The smallest rectangle inside `t` where `a` and `b` differ.
fn changed_part(a: &[u8], b: &[u8], stride: usize, t: Span) -> Option<Span> {
    let seg = |y: usize| (y * stride + t.x0 * 4)..(y * stride + t.x1 * 4);
    let y0 = (t.y0..t.y1).find(|&y| a[seg(y)] != b[seg(y)])?;
    let y1 = (y0..t.y1).rev().find(|&y| a[seg(y)] != b[seg(y)])? + 1;
    let (mut x0, mut x1) = (t.x1, t.x0);
    for y in y0..y1 {
        let (ra, rb) = (&a[seg(y)], &b[seg(y)]);
        let mut pairs = ra.chunks_exact(4).zip(rb.chunks_exact(4));
        if let Some(first) = pairs.position(|(p, q)| p != q) {
            x0 = x0.min(t.x0 + first);
            let last = ra
                .chunks_exact(4)
                .zip(rb.chunks_exact(4))
                .rposition(|(p, q)| p != q)
                .unwrap_or(first);
            x1 = x1.max(t.x0 + last + 1);
        }
    }
    Some(Span { x0, y0, x1, y1 })
}

impl Encoder {
    /// An encoder whose first update will be a key frame.
    pub fn new(config: EncoderConfig) -> Self {
        Encoder {
            quantizer: Quantizer::new(config.color_depth),
            cache: TileCache::new(config.cache_entries, DEFAULT_CACHE_BYTES),
            compressor: zstd::bulk::Compressor::new(config.zstd_level).ok(),
            config,
            model: None,
            prev_source: Vec::new(),
            quantized: Vec::new(),
            dirty: Vec::new(),
            age: Vec::new(),
            lossy: Vec::new(),
            next_cache_id: 1,
            seq: 0,
            force_key: true,
            palette: PaletteScratch::default(),
            scratch: Vec::new(),
            copy_scratch: Vec::new(),
            stats: EncodeStats::default(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Counters of the last encoded frame.
    pub fn last_stats(&self) -> EncodeStats {
        self.stats
    }

    /// Makes the next update a key frame and forgets the tile cache, as the
    /// viewer does after an error. Call on `ScreenMessage::Refresh`.
    pub fn request_key_frame(&mut self) {
        self.force_key = true;
        self.cache.clear();
    }

    /// Applies the viewer's display settings (colour depth, lossy tiles,
    /// monitor); a change of depth or lossiness starts with a key frame.
    pub fn apply_settings(&mut self, settings: &DisplaySettings) {
        if settings.color_depth != self.quantizer.depth()
            || settings.allow_lossy != self.config.allow_lossy
        {
            self.config.color_depth = settings.color_depth;
            self.config.allow_lossy = settings.allow_lossy;
            self.quantizer = Quantizer::new(settings.color_depth);
            self.request_key_frame();
        }
        if settings.monitor_id != 0 {
            self.config.monitor_id = settings.monitor_id;
        }
    }

    /// Encodes `frame` (captured at `captured_at_ms`) into the next update.
    /// When nothing changed the update carries no copies and an empty batch.
    pub fn encode(
        &mut self,
        frame: &BgraFrame,
        captured_at_ms: u64,
    ) -> Result<FrameUpdate, EncodeError> {
        self.encode_with_hint(frame, captured_at_ms, None)
    }

    /// As [`encode`](Self::encode), but compares only the tiles `damage` touches
    /// (a capture source's dirty region, e.g. X11 DAMAGE): far less work when
    /// little changed. Pixels changed outside `damage` are not sent, so the
    /// region must be complete; a full region compares everything.
    pub fn encode_damaged(
        &mut self,
        frame: &BgraFrame,
        damage: &DirtyRegion,
        captured_at_ms: u64,
    ) -> Result<FrameUpdate, EncodeError> {
        if damage.is_full() {
            return self.encode_with_hint(frame, captured_at_ms, None);
        }
        let (w, h) = (frame.width() as i64, frame.height() as i64);
        let cols = (w as usize).div_ceil(TILE);
        let mut mask = vec![false; cols * (h as usize).div_ceil(TILE)];
        for r in damage.rects() {
            let (x0, y0) = (i64::from(r.x).clamp(0, w), i64::from(r.y).clamp(0, h));
            let (x1, y1) = (r.right().clamp(0, w), r.bottom().clamp(0, h));
            if x0 >= x1 || y0 >= y1 {
                continue;
            }
            for row in (y0 as usize / TILE)..=((y1 as usize - 1) / TILE) {
                for col in (x0 as usize / TILE)..=((x1 as usize - 1) / TILE) {
                    mask[row * cols + col] = true;
                }
            }
        }
        self.encode_with_hint(frame, captured_at_ms, Some(mask))
    }

    fn encode_with_hint(
        &mut self,
        frame: &BgraFrame,
        captured_at_ms: u64,
        hint: Option<Vec<bool>>,
    ) -> Result<FrameUpdate, EncodeError> {
        let (width, height) = (frame.width(), frame.height());
        if width == 0 || height == 0 || width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
            return Err(EncodeError::FrameSize { width, height });
        }
        let mut source = std::mem::take(&mut self.quantized);
        let src: &[u8] = if self.quantizer.is_identity() {
            frame.pixels()
        } else {
            source.resize(frame.pixels().len(), 0);
            self.quantizer.apply(frame.pixels(), &mut source);
            &source
        };
        let result = self.encode_source(src, width, height, captured_at_ms, hint);
        self.quantized = source;
        result
    }

    fn encode_source(
        &mut self,
        src: &[u8],
        width: u32,
        height: u32,
        captured_at_ms: u64,
        hint: Option<Vec<bool>>,
    ) -> Result<FrameUpdate, EncodeError> {
        let (w, h) = (width as usize, height as usize);
        let stride = w * 4;
        let (cols, rows) = (w.div_ceil(TILE), h.div_ceil(TILE));
        let key_frame = self.force_key
            || self
                .model
                .as_ref()
                .is_none_or(|m| m.width() != width || m.height() != height);
        let mut stats = EncodeStats::default();
        let mut model = match self.model.take() {
            Some(m) if !key_frame => m,
            Some(m) if m.width() == width && m.height() == height => m,
            _ => BgraFrame::filled(width, height, [0, 0, 0, 255]),
        };
        if key_frame {
            self.dirty = vec![true; cols * rows];
            self.age = vec![0; cols * rows];
            self.lossy = vec![false; cols * rows];
            if self.config.allow_lossy {
                self.prev_source = src.to_vec();
            }
        } else {
            self.find_dirty(src, model.pixels(), w, hint.as_deref());
        }
        stats.dirty_tiles = self.dirty.iter().filter(|d| **d).count();

        let copies = if !key_frame && self.config.detect_motion {
            let grid = TileGrid {
                tile: TILE,
                cols,
                rows,
                dirty: &self.dirty,
            };
            let old = Plane {
                pixels: model.pixels(),
                width: w,
                height: h,
            };
            let new = Plane {
                pixels: src,
                width: w,
                height: h,
            };
            motion::detect(&old, &new, &grid, MOTION_MIN_DIRTY)
        } else {
            Vec::new()
        };
        // Copies come from our own verified search, so they always fit.
        if apply_copies(&mut model, &copies, &mut self.copy_scratch).is_err() {
            debug_assert!(false, "encoder produced an invalid copy");
        }
        stats.copies = copies.len();

        let mut tiles = Vec::new();
        for row in 0..rows {
            for col in 0..cols {
                let t = row * cols + col;
                if !self.dirty[t] {
                    continue;
                }
                let span = tile_span(col, row, w, h);
                if let Some(tile) =
                    self.encode_tile(src, &mut model, stride, span, t, key_frame, &mut stats)
                {
                    tiles.push(tile);
                }
            }
        }
        if self.config.allow_lossy {
            // Remember this frame's source for the next frame's change test.
            for (t, d) in self.dirty.iter().enumerate() {
                if *d {
                    let s = tile_span(t % cols, t / cols, w, h);
                    for y in s.y0..s.y1 {
                        let r = y * stride + s.x0 * 4..y * stride + s.x1 * 4;
                        self.prev_source[r.clone()].copy_from_slice(&src[r]);
                    }
                }
            }
        }
        self.model = Some(model);
        self.force_key = false;
        self.seq += 1;

        let batch = TileBatch { tiles }.encode();
        stats.raw_bytes = batch.len();
        let compressed = if batch.is_empty() {
            Ok(Bytes::new())
        } else {
            match self.compressor.as_mut().map(|c| c.compress(&batch)) {
                Some(Ok(c)) if c.len() > MAX_TILE_BYTES => {
                    Err(EncodeError::TooLarge { bytes: c.len() })
                }
                Some(Ok(c)) => Ok(Bytes::from(c)),
                _ => Err(EncodeError::Compression),
            }
        };
        let compressed = match compressed {
            Ok(c) => c,
            Err(e) => {
                // The model already holds this frame, which the viewer will
                // never see: start over from a key frame.
                self.model = None;
                self.request_key_frame();
                return Err(e);
            }
        };
        stats.compressed_bytes = compressed.len();
        self.stats = stats;
        Ok(FrameUpdate {
            seq: self.seq,
            monitor_id: self.config.monitor_id,
            width,
            height,
            key_frame,
            copies,
            compression: TileCompression::Zstd,
            tiles_raw_len: batch.len() as u32,
            tiles: compressed,
            captured_at_ms,
        })
    }

    /// Marks tiles whose source differs from the model, and updates change ages.
    fn find_dirty(&mut self, src: &[u8], model: &[u8], w: usize, candidates: Option<&[bool]>) {
        let (stride, cols) = (w * 4, w.div_ceil(TILE));
        let h = src.len() / stride;
        self.dirty.fill(false);
        for y in 0..h {
            let band = (y / TILE) * cols;
            let row = y * stride..(y + 1) * stride;
            if candidates.is_none() && src[row.clone()] == model[row] {
                continue;
            }
            for col in 0..cols {
                let t = band + col;
                if self.dirty[t] || candidates.is_some_and(|c| !c[t] && !self.lossy[t]) {
                    continue;
                }
                let x1 = ((col + 1) * TILE).min(w);
                let seg = y * stride + col * TILE * 4..y * stride + x1 * 4;
                if src[seg.clone()] != model[seg] {
                    self.dirty[t] = true;
                }
            }
        }
        for t in 0..self.dirty.len() {
            // A JPEG tile always differs from the source; what matters for it
            // is whether the *source* changed since the last frame.
            let changed = if self.lossy[t] {
                let s = tile_span(t % cols, t / cols, w, h);
                changed_part(src, &self.prev_source, stride, s).is_some()
            } else {
                self.dirty[t]
            };
            self.age[t] = if changed {
                self.age[t].saturating_add(1)
            } else {
                0
            };
        }
    }

    /// Encodes what changed in one dirty tile and brings the model up to date.
    #[allow(clippy::too_many_arguments)]
    fn encode_tile(
        &mut self,
        src: &[u8],
        model: &mut BgraFrame,
        stride: usize,
        span: Span,
        t: usize,
        key_frame: bool,
        stats: &mut EncodeStats,
    ) -> Option<Tile> {
        let part = if key_frame {
            span
        } else {
            changed_part(src, model.pixels(), stride, span)?
        };
        let full = span.area();
        let full_size = full.w == TILE && full.h == TILE;
        let mut scan = None;

        if self.config.allow_lossy && self.age[t] >= LOSSY_AFTER {
            let s = tile_format::scan(src, stride, full, &mut self.palette);
            if matches!(s, Scan::Many) {
                if let Some(jpeg) =
                    tile_format::encode_jpeg(src, stride, full, self.config.jpeg_quality)
                {
                    if tile_format::decode_jpeg(&jpeg, model.pixels_mut(), stride, full).is_ok() {
                        self.lossy[t] = true;
                        stats.jpeg += 1;
                        return Some(make_tile(full, TileData::Jpeg(Bytes::from(jpeg)), None));
                    }
                }
            }
            scan = Some(s);
        }
        let region = if self.lossy[t] || (part.area().pixels() * 2 >= full.pixels()) {
            full
        } else {
            part.area()
        };
        self.lossy[t] = false;

        let mut hash = 0;
        if self.cache.capacity() > 0 && region == full && full_size {
            tile_format::extract(src, stride, full, &mut self.scratch);
            hash = hash_bytes(0, &self.scratch);
            if let Some(id) = self
                .cache
                .find(hash, TILE as u32, TILE as u32, &self.scratch)
            {
                self.cache.touch(id);
                copy_area(src, model.pixels_mut(), stride, full);
                stats.cached += 1;
                return Some(make_tile(full, TileData::Cached(id), None));
            }
        }
        let scan = match scan {
            Some(s) if region == full => s,
            _ => tile_format::scan(src, stride, region, &mut self.palette),
        };
        let data = match scan {
            Scan::Solid(c) => {
                stats.solid += 1;
                TileData::Solid(c)
            }
            Scan::Palette {
                colors,
                runs,
                run_count,
            } if colors.len() <= PALETTE_MAX_COLORS || run_count * 2 <= region.pixels() => {
                stats.palette += 1;
                // Short runs (anti-aliased text): one byte per pixel lets zstd
                // match repeated glyph rows, which run pairs hide.
                let indices = if run_count * PER_PIXEL_RUN_FACTOR > region.pixels() {
                    PaletteIndices::PerPixel(Bytes::from(tile_format::palette_indices(
                        src,
                        stride,
                        region,
                        &mut self.palette,
                        &colors,
                    )))
                } else {
                    PaletteIndices::Runs(Bytes::from(runs))
                };
                TileData::Palette(PaletteTile { colors, indices })
            }
            _ => {
                stats.predicted += 1;
                let mut out = Vec::new();
                tile_format::encode_predicted(src, stride, region, &mut out);
                TileData::Predicted(Bytes::from(out))
            }
        };
        let cache_id = if hash != 0 && !matches!(data, TileData::Solid(_)) {
            let id = self.next_cache_id;
            self.next_cache_id += 1;
            self.cache
                .insert(id, TILE as u32, TILE as u32, &self.scratch, hash);
            Some(id)
        } else {
            None
        };
        copy_area(src, model.pixels_mut(), stride, region);
        Some(make_tile(region, data, cache_id))
    }
}

fn copy_area(src: &[u8], dst: &mut [u8], stride: usize, a: Area) {
    for r in 0..a.h {
        let range = a.row_range(stride, r);
        dst[range.clone()].copy_from_slice(&src[range]);
    }
}

fn make_tile(a: Area, data: TileData, cache_id: Option<u64>) -> Tile {
    Tile {
        x: a.x as u32,
        y: a.y as u32,
        width: a.w as u32,
        height: a.h as u32,
        data,
        cache_id,
    }
}
