//! The annotation layer: what is drawn on the shared screen, by whom, in
//! monitor pixel coordinates. It consumes [`AnnotateMessage`]s from either
//! party and `now`; it never renders (see [`super::raster`]).

use std::time::Duration;
use web_time::Instant;

use rsupport_proto::annotate::{AnnotateMessage, Argb};
use rsupport_proto::Point;

use crate::Side;

/// How long a laser dot stays visible; it fades linearly to nothing.
pub const LASER_FADE: Duration = Duration::from_millis(1500);
/// Most strokes and labels kept at once (oldest refused beyond).
pub const MAX_ITEMS: usize = 2_000;
/// Most stroke points kept in the whole layer.
pub const MAX_TOTAL_POINTS: usize = 2_000_000;
/// Most "ink" in the layer: the sum over strokes of pen width × length (plus
/// a dot per stroke) and over labels of their glyph squares (see
/// [`label_ink`]), in square monitor pixels — about ten full-HD screens
/// painted over. Rendering cost follows ink, so this bounds what a peer can
/// make the other side's renderer do on every re-render.
pub const MAX_INK: f64 = 2.0e7;
/// Most laser dots kept (a trail); older ones are dropped first.
pub const MAX_LASER_DOTS: usize = 256;

/// A pen stroke.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Stroke {
    /// Who drew it.
    pub author: Side,
    /// The author's id for it.
    pub id: u64,
    /// Colour.
    pub color: Argb,
    /// Width in monitor pixels.
    pub width: f32,
    /// Points in monitor pixels, in drawing order (at least one).
    pub points: Vec<Point>,
    /// Monitor the points refer to.
    pub monitor_id: u32,
    /// Whether `StrokeEnd` arrived.
    pub finished: bool,
}

/// A text label.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Label {
    /// Who placed it.
    pub author: Side,
    /// The author's id for it.
    pub id: u64,
    /// Top-left corner in monitor pixels.
    pub position: Point,
    /// The text (may contain newlines).
    pub text: String,
    /// Colour.
    pub color: Argb,
    /// Font size in monitor pixels.
    pub size_px: u32,
    /// Monitor.
    pub monitor_id: u32,
}

/// A laser-pointer dot, fading out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaserDot {
    /// Who pointed.
    pub author: Side,
    /// Where, in monitor pixels.
    pub position: Point,
    /// Colour.
    pub color: Argb,
    /// Monitor.
    pub monitor_id: u32,
    /// When it appeared.
    pub shown_at: Instant,
}

impl LaserDot {
    /// When it has faded completely.
    pub fn deadline(&self) -> Instant {
        self.shown_at + LASER_FADE
    }

    /// Remaining opacity at `now`, 1.0 when new, 0.0 at the deadline.
    pub fn opacity(&self, now: Instant) -> f32 {
        let age = now.saturating_duration_since(self.shown_at).as_secs_f32();
        (1.0 - age / LASER_FADE.as_secs_f32()).clamp(0.0, 1.0)
    }
}

/// One persistent item, in stacking order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Item {
    /// A pen stroke.
    Stroke(Stroke),
    /// A text label.
    Label(Label),
}

impl Item {
    fn author(&self) -> Side {
        match self {
            Item::Stroke(s) => s.author,
            Item::Label(l) => l.author,
        }
    }
}

/// A message the layer could not apply. The layer is unchanged; the session
/// may ignore it or tell the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnnotateError {
    /// The author already has a stroke or label with this id.
    #[error("duplicate stroke or label id")]
    DuplicateId,
    /// Points or end for a stroke that does not exist or has ended.
    #[error("no open stroke with this id")]
    UnknownStroke,
    /// The layer is full ([`MAX_ITEMS`] / [`MAX_TOTAL_POINTS`]); clear first.
    #[error("too many annotations")]
    Full,
}

/// Everything drawn on the shared screen by both parties.
#[derive(Debug, Clone, Default)]
pub struct AnnotationLayer {
    items: Vec<Item>,
    lasers: Vec<LaserDot>,
    total_points: usize,
    ink: f64,
    /// Bumped on every visible change, so a product can skip re-rendering.
    version: u64,
}

