//! The viewer side: applies [`FrameUpdate`]s to a BGRA framebuffer.
//!
//! Bounded and panic-free on hostile input: frame size, tile area, tile and
//! copy counts and the decompressed batch size are capped by [`Limits`]
//! (the batch size is checked *before* decompressing, and decompression
//! stops at that size); every tile and copy must lie inside the frame;
//! palette indices, run lengths and cache ids are checked.

use bytes::Bytes;
use rsupport_proto::screen::{
    CopyRect, FrameUpdate, PaletteIndices, TileBatch, TileCompression, TileData,
};

use rsupport_proto::Rect;

use super::cache::TileCache;
use super::error::CodecError;
use super::tile_format::{self, Area};
use crate::BgraFrame;

/// What a decoder accepts. Start from [`Limits::default`] and adjust fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest frame width, pixels.
    pub max_width: u32,
    /// Largest frame height, pixels.
    pub max_height: u32,
    /// Largest area of one non-solid tile, pixels.
    pub max_tile_area: u32,
    /// Largest tile batch once decompressed, bytes.
    pub max_batch_bytes: u32,
    /// Most tiles in one update.
    pub max_tiles: usize,
    /// Most copy rectangles in one update.
    pub max_copies: usize,
    /// Tile cache entries kept (advertise the same number to the host); 0 = no cache.
    pub cache_entries: usize,
}

impl Default for Limits {
    /// 8K frames, 256×256 tiles, 64 MiB batches, 1024 cached tiles.
    fn default() -> Self {
        Limits {
            max_width: 8192,
            max_height: 8192,
            max_tile_area: 256 * 256,
            max_batch_bytes: 64 * 1024 * 1024,
            max_tiles: 65_536,
            max_copies: 1024,
            cache_entries: 1024,
        }
    }
}

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
    cache: TileCache,
    copy_scratch: Vec<u8>,
    tile_scratch: Vec<u8>,
    /// What the last successful `apply` changed.
    changed: Vec<Rect>,
}

/// More changed rectangles than this in one update are reported as their
/// bounding box.
const MAX_CHANGED_RECTS: usize = 64;

