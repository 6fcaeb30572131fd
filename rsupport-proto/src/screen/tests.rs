//! Round trips and refusals of the screen channel types.

use super::*;
use crate::common::tests::{point, rect};
use crate::wire::strategies::*;
use proptest::prelude::*;

fn pixels(w: u32, h: u32) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), (w * h * 4) as usize).prop_map(Bytes::from)
}

fn tile() -> impl Strategy<Value = Tile> {
    (
        1u32..6,
        1u32..6,
        any::<u32>(),
        any::<u32>(),
        proptest::option::of(1u64..),
    )
        .prop_flat_map(|(w, h, x, y, cache_id)| {
            let data = prop_oneof![
                any::<[u8; 4]>().prop_map(TileData::Solid),
                (
                    proptest::collection::vec(any::<[u8; 4]>(), 1..=8),
                    bytes(16).prop_filter("runs are non-empty", |b| !b.is_empty())
                )
                    .prop_map(|(colors, runs)| TileData::Palette(PaletteTile {
                        colors,
                        indices: PaletteIndices::Runs(runs)
                    })),
                (
                    proptest::collection::vec(any::<[u8; 4]>(), 1..=8),
                    proptest::collection::vec(any::<u8>(), (w * h) as usize)
                )
                    .prop_map(|(colors, idx)| TileData::Palette(PaletteTile {
                        colors,
                        indices: PaletteIndices::PerPixel(Bytes::from(idx))
                    })),
                pixels(w, h).prop_map(TileData::Raw),
                pixels(w, h).prop_map(TileData::Predicted),
                (1u64..).prop_map(TileData::Cached),
                bytes(32).prop_map(TileData::Jpeg),
            ];
            data.prop_map(move |data| Tile {
                x,
                y,
                width: w,
                height: h,
                data,
                cache_id,
            })
        })
}

pub(crate) fn tile_batch() -> impl Strategy<Value = TileBatch> {
    proptest::collection::vec(tile(), 0..6).prop_map(|tiles| TileBatch { tiles })
}

fn copy_rect() -> impl Strategy<Value = CopyRect> {
    (any::<[u32; 4]>(), 1..=MAX_FRAME_SIDE, 1..=MAX_FRAME_SIDE).prop_map(|(p, width, height)| {
        CopyRect {
            src_x: p[0],
            src_y: p[1],
            dst_x: p[2],
            dst_y: p[3],
            width,
            height,
        }
    })
}

fn frame_update() -> impl Strategy<Value = FrameUpdate> {
    (
        any::<(u64, u32, bool, u32, u64)>(),
        1..=MAX_FRAME_SIDE,
        1..=MAX_FRAME_SIDE,
        proptest::collection::vec(copy_rect(), 0..4),
        one_of(TileCompression::ALL),
        bytes(64),
    )
        .prop_map(
            |(
                (seq, monitor_id, key_frame, tiles_raw_len, captured_at_ms),
                width,
                height,
                copies,
                compression,
                tiles,
            )| {
                FrameUpdate {
                    seq,
                    monitor_id,
                    width,
                    height,
                    key_frame,
                    copies,
                    compression,
                    tiles_raw_len,
                    tiles,
                    captured_at_ms,
                }
            },
        )
}

fn cursor_shape() -> impl Strategy<Value = CursorShape> {
    (1u32..8, 1u32..8, any::<u64>()).prop_flat_map(|(w, h, shape_id)| {
        (0..w, 0..h, pixels(w, h)).prop_map(move |(hot_x, hot_y, bgra)| CursorShape {
            shape_id,
            width: w,
            height: h,
            hot_x,
            hot_y,
            bgra,
        })
    })
}

fn monitor() -> impl Strategy<Value = Monitor> {
    (any::<u32>(), text(12), rect(), any::<u32>(), any::<bool>()).prop_map(
        |(id, name, bounds, scale_percent, primary)| Monitor {
            id,
            name,
            bounds,
            scale_percent,
            primary,
        },
    )
}

