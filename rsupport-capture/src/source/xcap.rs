//! Capture through the `xcap` crate: Windows (GDI/DXGI), macOS (CoreGraphics)
//! and Linux Wayland (portal + PipeWire). Enabled with the `xcap` cargo feature.
//!
//! Limits compared with the X11 backend, all from xcap's API:
//! * every frame is a fresh image from xcap (one allocation per monitor and
//!   frame) converted RGBA → BGRA into the reused frame;
//! * no dirty regions: every frame is reported full (the codec's row compare
//!   finds what changed);
//! * no cursor: [`poll_cursor`](Capturer::poll_cursor) reports neither position
//!   nor shape;
//! * window masking uses xcap's window list (z order, position) sampled once per
//!   frame, without a server grab, so a window moving during a capture can be
//!   masked a frame late.

use super::mask::{apply_mask, visible_parts, StackedWindow};
use super::types::{
    CaptureArea, CaptureError, CursorUpdate, DirtyRegion, MonitorId, MonitorInfo, Rect, WindowId,
    WindowInfo, WindowSelection,
};
use super::{ensure_size, resolve_area, Capturer};
use crate::BgraFrame;

/// A [`Capturer`] over xcap's monitor and window APIs.
#[derive(Debug, Default)]
pub struct XcapCapturer {
    area: Option<Rect>,
    selection: WindowSelection,
    stack: Vec<StackedWindow>,
    keep: Vec<Rect>,
    spans: Vec<(usize, usize)>,
}

fn xcap_err(e: xcap::XCapError) -> CaptureError {
    CaptureError::Backend(e.to_string())
}

fn monitor_rect(m: &xcap::Monitor) -> Result<Rect, CaptureError> {
    Ok(Rect::new(
        m.x().map_err(xcap_err)?,
        m.y().map_err(xcap_err)?,
        m.width().map_err(xcap_err)?,
        m.height().map_err(xcap_err)?,
    ))
}

fn window_rect(w: &xcap::Window) -> Result<Rect, CaptureError> {
    Ok(Rect::new(
        w.x().map_err(xcap_err)?,
        w.y().map_err(xcap_err)?,
        w.width().map_err(xcap_err)?,
        w.height().map_err(xcap_err)?,
    ))
}

impl XcapCapturer {
    /// A capturer of the whole desktop (all monitors).
    pub fn new() -> Self {
        XcapCapturer::default()
    }

    fn desktop(monitors: &[MonitorInfo]) -> Rect {
        monitors
            .iter()
            .fold(Rect::default(), |acc, m| acc.union(&m.rect))
    }

    fn current_area(&mut self) -> Result<Rect, CaptureError> {
        match self.area {
            Some(a) => Ok(a),
            None => {
                let monitors = self.monitors()?;
                Ok(XcapCapturer::desktop(&monitors))
            }
        }
    }
}

impl Capturer for XcapCapturer {
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        let mut out = Vec::new();
        for m in xcap::Monitor::all().map_err(xcap_err)? {
            out.push(MonitorInfo::new(
                MonitorId(u64::from(m.id().map_err(xcap_err)?)),
                m.name().map_err(xcap_err)?,
                monitor_rect(&m)?,
                m.is_primary().map_err(xcap_err)?,
            ));
        }
        Ok(out)
    }

    fn select_area(&mut self, area: CaptureArea) -> Result<Rect, CaptureError> {
        let monitors = self.monitors()?;
        let rect = resolve_area(area, &monitors, XcapCapturer::desktop(&monitors))?;
        self.area = Some(rect);
        Ok(rect)
    }

    fn area(&self) -> Rect {
        self.area.unwrap_or_default()
    }

    fn windows(&mut self) -> Result<Vec<WindowInfo>, CaptureError> {
        let mut out = Vec::new();
        for w in xcap::Window::all().map_err(xcap_err)? {
            out.push(WindowInfo::new(
                WindowId(u64::from(w.id().map_err(xcap_err)?)),
                w.title().map_err(xcap_err)?,
                w.app_name().map_err(xcap_err)?,
                window_rect(&w)?,
                !w.is_minimized().map_err(xcap_err)?,
            ));
        }
        Ok(out)
    }

    fn select_windows(&mut self, selection: WindowSelection) -> Result<(), CaptureError> {
        self.selection = selection;
        Ok(())
    }

    fn capture(
        &mut self,
        frame: &mut BgraFrame,
        dirty: &mut DirtyRegion,
    ) -> Result<(), CaptureError> {
        let area = self.current_area()?;
        ensure_size(frame, area.width, area.height);
        frame.pixels_mut().fill(0);
        let stride = frame.stride();
        for m in xcap::Monitor::all().map_err(xcap_err)? {
            let mrect = monitor_rect(&m)?;
            let Some(part) = mrect.intersect(&area) else {
                continue;
            };
            let img = m
                .capture_region(
                    (part.x - mrect.x) as u32,
                    (part.y - mrect.y) as u32,
                    part.width,
                    part.height,
                )
                .map_err(xcap_err)?;
            let src_stride = img.width() as usize * 4;
            let (ox, oy) = ((part.x - area.x) as usize, (part.y - area.y) as usize);
            let copy_w = (img.width().min(part.width) as usize) * 4;
            for (row, src) in img.as_raw().chunks_exact(src_stride).enumerate() {
                let start = (oy + row) * stride + ox * 4;
                let (Some(dst), Some(src)) = (
                    frame.pixels_mut().get_mut(start..start + copy_w),
                    src.get(..copy_w),
                ) else {
                    break;
                };
                for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&[s[2], s[1], s[0], 0xff]); // RGBA → BGRA
                }
            }
        }
        if let WindowSelection::Only(ids) = &self.selection {
            let mut windows = xcap::Window::all().map_err(xcap_err)?;
            // xcap's z grows towards the front; masking wants bottom to top.
            windows.sort_by_key(|w| w.z().unwrap_or(0));
            self.stack.clear();
            for w in &windows {
                if w.is_minimized().unwrap_or(true) {
                    continue;
                }
                let rect = window_rect(w)?;
                let id = WindowId(u64::from(w.id().map_err(xcap_err)?));
                self.stack.push(StackedWindow {
                    outer: rect,
                    shared: ids.contains(&id).then_some(rect),
                });
            }
            self.keep.clear();
            visible_parts(&self.stack, &mut self.keep);
            for r in &mut self.keep {
                *r = r.relative_to(area.x, area.y);
            }
            apply_mask(frame, &self.keep, &mut self.spans);
        }
        dirty.set_full();
        Ok(())
    }

    fn poll_cursor(&mut self) -> Result<CursorUpdate, CaptureError> {
        // xcap offers no cursor API: nothing to report.
        Ok(CursorUpdate::default())
    }
}
