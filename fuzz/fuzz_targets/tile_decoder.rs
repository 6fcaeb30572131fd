//! Arbitrary bytes as a screen frame update (bounded zstd, tiles, copies,
//! palettes, cache ids, JPEG): a typed error or a frame within the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = rsupport_capture::codec::decode_update_bytes(data) {
        assert_eq!(
            frame.pixels().len(),
            frame.width() as usize * frame.height() as usize * 4
        );
    }
});