fn window_info() -> impl Strategy<Value = WindowInfo> {
    (any::<u64>(), text(20), text(8), rect()).prop_map(|(id, title, application, bounds)| {
        WindowInfo {
            id,
            title,
            application,
            bounds,
        }
    })
}

fn display_settings() -> impl Strategy<Value = DisplaySettings> {
    (
        one_of(ColorDepth::ALL),
        any::<bool>(),
        proptest::collection::vec(any::<u64>(), 0..4),
        0u32..=100,
        any::<(u32, u32, bool)>(),
    )
        .prop_map(
            |(
                color_depth,
                hide_wallpaper,
                window_ids,
                scale_percent,
                (monitor_id, max_fps, allow_lossy),
            )| {
                DisplaySettings {
                    color_depth,
                    hide_wallpaper,
                    window_ids,
                    scale_percent,
                    monitor_id,
                    max_fps,
                    allow_lossy,
                }
            },
        )
}

pub(crate) fn screen_message() -> impl Strategy<Value = ScreenMessage> {
    prop_oneof![
        frame_update().prop_map(ScreenMessage::Frame),
        cursor_shape().prop_map(ScreenMessage::CursorShape),
        (point(), any::<bool>(), any::<u64>()).prop_map(|(position, visible, shape_id)| {
            ScreenMessage::CursorPosition(CursorPosition {
                position,
                visible,
                shape_id,
            })
        }),
        (proptest::collection::vec(monitor(), 0..4), any::<u32>()).prop_map(
            |(monitors, active_id)| ScreenMessage::Monitors(MonitorList {
                monitors,
                active_id
            })
        ),
        display_settings().prop_map(ScreenMessage::Settings),
        any::<u64>().prop_map(|seq| ScreenMessage::FrameAck { seq }),
        Just(ScreenMessage::Refresh),
        proptest::collection::vec(window_info(), 0..4).prop_map(ScreenMessage::Windows),
        any::<u32>().prop_map(|request_id| ScreenMessage::ScreenshotRequest { request_id }),
        (any::<u32>(), bytes(64)).prop_map(|(request_id, png)| ScreenMessage::Screenshot(
            Screenshot { request_id, png }
        )),
    ]
}

proptest! {
    #[test]
    fn screen_round_trips(m in screen_message()) {
        assert_round_trip(&m);
    }

    #[test]
    fn tile_batches_round_trip(b in tile_batch()) {
        prop_assert_eq!(TileBatch::decode(b.encode()).unwrap(), b);
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = TileBatch::decode(Bytes::from(buf.clone()));
        let _ = crate::wire::decode::<ScreenMessage>(Bytes::from(buf));
    }
}

fn raw_tile(width: u32, height: u32, len: usize) -> pb::Tile {
    pb::Tile {
        x: 0,
        y: 0,
        width,
        height,
        data: Some(Data::Raw(Bytes::from(vec![0; len]))),
        cache_id: 0,
    }
}

#[test]
fn raw_tile_length_must_match_its_size() {
    assert!(Tile::from_pb(raw_tile(2, 3, 24)).is_ok());
    assert!(matches!(
        Tile::from_pb(raw_tile(2, 3, 23)),
        Err(DecodeError::Invalid {
            field: "tile.raw",
            ..
        })
    ));
    // u32 sides whose product overflows 32 bits must not wrap into a match.
    assert!(Tile::from_pb(raw_tile(MAX_FRAME_SIDE + 1, 1, 0)).is_err());
    assert!(matches!(
        Tile::from_pb(raw_tile(0, 3, 0)),
        Err(DecodeError::Invalid {
            field: "tile.width",
            ..
        })
    ));
}

