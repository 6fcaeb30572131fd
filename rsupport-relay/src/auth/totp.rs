//! TOTP second factor (RFC 6238, HMAC-SHA1, 6 digits, 30-second steps).

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per TOTP step.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

/// The code for time step `step` (RFC 4226 HOTP with the step as counter).
pub fn code_at_step(secret: &[u8], step: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0; // HMAC accepts any key length; unreachable in practice.
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.get(19).copied().unwrap_or(0) & 0x0f);
    let word = digest
        .get(offset..offset + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
        & 0x7fff_ffff;
    word % 10u32.pow(digits)
}

/// The step a Unix time (ms) falls in.
pub fn step_of(now_ms: u64) -> u64 {
    now_ms / 1000 / STEP_SECS
}

/// Checks a typed code against the current step and one step either side
/// (clock drift). Returns the matching step so the caller can refuse replays
/// (a step must be greater than the last one accepted).
pub fn verify(secret: &[u8], typed: &str, now_ms: u64, last_step: u64) -> Option<u64> {
    let typed = typed.trim();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(now_ms);
    let mut found = None;
    // Check every candidate (no early exit) and compare in constant time.
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = format!(
            "{:0width$}",
            code_at_step(secret, step, DIGITS),
            width = DIGITS as usize
        );
        if bool::from(expected.as_bytes().ct_eq(typed.as_bytes())) && step > last_step {
            found = Some(step);
        }
    }
    found
}

/// Decodes an RFC 4648 base32 secret (case-insensitive, padding and spaces ignored).
pub fn decode_base32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in s.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Encodes bytes as RFC 4648 base32 without padding (for authenticator apps).
pub fn encode_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits, seed "12345678901234567890").
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, expected) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(code_at_step(secret, t / STEP_SECS, 8), expected, "t={t}");
        }
    }

    #[test]
    fn verify_accepts_drift_and_refuses_replay() {
        let secret = b"12345678901234567890";
        let now_ms = 1_111_111_111_000;
        let code = format!("{:06}", code_at_step(secret, step_of(now_ms), 6));
        let step = verify(secret, &code, now_ms, 0).expect("current code");
        assert_eq!(verify(secret, &code, now_ms, step), None, "replay refused");
        assert!(
            verify(secret, &code, now_ms + 30_000, 0).is_some(),
            "one step of drift"
        );
        assert_eq!(verify(secret, &code, now_ms + 90_000, 0), None);
        assert_eq!(verify(secret, "12345", now_ms, 0), None);
    }

    #[test]
    fn base32_round_trip() {
        assert_eq!(
            decode_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            b"12345678901234567890"
        );
        let b = [0u8, 1, 2, 250, 255, 7, 9];
        assert_eq!(decode_base32(&encode_base32(&b)).unwrap(), b);
        assert_eq!(decode_base32("1"), None);
    }
}
