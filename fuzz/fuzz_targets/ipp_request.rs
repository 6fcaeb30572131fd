//! Arbitrary bytes at the virtual printer: the HTTP request head parser and
//! the IPP request decoder return typed errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsupport_print::ipp::http::parse_request_head;
use rsupport_print::parse_ipp_request;

fuzz_target!(|data: &[u8]| {
    let _ = parse_request_head(data);
    let _ = parse_ipp_request(data);
});
