//! Screen sources: where frames, cursor and window lists come from.
//!
//! Every source implements [`Capturer`]:
//!
//! * [`X11Capturer`] (Unix): a persistent X11 connection via x11rb, MIT-SHM with
//!   a plain `GetImage` fallback, RandR monitors, XFIXES cursor, DAMAGE dirty regions.
//! * `XcapCapturer` (cargo feature `xcap`): Windows, macOS and Wayland through the
//!   xcap crate. Not in the default build because on Linux it links PipeWire.
//! * [`SyntheticSource`]: a deterministic scripted desktop for tests and demos.
//!
//! Capture loop (the session layer's driver does this at its frame rate):
//!
//! ```
//! use rsupport_capture::source::{Capturer, CaptureArea, DirtyRegion, SyntheticSource};
//! use rsupport_capture::BgraFrame;
//!
//! let mut source = SyntheticSource::new();
//! let first = source.monitors()?.remove(0);
//! source.select_area(CaptureArea::Monitor(first.id))?;
//! let mut frame = BgraFrame::filled(0, 0, [0; 4]); // resized by the first capture
//! let mut dirty = DirtyRegion::new();
//! for _ in 0..3 {
//!     source.capture(&mut frame, &mut dirty)?;
//!     let cursor = source.poll_cursor()?;
//!     // encode `dirty` parts of `frame`; send `cursor` separately
//!     # let _ = cursor;
//! }
//! assert_eq!(frame.width(), first.rect.width);
//! # Ok::<(), rsupport_capture::source::CaptureError>(())
//! ```
//!
//! Application selection ([`WindowSelection::Only`]) is enforced here, not later: a
//! masked pixel is overwritten with [`MASK_BGRA`] before `capture` returns, so the
//! codec never sees it.

pub mod mask;
pub mod synthetic;
mod types;
#[cfg(all(target_os = "linux", feature = "x11"))]
pub mod x11;
#[cfg(feature = "xcap")]
pub mod xcap;

use crate::BgraFrame;

pub use mask::MASK_BGRA;
pub use synthetic::SyntheticSource;
pub use types::{
    CaptureArea, CaptureError, CursorImage, CursorUpdate, DirtyRegion, MonitorId, MonitorInfo,
    Rect, WindowId, WindowInfo, WindowSelection,
};
#[cfg(all(target_os = "linux", feature = "x11"))]
pub use x11::{CaptureMethod, X11Capturer, X11Wallpaper};
#[cfg(feature = "xcap")]
pub use xcap::XcapCapturer;

/// A source of screen frames, cursor updates and shareable windows.
///
/// Frames are written into a caller-owned [`BgraFrame`] that is reused from one
/// capture to the next: it is reallocated only when the captured area changes size.
pub trait Capturer {
    /// The monitors of the desktop, with their positions on the virtual desktop.
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError>;

    /// Chooses what to capture; returns the resulting area in desktop
    /// coordinates (a region is clipped to the desktop). The next capture reports
    /// the whole frame dirty.
    fn select_area(&mut self, area: CaptureArea) -> Result<Rect, CaptureError>;

    /// The area currently captured, in desktop coordinates.
    fn area(&self) -> Rect;

    /// The top-level windows that can be shared on their own.
    fn windows(&mut self) -> Result<Vec<WindowInfo>, CaptureError>;

    /// Limits frames to the chosen windows (everything else masked), or lifts the
    /// limit. The next capture reports the whole frame dirty.
    fn select_windows(&mut self, selection: WindowSelection) -> Result<(), CaptureError>;

    /// Captures the selected area into `frame` (resized if needed) and fills `dirty`
    /// with what changed since the previous capture.
    fn capture(
        &mut self,
        frame: &mut BgraFrame,
        dirty: &mut DirtyRegion,
    ) -> Result<(), CaptureError>;

    /// Cursor position (relative to the area) and, when it changed, its shape.
    fn poll_cursor(&mut self) -> Result<CursorUpdate, CaptureError>;
}

