//! Caps on individual fields, enforced by the domain decoders on top of the
//! per-frame caps of [`crate::framing::FrameLimits`].
//!
//! A frame cap bounds memory; these bound what a peer can make the other side
//! *do* (render, store, write to disk) and keep names and paths sane.

/// Names, user names, display names, host names, operator IDs: bytes.
pub const MAX_NAME: usize = 256;
/// Free text such as descriptions, notes and reasons: bytes.
pub const MAX_NOTE: usize = 4 * 1024;
/// One chat message: bytes of UTF-8.
pub const MAX_CHAT_TEXT: usize = 16 * 1024;
/// Passwords and TOTP codes: bytes.
pub const MAX_SECRET: usize = 1024;
/// Session codes: digits.
pub const MAX_CODE: usize = 32;
/// Digits an operator's program adds to the code the relay issued: the
/// secret half of a session code, the password of the end-to-end key
/// exchange. The relay never sees them; a customer types all the digits and
/// its program sends only the leading ones to the relay.
pub const CODE_SECRET_DIGITS: usize = 5;
/// Resume and reconnect tokens: bytes.
pub const MAX_TOKEN: usize = 256;
/// A relative path in a file offer: bytes (whole path).
pub const MAX_PATH: usize = 4096;
/// Entries in one file offer.
pub const MAX_FILE_ENTRIES: usize = 100_000;
/// One file or print data chunk: bytes.
pub const MAX_CHUNK: usize = 1024 * 1024;
/// SHA-256 digest length.
pub const SHA256_LEN: usize = 32;
/// Committed input text (one IME commit or paste): bytes.
pub const MAX_INPUT_TEXT: usize = 4 * 1024;
/// DOM key code strings such as "IntlYen": bytes.
pub const MAX_KEY_CODE: usize = 32;
/// Feature strings in Capabilities, and their count.
pub const MAX_FEATURES: usize = 64;
/// Points in one annotation message.
pub const MAX_STROKE_POINTS: usize = 4096;
/// Text label text: bytes.
pub const MAX_LABEL_TEXT: usize = 1024;
/// Rows in one audit page, accounts in one list, monitors, windows.
pub const MAX_LIST: usize = 10_000;
/// Connection modes in one list (each mode at most once in practice).
pub const MAX_MODES: usize = 16;
/// URLs and URL templates (join links): bytes.
pub const MAX_URL: usize = 2048;
/// Operators in one presence update.
pub const MAX_PRESENCE: usize = 1000;
