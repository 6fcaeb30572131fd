//! Bench program: does a large file starve the screen and the input?
//!
//! One live session through a real relay over TLS on loopback, in control
//! mode at 1920×1080, with the customer's screen playing a synthetic
//! sequence. Measured in the same run, idle and while a large file (default
//! 1 GiB, sparse source) moves operator → customer:
//! - screen: capture timestamp → frame applied at the operator (as
//!   `session_latency`), p50/p99 in ms, and frames per second;
//! - input: operator `send_input` (a pointer move every 20 ms) → the
//!   customer's injector performs it, p50/p99 in ms.
//!
//! Input travels the same way as the file (operator → relay → customer);
//! frames travel against it and share the customer's connection task with
//! the receiving side of the file.
//!
//! ```text
//! cargo bench -p rsupport-client --bench files_responsiveness
//! RSUPPORT_BENCH_BYTES=268435456 RSUPPORT_BENCH_SECS=5 \
//!   RSUPPORT_BENCH_SCENARIO=typing RSUPPORT_BENCH_DEST=/dev/shm \
//!   cargo bench -p rsupport-client --bench files_responsiveness
//! ```

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed bench

use rsupport_testkit::relay as support;
mod transfer_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rsupport_capture::codec::synthetic::{Scenario, Sequence};
use rsupport_client::{HostPlatform, SessionHandle};
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::SessionEvent;
use rsupport_input::DesktopPoint;
use rsupport_proto::input::InputMessage;
use rsupport_proto::Point;
use tokio::sync::mpsc;
use transfer_common::{
    bench_bytes, control_session, finished, now_ms, percentile, sparse_file, Screen, TimedInjector,
    H, MIB, W,
};

/// A mouse that moves at 50 Hz.
const INPUT_EVERY: Duration = Duration::from_millis(20);
/// After a phase, how long inputs still in flight may take to arrive.
const GRACE: Duration = Duration::from_secs(5);

/// What one phase measured.
#[derive(Default)]
struct Phase {
    /// Capture → applied, ms, sorted.
    frames: Vec<u64>,
    /// send_input → injected, µs, sorted.
    inputs: Vec<u64>,
    /// Inputs sent that never arrived (within the grace time).
    lost_inputs: usize,
    elapsed: Duration,
}

impl Phase {
    fn fps(&self) -> f64 {
        self.frames.len() as f64 / self.elapsed.as_secs_f64()
    }
    fn frame_ms(&self, p: f64) -> f64 {
        percentile(&self.frames, p) as f64
    }
    fn input_ms(&self, p: f64) -> f64 {
        percentile(&self.inputs, p) as f64 / 1000.0
    }
}

/// When a phase ends.
enum Until {
    Elapsed(Duration),
    /// The customer reported the transfer finished.
    Transfer(mpsc::UnboundedReceiver<Instant>),
}

/// Pointer positions are unique per input so each injection finds its send.
fn position(seq: u32) -> Point {
    Point::new(
        (seq % (W - 20)) as i32 + 10,
        ((seq / (W - 20)) % (H - 20)) as i32 + 10,
    )
}

struct Probe {
    op: SessionHandle,
    injected: mpsc::UnboundedReceiver<(DesktopPoint, Instant)>,
    seq: u32,
}

impl Probe {
    /// Reads frames and sends input until `until`; then waits up to
    /// [`GRACE`] for the inputs still in flight.
    async fn phase(&mut self, mut until: Until) -> Phase {
        let mut phase = Phase::default();
        let mut sent: HashMap<(i32, i32), Instant> = HashMap::new();
        let mut tick = tokio::time::interval(INPUT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let start = Instant::now();
        let deadline = match &until {
            Until::Elapsed(d) => start + *d,
            Until::Transfer(_) => start + Duration::from_secs(24 * 3600),
        };
        loop {
            tokio::select! {
                event = self.op.next_event() => {
                    if let Some(SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated {
                        captured_at_ms, ..
                    })) = event {
                        phase.frames.push(now_ms().saturating_sub(captured_at_ms));
                    }
                }
                _ = tick.tick() => {
                    self.seq += 1;
                    let p = position(self.seq);
                    sent.insert((p.x, p.y), Instant::now());
                    self.op.send_input(InputMessage::PointerMove { position: p }).await.unwrap();
                }
                Some((p, at)) = self.injected.recv() => {
                    if let Some(t0) = sent.remove(&(p.x, p.y)) {
                        phase.inputs.push(at.duration_since(t0).as_micros() as u64);
                    }
                }
                () = tokio::time::sleep_until(deadline.into()) => break,
                Some(_) = async {
                    match &mut until {
                        Until::Transfer(done) => done.recv().await,
                        Until::Elapsed(_) => std::future::pending().await,
                    }
                } => break,
            }
        }
        phase.elapsed = start.elapsed();
        let grace_end = Instant::now() + GRACE;
        while !sent.is_empty() {
            let Ok(Some((p, at))) =
                tokio::time::timeout_at(grace_end.into(), self.injected.recv()).await
            else {
                break;
            };
            if let Some(t0) = sent.remove(&(p.x, p.y)) {
                phase.inputs.push(at.duration_since(t0).as_micros() as u64);
            }
        }
        phase.lost_inputs = sent.len();
        phase.frames.sort_unstable();
        phase.inputs.sort_unstable();
        phase
    }
}

