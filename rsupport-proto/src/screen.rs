//! Screen channel: frame updates from the tile codec, cursor shape and
//! position, monitors, display settings, pacing, window lists, screenshots.
//!
//! This module checks what the schema alone cannot (sizes, counts, pixel
//! buffer lengths). Checks that need the viewer's state — tiles and copy
//! rectangles inside the frame, cache ids, decompressed sizes — belong to the
//! tile decoder in `rsupport-capture`.

use bytes::Bytes;
use prost::Message;

use crate::common::{ColorDepth, Point, Rect};
use crate::error::DecodeError;
use crate::limits::{MAX_LIST, MAX_NAME};
use crate::pb::{self, screen_message::Body, tile::Data};
use crate::wire::{check_bytes, check_count, check_str, from_pb_vec, required, wire_enum, Wire};

/// Largest frame width or height accepted on the wire, pixels.
pub const MAX_FRAME_SIDE: u32 = 16_384;
/// Copy rectangles in one frame update.
pub const MAX_COPY_RECTS: usize = 4096;
/// Tiles in one tile batch.
pub const MAX_TILES: usize = 1 << 17;
/// Compressed tile bytes in one frame update (the session frame cap).
pub const MAX_TILE_BYTES: usize = 16 * 1024 * 1024;
/// Entries in a palette tile.
pub const MAX_PALETTE: usize = 256;
/// Cursor width or height, pixels.
pub const MAX_CURSOR_SIDE: u32 = 256;
/// Monitors in one monitor list.
pub const MAX_MONITORS: usize = 64;
/// Windows named in display settings.
pub const MAX_SHARED_WINDOWS: usize = 256;
/// Window title, bytes of UTF-8.
pub const MAX_WINDOW_TITLE: usize = 1024;
/// One PNG screenshot, bytes.
pub const MAX_SCREENSHOT: usize = 16 * 1024 * 1024;

wire_enum! {
    /// How the tile batch of a [`FrameUpdate`] is compressed.
    pub enum TileCompression => TileCompression {
        /// Stored as is.
        None => None,
        /// One zstd frame.
        Zstd => Zstd,
    }
}

/// One screen message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScreenMessage {
    /// host → viewer: a change to the framebuffer.
    Frame(FrameUpdate),
    /// host → viewer: a cursor image.
    CursorShape(CursorShape),
    /// host → viewer: where the cursor is.
    CursorPosition(CursorPosition),
    /// host → viewer: the host's monitors.
    Monitors(MonitorList),
    /// viewer → host: how to share the screen.
    Settings(DisplaySettings),
    /// viewer → host: a frame was applied (pacing).
    FrameAck {
        /// The acknowledged [`FrameUpdate::seq`].
        seq: u64,
    },
    /// viewer → host: send a key frame (after a decode error or a new viewer).
    Refresh,
    /// host → viewer: windows the host user may choose to share.
    Windows(Vec<WindowInfo>),
    /// viewer → host: ask for a screenshot.
    ScreenshotRequest {
        /// Echoed in the [`Screenshot`].
        request_id: u32,
    },
    /// host → viewer: a PNG of the shared area.
    Screenshot(Screenshot),
}

/// A change to the viewer's framebuffer.
///
/// Apply in order: resize to `width` × `height` (key frames), then `copies`
/// (each reads the framebuffer as it was before any copy of this update),
/// then the tiles of [`TileBatch`] once `tiles` is decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameUpdate {
    /// Increasing per host.
    pub seq: u64,
    /// Monitor the frame shows.
    pub monitor_id: u32,
    /// Frame width, pixels (at most [`MAX_FRAME_SIDE`]).
    pub width: u32,
    /// Frame height, pixels (at most [`MAX_FRAME_SIDE`]).
    pub height: u32,
    /// Covers the whole screen and depends on nothing earlier except the tile cache.
    pub key_frame: bool,
    /// Scroll and move regions.
    pub copies: Vec<CopyRect>,
    /// How `tiles` is compressed.
    pub compression: TileCompression,
    /// Length of `tiles` once decompressed; decoders refuse more than their cap.
    pub tiles_raw_len: u32,
    /// An encoded [`TileBatch`], compressed as `compression` says.
    pub tiles: Bytes,
    /// Host capture time, ms since the Unix epoch.
    pub captured_at_ms: u64,
}

