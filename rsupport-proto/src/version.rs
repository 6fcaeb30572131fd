//! Protocol version negotiation.
//!
//! Each side announces the range it speaks in `Hello`; the highest version in
//! both ranges wins. A peer with no overlap is closed with
//! [`crate::common::CloseReason::VersionMismatch`].
//!
//! Version 2 seals every session payload end to end (see `e2e`); version
//! 1 peers are still spoken to, but their sessions are plaintext.

use crate::error::VersionError;

/// The newest protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 2;
/// The first protocol version whose sessions are end-to-end encrypted.
/// A peer speaking only version 1 gets a plaintext session, and only where
/// the relay's settings and the other side allow it.
pub const E2E_PROTOCOL_VERSION: u32 = 2;
/// The oldest protocol version this crate still speaks.
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// Picks the highest version in both `[peer_min, peer_max]` and ours.
pub fn negotiate(peer_min: u32, peer_max: u32) -> Result<u32, VersionError> {
    negotiate_between(peer_min, peer_max, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION)
}

/// As [`negotiate`], with our range given explicitly (for tests and for
/// relays that pin a version).
pub fn negotiate_between(
    peer_min: u32,
    peer_max: u32,
    ours_min: u32,
    ours_max: u32,
) -> Result<u32, VersionError> {
    let high = peer_max.min(ours_max);
    let low = peer_min.max(ours_min);
    if peer_min <= peer_max && low <= high {
        Ok(high)
    } else {
        Err(VersionError {
            peer_min,
            peer_max,
            ours_min,
            ours_max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_common_version_wins() {
        assert_eq!(negotiate_between(1, 5, 2, 3), Ok(3));
        assert_eq!(negotiate_between(3, 9, 1, 4), Ok(4));
        assert_eq!(negotiate(1, 1), Ok(1));
        assert_eq!(negotiate(1, 2), Ok(2));
    }

    #[test]
    fn disjoint_or_inverted_ranges_fail() {
        assert!(negotiate_between(5, 9, 1, 4).is_err());
        assert!(negotiate_between(1, 2, 3, 4).is_err());
        assert!(negotiate_between(3, 1, 1, 4).is_err());
    }
}