#[test]
fn bad_palettes_and_cache_ids_are_refused() {
    let mut t = raw_tile(1, 1, 4);
    t.data = Some(Data::Palette(pb::PaletteTile {
        colors: Bytes::from(vec![0; 4 * 257]),
        runs: Bytes::from_static(&[0, 1]),
        indices: Bytes::new(),
    }));
    assert!(matches!(
        Tile::from_pb(t.clone()),
        Err(DecodeError::TooLong { .. })
    ));
    t.data = Some(Data::Palette(pb::PaletteTile {
        colors: Bytes::from(vec![0; 6]),
        runs: Bytes::from_static(&[0, 1]),
        indices: Bytes::new(),
    }));
    assert!(matches!(
        Tile::from_pb(t.clone()),
        Err(DecodeError::Invalid { .. })
    ));
    // Runs and per-pixel indices: exactly one, and indices cover the tile.
    for (runs, indices) in [
        (&[][..], &[][..]),
        (&[0, 1][..], &[0][..]),
        (&[][..], &[0, 0][..]),
    ] {
        t.data = Some(Data::Palette(pb::PaletteTile {
            colors: Bytes::from(vec![0; 4]),
            runs: Bytes::copy_from_slice(runs),
            indices: Bytes::copy_from_slice(indices),
        }));
        assert!(matches!(
            Tile::from_pb(t.clone()),
            Err(DecodeError::Invalid { .. })
        ));
    }
    t.data = Some(Data::Palette(pb::PaletteTile {
        colors: Bytes::from(vec![0; 4]),
        runs: Bytes::new(),
        indices: Bytes::from_static(&[0]),
    }));
    assert!(Tile::from_pb(t.clone()).is_ok());
    t.data = Some(Data::Cached(0));
    assert!(matches!(
        Tile::from_pb(t),
        Err(DecodeError::Invalid {
            field: "tile.cached",
            ..
        })
    ));
}

#[test]
fn frame_checks_sizes_and_compression() {
    let good = FrameUpdate {
        seq: 1,
        monitor_id: 0,
        width: 10,
        height: 10,
        key_frame: true,
        copies: vec![],
        compression: TileCompression::Zstd,
        tiles_raw_len: 0,
        tiles: Bytes::new(),
        captured_at_ms: 0,
    };
    assert_eq!(FrameUpdate::from_pb(good.to_pb()), Ok(good.clone()));
    let mut pb = good.to_pb();
    pb.compression = 0;
    assert_eq!(
        FrameUpdate::from_pb(pb),
        Err(DecodeError::MissingField("frame.compression"))
    );
    let mut pb = good.to_pb();
    pb.width = MAX_FRAME_SIDE + 1;
    assert!(matches!(
        FrameUpdate::from_pb(pb),
        Err(DecodeError::TooLong { .. })
    ));
}

#[test]
fn cursor_hot_spot_must_be_inside() {
    let c = CursorShape {
        shape_id: 1,
        width: 2,
        height: 2,
        hot_x: 2,
        hot_y: 0,
        bgra: Bytes::from(vec![0; 16]),
    };
    assert!(matches!(
        CursorShape::from_pb(c.to_pb()),
        Err(DecodeError::Invalid {
            field: "cursor.hot",
            ..
        })
    ));
}

#[test]
fn solid_colour_is_bgra_in_argb_word() {
    let t = Tile {
        x: 0,
        y: 0,
        width: 1,
        height: 1,
        data: TileData::Solid([0x11, 0x22, 0x33, 0xff]),
        cache_id: None,
    };
    assert_eq!(t.to_pb().data, Some(Data::Solid(0xff33_2211)));
}

#[test]
fn settings_without_depth_mean_true_colour() {
    let s = DisplaySettings::from_pb(pb::DisplaySettings::default()).unwrap();
    assert_eq!(s, DisplaySettings::default());
    let bad = pb::DisplaySettings {
        scale_percent: 101,
        ..Default::default()
    };
    assert!(DisplaySettings::from_pb(bad).is_err());
}
