//! The viewer side: applies [`FrameUpdate`]s to a BGRA framebuffer.
//!
//! Bounded and panic-free on hostile input. Before an update touches the
//! framebuffer the decoder checks, from [`Limits`]: the frame size and area;
//! the announced batch size (*before* decompressing, and decompression stops
//! at that size); the number of copies and of tiles (counted in the raw
//! batch before any tile is decoded); that every tile and copy lies inside
//! the frame; that every tile — solid and cached ones included — is within
//! the tile area cap; and that the pixels the whole update would write
//! (tiles, cache hits and copies) stay within
//! [`max_work_factor`](Limits::max_work_factor) frames. An update failing
//! any of these is refused whole and the picture stays as it was. Palette
//! indices, run lengths and cache ids are checked while applying; such an
//! error drops the picture.
//!
//! # Memory budget
//!
//! A decoder never holds more than [`Limits::memory_budget`] bytes: the
//! framebuffer (`max_frame_pixels` × 4), the tile cache
//! (`max_cache_bytes`, least recently used evicted first), the copy scratch
//! buffer (at most one frame while an update with several copies is
//! applied, given back afterwards beyond [`SCRATCH_KEEP`] bytes), one
//! decompressed batch (`max_batch_bytes`) with its decoded tiles, and one
//! tile's working buffers. With [`Limits::default`] that is about 141 MiB
//! at the very worst and about 32 MiB held between updates (a 2560×1600
//! framebuffer and a full cache); [`DecoderStats`] reports what it held.

use bytes::Bytes;
use rsupport_proto::screen::{
    CopyRect, FrameUpdate, PaletteIndices, TileBatch, TileCompression, TileData, MAX_TILE_BYTES,
};

use rsupport_proto::Rect;

use super::budget::{self, DecoderStats, TILE_STRUCT_BYTES};
use super::cache::{TileCache, DEFAULT_CACHE_BYTES};
use super::error::CodecError;
use super::tile_format::{self, Area};
use crate::BgraFrame;

/// The largest frame area, in pixels, a viewer holds by default: 2560×1600
/// (a QHD or WQXGA monitor at full size). Hosts scale larger screens down to
/// fit ([`crate::scale::effective_percent`]; a 4K screen is sent at 66%), so
/// the two ends stay in step and a peer can make a viewer hold at most about
/// 16 MiB of picture: the operator program stays within 64 MiB of its idle
/// size whatever a customer sends (`benches/hostile_frames.rs` in
/// rsupport-client measures it).
pub const DEFAULT_MAX_FRAME_PIXELS: u64 = 2560 * 1600;

/// Scratch bytes a decoder keeps between updates; larger buffers (a big
/// multi-copy update) are given back.
pub const SCRATCH_KEEP: usize = 4 * 1024 * 1024;

/// What a decoder accepts. Start from [`Limits::default`] and adjust fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest frame width, pixels.
    pub max_width: u32,
    /// Largest frame height, pixels.
    pub max_height: u32,
    /// Largest frame area, pixels: the framebuffer the viewer is willing to
    /// hold (4 bytes a pixel).
    pub max_frame_pixels: u64,
    /// Largest area of one tile of any kind, pixels.
    pub max_tile_area: u32,
    /// Largest tile batch once decompressed, bytes.
    pub max_batch_bytes: u32,
    /// Most tiles in one update.
    pub max_tiles: usize,
    /// Most copy rectangles in one update.
    pub max_copies: usize,
    /// Pixels one update may write (tiles, cache hits and copies together),
    /// as a multiple of its frame's pixels.
    pub max_work_factor: u32,
    /// Tile cache entries kept (advertise the same number to the host); 0 = no cache.
    pub cache_entries: usize,
    /// Pixel bytes the tile cache keeps; the host's encoder uses
    /// [`DEFAULT_CACHE_BYTES`], so keep the default to stay in step with it.
    pub max_cache_bytes: usize,
}

