//! The drawing tool end to end: one party draws, messages go to the other,
//! both layers are rendered onto real BGRA frames and the pixels checked.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests: real clock, temporary files

use std::time::{Duration, Instant};

use rsupport_capture::BgraFrame;
use rsupport_core::annotate::{measure_text, render, render_scaled, Annotator, Argb, LASER_FADE};
use rsupport_core::Side;
use rsupport_proto::Point;

const WHITE: [u8; 4] = [255, 255, 255, 255];
const RED: Argb = Argb::new(255, 255, 0, 0);
const RED_BGRA: [u8; 4] = [0, 0, 255, 255];
const BLUE: Argb = Argb::new(255, 0, 0, 255);
const BLUE_BGRA: [u8; 4] = [255, 0, 0, 255];

fn pair() -> (Annotator, Annotator) {
    (
        Annotator::new(Side::Operator),
        Annotator::new(Side::Customer),
    )
}

/// Delivers everything `from` queued to `to`.
fn deliver(from: &mut Annotator, to: &mut Annotator, now: Instant) {
    while let Some(m) = from.poll_transmit() {
        to.handle(&m, now).unwrap();
    }
}

fn frame() -> BgraFrame {
    BgraFrame::filled(200, 120, WHITE)
}

fn draw(a: &Annotator, now: Instant) -> BgraFrame {
    let mut f = frame();
    render(a.layer(), &mut f, 0, now);
    f
}

fn line(
    a: &mut Annotator,
    color: Argb,
    width: f32,
    from: (i32, i32),
    to: (i32, i32),
    now: Instant,
) {
    let id = a.begin_stroke(color, width, Point::new(from.0, from.1), 0, now);
    a.extend_stroke(id, &[Point::new(to.0, to.1)], now);
    a.end_stroke(id, now);
}

fn changed_pixels(f: &BgraFrame) -> usize {
    f.pixels().chunks_exact(4).filter(|p| *p != WHITE).count()
}

#[test]
fn stroke_colours_its_pixels_and_nothing_else() {
    let now = Instant::now();
    let (mut op, mut cu) = pair();
    line(&mut op, RED, 10.0, (20, 50), (120, 50), now);
    deliver(&mut op, &mut cu, now);
    let f = draw(&cu, now);
    // On the line and within half the width: solid red.
    for (x, y) in [(20, 50), (70, 50), (120, 50), (70, 46), (70, 54)] {
        assert_eq!(f.pixel(x, y), Some(RED_BGRA), "({x},{y})");
    }
    // Round caps: just past the ends still red, well past untouched.
    assert_eq!(f.pixel(16, 50), Some(RED_BGRA));
    assert_eq!(f.pixel(12, 50), Some(WHITE));
    // Away from it: untouched.
    for (x, y) in [(70, 57), (70, 43), (150, 50), (0, 0), (199, 119)] {
        assert_eq!(f.pixel(x, y), Some(WHITE), "({x},{y})");
    }
    // Anti-aliased edge: a diagonal has in-between pixels.
    let mut diag = Annotator::new(Side::Operator);
    line(&mut diag, RED, 3.0, (10, 10), (100, 73), now);
    let f = draw(&diag, now);
    let partial = f
        .pixels()
        .chunks_exact(4)
        .filter(|p| p[2] == 255 && p[0] > 0 && p[0] < 255)
        .count();
    assert!(partial > 50, "only {partial} anti-aliased pixels");
    // Both parties see the same picture.
    assert_eq!(draw(&op, now), draw(&cu, now));
}

#[test]
fn semi_transparent_stroke_is_even_at_joints() {
    let now = Instant::now();
    let mut a = Annotator::new(Side::Operator);
    let id = a.begin_stroke(Argb::new(128, 0, 0, 255), 8.0, Point::new(20, 60), 0, now);
    a.extend_stroke(
        id,
        &[
            Point::new(60, 60),
            Point::new(100, 60),
            Point::new(100, 100),
        ],
        now,
    );
    a.end_stroke(id, now);
    let f = draw(&a, now);
    let mid = f.pixel(40, 60).unwrap();
    assert_ne!(mid, WHITE);
    assert_eq!(
        f.pixel(60, 60),
        Some(mid),
        "joint between collinear segments"
    );
    assert_eq!(f.pixel(100, 60), Some(mid), "corner");
}

