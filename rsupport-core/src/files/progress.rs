//! Progress of a transfer: bytes, rate over a sliding window, ETA — all
//! computed from the `now` the caller passes in.

use std::collections::VecDeque;
use std::time::Duration;
use web_time::Instant;

use super::Direction;

/// How far a transfer has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Transfer.
    pub transfer_id: u64,
    /// Whether we send or receive it.
    pub direction: Direction,
    /// Bytes confirmed: acknowledged by the receiver (sending) or written
    /// (receiving).
    pub bytes_done: u64,
    /// Sum of the offer's sizes.
    pub bytes_total: u64,
    /// Recent rate in bytes per second (over the last [`RATE_WINDOW`]).
    pub bytes_per_second: u64,
    /// Estimated time left at the recent rate; `None` until a rate is known.
    pub eta: Option<Duration>,
}

/// The span over which the rate is averaged.
pub const RATE_WINDOW: Duration = Duration::from_secs(3);

/// Samples of (time, bytes done) for one transfer.
#[derive(Debug)]
pub(crate) struct ProgressMeter {
    samples: VecDeque<(Instant, u64)>,
    last_emitted: Option<Instant>,
}

impl ProgressMeter {
    pub(crate) fn new(now: Instant) -> Self {
        let mut samples = VecDeque::new();
        samples.push_back((now, 0));
        ProgressMeter {
            samples,
            last_emitted: None,
        }
    }

    /// Records that `bytes_done` bytes are done at `now`.
    pub(crate) fn record(&mut self, now: Instant, bytes_done: u64) {
        if let Some(last) = self.samples.back_mut() {
            if last.0 == now {
                last.1 = bytes_done;
                return;
            }
        }
        self.samples.push_back((now, bytes_done));
        // Keep one sample at or before the window start as the base.
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|s| now.saturating_duration_since(s.0) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Forgets the rate history (after a reconnect the old rate means nothing)
    /// while keeping the byte count.
    pub(crate) fn restart(&mut self, now: Instant) {
        let done = self.samples.back().map_or(0, |s| s.1);
        self.samples.clear();
        self.samples.push_back((now, done));
    }

    fn rate(&self) -> u64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(first), Some(last)) if last.0 > first.0 => {
                let secs = last.0.duration_since(first.0).as_secs_f64();
                (last.1.saturating_sub(first.1) as f64 / secs) as u64
            }
            _ => 0,
        }
    }

    /// A snapshot if one is due (at most one per `interval`, plus always when
    /// `force`, e.g. at the end).
    pub(crate) fn poll(
        &mut self,
        now: Instant,
        interval: Duration,
        force: bool,
        transfer_id: u64,
        direction: Direction,
        bytes_total: u64,
    ) -> Option<Progress> {
        let due = force
            || self
                .last_emitted
                .is_none_or(|t| now.saturating_duration_since(t) >= interval);
        if !due {
            return None;
        }
        self.last_emitted = Some(now);
        Some(self.snapshot(transfer_id, direction, bytes_total))
    }

    pub(crate) fn snapshot(
        &self,
        transfer_id: u64,
        direction: Direction,
        bytes_total: u64,
    ) -> Progress {
        let bytes_done = self.samples.back().map_or(0, |s| s.1);
        let rate = self.rate();
        let left = bytes_total.saturating_sub(bytes_done);
        let eta = if left == 0 {
            Some(Duration::ZERO)
        } else if rate > 0 {
            Some(Duration::from_secs_f64(left as f64 / rate as f64))
        } else {
            None
        };
        Progress {
            transfer_id,
            direction,
            bytes_done,
            bytes_total,
            bytes_per_second: rate,
            eta,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_eta_follow_the_virtual_clock() {
        let t0 = Instant::now();
        let mut m = ProgressMeter::new(t0);
        assert_eq!(m.snapshot(1, Direction::Send, 1000).eta, None);
        m.record(t0 + Duration::from_secs(1), 100);
        m.record(t0 + Duration::from_secs(2), 200);
        let p = m.snapshot(1, Direction::Send, 1000);
        assert_eq!(p.bytes_per_second, 100);
        assert_eq!(p.eta, Some(Duration::from_secs(8)));
        // Only the last RATE_WINDOW counts: after a speed-up the rate is the new one.
        for s in 3..=9 {
            m.record(t0 + Duration::from_secs(s), s * 100);
        }
        for s in 10..=13 {
            m.record(t0 + Duration::from_secs(s), 900 + (s - 9) * 500);
        }
        let p = m.snapshot(1, Direction::Send, 10_000);
        assert_eq!(p.bytes_per_second, 500);
        assert_eq!(p.eta, Some(Duration::from_millis(14_200))); // 7100 B left at 500 B/s
        m.record(t0 + Duration::from_secs(14), 10_000);
        assert_eq!(
            m.snapshot(1, Direction::Send, 10_000).eta,
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn poll_is_throttled() {
        let t0 = Instant::now();
        let mut m = ProgressMeter::new(t0);
        let i = Duration::from_millis(250);
        assert!(m.poll(t0, i, false, 1, Direction::Receive, 10).is_some());
        assert!(m
            .poll(
                t0 + Duration::from_millis(100),
                i,
                false,
                1,
                Direction::Receive,
                10
            )
            .is_none());
        assert!(m
            .poll(
                t0 + Duration::from_millis(100),
                i,
                true,
                1,
                Direction::Receive,
                10
            )
            .is_some());
        assert!(m
            .poll(
                t0 + Duration::from_millis(400),
                i,
                false,
                1,
                Direction::Receive,
                10
            )
            .is_some());
    }
}