/// Move a rectangle of the framebuffer (scrolling, window drags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CopyRect {
    /// Source left edge.
    pub src_x: u32,
    /// Source top edge.
    pub src_y: u32,
    /// Destination left edge.
    pub dst_x: u32,
    /// Destination top edge.
    pub dst_y: u32,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
}

/// The tiles of one [`FrameUpdate`], in the order they are applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TileBatch {
    /// The tiles.
    pub tiles: Vec<Tile>,
}

/// One rectangle of pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width, pixels (at least 1).
    pub width: u32,
    /// Height, pixels (at least 1).
    pub height: u32,
    /// The pixels.
    pub data: TileData,
    /// When set, the viewer stores this tile's pixels under this id.
    pub cache_id: Option<u64>,
}

/// How a tile's pixels are encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TileData {
    /// Every pixel this BGRA colour.
    Solid([u8; 4]),
    /// Few colours: a palette plus run-length-encoded indices.
    Palette(PaletteTile),
    /// BGRA, row-major, `width * height * 4` bytes.
    Raw(Bytes),
    /// The pixels of a tile stored earlier under this cache id.
    Cached(u64),
    /// Lossy JPEG (only when the viewer allowed lossy tiles).
    Jpeg(Bytes),
    /// Median-predictor residuals in B, G, R, A planes, `width * height * 4` bytes (see the schema).
    Predicted(Bytes),
}

/// A palette tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaletteTile {
    /// BGRA colours, 1 to [`MAX_PALETTE`].
    pub colors: Vec<[u8; 4]>,
    /// Which colour each pixel has.
    pub indices: PaletteIndices,
}

/// The pixels of a [`PaletteTile`] as palette indices.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaletteIndices {
    /// `(index byte, run length varint)` pairs covering the tile in row-major
    /// order: best for flat areas with long runs.
    Runs(Bytes),
    /// One index byte per pixel, row-major (`width * height` bytes): best for
    /// anti-aliased text, whose runs are short.
    PerPixel(Bytes),
}

/// A cursor image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorShape {
    /// Id reused by [`CursorPosition::shape_id`].
    pub shape_id: u64,
    /// Width, 1 to [`MAX_CURSOR_SIDE`].
    pub width: u32,
    /// Height, 1 to [`MAX_CURSOR_SIDE`].
    pub height: u32,
    /// Hot spot, inside the image.
    pub hot_x: u32,
    /// Hot spot, inside the image.
    pub hot_y: u32,
    /// Premultiplied BGRA, `width * height * 4` bytes.
    pub bgra: Bytes,
}

/// Cursor position in frame coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorPosition {
    /// Where the hot spot is.
    pub position: Point,
    /// Whether the cursor is shown.
    pub visible: bool,
    /// The [`CursorShape`] shown.
    pub shape_id: u64,
}

/// The host's monitors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonitorList {
    /// At most [`MAX_MONITORS`].
    pub monitors: Vec<Monitor>,
    /// The monitor shared now.
    pub active_id: u32,
}

/// One monitor in the host's virtual desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// Stable id.
    pub id: u32,
    /// Human-readable name.
    pub name: String,
    /// Position and size in the virtual desktop, physical pixels.
    pub bounds: Rect,
    /// DPI scale in percent (100 = 96 DPI).
    pub scale_percent: u32,
    /// The primary monitor.
    pub primary: bool,
}

/// How the viewer wants the host to share the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplaySettings {
    /// Colour depth the host quantises to (absent on the wire = true colour).
    pub color_depth: ColorDepth,
    /// Replace the wallpaper by a plain colour.
    pub hide_wallpaper: bool,
    /// Share only these windows; empty = the whole monitor.
    pub window_ids: Vec<u64>,
    /// Downscale to this percent (1..=100); 0 = no scaling.
    pub scale_percent: u32,
    /// Monitor to share; 0 = keep the current one.
    pub monitor_id: u32,
    /// Upper bound on frames per second; 0 = host default.
    pub max_fps: u32,
    /// Allow lossy JPEG tiles for photo-like, fast-changing regions.
    pub allow_lossy: bool,
}

