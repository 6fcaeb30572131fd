//! Which offers the receiver takes on (SECURITY M6, M7): a bounded number
//! and size of offers waiting for the user, which expire; a per-session
//! limit on the bytes accepted; and a free-space check in the destination
//! before the first byte is written.

use std::path::Path;
use std::sync::Arc;
use web_time::Instant;

use rsupport_proto::files::{FileMessage, FileOffer};

use super::{accept_msg, Ctx, Incoming};
use crate::files::io::{FileIo, IoDone, IoResult};
use crate::files::partial_ops::{OpKind, OpTag};
use crate::files::FileEvent;

/// Declined or finished transfer ids remembered (so a repeated offer after
/// a reconnect is not shown again); the oldest are forgotten past this.
const MAX_CLOSED: usize = 4096;
/// What one entry of a waiting offer costs besides its path, in bytes.
const ENTRY_OVERHEAD: usize = 64;

/// Bytes an offer's metadata takes while it waits for an answer.
pub(super) fn offer_bytes(offer: &FileOffer) -> usize {
    offer.entries.iter().fold(0usize, |sum, e| {
        sum.saturating_add(e.path.len())
            .saturating_add(ENTRY_OVERHEAD)
    })
}

impl Incoming {
    /// Whether another waiting offer of `bytes` fits; counts a refusal.
    pub(super) fn room_for_offer(&mut self, bytes: usize, cx: &Ctx<'_>) -> bool {
        let waiting = self.transfers.values().filter(|t| t.dest.is_none());
        let (count, total) = waiting.fold((0usize, 0usize), |(n, b), t| {
            (n + 1, b.saturating_add(t.offer_bytes))
        });
        let fits = count < cx.config.max_pending_offers
            && total.saturating_add(bytes) <= cx.config.max_pending_offer_bytes;
        if !fits {
            self.refused_offers += 1;
        }
        fits
    }

    /// Offers refused because too many were waiting for an answer.
    pub(crate) fn refused_offers(&self) -> u64 {
        self.refused_offers
    }

    /// Remembers a closed transfer id, forgetting the oldest past a bound.
    pub(super) fn close_id(&mut self, transfer_id: u64) {
        if self.closed.insert(transfer_id) {
            self.closed_order.push_back(transfer_id);
        }
        while self.closed_order.len() > MAX_CLOSED {
            if let Some(old) = self.closed_order.pop_front() {
                self.closed.remove(&old);
            }
        }
    }

    /// The user (or the auto-accept policy) accepted: checks the session
    /// limit now and the free space through the executor; the transfer
    /// starts when the answer comes ([`Self::space_checked`]).
    pub(super) fn admit(&mut self, transfer_id: u64, dest: Arc<Path>, cx: &mut Ctx<'_>) -> bool {
        let Some(t) = self
            .transfers
            .get_mut(&transfer_id)
            .filter(|t| t.dest.is_none() && t.checking.is_none())
        else {
            return false;
        };
        let need = t.offer.total_size();
        let limit = cx.config.max_received_bytes;
        if self.reserved.saturating_add(need) > limit {
            let left = limit.saturating_sub(self.reserved);
            let reason = format!(
                "the files ({}) are more than this session may still receive ({} of {}); \
                 send fewer or smaller files, or start a new session",
                bytes(need),
                bytes(left),
                bytes(limit)
            );
            self.refuse(transfer_id, &reason, cx);
            return false;
        }
        self.reserved = self.reserved.saturating_add(need);
        t.checking = Some(Arc::clone(&dest));
        let tag = OpTag {
            transfer_id,
            entry: 0,
            epoch: 0,
            kind: OpKind::FreeSpace,
        };
        self.ops.issue(cx.io, FileIo::FreeSpace { root: dest }, tag);
        true
    }

    /// The free-space answer for `transfer_id`.
    pub(super) fn space_checked(&mut self, transfer_id: u64, result: IoResult, cx: &mut Ctx<'_>) {
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return; // cancelled meanwhile
        };
        let Some(dest) = t.checking.take() else {
            return;
        };
        let need = t.offer.total_size();
        let refusal = match result {
            Ok(IoDone::Len(free)) if free < need => Some(format!(
                "not enough free space on the receiving side: the files need {}, {} is free",
                bytes(need),
                bytes(free)
            )),
            Err(e) if e.kind() != Some(std::io::ErrorKind::Unsupported) => Some(format!(
                "the receiving side could not check its free space: {e}"
            )),
            _ => None,
        };
        if let Some(reason) = refusal {
            return self.refuse(transfer_id, &reason, cx);
        }
        t.dest = Some(dest);
        t.meter.restart(cx.now);
        self.control.push_back(accept_msg(transfer_id));
        self.queue.push_back(transfer_id);
        self.advance(cx);
    }

    /// Refuses a transfer that has not started: the peer gets `reason`, the
    /// user an [`FileEvent::OfferRefused`].
    pub(super) fn refuse(&mut self, transfer_id: u64, reason: &str, cx: &mut Ctx<'_>) {
        if let Some(t) = self.transfers.remove(&transfer_id) {
            if t.checking.is_some() {
                self.reserved = self.reserved.saturating_sub(t.offer.total_size());
            }
        }
        self.close_id(transfer_id);
        self.control.push_back(FileMessage::Answer {
            transfer_id,
            accept: false,
            reason: reason.to_owned(),
        });
        cx.events.push_back(FileEvent::OfferRefused {
            transfer_id,
            reason: reason.to_owned(),
        });
    }

    /// When the oldest waiting offer expires.
    pub(super) fn next_offer_expiry(&self, cx_timeout: std::time::Duration) -> Option<Instant> {
        self.transfers
            .values()
            .filter(|t| t.dest.is_none() && t.checking.is_none())
            .map(|t| t.offered_at + cx_timeout)
            .min()
    }

    /// Declines offers nobody answered in time.
    pub(super) fn expire_offers(&mut self, cx: &mut Ctx<'_>) {
        let timeout = cx.config.offer_timeout;
        let due: Vec<u64> = self
            .transfers
            .iter()
            .filter(|(_, t)| t.dest.is_none() && t.checking.is_none())
            .filter(|(_, t)| cx.now >= t.offered_at + timeout)
            .map(|(id, _)| *id)
            .collect();
        for transfer_id in due {
            let reason = format!(
                "nobody answered the offer within {} minutes",
                timeout.as_secs() / 60
            );
            self.refuse(transfer_id, &reason, cx);
        }
    }
}

/// A byte count for people: "512 bytes", "3.2 MiB", "4.0 GiB".
fn bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = "KiB";
    for next in ["MiB", "GiB", "TiB"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}
