//! What one frame update may cost the viewer: the decoder's memory budget,
//! its counters, and the cheap checks that run before an update touches the
//! framebuffer.
//!
//! A peer chooses every number in an update, so the decoder plans the whole
//! update first — frame size, tile and copy placement, tile areas, the
//! pixels it would write — and refuses it whole when a bound does not hold.
//! Only then does it allocate a framebuffer or write a pixel.

use rsupport_proto::screen::{CopyRect, Tile};

use super::error::CodecError;

/// Counters a decoder keeps, for tests, fuzzing and a product's diagnostics.
///
/// `last_*` describe the most recent [`apply`](super::Decoder::apply);
/// the rest add up over the decoder's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DecoderStats {
    /// Updates applied.
    pub applied: u64,
    /// Updates refused (any [`CodecError`]).
    pub refused: u64,
    /// Pixels the last update wrote into the framebuffer (tiles of every
    /// kind, cache hits and copies). 0 when it was refused before applying.
    pub last_pixels_written: u64,
    /// Pixels the last update was allowed to write:
    /// [`Limits::max_work_factor`](super::Limits::max_work_factor) × its frame's pixels.
    pub last_pixel_budget: u64,
    /// Bytes held after the last update: framebuffer, tile cache and scratch buffers.
    pub held_bytes: u64,
    /// Most bytes held at once while decoding any update so far, counting
    /// the decompressed tile batch and its decoded tiles as well.
    pub peak_bytes: u64,
}

/// Bytes a decoded tile takes besides its pixel data (the struct itself).
pub(crate) const TILE_STRUCT_BYTES: u64 = std::mem::size_of::<Tile>() as u64;

/// Counts the tiles of an encoded `TileBatch` without decoding them (field 1
/// of the message, length-delimited), so a batch of millions of tiny tiles
/// is refused before any of them is allocated.
pub(crate) fn count_tiles(raw: &[u8], max: usize) -> Result<usize, CodecError> {
    let mut pos = 0usize;
    let mut count = 0usize;
    while pos < raw.len() {
        let key = varint(raw, &mut pos)?;
        match key & 7 {
            0 => {
                varint(raw, &mut pos)?;
            }
            1 => pos = skip(raw, pos, 8)?,
            2 => {
                let len = usize::try_from(varint(raw, &mut pos)?)
                    .map_err(|_| CodecError::Corrupt("tile batch length"))?;
                pos = skip(raw, pos, len)?;
                if key >> 3 == 1 {
                    count += 1;
                    if count > max {
                        return Err(CodecError::OverLimit("tiles"));
                    }
                }
            }
            5 => pos = skip(raw, pos, 4)?,
            _ => return Err(CodecError::Corrupt("tile batch wire type")),
        }
    }
    Ok(count)
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, CodecError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf
            .get(*pos)
            .ok_or(CodecError::Corrupt("tile batch varint"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(CodecError::Corrupt("tile batch varint"))
}

fn skip(buf: &[u8], pos: usize, len: usize) -> Result<usize, CodecError> {
    let end = pos
        .checked_add(len)
        .filter(|end| *end <= buf.len())
        .ok_or(CodecError::Corrupt("tile batch truncated"))?;
    Ok(end)
}

/// Checks every tile and copy against the frame and the area cap, and
/// returns the pixels the update would write. Nothing is written.
pub(crate) fn plan(
    width: u32,
    height: u32,
    copies: &[CopyRect],
    tiles: &[Tile],
    max_tile_area: u32,
) -> Result<u64, CodecError> {
    let (w, h) = (u64::from(width), u64::from(height));
    let mut pixels = 0u64;
    for c in copies {
        let (cw, ch) = (u64::from(c.width), u64::from(c.height));
        let fits = |x: u32, y: u32| u64::from(x) + cw <= w && u64::from(y) + ch <= h;
        if cw == 0 || ch == 0 || !fits(c.src_x, c.src_y) || !fits(c.dst_x, c.dst_y) {
            return Err(CodecError::OutOfBounds("copy rectangle"));
        }
        pixels += cw * ch;
    }
    for t in tiles {
        let (tw, th) = (u64::from(t.width), u64::from(t.height));
        let inside = u64::from(t.x) + tw <= w && u64::from(t.y) + th <= h;
        if !inside || tw == 0 || th == 0 {
            return Err(CodecError::OutOfBounds("tile"));
        }
        // Every tile, solid ones included: a solid or cached tile costs as
        // many writes as any other, and is cached at its full size.
        if tw * th > u64::from(max_tile_area) {
            return Err(CodecError::OverLimit("tile area"));
        }
        pixels += tw * th;
    }
    Ok(pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsupport_proto::screen::{TileBatch, TileData};

    #[test]
    fn counts_tiles_like_the_decoder() {
        let tile = Tile {
            x: 0,
            y: 0,
            width: 1,
            height: 1,
            data: TileData::Solid([0; 4]),
            cache_id: Some(3),
        };
        let raw = TileBatch {
            tiles: vec![tile; 5],
        }
        .encode();
        assert_eq!(count_tiles(&raw, 10), Ok(5));
        assert_eq!(count_tiles(&raw, 4), Err(CodecError::OverLimit("tiles")));
        assert!(count_tiles(&raw[..raw.len() - 1], 10).is_err());
        assert_eq!(count_tiles(&[], 10), Ok(0));
        assert!(count_tiles(&[0xff; 11], 10).is_err());
    }
}
