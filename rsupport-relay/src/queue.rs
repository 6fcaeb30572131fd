//! Per-connection outgoing queue: one FIFO per priority rank, a byte budget,
//! and the close request. Control and input frames overtake queued bulk data.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use rsupport_proto::envelope::Priority;
use rsupport_proto::framing::HEADER_LEN;
use rsupport_proto::CloseReason;
use tokio::sync::Notify;

use super::memory::Charge;

/// Most bytes of the relay's own messages (replies, pongs, errors) queued
/// towards one connection. A peer that sends requests and never reads the
/// replies is closed as a slow consumer long before `queue_hard_bytes`
/// (M8); a reader keeps far below this (the largest reply is one 64 KiB
/// relay frame).
pub(crate) const CONTROL_QUEUE_MAX: usize = 256 * 1024;

/// A frame waiting to be written: header plus a slice of the frame it came in.
#[derive(Debug)]
pub(crate) struct QueuedFrame {
    pub(crate) header: [u8; HEADER_LEN],
    pub(crate) body: Bytes,
    /// The relay's own message (counted against [`CONTROL_QUEUE_MAX`]).
    control: bool,
}

impl QueuedFrame {
    fn len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; the receiver keeps up.
    Queued,
    /// Queued, but the queue is over its soft limit: pause the sender.
    Throttle,
    /// The queue was over its hard limit: the receiver is being closed as a slow consumer.
    Overflow,
    /// The receiver is closing; the frame was dropped.
    Closed,
}

#[derive(Debug, Default)]
struct State {
    ranks: [VecDeque<QueuedFrame>; Priority::COUNT],
    bytes: usize,
    /// Of `bytes`, the relay's own messages.
    control_bytes: usize,
    close: Option<(CloseReason, String)>,
}

/// What the writer gets next.
#[derive(Debug)]
pub(crate) enum Next {
    /// Write this frame.
    Frame(QueuedFrame),
    /// Nothing queued right now: flush.
    Idle,
    /// Send `Close` with this reason and hang up.
    Close(CloseReason, String),
}

/// The outgoing queue of one connection.
#[derive(Debug)]
pub(crate) struct OutQueue {
    state: Mutex<State>,
    soft: usize,
    hard: usize,
    /// Wakes the writer.
    ready: Notify,
    /// Wakes throttled senders and the reader waiting for close.
    space: Notify,
    /// This connection's share of the relay's memory budget.
    charge: Charge,
}

impl OutQueue {
    #[cfg(test)]
    pub(crate) fn new(soft: usize, hard: usize) -> Self {
        Self::with_charge(soft, hard, Charge::unlimited())
    }

    /// A queue whose bytes are charged to `charge`.
    pub(crate) fn with_charge(soft: usize, hard: usize, charge: Charge) -> Self {
        OutQueue {
            state: Mutex::new(State::default()),
            soft,
            hard: hard.max(soft),
            ready: Notify::new(),
            space: Notify::new(),
            charge,
        }
    }

    /// The connection's share of the memory budget (its reader charges its
    /// read buffer here too).
    pub(crate) fn charge(&self) -> &Charge {
        &self.charge
    }

