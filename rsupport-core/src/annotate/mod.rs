//! The drawing tool: pen strokes, a fading laser pointer, text labels, undo
//! and clear, from either party onto the shared screen.
//!
//! - [`AnnotationLayer`] is the model: it consumes [`AnnotateMessage`]s from
//!   both parties with `now` and knows when laser dots fade.
//! - [`Annotator`] is one party's end of the channel: local drawing commands
//!   update the layer and queue the messages for the peer; messages from the
//!   peer go into [`Annotator::handle`].
//! - [`render`] / [`render_scaled`] composite the layer onto a
//!   [`BgraFrame`](rsupport_capture::BgraFrame), so an overlay window and a
//!   recording show the same picture.
//!
//! Coordinates are pixels of the shared monitor; a view that shows the
//! monitor scaled renders with [`render_scaled`].
//!
//! Rendering costs in proportion to the ink drawn (see
//! `benches/annotate_render.rs`); the layer's limits ([`MAX_ITEMS`],
//! [`MAX_INK`], [`MAX_TOTAL_POINTS`]) bound what a peer can make the other
//! side render. An overlay window should re-render only when
//! [`AnnotationLayer::version`] changes or [`Annotator::poll_timeout`] passes.
//!
//! ```
//! use std::time::Instant;
//! use rsupport_capture::BgraFrame;
//! use rsupport_core::annotate::{render, Annotator};
//! use rsupport_core::Side;
//! use rsupport_proto::{annotate::Argb, Point};
//!
//! let now = Instant::now();
//! let mut operator = Annotator::new(Side::Operator);
//! let mut customer = Annotator::new(Side::Customer);
//! let id = operator.begin_stroke(Argb::new(255, 255, 0, 0), 4.0, Point::new(10, 10), 0, now);
//! operator.extend_stroke(id, &[Point::new(50, 10)], now);
//! operator.end_stroke(id, now);
//! while let Some(m) = operator.poll_transmit() {
//!     customer.handle(&m, now).expect("valid drawing");
//! }
//! let mut frame = BgraFrame::filled(64, 32, [255, 255, 255, 255]);
//! render(customer.layer(), &mut frame, 0, now);
//! assert_eq!(frame.pixel(30, 10), Some([0, 0, 255, 255])); // red, in BGRA
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod layer;
mod raster;
mod text;

use std::collections::VecDeque;
use web_time::Instant;

pub use layer::{
    label_ink, AnnotateError, AnnotationLayer, Item, Label, LaserDot, Stroke, LASER_FADE, MAX_INK,
    MAX_ITEMS, MAX_LASER_DOTS, MAX_TOTAL_POINTS,
};
pub use raster::{render, render_scaled, LASER_RADIUS};
pub use rsupport_proto::annotate::{AnnotateMessage, Argb};
pub use text::{measure as measure_text, set_fallback_font, FontError, MAX_RENDERED_SIZE_PX};

use rsupport_proto::limits::MAX_STROKE_POINTS;
use rsupport_proto::Point;

use crate::Side;

/// One party's end of the annotation channel.
#[derive(Debug)]
pub struct Annotator {
    me: Side,
    layer: AnnotationLayer,
    outbox: VecDeque<AnnotateMessage>,
    next_id: u64,
}

impl Annotator {
    /// An empty drawing for party `me`.
    pub fn new(me: Side) -> Self {
        Annotator {
            me,
            layer: AnnotationLayer::new(),
            outbox: VecDeque::new(),
            next_id: 1,
        }
    }

    /// The shared drawing (both parties' items).
    pub fn layer(&self) -> &AnnotationLayer {
        &self.layer
    }

    /// Applies a message from the peer.
    pub fn handle(&mut self, msg: &AnnotateMessage, now: Instant) -> Result<(), AnnotateError> {
        let peer = match self.me {
            Side::Operator => Side::Customer,
            Side::Customer => Side::Operator,
        };
        self.layer.apply(peer, msg, now)
    }

    /// The next message for the peer.
    pub fn poll_transmit(&mut self) -> Option<AnnotateMessage> {
        self.outbox.pop_front()
    }

    /// When a laser dot fades next (re-render then); see
    /// [`AnnotationLayer::poll_timeout`].
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.layer.poll_timeout(now)
    }

    /// Drops faded laser dots.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
    }

    fn local(&mut self, msg: AnnotateMessage, now: Instant) -> bool {
        let ok = self.layer.apply(self.me, &msg, now).is_ok();
        if ok {
            self.outbox.push_back(msg);
        }
        ok
    }

    /// Starts a pen stroke of `width_px` monitor pixels (clamped to the wire
    /// range 0.01..=100); returns its id.
    pub fn begin_stroke(
        &mut self,
        color: Argb,
        width_px: f32,
        start: Point,
        monitor_id: u32,
        now: Instant,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let width_centipx = (width_px * 100.0).round().clamp(1.0, 10_000.0) as u32;
        self.local(
            AnnotateMessage::StrokeBegin {
                stroke_id: id,
                color,
                width_centipx,
                start,
                monitor_id,
            },
            now,
        );
        id
    }

    /// Adds points to an open stroke (split into wire-sized messages).
    pub fn extend_stroke(&mut self, stroke_id: u64, points: &[Point], now: Instant) {
        for part in points.chunks(MAX_STROKE_POINTS) {
            self.local(
                AnnotateMessage::StrokePoints {
                    stroke_id,
                    points: part.to_vec(),
                },
                now,
            );
        }
    }

    /// Ends a stroke.
    pub fn end_stroke(&mut self, stroke_id: u64, now: Instant) {
        self.local(AnnotateMessage::StrokeEnd { stroke_id }, now);
    }

    /// Shows a laser dot that fades over [`LASER_FADE`].
    pub fn laser(&mut self, position: Point, color: Argb, monitor_id: u32, now: Instant) {
        self.local(
            AnnotateMessage::Laser {
                position,
                color,
                monitor_id,
            },
            now,
        );
    }

    /// Places a text label; returns its id, or `None` when the layer is full.
    pub fn label(
        &mut self,
        position: Point,
        text: &str,
        color: Argb,
        size_px: u32,
        monitor_id: u32,
        now: Instant,
    ) -> Option<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = AnnotateMessage::TextLabel {
            label_id: id,
            position,
            text: truncate(text, rsupport_proto::limits::MAX_LABEL_TEXT).to_owned(),
            color,
            size_px: size_px.clamp(1, rsupport_proto::annotate::MAX_LABEL_SIZE_PX),
            monitor_id,
        };
        self.local(msg, now).then_some(id)
    }

    /// Removes this party's most recent stroke or label, on both sides.
    pub fn undo(&mut self, now: Instant) {
        self.local(AnnotateMessage::Undo, now);
    }

    /// Removes everything (both parties'), on both sides.
    pub fn clear(&mut self, now: Instant) {
        self.local(AnnotateMessage::Clear, now);
    }
}

/// The longest prefix of `text` within `max` bytes, cut at a character
/// boundary (the peer's decoder refuses longer labels).
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
