//! The web console's cost per frame in headless Chromium at 1080p: the
//! customer shares a 1920×1080 Xvfb desktop showing a document; the test
//! types into it (a glyph-sized change per step) and scrolls it (a 20-pixel
//! shift of most of the screen per step). For each workload the page
//! records, with `performance.now()`, how long the WebAssembly console took
//! for each WebSocket message that carried a screen update (decrypt and
//! decode) and how long drawing the changed rectangles took.
//!
//! ```text
//! bash scripts/build-web.sh && cargo bench -p rsupport-web --bench browser_draw
//! WEB_BENCH_STEPS=400 cargo bench -p rsupport-web --bench browser_draw
//! ```
//!
//! Prints numbers (targets from issue 14: decode + draw p50 ≤ 2 ms typing,
//! ≤ 8 ms scrolling) and the WebAssembly module's size; asserts nothing.

#![allow(clippy::unwrap_used)] // bench set-up: fail loudly

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{allow_next, console_dir, x11_platform, Browser, Scene};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, Gcontext, Rectangle, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;

const W: u16 = 1920;
const H: u16 = 1080;

/// A white document window covering the screen with rows of "text".
struct Document {
    conn: RustConnection,
    window: Window,
    ink: Gcontext,
    paper: Gcontext,
    cursor: (i16, i16),
}

impl Document {
    fn open(display: &str) -> Document {
        let (conn, screen_num) = x11rb::connect(Some(display)).unwrap();
        let screen = &conn.setup().roots[screen_num];
        let window = conn.generate_id().unwrap();
        conn.create_window(
            screen.root_depth,
            window,
            screen.root,
            0,
            0,
            W,
            H,
            0,
            WindowClass::INPUT_OUTPUT,
            screen.root_visual,
            &CreateWindowAux::new()
                .background_pixel(0x00FF_FFFF)
                .override_redirect(1),
        )
        .unwrap();
        conn.map_window(window).unwrap();
        let ink = conn.generate_id().unwrap();
        conn.create_gc(ink, window, &CreateGCAux::new().foreground(0x0020_2020))
            .unwrap();
        let paper = conn.generate_id().unwrap();
        conn.create_gc(paper, window, &CreateGCAux::new().foreground(0x00FF_FFFF))
            .unwrap();
        let doc = Document {
            conn,
            window,
            ink,
            paper,
            cursor: (40, 40),
        };
        for row in 0..50 {
            doc.text_row(20 + row * 21, row);
        }
        doc.conn.flush().unwrap();
        doc
    }

