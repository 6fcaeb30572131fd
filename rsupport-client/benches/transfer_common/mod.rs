//! Pieces shared by the file-transfer benches: a paired session through a
//! real TLS relay whose operator may push files, screen sources, an
//! injector that timestamps what it performs, and a sparse source file.

#![allow(dead_code)] // each bench uses a different part

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rsupport_capture::codec::synthetic::Sequence;
use rsupport_capture::source::{
    CaptureArea, CaptureError, Capturer, CursorUpdate, DirtyRegion, MonitorId, MonitorInfo, Rect,
    WindowInfo, WindowSelection,
};
use rsupport_capture::BgraFrame;
use rsupport_client::{HostPlatform, Operator, SessionHandle};
use rsupport_core::files::FileEvent;
use rsupport_core::session::SessionEvent;
use rsupport_input::inject::{InjectError, Injector};
use rsupport_input::{DesktopPoint, InputEvent};
use rsupport_proto::ConnectionMode;
use tokio::sync::mpsc;

use crate::support;

pub const W: u32 = 1920;
pub const H: u32 = 1080;
pub const MIB: f64 = 1024.0 * 1024.0;

/// The size to move: `RSUPPORT_BENCH_BYTES`, default 1 GiB.
pub fn bench_bytes() -> u64 {
    std::env::var("RSUPPORT_BENCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30)
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `p` quantile of sorted samples (0 when there are none).
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A file of `size` bytes that takes no disk space (a hole): reading it
/// costs no disk IO, so the sender's side measures the transfer path.
pub fn sparse_file(dir: &Path, size: u64) -> PathBuf {
    let path = dir.join("big.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(size).unwrap();
    path
}

/// One monitor; `frames` gives the picture of each capture (None: the
/// screen did not change).
pub struct Screen {
    frames: Option<Sequence>,
}

impl Screen {
    /// A screen that never changes after the first picture.
    pub fn still() -> Self {
        Screen { frames: None }
    }
    /// A screen that plays a synthetic sequence, one frame per capture.
    pub fn playing(sequence: Sequence) -> Self {
        Screen {
            frames: Some(sequence),
        }
    }
}

impl Capturer for Screen {
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        Ok(vec![MonitorInfo::new(
            MonitorId(0),
            "bench",
            Rect::new(0, 0, W, H),
            true,
        )])
    }
    fn select_area(&mut self, _area: CaptureArea) -> Result<Rect, CaptureError> {
        Ok(Rect::new(0, 0, W, H))
    }
    fn area(&self) -> Rect {
        Rect::new(0, 0, W, H)
    }
    fn windows(&mut self) -> Result<Vec<WindowInfo>, CaptureError> {
        Ok(Vec::new())
    }
    fn select_windows(&mut self, _selection: WindowSelection) -> Result<(), CaptureError> {
        Ok(())
    }
    fn capture(
        &mut self,
        frame: &mut BgraFrame,
        dirty: &mut DirtyRegion,
    ) -> Result<(), CaptureError> {
        match self.frames.as_mut() {
            Some(sequence) => {
                *frame = sequence.next_frame();
                dirty.set_full();
            }
            None if frame.width() != W => {
                *frame = BgraFrame::filled(W, H, [40, 40, 40, 255]);
                dirty.set_full();
            }
            None => {}
        }
        Ok(())
    }
    fn poll_cursor(&mut self) -> Result<CursorUpdate, CaptureError> {
        Ok(CursorUpdate::default())
    }
}

/// Performs nothing; tells the bench when and where each pointer move
/// arrived, stamped at the moment the customer's task performs it.
pub struct TimedInjector(pub mpsc::UnboundedSender<(DesktopPoint, Instant)>);

impl Injector for TimedInjector {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        if let InputEvent::MoveTo(p) = event {
            let _ = self.0.send((*p, Instant::now()));
        }
        Ok(())
    }
    fn name(&self) -> &'static str {
        "bench-timed"
    }
}

/// A relay over TLS on loopback, an operator with "full file transfer
/// control", and a customer that saves into `download_dir`, in control mode.
pub async fn control_session(
    platform: HostPlatform,
    download_dir: &Path,
) -> (Operator, SessionHandle, SessionHandle) {
    let target = support::start_relay_with(None, true, |_| {}).await;
    let platform = platform.with_download_dir(download_dir);
    let (operator, mut op, mut cu) = support::paired(&target, platform).await;
    support::grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    (operator, op, cu)
}

/// `Some(())` when `event` says the (one) transfer finished cleanly;
/// panics when it says the transfer failed.
pub fn finished(event: &SessionEvent) -> Option<()> {
    match event {
        SessionEvent::File(FileEvent::Finished { failed_entries, .. }) => {
            assert_eq!(*failed_entries, 0, "transfer failed");
            Some(())
        }
        SessionEvent::File(
            e @ (FileEvent::Cancelled { .. }
            | FileEvent::EntryFailed { .. }
            | FileEvent::OfferRejected { .. }
            | FileEvent::Declined { .. }),
        ) => panic!("transfer failed: {e:?}"),
        _ => None,
    }
}

/// Sends `source` operator → customer (whose platform saves into `dest`)
/// and waits for the customer's `Finished`; the received file is checked
/// for its size and removed. Returns the time from `send_files`.
pub async fn timed_transfer(
    mut op: SessionHandle,
    mut cu: SessionHandle,
    source: &Path,
    dest: &Path,
    size: u64,
) -> std::time::Duration {
    let start = Instant::now();
    op.send_files(source).await.unwrap();
    // The operator's events (progress) are read so that none pile up.
    let drain = tokio::spawn(async move { while op.next_event().await.is_some() {} });
    loop {
        let event = cu.next_event().await.expect("session still open");
        if finished(&event).is_some() {
            break;
        }
    }
    let elapsed = start.elapsed();
    let received = dest.join("big.bin");
    assert_eq!(std::fs::metadata(&received).unwrap().len(), size);
    std::fs::remove_file(received).unwrap();
    drain.abort();
    elapsed
}

/// Display settings asking for 60 frames per second at full colour (the
/// host default is 30).
pub fn sixty_fps(allow_lossy: bool) -> rsupport_proto::screen::DisplaySettings {
    rsupport_proto::screen::DisplaySettings {
        color_depth: rsupport_proto::ColorDepth::TrueColor,
        hide_wallpaper: false,
        window_ids: Vec::new(),
        scale_percent: 0,
        monitor_id: 0,
        max_fps: 60,
        allow_lossy,
    }
}