/// The capturer that fits this machine: the X11 backend when `$DISPLAY` names an
/// X server (Linux), otherwise xcap when built with the `xcap` feature (Windows,
/// macOS, Wayland). [`CaptureError::Unsupported`] when neither applies.
pub fn platform_capturer() -> Result<Box<dyn Capturer + Send>, CaptureError> {
    #[cfg(all(target_os = "linux", feature = "x11"))]
    if std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()) {
        match X11Capturer::connect(None) {
            Ok(c) => return Ok(Box::new(c)),
            // Under Wayland, XWayland may refuse or show only X clients: try xcap.
            Err(e) if !cfg!(feature = "xcap") => return Err(e),
            Err(_) => {}
        }
    }
    #[cfg(feature = "xcap")]
    {
        return Ok(Box::new(XcapCapturer::new()));
    }
    #[allow(unreachable_code)]
    Err(CaptureError::Unsupported(
        "no X display and built without the `xcap` feature",
    ))
}

/// Hides the desktop wallpaper for the length of a session (a solid background
/// compresses far better) and puts the previous one back afterwards.
///
/// Implementations restore on drop as well, so a crashed session does not leave
/// the customer without their wallpaper.
pub trait WallpaperControl {
    /// Replaces the wallpaper with a solid colour. Calling it twice is harmless.
    fn hide(&mut self) -> Result<(), CaptureError>;

    /// Puts back exactly the wallpaper seen by the first [`hide`](Self::hide).
    /// Does nothing when the wallpaper is not hidden.
    fn restore(&mut self) -> Result<(), CaptureError>;

    /// True between `hide` and `restore`.
    fn is_hidden(&self) -> bool;
}

/// Makes `frame` exactly `width` × `height`, reusing its allocation when it can.
/// Returns true when the size changed (the caller then reports the frame full dirty).
pub(crate) fn ensure_size(frame: &mut BgraFrame, width: u32, height: u32) -> bool {
    if frame.width() == width && frame.height() == height {
        return false;
    }
    let mut pixels = std::mem::replace(frame, BgraFrame::filled(0, 0, [0; 4])).into_pixels();
    pixels.resize(width as usize * height as usize * 4, 0);
    *frame = match BgraFrame::from_bgra(width, height, pixels) {
        Ok(f) => f,
        // Unreachable: the buffer was sized above. Fall back to a fresh frame anyway.
        Err(_) => BgraFrame::filled(width, height, [0; 4]),
    };
    true
}

/// Resolves an area request against a list of monitors.
pub(crate) fn resolve_area(
    area: CaptureArea,
    monitors: &[MonitorInfo],
    desktop: Rect,
) -> Result<Rect, CaptureError> {
    match area {
        CaptureArea::Monitor(id) => monitors
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| m.rect.intersect(&desktop))
            .ok_or(CaptureError::NoSuchMonitor(id)),
        CaptureArea::AllMonitors => Ok(desktop),
        CaptureArea::Region(r) => r
            .intersect(&desktop)
            .ok_or(CaptureError::RegionOutsideDesktop(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_size_reuses_and_resizes() {
        let mut f = BgraFrame::filled(2, 2, [1; 4]);
        assert!(!ensure_size(&mut f, 2, 2));
        assert!(ensure_size(&mut f, 3, 1));
        assert_eq!((f.width(), f.height(), f.pixels().len()), (3, 1, 12));
    }

    #[test]
    fn resolve_area_clips_and_rejects() {
        let desk = Rect::new(0, 0, 100, 50);
        let mons = [MonitorInfo::new(
            MonitorId(7),
            "a",
            Rect::new(50, 0, 50, 50),
            true,
        )];
        assert_eq!(
            resolve_area(CaptureArea::Monitor(MonitorId(7)), &mons, desk),
            Ok(Rect::new(50, 0, 50, 50))
        );
        assert_eq!(
            resolve_area(CaptureArea::Monitor(MonitorId(8)), &mons, desk),
            Err(CaptureError::NoSuchMonitor(MonitorId(8)))
        );
        assert_eq!(
            resolve_area(CaptureArea::Region(Rect::new(90, 40, 20, 20)), &mons, desk),
            Ok(Rect::new(90, 40, 10, 10))
        );
        assert!(resolve_area(CaptureArea::Region(Rect::new(200, 0, 5, 5)), &mons, desk).is_err());
    }
}
