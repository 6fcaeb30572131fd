//! The screen channel of a session: the host encodes and paces frames, the
//! viewer decodes them into a framebuffer and acknowledges each one.
//!
//! Pacing follows the viewer: the host keeps at most a few un-acknowledged
//! frames in flight and captures only when it may send, so a slow link never
//! queues stale frames — the latest frame wins.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use web_time::Instant;

use bytes::Bytes;
use rsupport_capture::codec::{
    CodecError, Decoder, DecoderStats, EncodeError, Encoder, EncoderConfig, Limits,
};
use rsupport_capture::BgraFrame;
use rsupport_proto::screen::{
    CopyRect, CursorPosition, CursorShape, DisplaySettings, FrameUpdate, MonitorList,
    ScreenMessage, Screenshot, WindowInfo,
};
use rsupport_proto::Rect;

/// Frames the host sends ahead of the viewer's acknowledgements.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 2;
/// Frame rate when the viewer sets none.
pub const DEFAULT_FPS: u32 = 30;
/// Cursor shapes a viewer remembers.
const MAX_CURSOR_SHAPES: usize = 64;

/// What the host side tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostScreenEvent {
    /// The viewer changed the display settings; apply what the capture side
    /// controls (monitor, window selection, wallpaper, scale).
    SettingsChanged(DisplaySettings),
    /// The viewer asks for a PNG screenshot; answer with
    /// [`ScreenHost::send_screenshot`].
    ScreenshotRequested {
        /// Echo in the answer.
        request_id: u32,
    },
}

/// The host's half of the screen channel.
pub struct ScreenHost {
    encoder: Encoder,
    settings: DisplaySettings,
    in_flight: VecDeque<u64>,
    max_in_flight: usize,
    last_sent: Option<Instant>,
    frames_sent: u64,
    bytes_sent: u64,
    out: VecDeque<ScreenMessage>,
    events: VecDeque<HostScreenEvent>,
}

impl std::fmt::Debug for ScreenHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenHost")
            .field("in_flight", &self.in_flight)
            .field("frames_sent", &self.frames_sent)
            .finish_non_exhaustive()
    }
}

