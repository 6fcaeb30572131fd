//! Annotation channel: pen strokes, a fading laser pointer, text labels, undo
//! and clear — both ways. Coordinates are pixels of the shared monitor, so a
//! drawing stays put when either side scales its view.

use crate::common::Point;
use crate::error::DecodeError;
use crate::limits::{MAX_LABEL_TEXT, MAX_STROKE_POINTS};
use crate::pb::{self, annotate_message::Body};
use crate::wire::{check_count, check_str, from_pb_vec, required, Wire};

/// A colour as 0xAARRGGBB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Argb(pub u32);

impl Argb {
    /// From alpha, red, green, blue components.
    pub const fn new(a: u8, r: u8, g: u8, b: u8) -> Self {
        Argb(((a as u32) << 24) | ((r as u32) << 16) | ((g as u32) << 8) | b as u32)
    }

    /// Alpha component.
    pub const fn alpha(self) -> u8 {
        (self.0 >> 24) as u8
    }

    /// Red component.
    pub const fn red(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// Green component.
    pub const fn green(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// Blue component.
    pub const fn blue(self) -> u8 {
        self.0 as u8
    }
}

/// Largest pen width: 100 px, in 1/100 px.
pub const MAX_WIDTH_CENTIPX: u32 = 100 * 100;
/// Largest label font size in pixels.
pub const MAX_LABEL_SIZE_PX: u32 = 512;

/// One annotation message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnnotateMessage {
    /// Start a pen stroke.
    StrokeBegin {
        /// Unique per sender.
        stroke_id: u64,
        /// Pen colour.
        color: Argb,
        /// Pen width in 1/100 px (1..=[`MAX_WIDTH_CENTIPX`]).
        width_centipx: u32,
        /// First point.
        start: Point,
        /// Monitor the coordinates refer to.
        monitor_id: u32,
    },
    /// More points of a stroke.
    StrokePoints {
        /// Stroke.
        stroke_id: u64,
        /// Points in order (at most [`MAX_STROKE_POINTS`]).
        points: Vec<Point>,
    },
    /// The stroke is complete.
    StrokeEnd {
        /// Stroke.
        stroke_id: u64,
    },
    /// A laser-pointer dot that fades.
    Laser {
        /// Where.
        position: Point,
        /// Colour.
        color: Argb,
        /// Monitor.
        monitor_id: u32,
    },
    /// A text label.
    TextLabel {
        /// Unique per sender.
        label_id: u64,
        /// Top-left of the text.
        position: Point,
        /// The text.
        text: String,
        /// Colour.
        color: Argb,
        /// Font size in pixels (1..=[`MAX_LABEL_SIZE_PX`]).
        size_px: u32,
        /// Monitor.
        monitor_id: u32,
    },
    /// Undo the sender's last stroke or label.
    Undo,
    /// Remove all annotations.
    Clear,
}

impl Wire for AnnotateMessage {
    type Pb = pb::AnnotateMessage;

