//! Failure rate limits for session codes: per source address and relay-wide.
//!
//! Fixed windows: each source may fail `per_source` times per window, and the
//! whole relay `budget` times per window. Once either is spent, attempts are
//! refused *before* the code is looked at, so even the right code does not
//! work until the window ends: a guesser can never test more than `budget`
//! codes per window, however many addresses it uses.

use std::collections::HashMap;
use std::net::IpAddr;

/// Most distinct sources tracked at once; beyond it every new source counts
/// as limited, which keeps memory bounded under a spray from many addresses.
const MAX_TRACKED_SOURCES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: u64,
    failures: u32,
}

/// Per-source and relay-wide failure counters.
#[derive(Debug)]
pub struct FailureLimiter {
    per_source: u32,
    budget: u32,
    window_ms: u64,
    sources: HashMap<IpAddr, Window>,
    global: Window,
}

impl FailureLimiter {
    /// `per_source` and `budget` failures per `window_ms`.
    pub fn new(per_source: u32, budget: u32, window_ms: u64) -> Self {
        FailureLimiter {
            per_source,
            budget,
            window_ms: window_ms.max(1),
            sources: HashMap::new(),
            global: Window {
                start_ms: 0,
                failures: 0,
            },
        }
    }

    fn roll(&self, w: &mut Window, now_ms: u64) {
        if now_ms >= w.start_ms.saturating_add(self.window_ms) {
            *w = Window {
                start_ms: now_ms,
                failures: 0,
            };
        }
    }

    /// `Err(retry_after_ms)` when `source` may not try now.
    pub fn check(&mut self, source: IpAddr, now_ms: u64) -> Result<(), u64> {
        let mut global = self.global;
        self.roll(&mut global, now_ms);
        self.global = global;
        if self.global.failures >= self.budget {
            return Err(self.global.start_ms + self.window_ms);
        }
        match self.sources.get(&source).copied() {
            Some(mut w) => {
                self.roll(&mut w, now_ms);
                self.sources.insert(source, w);
                if w.failures >= self.per_source {
                    return Err(w.start_ms + self.window_ms);
                }
            }
            None if self.sources.len() >= MAX_TRACKED_SOURCES => {
                self.prune(now_ms);
                if self.sources.len() >= MAX_TRACKED_SOURCES {
                    return Err(now_ms + self.window_ms);
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Counts one failure from `source`. Returns whether this failure spent
    /// the source's allowance or the relay-wide budget (worth one audit row;
    /// the refusals that follow are not audited one by one, so a flood cannot
    /// fill the audit history).
    pub fn record_failure(&mut self, source: IpAddr, now_ms: u64) -> bool {
        self.global.failures = self.global.failures.saturating_add(1);
        let w = self.sources.entry(source).or_insert(Window {
            start_ms: now_ms,
            failures: 0,
        });
        w.failures = w.failures.saturating_add(1);
        w.failures == self.per_source || self.global.failures == self.budget
    }

    /// Forgets sources whose window has ended.
    pub fn prune(&mut self, now_ms: u64) {
        let window = self.window_ms;
        self.sources
            .retain(|_, w| now_ms < w.start_ms.saturating_add(window));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_source_then_global() {
        let mut l = FailureLimiter::new(2, 3, 1000);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.check(a, 0).is_ok());
        l.record_failure(a, 0);
        l.record_failure(a, 1);
        assert_eq!(l.check(a, 2), Err(1000));
        assert!(l.check(b, 2).is_ok());
        l.record_failure(b, 2);
        assert_eq!(l.check(b, 3), Err(1000), "relay-wide budget spent");
        assert!(l.check(a, 1000).is_ok(), "new window");
    }
}
