//! Wrong session codes: a per-source budget with slow-down, and relay-wide
//! pressure that only ever refuses sources which have failed themselves.
//!
//! - **Per source**, sliding window (24 h by default): at most
//!   `per_source` wrong codes. After the n-th wrong code the source's next
//!   attempt is not looked at before 2^(n-1) s have passed; after the last
//!   one, not before the oldest of its failures leaves the window.
//! - **Relay-wide**: once more than `budget` wrong codes were seen in the
//!   window, a source with any wrong code in its window is refused. A source
//!   with none is still evaluated, so a customer with the right code always
//!   joins, whatever else is going on.
//!
//! So in one window the relay evaluates at most `budget + 1` wrong codes
//! before the pressure starts, and then at most one per fresh source: the
//! code-length rule in `RelayConfig::min_code_length` rests on that.
//!
//! Memory: at most `MAX_TRACKED_SOURCES` sources (each with at most
//! `per_source` ≤ 20 timestamps, about 250 bytes: ≤ 50 MB at 200,000),
//! plus one counter per minute-sized bucket of the window. When full, the
//! source whose failures expire first is forgotten.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::Source;

/// Most sources with wrong codes tracked at once.
pub(crate) const MAX_TRACKED_SOURCES: usize = 200_000;

/// Relay-wide failures are counted in this many buckets per window.
const BUCKETS: u64 = 1440;

/// Why a source may not try a code now; `retry_at_ms` is when it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) retry_at_ms: u64,
}

/// Wrong-code counters. See the module docs.
#[derive(Debug)]
pub(crate) struct CodeLimits {
    per_source: usize,
    budget: u64,
    window_ms: u64,
    bucket_ms: u64,
    capacity: usize,
    /// Failure times per source, oldest first (never empty).
    sources: HashMap<Source, VecDeque<u64>>,
    /// (newest failure, source): the order in which sources expire.
    by_expiry: BTreeSet<(u64, Source)>,
    /// Relay-wide failures: (bucket start, count), oldest first.
    buckets: VecDeque<(u64, u64)>,
    total: u64,
}

impl CodeLimits {
    pub(crate) fn new(per_source: u32, budget: u32, window_ms: u64) -> Self {
        Self::with_capacity(per_source, budget, window_ms, MAX_TRACKED_SOURCES)
    }

    pub(crate) fn with_capacity(
        per_source: u32,
        budget: u32,
        window_ms: u64,
        capacity: usize,
    ) -> Self {
        let window_ms = window_ms.max(1);
        CodeLimits {
            per_source: (per_source as usize).max(1),
            budget: budget.into(),
            window_ms,
            bucket_ms: (window_ms / BUCKETS).max(1),
            capacity: capacity.max(1),
            sources: HashMap::new(),
            by_expiry: BTreeSet::new(),
            buckets: VecDeque::new(),
            total: 0,
        }
    }

    /// More than `budget` wrong codes in the window.
    pub(crate) fn under_pressure(&self) -> bool {
        self.total > self.budget
    }

    /// Whether `source` may have a code looked at now.
    pub(crate) fn check(&mut self, source: Source, now_ms: u64) -> Result<(), Refused> {
        self.expire_buckets(now_ms);
        let window = self.window_ms;
        let Some(times) = self.sources.get_mut(&source) else {
            return Ok(()); // a source without failures is always evaluated
        };
        let newest = times.back().copied().unwrap_or(0);
        while times
            .front()
            .is_some_and(|&t| t.saturating_add(window) <= now_ms)
        {
            times.pop_front();
        }
        let (Some(&oldest), n) = (times.front(), times.len()) else {
            self.sources.remove(&source);
            self.by_expiry.remove(&(newest, source));
            return Ok(());
        };
        let window_end = oldest.saturating_add(window);
        if n >= self.per_source || self.total > self.budget {
            return Err(Refused {
                retry_at_ms: window_end,
            });
        }
        // Slow-down: 1 s after the first failure, 2 s after the second, ...
        let wait_ms = 1000u64
            .checked_shl(n.saturating_sub(1) as u32)
            .unwrap_or(u64::MAX);
        let not_before = newest.saturating_add(wait_ms);
        if now_ms < not_before {
            return Err(Refused {
                retry_at_ms: not_before.min(window_end),
            });
        }
        Ok(())
    }

