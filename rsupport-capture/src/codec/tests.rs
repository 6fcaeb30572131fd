//! Encoder ↔ decoder tests: lossless sequences, colour depths, lossy tiles,
//! the cache, and hostile updates.

use bytes::Bytes;
use proptest::prelude::*;
use rsupport_proto::screen::{CopyRect, FrameUpdate, Tile, TileCompression, TileData};
use rsupport_proto::ColorDepth;

use super::synthetic::{Scenario, Sequence};
use super::*;
use crate::BgraFrame;

fn lossless() -> EncoderConfig {
    EncoderConfig::default()
}

/// Encodes and decodes `frames`, asserting every decoded frame equals its input.
fn round_trip(
    config: EncoderConfig,
    frames: impl IntoIterator<Item = BgraFrame>,
) -> Vec<EncodeStats> {
    let mut enc = Encoder::new(config);
    let mut dec = Decoder::new(Limits::default());
    let mut stats = Vec::new();
    for (i, f) in frames.into_iter().enumerate() {
        let update = enc.encode(&f, 0).unwrap();
        // Through the wire format, as a viewer receives it.
        let update = FrameUpdate::decode(update.encode()).unwrap();
        dec.apply(&update).unwrap();
        assert!(dec.frame() == Some(&f), "frame {i} differs after decoding");
        stats.push(enc.last_stats());
    }
    stats
}

#[test]
fn every_scenario_round_trips_losslessly() {
    for &s in Scenario::ALL {
        let mut seq = Sequence::new(s, 1024, 700, 3);
        let stats = round_trip(lossless(), (0..6).map(|_| seq.next_frame()));
        let copies: usize = stats.iter().map(|s| s.copies).sum();
        match s {
            Scenario::Scrolling | Scenario::WindowDrag => {
                assert!(copies > 0, "{s:?} should use copy rectangles")
            }
            Scenario::Typing => {
                // After the key frame, one keystroke touches one or two tiles.
                assert!(stats[1..].iter().all(|st| st.dirty_tiles <= 2), "{stats:?}");
            }
            _ => {}
        }
    }
}

#[test]
fn scrolled_content_travels_as_a_copy_not_pixels() {
    let mut seq = Sequence::new(Scenario::Scrolling, 1280, 720, 9);
    let mut enc = Encoder::new(lossless());
    enc.encode(&seq.next_frame(), 0).unwrap();
    let key = enc.last_stats().compressed_bytes;
    let update = enc.encode(&seq.next_frame(), 0).unwrap();
    // Everything but the newly exposed rows comes from one big copy.
    let copied: u32 = update.copies.iter().map(|c| c.width * c.height).sum();
    assert!(
        copied > 900 * 600,
        "copied {copied} px: {:?}",
        update.copies
    );
    assert!(enc.last_stats().compressed_bytes * 5 < key);
}

#[test]
fn tiles_seen_before_come_from_the_cache() {
    let a = Sequence::new(Scenario::Typing, 640, 480, 1).next_frame();
    let b = Sequence::new(Scenario::Video, 640, 480, 2).next_frame();
    let stats = round_trip(lossless(), [a.clone(), b, a]);
    assert!(stats[2].cached > 20, "{:?}", stats[2]);
    // Without a cache the same switch costs pixels again.
    let mut no_cache = lossless();
    no_cache.cache_entries = 0;
    let a = Sequence::new(Scenario::Typing, 640, 480, 1).next_frame();
    let b = Sequence::new(Scenario::Video, 640, 480, 2).next_frame();
    let plain = round_trip(no_cache, [a.clone(), b, a]);
    assert_eq!(plain[2].cached, 0);
    assert!(plain[2].compressed_bytes > stats[2].compressed_bytes * 3);
}