impl ScreenHost {
    /// A host whose encoder keeps `cache_entries` tiles (what the viewer advertised).
    pub fn new(cache_entries: usize) -> Self {
        let mut config = EncoderConfig::default();
        config.cache_entries = cache_entries;
        ScreenHost {
            encoder: Encoder::new(config),
            settings: DisplaySettings::default(),
            in_flight: VecDeque::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            last_sent: None,
            frames_sent: 0,
            bytes_sent: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The display settings in force.
    pub fn settings(&self) -> &DisplaySettings {
        &self.settings
    }

    /// Frames sent so far.
    pub fn frames_sent(&self) -> u64 {
        self.frames_sent
    }

    /// Compressed tile bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    fn min_interval(&self) -> Duration {
        let fps = if self.settings.max_fps == 0 {
            DEFAULT_FPS
        } else {
            self.settings.max_fps
        };
        Duration::from_micros(1_000_000 / u64::from(fps.max(1)))
    }

    /// Whether a frame may be captured and sent now (pacing and frame rate).
    pub fn wants_frame(&self, now: Instant) -> bool {
        self.in_flight.len() < self.max_in_flight
            && self
                .last_sent
                .is_none_or(|t| now >= t + self.min_interval())
    }

    /// When the frame rate next allows a frame (`now` if it does already;
    /// `None` while the viewer lags).
    pub fn next_frame_at(&self, now: Instant) -> Option<Instant> {
        if self.in_flight.len() >= self.max_in_flight {
            return None;
        }
        Some(self.last_sent.map_or(now, |t| t + self.min_interval()))
    }

    /// Encodes `frame` and queues the update. An unchanged frame sends
    /// nothing and does not count against the pacing window.
    pub fn submit_frame(
        &mut self,
        frame: &BgraFrame,
        now: Instant,
        now_ms: u64,
    ) -> Result<bool, EncodeError> {
        let update = self.encoder.encode(frame, now_ms)?;
        self.last_sent = Some(now);
        if !update.key_frame && update.copies.is_empty() && update.tiles_raw_len == 0 {
            return Ok(false);
        }
        self.in_flight.push_back(update.seq);
        self.frames_sent += 1;
        self.bytes_sent += update.tiles.len() as u64;
        self.out.push_back(ScreenMessage::Frame(update));
        Ok(true)
    }

    /// Sends the host's monitors.
    pub fn send_monitors(&mut self, monitors: MonitorList) {
        self.out.push_back(ScreenMessage::Monitors(monitors));
    }

    /// Sends the shareable windows.
    pub fn send_windows(&mut self, windows: Vec<WindowInfo>) {
        self.out.push_back(ScreenMessage::Windows(windows));
    }

    /// Sends a cursor image.
    pub fn send_cursor_shape(&mut self, shape: CursorShape) {
        self.out.push_back(ScreenMessage::CursorShape(shape));
    }

    /// Sends the cursor position.
    pub fn send_cursor_position(&mut self, position: CursorPosition) {
        self.out.push_back(ScreenMessage::CursorPosition(position));
    }

    /// Answers a screenshot request with a PNG.
    pub fn send_screenshot(&mut self, request_id: u32, png: Bytes) {
        self.out
            .push_back(ScreenMessage::Screenshot(Screenshot { request_id, png }));
    }

    /// Sharing (re)started: the viewer may hold nothing, so start with a key frame.
    pub fn restart(&mut self) {
        self.in_flight.clear();
        self.last_sent = None;
        self.encoder.request_key_frame();
    }

    /// A screen message from the viewer. Returns the name of a message a
    /// host never accepts, for the caller to treat as a protocol violation.
    pub fn handle_message(&mut self, message: ScreenMessage) -> Result<(), &'static str> {
        match message {
            ScreenMessage::FrameAck { seq } => {
                while self.in_flight.front().is_some_and(|s| *s <= seq) {
                    self.in_flight.pop_front();
                }
            }
            ScreenMessage::Refresh => self.encoder.request_key_frame(),
            ScreenMessage::Settings(settings) => {
                self.encoder.apply_settings(&settings);
                self.settings = settings.clone();
                self.events
                    .push_back(HostScreenEvent::SettingsChanged(settings));
            }
            ScreenMessage::ScreenshotRequest { request_id } => self
                .events
                .push_back(HostScreenEvent::ScreenshotRequested { request_id }),
            _ => return Err("a host-to-viewer screen message"),
        }
        Ok(())
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<ScreenMessage> {
        self.out.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<HostScreenEvent> {
        self.events.pop_front()
    }
}

/// What the viewer side tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViewerScreenEvent {
    /// The framebuffer changed.
    FrameUpdated {
        /// The update's sequence number.
        seq: u64,
        /// Framebuffer size.
        width: u32,
        /// Framebuffer size.
        height: u32,
        /// Host capture time, ms since the Unix epoch.
        captured_at_ms: u64,
    },
    /// The cursor moved, changed shape or was hidden.
    Cursor(CursorPosition),
    /// The host's monitors.
    Monitors(MonitorList),
    /// The windows the host may share.
    Windows(Vec<WindowInfo>),
    /// A screenshot arrived.
    Screenshot(Screenshot),
}

/// The viewer's half of the screen channel.
#[derive(Debug)]
pub struct ScreenViewer {
    decoder: Decoder,
    cursor_shapes: HashMap<u64, CursorShape>,
    cursor: Option<CursorPosition>,
    monitors: Option<MonitorList>,
    frames: u64,
    /// Changed rectangles not yet taken (see `take_damage`).
    damage: Vec<Rect>,
    /// The copies of the first update since changes were last taken, kept
    /// apart from `damage` (see `take_changes`).
    leading_copies: Vec<CopyRect>,
    out: VecDeque<ScreenMessage>,
    events: VecDeque<ViewerScreenEvent>,
}

/// Damage rectangles kept before they merge into their bounding box.
const MAX_DAMAGE_RECTS: usize = 64;

impl ScreenViewer {
    /// A viewer decoding within `limits`.
    pub fn new(limits: Limits) -> Self {
        ScreenViewer {
            decoder: Decoder::new(limits),
            cursor_shapes: HashMap::new(),
            cursor: None,
            monitors: None,
            frames: 0,
            damage: Vec::new(),
            leading_copies: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// What the viewer currently shows (after the first key frame).
    pub fn framebuffer(&self) -> Option<&BgraFrame> {
        self.decoder.frame()
    }

    /// The cursor as last reported.
    pub fn cursor(&self) -> Option<&CursorPosition> {
        self.cursor.as_ref()
    }

    /// A cursor image by id.
    pub fn cursor_shape(&self, shape_id: u64) -> Option<&CursorShape> {
        self.cursor_shapes.get(&shape_id)
    }

    /// The host's monitors, once reported.
    pub fn monitors(&self) -> Option<&MonitorList> {
        self.monitors.as_ref()
    }

    /// The rectangles the frame updates applied since the last call
    /// changed, and forgets them: what a renderer must redraw. Bounded: past
    /// a few dozen rectangles they merge into their bounding box.
    pub fn take_damage(&mut self) -> Vec<Rect> {
        let (copies, mut damage) = self.take_changes();
        damage.extend(copies.iter().map(copy_destination));
        damage
    }

    /// As [`take_damage`](Self::take_damage), for a renderer that can move
    /// pixels itself (a canvas copying onto itself): when the first update
    /// since the last call moved pixels (a scroll, a dragged window), its
    /// copies come separately and their destinations are not in the
    /// rectangles. Replaying the copies on the picture shown at the last call
    /// (all of them reading that picture as it was before any of them, as
    /// the decoder does: snapshot the sources first), then redrawing the
    /// rectangles from the framebuffer, gives the framebuffer exactly while
    /// drawing far fewer pixels for a scroll.
    pub fn take_changes(&mut self) -> (Vec<CopyRect>, Vec<Rect>) {
        (
            std::mem::take(&mut self.leading_copies),
            std::mem::take(&mut self.damage),
        )
    }

    /// Frames applied so far.
    pub fn frames_applied(&self) -> u64 {
        self.frames
    }

    /// The decoder's counters: updates applied and refused, pixels the last
    /// one wrote, bytes held (see `DecoderStats` in `rsupport_capture::codec`).
    pub fn decoder_stats(&self) -> DecoderStats {
        self.decoder.stats()
    }

    /// Asks the host to change how it shares.
    pub fn request_settings(&mut self, settings: DisplaySettings) {
        self.out.push_back(ScreenMessage::Settings(settings));
    }

    /// Asks for a key frame.
    pub fn request_refresh(&mut self) {
        self.out.push_back(ScreenMessage::Refresh);
    }

    /// Asks the host for a PNG screenshot.
    pub fn request_screenshot(&mut self, request_id: u32) {
        self.out
            .push_back(ScreenMessage::ScreenshotRequest { request_id });
    }

    /// Sharing (re)started: forget the old picture.
    pub fn restart(&mut self) {
        self.decoder.reset();
    }

    /// A screen message from the host.
    pub fn handle_message(&mut self, message: ScreenMessage) -> Result<(), ViewerError> {
        match message {
            ScreenMessage::Frame(update) => self.apply(&update)?,
            ScreenMessage::CursorShape(shape) => {
                if self.cursor_shapes.len() >= MAX_CURSOR_SHAPES
                    && !self.cursor_shapes.contains_key(&shape.shape_id)
                {
                    self.cursor_shapes.clear();
                }
                self.cursor_shapes.insert(shape.shape_id, shape);
            }
            ScreenMessage::CursorPosition(position) => {
                self.cursor = Some(position);
                self.events.push_back(ViewerScreenEvent::Cursor(position));
            }
            ScreenMessage::Monitors(list) => {
                self.monitors = Some(list.clone());
                self.events.push_back(ViewerScreenEvent::Monitors(list));
            }
            ScreenMessage::Windows(list) => self.events.push_back(ViewerScreenEvent::Windows(list)),
            ScreenMessage::Screenshot(shot) => {
                self.events.push_back(ViewerScreenEvent::Screenshot(shot))
            }
            _ => return Err(ViewerError::Unexpected),
        }
        Ok(())
    }

    fn apply(&mut self, update: &FrameUpdate) -> Result<(), ViewerError> {
        self.decoder.apply(update).map_err(ViewerError::Codec)?;
        self.frames += 1;
        let changed = self.decoder.changed();
        let nothing_pending = self.damage.is_empty() && self.leading_copies.is_empty();
        // The decoder lists a delta update's copy destinations first.
        let n = update.copies.len();
        let listed_first = changed.len() >= n
            && changed
                .iter()
                .zip(&update.copies)
                .all(|(r, c)| *r == copy_destination(c));
        if nothing_pending && !update.key_frame && n > 0 && listed_first {
            self.leading_copies.extend_from_slice(&update.copies);
            self.damage
                .extend_from_slice(changed.get(n..).unwrap_or_default());
        } else {
            self.damage.extend_from_slice(changed);
        }
        if self.damage.len() > MAX_DAMAGE_RECTS {
            let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
            for r in &self.damage {
                x0 = x0.min(i64::from(r.x));
                y0 = y0.min(i64::from(r.y));
                x1 = x1.max(i64::from(r.x) + i64::from(r.width));
                y1 = y1.max(i64::from(r.y) + i64::from(r.height));
            }
            self.damage.clear();
            self.damage.push(Rect::new(
                i32::try_from(x0).unwrap_or(0),
                i32::try_from(y0).unwrap_or(0),
                u32::try_from(x1 - x0).unwrap_or(0),
                u32::try_from(y1 - y0).unwrap_or(0),
            ));
        }
        self.out
            .push_back(ScreenMessage::FrameAck { seq: update.seq });
        self.events.push_back(ViewerScreenEvent::FrameUpdated {
            seq: update.seq,
            width: update.width,
            height: update.height,
            captured_at_ms: update.captured_at_ms,
        });
        Ok(())
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<ScreenMessage> {
        self.out.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ViewerScreenEvent> {
        self.events.pop_front()
    }
}

/// Why the viewer refused a screen message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewerError {
    /// The frame update does not decode (the host misbehaved).
    #[error("frame update refused: {0}")]
    Codec(CodecError),
    /// A viewer-to-host message arrived at the viewer.
    #[error("a viewer-to-host screen message arrived at the viewer")]
    Unexpected,
}

/// Where a copy rectangle lands.
fn copy_destination(c: &CopyRect) -> Rect {
    Rect::new(
        i32::try_from(c.dst_x).unwrap_or(i32::MAX),
        i32::try_from(c.dst_y).unwrap_or(i32::MAX),
        c.width,
        c.height,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsupport_capture::codec::synthetic::{Scenario, Sequence};

    fn pump(host: &mut ScreenHost, viewer: &mut ScreenViewer) {
        loop {
            let mut moved = false;
            while let Some(m) = host.poll_transmit() {
                viewer.handle_message(m).unwrap();
                moved = true;
            }
            while let Some(m) = viewer.poll_transmit() {
                host.handle_message(m).unwrap();
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    #[test]
    fn viewer_framebuffer_equals_the_host_frame_over_a_sequence() {
        let mut host = ScreenHost::new(256);
        let mut limits = Limits::default();
        limits.cache_entries = 256;
        let mut viewer = ScreenViewer::new(limits);
        let mut seq = Sequence::new(Scenario::Typing, 320, 200, 7);
        let mut now = Instant::now();
        for _ in 0..10 {
            let frame = seq.next_frame();
            assert!(host.wants_frame(now));
            host.submit_frame(&frame, now, 0).unwrap();
            pump(&mut host, &mut viewer);
            assert_eq!(viewer.framebuffer(), Some(&frame));
            now += Duration::from_millis(40);
        }
    }

    /// A canvas that replays `take_changes`: the copy onto itself, then
    /// the rectangles from the framebuffer. Returns the pixels painted.
    fn replay(shown: &mut BgraFrame, viewer: &mut ScreenViewer) -> (bool, u64) {
        let (copies, rects) = viewer.take_changes();
        let fb = viewer.framebuffer().unwrap().clone();
        if (shown.width(), shown.height()) != (fb.width(), fb.height()) {
            *shown = BgraFrame::filled(fb.width(), fb.height(), [0; 4]);
        }
        let stride = shown.stride();
        // Every copy reads the picture as it was before any of them.
        let before = shown.pixels().to_vec();
        for c in &copies {
            for row in 0..c.height as usize {
                let src = (c.src_y as usize + row) * stride + c.src_x as usize * 4;
                let dst = (c.dst_y as usize + row) * stride + c.dst_x as usize * 4;
                let w = c.width as usize * 4;
                shown.pixels_mut()[dst..dst + w].copy_from_slice(&before[src..src + w]);
            }
        }
        let mut painted = 0;
        for r in rects {
            for row in r.y as usize..r.y as usize + r.height as usize {
                let at = row * stride + r.x as usize * 4;
                let w = r.width as usize * 4;
                shown.pixels_mut()[at..at + w].copy_from_slice(&fb.pixels()[at..at + w]);
            }
            painted += u64::from(r.width) * u64::from(r.height);
        }
        (!copies.is_empty(), painted)
    }

    #[test]
    fn replaying_a_scrolls_copy_then_its_rectangles_gives_the_framebuffer() {
        let mut host = ScreenHost::new(256);
        let mut viewer = ScreenViewer::new(Limits::default());
        let mut seq = Sequence::new(Scenario::Scrolling, 640, 480, 3);
        let mut shown = BgraFrame::filled(0, 0, [0; 4]);
        let mut now = Instant::now();
        let (mut copies, mut painted) = (0, 0);
        for _ in 0..12 {
            let frame = seq.next_frame();
            host.submit_frame(&frame, now, 0).unwrap();
            pump(&mut host, &mut viewer);
            let (copied, area) = replay(&mut shown, &mut viewer);
            assert_eq!(
                Some(&shown),
                viewer.framebuffer(),
                "the replayed picture is exact"
            );
            copies += usize::from(copied);
            painted += area;
            now += Duration::from_millis(40);
        }
        assert!(copies >= 8, "scrolls come as copies: {copies}");
        assert!(
            painted < 4 * 640 * 480,
            "far less than a frame per step: {painted}"
        );
        // The plain damage list still covers the copy's destination.
        host.submit_frame(&seq.next_frame(), now, 0).unwrap();
        pump(&mut host, &mut viewer);
        let damage: u64 = viewer
            .take_damage()
            .iter()
            .map(|r| u64::from(r.width) * u64::from(r.height))
            .sum();
        assert!(
            damage > 640 * 300,
            "the scroll's copies are in it: {damage}"
        );
    }

    #[test]
    fn host_stops_at_the_in_flight_window_until_acked() {
        let mut host = ScreenHost::new(0);
        let mut viewer = ScreenViewer::new(Limits::default());
        let mut now = Instant::now();
        for i in 0..DEFAULT_MAX_IN_FLIGHT {
            assert!(host.wants_frame(now));
            let frame = BgraFrame::filled(64, 64, [i as u8, 0, 0, 255]);
            assert!(host.submit_frame(&frame, now, 0).unwrap());
            now += Duration::from_secs(1);
        }
        assert!(
            !host.wants_frame(now),
            "window full: the latest frame waits"
        );
        assert_eq!(host.next_frame_at(now), None);
        pump(&mut host, &mut viewer);
        assert!(host.wants_frame(now));
    }

    #[test]
    fn frame_rate_cap_spaces_frames() {
        let mut host = ScreenHost::new(0);
        let settings = DisplaySettings {
            max_fps: 10,
            ..DisplaySettings::default()
        };
        host.handle_message(ScreenMessage::Settings(settings.clone()))
            .unwrap();
        assert_eq!(
            host.poll_event(),
            Some(HostScreenEvent::SettingsChanged(settings))
        );
        let now = Instant::now();
        host.submit_frame(&BgraFrame::filled(8, 8, [1, 2, 3, 255]), now, 0)
            .unwrap();
        assert!(!host.wants_frame(now + Duration::from_millis(99)));
        host.handle_message(ScreenMessage::FrameAck { seq: u64::MAX })
            .unwrap();
        assert!(host.wants_frame(now + Duration::from_millis(100)));
    }

    #[test]
    fn unchanged_frames_send_nothing() {
        let mut host = ScreenHost::new(0);
        let frame = BgraFrame::filled(32, 32, [9, 9, 9, 255]);
        let t = Instant::now();
        assert!(host.submit_frame(&frame, t, 0).unwrap());
        host.handle_message(ScreenMessage::FrameAck { seq: u64::MAX })
            .unwrap();
        assert!(!host
            .submit_frame(&frame, t + Duration::from_secs(1), 0)
            .unwrap());
        assert_eq!(host.frames_sent(), 1);
    }

    #[test]
    fn garbage_frame_is_a_typed_error_not_a_panic() {
        let mut viewer = ScreenViewer::new(Limits::default());
        let bogus = FrameUpdate {
            seq: 1,
            monitor_id: 0,
            width: 100_000,
            height: 100_000,
            key_frame: true,
            copies: Vec::new(),
            compression: rsupport_proto::screen::TileCompression::Zstd,
            tiles_raw_len: 10,
            tiles: Bytes::from_static(b"not zstd"),
            captured_at_ms: 0,
        };
        assert!(matches!(
            viewer.handle_message(ScreenMessage::Frame(bogus)),
            Err(ViewerError::Codec(_))
        ));
        assert!(viewer.framebuffer().is_none());
        assert!(
            viewer.poll_transmit().is_none(),
            "no ack for a refused frame"
        );
    }

    #[test]
    fn roles_are_enforced() {
        let mut host = ScreenHost::new(0);
        let mut viewer = ScreenViewer::new(Limits::default());
        assert!(host.handle_message(ScreenMessage::Refresh).is_ok());
        assert!(viewer.handle_message(ScreenMessage::Refresh).is_err());
        assert!(host
            .handle_message(ScreenMessage::Windows(Vec::new()))
            .is_err());
    }
}