#[test]
fn undo_removes_own_last_item_and_clear_removes_all() {
    let now = Instant::now();
    let (mut op, mut cu) = pair();
    line(&mut op, RED, 6.0, (10, 20), (190, 20), now);
    line(&mut cu, BLUE, 6.0, (10, 80), (190, 80), now);
    deliver(&mut op, &mut cu, now);
    deliver(&mut cu, &mut op, now);
    let both = draw(&op, now);
    assert_eq!(both.pixel(100, 20), Some(RED_BGRA));
    assert_eq!(both.pixel(100, 80), Some(BLUE_BGRA));

    // The customer's undo removes the customer's stroke only, on both sides.
    cu.undo(now);
    deliver(&mut cu, &mut op, now);
    for side in [&op, &cu] {
        let f = draw(side, now);
        assert_eq!(f.pixel(100, 20), Some(RED_BGRA));
        assert_eq!(f.pixel(100, 80), Some(WHITE));
    }
    // A second undo by the customer has nothing of theirs left to remove.
    cu.undo(now);
    deliver(&mut cu, &mut op, now);
    assert_eq!(draw(&op, now).pixel(100, 20), Some(RED_BGRA));

    cu.label(Point::new(5, 40), "Click here", BLUE, 16, 0, now)
        .unwrap();
    deliver(&mut cu, &mut op, now);
    assert!(changed_pixels(&draw(&op, now)) > changed_pixels(&both) / 2);
    // Clear removes everything, whoever drew it.
    op.clear(now);
    deliver(&mut op, &mut cu, now);
    assert_eq!(draw(&op, now), frame());
    assert_eq!(draw(&cu, now), frame());
}

#[test]
fn laser_fades_and_is_gone_after_its_deadline() {
    let t0 = Instant::now();
    let (mut op, mut cu) = pair();
    op.laser(Point::new(100, 60), RED, 0, t0);
    deliver(&mut op, &mut cu, t0);
    let fresh = draw(&cu, t0);
    assert_eq!(fresh.pixel(100, 60), Some(RED_BGRA));
    assert_eq!(fresh.pixel(100, 75), Some(WHITE));

    let half = draw(&cu, t0 + LASER_FADE / 2).pixel(100, 60).unwrap();
    // Half-faded red over white: red stays, green and blue are about half.
    assert_eq!(half[2], 255);
    assert!((120..=135).contains(&half[1]), "{half:?}");

    assert_eq!(cu.poll_timeout(t0), Some(t0 + LASER_FADE));
    assert_eq!(draw(&cu, t0 + LASER_FADE), frame());
    cu.handle_timeout(t0 + LASER_FADE + Duration::from_millis(1));
    assert_eq!(cu.poll_timeout(t0 + LASER_FADE), None);
}

#[test]
fn scaled_view_places_strokes_at_scaled_positions() {
    let now = Instant::now();
    let mut a = Annotator::new(Side::Operator);
    // Monitor 400×240 shown at half size (200×120).
    line(&mut a, RED, 20.0, (100, 100), (300, 100), now);
    let mut f = frame();
    render_scaled(a.layer(), &mut f, 0, 0.5, now);
    assert_eq!(f.pixel(100, 50), Some(RED_BGRA)); // (200, 100) / 2
    assert_eq!(f.pixel(55, 50), Some(RED_BGRA)); // near the start at 50
    assert_eq!(f.pixel(100, 54), Some(RED_BGRA)); // width 20 → 10: ±5
    assert_eq!(f.pixel(100, 57), Some(WHITE));
    assert_eq!(f.pixel(100, 100), Some(WHITE)); // where unscaled would be
    assert_eq!(f.pixel(160, 50), Some(WHITE)); // past the end at 150

    // Double size: the same stroke lands at twice the coordinates.
    let mut big = BgraFrame::filled(800, 480, WHITE);
    render_scaled(a.layer(), &mut big, 0, 2.0, now);
    assert_eq!(big.pixel(400, 201), Some(RED_BGRA));
    assert_eq!(big.pixel(400, 219), Some(RED_BGRA)); // ±20
    assert_eq!(big.pixel(400, 225), Some(WHITE));
}