impl AnnotationLayer {
    /// An empty layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Strokes and labels, bottom first.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Laser dots still visible at `now`.
    pub fn lasers(&self, now: Instant) -> impl Iterator<Item = &LaserDot> {
        self.lasers.iter().filter(move |d| d.deadline() > now)
    }

    /// Whether nothing would be drawn at `now`.
    pub fn is_empty(&self, now: Instant) -> bool {
        self.items.is_empty() && self.lasers(now).next().is_none()
    }

    /// Changes with every visible change (not with fading).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the picture next changes on its own (a laser dot vanishing);
    /// re-render at or before then. `None` when nothing fades.
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.lasers(now).map(LaserDot::deadline).min()
    }

    /// Drops laser dots that have faded out by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.lasers.retain(|d| d.deadline() > now);
    }

    /// Applies one message drawn by `author` (either party: the local user's
    /// own messages go through here too, so both screens show the same).
    pub fn apply(
        &mut self,
        author: Side,
        msg: &AnnotateMessage,
        now: Instant,
    ) -> Result<(), AnnotateError> {
        self.handle_timeout(now);
        match msg {
            AnnotateMessage::StrokeBegin {
                stroke_id,
                color,
                width_centipx,
                start,
                monitor_id,
            } => {
                let width = *width_centipx as f32 / 100.0;
                let dot = f64::from(width) * f64::from(width);
                self.check_new(author, *stroke_id, 1)?;
                if self.ink + dot > MAX_INK {
                    return Err(AnnotateError::Full);
                }
                self.ink += dot;
                self.total_points += 1;
                self.items.push(Item::Stroke(Stroke {
                    author,
                    id: *stroke_id,
                    color: *color,
                    width,
                    points: vec![*start],
                    monitor_id: *monitor_id,
                    finished: false,
                }));
            }
            AnnotateMessage::StrokePoints { stroke_id, points } => {
                if self.total_points + points.len() > MAX_TOTAL_POINTS {
                    return Err(AnnotateError::Full);
                }
                let ink = self.ink;
                let stroke = self.open_stroke(author, *stroke_id)?;
                let added = path_ink(stroke.points.last(), points, stroke.width);
                if ink + added > MAX_INK {
                    return Err(AnnotateError::Full);
                }
                stroke.points.extend_from_slice(points);
                self.ink += added;
                self.total_points += points.len();
            }
            AnnotateMessage::StrokeEnd { stroke_id } => {
                self.open_stroke(author, *stroke_id)?.finished = true;
            }
            AnnotateMessage::Laser {
                position,
                color,
                monitor_id,
            } => {
                if self.lasers.len() >= MAX_LASER_DOTS {
                    self.lasers.remove(0);
                }
                self.lasers.push(LaserDot {
                    author,
                    position: *position,
                    color: *color,
                    monitor_id: *monitor_id,
                    shown_at: now,
                });
            }
            AnnotateMessage::TextLabel {
                label_id,
                position,
                text,
                color,
                size_px,
                monitor_id,
            } => {
                self.check_new(author, *label_id, 0)?;
                let ink = label_ink(text, *size_px);
                if self.ink + ink > MAX_INK {
                    return Err(AnnotateError::Full);
                }
                self.ink += ink;
                self.items.push(Item::Label(Label {
                    author,
                    id: *label_id,
                    position: *position,
                    text: text.clone(),
                    color: *color,
                    size_px: *size_px,
                    monitor_id: *monitor_id,
                }));
            }
            AnnotateMessage::Undo => {
                if let Some(i) = self.items.iter().rposition(|it| it.author() == author) {
                    match self.items.remove(i) {
                        Item::Stroke(s) => {
                            self.total_points -= s.points.len();
                            let dot = f64::from(s.width) * f64::from(s.width);
                            self.ink =
                                (self.ink - dot - path_ink(None, &s.points, s.width)).max(0.0);
                        }
                        Item::Label(l) => {
                            self.ink = (self.ink - label_ink(&l.text, l.size_px)).max(0.0);
                        }
                    }
                }
            }
            AnnotateMessage::Clear => {
                self.items.clear();
                self.lasers.clear();
                self.total_points = 0;
                self.ink = 0.0;
            }
            // Message kinds added to the schema later are not drawn.
            _ => return Ok(()),
        }
        self.version += 1;
        Ok(())
    }

    fn check_new(&self, author: Side, id: u64, points: usize) -> Result<(), AnnotateError> {
        if self.items.len() >= MAX_ITEMS || self.total_points + points > MAX_TOTAL_POINTS {
            return Err(AnnotateError::Full);
        }
        let taken = self.items.iter().any(|it| match it {
            Item::Stroke(s) => s.author == author && s.id == id,
            Item::Label(l) => l.author == author && l.id == id,
        });
        if taken {
            Err(AnnotateError::DuplicateId)
        } else {
            Ok(())
        }
    }

    fn open_stroke(&mut self, author: Side, id: u64) -> Result<&mut Stroke, AnnotateError> {
        self.items
            .iter_mut()
            .rev()
            .find_map(|it| match it {
                Item::Stroke(s) if s.author == author && s.id == id && !s.finished => Some(s),
                _ => None,
            })
            .ok_or(AnnotateError::UnknownStroke)
    }
}

