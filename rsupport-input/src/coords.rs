//! Coordinate mapping between the viewer's scaled view, the shared frame and
//! the host's monitor layout.
//!
//! ```text
//! viewer widget ──ViewTransform──▶ shared frame (wire Point) ──CoordinateMapper──▶ host desktop
//!  (letterboxed, any scale)          (frame pixels)                (physical pixels, clamped)
//! ```
//!
//! The host never trusts the viewer's coordinates: every point is clamped to
//! the area being shared — the selected monitor(s), or only the selected
//! application windows — so input cannot land on anything the customer did
//! not share.

use rsupport_proto::{Point, Rect};

use crate::event::DesktopPoint;

/// One monitor of the host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Monitor {
    /// Position and size on the virtual desktop, physical pixels.
    pub bounds: Rect,
    /// DPI scale (1.0 = 96 dpi; 2.0 = "200 %" / Retina).
    pub scale: f64,
    /// Top-left corner in logical units, for platforms whose injection API
    /// works in logical points (macOS; DPI-unaware processes on Windows).
    pub logical_origin: (f64, f64),
}

impl Monitor {
    /// A monitor whose logical origin is its physical origin divided by its
    /// scale (the usual single-scale arrangement).
    pub fn new(bounds: Rect, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Monitor {
            bounds,
            scale,
            logical_origin: (f64::from(bounds.x) / scale, f64::from(bounds.y) / scale),
        }
    }
}

/// Why a mapper cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The frame or the shared source area has zero width or height.
    #[error("the shared frame or source area is empty")]
    Empty,
    /// No monitor (or selected window) overlaps the shared area.
    #[error("nothing visible is shared: no monitor or window overlaps the shared area")]
    NothingShared,
    /// A monitor index out of range.
    #[error("no monitor {0}")]
    NoSuchMonitor(usize),
}

/// Where a frame point landed on the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapped {
    /// Inside the shared area.
    Inside(DesktopPoint),
    /// Outside the shared area; moved to the nearest shared pixel.
    Clamped(DesktopPoint),
}

impl Mapped {
    /// The desktop point, clamped or not.
    pub fn point(self) -> DesktopPoint {
        match self {
            Mapped::Inside(p) | Mapped::Clamped(p) => p,
        }
    }
}

/// Maps shared-frame coordinates onto the host desktop, clamped to the
/// shared area.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinateMapper {
    source: Rect,
    frame: (u32, u32),
    allowed: Vec<Rect>,
    monitors: Vec<Monitor>,
}

impl CoordinateMapper {
    /// A mapper for a frame of `frame_width` × `frame_height` pixels that
    /// shows the desktop area `source` (physical pixels; the frame may be
    /// scaled down from it). Input may land on any monitor pixel inside
    /// `source` — never in the dead space between monitors of different
    /// sizes.
    pub fn new(
        monitors: Vec<Monitor>,
        source: Rect,
        frame_width: u32,
        frame_height: u32,
    ) -> Result<Self, MapError> {
        if frame_width == 0 || frame_height == 0 || source.width == 0 || source.height == 0 {
            return Err(MapError::Empty);
        }
        let allowed: Vec<Rect> = monitors
            .iter()
            .filter_map(|m| intersect(m.bounds, source))
            .collect();
        if allowed.is_empty() {
            return Err(MapError::NothingShared);
        }
        Ok(CoordinateMapper {
            source,
            frame: (frame_width, frame_height),
            allowed,
            monitors,
        })
    }

    /// A mapper for sharing one monitor (by index) as a frame of the given size.
    pub fn for_monitor(
        monitors: Vec<Monitor>,
        index: usize,
        frame_width: u32,
        frame_height: u32,
    ) -> Result<Self, MapError> {
        let source = monitors
            .get(index)
            .ok_or(MapError::NoSuchMonitor(index))?
            .bounds;
        Self::new(monitors, source, frame_width, frame_height)
    }

    /// A mapper for sharing every monitor: the frame shows their bounding box.
    pub fn for_desktop(
        monitors: Vec<Monitor>,
        frame_width: u32,
        frame_height: u32,
    ) -> Result<Self, MapError> {
        let source = monitors
            .iter()
            .map(|m| m.bounds)
            .reduce(bounding_box)
            .ok_or(MapError::NothingShared)?;
        Self::new(monitors, source, frame_width, frame_height)
    }

