//! Refusals that cost the relay nothing are counted, not audited one by one.
//!
//! A login refused before any password work (a locked or slowed-down
//! source, a busy relay, a missing client certificate) can be repeated as
//! fast as an attacker sends it; one audit row each would let anyone fill
//! the disk and stall the broker on database writes. Instead each
//! (kind, source) gets one summary row per [`WINDOW_MS`], written when the
//! window ends. Memory is bounded: past [`MAX_KEYS`] keys, further sources
//! are counted together under "many sources".

use std::collections::HashMap;

use crate::Source;

/// One summary row per (kind, source) per this long, ms.
pub(crate) const WINDOW_MS: u64 = 60_000;
/// Most (kind, source) keys counted at once.
const MAX_KEYS: usize = 4096;

#[derive(Debug)]
struct Count {
    window_end_ms: u64,
    refusals: u64,
    /// The user name of the latest refusal (already cut to a valid length).
    last_username: String,
}

/// A summary row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) kind: &'static str,
    /// `None`: sources beyond the key limit, together.
    pub(crate) source: Option<Source>,
    pub(crate) refusals: u64,
    pub(crate) last_username: String,
    pub(crate) window_end_ms: u64,
}

/// Counts refusals per (kind, source) and window.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    counts: HashMap<(&'static str, Option<Source>), Count>,
}

impl Refusals {
    /// Counts one refusal.
    pub(crate) fn note(&mut self, kind: &'static str, source: Source, username: &str, now_ms: u64) {
        let mut key = (kind, Some(source));
        if !self.counts.contains_key(&key) && self.counts.len() >= MAX_KEYS {
            key = (kind, None);
        }
        let c = self.counts.entry(key).or_insert_with(|| Count {
            window_end_ms: now_ms.saturating_add(WINDOW_MS),
            refusals: 0,
            last_username: String::new(),
        });
        c.refusals = c.refusals.saturating_add(1);
        username.clone_into(&mut c.last_username);
    }

    /// The summaries of windows that ended by `now_ms` (they are forgotten).
    pub(crate) fn take_due(&mut self, now_ms: u64) -> Vec<Summary> {
        let due: Vec<_> = self
            .counts
            .iter()
            .filter(|(_, c)| c.window_end_ms <= now_ms)
            .map(|(k, _)| *k)
            .collect();
        let mut out: Vec<Summary> = due
            .into_iter()
            .filter_map(|key| {
                let c = self.counts.remove(&key)?;
                Some(Summary {
                    kind: key.0,
                    source: key.1,
                    refusals: c.refusals,
                    last_username: c.last_username,
                    window_end_ms: c.window_end_ms,
                })
            })
            .collect();
        out.sort_by_key(|s| (s.window_end_ms, s.kind, s.source));
        out
    }

    /// When the next window ends.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.counts.values().map(|c| c.window_end_ms).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_refusals_make_one_row_per_key_and_window_and_keys_are_bounded() {
        let mut r = Refusals::default();
        let one = Source::of("10.0.0.1".parse().unwrap());
        for _ in 0..10_000 {
            r.note("login_refused_locked", one, "root", 0);
        }
        for n in 0..(MAX_KEYS as u32 + 50) {
            let s = Source::of(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
                0x0b00_0000 + n,
            )));
            r.note("login_refused_slowed", s, "root", 0);
        }
        assert!(r.counts.len() <= MAX_KEYS + 1);
        assert_eq!(r.next_deadline(), Some(WINDOW_MS));
        assert!(r.take_due(WINDOW_MS - 1).is_empty());
        let rows = r.take_due(WINDOW_MS);
        assert_eq!(rows.len(), MAX_KEYS + 1);
        let locked = rows
            .iter()
            .find(|s| s.kind == "login_refused_locked")
            .unwrap();
        assert_eq!(locked.refusals, 10_000);
        assert!(rows.iter().any(|s| s.source.is_none() && s.refusals == 51));
        assert!(r.take_due(u64::MAX).is_empty());
    }
}
