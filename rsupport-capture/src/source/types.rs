//! Capture-side domain types: geometry, monitors, windows, cursor, dirty regions, errors.
//!
//! These are independent of the wire types in `rsupport_proto::screen`; the session
//! layer maps between the two.

/// An axis-aligned rectangle in pixels. `x`/`y` may be negative (monitors left of or
/// above the primary one); an empty rectangle has zero width or height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Rect {
    /// A rectangle from its origin and size.
    pub const fn new(x: i32, y: i32, width: u32, height: u32) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// One past the right edge (computed in `i64`, so it never overflows).
    pub fn right(&self) -> i64 {
        i64::from(self.x) + i64::from(self.width)
    }

    /// One past the bottom edge.
    pub fn bottom(&self) -> i64 {
        i64::from(self.y) + i64::from(self.height)
    }

    /// True when the rectangle covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Number of pixels covered.
    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// True when `(x, y)` lies inside.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && i64::from(x) < self.right() && i64::from(y) < self.bottom()
    }

    /// The overlap of two rectangles (`None` when they do not overlap).
    pub fn intersect(&self, other: &Rect) -> Option<Rect> {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = self.right().min(other.right());
        let y1 = self.bottom().min(other.bottom());
        if x1 <= i64::from(x0) || y1 <= i64::from(y0) {
            return None;
        }
        Some(Rect::from_edges(i64::from(x0), i64::from(y0), x1, y1))
    }

    /// The smallest rectangle covering both (an empty one is ignored).
    pub fn union(&self, other: &Rect) -> Rect {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        Rect::from_edges(
            i64::from(self.x.min(other.x)),
            i64::from(self.y.min(other.y)),
            self.right().max(other.right()),
            self.bottom().max(other.bottom()),
        )
    }

    /// The same rectangle moved by `(-dx, -dy)`: turns desktop coordinates into
    /// coordinates relative to an area whose origin is `(dx, dy)`.
    pub fn relative_to(&self, dx: i32, dy: i32) -> Rect {
        Rect::new(
            self.x.saturating_sub(dx),
            self.y.saturating_sub(dy),
            self.width,
            self.height,
        )
    }

    /// Builds a rectangle from edges, saturating anything that does not fit.
    pub(crate) fn from_edges(x0: i64, y0: i64, x1: i64, y1: i64) -> Rect {
        let clamp_i = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        let clamp_u = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
        Rect::new(clamp_i(x0), clamp_i(y0), clamp_u(x1 - x0), clamp_u(y1 - y0))
    }
}

/// Identifies a monitor within one capture source (stable while the monitor exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorId(pub u64);

/// One monitor of the desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MonitorInfo {
    /// Identifier to pass to [`CaptureArea::Monitor`].
    pub id: MonitorId,
    /// Human-readable name (e.g. the RandR output name `HDMI-1`).
    pub name: String,
    /// Position and size on the virtual desktop.
    pub rect: Rect,
    /// True for the primary monitor.
    pub primary: bool,
}

impl MonitorInfo {
    /// A monitor description.
    pub fn new(id: MonitorId, name: impl Into<String>, rect: Rect, primary: bool) -> Self {
        MonitorInfo {
            id,
            name: name.into(),
            rect,
            primary,
        }
    }
}

/// What part of the desktop a capturer produces frames of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureArea {
    /// One monitor.
    Monitor(MonitorId),
    /// The bounding box of all monitors (the whole virtual desktop).
    AllMonitors,
    /// An arbitrary rectangle in desktop coordinates (clipped to the desktop).
    Region(Rect),
}

/// Identifies a top-level window within one capture source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowId(pub u64);

/// A top-level application window that can be shared on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowInfo {
    /// Identifier for [`WindowSelection::Only`].
    pub id: WindowId,
    /// Window title (may be empty).
    pub title: String,
    /// Application name or class (X11 `WM_CLASS` class part; may be empty).
    pub app: String,
    /// Position and size in desktop coordinates (the client area, without frame).
    pub rect: Rect,
    /// True when the window is currently shown (not minimised / unmapped).
    pub visible: bool,
}

impl WindowInfo {
    /// A window description.
    pub fn new(
        id: WindowId,
        title: impl Into<String>,
        app: impl Into<String>,
        rect: Rect,
        visible: bool,
    ) -> Self {
        WindowInfo {
            id,
            title: title.into(),
            app: app.into(),
            rect,
            visible,
        }
    }
}

/// Which windows a capturer lets through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WindowSelection {
    /// The whole area (no masking).
    #[default]
    Everything,
    /// Only the visible parts of these windows; every other pixel is replaced by
    /// [`MASK_BGRA`](super::MASK_BGRA) before the frame leaves the capture layer.
    Only(Vec<WindowId>),
}

