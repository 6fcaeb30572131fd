//! Compiles `proto/*.proto` with protox (a pure-Rust protobuf compiler), so the
//! build needs no system `protoc`.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "common.proto",
    "envelope.proto",
    "e2e.proto",
    "relay.proto",
    "session.proto",
    "control.proto",
    "screen.proto",
    "input.proto",
    "chat.proto",
    "files.proto",
    "print.proto",
    "annotate.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from("proto");
    for file in FILES {
        println!("cargo:rerun-if-changed=proto/{file}");
    }
    let descriptors = protox::compile(FILES, [&proto_dir])?;
    prost_build::Config::new()
        // Every `bytes` field becomes `bytes::Bytes`: decoding from a `Bytes`
        // buffer then slices it instead of copying (zero-copy forwarding).
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
