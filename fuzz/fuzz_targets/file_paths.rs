//! Arbitrary sender-supplied paths: whatever is accepted stays relative,
//! has no parent, root or prefix component, and never panics.
#![no_main]

use std::path::Component;

use libfuzzer_sys::fuzz_target;
use rsupport_core::files::validate_relative_path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(safe) = validate_relative_path(text) {
        let relative: std::path::PathBuf = safe.components().iter().collect();
        assert!(!safe.components().is_empty());
        assert!(relative
            .components()
            .all(|c| matches!(c, Component::Normal(_))));
        assert!(std::path::Path::new("/dest").join(&relative).starts_with("/dest"));
    }
});
