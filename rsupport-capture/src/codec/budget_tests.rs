//! Hostile updates against the decoder's budgets, measured with the
//! decoder's own counters (pixels written, bytes held), never wall time.

use rsupport_proto::screen::{CopyRect, FrameUpdate, Tile, TileCompression, TileData};

use super::*;

/// The review's update: a key frame of `side`², a zstd batch of `n`
/// frame-sized solid tiles, each with its own cache id.
fn solid_bomb(side: u32, n: u64) -> FrameUpdate {
    crafted::solid_bomb(side, n, TileCompression::Zstd)
}

fn zstd_update(
    width: u32,
    height: u32,
    key_frame: bool,
    copies: Vec<CopyRect>,
    tiles: Vec<Tile>,
) -> FrameUpdate {
    crafted::update(
        width,
        height,
        key_frame,
        copies,
        tiles,
        TileCompression::Zstd,
    )
}

fn solid(x: u32, y: u32, side: u32, color: u8, cache_id: Option<u64>) -> Tile {
    Tile {
        x,
        y,
        width: side,
        height: side,
        data: TileData::Solid([color, color, color, 255]),
        cache_id,
    }
}

/// A key frame of `w`×`h` covered once by `side`² solid tiles.
fn covered(w: u32, h: u32, side: u32, color: u8, first_id: Option<u64>) -> FrameUpdate {
    let mut tiles = Vec::new();
    for y in (0..h).step_by(side as usize) {
        for x in (0..w).step_by(side as usize) {
            let id = first_id.map(|f| f + tiles.len() as u64);
            tiles.push(solid(x, y, side, color, id));
        }
    }
    zstd_update(w, h, true, Vec::new(), tiles)
}

const MIB: u64 = 1024 * 1024;

#[test]
fn the_reviewed_8k_solid_bomb_is_refused_before_any_allocation() {
    let bomb = solid_bomb(8192, 64);
    assert!(
        bomb.encode().len() < 1024,
        "a few hundred bytes on the wire"
    );
    // The default viewer does not hold an 8192² frame at all.
    let mut dec = Decoder::new(Limits::default());
    assert!(matches!(
        dec.apply(&bomb),
        Err(CodecError::FrameSize { .. })
    ));
    assert_eq!(dec.stats().held_bytes, 0);
    // A viewer that would hold 8192² still refuses the frame-sized solid
    // tiles (the area cap covers every kind of tile) before allocating.
    let mut dec = Decoder::new(Limits {
        max_frame_pixels: 8192 * 8192,
        ..Limits::default()
    });
    assert_eq!(dec.apply(&bomb), Err(CodecError::OverLimit("tile area")));
    let stats = dec.stats();
    assert_eq!(stats.last_pixels_written, 0);
    assert_eq!(stats.held_bytes, 0);
    assert!(stats.peak_bytes < MIB, "peak {} bytes", stats.peak_bytes);
    assert!(dec.frame().is_none());
}

#[test]
fn solid_tiles_count_toward_the_area_cap() {
    let mut dec = Decoder::new(Limits::default());
    dec.apply(&covered(512, 512, 256, 7, None)).unwrap();
    let before = dec.frame().cloned();
    // One solid tile of the whole 512² frame: over the 256² tile cap.
    let big = zstd_update(
        512,
        512,
        true,
        Vec::new(),
        vec![solid(0, 0, 512, 9, Some(1))],
    );
    assert_eq!(dec.apply(&big), Err(CodecError::OverLimit("tile area")));
    assert_eq!(
        dec.frame().cloned(),
        before,
        "refused whole: the picture stays"
    );
    assert_eq!(dec.stats().last_pixels_written, 0);
}

#[test]
fn pixels_written_per_update_stay_within_four_frames() {
    let mut dec = Decoder::new(Limits::default());
    dec.apply(&covered(256, 256, 256, 1, None)).unwrap();
    let before = dec.frame().cloned();
    // Five full covers of a 256² frame (each tile within the area cap).
    let five = (0..5).map(|i| solid(0, 0, 256, 10 + i, Some(u64::from(i) + 1)));
    let update = zstd_update(256, 256, true, Vec::new(), five.collect());
    assert_eq!(
        dec.apply(&update),
        Err(CodecError::OverLimit("pixels written by one update"))
    );
    assert_eq!(dec.stats().last_pixels_written, 0);
    assert_eq!(dec.stats().last_pixel_budget, 4 * 256 * 256);
    assert_eq!(dec.frame().cloned(), before, "nothing was applied");
    // Only a key frame may follow a refused update.
    let delta = zstd_update(256, 256, false, Vec::new(), vec![solid(0, 0, 8, 3, None)]);
    assert_eq!(dec.apply(&delta), Err(CodecError::NoKeyFrame));
    // Four covers are within the budget, and the counter says so.
    let four = (0..4).map(|i| solid(0, 0, 256, 20 + i, None));
    dec.apply(&zstd_update(256, 256, true, Vec::new(), four.collect()))
        .unwrap();
    assert_eq!(dec.stats().last_pixels_written, 4 * 256 * 256);
}