    /// Queues one of the relay's own messages at the most urgent rank. A
    /// peer that lets [`CONTROL_QUEUE_MAX`] of them pile up is not reading:
    /// it is closed as a slow consumer.
    pub(crate) fn push_control(&self, header: [u8; HEADER_LEN], body: Bytes) -> Pushed {
        let len = HEADER_LEN + body.len();
        {
            let mut s = self.lock();
            if s.close.is_none() && s.control_bytes > 0 && s.control_bytes + len > CONTROL_QUEUE_MAX
            {
                s.close = Some((
                    CloseReason::SlowConsumer,
                    "not reading the relay's replies".into(),
                ));
                drop(s);
                self.wake_all();
                return Pushed::Overflow;
            }
        }
        self.push_frame(
            0,
            QueuedFrame {
                header,
                body,
                control: true,
            },
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue inconsistent
        // (every update is a single push/pop), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame at `rank` (0 = most urgent).
    pub(crate) fn push(&self, rank: usize, header: [u8; HEADER_LEN], body: Bytes) -> Pushed {
        let frame = QueuedFrame {
            header,
            body,
            control: false,
        };
        self.push_frame(rank, frame)
    }

    fn push_frame(&self, rank: usize, frame: QueuedFrame) -> Pushed {
        let mut s = self.lock();
        if s.close.is_some() {
            return Pushed::Closed;
        }
        let len = frame.len();
        if s.bytes > 0 && s.bytes + len > self.hard {
            s.close = Some((CloseReason::SlowConsumer, "receive queue overflow".into()));
            drop(s);
            self.wake_all();
            return Pushed::Overflow;
        }
        s.bytes += len;
        if frame.control {
            s.control_bytes += len;
        }
        let over = s.bytes > self.soft;
        if let Some(q) = s.ranks.get_mut(rank.min(Priority::COUNT - 1)) {
            q.push_back(frame);
        }
        drop(s);
        // After the lock is released: going over budget may close queues.
        self.charge.add(len);
        self.ready.notify_one();
        if over {
            Pushed::Throttle
        } else {
            Pushed::Queued
        }
    }

    /// Asks the writer to send `Close` and hang up (the first reason wins).
    pub(crate) fn close(&self, reason: CloseReason, detail: &str) {
        let mut s = self.lock();
        if s.close.is_none() {
            s.close = Some((reason, detail.to_owned()));
        }
        drop(s);
        self.wake_all();
    }

    fn wake_all(&self) {
        self.ready.notify_one();
        self.space.notify_waiters();
    }

    /// Whether a close was requested.
    pub(crate) fn is_closing(&self) -> bool {
        self.lock().close.is_some()
    }

    /// Whether the queue is at or below its soft limit (or closing).
    pub(crate) fn has_room(&self) -> bool {
        let s = self.lock();
        s.close.is_some() || s.bytes <= self.soft
    }

    /// Bytes queued.
    #[cfg(test)]
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The next thing for the writer, without waiting. Queued frames go out
    /// before a close so a final `SessionEnded` is not lost, except for a slow
    /// consumer, whose backlog is dropped.
    pub(crate) fn next(&self) -> Next {
        let mut s = self.lock();
        if let Some((CloseReason::SlowConsumer, detail)) = &s.close {
            return Next::Close(CloseReason::SlowConsumer, detail.clone());
        }
        let frame = s.ranks.iter_mut().find_map(VecDeque::pop_front);
        match frame {
            Some(f) => {
                s.bytes -= f.len();
                if f.control {
                    s.control_bytes -= f.len();
                }
                let room = s.bytes <= self.soft;
                drop(s);
                self.charge.sub(f.len());
                if room {
                    self.space.notify_waiters();
                }
                Next::Frame(f)
            }
            None => match &s.close {
                Some((r, d)) => Next::Close(*r, d.clone()),
                None => Next::Idle,
            },
        }
    }

    /// Waits until there is something for the writer.
    pub(crate) async fn wait_ready(&self) {
        self.ready.notified().await;
    }

    /// Waits until the queue has room or is closing.
    pub(crate) async fn wait_room(&self) {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has_room() {
                return;
            }
            notified.await;
        }
    }

    /// Waits until a close is requested.
    pub(crate) async fn wait_closing(&self) {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closing() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Bytes {
        Bytes::from(vec![0u8; n])
    }

    #[test]
    fn control_overtakes_bulk() {
        let q = OutQueue::new(1 << 20, 1 << 21);
        q.push(4, [4; 5], body(10));
        q.push(4, [5; 5], body(10));
        q.push(0, [0; 5], body(10));
        q.push(1, [1; 5], body(10));
        let order: Vec<u8> = std::iter::from_fn(|| match q.next() {
            Next::Frame(f) => Some(f.header[0]),
            _ => None,
        })
        .collect();
        assert_eq!(order, vec![0, 1, 4, 5]);
        assert_eq!(q.queued_bytes(), 0);
    }

    #[test]
    fn soft_limit_throttles_and_hard_limit_closes() {
        let q = OutQueue::new(100, 200);
        assert_eq!(q.push(4, [0; 5], body(90)), Pushed::Queued);
        assert_eq!(q.push(4, [0; 5], body(50)), Pushed::Throttle);
        assert!(!q.has_room());
        assert_eq!(q.push(4, [0; 5], body(100)), Pushed::Overflow);
        assert!(matches!(
            q.next(),
            Next::Close(CloseReason::SlowConsumer, _)
        ));
        assert_eq!(q.push(0, [0; 5], body(1)), Pushed::Closed);
    }

    #[test]
    fn one_oversized_frame_fits_an_empty_queue() {
        let q = OutQueue::new(10, 20);
        assert_eq!(q.push(4, [0; 5], body(1000)), Pushed::Throttle);
        assert!(matches!(q.next(), Next::Frame(_)));
        assert!(q.has_room());
    }

    #[test]
    fn replies_the_peer_never_reads_close_it_long_before_the_hard_limit() {
        let q = OutQueue::new(1 << 20, 32 << 20);
        let pong = body(16);
        let mut pushed = 0usize;
        loop {
            match q.push_control([1; 5], pong.clone()) {
                Pushed::Queued | Pushed::Throttle => pushed += 21,
                Pushed::Overflow => break,
                Pushed::Closed => panic!("closed without overflow"),
            }
            assert!(
                pushed <= CONTROL_QUEUE_MAX,
                "control replies grew past the cap"
            );
        }
        assert!(matches!(
            q.next(),
            Next::Close(CloseReason::SlowConsumer, _)
        ));
        // Forwarded session frames are not control replies.
        let q = OutQueue::new(1 << 20, 32 << 20);
        q.push(0, [2; 5], body(CONTROL_QUEUE_MAX));
        assert_eq!(q.push_control([1; 5], pong), Pushed::Queued);
    }

    #[test]
    fn queued_frames_go_out_before_an_orderly_close() {
        let q = OutQueue::new(100, 200);
        q.push(0, [7; 5], body(1));
        q.close(CloseReason::Normal, "");
        assert!(matches!(q.next(), Next::Frame(_)));
        assert!(matches!(q.next(), Next::Close(CloseReason::Normal, _)));
    }
}