    /// Counts one wrong code from `source`. Returns whether it spent the
    /// source's allowance.
    pub(crate) fn record_failure(&mut self, source: Source, now_ms: u64) -> bool {
        self.expire_buckets(now_ms);
        let bucket = now_ms - now_ms % self.bucket_ms;
        match self.buckets.back_mut() {
            Some((start, count)) if *start == bucket => *count += 1,
            _ => self.buckets.push_back((bucket, 1)),
        }
        self.total += 1;

        if !self.sources.contains_key(&source) && self.sources.len() >= self.capacity {
            self.prune(now_ms);
            if self.sources.len() >= self.capacity {
                if let Some((_, first)) = self.by_expiry.pop_first() {
                    self.sources.remove(&first);
                }
            }
        }
        let times = self.sources.entry(source).or_default();
        if let Some(&newest) = times.back() {
            self.by_expiry.remove(&(newest, source));
        }
        times.push_back(now_ms);
        while times.len() > self.per_source {
            times.pop_front();
        }
        let spent = times.len() >= self.per_source;
        self.by_expiry.insert((now_ms, source));
        spent
    }

    /// Forgets sources whose every failure has left the window.
    pub(crate) fn prune(&mut self, now_ms: u64) {
        while let Some(&(newest, source)) = self.by_expiry.first() {
            if now_ms < newest.saturating_add(self.window_ms) {
                break;
            }
            self.by_expiry.pop_first();
            self.sources.remove(&source);
        }
        self.expire_buckets(now_ms);
    }

    /// Drops buckets whose failures have all left the window (a bucket is
    /// kept until its last possible failure expires, so the count errs on
    /// the high side).
    fn expire_buckets(&mut self, now_ms: u64) {
        while let Some(&(start, count)) = self.buckets.front() {
            let all_expired = start
                .saturating_add(self.bucket_ms)
                .saturating_add(self.window_ms)
                <= now_ms;
            if !all_expired {
                break;
            }
            self.buckets.pop_front();
            self.total = self.total.saturating_sub(count);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 60 * 60 * 1000;

    fn src(i: u32) -> Source {
        Source::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i))
    }

    #[test]
    fn slow_down_doubles_then_the_budget_holds_for_a_sliding_day() {
        let mut l = CodeLimits::new(5, 1000, DAY);
        let a = src(1);
        let mut now = 0;
        for n in 1..=4u32 {
            assert!(l.check(a, now).is_ok());
            assert!(!l.record_failure(a, now));
            let wait = 1000u64 << (n - 1);
            assert_eq!(
                l.check(a, now + wait - 1),
                Err(Refused {
                    retry_at_ms: now + wait
                })
            );
            now += wait;
        }
        assert!(l.check(a, now).is_ok());
        assert!(
            l.record_failure(a, now),
            "fifth failure spends the allowance"
        );
        assert_eq!(l.check(a, now + 60_000), Err(Refused { retry_at_ms: DAY }));
        // The first failure leaves the window: one more attempt (after the
        // slow-down of the four still counted).
        assert!(l.check(a, DAY + 8_000).is_ok());
    }

    #[test]
    fn pressure_refuses_failed_sources_but_never_clean_ones() {
        let mut l = CodeLimits::new(5, 10, DAY);
        for i in 0..11 {
            l.record_failure(src(i), 0);
        }
        assert!(l.under_pressure());
        assert!(l.check(src(0), 60_000).is_err(), "failed before: refused");
        assert!(l.check(src(999), 60_000).is_ok(), "clean source: evaluated");
        l.prune(DAY + 60_000 + 1);
        assert!(!l.under_pressure());
        assert!(l.check(src(0), DAY + 60_000 + 1).is_ok());
    }

    #[test]
    fn tracked_sources_are_bounded_evicting_the_first_to_expire() {
        let mut l = CodeLimits::with_capacity(5, 1_000_000, DAY, 100);
        for i in 0..1000 {
            l.record_failure(src(i), u64::from(i));
        }
        assert_eq!(l.tracked(), 100);
        assert!(
            l.check(src(999), 999).is_err(),
            "the newest is still tracked"
        );
        assert!(l.check(src(0), 999).is_ok(), "the oldest was evicted");
    }
}
