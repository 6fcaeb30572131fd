//! Arbitrary bytes as an envelope and as a session message (every channel's
//! decoder): typed error or a value that round-trips; never a panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rsupport_proto::envelope::Envelope;
use rsupport_proto::session::SessionMessage;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(envelope) = Envelope::decode(bytes.clone()) {
        assert_eq!(Envelope::decode(envelope.encode()).as_ref(), Ok(&envelope));
    }
    if let Ok(message) = SessionMessage::decode(bytes) {
        let again = SessionMessage::decode(message.encode()).expect("re-encoded message decodes");
        assert_eq!(again, message);
    }
});
