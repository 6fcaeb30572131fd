//! Injection latency: an event handed to the injector → the event observed
//! by an X client window, on a private Xvfb. Prints p50/p99 per backend and
//! event kind, and enigo's p50 as a ratio of XTEST's measured in the same run.
//!
//! Run: `cargo bench -p rsupport-input --bench injection_latency`
//! (optional: `-- <rounds>`, default 500).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use rsupport_input::inject::X11Injector;
use rsupport_input::{DesktopPoint, Injector, InputEvent, Keysym};
use rsupport_proto::input::MouseButton;
use rsupport_testkit::x11::{Observer, Seen};

/// One kind of event to time, and how to recognise its arrival.
struct Probe {
    name: &'static str,
    events: fn(usize) -> Vec<InputEvent>,
    arrived: fn(usize, &Seen) -> bool,
}

fn probes() -> Vec<Probe> {
    vec![
        Probe {
            name: "pointer move",
            events: |i| {
                vec![InputEvent::MoveTo(DesktopPoint::new(
                    100 + (i % 2) as i32 * 50,
                    200,
                ))]
            },
            arrived: |i, s| {
                *s == Seen::Motion {
                    x: 100 + (i % 2) as i16 * 50,
                    y: 200,
                }
            },
        },
        Probe {
            name: "button click",
            events: |_| {
                [true, false]
                    .map(|pressed| InputEvent::Button {
                        button: MouseButton::Left,
                        pressed,
                    })
                    .to_vec()
            },
            arrived: |_, s| *s == Seen::ButtonRelease(1),
        },
        Probe {
            name: "key tap (on keyboard map)",
            events: |_| {
                [true, false]
                    .map(|pressed| InputEvent::Key {
                        keysym: Keysym(0x61),
                        pressed,
                    })
                    .to_vec()
            },
            arrived: |_, s| *s == Seen::KeyRelease { keysym: 0x61 },
        },
        Probe {
            name: "text char (2 CJK, cached)",
            events: |i| {
                vec![InputEvent::Text(
                    if i % 2 == 0 { "日" } else { "本" }.into(),
                )]
            },
            arrived: |i, s| {
                *s == Seen::KeyRelease {
                    keysym: 0x0100_0000 + if i % 2 == 0 { 0x65e5 } else { 0x672c },
                }
            },
        },
        Probe {
            name: "text char (100 CJK, remap)",
            events: |i| vec![InputEvent::Text(cjk(i).to_string())],
            arrived: |i, s| {
                *s == Seen::KeyRelease {
                    keysym: 0x0100_0000 + u32::from(cjk(i)),
                }
            },
        },
    ]
}

/// One of 100 CJK ideographs: more than the spare keycodes, so every
/// character needs a remap and spares are recycled (with the reuse pause).
fn cjk(i: usize) -> char {
    char::from_u32(0x4e00 + (i % 100) as u32).unwrap_or('一')
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn measure(
    injector: &mut dyn Injector,
    observer: &mut Observer,
    probe: &Probe,
    rounds: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let events = (probe.events)(i);
        let start = Instant::now();
        for e in &events {
            injector.inject(e).expect("inject");
        }
        injector.flush().expect("flush");
        loop {
            let (at, seen) = observer
                .next_timed(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("{}: event {i} never arrived", probe.name));
            if (probe.arrived)(i, &seen) {
                samples.push(at.duration_since(start));
                break;
            }
        }
    }
    samples.sort();
    samples
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let xvfb = rsupport_testkit::x11::start_xvfb();
    let mut observer = Observer::open(&xvfb.display());
    let mut xtest = X11Injector::connect(Some(&xvfb.display())).expect("XTEST connects");
    #[cfg(feature = "enigo")]
    let mut enigo = rsupport_input::inject::EnigoInjector::for_x11_display(&xvfb.display())
        .expect("enigo connects");
    // enigo's default asks the X server to hold each button (and remapped
    // key) event 12 ms (`linux_delay`); also measure it without.
    #[cfg(feature = "enigo")]
    let mut enigo_nodelay = rsupport_input::inject::EnigoInjector::with_settings(
        &rsupport_input::inject::EnigoSettings {
            x11_display: Some(xvfb.display()),
            linux_delay: 0,
            ..Default::default()
        },
    )
    .expect("enigo connects");

    println!(
        "injection latency, {rounds} rounds each (handed to injector → seen by an X client), Xvfb"
    );
    println!(
        "{:<28} {:<10} {:>10} {:>10} {:>10}",
        "event", "backend", "p50 µs", "p99 µs", "ratio p50"
    );
    for probe in probes() {
        // Warm up (first remaps, connection buffers).
        measure(&mut xtest, &mut observer, &probe, 10);
        let base = measure(&mut xtest, &mut observer, &probe, rounds);
        let base_p50 = percentile(&base, 0.5);
        let row = |backend: &str, s: &[Duration]| {
            let p50 = percentile(s, 0.5);
            println!(
                "{:<28} {:<10} {:>10.1} {:>10.1} {:>10.2}",
                probe.name,
                backend,
                p50.as_secs_f64() * 1e6,
                percentile(s, 0.99).as_secs_f64() * 1e6,
                p50.as_secs_f64() / base_p50.as_secs_f64()
            );
        };
        row("xtest", &base);
        #[cfg(feature = "enigo")]
        {
            measure(&mut enigo, &mut observer, &probe, 10);
            let other = measure(&mut enigo, &mut observer, &probe, rounds);
            row("enigo", &other);
            measure(&mut enigo_nodelay, &mut observer, &probe, 10);
            let other = measure(&mut enigo_nodelay, &mut observer, &probe, rounds);
            row("enigo d=0", &other);
        }
    }
}