impl Decoder {
    /// A decoder with no framebuffer yet (the first update must be a key frame).
    pub fn new(limits: Limits) -> Self {
        let cache = TileCache::new(limits.cache_entries);
        Decoder {
            limits,
            frame: None,
            cache,
            copy_scratch: Vec::new(),
            tile_scratch: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// The framebuffer, once a key frame was applied.
    pub fn frame(&self) -> Option<&BgraFrame> {
        self.frame.as_ref()
    }

    /// The rectangles of the framebuffer the last successful
    /// [`apply`](Self::apply) changed (the whole frame for a key frame; at
    /// most a few dozen, merged into their bounding box beyond that).
    /// Empty after an error or a reset.
    pub fn changed(&self) -> &[Rect] {
        &self.changed
    }

    /// Forgets the framebuffer and the tile cache; the next update must be a key frame.
    pub fn reset(&mut self) {
        self.frame = None;
        self.cache.clear();
        self.changed.clear();
    }

    /// Applies one update. On error the decoder resets (see [`CodecError`]).
    pub fn apply(&mut self, update: &FrameUpdate) -> Result<(), CodecError> {
        let result = self.apply_inner(update);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// Decodes a protobuf `FrameUpdate` from bytes and applies it.
    pub fn apply_bytes(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let update = FrameUpdate::decode(Bytes::copy_from_slice(bytes))?;
        self.apply(&update)
    }

    fn apply_inner(&mut self, u: &FrameUpdate) -> Result<(), CodecError> {
        self.changed.clear();
        let l = &self.limits;
        if u.width == 0 || u.height == 0 || u.width > l.max_width || u.height > l.max_height {
            return Err(CodecError::FrameSize {
                width: u.width,
                height: u.height,
            });
        }
        if u.copies.len() > l.max_copies {
            return Err(CodecError::OverLimit("copy rectangles"));
        }
        let batch = self.decompress(u)?;
        if batch.tiles.len() > self.limits.max_tiles {
            return Err(CodecError::OverLimit("tiles"));
        }
        if u.key_frame {
            let same = self
                .frame
                .as_ref()
                .is_some_and(|f| f.width() == u.width && f.height() == u.height);
            if !same {
                self.frame = Some(BgraFrame::filled(u.width, u.height, [0, 0, 0, 255]));
            }
        }
        let frame = self.frame.as_mut().ok_or(CodecError::NoKeyFrame)?;
        if frame.width() != u.width || frame.height() != u.height {
            return Err(CodecError::SizeChanged);
        }
        apply_copies(frame, &u.copies, &mut self.copy_scratch)?;
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
        let (width, height) = (frame.width(), frame.height());
        let stride = frame.stride();
        let fb = frame.pixels_mut();
        for tile in &batch.tiles {
            let inside = u64::from(tile.x) + u64::from(tile.width) <= u64::from(width)
                && u64::from(tile.y) + u64::from(tile.height) <= u64::from(height);
            if !inside || tile.width == 0 || tile.height == 0 {
                return Err(CodecError::OutOfBounds("tile"));
            }
            let area = Area {
                x: tile.x as usize,
                y: tile.y as usize,
                w: tile.width as usize,
                h: tile.height as usize,
            };
            if !matches!(tile.data, TileData::Solid(_))
                && u64::from(tile.width) * u64::from(tile.height)
                    > u64::from(self.limits.max_tile_area)
            {
                return Err(CodecError::OverLimit("tile area"));
            }
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
        if self.changed.len() > MAX_CHANGED_RECTS {
            let bounds = Rect::bounding(&self.changed);
            self.changed.clear();
            self.changed.push(bounds);
        }
        Ok(())
    }

    /// The tile batch, decompressed under the size cap.
    fn decompress(&self, u: &FrameUpdate) -> Result<TileBatch, CodecError> {
        let max = self.limits.max_batch_bytes;
        if u.tiles_raw_len > max {
            return Err(CodecError::BatchTooLarge {
                len: u64::from(u.tiles_raw_len),
                max: u64::from(max),
            });
        }
        let raw = match u.compression {
            TileCompression::None => {
                if u.tiles.len() != u.tiles_raw_len as usize {
                    return Err(CodecError::Corrupt("tiles_raw_len differs from the batch"));
                }
                u.tiles.clone()
            }
            TileCompression::Zstd => {
                if u.tiles.is_empty() && u.tiles_raw_len == 0 {
                    Bytes::new()
                } else {
                    // A hard output limit: zstd refuses to write past the capacity.
                    let out = zstd::bulk::decompress(&u.tiles, u.tiles_raw_len as usize)
                        .map_err(|_| CodecError::Corrupt("zstd"))?;
                    if out.len() != u.tiles_raw_len as usize {
                        return Err(CodecError::Corrupt("tiles_raw_len differs from the batch"));
                    }
                    Bytes::from(out)
                }
            }
            _ => return Err(CodecError::Corrupt("unknown compression")),
        };
        Ok(TileBatch::decode(raw)?)
    }
}

/// Applies copy rectangles to `frame`: every copy reads the framebuffer as it
/// was before any copy of the update. Checks each rectangle against the frame
/// and the total copied area against four frames (all before changing anything).
pub(crate) fn apply_copies(
    frame: &mut BgraFrame,
    copies: &[CopyRect],
    scratch: &mut Vec<u8>,
) -> Result<(), CodecError> {
    if copies.is_empty() {
        return Ok(());
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
        return Ok(());
    }
    scratch.clear();
    for c in copies {
        let src = Area {
            x: c.src_x as usize,
            y: c.src_y as usize,
            w: c.width as usize,
            h: c.height as usize,
        };
        for r in 0..src.h {
            scratch.extend_from_slice(&frame.pixels()[src.row_range(stride, r)]);
        }
    }
    let fb = frame.pixels_mut();
    let mut offset = 0;
    for c in copies {
        let dst = Area {
            x: c.dst_x as usize,
            y: c.dst_y as usize,
            w: c.width as usize,
            h: c.height as usize,
        };
        let len = dst.pixels() * 4;
        tile_format::blit(&scratch[offset..offset + len], fb, stride, dst)?;
        offset += len;
    }
    Ok(())
}

/// Decodes one protobuf `FrameUpdate` with a fresh decoder, returning the
/// frame it produces. Accepts arbitrary bytes and never panics: this is the
/// entry point for fuzzing. Limits are the defaults except frames of at most
/// 2048×2048, so a fuzzer does not spend its time filling huge framebuffers.
pub fn decode_update_bytes(bytes: &[u8]) -> Result<BgraFrame, CodecError> {
    let mut decoder = Decoder::new(Limits {
        max_width: 2048,
        max_height: 2048,
        ..Limits::default()
    });
    decoder.apply_bytes(bytes)?;
    decoder.frame.take().ok_or(CodecError::NoKeyFrame)
}
