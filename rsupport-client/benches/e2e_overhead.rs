//! Bench program: what end-to-end encryption costs, measured against the
//! same sessions without it (programs speaking protocol 1 through a relay
//! that allows plaintext sessions) in the same run.
//!
//! - key exchange: CPU of both sides' CPace exchange and key confirmation
//!   (two sessions back to back, no relay; keyed minus plaintext), and the
//!   wall time from pairing to "encrypted" through a real relay on loopback;
//! - typing at 1920×1080: a key press from the operator's `send_input` to
//!   the customer's injector, µs, while the customer's screen plays the
//!   typing sequence at up to 60 frames per second;
//! - a large file (default 1 GiB, `RSUPPORT_BENCH_BYTES`) operator →
//!   customer through the relay into /dev/shm (the disk kept out of it),
//!   alternating encrypted and plaintext runs (which goes first alternates too).
//!
//! ```text
//! cargo bench -p rsupport-client --bench e2e_overhead
//! RSUPPORT_BENCH_BYTES=268435456 RSUPPORT_BENCH_RUNS=1 cargo bench -p rsupport-client --bench e2e_overhead
//! ```

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed bench

use rsupport_testkit::relay as support;
mod transfer_common;

use std::path::Path;
use std::time::{Duration, Instant};

use rsupport_capture::codec::synthetic::{Scenario, Sequence};
use rsupport_client::{Customer, Encryption, HostPlatform, Operator, RelayTarget, SessionHandle};
use rsupport_core::e2e::{KeyExchange, Protection};
use rsupport_core::session::SessionEvent;
use rsupport_input::inject::{InjectError, Injector, RecordingInjector};
use rsupport_input::InputEvent;
use rsupport_proto::input::{InputMessage, KeyInput};
use rsupport_proto::ConnectionMode;
use rsupport_testkit::pair::{code_exchange, SessionPair};
use tokio::sync::mpsc;
use transfer_common::{
    bench_bytes, percentile, sixty_fps, sparse_file, timed_transfer, Screen, MIB,
};

/// Encrypted (the default) or plaintext (protocol-1 programs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Encrypted,
    Plaintext,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Encrypted => "end-to-end encrypted",
            Mode::Plaintext => "plaintext (protocol 1)",
        }
    }
}

/// A relay allowing plaintext sessions, and an operator and a customer
/// paired through it in `mode`, control granted.
async fn session(mode: Mode, platform: HostPlatform) -> (Operator, SessionHandle, SessionHandle) {
    let target = support::start_relay_with(None, true, |c| {
        c.settings.allow_plaintext_sessions = true;
    })
    .await;
    let target: RelayTarget = match mode {
        Mode::Encrypted => target,
        Mode::Plaintext => target.with_encryption(Encryption::default().speak_protocol_1_only()),
    };
    let (operator, mut op, mut cu) = support::paired(&target, platform).await;
    let protection = support::wait_for(&mut op, |e| match e {
        SessionEvent::Protection(p) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        matches!(protection, Protection::Encrypted { .. }),
        mode == Mode::Encrypted
    );
    support::grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    (operator, op, cu)
}

/// CPU of one key exchange, both sides: keyed pairs minus plaintext pairs.
fn exchange_cpu(rounds: u32) -> Duration {
    let time = |key: fn() -> KeyExchange| {
        let start = Instant::now();
        for _ in 0..rounds {
            let pair = SessionPair::keyed(ConnectionMode::ALL, key(), key());
            assert!(!pair.customer.is_ended());
        }
        start.elapsed() / rounds
    };
    let plain = time(|| KeyExchange::Plaintext);
    let keyed = time(code_exchange);
    keyed.saturating_sub(plain)
}

/// From the customer's `join` to its session's protection being settled
/// (encrypted: the key exchange done; plaintext: at once), µs sorted.
async fn join_to_protected(mode: Mode, rounds: usize) -> Vec<u64> {
    let mut samples = Vec::new();
    for _ in 0..rounds {
        // A relay each: one source may hold only so many connections.
        let target = support::start_relay_with(None, false, |c| {
            c.settings.allow_plaintext_sessions = true;
        })
        .await;
        let target = match mode {
            Mode::Encrypted => target,
            Mode::Plaintext => {
                target.with_encryption(Encryption::default().speak_protocol_1_only())
            }
        };
        let mut operator = Operator::connect(&target, Default::default())
            .await
            .unwrap();
        operator
            .login(support::OPERATOR, support::PASSWORD, None)
            .await
            .unwrap();
        let code = operator.issue_code().await.unwrap().code().to_owned();
        let customer = Customer::connect(&target, HostPlatform::synthetic())
            .await
            .unwrap();
        let start = Instant::now();
        let mut cu = customer.join(&code, Default::default()).await.unwrap();
        support::wait_for(&mut cu, |e| match e {
            SessionEvent::Protection(Protection::Negotiating) => None,
            SessionEvent::Protection(_) => Some(()),
            _ => None,
        })
        .await;
        samples.push(start.elapsed().as_micros() as u64);
    }
    samples.sort_unstable();
    samples
}

/// Stamps key presses the moment the customer's task performs them.
struct KeyTimer(mpsc::UnboundedSender<Instant>);

impl Injector for KeyTimer {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        if let InputEvent::Key { pressed: true, .. } = event {
            let _ = self.0.send(Instant::now());
        }
        Ok(())
    }
    fn name(&self) -> &'static str {
        "bench-key-timer"
    }
}

