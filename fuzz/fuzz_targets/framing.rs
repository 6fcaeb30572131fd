//! Arbitrary bytes, fed to the frame decoder in arbitrary chunk sizes: it must
//! never panic, never hand out a frame over the cap, and whole frames must
//! come out the same however the stream is cut.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rsupport_proto::envelope::Envelope;
use rsupport_proto::framing::{FrameDecoder, FrameKind, FrameLimits};
use rsupport_proto::relay::RelayMessage;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let limits = FrameLimits::new(1024, 4096);
    let whole = decode_all(stream, stream.len().max(1), limits);
    let chunked = decode_all(stream, usize::from(chunk % 16) + 1, limits);
    assert_eq!(whole, chunked, "chunking changed the frames");
    for (kind, body) in whole {
        assert!(body.len() <= limits.max_body(kind) as usize);
        match kind {
            FrameKind::Relay => {
                let _ = RelayMessage::decode(body.into());
            }
            _ => {
                let _ = Envelope::decode(body.into());
            }
        }
    }
});

fn decode_all(stream: &[u8], chunk: usize, limits: FrameLimits) -> Vec<(FrameKind, Vec<u8>)> {
    let mut decoder = FrameDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push((frame.kind, frame.body.to_vec())),
                Ok(None) => break,
                Err(_) => return frames,
            }
        }
    }
    frames
}
