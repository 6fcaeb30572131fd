//! Password work off the broker thread.
//!
//! Argon2 costs tens of milliseconds and megabytes per call, on purpose. The
//! broker handles every relay-control message of every connection on one
//! thread, so it never hashes: it hands a [`PasswordJob`] out as
//! [`Output::CheckPassword`](crate::Output::CheckPassword), and the driver
//! runs it on a [`PasswordPool`] — a few fixed worker threads with a bounded
//! queue — and feeds the [`PasswordOutcome`] back with
//! [`Broker::handle_password_checked`](crate::Broker::handle_password_checked).
//! When the queue is full the driver answers [`PasswordOutcome::Busy`] at
//! once: the login is refused as "busy" and nothing is hashed, so a flood of
//! logins costs the relay a bounded amount of memory and CPU.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use rsupport_proto::relay::Secret;

use crate::auth::{Argon2Params, PasswordHasher};

/// Which queue a job waits in. Logins from sources where the account logged
/// in before, and password changes by a logged-in user, go first, so an
/// attacker's flood from elsewhere cannot starve the account's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPriority {
    /// A known source, or a logged-in user.
    Known,
    /// Everyone else.
    Unknown,
}

/// One password verification (and, on a match, maybe one new hash).
/// `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct PasswordJob {
    /// The broker's number for this job; give it back with the outcome.
    pub id: u64,
    /// Which queue it waits in.
    pub priority: JobPriority,
    pub(crate) password: Secret<String>,
    /// The PHC string to verify against (a dummy one for unknown users).
    pub(crate) hash: Secret<String>,
    /// After a match, hash this new password (a password change).
    pub(crate) new_password: Option<Secret<String>>,
    /// Verify nothing, only hash `new_password` (an admin setting one).
    pub(crate) hash_only: bool,
    /// After a match, re-hash the password when its stored cost is not the
    /// configured one (so all hashes, and the dummy one, cost the same).
    pub(crate) rehash_outdated: bool,
    pub(crate) params: Argon2Params,
    pub(crate) salt: [u8; 16],
}

/// What a [`PasswordJob`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordOutcome {
    /// The job ran.
    Checked {
        /// The password matched the hash.
        matched: bool,
        /// On a match: the new hash to store (a password change, or the
        /// old password at the configured cost).
        new_hash: Option<Secret<String>>,
    },
    /// The queue was full; nothing was hashed.
    Busy,
}

impl PasswordJob {
    /// Runs the job on the calling thread (a worker, or a test).
    pub fn run(&self) -> PasswordOutcome {
        let matched = self.hash_only
            || PasswordHash::new(self.hash.expose()).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(self.password.expose().as_bytes(), &parsed)
                    .is_ok()
            });
        let hasher = || PasswordHasher::with_params(self.params);
        let new_hash = match (&self.new_password, matched) {
            (_, false) => None,
            (Some(new), true) => Some(hasher().hash_with_salt(new.expose(), self.salt)),
            (None, true) => {
                let h = hasher();
                (self.rehash_outdated && h.needs_rehash(self.hash.expose()))
                    .then(|| h.hash_with_salt(self.password.expose(), self.salt))
            }
        };
        PasswordOutcome::Checked {
            matched,
            new_hash: new_hash.filter(|h| !h.is_empty()).map(Secret::new),
        }
    }
}

/// The worker count used when the setting is 0: one per core, leaving one
/// core for the broker and the connections.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

type Deliver = Box<dyn Fn(u64, PasswordOutcome) + Send + Sync>;

#[derive(Default)]
struct Queues {
    known: VecDeque<PasswordJob>,
    unknown: VecDeque<PasswordJob>,
    stopping: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    limit: usize,
    /// Taken out by [`PasswordPool::stop`], so whatever it holds (the
    /// driver's channel to the broker) is released even while the pool
    /// itself is still shared.
    deliver: Mutex<Option<Deliver>>,
}

/// A fixed set of worker threads running [`PasswordJob`]s, known sources
/// first, with at most `queue_limit` jobs waiting. [`PasswordPool::stop`]
/// (or dropping it) stops the workers once they finish the job in hand.
pub struct PasswordPool {
    shared: Arc<Shared>,
    workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for PasswordPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPool")
            .field("workers", &self.workers.lock().map_or(0, |w| w.len()))
            .field("queue_limit", &self.shared.limit)
            .finish()
    }
}