impl Default for DisplaySettings {
    fn default() -> Self {
        DisplaySettings {
            color_depth: ColorDepth::TrueColor,
            hide_wallpaper: false,
            window_ids: Vec::new(),
            scale_percent: 0,
            monitor_id: 0,
            max_fps: 0,
            allow_lossy: false,
        }
    }
}

/// One shareable top-level window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInfo {
    /// Stable id.
    pub id: u64,
    /// Title (at most [`MAX_WINDOW_TITLE`] bytes).
    pub title: String,
    /// Application name (e.g. WM_CLASS).
    pub application: String,
    /// Position and size.
    pub bounds: Rect,
}

/// A PNG screenshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    /// The request answered.
    pub request_id: u32,
    /// PNG bytes (at most [`MAX_SCREENSHOT`]).
    pub png: Bytes,
}

impl FrameUpdate {
    /// Protobuf bytes of this update alone (without the session envelope).
    pub fn encode(&self) -> Bytes {
        Bytes::from(self.to_pb().encode_to_vec())
    }

    /// Decodes an update encoded by [`FrameUpdate::encode`], with this
    /// module's checks. The tile batch inside stays compressed.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        crate::wire::decode(buf)
    }
}

impl TileBatch {
    /// Protobuf bytes of this batch (what the codec compresses).
    pub fn encode(&self) -> Bytes {
        Bytes::from(self.to_pb().encode_to_vec())
    }

    /// Decodes a batch, checking every tile's own consistency (sizes,
    /// palette, buffer lengths). Placement inside the frame and cache ids are
    /// the tile decoder's to check.
    pub fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        crate::wire::decode(buf)
    }
}

fn check_side(field: &'static str, v: u32, max: u32) -> Result<(), DecodeError> {
    if v == 0 {
        return Err(DecodeError::Invalid {
            field,
            reason: "zero size",
        });
    }
    if v > max {
        return Err(DecodeError::TooLong {
            field,
            len: v as usize,
            max: max as usize,
        });
    }
    Ok(())
}

/// Checks that a pixel buffer holds exactly `width * height * 4` bytes.
fn check_pixels(field: &'static str, b: &[u8], width: u32, height: u32) -> Result<(), DecodeError> {
    let expected = u64::from(width) * u64::from(height) * 4;
    if b.len() as u64 != expected {
        return Err(DecodeError::Invalid {
            field,
            reason: "length is not width * height * 4",
        });
    }
    Ok(())
}

impl Wire for Tile {
    type Pb = pb::Tile;

    fn to_pb(&self) -> pb::Tile {
        let data = match &self.data {
            TileData::Solid(c) => Data::Solid(u32::from_le_bytes(*c)),
            TileData::Palette(p) => Data::Palette(pb::PaletteTile {
                colors: p
                    .colors
                    .iter()
                    .flatten()
                    .copied()
                    .collect::<Vec<u8>>()
                    .into(),
                runs: match &p.indices {
                    PaletteIndices::Runs(b) => b.clone(),
                    PaletteIndices::PerPixel(_) => Bytes::new(),
                },
                indices: match &p.indices {
                    PaletteIndices::PerPixel(b) => b.clone(),
                    PaletteIndices::Runs(_) => Bytes::new(),
                },
            }),
            TileData::Raw(b) => Data::Raw(b.clone()),
            TileData::Cached(id) => Data::Cached(*id),
            TileData::Jpeg(b) => Data::Jpeg(b.clone()),
            TileData::Predicted(b) => Data::Predicted(b.clone()),
        };
        pb::Tile {
            x: self.x,
            y: self.y,
            width: self.width,
            height: self.height,
            data: Some(data),
            cache_id: self.cache_id.unwrap_or(0),
        }
    }

