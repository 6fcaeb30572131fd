//! Arbitrary annotation messages from a peer, fed to the layer and rendered
//! at an arbitrary scale: the layer's budgets hold and nothing panics.
#![no_main]

use std::time::Instant;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rsupport_capture::BgraFrame;
use rsupport_core::annotate::{render_scaled, Annotator};
use rsupport_core::Side;
use rsupport_proto::session::SessionMessage;

fuzz_target!(|data: &[u8]| {
    let Some((&scale, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut annotator = Annotator::new(Side::Customer);
    for piece in rest.split(|b| *b == 0xFF).take(64) {
        if let Ok(SessionMessage::Annotate(m)) = SessionMessage::decode(Bytes::copy_from_slice(piece)) {
            let _ = annotator.handle(&m, now);
        }
    }
    let mut frame = BgraFrame::filled(64, 48, [0, 0, 0, 255]);
    let scale = f32::from(scale.max(1)) / 32.0;
    render_scaled(annotator.layer(), &mut frame, 0, scale, now);
});
