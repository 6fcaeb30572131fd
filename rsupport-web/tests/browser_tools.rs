//! The web console's tools in a real browser against a customer sharing a
//! private Xvfb display: the customer's pause shows, a pen stroke drawn on the canvas reaches the
//! customer's drawing layer where it was drawn (and the operator's overlay
//! shows it), undo takes it back, a label's text shows on both sides, a screenshot saved by the browser equals
//! the X server's picture, and a colour-depth change reaches the customer's
//! side (the canvas then holds only that many colours).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::time::Duration;

use rsupport_core::annotate::Item;
use rsupport_testkit::relay::WAIT;
use rsupport_testkit::x11::server_picture;
use serde_json::json;
use support::{allow_next, bgra_to_rgba, x11_platform, x_desktop, Scene};

const W: u16 = 800;
const H: u16 = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drawings_screenshots_and_display_settings_work_from_the_browser() {
    let (xvfb, conn, screen_num) = x_desktop(W, H);
    let display = xvfb.display();
    let scratch = tempfile::tempdir().unwrap();
    let Scene {
        mut browser,
        mut cu,
        ..
    } = Scene::start(x11_platform(&display)).await;
    browser.run(json!({"cmd": "scale", "value": "1"})).await;
    browser
        .run(json!({"cmd": "request", "mode": "control"}))
        .await;
    allow_next(&mut cu).await;
    browser.run(json!({"cmd": "wait_drawn", "count": 1})).await;

    // The customer pauses: the console says so; resuming brings control back.
    cu.set_paused(true).await.unwrap();
    browser
        .run(json!({"cmd": "wait_text", "testid": "state", "text": "paused by the customer"}))
        .await;
    cu.set_paused(false).await.unwrap();
    browser
        .run(json!({"cmd": "wait_text", "testid": "state", "text": "controlling"}))
        .await;

    // A pen stroke lands on the customer's layer where it was drawn.
    browser.run(json!({"cmd": "tool", "name": "pen"})).await;
    browser
        .run(json!({"cmd": "drag", "from": [100, 450], "to": [300, 450]}))
        .await;
    let stroke = tokio::time::timeout(WAIT, async {
        loop {
            let layer = cu.annotation_layer().await.unwrap();
            if let Some(Item::Stroke(s)) = layer.items().first() {
                if s.finished {
                    return s.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the stroke reaches the customer's side");
    let (first, last) = (stroke.points[0], *stroke.points.last().unwrap());
    assert!(
        (first.x - 100).abs() <= 1 && (first.y - 450).abs() <= 1,
        "{first:?}"
    );
    assert!(
        (last.x - 300).abs() <= 1 && (last.y - 450).abs() <= 1,
        "{last:?}"
    );
    let ink = browser
        .run(json!({"cmd": "overlay_pixel", "x": 200, "y": 450}))
        .await;
    assert_eq!(
        ink["rgba"],
        json!([230, 30, 30, 255]),
        "the operator sees the stroke"
    );
    browser.screenshot("operator-drawing").await;
    browser
        .run(json!({"cmd": "button", "testid": "undo"}))
        .await;
    let undone = tokio::time::timeout(WAIT, async {
        while !cu.annotation_layer().await.unwrap().items().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        undone.is_ok(),
        "undo takes the stroke back on the customer's side"
    );

    // A label: its text reaches the customer's layer, and the operator's
    // overlay draws it with the font the page loaded beside the module.
    browser
        .run(json!({"cmd": "label", "x": 120, "y": 480, "text": "Click here"}))
        .await;
    let label = tokio::time::timeout(WAIT, async {
        loop {
            let layer = cu.annotation_layer().await.unwrap();
            if let Some(Item::Label(l)) = layer.items().first() {
                return l.text.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the label reaches the customer's side");
    assert_eq!(label, "Click here");
    let ink = tokio::time::timeout(WAIT, async {
        loop {
            let answer = browser
                .run(json!({"cmd": "overlay_ink", "x": 120, "y": 480, "w": 160, "h": 40}))
                .await;
            if answer["inked"].as_u64().unwrap() > 50 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(ink.is_ok(), "the operator sees the label's text");
    browser.screenshot("operator-label").await;
    browser
        .run(json!({"cmd": "button", "testid": "clear"}))
        .await;
    browser.run(json!({"cmd": "tool", "name": "control"})).await;

    // A screenshot saved by the browser is the X server's picture.
    let png_path = scratch.path().join("shot.png");
    let saved = browser
        .run(json!({"cmd": "click_download", "testid": "screenshot", "path": png_path}))
        .await;
    assert!(saved["name"].as_str().unwrap().ends_with(".png"), "{saved}");
    let shot = image::open(&png_path).unwrap().to_rgba8();
    assert_eq!(shot.dimensions(), (u32::from(W), u32::from(H)));
    let expected = bgra_to_rgba(&server_picture(&conn, screen_num, W, H));
    assert!(
        shot.as_raw() == &expected,
        "the screenshot equals the X server's picture"
    );

    // Four colours asked for: the customer's side quantises before sending.
    browser.run(json!({"cmd": "display", "depth": "4"})).await;
    let few = tokio::time::timeout(WAIT, async {
        loop {
            let colors = browser.run(json!({"cmd": "count_colors"})).await["colors"]
                .as_u64()
                .unwrap();
            if colors <= 4 {
                return colors;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        few.is_ok(),
        "the canvas holds at most 4 colours after the change"
    );
    browser.screenshot("operator-four-colours").await;
    browser.quit().await;
}
