//! Arbitrary bytes as a screen frame update (bounded zstd, tiles, copies,
//! palettes, cache ids, JPEG): a typed error or a frame within the limits,
//! and — through the decoder's own counters — never more pixels written
//! than the update's budget nor more bytes held than the decoder's stated
//! memory budget. Run with `-malloc_limit_mb` at that budget
//! (`Limits::fuzzing().memory_budget()`, about 142 MiB).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsupport_capture::codec::{Decoder, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::fuzzing();
    let budget = limits.memory_budget();
    let mut decoder = Decoder::new(limits);
    // Twice: the second pass meets the tile cache the first one filled.
    for _ in 0..2 {
        let applied = decoder.apply_bytes(data).is_ok();
        let stats = decoder.stats();
        assert!(stats.last_pixels_written <= stats.last_pixel_budget);
        assert!(stats.held_bytes <= budget && stats.peak_bytes <= budget);
        if applied {
            let frame = decoder.frame().expect("an applied update leaves a frame");
            assert_eq!(
                frame.pixels().len(),
                frame.width() as usize * frame.height() as usize * 4
            );
        }
    }
});