#[test]
fn a_small_cache_evicts_in_step_with_the_decoder() {
    let mut config = lossless();
    config.cache_entries = 3;
    let frames: Vec<BgraFrame> = (0..4)
        .map(|i| Sequence::new(Scenario::Video, 256, 192, i).next_frame())
        .collect();
    // Cycling through more screens than the cache holds keeps both ends in agreement.
    let seq = frames
        .iter()
        .chain(&frames)
        .chain(frames.iter().rev())
        .cloned();
    let mut enc = Encoder::new(config);
    let mut dec = Decoder::new(Limits {
        cache_entries: 3,
        ..Limits::default()
    });
    for f in seq {
        dec.apply(&enc.encode(&f, 0).unwrap()).unwrap();
        assert!(dec.frame() == Some(&f));
    }
}

#[test]
fn reduced_depths_decode_to_the_quantised_frame() {
    for depth in [
        ColorDepth::HighColor,
        ColorDepth::Colors256,
        ColorDepth::Colors16,
        ColorDepth::Colors4,
    ] {
        let mut config = lossless();
        config.color_depth = depth;
        let mut enc = Encoder::new(config);
        let mut dec = Decoder::new(Limits::default());
        let mut seq = Sequence::new(Scenario::WindowDrag, 800, 600, 4);
        let mut colours = std::collections::HashSet::new();
        for _ in 0..3 {
            let f = seq.next_frame();
            dec.apply(&enc.encode(&f, 0).unwrap()).unwrap();
            let out = dec.frame().unwrap();
            let mut expected = f.pixels().to_vec();
            quantize::Quantizer::new(depth).apply(f.pixels(), &mut expected);
            assert!(out.pixels() == expected.as_slice(), "{depth:?}");
            colours.extend(out.pixels().chunks_exact(4).map(|c| [c[0], c[1], c[2]]));
        }
        let max = match depth {
            ColorDepth::Colors256 => 256,
            ColorDepth::Colors16 => 16,
            ColorDepth::Colors4 => 4,
            _ => 1 << 16,
        };
        assert!(colours.len() <= max, "{depth:?}: {} colours", colours.len());
    }
}

#[test]
fn lossy_tiles_only_for_moving_pictures_and_refined_when_still() {
    let mut config = lossless();
    config.allow_lossy = true;
    let mut enc = Encoder::new(config);
    let mut dec = Decoder::new(Limits::default());
    let mut seq = Sequence::new(Scenario::Video, 1280, 720, 8);
    let mut jpeg = 0;
    let mut last = seq.next_frame();
    dec.apply(&enc.encode(&last, 0).unwrap()).unwrap();
    for _ in 0..6 {
        last = seq.next_frame();
        dec.apply(&enc.encode(&last, 0).unwrap()).unwrap();
        jpeg += enc.last_stats().jpeg;
        // Outside the video region (top rows: window title, wallpaper) the picture stays exact.
        let top = 100 * last.stride();
        assert!(dec.frame().unwrap().pixels()[..top] == last.pixels()[..top]);
    }
    assert!(jpeg > 0, "the video region should go lossy");
    // The video pauses: the next update makes the picture exact again.
    dec.apply(&enc.encode(&last, 0).unwrap()).unwrap();
    assert!(dec.frame() == Some(&last));
    // Text typed in an editor never goes lossy, even with lossy allowed.
    let mut typing = Sequence::new(Scenario::Typing, 800, 600, 1);
    let stats = round_trip(enc.config().clone(), (0..8).map(|_| typing.next_frame()));
    assert!(stats.iter().all(|s| s.jpeg == 0));
}

#[test]
fn size_changes_send_a_key_frame() {
    let a = BgraFrame::filled(100, 50, [1, 2, 3, 255]);
    let b = Sequence::new(Scenario::Typing, 130, 70, 1).next_frame();
    round_trip(lossless(), [a.clone(), b, a]);
}

/// A random edit to a frame: fill, noise, or a moved block.
#[derive(Debug, Clone)]
enum Edit {
    Fill(u32, u32, u32, u32, [u8; 4]),
    Noise(u32, u32, u32, u32, u64),
    Move(u32, u32, u32, u32, i32, i32),
}