    /// A row of glyph-sized marks of varying widths and heights with word
    /// gaps, as a line of text looks to a codec. (Rows of long uniform
    /// blocks defeat the scroll detector; see the session note.)
    fn text_row(&self, y: i16, seed: i16) {
        let mut x = 40i16;
        let mut glyphs = Vec::new();
        let mut state = (seed as u32 + 1).wrapping_mul(2_654_435_761) | 1;
        while x < 1700 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let (w, h) = (3 + (state % 6) as u16, 6 + ((state >> 8) % 7) as u16);
            glyphs.push(Rectangle {
                x,
                y: y + 12 - h as i16,
                width: w,
                height: h,
            });
            let word_gap = if (state >> 16) % 7 == 0 { 6 } else { 0 };
            x += w as i16 + 1 + ((state >> 12) % 3) as i16 + word_gap;
        }
        self.conn
            .poly_fill_rectangle(self.window, self.ink, &glyphs)
            .unwrap();
    }

    /// Types one glyph at the cursor.
    fn type_glyph(&mut self) {
        let (x, y) = self.cursor;
        self.conn
            .poly_fill_rectangle(
                self.window,
                self.paper,
                &[Rectangle {
                    x,
                    y: y - 2,
                    width: 9,
                    height: 16,
                }],
            )
            .unwrap();
        self.conn
            .poly_fill_rectangle(
                self.window,
                self.ink,
                &[Rectangle {
                    x: x + 1,
                    y,
                    width: 7,
                    height: 12,
                }],
            )
            .unwrap();
        self.cursor.0 += 9;
        if self.cursor.0 > 1800 {
            self.cursor = (40, self.cursor.1 + 21);
        }
        self.conn.flush().unwrap();
    }

    /// Scrolls the document up by 20 pixels and fills the new bottom row.
    fn scroll(&mut self, step: i16) {
        let h = i16::try_from(H).unwrap();
        self.conn
            .copy_area(self.window, self.window, self.ink, 0, 20, 0, 0, W, H - 20)
            .unwrap();
        self.conn
            .poly_fill_rectangle(
                self.window,
                self.paper,
                &[Rectangle {
                    x: 0,
                    y: h - 20,
                    width: W,
                    height: 20,
                }],
            )
            .unwrap();
        self.text_row(h - 18, 100 + step);
        self.conn.flush().unwrap();
    }
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn numbers(stats: &Value, key: &str) -> Vec<f64> {
    stats[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

async fn workload(
    browser: &mut Browser,
    label: &str,
    steps: u32,
    pause: Duration,
    mut step: impl FnMut(u32),
) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser.run(json!({"cmd": "reset_stats"})).await;
    for i in 0..steps {
        step(i);
        tokio::time::sleep(pause).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = browser.run(json!({"cmd": "stats"})).await;
    let (decode, draw) = (numbers(&stats, "decodeMs"), numbers(&stats, "drawMs"));
    let (d50, r50) = (percentile(&decode, 0.5), percentile(&draw, 0.5));
    println!(
        "{label:13} {steps} steps: {} updates decoded, {} draws ({} by moving pixels on the canvas) | decode p50 {d50:.2} ms p95 {:.2} ms | draw p50 {r50:.2} ms p95 {:.2} ms | decode+draw p50 {:.2} ms",
        decode.len(),
        draw.len(),
        stats["copied"],
        percentile(&decode, 0.95),
        percentile(&draw, 0.95),
        d50 + r50,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let steps: u32 = std::env::var("WEB_BENCH_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let wasm = std::fs::read(console_dir().join("pkg/rsupport_web_bg.wasm")).unwrap();
    let gz = std::process::Command::new("gzip")
        .args(["-9c", "target/web/console/pkg/rsupport_web_bg.wasm"])
        .current_dir(support::workspace())
        .output()
        .unwrap()
        .stdout
        .len();
    println!(
        "browser_draw: wasm {} bytes, {gz} gzipped (gzip -9)",
        wasm.len()
    );

    let xvfb = rsupport_testkit::Xvfb::start_with_size(u32::from(W), u32::from(H));
    let display = xvfb.display();
    let mut doc = Document::open(&display);
    let Scene {
        mut browser,
        mut cu,
        ..
    } = Scene::start(x11_platform(&display)).await;
    browser.run(json!({"cmd": "scale", "value": "1"})).await;
    browser.run(json!({"cmd": "request", "mode": "view"})).await;
    allow_next(&mut cu).await;
    browser.run(json!({"cmd": "wait_drawn", "count": 1})).await;

    workload(
        &mut browser,
        "typing",
        steps,
        Duration::from_millis(40),
        |_| doc.type_glyph(),
    )
    .await;
    workload(
        &mut browser,
        "scrolling",
        steps,
        Duration::from_millis(60),
        |i| doc.scroll(i16::try_from(i % 1000).unwrap()),
    )
    .await;
    // Baseline in the same run: the same kind of scrolls, redrawn from the
    // framebuffer instead of moved on the canvas.
    browser
        .run(json!({"cmd": "move_on_canvas", "on": false}))
        .await;
    workload(
        &mut browser,
        "scroll/redraw",
        steps,
        Duration::from_millis(60),
        |i| doc.scroll(i16::try_from(500 + i % 500).unwrap()),
    )
    .await;
    browser.quit().await;
}
