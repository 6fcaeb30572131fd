//! End-to-end screen latency and frame rate of a live session at 1920×1080:
//! a relay over TLS on loopback, an operator and a customer through the
//! vendor API, and a customer screen that changes on every capture
//! (synthetic typing, scrolling, window drag and video sequences).
//!
//! Latency = from the customer's capture timestamp to the operator's
//! "frame applied" event (same machine clock, ms resolution).
//!
//! `cargo bench -p rsupport-client --bench session_latency`
//! (`RSUPPORT_BENCH_SECS` sets seconds per sequence, default 5.)

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rsupport_testkit::relay as support;
mod transfer_common;

use std::time::{Duration, Instant};

use rsupport_capture::codec::synthetic::{Scenario, Sequence};
use rsupport_client::HostPlatform;
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::SessionEvent;
use rsupport_input::inject::RecordingInjector;
use rsupport_proto::ConnectionMode;
use transfer_common::{now_ms, percentile, sixty_fps, Screen, H, W};

async fn run(scenario: Scenario, seconds: u64) {
    let target = support::start_relay(None).await;
    let platform = HostPlatform::new(
        Box::new(Screen::playing(Sequence::new(scenario, W, H, 42))),
        Box::new(RecordingInjector::new()),
        None,
    );
    let (_operator, mut op, mut cu) = support::paired(&target, platform).await;
    support::grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
    op.set_display_settings(sixty_fps(scenario == Scenario::Video))
        .unwrap();
    // Warm up: the first key frame and a few updates.
    for _ in 0..5 {
        support::wait_for(&mut op, |e| match e {
            SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => Some(()),
            _ => None,
        })
        .await;
    }
    let mut latencies = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        let captured = support::wait_for(&mut op, |e| match e {
            SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated {
                captured_at_ms, ..
            }) => Some(*captured_at_ms),
            _ => None,
        })
        .await;
        latencies.push(now_ms().saturating_sub(captured));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = cu.stats().await.unwrap();
    latencies.sort_unstable();
    println!(
        "{{\"sequence\":\"{}\",\"size\":\"{W}x{H}\",\"frames\":{},\"fps\":{:.1},\"latency_ms_p50\":{},\"latency_ms_p99\":{},\"frames_sent_by_host\":{}}}",
        scenario.name(),
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        stats.frames_sent,
    );
}

fn main() {
    // `cargo test --benches` runs this binary too; keep that run short.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    let seconds = if quick {
        1
    } else {
        std::env::var("RSUPPORT_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for &scenario in Scenario::ALL {
        runtime.block_on(run(scenario, seconds));
        if quick {
            break;
        }
    }
}