/// Key press latency, µs sorted, over `keys` presses 30 ms apart.
async fn typing(mode: Mode, keys: usize) -> Vec<u64> {
    let (tx, mut pressed) = mpsc::unbounded_channel();
    let platform = HostPlatform::new(
        Box::new(Screen::playing(Sequence::new(
            Scenario::Typing,
            transfer_common::W,
            transfer_common::H,
            42,
        ))),
        Box::new(KeyTimer(tx)),
        None,
    );
    let (_operator, op, mut cu) = session(mode, platform).await;
    op.set_display_settings(sixty_fps(false)).unwrap();
    let drain = tokio::spawn(async move { while cu.next_event().await.is_some() {} });
    let mut op = op;
    // The operator's events (frames) are read throughout, as a console would.
    let warm_up = Instant::now() + Duration::from_millis(500);
    let mut tick = tokio::time::interval(Duration::from_millis(30));
    let mut samples = Vec::with_capacity(keys);
    let mut in_flight: Option<(Instant, &str)> = None;
    while samples.len() < keys {
        tokio::select! {
            e = op.next_event() => if e.is_none() { break },
            _ = tick.tick(), if in_flight.is_none() && Instant::now() >= warm_up => {
                let code = ["KeyA", "KeyS", "KeyD", "KeyF"][samples.len() % 4];
                let start = Instant::now();
                op.send_input(InputMessage::Key(KeyInput::new(code, None, true)))
                    .await
                    .unwrap();
                in_flight = Some((start, code));
            }
            Some(at) = pressed.recv() => {
                if let Some((start, code)) = in_flight.take() {
                    samples.push(at.duration_since(start).as_micros() as u64);
                    op.send_input(InputMessage::Key(KeyInput::new(code, None, false)))
                        .await
                        .unwrap();
                }
            }
        }
    }
    drain.abort();
    samples.sort_unstable();
    samples
}

/// A file of `size` bytes operator → customer into `dest`, seconds.
async fn transfer(mode: Mode, source: &Path, dest: &Path, size: u64) -> Duration {
    let platform = HostPlatform::new(
        Box::new(Screen::still()),
        Box::new(RecordingInjector::new()),
        None,
    )
    .with_download_dir(dest);
    let (_operator, op, cu) = session(mode, platform).await;
    timed_transfer(op, cu, source, dest, size).await
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test --benches` runs this binary too: keep that run tiny.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    let size = if quick { 4 << 20 } else { bench_bytes() };
    let runs = if quick {
        1
    } else {
        env_or("RSUPPORT_BENCH_RUNS", 4)
    };
    let keys = if quick {
        20
    } else {
        env_or("RSUPPORT_BENCH_KEYS", 300)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let cpu = exchange_cpu(if quick { 5 } else { 200 });
    println!(
        "key exchange, CPU of both sides (CPace + confirmation): {:.3} ms",
        cpu.as_secs_f64() * 1000.0
    );
    let rounds = if quick { 2 } else { 20 };
    let mut join = Vec::new();
    for mode in [Mode::Plaintext, Mode::Encrypted] {
        let samples = runtime.block_on(join_to_protected(mode, rounds));
        let p50 = percentile(&samples, 0.5) as f64 / 1000.0;
        println!(
            "join → session protected, {:<24} p50 {p50:.2} ms, max {:.2} ms ({} joins)",
            mode.name(),
            samples.last().copied().unwrap_or(0) as f64 / 1000.0,
            samples.len()
        );
        join.push(p50);
    }
    println!(
        "key exchange, wall time it adds to a join through the relay: {:+.2} ms (p50)",
        join[1] - join[0]
    );

    let mut p50 = Vec::new();
    for mode in [Mode::Plaintext, Mode::Encrypted] {
        let samples = runtime.block_on(typing(mode, keys));
        println!(
            "typing at 1920x1080, {:<24} key press p50 {:>6.3} ms, p99 {:>6.3} ms ({} keys)",
            mode.name(),
            percentile(&samples, 0.5) as f64 / 1000.0,
            percentile(&samples, 0.99) as f64 / 1000.0,
            samples.len()
        );
        p50.push(percentile(&samples, 0.5) as f64 / 1000.0);
    }
    println!(
        "typing p50 difference (encrypted − plaintext): {:+.3} ms",
        p50[1] - p50[0]
    );

    let Some(shm) = tempfile::tempdir_in("/dev/shm").ok() else {
        println!("no /dev/shm: file transfer skipped");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = sparse_file(work.path(), size);
    // Warm-up (not counted): the first large file in /dev/shm makes the
    // kernel find and compact memory for it; later ones reuse the pages.
    for mode in [Mode::Plaintext, Mode::Encrypted] {
        runtime.block_on(transfer(mode, &source, shm.path(), size));
    }
    let mut totals = [Duration::ZERO; 2];
    for run in 0..runs {
        // Alternate which goes first, so neither always runs on a warmer cache.
        let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let mode = [Mode::Plaintext, Mode::Encrypted][i];
            let d = runtime.block_on(transfer(mode, &source, shm.path(), size));
            totals[i] += d;
            println!(
                "file {:.0} MiB → /dev/shm, run {}, {:<24} {:>8.1} MiB/s",
                size as f64 / MIB,
                run + 1,
                mode.name(),
                size as f64 / MIB / d.as_secs_f64()
            );
        }
    }
    let rate = |d: Duration| size as f64 * runs as f64 / MIB / d.as_secs_f64();
    println!(
        "file throughput: plaintext {:.1} MiB/s, encrypted {:.1} MiB/s, ratio {:.3}",
        rate(totals[0]),
        rate(totals[1]),
        rate(totals[1]) / rate(totals[0])
    );
}