    /// Restricts input to the selected application windows (desktop
    /// rectangles): only the parts of them that are on a shared monitor stay
    /// reachable. Call again whenever the windows move.
    pub fn restrict_to_windows(&mut self, windows: &[Rect]) -> Result<(), MapError> {
        let on_screen: Vec<Rect> = self
            .monitors
            .iter()
            .filter_map(|m| intersect(m.bounds, self.source))
            .flat_map(|area| windows.iter().filter_map(move |w| intersect(*w, area)))
            .collect();
        if on_screen.is_empty() {
            return Err(MapError::NothingShared);
        }
        self.allowed = on_screen;
        Ok(())
    }

    /// The desktop rectangles input may land in.
    pub fn allowed(&self) -> &[Rect] {
        &self.allowed
    }

    /// Maps a frame point to the desktop and clamps it to the shared area.
    /// Any `i32` is accepted: the viewer is not trusted.
    pub fn map(&self, p: Point) -> Mapped {
        let x = scale_axis(p.x, self.frame.0, self.source.x, self.source.width);
        let y = scale_axis(p.y, self.frame.1, self.source.y, self.source.height);
        let mut best: Option<(i128, i64, i64)> = None;
        for r in &self.allowed {
            let cx = x.clamp(i64::from(r.x), i64::from(r.x) + i64::from(r.width) - 1);
            let cy = y.clamp(i64::from(r.y), i64::from(r.y) + i64::from(r.height) - 1);
            // i128: a hostile far-away point squared does not fit in i64.
            let d = i128::from(cx - x).pow(2) + i128::from(cy - y).pow(2);
            if best.is_none_or(|(bd, _, _)| d < bd) {
                best = Some((d, cx, cy));
            }
        }
        // `allowed` is never empty and every coordinate lies inside an i32 rect.
        let (d, cx, cy) = best.unwrap_or((0, x, y));
        let point = DesktopPoint::new(to_i32(cx), to_i32(cy));
        if d == 0 {
            Mapped::Inside(point)
        } else {
            Mapped::Clamped(point)
        }
    }

    /// The logical (DPI-scaled) coordinates of a desktop point, for
    /// injection APIs that work in logical units.
    pub fn to_logical(&self, p: DesktopPoint) -> (f64, f64) {
        let monitor = self
            .monitors
            .iter()
            .find(|m| m.bounds.contains(Point::new(p.x, p.y)));
        match monitor {
            Some(m) => (
                m.logical_origin.0 + f64::from(p.x - m.bounds.x) / m.scale,
                m.logical_origin.1 + f64::from(p.y - m.bounds.y) / m.scale,
            ),
            None => (f64::from(p.x), f64::from(p.y)),
        }
    }
}

/// Frame pixel `v` (of `frame` pixels) → the centre of the source pixels it
/// covers, in i64 so no wire value overflows.
fn scale_axis(v: i32, frame: u32, origin: i32, size: u32) -> i64 {
    let (v, frame, size) = (i64::from(v), i64::from(frame), i64::from(size));
    i64::from(origin) + (2 * v + 1) * size / (2 * frame)
}

fn to_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

fn bounding_box(a: Rect, b: Rect) -> Rect {
    let x0 = i64::from(a.x).min(i64::from(b.x));
    let y0 = i64::from(a.y).min(i64::from(b.y));
    let x1 = (i64::from(a.x) + i64::from(a.width)).max(i64::from(b.x) + i64::from(b.width));
    let y1 = (i64::from(a.y) + i64::from(a.height)).max(i64::from(b.y) + i64::from(b.height));
    Rect::new(to_i32(x0), to_i32(y0), to_u32(x1 - x0), to_u32(y1 - y0))
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn intersect(a: Rect, b: Rect) -> Option<Rect> {
    let x0 = i64::from(a.x).max(i64::from(b.x));
    let y0 = i64::from(a.y).max(i64::from(b.y));
    let x1 = (i64::from(a.x) + i64::from(a.width)).min(i64::from(b.x) + i64::from(b.width));
    let y1 = (i64::from(a.y) + i64::from(a.height)).min(i64::from(b.y) + i64::from(b.height));
    (x1 > x0 && y1 > y0)
        .then(|| Rect::new(to_i32(x0), to_i32(y0), to_u32(x1 - x0), to_u32(y1 - y0)))
}

/// The viewer side: maps positions in a widget that shows the frame scaled
/// to fit (aspect ratio kept, letterboxed) to frame coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewTransform {
    frame: (u32, u32),
    origin: (f64, f64),
    scale: f64,
}

