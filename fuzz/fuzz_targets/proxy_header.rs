//! The PROXY protocol header parser: any bytes, never a panic; a header it
//! accepts never claims more bytes than it was given or than the bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsupport_proto::proxy_header::{parse_proxy_header, MAX_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(header)) = parse_proxy_header(data) {
        assert!(header.consumed <= data.len());
        assert!(header.consumed <= MAX_HEADER_LEN);
    }
    // Every prefix is either incomplete, an error, or a header within it.
    for cut in 0..data.len().min(MAX_HEADER_LEN + 1) {
        if let Ok(Some(header)) = parse_proxy_header(data.get(..cut).unwrap_or_default()) {
            assert!(header.consumed <= cut);
        }
    }
});
