//! A fast non-cryptographic 64-bit hash for tile contents and pixel runs.
//!
//! Only used to *find* candidates (cache hits, motion votes); every match is
//! confirmed by comparing pixels before it affects output, so collisions cost
//! time, never correctness.

const K0: u64 = 0xa076_1d64_78bd_642f;
const K1: u64 = 0xe703_7ed1_a0b4_28db;

/// Multiplies as 128 bits and folds the halves: the mixing step of wyhash-style hashes.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_le_bytes(w)
}

/// Hashes `bytes`, continuing from `seed` (chain calls to hash several slices).
#[inline]
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ K0 ^ (bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(16);
    for c in &mut chunks {
        let (a, b) = c.split_at(8);
        h = fold_mul(word(a) ^ h ^ K0, word(b) ^ K1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 16];
        tail[..rest.len()].copy_from_slice(rest);
        let (a, b) = tail.split_at(8);
        h = fold_mul(word(a) ^ h ^ K0, word(b) ^ K1);
    }
    fold_mul(h ^ K1, K0 ^ 0x5bd1_e995)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_inputs_hash_differently() {
        let a = [0u8; 64];
        let mut b = a;
        b[63] = 1;
        assert_ne!(hash_bytes(0, &a), hash_bytes(0, &b));
        assert_ne!(hash_bytes(0, &a[..63]), hash_bytes(0, &a));
        assert_ne!(hash_bytes(1, &a), hash_bytes(0, &a));
        assert_eq!(hash_bytes(7, &b), hash_bytes(7, &b));
    }
}