    fn to_pb(&self) -> pb::AnnotateMessage {
        let body = match self {
            AnnotateMessage::StrokeBegin {
                stroke_id,
                color,
                width_centipx,
                start,
                monitor_id,
            } => Body::StrokeBegin(pb::StrokeBegin {
                stroke_id: *stroke_id,
                color: color.0,
                width_centipx: *width_centipx,
                start: Some(start.to_pb()),
                monitor_id: *monitor_id,
            }),
            AnnotateMessage::StrokePoints { stroke_id, points } => {
                Body::StrokePoints(pb::StrokePoints {
                    stroke_id: *stroke_id,
                    points: points.iter().map(Point::to_pb).collect(),
                })
            }
            AnnotateMessage::StrokeEnd { stroke_id } => Body::StrokeEnd(pb::StrokeEnd {
                stroke_id: *stroke_id,
            }),
            AnnotateMessage::Laser {
                position,
                color,
                monitor_id,
            } => Body::Laser(pb::LaserPointer {
                position: Some(position.to_pb()),
                color: color.0,
                monitor_id: *monitor_id,
            }),
            AnnotateMessage::TextLabel {
                label_id,
                position,
                text,
                color,
                size_px,
                monitor_id,
            } => Body::TextLabel(pb::TextLabel {
                label_id: *label_id,
                position: Some(position.to_pb()),
                text: text.clone(),
                color: color.0,
                size_px: *size_px,
                monitor_id: *monitor_id,
            }),
            AnnotateMessage::Undo => Body::Undo(pb::Undo {}),
            AnnotateMessage::Clear => Body::Clear(pb::Clear {}),
        };
        pb::AnnotateMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::AnnotateMessage) -> Result<Self, DecodeError> {
        Ok(match required("annotate.body", pb.body)? {
            Body::StrokeBegin(s) => {
                if s.width_centipx == 0 || s.width_centipx > MAX_WIDTH_CENTIPX {
                    return Err(DecodeError::Invalid {
                        field: "stroke_begin.width_centipx",
                        reason: "pen width out of range",
                    });
                }
                AnnotateMessage::StrokeBegin {
                    stroke_id: s.stroke_id,
                    color: Argb(s.color),
                    width_centipx: s.width_centipx,
                    start: Point::from_pb(required("stroke_begin.start", s.start)?)?,
                    monitor_id: s.monitor_id,
                }
            }
            Body::StrokePoints(p) => {
                check_count("stroke_points.points", &p.points, MAX_STROKE_POINTS)?;
                AnnotateMessage::StrokePoints {
                    stroke_id: p.stroke_id,
                    points: from_pb_vec(p.points)?,
                }
            }
            Body::StrokeEnd(e) => AnnotateMessage::StrokeEnd {
                stroke_id: e.stroke_id,
            },
            Body::Laser(l) => AnnotateMessage::Laser {
                position: Point::from_pb(required("laser.position", l.position)?)?,
                color: Argb(l.color),
                monitor_id: l.monitor_id,
            },
            Body::TextLabel(t) => {
                check_str("text_label.text", &t.text, MAX_LABEL_TEXT)?;
                if t.size_px == 0 || t.size_px > MAX_LABEL_SIZE_PX {
                    return Err(DecodeError::Invalid {
                        field: "text_label.size_px",
                        reason: "font size out of range",
                    });
                }
                AnnotateMessage::TextLabel {
                    label_id: t.label_id,
                    position: Point::from_pb(required("text_label.position", t.position)?)?,
                    text: t.text,
                    color: Argb(t.color),
                    size_px: t.size_px,
                    monitor_id: t.monitor_id,
                }
            }
            Body::Undo(_) => AnnotateMessage::Undo,
            Body::Clear(_) => AnnotateMessage::Clear,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::common::tests::point;
    use crate::wire::strategies::*;
    use proptest::prelude::*;

    pub(crate) fn annotate_message() -> impl Strategy<Value = AnnotateMessage> {
        prop_oneof![
            (
                any::<u64>(),
                any::<u32>(),
                1..=MAX_WIDTH_CENTIPX,
                point(),
                any::<u32>()
            )
                .prop_map(|(stroke_id, c, width_centipx, start, monitor_id)| {
                    AnnotateMessage::StrokeBegin {
                        stroke_id,
                        color: Argb(c),
                        width_centipx,
                        start,
                        monitor_id,
                    }
                }),
            (any::<u64>(), proptest::collection::vec(point(), 0..20)).prop_map(
                |(stroke_id, points)| AnnotateMessage::StrokePoints { stroke_id, points }
            ),
            any::<u64>().prop_map(|stroke_id| AnnotateMessage::StrokeEnd { stroke_id }),
            (point(), any::<u32>(), any::<u32>()).prop_map(|(position, c, monitor_id)| {
                AnnotateMessage::Laser {
                    position,
                    color: Argb(c),
                    monitor_id,
                }
            }),
            (
                any::<u64>(),
                point(),
                text(16),
                any::<u32>(),
                1..=MAX_LABEL_SIZE_PX,
                any::<u32>()
            )
                .prop_map(|(label_id, position, text, c, size_px, monitor_id)| {
                    AnnotateMessage::TextLabel {
                        label_id,
                        position,
                        text,
                        color: Argb(c),
                        size_px,
                        monitor_id,
                    }
                }),
            Just(AnnotateMessage::Undo),
            Just(AnnotateMessage::Clear),
        ]
    }

    proptest! {
        #[test]
        fn annotate_round_trips(m in annotate_message()) {
            assert_round_trip(&m);
        }
    }

    #[test]
    fn argb_components() {
        let c = Argb::new(0x80, 0x11, 0x22, 0x33);
        assert_eq!(c.0, 0x8011_2233);
        assert_eq!(
            (c.alpha(), c.red(), c.green(), c.blue()),
            (0x80, 0x11, 0x22, 0x33)
        );
    }

    #[test]
    fn stroke_without_start_or_with_zero_width_is_refused() {
        let begin = |start, width_centipx| pb::AnnotateMessage {
            body: Some(Body::StrokeBegin(pb::StrokeBegin {
                stroke_id: 1,
                color: 0xFFFF_0000,
                width_centipx,
                start,
                monitor_id: 0,
            })),
        };
        assert_eq!(
            AnnotateMessage::from_pb(begin(None, 300)),
            Err(DecodeError::MissingField("stroke_begin.start"))
        );
        assert!(AnnotateMessage::from_pb(begin(Some(pb::Point { x: 1, y: 2 }), 0)).is_err());
        assert!(AnnotateMessage::from_pb(begin(Some(pb::Point { x: 1, y: 2 }), 300)).is_ok());
    }
}
