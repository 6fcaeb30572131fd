//! Wrong resume tokens: their own limits, never shared with session codes.
//!
//! A resume token is 256 random bits, so guessing one is hopeless and
//! looking one up costs a hash: these limits exist to keep noise (work and
//! audit rows) down, not to protect the token. They must never stop the
//! party that holds the token, so nothing here refuses a source without
//! failures of its own:
//!
//! - **per source**: after `PER_SOURCE` wrong resumes in a minute, the
//!   source's further resumes are refused unseen until the minute ends;
//! - **per session**: after `PER_SESSION` wrong resumes of one session in a
//!   minute, sources that have failed a resume in that minute are refused
//!   for it; a clean source (the party coming back from a new address) is
//!   still evaluated.
//!
//! Memory: at most `MAX_TRACKED` sources and `MAX_TRACKED` session ids
//! (only ids of running sessions are counted), about 100 bytes each.

use super::WindowCounts;
use crate::Source;

/// Wrong resumes per source per minute before its resumes are refused unseen.
pub(crate) const PER_SOURCE: u32 = 10;
/// Wrong resumes per session per minute before failing sources are refused for it.
pub(crate) const PER_SESSION: u32 = 10;
const WINDOW_MS: u64 = 60_000;
const MAX_TRACKED: usize = 100_000;

/// Wrong-resume counters. See the module docs.
#[derive(Debug)]
pub(crate) struct ResumeLimits {
    sources: WindowCounts<Source>,
    sessions: WindowCounts<u64>,
}

impl Default for ResumeLimits {
    fn default() -> Self {
        ResumeLimits {
            sources: WindowCounts::new(WINDOW_MS, MAX_TRACKED),
            sessions: WindowCounts::new(WINDOW_MS, MAX_TRACKED),
        }
    }
}

impl ResumeLimits {
    /// `Err(retry_at_ms)` when a resume of `session_id` from `source` is
    /// refused without looking at the token.
    pub(crate) fn check(&self, source: Source, session_id: u64, now_ms: u64) -> Result<(), u64> {
        let (failed, source_window_end) = self.sources.get(source, now_ms);
        if failed == 0 {
            return Ok(());
        }
        if failed >= PER_SOURCE {
            return Err(source_window_end);
        }
        let (session_failures, session_window_end) = self.sessions.get(session_id, now_ms);
        if session_failures >= PER_SESSION {
            return Err(session_window_end.min(source_window_end));
        }
        Ok(())
    }

    /// Counts a wrong resume; `running` says whether `session_id` is a
    /// running session (only those are counted per session, so made-up ids
    /// cannot fill the table).
    pub(crate) fn record_failure(
        &mut self,
        source: Source,
        session_id: u64,
        running: bool,
        now_ms: u64,
    ) {
        self.sources.add(source, now_ms);
        if running {
            self.sessions.add(session_id, now_ms);
        }
    }

    pub(crate) fn prune(&mut self, now_ms: u64) {
        self.sources.prune(now_ms);
        self.sessions.prune(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(i: u32) -> Source {
        Source::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i))
    }

    #[test]
    fn failing_sources_are_refused_and_clean_ones_never() {
        let mut l = ResumeLimits::default();
        for _ in 0..PER_SOURCE {
            assert!(l.check(src(1), 7, 0).is_ok());
            l.record_failure(src(1), 7, true, 0);
        }
        assert_eq!(l.check(src(1), 8, 1), Err(WINDOW_MS), "source spent");
        // Session 7 had PER_SESSION failures: a source that failed once is
        // refused for it, a clean one is not.
        l.record_failure(src(2), 9, true, 0);
        assert!(l.check(src(2), 7, 1).is_err());
        assert!(l.check(src(2), 9, 1).is_ok());
        assert!(l.check(src(3), 7, 1).is_ok());
        assert!(l.check(src(1), 7, WINDOW_MS).is_ok(), "a minute later");
    }
}