/// A cursor shape: straight BGRA pixels with *premultiplied* alpha (as XFIXES and
/// most platform APIs hand them out), rows packed.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CursorImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Hot spot, x offset from the left edge.
    pub hot_x: u32,
    /// Hot spot, y offset from the top edge.
    pub hot_y: u32,
    /// Changes whenever the shape changes (source-specific counter).
    pub serial: u64,
    /// `width * height * 4` bytes, BGRA premultiplied.
    pub bgra: Vec<u8>,
}

impl CursorImage {
    /// A cursor image; `None` when `bgra` does not hold `width * height * 4` bytes.
    pub fn new(
        width: u32,
        height: u32,
        hot_x: u32,
        hot_y: u32,
        serial: u64,
        bgra: Vec<u8>,
    ) -> Option<Self> {
        (u64::from(width) * u64::from(height) * 4 == bgra.len() as u64).then_some(CursorImage {
            width,
            height,
            hot_x,
            hot_y,
            serial,
            bgra,
        })
    }
}

impl std::fmt::Debug for CursorImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("hot_x", &self.hot_x)
            .field("hot_y", &self.hot_y)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// What changed about the cursor since the previous poll.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CursorUpdate {
    /// Hot-spot position relative to the capture area's top-left corner; `None`
    /// when the pointer is outside the area or over a masked (not shared) part.
    pub position: Option<(i32, i32)>,
    /// Hot-spot position on the desktop (always known to the capture layer; not
    /// meant to be sent when `position` is `None`).
    pub desktop_position: (i32, i32),
    /// The new shape, present only when it changed since the previous poll (and
    /// on the first poll).
    pub shape: Option<CursorImage>,
}

/// The parts of a frame that changed since the previous capture, in frame
/// coordinates. Reused across captures so steady-state capture does not allocate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirtyRegion {
    full: bool,
    rects: Vec<Rect>,
}

impl DirtyRegion {
    /// An empty region.
    pub fn new() -> Self {
        DirtyRegion::default()
    }

    /// True when the whole frame must be treated as changed (first frame, area
    /// change, or a source that cannot tell).
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// The changed rectangles when [`is_full`](Self::is_full) is false (may
    /// overlap; empty means nothing changed).
    pub fn rects(&self) -> &[Rect] {
        &self.rects
    }

    /// True when nothing changed.
    pub fn is_unchanged(&self) -> bool {
        !self.full && self.rects.is_empty()
    }

    /// Forgets everything (start of a capture).
    pub fn clear(&mut self) {
        self.full = false;
        self.rects.clear();
    }

    /// Marks the whole frame as changed.
    pub fn set_full(&mut self) {
        self.full = true;
        self.rects.clear();
    }

    /// Adds a changed rectangle, clipped to a `width` × `height` frame.
    pub fn add(&mut self, rect: Rect, width: u32, height: u32) {
        if self.full {
            return;
        }
        if let Some(r) = rect.intersect(&Rect::new(0, 0, width, height)) {
            self.rects.push(r);
        }
    }
}

/// Why a capture operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Could not reach the display server.
    #[error("cannot connect to the display: {0}")]
    Connect(String),
    /// The display server or platform API failed or went away.
    #[error("capture backend failed: {0}")]
    Backend(String),
    /// The display uses a pixel format this capturer does not handle.
    #[error("unsupported display format: {0}")]
    UnsupportedFormat(String),
    /// The requested monitor does not exist.
    #[error("no monitor with id {0:?}")]
    NoSuchMonitor(MonitorId),
    /// The requested region does not overlap the desktop.
    #[error("region {0:?} lies outside the desktop")]
    RegionOutsideDesktop(Rect),
    /// The requested feature is not offered by this backend.
    #[error("not supported by this capture backend: {0}")]
    Unsupported(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_and_union() {
        let a = Rect::new(-10, -10, 20, 20);
        let b = Rect::new(5, 0, 100, 3);
        assert_eq!(a.intersect(&b), Some(Rect::new(5, 0, 5, 3)));
        assert_eq!(a.union(&b), Rect::new(-10, -10, 115, 20));
        assert_eq!(a.intersect(&Rect::new(10, 10, 5, 5)), None);
        assert!(a.contains(-10, 9) && !a.contains(10, 0));
    }

    #[test]
    fn dirty_region_clips_and_full_wins() {
        let mut d = DirtyRegion::new();
        d.add(Rect::new(-5, -5, 10, 10), 8, 8);
        d.add(Rect::new(100, 100, 1, 1), 8, 8);
        assert_eq!(d.rects(), &[Rect::new(0, 0, 5, 5)]);
        d.set_full();
        d.add(Rect::new(0, 0, 1, 1), 8, 8);
        assert!(d.is_full() && d.rects().is_empty());
        d.clear();
        assert!(d.is_unchanged());
    }

    #[test]
    fn cursor_image_checks_length() {
        assert!(CursorImage::new(2, 2, 0, 0, 1, vec![0; 16]).is_some());
        assert!(CursorImage::new(2, 2, 0, 0, 1, vec![0; 15]).is_none());
    }
}
