//! What a host needs from its machine: a screen source, an input sink and,
//! optionally, wallpaper control. Platform code lives in rsupport-capture and
//! rsupport-input; this only bundles it for a session.

use rsupport_capture::source::{
    CaptureArea, Capturer, MonitorId, SyntheticSource, WallpaperControl, WindowId, WindowSelection,
};
use rsupport_input::inject::{Injector, RecordingInjector};
use rsupport_input::{CoordinateMapper, Monitor};
use rsupport_proto::screen::{DisplaySettings, MonitorList, WindowInfo};
use rsupport_proto::Rect;

use rsupport_print::VirtualPrinterSource;

/// The host side's platform pieces.
pub struct HostPlatform {
    pub(crate) capturer: Box<dyn Capturer + Send>,
    pub(crate) injector: Box<dyn Injector + Send>,
    pub(crate) wallpaper: Option<Box<dyn WallpaperControl + Send>>,
    pub(crate) download_dir: Option<std::path::PathBuf>,
    pub(crate) max_received_bytes: Option<u64>,
    pub(crate) local_activity: Option<Box<dyn FnMut() -> bool + Send>>,
    pub(crate) printer: Option<Box<dyn VirtualPrinterSource>>,
}

impl std::fmt::Debug for HostPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostPlatform")
            .field("injector", &self.injector.name())
            .field("wallpaper", &self.wallpaper.is_some())
            .field("printer", &self.printer.is_some())
            .finish_non_exhaustive()
    }
}

impl HostPlatform {
    /// A platform from its parts.
    pub fn new(
        capturer: Box<dyn Capturer + Send>,
        injector: Box<dyn Injector + Send>,
        wallpaper: Option<Box<dyn WallpaperControl + Send>>,
    ) -> Self {
        HostPlatform {
            capturer,
            injector,
            wallpaper,
            download_dir: None,
            max_received_bytes: None,
            local_activity: None,
            printer: None,
        }
    }

    /// The printer the customer's applications print to (on Linux a
    /// [`VirtualPrinter`](rsupport_print::VirtualPrinter) registered with
    /// [`CupsRegistration`](rsupport_print::CupsRegistration)). Its jobs are
    /// offered to the operator while the session is in a control or manage
    /// mode and the relay's administrator allows remote printing; otherwise
    /// they are refused with a [`PrintEvent`](rsupport_core::print::PrintEvent).
    pub fn with_printer(mut self, printer: impl VirtualPrinterSource + 'static) -> Self {
        self.printer = Some(Box::new(printer));
        self
    }

    /// A detector of the local user's own mouse and keyboard use (not the
    /// injected input), polled every tick: `true` when the user did
    /// something since the last call. Local input wins: remote control is
    /// suspended or revoked as the session's gate configuration says.
    /// On X11, wrap `rsupport_input::inject::X11LocalActivity::poll`.
    pub fn with_local_activity(mut self, detector: impl FnMut() -> bool + Send + 'static) -> Self {
        self.local_activity = Some(Box::new(detector));
        self
    }

    /// Whether the local user touched mouse or keyboard since the last call.
    pub(crate) fn poll_local_activity(&mut self) -> bool {
        self.local_activity.as_mut().is_some_and(|f| f())
    }

    /// Where files from an operator with "full file transfer control" are
    /// saved without asking, in control/manage modes. Without it every
    /// offer is asked about.
    pub fn with_download_dir(mut self, folder: impl Into<std::path::PathBuf>) -> Self {
        self.download_dir = Some(folder.into());
        self
    }

    /// The most bytes of files this side accepts in one session (default
    /// 4 GiB). An offer past it, or larger than the free space in the
    /// destination folder, is refused with the reason before anything is
    /// written.
    pub fn with_max_received_bytes(mut self, bytes: u64) -> Self {
        self.max_received_bytes = Some(bytes);
        self
    }

    /// A scripted synthetic desktop whose input goes nowhere (recorded and
    /// dropped): for demos and tests on machines without a display.
    pub fn synthetic() -> Self {
        HostPlatform::new(
            Box::new(SyntheticSource::new()),
            Box::new(RecordingInjector::new()),
            None,
        )
    }