#[test]
fn many_copy_rectangles_count_toward_the_budget_and_scratch_is_given_back() {
    let (w, h) = (1280u32, 1024u32);
    let frame_bytes = u64::from(w * h * 4);
    let mut dec = Decoder::new(Limits::default());
    dec.apply(&covered(w, h, 256, 5, None)).unwrap();
    let whole = CopyRect {
        src_x: 0,
        src_y: 0,
        dst_x: 0,
        dst_y: 0,
        width: w,
        height: h,
    };
    // Four whole-frame copies plus one tile: over four frames of writes.
    let over = zstd_update(w, h, false, vec![whole; 4], vec![solid(0, 0, 1, 1, None)]);
    assert_eq!(
        dec.apply(&over),
        Err(CodecError::OverLimit("pixels written by one update"))
    );
    assert_eq!(dec.stats().last_pixels_written, 0);
    // Hundreds of small copies within the budget apply; the copy scratch
    // never exceeds one frame and is given back afterwards.
    dec.apply(&covered(w, h, 256, 5, None)).unwrap();
    let strip = |i: u32| CopyRect {
        src_x: 0,
        src_y: 0,
        dst_x: 0,
        dst_y: i % h,
        width: w,
        height: 4,
    };
    let copies: Vec<CopyRect> = (0..1000).map(strip).collect();
    dec.apply(&zstd_update(w, h, false, copies, Vec::new()))
        .unwrap();
    let stats = dec.stats();
    assert_eq!(stats.last_pixels_written, 1000 * u64::from(w) * 4);
    assert!(stats.last_pixels_written <= stats.last_pixel_budget);
    assert_eq!(stats.held_bytes, frame_bytes, "scratch given back");
    let three = zstd_update(w, h, false, vec![whole; 3], Vec::new());
    dec.apply(&three).unwrap();
    assert_eq!(dec.stats().held_bytes, frame_bytes);
    assert!(dec.stats().peak_bytes <= 2 * frame_bytes + 4 * MIB);
}

#[test]
fn the_tile_cache_is_bounded_in_bytes_and_an_evicted_id_is_an_error() {
    let mut limits = Limits::fuzzing();
    limits.max_cache_bytes = 8 * 1024 * 1024;
    let budget = limits.memory_budget();
    let mut dec = Decoder::new(limits);
    // Six 1024² key frames of 16 tiles of 256² (256 KiB each), every tile
    // cached under a new id: 24 MiB offered to an 8 MiB cache.
    for round in 0..6u64 {
        dec.apply(&covered(1024, 1024, 256, round as u8, Some(1 + round * 16)))
            .unwrap();
        let held = dec.stats().held_bytes;
        assert!(held <= 4 * MIB + 8 * MIB + SCRATCH_KEEP as u64, "{held}");
        assert!(dec.stats().peak_bytes <= budget);
    }
    // The newest tiles are still cached; the first ones were evicted.
    let hit = Tile {
        data: TileData::Cached(6 * 16),
        ..solid(0, 0, 256, 0, None)
    };
    dec.apply(&zstd_update(1024, 1024, false, Vec::new(), vec![hit]))
        .unwrap();
    let miss = Tile {
        data: TileData::Cached(1),
        ..solid(0, 0, 256, 0, None)
    };
    assert_eq!(
        dec.apply(&zstd_update(1024, 1024, false, Vec::new(), vec![miss])),
        Err(CodecError::UnknownCacheId(1))
    );
    // The decoder goes on from the next key frame.
    dec.apply(&covered(1024, 1024, 256, 3, None)).unwrap();
}

#[test]
fn a_batch_of_too_many_tiles_is_refused_before_decoding_them() {
    let mut dec = Decoder::new(Limits {
        max_tiles: 100,
        ..Limits::default()
    });
    let tiles = (0..101).map(|_| solid(0, 0, 1, 1, None)).collect();
    let update = zstd_update(16, 16, true, Vec::new(), tiles);
    assert_eq!(dec.apply(&update), Err(CodecError::OverLimit("tiles")));
    assert!(dec.stats().peak_bytes < MIB);
}

#[test]
fn the_stated_budget_covers_the_defaults() {
    let budget = Limits::default().memory_budget();
    // Framebuffer and scratch of a 2560×1600 frame, a 16 MiB cache, a 16
    // MiB compressed and 64 MiB decompressed batch and its tiles: the
    // figures the docs state.
    assert!(budget > 135 * MIB && budget < 145 * MIB, "{budget}");
    let fuzzing = Limits::fuzzing().memory_budget();
    assert!(fuzzing > 135 * MIB && fuzzing < 145 * MIB, "{fuzzing}");
}
