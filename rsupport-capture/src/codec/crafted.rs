//! Frame updates made by hand, not by the [`Encoder`](super::Encoder): what a
//! hostile or broken host could send. Tests, benches and fuzz targets of
//! every crate build their hostile updates here, so the decoder's budgets are
//! all exercised with the same shapes.

use bytes::Bytes;
use rsupport_proto::screen::{CopyRect, FrameUpdate, Tile, TileBatch, TileCompression, TileData};

/// An update of `width` × `height` carrying `tiles` and `copies`, its batch
/// stored as `compression` says (zstd at level 19, or as it is).
pub fn update(
    width: u32,
    height: u32,
    key_frame: bool,
    copies: Vec<CopyRect>,
    tiles: Vec<Tile>,
    compression: TileCompression,
) -> FrameUpdate {
    let raw = TileBatch { tiles }.encode();
    let tiles = match compression {
        // zstd only fails on a bad level; 19 is valid.
        TileCompression::Zstd => Bytes::from(zstd::bulk::compress(&raw, 19).unwrap_or_default()),
        _ => raw.clone(),
    };
    FrameUpdate {
        seq: 1,
        monitor_id: 0,
        width,
        height,
        key_frame,
        copies,
        compression,
        tiles_raw_len: u32::try_from(raw.len()).unwrap_or(u32::MAX),
        tiles,
        captured_at_ms: 0,
    }
}

/// A solid tile at (`x`, `y`) of `width` × `height`, coloured from its
/// position, cached under `cache_id`.
pub fn solid(x: u32, y: u32, width: u32, height: u32, cache_id: Option<u64>) -> Tile {
    Tile {
        x,
        y,
        width,
        height,
        data: TileData::Solid([(x ^ y) as u8, 0x40, 0x80, 255]),
        cache_id,
    }
}

/// The security review's H4 update: a key frame of `side` × `side` whose
/// batch holds `n` solid tiles each covering the whole frame, each under its
/// own cache id. A few hundred bytes on the wire for any `n` below a
/// hundred; gigabytes of work for a decoder that trusted solid tiles.
pub fn solid_bomb(side: u32, n: u64, compression: TileCompression) -> FrameUpdate {
    let tiles = (1..=n)
        .map(|id| Tile {
            data: TileData::Solid([id as u8, 0, 0, 255]),
            ..solid(0, 0, side, side, Some(id))
        })
        .collect();
    update(side, side, true, Vec::new(), tiles, compression)
}
