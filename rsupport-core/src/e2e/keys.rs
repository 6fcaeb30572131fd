//! The key schedule: from the exchange's shared secret and transcript to
//! confirmation MACs, the fingerprint and one traffic key per direction and
//! epoch.
//!
//! Everything is HKDF-SHA256 (ring). The transcript hash is the HKDF salt, so
//! keys depend on every public value both sides saw: a relay that changed one
//! byte of the exchange gets different keys on each side, and the
//! confirmation MACs fail before anything is sealed.

use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use ring::digest;
use ring::hkdf::{KeyType, Prk, Salt, HKDF_SHA256};
use ring::hmac;

use crate::Side;

/// Label and version of the exchange, bound into every key.
pub(crate) const SUITE: &str = "rsupport-e2e-1 cpace-ristretto255 x25519 hkdf-sha256 aes-256-gcm";

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand<const N: usize>(prk: &Prk, label: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // Only fails for lengths over 255 × 32 bytes; ours are at most 32.
    if let Ok(okm) = prk.expand(&[label], Len(N)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// SHA-256 over length-prefixed parts: an unambiguous transcript.
pub(crate) fn transcript_hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// What both sides derive once the exchange produced a shared secret.
pub(crate) struct SessionKeys {
    transcript: [u8; 32],
    confirm_operator: hmac::Key,
    confirm_customer: hmac::Key,
    /// Traffic secret customer → operator.
    pub(crate) customer_to_operator: Prk,
    /// Traffic secret operator → customer.
    pub(crate) operator_to_customer: Prk,
    fingerprint: [u8; 8],
}

impl SessionKeys {
    /// Derives everything from `shared` (the PAKE's or Diffie-Hellman's
    /// output) and the transcript hash.
    pub(crate) fn derive(shared: &[u8], transcript: [u8; 32]) -> Self {
        let prk = Salt::new(HKDF_SHA256, &transcript).extract(shared);
        let c2o: [u8; 32] = expand(&prk, b"rsupport e2e customer to operator");
        let o2c: [u8; 32] = expand(&prk, b"rsupport e2e operator to customer");
        let co: [u8; 32] = expand(&prk, b"rsupport e2e confirm operator");
        let cc: [u8; 32] = expand(&prk, b"rsupport e2e confirm customer");
        SessionKeys {
            transcript,
            confirm_operator: hmac::Key::new(hmac::HMAC_SHA256, &co),
            confirm_customer: hmac::Key::new(hmac::HMAC_SHA256, &cc),
            customer_to_operator: Prk::new_less_safe(HKDF_SHA256, &c2o),
            operator_to_customer: Prk::new_less_safe(HKDF_SHA256, &o2c),
            fingerprint: expand(&prk, b"rsupport e2e fingerprint"),
        }
    }

    fn confirm_key(&self, side: Side) -> &hmac::Key {
        match side {
            Side::Operator => &self.confirm_operator,
            Side::Customer => &self.confirm_customer,
        }
    }

    /// `side`'s key confirmation: proves it derived the same keys.
    pub(crate) fn confirmation(&self, side: Side) -> Vec<u8> {
        hmac::sign(self.confirm_key(side), &self.transcript)
            .as_ref()
            .to_vec()
    }

    /// Checks the peer's confirmation in constant time.
    pub(crate) fn check_confirmation(&self, side: Side, mac: &[u8]) -> bool {
        hmac::verify(self.confirm_key(side), &self.transcript, mac).is_ok()
    }

    /// Eight digits both people can read to each other ("1234 5678"): equal
    /// on both sides exactly when they share the keys.
    pub(crate) fn fingerprint(&self) -> String {
        let n = u64::from_be_bytes(self.fingerprint) % 100_000_000;
        let digits = format!("{n:08}");
        format!("{} {}", &digits[..4], &digits[4..])
    }
}

/// The AES-256-GCM key of one direction in one epoch (`None` only if
/// ring refused a 32-byte AES-256 key, which it does not).
pub(crate) fn epoch_key(secret: &Prk, epoch: u32) -> Option<LessSafeKey> {
    let mut label = *b"rsupport e2e epoch \0\0\0\0";
    label[19..].copy_from_slice(&epoch.to_be_bytes());
    let bytes: [u8; 32] = expand(secret, &label);
    UnboundKey::new(&AES_256_GCM, &bytes)
        .ok()
        .map(LessSafeKey::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_secrets_or_transcripts_give_different_keys() {
        let a = SessionKeys::derive(b"shared", [1; 32]);
        let b = SessionKeys::derive(b"shared", [1; 32]);
        let c = SessionKeys::derive(b"other", [1; 32]);
        let d = SessionKeys::derive(b"shared", [2; 32]);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_ne!(a.fingerprint(), d.fingerprint());
        let mac = a.confirmation(Side::Operator);
        assert!(b.check_confirmation(Side::Operator, &mac));
        assert!(!b.check_confirmation(Side::Customer, &mac));
        assert!(!c.check_confirmation(Side::Operator, &mac));
    }

    #[test]
    fn fingerprint_is_eight_digits_in_two_groups() {
        let f = SessionKeys::derive(b"x", [0; 32]).fingerprint();
        assert_eq!(f.len(), 9);
        assert!(f.chars().enumerate().all(|(i, c)| if i == 4 {
            c == ' '
        } else {
            c.is_ascii_digit()
        }));
    }

    #[test]
    fn transcript_parts_are_length_prefixed() {
        assert_ne!(
            transcript_hash(&[b"ab", b"c"]),
            transcript_hash(&[b"a", b"bc"])
        );
    }
}