/// The ink of a label: one square of its font size per visible character,
/// about the area its glyphs cover and what drawing them costs. Counted
/// with strokes toward [`MAX_INK`], so labels cannot stack up re-render
/// work outside the budget.
pub fn label_ink(text: &str, size_px: u32) -> f64 {
    let glyphs = text.chars().filter(|c| !c.is_whitespace()).count();
    glyphs as f64 * f64::from(size_px) * f64::from(size_px)
}

/// Pen width × length of the path through `points`, continuing from `from`.
fn path_ink(from: Option<&Point>, points: &[Point], width: f32) -> f64 {
    let mut prev = from.copied();
    let mut length = 0.0f64;
    for p in points {
        if let Some(q) = prev {
            let dx = f64::from(p.x) - f64::from(q.x);
            let dy = f64::from(p.y) - f64::from(q.y);
            length += (dx * dx + dy * dy).sqrt();
        }
        prev = Some(*p);
    }
    length * f64::from(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(id: u64, x: i32) -> AnnotateMessage {
        AnnotateMessage::StrokeBegin {
            stroke_id: id,
            color: Argb(0xFFFF0000),
            width_centipx: 300,
            start: Point::new(x, 0),
            monitor_id: 0,
        }
    }

    #[test]
    fn undo_is_per_author_and_clear_is_for_all() {
        let now = Instant::now();
        let mut l = AnnotationLayer::new();
        l.apply(Side::Operator, &begin(1, 0), now).unwrap();
        l.apply(Side::Customer, &begin(1, 10), now).unwrap(); // same id, other author: fine
        l.apply(Side::Operator, &begin(2, 20), now).unwrap();
        assert_eq!(
            l.apply(Side::Operator, &begin(2, 30), now),
            Err(AnnotateError::DuplicateId)
        );
        l.apply(Side::Customer, &AnnotateMessage::Undo, now)
            .unwrap();
        let ids: Vec<_> = l
            .items()
            .iter()
            .map(|it| match it {
                Item::Stroke(s) => (s.author, s.id),
                Item::Label(_) => unreachable!(),
            })
            .collect();
        assert_eq!(ids, vec![(Side::Operator, 1), (Side::Operator, 2)]);
        l.apply(Side::Customer, &AnnotateMessage::Clear, now)
            .unwrap();
        assert!(l.is_empty(now));
    }

    #[test]
    fn points_only_extend_open_strokes() {
        let now = Instant::now();
        let mut l = AnnotationLayer::new();
        let pts = AnnotateMessage::StrokePoints {
            stroke_id: 7,
            points: vec![Point::new(1, 1)],
        };
        assert_eq!(
            l.apply(Side::Operator, &pts, now),
            Err(AnnotateError::UnknownStroke)
        );
        l.apply(Side::Operator, &begin(7, 0), now).unwrap();
        l.apply(Side::Operator, &pts, now).unwrap();
        assert_eq!(
            l.apply(Side::Customer, &pts, now),
            Err(AnnotateError::UnknownStroke)
        );
        l.apply(
            Side::Operator,
            &AnnotateMessage::StrokeEnd { stroke_id: 7 },
            now,
        )
        .unwrap();
        assert_eq!(
            l.apply(Side::Operator, &pts, now),
            Err(AnnotateError::UnknownStroke)
        );
    }

    #[test]
    fn ink_is_bounded_and_given_back_by_undo() {
        let now = Instant::now();
        let mut l = AnnotationLayer::new();
        let wide = |id| AnnotateMessage::StrokeBegin {
            stroke_id: id,
            color: Argb(0xFFFF0000),
            width_centipx: 10_000, // 100 px
            start: Point::new(0, 0),
            monitor_id: 0,
        };
        let far = |id| AnnotateMessage::StrokePoints {
            stroke_id: id,
            points: vec![Point::new(100_000, 100_000)], // 1.4e5 px × 100 px
        };
        l.apply(Side::Customer, &wide(1), now).unwrap();
        l.apply(Side::Customer, &far(1), now).unwrap();
        l.apply(Side::Customer, &wide(2), now).unwrap();
        assert_eq!(
            l.apply(Side::Customer, &far(2), now),
            Err(AnnotateError::Full)
        );
        l.apply(Side::Customer, &AnnotateMessage::Undo, now)
            .unwrap(); // removes stroke 2
        l.apply(Side::Customer, &AnnotateMessage::Undo, now)
            .unwrap(); // removes stroke 1
        l.apply(Side::Customer, &wide(3), now).unwrap();
        assert_eq!(l.apply(Side::Customer, &far(3), now), Ok(()));
    }

    #[test]
    fn labels_count_toward_the_ink_budget() {
        let now = Instant::now();
        let mut l = AnnotationLayer::new();
        let label = |id, chars: usize, size_px| AnnotateMessage::TextLabel {
            label_id: id,
            position: Point::new(0, 0),
            text: "W".repeat(chars),
            color: Argb(0xFFFF0000),
            size_px,
            monitor_id: 0,
        };
        // The review's label: 1024 characters at 512 px is far over budget.
        assert_eq!(
            l.apply(Side::Operator, &label(1, 1024, 512), now),
            Err(AnnotateError::Full)
        );
        // Everyday labels fit; stacking big ones runs out long before
        // MAX_ITEMS full-screen blends.
        l.apply(Side::Operator, &label(2, 20, 24), now).unwrap();
        let big = label_ink(&"W".repeat(1024), 64);
        let fit = ((MAX_INK - label_ink(&"W".repeat(20), 24)) / big) as u64;
        for id in 0..fit {
            l.apply(Side::Operator, &label(10 + id, 1024, 64), now)
                .unwrap();
        }
        assert_eq!(
            l.apply(Side::Operator, &label(9_999, 1024, 64), now),
            Err(AnnotateError::Full)
        );
        assert!(l.items().len() < 10, "{} labels", l.items().len());
        // Undo gives the ink back.
        l.apply(Side::Operator, &AnnotateMessage::Undo, now)
            .unwrap();
        l.apply(Side::Operator, &label(9_999, 1024, 64), now)
            .unwrap();
    }

    #[test]
    fn laser_fades_by_its_deadline() {
        let t0 = Instant::now();
        let mut l = AnnotationLayer::new();
        let laser = AnnotateMessage::Laser {
            position: Point::new(5, 5),
            color: Argb(0xFF00FF00),
            monitor_id: 0,
        };
        l.apply(Side::Operator, &laser, t0).unwrap();
        assert_eq!(l.poll_timeout(t0), Some(t0 + LASER_FADE));
        let half = t0 + LASER_FADE / 2;
        let dot = *l.lasers(half).next().unwrap();
        assert!((dot.opacity(half) - 0.5).abs() < 0.01);
        assert!(l.is_empty(t0 + LASER_FADE));
        l.handle_timeout(t0 + LASER_FADE);
        assert_eq!(l.poll_timeout(t0), None);
    }
}
