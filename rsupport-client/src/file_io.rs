//! Runs the files channel's disk IO ([`FileIoRequest`]s) on tokio's
//! blocking workers, never on the connection task, and brings the results
//! back to it. Several requests of a session run at once — reads ahead of
//! sending, writes behind receiving, syncs beside them — so disk latency
//! overlaps the network instead of stalling the task that moves input and
//! frames; the files state machine orders what must not overlap.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::TaskCommand;
use crate::storage;
use crate::{ClientError, NotAllowed};
use rsupport_core::files::{FileIoRequest, IoId, IoResult};
use rsupport_core::session::Session;

/// Requests in flight per session: enough to cover the read-ahead and
/// write-behind of the default 1 MiB window in 128 KiB chunks, small enough that a
/// burst never occupies the blocking pool.
const IN_FLIGHT_PER_SESSION: usize = 24;

/// A finished request.
pub(crate) struct Completed {
    pub(crate) session: u64,
    pub(crate) id: IoId,
    pub(crate) result: IoResult,
}

/// Where results come back, and how many each session has in flight.
pub(crate) struct FileWorkers {
    tx: mpsc::UnboundedSender<Completed>,
    pub(crate) done: mpsc::UnboundedReceiver<Completed>,
    in_flight: HashMap<u64, usize>,
}

impl FileWorkers {
    pub(crate) fn new() -> Self {
        let (tx, done) = mpsc::unbounded_channel();
        FileWorkers {
            tx,
            done,
            in_flight: HashMap::new(),
        }
    }

    /// Starts the session's pending requests, up to the per-session cap.
    pub(crate) fn start(&mut self, session_id: u64, session: &mut Session) {
        let n = self.in_flight.entry(session_id).or_default();
        while *n < IN_FLIGHT_PER_SESSION {
            let Some(FileIoRequest { id, io }) = session.poll_io() else {
                break;
            };
            *n += 1;
            let tx = self.tx.clone();
            tokio::task::spawn_blocking(move || {
                let result = storage::execute(&io);
                // The task may be gone (session over): nothing to tell.
                let _ = tx.send(Completed {
                    session: session_id,
                    id,
                    result,
                });
            });
        }
    }

    /// Passes a finished request, and whatever else finished meanwhile, to
    /// `feed` (session, request, result, now), which hands it to the
    /// session if it still exists.
    pub(crate) fn deliver(
        &mut self,
        first: Completed,
        mut feed: impl FnMut(u64, IoId, IoResult, Instant),
    ) {
        let now = Instant::now();
        let mut next = Some(first);
        while let Some(done) = next {
            if let Some(n) = self.in_flight.get_mut(&done.session) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.in_flight.remove(&done.session);
                }
            }
            feed(done.session, done.id, done.result, now);
            next = self.done.try_recv().ok();
        }
    }
}

/// Walks a local file or folder tree for an offer on a blocking worker
/// (a large tree takes a while), then hands the entries to the connection
/// task as [`TaskCommand::OfferEntries`]; a walk that fails answers `reply`
/// directly.
pub(crate) fn offer_later(
    session: u64,
    path: PathBuf,
    reply: oneshot::Sender<Result<u64, ClientError>>,
    tasks: mpsc::UnboundedSender<TaskCommand>,
) {
    tokio::spawn(async move {
        let shown = path.display().to_string();
        let walked = tokio::task::spawn_blocking(move || storage::entries_from_path(&path)).await;
        match walked {
            Ok(Ok(entries)) => {
                let command = TaskCommand::OfferEntries {
                    session,
                    entries,
                    reply,
                };
                // A send fails only when the task is gone: the handle sees it.
                let _ = tasks.send(command);
            }
            Ok(Err(e)) => {
                let _ = reply.send(Err(ClientError::NotAllowed(NotAllowed::FileOffer {
                    path: shown,
                    detail: e.to_string(),
                })));
            }
            Err(_) => {
                let _ = reply.send(Err(ClientError::NotAllowed(NotAllowed::FileOffer {
                    path: shown,
                    detail: "listing the files failed".into(),
                })));
            }
        }
    });
}
