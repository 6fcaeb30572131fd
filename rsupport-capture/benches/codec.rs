//! Encoder and decoder speed and size on the synthetic 1920×1080 sequences.
//!
//! `cargo bench -p rsupport-capture --bench codec` runs criterion; besides its
//! timings this prints one line per sequence with bytes per frame (after the
//! key frame) so size regressions show up next to speed ones.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rsupport_capture::codec::synthetic::{Scenario, Sequence};
use rsupport_capture::codec::{Decoder, Encoder, EncoderConfig, Limits};
use rsupport_capture::BgraFrame;
use rsupport_proto::screen::FrameUpdate;

const FRAMES: usize = 20;

fn frames(s: Scenario) -> Vec<BgraFrame> {
    let mut seq = Sequence::new(s, 1920, 1080, 42);
    (0..=FRAMES).map(|_| seq.next_frame()).collect()
}

/// Encodes the key frame outside the measurement, so each iteration measures delta frames.
fn primed(config: &EncoderConfig, key: &BgraFrame) -> (Encoder, FrameUpdate) {
    let mut enc = Encoder::new(config.clone());
    let first = enc.encode(key, 0).expect("key frame");
    (enc, first)
}

fn bench(c: &mut Criterion) {
    for &s in Scenario::ALL {
        let frames = frames(s);
        let mut configs = vec![("lossless", EncoderConfig::default())];
        if s == Scenario::Video {
            let mut lossy = EncoderConfig::default();
            lossy.allow_lossy = true;
            configs.push(("lossy", lossy));
        }
        for (label, config) in configs {
            // Size report.
            let (mut enc, _) = primed(&config, &frames[0]);
            let bytes: usize = frames[1..]
                .iter()
                .map(|f| enc.encode(f, 0).expect("encode").encode().len())
                .sum();
            println!(
                "codec/{}/{label}: {} bytes/frame over {FRAMES} delta frames",
                s.name(),
                bytes / FRAMES
            );

            let mut group = c.benchmark_group(format!("codec/{}/{label}", s.name()));
            group.sample_size(10);
            group.throughput(Throughput::Elements(FRAMES as u64));
            group.bench_function("encode", |b| {
                b.iter_batched(
                    || primed(&config, &frames[0]).0,
                    |mut enc| {
                        for f in &frames[1..] {
                            std::hint::black_box(enc.encode(f, 0).expect("encode"));
                        }
                    },
                    BatchSize::PerIteration,
                )
            });
            let (mut enc, first) = primed(&config, &frames[0]);
            let updates: Vec<FrameUpdate> = frames[1..]
                .iter()
                .map(|f| enc.encode(f, 0).expect("encode"))
                .collect();
            group.bench_function("decode", |b| {
                b.iter_batched(
                    || {
                        let mut d = Decoder::new(Limits::default());
                        d.apply(&first).expect("key frame");
                        d
                    },
                    |mut dec| {
                        for u in &updates {
                            dec.apply(u).expect("decode");
                        }
                    },
                    BatchSize::PerIteration,
                )
            });
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
