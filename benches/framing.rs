#![allow(missing_docs)] // criterion_group! generates undocumented functions
//! Framing and envelope throughput: what every byte of a session pays on the
//! way through the relay (frame split + envelope decode, zero-copy payload).

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsupport::proto::envelope::{Envelope, PayloadProtection, Priority};
use rsupport::proto::framing::{encode_frame, FrameDecoder, FrameKind, FrameLimits};

fn framed_stream(payload_len: usize, frames: usize) -> BytesMut {
    let envelope = Envelope {
        session_id: 9,
        priority: Priority::Screen,
        protection: PayloadProtection::Plain,
        seq: 1,
        payload: Bytes::from(vec![0x5A; payload_len]),
    }
    .encode();
    let mut wire = BytesMut::new();
    for _ in 0..frames {
        encode_frame(
            FrameKind::Session,
            &envelope,
            &FrameLimits::default(),
            &mut wire,
        )
        .expect("under the cap");
    }
    wire
}

fn decode_frames_and_envelopes(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame+envelope decode");
    for payload_len in [64usize, 4 * 1024, 256 * 1024] {
        let frames = (4 * 1024 * 1024 / payload_len).clamp(16, 4096);
        let wire = framed_stream(payload_len, frames);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(payload_len),
            &wire,
            |b, wire| {
                b.iter(|| {
                    let mut buf = wire.clone();
                    let mut decoder = FrameDecoder::default();
                    let mut total = 0usize;
                    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                        let env = Envelope::decode(frame.body).expect("valid envelope");
                        total += env.payload.len();
                    }
                    assert_eq!(total, payload_len * frames);
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, decode_frames_and_envelopes);
criterion_main!(benches);