    fn from_pb(pb: pb::Tile) -> Result<Self, DecodeError> {
        check_side("tile.width", pb.width, MAX_FRAME_SIDE)?;
        check_side("tile.height", pb.height, MAX_FRAME_SIDE)?;
        let data = match required("tile.data", pb.data)? {
            Data::Solid(c) => TileData::Solid(c.to_le_bytes()),
            Data::Palette(p) => {
                check_bytes("tile.palette.colors", &p.colors, MAX_PALETTE * 4)?;
                if p.colors.is_empty() || p.colors.len() % 4 != 0 {
                    return Err(DecodeError::Invalid {
                        field: "tile.palette.colors",
                        reason: "not 1..=256 BGRA entries",
                    });
                }
                check_bytes("tile.palette.runs", &p.runs, MAX_TILE_BYTES)?;
                let indices = match (p.runs.is_empty(), p.indices.is_empty()) {
                    (false, true) => PaletteIndices::Runs(p.runs),
                    (true, false) => {
                        if p.indices.len() as u64 != u64::from(pb.width) * u64::from(pb.height) {
                            return Err(DecodeError::Invalid {
                                field: "tile.palette.indices",
                                reason: "length is not width * height",
                            });
                        }
                        PaletteIndices::PerPixel(p.indices)
                    }
                    _ => {
                        return Err(DecodeError::Invalid {
                            field: "tile.palette",
                            reason: "needs exactly one of runs and indices",
                        })
                    }
                };
                let colors = p
                    .colors
                    .chunks_exact(4)
                    .map(|c| <[u8; 4]>::try_from(c).unwrap_or_default())
                    .collect();
                TileData::Palette(PaletteTile { colors, indices })
            }
            Data::Raw(b) => {
                check_pixels("tile.raw", &b, pb.width, pb.height)?;
                TileData::Raw(b)
            }
            Data::Predicted(b) => {
                check_pixels("tile.predicted", &b, pb.width, pb.height)?;
                TileData::Predicted(b)
            }
            Data::Cached(id) => {
                if id == 0 {
                    return Err(DecodeError::Invalid {
                        field: "tile.cached",
                        reason: "cache id 0",
                    });
                }
                TileData::Cached(id)
            }
            Data::Jpeg(b) => {
                check_bytes("tile.jpeg", &b, MAX_TILE_BYTES)?;
                TileData::Jpeg(b)
            }
        };
        Ok(Tile {
            x: pb.x,
            y: pb.y,
            width: pb.width,
            height: pb.height,
            data,
            cache_id: (pb.cache_id != 0).then_some(pb.cache_id),
        })
    }
}

impl Wire for TileBatch {
    type Pb = pb::TileBatch;

    fn to_pb(&self) -> pb::TileBatch {
        pb::TileBatch {
            tiles: self.tiles.iter().map(Tile::to_pb).collect(),
        }
    }

    fn from_pb(pb: pb::TileBatch) -> Result<Self, DecodeError> {
        check_count("tile_batch.tiles", &pb.tiles, MAX_TILES)?;
        Ok(TileBatch {
            tiles: from_pb_vec(pb.tiles)?,
        })
    }
}

impl Wire for CopyRect {
    type Pb = pb::CopyRect;

    fn to_pb(&self) -> pb::CopyRect {
        pb::CopyRect {
            src_x: self.src_x,
            src_y: self.src_y,
            dst_x: self.dst_x,
            dst_y: self.dst_y,
            width: self.width,
            height: self.height,
        }
    }

    fn from_pb(pb: pb::CopyRect) -> Result<Self, DecodeError> {
        check_side("copy.width", pb.width, MAX_FRAME_SIDE)?;
        check_side("copy.height", pb.height, MAX_FRAME_SIDE)?;
        Ok(CopyRect {
            src_x: pb.src_x,
            src_y: pb.src_y,
            dst_x: pb.dst_x,
            dst_y: pb.dst_y,
            width: pb.width,
            height: pb.height,
        })
    }
}

impl Wire for FrameUpdate {
    type Pb = pb::FrameUpdate;

    fn to_pb(&self) -> pb::FrameUpdate {
        pb::FrameUpdate {
            seq: self.seq,
            monitor_id: self.monitor_id,
            width: self.width,
            height: self.height,
            key_frame: self.key_frame,
            copies: self.copies.iter().map(CopyRect::to_pb).collect(),
            compression: self.compression.to_wire(),
            tiles_raw_len: self.tiles_raw_len,
            tiles: self.tiles.clone(),
            captured_at_ms: self.captured_at_ms,
        }
    }

