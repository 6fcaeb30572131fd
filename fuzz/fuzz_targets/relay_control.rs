//! Arbitrary bytes as a relay-control message: typed error or a value that
//! re-encodes and decodes to itself; never a panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rsupport_proto::limits::MAX_TOKEN;
use rsupport_proto::relay::RelayMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = RelayMessage::decode(Bytes::copy_from_slice(data)) {
        // Resume tokens are compared against stored hashes: the cap must hold.
        if let RelayMessage::Resume { resume_token, .. } = &message {
            assert!(resume_token.expose().len() <= MAX_TOKEN);
        }
        let again = RelayMessage::decode(message.encode()).expect("re-encoded message decodes");
        assert_eq!(again, message);
    }
});