impl Default for Limits {
    /// Frames up to 8192 on a side and [`DEFAULT_MAX_FRAME_PIXELS`] in area,
    /// 256×256 tiles, 64 MiB batches, 4 frames of writes per update, 1024
    /// cached tiles within 16 MiB.
    fn default() -> Self {
        Limits {
            max_width: 8192,
            max_height: 8192,
            max_frame_pixels: DEFAULT_MAX_FRAME_PIXELS,
            max_tile_area: 256 * 256,
            max_batch_bytes: 64 * 1024 * 1024,
            max_tiles: 65_536,
            max_copies: 1024,
            max_work_factor: 4,
            cache_entries: 1024,
            max_cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

impl Limits {
    /// The defaults with frames of at most 2048×2048: what
    /// [`decode_update_bytes`] and the fuzz targets use, so a fuzzer does
    /// not spend its time filling huge framebuffers.
    pub fn fuzzing() -> Self {
        Limits {
            max_width: 2048,
            max_height: 2048,
            max_frame_pixels: 2048 * 2048,
            ..Limits::default()
        }
    }

    /// The most bytes a decoder with these limits holds at once (see the
    /// module docs): framebuffer, copy scratch (one frame), tile cache with
    /// its entries' bookkeeping, one compressed and decompressed batch and
    /// its decoded tiles, and one tile's working buffers. About 141 MiB for
    /// [`Limits::default`], 142 MiB for [`Limits::fuzzing`].
    pub fn memory_budget(&self) -> u64 {
        let frame = self.max_frame_pixels.saturating_mul(4);
        let cache = (self.max_cache_bytes as u64)
            .saturating_add((self.cache_entries as u64).saturating_mul(CACHE_ENTRY_OVERHEAD));
        // The compressed batch as received, the decompressed one, and its
        // tiles twice over (the protobuf form and the checked one).
        let batch = (MAX_TILE_BYTES as u64)
            .saturating_add(u64::from(self.max_batch_bytes))
            .saturating_add((self.max_tiles as u64).saturating_mul(2 * TILE_STRUCT_BYTES));
        // Tile scratch, a JPEG decode (its own limit) and two predictor rows.
        let tile = u64::from(self.max_tile_area).saturating_mul(4 + 16 + 4) + 65_536;
        frame
            .saturating_mul(2)
            .saturating_add(cache)
            .saturating_add(batch)
            .saturating_add(tile)
    }
}

/// Bookkeeping of one cache entry besides its pixels (maps and struct),
/// counted generously.
const CACHE_ENTRY_OVERHEAD: u64 = 256;

/// Applies frame updates to a framebuffer.
///
/// ```
/// use rsupport_capture::codec::{Decoder, Encoder, EncoderConfig, Limits};
/// use rsupport_capture::BgraFrame;
///
/// let mut encoder = Encoder::new(EncoderConfig::default());
/// let mut decoder = Decoder::new(Limits::default());
/// let frame = BgraFrame::filled(100, 80, [10, 20, 30, 255]);
/// let update = encoder.encode(&frame, 0)?;
/// decoder.apply(&update)?;
/// assert_eq!(decoder.frame(), Some(&frame));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    frame: Option<BgraFrame>,
    /// An update was refused: the picture stays, but only a key frame may
    /// follow (the host's model and ours no longer agree).
    needs_key: bool,
    cache: TileCache,
    copy_scratch: Vec<u8>,
    tile_scratch: Vec<u8>,
    /// What the last successful `apply` changed.
    changed: Vec<Rect>,
    stats: DecoderStats,
    /// Bytes of the update being applied (its batch and tiles), for `peak_bytes`.
    transient: u64,
}

/// More changed rectangles than this in one update are reported as their
/// bounding box.
const MAX_CHANGED_RECTS: usize = 64;

impl Decoder {
    /// A decoder with no framebuffer yet (the first update must be a key frame).
    pub fn new(limits: Limits) -> Self {
        let cache = TileCache::new(limits.cache_entries, limits.max_cache_bytes);
        Decoder {
            limits,
            frame: None,
            needs_key: false,
            cache,
            copy_scratch: Vec::new(),
            tile_scratch: Vec::new(),
            changed: Vec::new(),
            stats: DecoderStats::default(),
            transient: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The framebuffer, once a key frame was applied. After an update
    /// refused by the checks before applying, the last picture stays here
    /// until the next key frame.
    pub fn frame(&self) -> Option<&BgraFrame> {
        self.frame.as_ref()
    }

    /// What the decoder did and holds (pixels written, bytes held, peak).
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Bytes held now: framebuffer, tile cache and scratch buffers.
    pub fn held_bytes(&self) -> u64 {
        let frame = self.frame.as_ref().map_or(0, |f| f.pixels().len());
        (frame + self.copy_scratch.capacity() + self.tile_scratch.capacity()) as u64
            + self.cache.bytes() as u64
    }

    /// The rectangles of the framebuffer the last successful
    /// [`apply`](Self::apply) changed: the whole frame for a key frame;
    /// otherwise the copies' destinations first, in the update's order,
    /// then the tiles' rectangles (at most a few dozen, merged into their
    /// bounding box beyond that).
    /// Empty after an error or a reset.
    pub fn changed(&self) -> &[Rect] {
        &self.changed
    }

    /// Forgets the framebuffer and the tile cache; the next update must be a key frame.
    pub fn reset(&mut self) {
        self.frame = None;
        self.needs_key = false;
        self.cache.clear();
        self.changed.clear();
    }

    /// Applies one update. An update refused by the checks that run before
    /// anything is written leaves the picture as it was; one that fails
    /// while applying (corrupt tile data, unknown cache id) drops it. Either
    /// way the tile cache is forgotten and the next update must be a key
    /// frame (see [`CodecError`]).
    pub fn apply(&mut self, update: &FrameUpdate) -> Result<(), CodecError> {
        self.stats.last_pixels_written = 0;
        self.stats.last_pixel_budget = 0;
        self.changed.clear();
        let result = match self.check(update) {
            Ok(batch) => {
                let applied = self.apply_checked(update, &batch);
                if applied.is_err() {
                    self.reset();
                }
                applied
            }
            Err(e) => {
                self.needs_key = true;
                self.cache.clear();
                Err(e)
            }
        };
        if result.is_ok() {
            self.stats.applied += 1;
        } else {
            self.stats.refused += 1;
            self.changed.clear();
        }
        // Measured before the scratch is given back: the batch was alive
        // while the new framebuffer and the scratch were.
        let during = self.held_bytes() + self.transient;
        self.stats.peak_bytes = self.stats.peak_bytes.max(during);
        self.transient = 0;
        if self.copy_scratch.capacity() > SCRATCH_KEEP {
            self.copy_scratch = Vec::new();
        }
        self.stats.held_bytes = self.held_bytes();
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.stats.held_bytes);
        result
    }

    /// Decodes a protobuf `FrameUpdate` from bytes and applies it.
    pub fn apply_bytes(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let update = FrameUpdate::decode(Bytes::copy_from_slice(bytes))?;
        self.apply(&update)
    }

    /// Every check that needs no pixel written: returns the decoded batch.
    fn check(&mut self, u: &FrameUpdate) -> Result<TileBatch, CodecError> {
        let l = &self.limits;
        let pixels = u64::from(u.width) * u64::from(u.height);
        if u.width == 0
            || u.height == 0
            || u.width > l.max_width
            || u.height > l.max_height
            || pixels > l.max_frame_pixels
        {
            return Err(CodecError::FrameSize {
                width: u.width,
                height: u.height,
            });
        }
        if !u.key_frame {
            match &self.frame {
                None => return Err(CodecError::NoKeyFrame),
                Some(_) if self.needs_key => return Err(CodecError::NoKeyFrame),
                Some(f) if f.width() != u.width || f.height() != u.height => {
                    return Err(CodecError::SizeChanged)
                }
                Some(_) => {}
            }
        }
        if u.copies.len() > l.max_copies {
            return Err(CodecError::OverLimit("copy rectangles"));
        }
        let raw = self.decompress(u)?;
        let count = budget::count_tiles(&raw, self.limits.max_tiles)?;
        self.transient =
            raw.len() as u64 + count as u64 * 2 * TILE_STRUCT_BYTES + u.tiles.len() as u64;
        self.stats.peak_bytes = self
            .stats
            .peak_bytes
            .max(self.held_bytes() + self.transient);
        let batch = TileBatch::decode(raw)?;
        let work = budget::plan(
            u.width,
            u.height,
            &u.copies,
            &batch.tiles,
            self.limits.max_tile_area,
        )?;
        let allowed = pixels.saturating_mul(u64::from(self.limits.max_work_factor));
        self.stats.last_pixel_budget = allowed;
        if work > allowed {
            return Err(CodecError::OverLimit("pixels written by one update"));
        }
        Ok(batch)
    }

    /// Applies an update that passed [`check`](Self::check).
    fn apply_checked(&mut self, u: &FrameUpdate, batch: &TileBatch) -> Result<(), CodecError> {
        if u.key_frame {
            let same = self
                .frame
                .as_ref()
                .is_some_and(|f| f.width() == u.width && f.height() == u.height);
            if !same {
                // Give the old picture back before taking the new one.
                self.frame = None;
                self.frame = Some(BgraFrame::filled(u.width, u.height, [0, 0, 0, 255]));
            }
            self.needs_key = false;
        }
        let frame = self.frame.as_mut().ok_or(CodecError::NoKeyFrame)?;
        let copied = apply_copies(frame, &u.copies, &mut self.copy_scratch)?;
        let mut written = copied;
        let rect = |x: u32, y: u32, w: u32, h: u32| {
            Rect::new(
                i32::try_from(x).unwrap_or(i32::MAX),
                i32::try_from(y).unwrap_or(i32::MAX),
                w,
                h,
            )
        };
        if u.key_frame {
            self.changed.push(rect(0, 0, u.width, u.height));
        } else {
            self.changed.extend(
                u.copies
                    .iter()
                    .map(|c| rect(c.dst_x, c.dst_y, c.width, c.height)),
            );
        }
        let stride = frame.stride();
        let fb = frame.pixels_mut();
        for tile in &batch.tiles {
            // Placement and area were checked by `budget::plan`.
            let area = Area {
                x: tile.x as usize,
                y: tile.y as usize,
                w: tile.width as usize,
                h: tile.height as usize,
            };
            match &tile.data {
                TileData::Solid(c) => tile_format::fill_solid(*c, fb, stride, area)?,
                TileData::Palette(p) => match &p.indices {
                    PaletteIndices::Runs(runs) => {
                        tile_format::decode_palette(&p.colors, runs, fb, stride, area)?
                    }
                    PaletteIndices::PerPixel(idx) => {
                        tile_format::decode_indices(&p.colors, idx, fb, stride, area)?
                    }
                    _ => return Err(CodecError::Corrupt("unknown palette layout")),
                },
                TileData::Raw(b) => tile_format::blit(b, fb, stride, area)?,
                TileData::Predicted(b) => tile_format::decode_predicted(b, fb, stride, area)?,
                TileData::Jpeg(b) => tile_format::decode_jpeg(b, fb, stride, area)?,
                TileData::Cached(id) => {
                    let entry = self
                        .cache
                        .touch(*id)
                        .ok_or(CodecError::UnknownCacheId(*id))?;
                    if entry.width != tile.width || entry.height != tile.height {
                        return Err(CodecError::Corrupt("cached tile size differs"));
                    }
                    tile_format::blit(&entry.pixels, fb, stride, area)?;
                }
                _ => return Err(CodecError::Corrupt("unknown tile encoding")),
            }
            written += area.pixels() as u64;
            self.stats.last_pixels_written = written;
            if !u.key_frame {
                self.changed
                    .push(rect(tile.x, tile.y, tile.width, tile.height));
            }
            if let Some(id) = tile.cache_id {
                tile_format::extract(fb, stride, area, &mut self.tile_scratch);
                self.cache
                    .insert(id, tile.width, tile.height, &self.tile_scratch, 0);
            }
        }
        self.stats.last_pixels_written = written;
        if self.changed.len() > MAX_CHANGED_RECTS {
            // Merge the tiles into their bounding box but keep the copies'
            // destinations first and apart: a renderer may replay the
            // copies instead of redrawing those pixels.
            let copies = if u.key_frame { 0 } else { u.copies.len() };
            let tiles = self.changed.get(copies..).unwrap_or_default();
            let bounds = Rect::bounding(tiles);
            self.changed.truncate(copies);
            self.changed.push(bounds);
        }
        Ok(())
    }

    /// The tile batch, decompressed under the size cap.
    fn decompress(&self, u: &FrameUpdate) -> Result<Bytes, CodecError> {
        let max = self.limits.max_batch_bytes;
        if u.tiles_raw_len > max {
            return Err(CodecError::BatchTooLarge {
                len: u64::from(u.tiles_raw_len),
                max: u64::from(max),
            });
        }
        match u.compression {
            TileCompression::None => {
                if u.tiles.len() != u.tiles_raw_len as usize {
                    return Err(CodecError::Corrupt("tiles_raw_len differs from the batch"));
                }
                Ok(u.tiles.clone())
            }
            TileCompression::Zstd => {
                if u.tiles.is_empty() && u.tiles_raw_len == 0 {
                    Ok(Bytes::new())
                } else {
                    // A hard output limit: zstd refuses to write past the capacity.
                    let out = zstd::bulk::decompress(&u.tiles, u.tiles_raw_len as usize)
                        .map_err(|_| CodecError::Corrupt("zstd"))?;
                    if out.len() != u.tiles_raw_len as usize {
                        return Err(CodecError::Corrupt("tiles_raw_len differs from the batch"));
                    }
                    Ok(Bytes::from(out))
                }
            }
            _ => Err(CodecError::Corrupt("unknown compression")),
        }
    }
}

/// Applies copy rectangles to `frame`: every copy reads the framebuffer as it
/// was before any copy of the update. Checks each rectangle against the frame
/// and the total copied area against four frames (all before changing
/// anything). Returns the pixels copied. `scratch` never grows past one
/// frame: when the copies add up to more, the frame is snapshotted once
/// instead of each source.
pub(crate) fn apply_copies(
    frame: &mut BgraFrame,
    copies: &[CopyRect],
    scratch: &mut Vec<u8>,
) -> Result<u64, CodecError> {
    if copies.is_empty() {
        return Ok(0);
    }
    let (w, h) = (u64::from(frame.width()), u64::from(frame.height()));
    let mut total = 0u64;
    for c in copies {
        let (cw, ch) = (u64::from(c.width), u64::from(c.height));
        let fits = |x: u32, y: u32| u64::from(x) + cw <= w && u64::from(y) + ch <= h;
        if cw == 0 || ch == 0 || !fits(c.src_x, c.src_y) || !fits(c.dst_x, c.dst_y) {
            return Err(CodecError::OutOfBounds("copy rectangle"));
        }
        total += cw * ch;
    }
    if total > 4 * w * h {
        return Err(CodecError::OverLimit("copied area"));
    }
    let stride = frame.stride();
    if let [c] = copies {
        // One copy (the usual scroll or drag): move rows in place, in the
        // order that never overwrites a source row before it is read.
        let (w, h) = (c.width as usize * 4, c.height as usize);
        let (sx, sy, dx, dy) = (
            c.src_x as usize,
            c.src_y as usize,
            c.dst_x as usize,
            c.dst_y as usize,
        );
        let fb = frame.pixels_mut();
        let mut move_row = |r: usize| {
            let src = (sy + r) * stride + sx * 4;
            fb.copy_within(src..src + w, (dy + r) * stride + dx * 4);
        };
        if dy > sy {
            (0..h).rev().for_each(&mut move_row);
        } else {
            (0..h).for_each(&mut move_row);
        }
        return Ok(total);
    }
    let area = |x: u32, y: u32, c: &CopyRect| Area {
        x: x as usize,
        y: y as usize,
        w: c.width as usize,
        h: c.height as usize,
    };
    scratch.clear();
    if total > w * h {
        // Overlapping sources: one snapshot of the frame is smaller.
        scratch.extend_from_slice(frame.pixels());
        let fb = frame.pixels_mut();
        for c in copies {
            let (src, dst) = (area(c.src_x, c.src_y, c), area(c.dst_x, c.dst_y, c));
            for r in 0..src.h {
                let from = scratch
                    .get(src.row_range(stride, r))
                    .ok_or(CodecError::OutOfBounds("copy rectangle"))?;
                fb.get_mut(dst.row_range(stride, r))
                    .ok_or(CodecError::OutOfBounds("copy rectangle"))?
                    .copy_from_slice(from);
            }
        }
        return Ok(total);
    }
    for c in copies {
        let src = area(c.src_x, c.src_y, c);
        for r in 0..src.h {
            scratch.extend_from_slice(&frame.pixels()[src.row_range(stride, r)]);
        }
    }
    let fb = frame.pixels_mut();
    let mut offset = 0;
    for c in copies {
        let dst = area(c.dst_x, c.dst_y, c);
        let len = dst.pixels() * 4;
        let from = scratch
            .get(offset..offset + len)
            .ok_or(CodecError::OutOfBounds("copy rectangle"))?;
        tile_format::blit(from, fb, stride, dst)?;
        offset += len;
    }
    Ok(total)
}

/// Decodes one protobuf `FrameUpdate` with a fresh decoder, returning the
/// frame it produces. Accepts arbitrary bytes and never panics: this is the
/// entry point for fuzzing, with [`Limits::fuzzing`].
pub fn decode_update_bytes(bytes: &[u8]) -> Result<BgraFrame, CodecError> {
    let mut decoder = Decoder::new(Limits::fuzzing());
    decoder.apply_bytes(bytes)?;
    decoder.frame.take().ok_or(CodecError::NoKeyFrame)
}
