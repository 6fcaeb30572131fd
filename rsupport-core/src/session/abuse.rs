//! What a session does with messages from the peer it cannot use: one
//! malformed or out-of-place message is dropped and counted, never the end
//! of the session; only a sustained stream of them is.
//!
//! Two kinds are counted apart:
//!
//! - **malformed**: the message does not decode, or the peer's role or the
//!   session's state never allows it (a frame that does not decode, a
//!   viewer message at the viewer, a file message out of order …). These
//!   count toward the cut-off: more than [`MAX_MALFORMED`] within
//!   [`MALFORMED_WINDOW`] ends the session with
//!   [`EndReason::PeerMisbehaved`](rsupport_proto::EndReason::PeerMisbehaved),
//!   which is sent to the peer so both sides show the same reason.
//! - **ignored**: well-formed messages this side does not act on now —
//!   screen, cursor and annotation messages before the customer granted a
//!   mode that shows them, a screenshot request while sharing is paused, a
//!   drawing over the annotation budget. They can cross a change of state
//!   honestly, so they never end the session.

use std::collections::VecDeque;
use std::time::Duration;
use web_time::Instant;

/// Malformed messages tolerated within [`MALFORMED_WINDOW`]; one more ends the session.
pub const MAX_MALFORMED: usize = 100;
/// The sliding window of the malformed-message cut-off (session clock).
pub const MALFORMED_WINDOW: Duration = Duration::from_secs(10);

/// What the peer sent that this side dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DroppedStats {
    /// Messages that did not decode or broke the protocol (see the module docs).
    pub malformed: u64,
    /// Well-formed messages not acted on in the current state (before consent, while paused).
    pub ignored: u64,
}

/// What recording a malformed message means for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The first one of the session: tell the application once.
    First,
    /// Counted; nothing else to do.
    Counted,
    /// Over the cut-off: end the session.
    Exceeded,
}

/// The counters and the sliding window.
#[derive(Debug, Default)]
pub(crate) struct AbuseMeter {
    stats: DroppedStats,
    /// Times of the latest malformed messages, at most `MAX_MALFORMED + 1`.
    recent: VecDeque<Instant>,
}

impl AbuseMeter {
    pub(crate) fn stats(&self) -> DroppedStats {
        self.stats
    }

    /// Counts a well-formed message that was not acted on.
    pub(crate) fn ignored(&mut self) {
        self.stats.ignored += 1;
    }

    /// Counts a malformed message received at `now`.
    pub(crate) fn malformed(&mut self, now: Instant) -> Verdict {
        self.stats.malformed += 1;
        self.recent.push_back(now);
        while self.recent.len() > MAX_MALFORMED + 1 {
            self.recent.pop_front();
        }
        let exceeded = self.recent.len() > MAX_MALFORMED
            && self
                .recent
                .front()
                .is_some_and(|first| now.saturating_duration_since(*first) < MALFORMED_WINDOW);
        if exceeded {
            Verdict::Exceeded
        } else if self.stats.malformed == 1 {
            Verdict::First
        } else {
            Verdict::Counted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_trickle_never_trips_a_burst_does() {
        let t0 = Instant::now();
        let mut meter = AbuseMeter::default();
        assert_eq!(meter.malformed(t0), Verdict::First);
        // One every 100 ms forever: 100 per 10 s at most, never more.
        for i in 1..1_000u64 {
            let v = meter.malformed(t0 + Duration::from_millis(100 * i));
            assert_eq!(v, Verdict::Counted, "message {i}");
        }
        // Then 101 within a second.
        let t1 = t0 + Duration::from_secs(1_000);
        let verdicts: Vec<_> = (0..=MAX_MALFORMED as u64)
            .map(|i| meter.malformed(t1 + Duration::from_millis(i)))
            .collect();
        assert!(verdicts[..MAX_MALFORMED]
            .iter()
            .all(|v| *v == Verdict::Counted));
        assert_eq!(verdicts[MAX_MALFORMED], Verdict::Exceeded);
        assert_eq!(meter.stats().malformed, 1_000 + 101);
        meter.ignored();
        assert_eq!(meter.stats().ignored, 1);
    }
}