impl ViewTransform {
    /// The frame (`frame_width` × `frame_height`) shown as large as fits in a
    /// `view_width` × `view_height` widget, centred.
    pub fn fit(frame_width: u32, frame_height: u32, view_width: f64, view_height: f64) -> Self {
        let (fw, fh) = (
            f64::from(frame_width.max(1)),
            f64::from(frame_height.max(1)),
        );
        let scale = (view_width / fw)
            .min(view_height / fh)
            .max(f64::MIN_POSITIVE);
        ViewTransform {
            frame: (frame_width, frame_height),
            origin: (
                (view_width - fw * scale) / 2.0,
                (view_height - fh * scale) / 2.0,
            ),
            scale,
        }
    }

    /// How many widget units one frame pixel takes.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The frame point under widget position `(x, y)`, or `None` in the
    /// letterbox bars (the viewer sends nothing there).
    pub fn view_to_frame(&self, x: f64, y: f64) -> Option<Point> {
        let fx = ((x - self.origin.0) / self.scale).floor();
        let fy = ((y - self.origin.1) / self.scale).floor();
        let inside =
            fx >= 0.0 && fy >= 0.0 && fx < f64::from(self.frame.0) && fy < f64::from(self.frame.1);
        // In range by the check above, so the casts are exact.
        #[allow(clippy::cast_possible_truncation)]
        inside.then(|| Point::new(fx as i32, fy as i32))
    }

