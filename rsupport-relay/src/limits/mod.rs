//! The relay's abuse limits for customers, one module per thing limited:
//! wrong session codes ([`codes`]), wrong resume tokens ([`resumes`]),
//! chat-first contact requests ([`contacts`]), and the audit rows written
//! about refusals ([`refusals`]).
//!
//! Every limit keys on [`Source`] (an IPv4 address or an IPv6 /64) and keeps
//! a bounded number of entries, so its memory is stated and cannot grow
//! with the number of addresses an attacker uses. No relay-wide limit here
//! ever refuses a source that has not failed itself: a customer with a right
//! code, or a party with its resume token, always gets in.

pub(crate) mod code_rule;
pub(crate) mod codes;
pub(crate) mod contacts;
pub(crate) mod refusals;
pub(crate) mod resumes;

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

/// Counts per key in fixed windows of `window_ms`, for at most `capacity`
/// keys; when full, the key whose window started first is dropped (it is
/// the one that would be forgotten first anyway). Memory: about 100 bytes
/// per key.
#[derive(Debug)]
pub(crate) struct WindowCounts<K: Hash + Ord + Copy> {
    window_ms: u64,
    capacity: usize,
    counts: HashMap<K, (u64, u32)>,
    by_start: BTreeSet<(u64, K)>,
}

impl<K: Hash + Ord + Copy> WindowCounts<K> {
    pub(crate) fn new(window_ms: u64, capacity: usize) -> Self {
        WindowCounts {
            window_ms: window_ms.max(1),
            capacity: capacity.max(1),
            counts: HashMap::new(),
            by_start: BTreeSet::new(),
        }
    }

    /// The count of `key` in its current window, and when that window ends.
    pub(crate) fn get(&self, key: K, now_ms: u64) -> (u32, u64) {
        match self.counts.get(&key) {
            Some(&(start, n)) if now_ms < start.saturating_add(self.window_ms) => {
                (n, start.saturating_add(self.window_ms))
            }
            _ => (0, now_ms.saturating_add(self.window_ms)),
        }
    }

    /// Adds one to `key`'s count (a new window starts if the last one ended).
    pub(crate) fn add(&mut self, key: K, now_ms: u64) -> u32 {
        let current = self
            .counts
            .get(&key)
            .copied()
            .filter(|&(start, _)| now_ms < start.saturating_add(self.window_ms));
        let (start, n) = match current {
            Some((start, n)) => (start, n.saturating_add(1)),
            None => {
                if let Some((old_start, _)) = self.counts.remove(&key) {
                    self.by_start.remove(&(old_start, key));
                }
                self.prune(now_ms);
                if self.counts.len() >= self.capacity {
                    if let Some((_, oldest)) = self.by_start.pop_first() {
                        self.counts.remove(&oldest);
                    }
                }
                self.by_start.insert((now_ms, key));
                (now_ms, 1)
            }
        };
        self.counts.insert(key, (start, n));
        n
    }

    /// Forgets keys whose window has ended.
    pub(crate) fn prune(&mut self, now_ms: u64) {
        while let Some(&(start, key)) = self.by_start.first() {
            if now_ms < start.saturating_add(self.window_ms) {
                break;
            }
            self.by_start.pop_first();
            self.counts.remove(&key);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_roll_and_capacity_evicts_the_oldest() {
        let mut w = WindowCounts::<u32>::new(1000, 2);
        assert_eq!(w.add(1, 0), 1);
        assert_eq!(w.add(1, 10), 2);
        assert_eq!(w.get(1, 999), (2, 1000));
        assert_eq!(w.get(1, 1000).0, 0);
        assert_eq!(w.add(2, 20), 1);
        assert_eq!(w.add(3, 30), 1, "full: key 1 (oldest window) goes");
        assert_eq!(w.len(), 2);
        assert_eq!(w.get(1, 31).0, 0);
        assert_eq!(w.get(2, 31).0, 1);
        assert_eq!(w.add(1, 1000), 1, "new window");
        w.prune(5000);
        assert_eq!(w.len(), 0);
    }
}