    fn from_pb(pb: pb::FrameUpdate) -> Result<Self, DecodeError> {
        check_side("frame.width", pb.width, MAX_FRAME_SIDE)?;
        check_side("frame.height", pb.height, MAX_FRAME_SIDE)?;
        check_count("frame.copies", &pb.copies, MAX_COPY_RECTS)?;
        check_bytes("frame.tiles", &pb.tiles, MAX_TILE_BYTES)?;
        Ok(FrameUpdate {
            seq: pb.seq,
            monitor_id: pb.monitor_id,
            width: pb.width,
            height: pb.height,
            key_frame: pb.key_frame,
            copies: from_pb_vec(pb.copies)?,
            compression: TileCompression::from_wire("frame.compression", pb.compression)?,
            tiles_raw_len: pb.tiles_raw_len,
            tiles: pb.tiles,
            captured_at_ms: pb.captured_at_ms,
        })
    }
}

impl Wire for CursorShape {
    type Pb = pb::CursorShape;

    fn to_pb(&self) -> pb::CursorShape {
        pb::CursorShape {
            shape_id: self.shape_id,
            width: self.width,
            height: self.height,
            hot_x: self.hot_x,
            hot_y: self.hot_y,
            bgra: self.bgra.clone(),
        }
    }

    fn from_pb(pb: pb::CursorShape) -> Result<Self, DecodeError> {
        check_side("cursor.width", pb.width, MAX_CURSOR_SIDE)?;
        check_side("cursor.height", pb.height, MAX_CURSOR_SIDE)?;
        if pb.hot_x >= pb.width || pb.hot_y >= pb.height {
            return Err(DecodeError::Invalid {
                field: "cursor.hot",
                reason: "hot spot outside the image",
            });
        }
        check_pixels("cursor.bgra", &pb.bgra, pb.width, pb.height)?;
        Ok(CursorShape {
            shape_id: pb.shape_id,
            width: pb.width,
            height: pb.height,
            hot_x: pb.hot_x,
            hot_y: pb.hot_y,
            bgra: pb.bgra,
        })
    }
}

impl Wire for Monitor {
    type Pb = pb::Monitor;

    fn to_pb(&self) -> pb::Monitor {
        pb::Monitor {
            id: self.id,
            name: self.name.clone(),
            bounds: Some(self.bounds.to_pb()),
            scale_percent: self.scale_percent,
            primary: self.primary,
        }
    }

    fn from_pb(pb: pb::Monitor) -> Result<Self, DecodeError> {
        check_str("monitor.name", &pb.name, MAX_NAME)?;
        Ok(Monitor {
            id: pb.id,
            name: pb.name,
            bounds: Rect::from_pb(required("monitor.bounds", pb.bounds)?)?,
            scale_percent: pb.scale_percent,
            primary: pb.primary,
        })
    }
}

impl Wire for WindowInfo {
    type Pb = pb::WindowInfo;

    fn to_pb(&self) -> pb::WindowInfo {
        pb::WindowInfo {
            id: self.id,
            title: self.title.clone(),
            application: self.application.clone(),
            bounds: Some(self.bounds.to_pb()),
        }
    }

    fn from_pb(pb: pb::WindowInfo) -> Result<Self, DecodeError> {
        check_str("window.title", &pb.title, MAX_WINDOW_TITLE)?;
        check_str("window.application", &pb.application, MAX_NAME)?;
        Ok(WindowInfo {
            id: pb.id,
            title: pb.title,
            application: pb.application,
            bounds: Rect::from_pb(required("window.bounds", pb.bounds)?)?,
        })
    }
}

impl Wire for DisplaySettings {
    type Pb = pb::DisplaySettings;

    fn to_pb(&self) -> pb::DisplaySettings {
        pb::DisplaySettings {
            color_depth: self.color_depth.to_wire(),
            hide_wallpaper: self.hide_wallpaper,
            window_ids: self.window_ids.clone(),
            scale_percent: self.scale_percent,
            monitor_id: self.monitor_id,
            max_fps: self.max_fps,
            allow_lossy: self.allow_lossy,
        }
    }

