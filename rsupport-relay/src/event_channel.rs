//! The bounded channel from connection readers to the broker thread (M2).
//!
//! It used to be an unbounded `std::sync::mpsc`, so a slow broker (SQLite,
//! password hashing) let queued messages grow without limit. Now a reader
//! whose message does not fit waits (asynchronously, not blocking a runtime
//! thread) until the broker takes one: it stops reading its socket, and TCP
//! pushes back on the peer. Session frames never pass through here, so a
//! busy broker does not slow running sessions.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// How many events may wait for the broker: enough to absorb bursts, small
/// enough that a stalled broker holds little (each event is at most one
/// decoded 64 KiB relay frame).
pub(crate) const EVENT_QUEUE_CAPACITY: usize = 1024;

/// The broker thread is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// The readers' end.
#[derive(Debug)]
pub(crate) struct EventTx<T> {
    tx: SyncSender<T>,
    room: Arc<Notify>,
}

impl<T> Clone for EventTx<T> {
    fn clone(&self) -> Self {
        EventTx {
            tx: self.tx.clone(),
            room: self.room.clone(),
        }
    }
}

/// The broker thread's end.
#[derive(Debug)]
pub(crate) struct EventRx<T> {
    rx: Receiver<T>,
    room: Arc<Notify>,
}

/// A channel holding at most `capacity` events.
pub(crate) fn channel<T>(capacity: usize) -> (EventTx<T>, EventRx<T>) {
    let (tx, rx) = mpsc::sync_channel(capacity);
    let room = Arc::new(Notify::new());
    (
        EventTx {
            tx,
            room: room.clone(),
        },
        EventRx { rx, room },
    )
}

impl<T> EventTx<T> {
    /// Sends `event`, waiting while the channel is full.
    pub(crate) async fn send(&self, mut event: T) -> Result<(), Closed> {
        loop {
            // Registered before trying, so a `recv` between the try and the
            // wait is not missed.
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.tx.try_send(event) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(back)) => event = back,
                Err(TrySendError::Disconnected(_)) => return Err(Closed),
            }
            notified.await;
        }
    }
}

impl<T> EventTx<T> {
    /// Sends `event` from a plain thread (the password workers), blocking
    /// while the channel is full. The broker never waits for those threads,
    /// so this cannot deadlock.
    pub(crate) fn blocking_send(&self, event: T) -> Result<(), Closed> {
        self.tx.send(event).map_err(|_| Closed)
    }
}

impl<T> EventRx<T> {
    /// The next event, waiting at most `wait`; wakes senders waiting for room.
    pub(crate) fn recv_timeout(&self, wait: Duration) -> Result<T, RecvTimeoutError> {
        let got = self.rx.recv_timeout(wait);
        if got.is_ok() {
            self.room.notify_waiters();
        }
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_full_channel_makes_the_sender_wait_until_the_broker_takes_one() {
        let (tx, rx) = channel::<u32>(2);
        for i in 0..2 {
            let send = tx.send(i);
            tokio::pin!(send);
            assert_eq!(poll_once(send.as_mut()), Poll::Ready(Ok(())));
        }
        let third = tx.send(2);
        tokio::pin!(third);
        // Full: the reader waits instead of growing memory.
        assert_eq!(poll_once(third.as_mut()), Poll::Pending);
        assert_eq!(poll_once(third.as_mut()), Poll::Pending);
        assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(0));
        assert_eq!(poll_once(third.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(1));
        assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(2));
        drop(rx);
        let gone = tx.send(3);
        tokio::pin!(gone);
        assert_eq!(poll_once(gone.as_mut()), Poll::Ready(Err(Closed)));
    }
}