    /// The widget position of the centre of frame pixel `p` (to draw the
    /// host's cursor).
    pub fn frame_to_view(&self, p: Point) -> (f64, f64) {
        (
            self.origin.0 + (f64::from(p.x) + 0.5) * self.scale,
            self.origin.1 + (f64::from(p.y) + 0.5) * self.scale,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A 1920×1080 primary at 1.0 and a 2560×1440 monitor at 2.0 to its left,
    /// top-aligned (so there is dead space below the primary).
    fn two_monitors() -> Vec<Monitor> {
        vec![
            Monitor::new(Rect::new(0, 0, 1920, 1080), 1.0),
            Monitor::new(Rect::new(-2560, 0, 2560, 1440), 2.0),
        ]
    }

    #[test]
    fn scaled_frame_maps_to_monitor_with_offset() {
        // The second monitor shared as a half-size frame.
        let m = CoordinateMapper::for_monitor(two_monitors(), 1, 1280, 720).unwrap();
        assert_eq!(
            m.map(Point::new(0, 0)),
            Mapped::Inside(DesktopPoint::new(-2559, 1))
        );
        assert_eq!(
            m.map(Point::new(640, 360)),
            Mapped::Inside(DesktopPoint::new(-1279, 721))
        );
        assert_eq!(
            m.map(Point::new(1279, 719)),
            Mapped::Inside(DesktopPoint::new(-1, 1439))
        );
    }

    #[test]
    fn points_outside_the_frame_are_clamped_to_the_shared_monitor() {
        let m = CoordinateMapper::for_monitor(two_monitors(), 0, 1920, 1080).unwrap();
        // Left of the primary lies the other monitor: not shared, so clamped.
        assert_eq!(
            m.map(Point::new(-50, 10)),
            Mapped::Clamped(DesktopPoint::new(0, 10))
        );
        assert_eq!(
            m.map(Point::new(5000, 5000)),
            Mapped::Clamped(DesktopPoint::new(1919, 1079))
        );
        assert_eq!(
            m.map(Point::new(i32::MIN, i32::MAX)),
            Mapped::Clamped(DesktopPoint::new(0, 1079))
        );
    }

    #[test]
    fn desktop_sharing_avoids_dead_space_between_monitors() {
        let m = CoordinateMapper::for_desktop(two_monitors(), 4480, 1440).unwrap();
        // Frame (4000, 1300) is desktop (1440, 1300): below the 1080-high primary.
        assert_eq!(
            m.map(Point::new(4000, 1300)),
            Mapped::Clamped(DesktopPoint::new(1440, 1079))
        );
        // Frame (100, 1300) is on the tall left monitor.
        assert_eq!(
            m.map(Point::new(100, 1300)),
            Mapped::Inside(DesktopPoint::new(-2460, 1300))
        );
    }

    #[test]
    fn window_selection_confines_input_to_the_windows() {
        let mut m = CoordinateMapper::for_monitor(two_monitors(), 0, 1920, 1080).unwrap();
        let editor = Rect::new(100, 100, 400, 300);
        let browser = Rect::new(1000, 500, 800, 800); // hangs off the bottom
        m.restrict_to_windows(&[editor, browser]).unwrap();
        assert_eq!(
            m.map(Point::new(150, 150)),
            Mapped::Inside(DesktopPoint::new(150, 150))
        );
        // Between the windows: to the nearest window edge.
        assert_eq!(
            m.map(Point::new(600, 150)),
            Mapped::Clamped(DesktopPoint::new(499, 150))
        );
        // The part of the browser below the monitor is not reachable.
        assert_eq!(
            m.map(Point::new(1200, 1070)),
            Mapped::Inside(DesktopPoint::new(1200, 1070))
        );
        assert_eq!(
            m.map(Point::new(1200, 1200)),
            Mapped::Clamped(DesktopPoint::new(1200, 1079))
        );
        // A window wholly off the shared monitor leaves nothing shared.
        assert_eq!(
            m.restrict_to_windows(&[Rect::new(-900, 0, 100, 100)]),
            Err(MapError::NothingShared)
        );
    }

    #[test]
    fn logical_coordinates_follow_each_monitors_scale() {
        let m = CoordinateMapper::for_desktop(two_monitors(), 4480, 1440).unwrap();
        assert_eq!(m.to_logical(DesktopPoint::new(100, 50)), (100.0, 50.0));
        assert_eq!(m.to_logical(DesktopPoint::new(-2560, 0)), (-1280.0, 0.0));
        assert_eq!(m.to_logical(DesktopPoint::new(-2, 1438)), (-1.0, 719.0));
    }

    #[test]
    fn empty_inputs_are_refused() {
        assert_eq!(
            CoordinateMapper::for_monitor(two_monitors(), 0, 0, 10),
            Err(MapError::Empty)
        );
        assert_eq!(
            CoordinateMapper::for_monitor(two_monitors(), 7, 10, 10),
            Err(MapError::NoSuchMonitor(7))
        );
        assert_eq!(
            CoordinateMapper::new(two_monitors(), Rect::new(5000, 0, 10, 10), 10, 10),
            Err(MapError::NothingShared)
        );
    }

    #[test]
    fn view_transform_letterboxes() {
        // 1920×1080 frame in a 1000×1000 widget: scale 0.5208, bars top and bottom.
        let v = ViewTransform::fit(1920, 1080, 1000.0, 1000.0);
        assert_eq!(v.view_to_frame(10.0, 10.0), None, "top bar");
        assert_eq!(v.view_to_frame(0.0, 500.5), Some(Point::new(0, 540)));
        assert_eq!(v.view_to_frame(999.9, 781.0), Some(Point::new(1919, 1079)));
        let (x, y) = v.frame_to_view(Point::new(960, 540));
        assert_eq!(v.view_to_frame(x, y), Some(Point::new(960, 540)));
    }

    proptest! {
        #[test]
        fn every_mapped_point_is_inside_the_allowed_area(
            x in any::<i32>(), y in any::<i32>(),
            fw in 1u32..5000, fh in 1u32..5000,
            wx in -3000i32..2000, wy in -100i32..1500, ww in 1u32..3000, wh in 1u32..3000,
        ) {
            let mut m = CoordinateMapper::for_desktop(two_monitors(), fw, fh).unwrap();
            let window = Rect::new(wx, wy, ww, wh);
            let restricted = m.restrict_to_windows(&[window]).is_ok();
            let p = m.map(Point::new(x, y)).point();
            let p = Point::new(p.x, p.y);
            prop_assert!(m.allowed().iter().any(|r| r.contains(p)));
            prop_assert!(two_monitors().iter().any(|mon| mon.bounds.contains(p)));
            if restricted {
                prop_assert!(window.contains(p));
            }
        }
    }
}
