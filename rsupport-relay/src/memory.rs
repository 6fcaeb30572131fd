//! The relay-wide memory budget for read buffers and send queues (M8).
//!
//! Each connection's bytes held (its read buffer and its out-queue) are
//! charged to one [`MemoryBudget`]. When the total passes
//! [`RelayConfig::memory_budget_bytes`](crate::RelayConfig::memory_budget_bytes),
//! the connection holding the most is closed as a slow consumer, then the
//! next, until the total is back under the budget.
//!
//! Why close rather than pause reads: most memory sits in the queues of
//! receivers that do not read. Pausing every reader would stop the senders
//! that could otherwise be told the receiver is gone, and would stall every
//! healthy session along with the one hogging memory. Closing the biggest
//! holder frees the most with the fewest victims, and it is almost always
//! the slow or malicious one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::broker::ConnId;

/// A connection that holds charged memory and can be closed to free it.
pub(crate) trait Holder: Send + Sync {
    /// Bytes it holds now.
    fn held(&self) -> usize;
    /// Whether it is already closing (its memory is on the way out).
    fn closing(&self) -> bool;
    /// Closes it to free its memory.
    fn shed(&self);
}

/// The relay-wide account.
pub(crate) struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
    /// The most ever charged at once (for tests and diagnostics).
    peak: AtomicUsize,
    holders: Mutex<HashMap<ConnId, Weak<dyn Holder>>>,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("limit", &self.limit)
            .field("used", &self.used())
            .finish_non_exhaustive()
    }
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            holders: Mutex::new(HashMap::new()),
        })
    }

    /// Bytes charged now, across every connection.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The most bytes ever charged at once.
    #[cfg(test)]
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn holders(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Weak<dyn Holder>>> {
        self.holders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists `conn` as a candidate for shedding.
    pub(crate) fn register(&self, conn: ConnId, holder: Weak<dyn Holder>) {
        self.holders().insert(conn, holder);
    }

    /// Takes `conn` off the list (it is gone).
    pub(crate) fn unregister(&self, conn: ConnId) {
        self.holders().remove(&conn);
    }

    /// A fresh, empty charge for one connection.
    pub(crate) fn charge(self: &Arc<Self>) -> Charge {
        Charge {
            budget: Some(self.clone()),
            held: AtomicUsize::new(0),
        }
    }

    /// Over budget: close the biggest holders until what the others hold
    /// fits. Connections already closing count as freed.
    fn shed(&self) {
        let mut victims: Vec<Arc<dyn Holder>> = Vec::new();
        {
            let holders = self.holders();
            let mut live: Vec<(usize, Arc<dyn Holder>)> = holders
                .values()
                .filter_map(Weak::upgrade)
                .filter(|h| !h.closing())
                .map(|h| (h.held(), h))
                .collect();
            let mut kept: usize = live.iter().map(|(n, _)| n).sum();
            live.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
            for (n, h) in live {
                if kept <= self.limit || n == 0 {
                    break;
                }
                kept -= n;
                victims.push(h);
            }
        }
        for v in victims {
            tracing::warn!(
                held = v.held(),
                "relay memory budget exceeded; closing the connection holding the most"
            );
            v.shed();
        }
    }
}

/// One connection's share of the budget. Dropping it gives back whatever
/// it still holds.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Option<Arc<MemoryBudget>>,
    held: AtomicUsize,
}

impl Charge {
    /// A charge not counted against any budget (queues in unit tests).
    #[cfg(test)]
    pub(crate) fn unlimited() -> Self {
        Charge {
            budget: None,
            held: AtomicUsize::new(0),
        }
    }

    /// Bytes this connection holds.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// `n` more bytes held; sheds the biggest holders when over budget.
    /// Never call with a lock held that [`Holder::shed`] takes.
    pub(crate) fn add(&self, n: usize) {
        self.held.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.budget {
            let used = b.used.fetch_add(n, Ordering::Relaxed).saturating_add(n);
            b.peak.fetch_max(used, Ordering::Relaxed);
            if used > b.limit {
                b.shed();
            }
        }
    }

    /// `n` bytes given back.
    pub(crate) fn sub(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::Relaxed);
        if let Some(b) = &self.budget {
            b.used.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Moves the charge for a buffer from `*was` to `now` bytes.
    pub(crate) fn track(&self, was: &mut usize, now: usize) {
        if now > *was {
            self.add(now - *was);
        } else if now < *was {
            self.sub(*was - now);
        }
        *was = now;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.used.fetch_sub(self.held(), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    struct Fake {
        charge: Charge,
        closed: AtomicBool,
    }

    impl Holder for Fake {
        fn held(&self) -> usize {
            self.charge.held()
        }
        fn closing(&self) -> bool {
            self.closed.load(Ordering::Relaxed)
        }
        fn shed(&self) {
            self.closed.store(true, Ordering::Relaxed);
        }
    }

    #[test]
    fn over_budget_the_biggest_holder_is_closed_first() {
        let budget = MemoryBudget::new(1000);
        let fakes: Vec<Arc<Fake>> = (0..3)
            .map(|i| {
                let f = Arc::new(Fake {
                    charge: budget.charge(),
                    closed: AtomicBool::new(false),
                });
                let weak: Weak<dyn Holder> = Arc::downgrade(&(f.clone() as Arc<dyn Holder>));
                budget.register(i, weak);
                f
            })
            .collect();
        fakes[0].charge.add(100);
        fakes[1].charge.add(700);
        fakes[2].charge.add(150);
        assert!(fakes.iter().all(|f| !f.closing()));
        fakes[2].charge.add(100); // 1050 > 1000
        assert!(fakes[1].closing(), "the biggest holder goes");
        assert!(!fakes[0].closing() && !fakes[2].closing());
        fakes[1].charge.sub(700);
        assert_eq!(budget.used(), 350);
        drop(fakes);
        assert_eq!(budget.used(), 0, "dropped charges give their bytes back");
    }
}