impl PasswordPool {
    /// Starts `workers` threads (at least one); each outcome is handed to
    /// `deliver` on the worker's thread.
    pub fn start(
        workers: usize,
        queue_limit: usize,
        deliver: impl Fn(u64, PasswordOutcome) + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
            limit: queue_limit,
            deliver: Mutex::new(Some(Box::new(deliver))),
        });
        let pool = PasswordPool {
            shared,
            workers: Mutex::new(Vec::new()),
        };
        for n in 0..workers.max(1) {
            let shared = pool.shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("relay-password-{n}"))
                .spawn(move || work(&shared))?;
            pool.workers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(handle);
        }
        Ok(pool)
    }

    /// Stops the workers (after the job in hand; waiting jobs are dropped),
    /// waits for them, and releases the delivery function. Later
    /// [`PasswordPool::submit`]s give their job back.
    pub fn stop(&self) {
        lock(&self.shared.queues).stopping = true;
        self.shared.ready.notify_all();
        let workers: Vec<_> = self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for w in workers {
            let _ = w.join();
        }
        self.shared
            .deliver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// Queues `job`, or gives it back when `queue_limit` jobs wait already.
    #[allow(clippy::result_large_err)] // the caller needs the job back, not a copy
    pub fn submit(&self, job: PasswordJob) -> Result<(), PasswordJob> {
        let mut q = lock(&self.shared.queues);
        if q.stopping || q.known.len() + q.unknown.len() >= self.shared.limit {
            return Err(job);
        }
        match job.priority {
            JobPriority::Known => q.known.push_back(job),
            JobPriority::Unknown => q.unknown.push_back(job),
        }
        drop(q);
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl Drop for PasswordPool {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(m: &Mutex<Queues>) -> std::sync::MutexGuard<'_, Queues> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn work(shared: &Shared) {
    loop {
        let job = {
            let mut q = lock(&shared.queues);
            loop {
                if q.stopping {
                    return;
                }
                if let Some(job) = q.known.pop_front().or_else(|| q.unknown.pop_front()) {
                    break job;
                }
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let outcome = job.run();
        let deliver = shared.deliver.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(deliver) = deliver.as_ref() {
            deliver(job.id, outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn job(id: u64, priority: JobPriority, hash: &str, password: &str) -> PasswordJob {
        PasswordJob {
            id,
            priority,
            password: Secret::new(password.into()),
            hash: Secret::new(hash.into()),
            new_password: None,
            hash_only: false,
            rehash_outdated: false,
            params: Argon2Params::insecure_fast(),
            salt: [1; 16],
        }
    }

    #[test]
    fn a_full_queue_gives_the_job_back_and_known_jobs_go_first() {
        let h = PasswordHasher::with_params(Argon2Params::insecure_fast());
        let hash = h.hash_with_salt("violet-kettle-harbor-92", [3; 16]);
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let g = gate.clone();
        // One worker, blocked on the gate inside its first delivery, so
        // the queue fills behind it.
        let pool = PasswordPool::start(1, 2, move |id, outcome| {
            let _wait = g.lock().unwrap();
            let _ = tx.lock().unwrap().send((id, outcome));
        })
        .unwrap();
        pool.submit(job(1, JobPriority::Unknown, &hash, "x"))
            .unwrap();
        // Wait until the worker took job 1 (the queue is empty again).
        while !lock(&pool.shared.queues).unknown.is_empty() {
            std::thread::yield_now();
        }
        pool.submit(job(2, JobPriority::Unknown, &hash, "x"))
            .unwrap();
        pool.submit(job(3, JobPriority::Known, &hash, "violet-kettle-harbor-92"))
            .unwrap();
        let refused = pool
            .submit(job(4, JobPriority::Known, &hash, "x"))
            .unwrap_err();
        assert_eq!(refused.id, 4);
        drop(held);
        let order: Vec<(u64, PasswordOutcome)> = (0..3).map(|_| rx.recv().unwrap()).collect();
        let ids: Vec<u64> = order.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 3, 2], "the known source's job jumps the queue");
        assert!(matches!(
            order[1].1,
            PasswordOutcome::Checked { matched: true, .. }
        ));
    }

    #[test]
    fn a_match_rehashes_outdated_costs_and_a_change_hashes_the_new_password() {
        let mut slow = Argon2Params::insecure_fast();
        slow.t_cost = 2;
        let old =
            PasswordHasher::with_params(slow).hash_with_salt("violet-kettle-harbor-92", [3; 16]);
        let mut j = job(1, JobPriority::Known, &old, "violet-kettle-harbor-92");
        j.rehash_outdated = true;
        let PasswordOutcome::Checked {
            matched: true,
            new_hash: Some(h),
        } = j.run()
        else {
            panic!("expected a re-hash");
        };
        assert!(
            !PasswordHasher::with_params(Argon2Params::insecure_fast()).needs_rehash(h.expose())
        );
        j.new_password = Some(Secret::new("amber-lantern-quiet-17".into()));
        let PasswordOutcome::Checked {
            new_hash: Some(h), ..
        } = j.run()
        else {
            panic!("expected the new hash");
        };
        assert!(PasswordHasher::with_params(slow).verify("amber-lantern-quiet-17", h.expose()));
        j.password = Secret::new("wrong".into());
        assert_eq!(
            j.run(),
            PasswordOutcome::Checked {
                matched: false,
                new_hash: None
            }
        );
    }
}