    fn from_pb(pb: pb::DisplaySettings) -> Result<Self, DecodeError> {
        check_count("settings.window_ids", &pb.window_ids, MAX_SHARED_WINDOWS)?;
        if pb.scale_percent > 100 {
            return Err(DecodeError::Invalid {
                field: "settings.scale_percent",
                reason: "over 100",
            });
        }
        Ok(DisplaySettings {
            color_depth: ColorDepth::from_wire_opt("settings.color_depth", pb.color_depth)?
                .unwrap_or(ColorDepth::TrueColor),
            hide_wallpaper: pb.hide_wallpaper,
            window_ids: pb.window_ids,
            scale_percent: pb.scale_percent,
            monitor_id: pb.monitor_id,
            max_fps: pb.max_fps,
            allow_lossy: pb.allow_lossy,
        })
    }
}

impl Wire for ScreenMessage {
    type Pb = pb::ScreenMessage;

    fn to_pb(&self) -> pb::ScreenMessage {
        let body = match self {
            ScreenMessage::Frame(f) => Body::Frame(f.to_pb()),
            ScreenMessage::CursorShape(c) => Body::CursorShape(c.to_pb()),
            ScreenMessage::CursorPosition(p) => Body::CursorPosition(pb::CursorPosition {
                position: Some(p.position.to_pb()),
                visible: p.visible,
                shape_id: p.shape_id,
            }),
            ScreenMessage::Monitors(m) => Body::Monitors(pb::MonitorList {
                monitors: m.monitors.iter().map(Monitor::to_pb).collect(),
                active_id: m.active_id,
            }),
            ScreenMessage::Settings(s) => Body::Settings(s.to_pb()),
            ScreenMessage::FrameAck { seq } => Body::FrameAck(pb::FrameAck { seq: *seq }),
            ScreenMessage::Refresh => Body::Refresh(pb::RefreshRequest {}),
            ScreenMessage::Windows(w) => Body::Windows(pb::WindowList {
                windows: w.iter().map(WindowInfo::to_pb).collect(),
            }),
            ScreenMessage::ScreenshotRequest { request_id } => {
                Body::ScreenshotRequest(pb::ScreenshotRequest {
                    request_id: *request_id,
                })
            }
            ScreenMessage::Screenshot(s) => Body::Screenshot(pb::Screenshot {
                request_id: s.request_id,
                png: s.png.clone(),
            }),
        };
        pb::ScreenMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::ScreenMessage) -> Result<Self, DecodeError> {
        Ok(match required("screen.body", pb.body)? {
            Body::Frame(f) => ScreenMessage::Frame(FrameUpdate::from_pb(f)?),
            Body::CursorShape(c) => ScreenMessage::CursorShape(CursorShape::from_pb(c)?),
            Body::CursorPosition(p) => ScreenMessage::CursorPosition(CursorPosition {
                position: Point::from_pb(required("cursor.position", p.position)?)?,
                visible: p.visible,
                shape_id: p.shape_id,
            }),
            Body::Monitors(m) => {
                check_count("monitors", &m.monitors, MAX_MONITORS)?;
                ScreenMessage::Monitors(MonitorList {
                    monitors: from_pb_vec(m.monitors)?,
                    active_id: m.active_id,
                })
            }
            Body::Settings(s) => ScreenMessage::Settings(DisplaySettings::from_pb(s)?),
            Body::FrameAck(a) => ScreenMessage::FrameAck { seq: a.seq },
            Body::Refresh(_) => ScreenMessage::Refresh,
            Body::Windows(w) => {
                check_count("windows", &w.windows, MAX_LIST)?;
                ScreenMessage::Windows(from_pb_vec(w.windows)?)
            }
            Body::ScreenshotRequest(r) => ScreenMessage::ScreenshotRequest {
                request_id: r.request_id,
            },
            Body::Screenshot(s) => {
                check_bytes("screenshot.png", &s.png, MAX_SCREENSHOT)?;
                ScreenMessage::Screenshot(Screenshot {
                    request_id: s.request_id,
                    png: s.png,
                })
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