fn apply_edit(f: &mut BgraFrame, e: &Edit) {
    let (w, h) = (f.width(), f.height());
    let stride = f.stride();
    let clip =
        |x: u32, y: u32, rw: u32, rh: u32| (x % w, y % h, (x % w + rw).min(w), (y % h + rh).min(h));
    match *e {
        Edit::Fill(x, y, rw, rh, c) => {
            let (x0, y0, x1, y1) = clip(x, y, rw, rh);
            for yy in y0..y1 {
                for xx in x0..x1 {
                    let i = yy as usize * stride + xx as usize * 4;
                    f.pixels_mut()[i..i + 4].copy_from_slice(&c);
                }
            }
        }
        Edit::Noise(x, y, rw, rh, seed) => {
            let (x0, y0, x1, y1) = clip(x, y, rw, rh);
            let mut s = seed | 1;
            for yy in y0..y1 {
                for xx in x0..x1 {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    let i = yy as usize * stride + xx as usize * 4;
                    f.pixels_mut()[i..i + 4].copy_from_slice(&(s as u32).to_le_bytes());
                }
            }
        }
        Edit::Move(x, y, rw, rh, dx, dy) => {
            let (x0, y0, x1, y1) = clip(x, y, rw, rh);
            let old = f.clone();
            for yy in y0..y1 {
                for xx in x0..x1 {
                    let (tx, ty) = (xx as i64 + i64::from(dx), yy as i64 + i64::from(dy));
                    if tx >= 0 && ty >= 0 && tx < i64::from(w) && ty < i64::from(h) {
                        let s = yy as usize * stride + xx as usize * 4;
                        let d = ty as usize * stride + tx as usize * 4;
                        f.pixels_mut()[d..d + 4].copy_from_slice(&old.pixels()[s..s + 4]);
                    }
                }
            }
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    let r = (any::<u32>(), any::<u32>(), 1u32..200, 1u32..200);
    prop_oneof![
        (r.clone(), any::<[u8; 4]>()).prop_map(|((x, y, w, h), c)| Edit::Fill(x, y, w, h, c)),
        (r.clone(), any::<u64>()).prop_map(|((x, y, w, h), s)| Edit::Noise(x, y, w, h, s)),
        (r, -80i32..80, -80i32..80)
            .prop_map(|((x, y, w, h), dx, dy)| Edit::Move(x, y, w, h, dx, dy)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_sequences_round_trip(
        w in 1u32..300,
        h in 1u32..220,
        steps in proptest::collection::vec(proptest::collection::vec(edit(), 0..4), 1..8),
        cache in prop_oneof![Just(0usize), Just(2), Just(64)],
    ) {
        let mut config = lossless();
        config.cache_entries = cache;
        let mut frame = BgraFrame::filled(w, h, [9, 9, 9, 255]);
        let mut frames = Vec::new();
        for step in &steps {
            for e in step {
                apply_edit(&mut frame, e);
            }
            frames.push(frame.clone());
        }
        round_trip(config.clone(), frames.clone());

        // With damage hints: each frame's changed pixels as the capture reports them.
        let mut enc = Encoder::new(config);
        let mut dec = Decoder::new(Limits::default());
        let mut prev: Option<BgraFrame> = None;
        for f in frames {
            let mut damage = crate::source::DirtyRegion::new();
            match &prev {
                Some(p) if p.width() == f.width() => {
                    for y in 0..h {
                        for x in 0..w {
                            if p.pixel(x, y) != f.pixel(x, y) {
                                damage.add(crate::source::Rect::new(x as i32, y as i32, 1, 1), w, h);
                            }
                        }
                    }
                }
                _ => damage.set_full(),
            }
            dec.apply(&enc.encode_damaged(&f, &damage, 0).unwrap()).unwrap();
            prop_assert!(dec.frame() == Some(&f));
            prev = Some(f);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_update_bytes(&bytes);
    }

    #[test]
    fn corrupted_updates_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut seq = Sequence::new(Scenario::Scrolling, 320, 240, 2);
        let mut enc = Encoder::new(lossless());
        let mut dec = Decoder::new(Limits::default());
        let first = enc.encode(&seq.next_frame(), 0).unwrap();
        dec.apply(&first).unwrap();
        let mut bytes = enc.encode(&seq.next_frame(), 0).unwrap().encode().to_vec();
        for (at, x) in flips {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
        let _ = dec.apply_bytes(&bytes);
    }
}

fn update(
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
        TileCompression::None,
    )
}

fn tile(x: u32, y: u32, width: u32, height: u32, data: TileData) -> Tile {
    Tile {
        x,
        y,
        width,
        height,
        data,
        cache_id: None,
    }
}

#[test]
fn hostile_updates_get_typed_errors() {
    let mut dec = Decoder::new(Limits::default());
    let solid = |x, y, w, h| tile(x, y, w, h, TileData::Solid([1, 2, 3, 4]));
    assert_eq!(
        dec.apply(&update(10, 10, false, vec![], vec![])),
        Err(CodecError::NoKeyFrame)
    );
    assert!(matches!(
        dec.apply(&update(9000, 10, true, vec![], vec![])),
        Err(CodecError::FrameSize { .. })
    ));
    assert_eq!(
        dec.apply(&update(10, 10, true, vec![], vec![solid(5, 5, 6, 1)])),
        Err(CodecError::OutOfBounds("tile"))
    );
    assert_eq!(
        dec.apply(&update(
            10,
            10,
            true,
            vec![],
            vec![solid(u32::MAX, 0, 2, 1)]
        )),
        Err(CodecError::OutOfBounds("tile"))
    );
    let copy = CopyRect {
        src_x: 0,
        src_y: 0,
        dst_x: 8,
        dst_y: 0,
        width: 3,
        height: 1,
    };
    assert_eq!(
        dec.apply(&update(10, 10, true, vec![copy], vec![])),
        Err(CodecError::OutOfBounds("copy rectangle"))
    );
    let cached = tile(0, 0, 4, 4, TileData::Cached(77));
    assert_eq!(
        dec.apply(&update(10, 10, true, vec![], vec![cached])),
        Err(CodecError::UnknownCacheId(77))
    );
    let big = tile(
        0,
        0,
        300,
        300,
        TileData::Raw(Bytes::from(vec![0; 300 * 300 * 4])),
    );
    assert_eq!(
        dec.apply(&update(400, 400, true, vec![], vec![big])),
        Err(CodecError::OverLimit("tile area"))
    );

    // A declared size over the cap is refused before decompressing anything.
    let mut u = update(10, 10, true, vec![], vec![]);
    u.compression = TileCompression::Zstd;
    u.tiles_raw_len = u32::MAX;
    assert!(matches!(
        dec.apply(&u),
        Err(CodecError::BatchTooLarge { .. })
    ));
    // A zstd bomb stops at the declared size.
    let bomb = zstd::bulk::compress(&vec![0u8; 10 << 20], 3).unwrap();
    u.tiles = Bytes::from(bomb);
    u.tiles_raw_len = 1000;
    assert_eq!(dec.apply(&u), Err(CodecError::Corrupt("zstd")));

    // After any error the decoder waits for a key frame again.
    dec.apply(&update(10, 10, true, vec![], vec![solid(0, 0, 10, 10)]))
        .unwrap();
    assert!(dec
        .apply(&update(10, 10, false, vec![], vec![solid(9, 9, 2, 2)]))
        .is_err());
    assert_eq!(
        dec.apply(&update(10, 10, false, vec![], vec![])),
        Err(CodecError::NoKeyFrame)
    );
}

#[test]
fn copies_read_the_frame_before_any_copy() {
    // Two copies swapping the halves of a 2×1 frame.
    let mut dec = Decoder::new(Limits::default());
    let key = update(
        2,
        1,
        true,
        vec![],
        vec![
            tile(0, 0, 1, 1, TileData::Solid([1; 4])),
            tile(1, 0, 1, 1, TileData::Solid([2; 4])),
        ],
    );
    dec.apply(&key).unwrap();
    let swap = vec![
        CopyRect {
            src_x: 0,
            src_y: 0,
            dst_x: 1,
            dst_y: 0,
            width: 1,
            height: 1,
        },
        CopyRect {
            src_x: 1,
            src_y: 0,
            dst_x: 0,
            dst_y: 0,
            width: 1,
            height: 1,
        },
    ];
    dec.apply(&update(2, 1, false, swap, vec![])).unwrap();
    assert_eq!(dec.frame().unwrap().pixels(), &[2, 2, 2, 2, 1, 1, 1, 1]);
}

#[test]
fn a_single_overlapping_copy_moves_rows_in_either_direction() {
    let rows: Vec<Tile> = (0..4u8)
        .map(|i| tile(0, u32::from(i), 2, 1, TileData::Solid([i + 1; 4])))
        .collect();
    let copy = |src_y, dst_y| CopyRect {
        src_x: 0,
        src_y,
        dst_x: 0,
        dst_y,
        width: 2,
        height: 3,
    };
    let column = |dec: &Decoder| -> Vec<u8> {
        (0..4)
            .map(|y| dec.frame().unwrap().pixel(1, y).unwrap()[0])
            .collect()
    };
    let mut dec = Decoder::new(Limits::default());
    dec.apply(&update(2, 4, true, vec![], rows.clone()))
        .unwrap();
    dec.apply(&update(2, 4, false, vec![copy(0, 1)], vec![]))
        .unwrap();
    assert_eq!(column(&dec), [1, 1, 2, 3]);
    dec.apply(&update(2, 4, true, vec![], rows)).unwrap();
    dec.apply(&update(2, 4, false, vec![copy(1, 0)], vec![]))
        .unwrap();
    assert_eq!(column(&dec), [2, 3, 4, 4]);
}

#[test]
fn settings_and_refresh_start_over_with_a_key_frame() {
    let mut seq = Sequence::new(Scenario::Typing, 320, 240, 5);
    let mut enc = Encoder::new(lossless());
    assert!(enc.encode(&seq.next_frame(), 0).unwrap().key_frame);
    assert!(!enc.encode(&seq.next_frame(), 0).unwrap().key_frame);
    // The viewer lost its state (decode error): refresh gives a self-contained frame.
    enc.request_key_frame();
    let update = enc.encode(&seq.next_frame(), 0).unwrap();
    assert!(update.key_frame);
    let mut fresh = Decoder::new(Limits::default());
    fresh.apply(&update).unwrap();

    let settings = rsupport_proto::screen::DisplaySettings {
        color_depth: ColorDepth::Colors16,
        ..Default::default()
    };
    enc.apply_settings(&settings);
    let frame = seq.next_frame();
    let update = enc.encode(&frame, 0).unwrap();
    assert!(update.key_frame, "a new depth starts with a key frame");
    fresh.apply(&update).unwrap();
    let mut expected = frame.pixels().to_vec();
    quantize::Quantizer::new(ColorDepth::Colors16).apply(frame.pixels(), &mut expected);
    assert!(fresh.frame().unwrap().pixels() == expected.as_slice());
    // Same settings again change nothing.
    enc.apply_settings(&settings);
    assert!(!enc.encode(&seq.next_frame(), 0).unwrap().key_frame);
}

#[test]
fn an_incompressible_update_over_the_cap_is_refused_not_sent() {
    let (w, h) = (2100u32, 2100u32);
    let mut frame = BgraFrame::filled(w, h, [0; 4]);
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    for p in frame.pixels_mut().chunks_exact_mut(8) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p.copy_from_slice(&s.to_le_bytes());
    }
    let mut enc = Encoder::new(lossless());
    assert!(matches!(
        enc.encode(&frame, 0),
        Err(EncodeError::TooLarge { .. })
    ));
    // Something that fits afterwards goes out as a key frame.
    let small = BgraFrame::filled(w, h, [1, 2, 3, 255]);
    let update = enc.encode(&small, 0).unwrap();
    assert!(update.key_frame);
    // A viewer that holds frames this large (the default holds less).
    let mut dec = Decoder::new(Limits {
        max_frame_pixels: u64::from(w) * u64::from(h),
        ..Limits::default()
    });
    dec.apply(&update).unwrap();
    assert!(dec.frame() == Some(&small));
}