    /// Selects the first monitor; returns the monitor list to send to the viewer.
    pub(crate) fn start(&mut self) -> Option<MonitorList> {
        let monitors = self.capturer.monitors().ok()?;
        let first = monitors.iter().find(|m| m.primary).or(monitors.first())?;
        let active = first.id;
        self.capturer
            .select_area(CaptureArea::Monitor(active))
            .ok()?;
        Some(MonitorList {
            monitors: monitors
                .iter()
                .map(|m| rsupport_proto::screen::Monitor {
                    id: wire_monitor_id(m.id),
                    name: m.name.clone(),
                    bounds: proto_rect(m.rect),
                    scale_percent: 100,
                    primary: m.primary,
                })
                .collect(),
            active_id: wire_monitor_id(active),
        })
    }

    /// Where the viewer's input may land: the captured area, or the
    /// selected windows within it. The viewer's coordinates are pixels of the
    /// frame it sees, which is the area scaled to `scale_percent` (0 = 100).
    pub(crate) fn input_mapper(
        &mut self,
        windows: &[Rect],
        scale_percent: u32,
    ) -> Option<CoordinateMapper> {
        let area = self.capturer.area();
        let monitor = Monitor::new(proto_rect(area), 1.0);
        // As the frames are sent: scaled to fit what viewers hold.
        let scale_percent = rsupport_capture::scale::effective_percent(
            scale_percent,
            area.width,
            area.height,
            rsupport_capture::codec::DEFAULT_MAX_FRAME_PIXELS,
        );
        let (w, h) = rsupport_capture::scale::scaled_size(area.width, area.height, scale_percent);
        let mut mapper = CoordinateMapper::for_monitor(vec![monitor], 0, w, h).ok()?;
        if !windows.is_empty() {
            mapper.restrict_to_windows(windows).ok()?;
        }
        Some(mapper)
    }

    /// Applies the capture-side part of new display settings. Returns the
    /// rectangles of the selected windows (for input clamping).
    pub(crate) fn apply_settings(&mut self, settings: &DisplaySettings) -> Vec<Rect> {
        if settings.monitor_id != 0 {
            let id = MonitorId(u64::from(settings.monitor_id) - 1);
            let _ = self.capturer.select_area(CaptureArea::Monitor(id));
        }
        let selection = if settings.window_ids.is_empty() {
            WindowSelection::Everything
        } else {
            WindowSelection::Only(settings.window_ids.iter().map(|id| WindowId(*id)).collect())
        };
        let _ = self.capturer.select_windows(selection);
        if let Some(wallpaper) = self.wallpaper.as_mut() {
            let _ = if settings.hide_wallpaper {
                wallpaper.hide()
            } else {
                wallpaper.restore()
            };
        }
        if settings.window_ids.is_empty() {
            return Vec::new();
        }
        let area = self.capturer.area();
        self.capturer
            .windows()
            .unwrap_or_default()
            .into_iter()
            .filter(|w| settings.window_ids.contains(&w.id.0))
            .map(|w| w.rect.relative_to(area.x, area.y))
            .map(proto_rect)
            .collect()
    }

    /// The shareable windows, for the viewer's picker.
    pub(crate) fn windows(&mut self) -> Vec<WindowInfo> {
        self.capturer
            .windows()
            .unwrap_or_default()
            .into_iter()
            .map(|w| WindowInfo {
                id: w.id.0,
                title: w.title.clone(),
                application: w.app.clone(),
                bounds: proto_rect(w.rect),
            })
            .collect()
    }

    /// Puts the wallpaper back (end of session).
    pub(crate) fn finish(&mut self) {
        if let Some(wallpaper) = self.wallpaper.as_mut() {
            let _ = wallpaper.restore();
        }
    }
}

/// Monitor ids on the wire are 1-based so that 0 can mean "keep the current one".
fn wire_monitor_id(id: MonitorId) -> u32 {
    u32::try_from(id.0.saturating_add(1)).unwrap_or(u32::MAX)
}

fn proto_rect(r: rsupport_capture::source::Rect) -> Rect {
    Rect::new(r.x, r.y, r.width, r.height)
}