#[test]
fn labels_render_text_inside_their_box() {
    let now = Instant::now();
    let mut a = Annotator::new(Side::Customer);
    a.label(Point::new(20, 30), "Hello, 世界 W", BLUE, 24, 0, now)
        .unwrap();
    let f = draw(&a, now);
    let (w, h) = measure_text("Hello, 世界 W", 24.0);
    assert!(w > 60.0 && h >= 24.0, "{w}×{h}");
    let mut inside = 0;
    for y in 0..f.height() {
        for x in 0..f.width() {
            let p = f.pixel(x, y).unwrap();
            if p != WHITE {
                // Text is blue-ish: red and green are reduced equally, blue kept.
                assert_eq!(p[0], 255, "({x},{y}) {p:?}");
                let in_box = (19..=20 + w.ceil() as u32 + 1).contains(&x)
                    && (29..=30 + h.ceil() as u32).contains(&y);
                assert!(in_box, "ink outside the label box at ({x},{y})");
                inside += 1;
            }
        }
    }
    assert!(inside > 100, "only {inside} text pixels");
    assert!(
        f.pixels().chunks_exact(4).any(|p| p == BLUE_BGRA),
        "solid glyph interiors"
    );

    // Scaled: half size text covers roughly a quarter of the pixels.
    let mut half = frame();
    render_scaled(a.layer(), &mut half, 0, 0.5, now);
    let n = changed_pixels(&half);
    assert!(n > inside / 8 && n < inside / 2, "{n} vs {inside}");
}

#[test]
fn other_monitors_items_are_not_drawn() {
    let now = Instant::now();
    let mut a = Annotator::new(Side::Operator);
    let id = a.begin_stroke(RED, 5.0, Point::new(10, 10), 1, now);
    a.extend_stroke(id, &[Point::new(100, 10)], now);
    let mut f = frame();
    render(a.layer(), &mut f, 0, now);
    assert_eq!(f, frame());
    render(a.layer(), &mut f, 1, now);
    assert_eq!(f.pixel(50, 10), Some(RED_BGRA));
}

#[test]
fn strokes_off_the_frame_and_huge_coordinates_are_safe() {
    let now = Instant::now();
    let mut a = Annotator::new(Side::Operator);
    line(&mut a, RED, 100.0, (-5000, -5000), (-4000, -4000), now);
    line(&mut a, RED, 100.0, (i32::MAX, i32::MAX), (i32::MIN, 0), now);
    line(&mut a, RED, 4.0, (190, 60), (10_000, 60), now);
    let f = draw(&a, now);
    assert_eq!(f.pixel(199, 60), Some(RED_BGRA));
}

mod robustness {
    use super::*;
    use proptest::prelude::*;
    use rsupport_core::annotate::AnnotateMessage;

    fn point() -> impl Strategy<Value = Point> {
        prop_oneof![
            (-50i32..250, -50i32..170).prop_map(|(x, y)| Point::new(x, y)),
            (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Point::new(x, y)),
        ]
    }

    fn message() -> impl Strategy<Value = AnnotateMessage> {
        prop_oneof![
            (0u64..4, any::<u32>(), 1u32..=10_000, point(), 0u32..2).prop_map(
                |(stroke_id, c, width_centipx, start, monitor_id)| {
                    AnnotateMessage::StrokeBegin {
                        stroke_id,
                        color: Argb(c),
                        width_centipx,
                        start,
                        monitor_id,
                    }
                }
            ),
            (0u64..4, proptest::collection::vec(point(), 0..20)).prop_map(|(stroke_id, points)| {
                AnnotateMessage::StrokePoints { stroke_id, points }
            }),
            (0u64..4).prop_map(|stroke_id| AnnotateMessage::StrokeEnd { stroke_id }),
            (point(), any::<u32>()).prop_map(|(position, c)| AnnotateMessage::Laser {
                position,
                color: Argb(c),
                monitor_id: 0
            }),
            (0u64..4, point(), ".{0,12}", any::<u32>(), 1u32..=512).prop_map(
                |(label_id, position, text, c, size_px)| {
                    AnnotateMessage::TextLabel {
                        label_id,
                        position,
                        text,
                        color: Argb(c),
                        size_px,
                        monitor_id: 0,
                    }
                }
            ),
            Just(AnnotateMessage::Undo),
            Just(AnnotateMessage::Clear),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any message sequence from the peer, rendered at any scale, never
        /// panics and never changes the frame's size.
        #[test]
        fn any_drawing_renders_without_panicking(
            msgs in proptest::collection::vec(message(), 0..16),
            scale in prop_oneof![Just(1.0f32), 0.01f32..8.0, Just(f32::NAN), Just(0.0), Just(1e30)],
        ) {
            let now = Instant::now();
            let mut a = Annotator::new(Side::Operator);
            for m in &msgs {
                let _ = a.handle(m, now);
            }
            let mut f = BgraFrame::filled(64, 48, WHITE);
            render_scaled(a.layer(), &mut f, 0, scale, now);
            prop_assert_eq!(f.pixels().len(), 64 * 48 * 4);
        }
    }
}
