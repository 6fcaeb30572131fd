//! Bench program: compositing annotation layers onto a 1920×1080 frame.
//!
//! Prints the time per render for a typical drawing and for the worst cases
//! a peer can build within the layer's limits (ink budget, item count).
//!
//! ```text
//! cargo bench -p rsupport-core --bench annotate_render
//! ```

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // benches: real clock, temporary files

use std::time::{Duration, Instant};

use rsupport_capture::BgraFrame;
use rsupport_core::annotate::{render, Annotator, Argb, Item};
use rsupport_core::Side;
use rsupport_proto::Point;

fn main() {
    let now = Instant::now();

    // Typical: 50 hand-drawn strokes of 200 points with a 4 px pen, 5 labels.
    let mut typical = Annotator::new(Side::Operator);
    for s in 0..50 {
        let id = typical.begin_stroke(
            Argb::new(255, 200, 0, 0),
            4.0,
            Point::new(s * 30, 100),
            0,
            now,
        );
        let points: Vec<Point> = (0..200)
            .map(|i| Point::new(s * 30 + (i % 20) * 3, 100 + i * 4))
            .collect();
        typical.extend_stroke(id, &points, now);
        typical.end_stroke(id, now);
    }
    for i in 0..5 {
        typical.label(
            Point::new(100, 100 + i * 80),
            "Click the Start button, then Settings",
            Argb::new(255, 0, 0, 255),
            28,
            0,
            now,
        );
    }

    // Worst by ink: 100 px semi-transparent strokes across the screen until
    // the layer refuses more.
    let mut wide = Annotator::new(Side::Customer);
    loop {
        let id = wide.begin_stroke(Argb::new(128, 0, 200, 0), 100.0, Point::new(0, 0), 0, now);
        let before = wide.layer().items().len();
        wide.extend_stroke(
            id,
            &[
                Point::new(1919, 1079),
                Point::new(0, 1079),
                Point::new(1919, 0),
            ],
            now,
        );
        let refused = matches!(wide.layer().items().get(before.wrapping_sub(1)), Some(Item::Stroke(s)) if s.points.len() == 1);
        if refused || before > 10_000 {
            break;
        }
    }

    // Worst by count: thin full-screen diagonals until MAX_ITEMS refuses more.
    let mut thin = Annotator::new(Side::Customer);
    for _ in 0..10_000 {
        let id = thin.begin_stroke(Argb::new(255, 0, 0, 0), 1.0, Point::new(0, 0), 0, now);
        thin.extend_stroke(id, &[Point::new(1919, 1079)], now);
    }

    for (name, a) in [
        ("typical (50 strokes, 5 labels)", &typical),
        ("ink budget, 100 px strokes", &wide),
        ("thin diagonals up to MAX_ITEMS", &thin),
    ] {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let mut frame = BgraFrame::filled(1920, 1080, [255; 4]);
            let t = Instant::now();
            render(a.layer(), &mut frame, 0, now);
            best = best.min(t.elapsed());
        }
        println!(
            "{name:<34} {:>5} items  best of 3: {:>9.2} ms",
            a.layer().items().len(),
            best.as_secs_f64() * 1000.0
        );
    }
}