async fn run(scenario: Scenario, size: u64, idle: Duration, source: &Path, dest: &Path) {
    let (inject_tx, injected) = mpsc::unbounded_channel();
    let platform = HostPlatform::new(
        Box::new(Screen::playing(Sequence::new(scenario, W, H, 42))),
        Box::new(TimedInjector(inject_tx)),
        None,
    );
    let (_operator, mut op, mut cu) = control_session(platform, dest).await;
    // Warm up: the first key frame and a few updates.
    for _ in 0..5 {
        support::wait_for(&mut op, |e| match e {
            SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => Some(()),
            _ => None,
        })
        .await;
    }
    // The customer's events are read all along; its "finished" ends the load.
    let (done_tx, done) = mpsc::unbounded_channel();
    let customer = tokio::spawn(async move {
        while let Some(event) = cu.next_event().await {
            if finished(&event).is_some() {
                let _ = done_tx.send(Instant::now());
            }
        }
    });
    let mut probe = Probe {
        op,
        injected,
        seq: 0,
    };
    let before = probe.phase(Until::Elapsed(idle)).await;
    assert!(!before.inputs.is_empty(), "no input reached the injector");
    let start = Instant::now();
    probe.op.send_files(source).await.unwrap();
    let loaded = probe.phase(Until::Transfer(done)).await;
    let transfer = start.elapsed();
    let after = probe.phase(Until::Elapsed(idle)).await;
    customer.abort();
    // Checked and removed only now: unlinking 1 GiB blocks a runtime
    // thread and would show up as latency in the idle phase after.
    let received = dest.join("big.bin");
    assert_eq!(std::fs::metadata(&received).unwrap().len(), size);
    std::fs::remove_file(received).unwrap();

    println!(
        "scenario {} at {W}x{H}, file {:.0} MiB → {}, input every {} ms",
        scenario.name(),
        size as f64 / MIB,
        dest.display(),
        INPUT_EVERY.as_millis()
    );
    println!(
        "file transfer during the loaded phase: {:.1} MiB/s ({:.2} s)",
        size as f64 / MIB / transfer.as_secs_f64(),
        transfer.as_secs_f64()
    );
    println!(
        "{:<14} {:>7} {:>6} {:>10} {:>10} {:>7} {:>10} {:>10} {:>5}",
        "phase",
        "secs",
        "fps",
        "frame p50",
        "frame p99",
        "inputs",
        "input p50",
        "input p99",
        "lost"
    );
    for (name, p) in [
        ("idle", &before),
        ("file moving", &loaded),
        ("idle after", &after),
    ] {
        println!(
            "{:<14} {:>7.1} {:>6.1} {:>7.0} ms {:>7.0} ms {:>7} {:>7.2} ms {:>7.2} ms {:>5}",
            name,
            p.elapsed.as_secs_f64(),
            p.fps(),
            p.frame_ms(0.5),
            p.frame_ms(0.99),
            p.inputs.len(),
            p.input_ms(0.5),
            p.input_ms(0.99),
            p.lost_inputs,
        );
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    println!(
        "{:<14} {:>7} {:>6.2} {:>10.2} {:>10.2} {:>7} {:>10.2} {:>10.2}",
        "loaded/idle",
        "",
        ratio(loaded.fps(), before.fps()),
        ratio(loaded.frame_ms(0.5), before.frame_ms(0.5)),
        ratio(loaded.frame_ms(0.99), before.frame_ms(0.99)),
        "",
        ratio(loaded.input_ms(0.5), before.input_ms(0.5)),
        ratio(loaded.input_ms(0.99), before.input_ms(0.99)),
    );
}

fn main() {
    // `cargo test --benches` runs this binary too: keep that run short.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    let env = |name: &str| std::env::var(name).ok();
    let size = if quick { 4 << 20 } else { bench_bytes() };
    let secs: u64 = match quick {
        true => 1,
        false => env("RSUPPORT_BENCH_SECS")
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    };
    let scenario = env("RSUPPORT_BENCH_SCENARIO")
        .and_then(|s| Scenario::from_name(&s))
        .unwrap_or(Scenario::Typing);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let source = sparse_file(work.path(), size);
    let dest_root: PathBuf =
        env("RSUPPORT_BENCH_DEST").map_or_else(std::env::temp_dir, PathBuf::from);
    let dest = tempfile::tempdir_in(dest_root).unwrap();
    runtime.block_on(run(
        scenario,
        size,
        Duration::from_secs(secs),
        &source,
        dest.path(),
    ));
}
