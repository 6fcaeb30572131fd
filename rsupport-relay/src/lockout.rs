//! Failed-login bookkeeping that cannot lock anyone else out.
//!
//! Failures are counted per (account, [`Source`]): a source that keeps
//! failing for an account is slowed down and then refused for that account
//! only, while the owner logging in from anywhere else is not affected.
//! Across sources, an account under attack from many places (at least
//! [`UNKNOWN_SOURCE_FAILURES`] failures from unknown sources within
//! `lockout_ms`) gets at most one attempt per [`UNKNOWN_SOURCE_INTERVAL_MS`]
//! from unknown sources; sources where it logged in before ("known", kept in
//! the store) are never slowed by that. A source that fails for many user
//! names (password spraying) may then only try accounts it is known to.
//!
//! Unknown user names get the same bookkeeping as real ones, so the answers
//! never tell which names exist. The state is in memory and bounded; the
//! store's per-account `lockout_epoch` tells a running relay that someone
//! (an admin, or `rsupport-relay admin unblock` on the same database) lifted
//! the account's lockouts.

use std::collections::{HashMap, VecDeque};

use crate::Source;

/// Failures from one source after which the next attempt waits (1 s, then
/// doubling with each further failure).
pub(crate) const SLOWDOWN_AFTER: u32 = 2;
/// Failures of one account from unknown sources, within `lockout_ms`, after
/// which unknown sources share one attempt per [`UNKNOWN_SOURCE_INTERVAL_MS`].
pub(crate) const UNKNOWN_SOURCE_FAILURES: usize = 20;
/// See [`UNKNOWN_SOURCE_FAILURES`].
pub(crate) const UNKNOWN_SOURCE_INTERVAL_MS: u64 = 10_000;
/// A source where the account logged in within this long is "known".
pub(crate) const KNOWN_SOURCE_MS: u64 = 90 * 24 * 60 * 60 * 1000;
/// Most (account, source) and account entries kept; beyond, idle entries
/// are forgotten first, then the least recently used ones.
const MAX_ENTRIES: usize = 65_536;
/// An attempt whose outcome never came back stops blocking after this.
const STALE_IN_FLIGHT_MS: u64 = 60_000;
/// Idle entries are swept at most this often.
const SWEEP_EVERY_MS: u64 = 60_000;

/// The limits in force (from the run-time settings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Failures from one source before it is refused for the account.
    pub(crate) max_failures: u32,
    /// How long a refused source stays refused, and how long failures count, ms.
    pub(crate) lockout_ms: u64,
    /// Failures one source may have across all user names within
    /// `lockout_ms` (password spraying) before it may try only accounts
    /// for which it is a known source.
    pub(crate) per_source: u32,
}

/// Why an attempt must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// This source failed too often for this account.
    Locked,
    /// This source is being slowed down, or has an attempt running.
    SlowedDown,
    /// The account is under attack from many sources; this one is not known.
    UnknownSources,
    /// This source failed for too many user names (password spraying).
    Spraying,
}

impl Refusal {
    /// The audit kind of the summary row.
    pub(crate) fn audit_kind(self) -> &'static str {
        match self {
            Refusal::Locked => "login_refused_locked",
            Refusal::SlowedDown => "login_refused_slowed",
            Refusal::UnknownSources => "login_refused_unknown_source",
            Refusal::Spraying => "login_refused_spraying",
        }
    }
}

/// What [`Lockouts::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Check the password (and report the outcome with `finish`).
    Go,
    /// Not before `retry_at_ms`; nothing is checked.
    Wait { retry_at_ms: u64, why: Refusal },
}

#[derive(Debug, Default)]
struct SourceEntry {
    failures: u32,
    last_failure_ms: u64,
    not_before_ms: u64,
    locked_until_ms: u64,
    touched_ms: u64,
}

impl SourceEntry {
    /// Forgets failures that are older than the window, and a lock that ended.
    fn expire(&mut self, policy: Policy, now_ms: u64) {
        let lock_over = self.locked_until_ms != 0 && self.locked_until_ms <= now_ms;
        let window_over = self.last_failure_ms.saturating_add(policy.lockout_ms) <= now_ms;
        if lock_over || (self.locked_until_ms == 0 && window_over) {
            self.failures = 0;
            self.locked_until_ms = 0;
            self.not_before_ms = 0;
        }
    }

    fn idle(&self, policy: Policy, now_ms: u64) -> bool {
        self.locked_until_ms <= now_ms
            && self.last_failure_ms.saturating_add(policy.lockout_ms) <= now_ms
    }
}

#[derive(Debug, Default)]
struct AccountEntry {
    /// Times of the latest failures from unknown sources (at most
    /// [`UNKNOWN_SOURCE_FAILURES`]).
    unknown_failures: VecDeque<u64>,
    next_unknown_ms: u64,
    touched_ms: u64,
}

/// Failures of one source across user names in the current window.
#[derive(Debug, Default)]
struct SprayEntry {
    window_start_ms: u64,
    failures: u32,
}

/// Failed-login state, per (account, source), per account, and per source.
///
/// Entries are made only by failures, i.e. after a password was really
/// checked, so filling the tables costs an attacker real hashing work
/// rather than cheap refused messages.
#[derive(Debug, Default)]
pub(crate) struct Lockouts {
    sources: HashMap<(String, Source), SourceEntry>,
    /// Attempts being checked now, since when: one per (account, source)
    /// at a time. Bounded by the password jobs in flight.
    in_flight: HashMap<(String, Source), u64>,
    /// The store's `lockout_epoch` of each account seen in this run.
    epochs: HashMap<String, u64>,
    accounts: HashMap<String, AccountEntry>,
    spray: HashMap<Source, SprayEntry>,
    last_sweep_ms: u64,
}

impl Lockouts {
    /// Forgets everything about `user` when the store's epoch moved on
    /// (an unblock happened, possibly in another process).
    pub(crate) fn sync_epoch(&mut self, user: &str, epoch: u64) {
        // The first look at an account in this run records its epoch; the
        // map holds existing accounts only (callers pass epochs read from
        // the store), so it is never swept and cannot be flushed to unlock.
        match self.epochs.insert(user.to_owned(), epoch) {
            Some(seen) if epoch > seen => self.clear(user),
            _ => {}
        }
    }

    /// Accounts locked out from at least one source at `now_ms`, with the
    /// latest end of their lockouts (what an admin's account list shows).
    pub(crate) fn locked_accounts(&self, now_ms: u64) -> HashMap<&str, u64> {
        let mut locked: HashMap<&str, u64> = HashMap::new();
        for ((user, _), e) in &self.sources {
            if e.locked_until_ms > now_ms {
                let until = locked.entry(user.as_str()).or_default();
                *until = (*until).max(e.locked_until_ms);
            }
        }
        locked
    }

    /// Forgets every lockout and slow-down of `user`.
    pub(crate) fn clear(&mut self, user: &str) {
        self.sources.retain(|(u, _), _| u != user);
        if let Some(a) = self.accounts.get_mut(user) {
            a.unknown_failures.clear();
            a.next_unknown_ms = 0;
        }
    }

    /// May `source` try a password for `user` now? On [`Gate::Go`] the
    /// attempt is in flight until `failed`, `succeeded` or `release`.
    pub(crate) fn admit(
        &mut self,
        user: &str,
        source: Source,
        known: bool,
        policy: Policy,
        now_ms: u64,
    ) -> Gate {
        let key = (user.to_owned(), source);
        if let Some(e) = self.sources.get_mut(&key) {
            e.expire(policy, now_ms);
            if e.locked_until_ms > now_ms {
                return wait(e.locked_until_ms, Refusal::Locked);
            }
            if e.not_before_ms > now_ms {
                return wait(e.not_before_ms, Refusal::SlowedDown);
            }
        }
        if !known {
            if let Some(sp) = self.spray.get(&source) {
                let ends = sp.window_start_ms.saturating_add(policy.lockout_ms);
                if sp.failures >= policy.per_source && ends > now_ms {
                    return wait(ends, Refusal::Spraying);
                }
            }
            if let Some(a) = self.accounts.get_mut(user) {
                let window_start = now_ms.saturating_sub(policy.lockout_ms);
                while a
                    .unknown_failures
                    .front()
                    .is_some_and(|&t| t < window_start)
                {
                    a.unknown_failures.pop_front();
                }
                if a.unknown_failures.len() >= UNKNOWN_SOURCE_FAILURES {
                    if a.next_unknown_ms > now_ms {
                        return wait(a.next_unknown_ms, Refusal::UnknownSources);
                    }
                    // This attempt takes the account's slot for unknown sources.
                    a.next_unknown_ms = now_ms.saturating_add(UNKNOWN_SOURCE_INTERVAL_MS);
                }
            }
        }
        if let Some(&since) = self.in_flight.get(&key) {
            if since.saturating_add(STALE_IN_FLIGHT_MS) > now_ms {
                return wait(now_ms.saturating_add(1000), Refusal::SlowedDown);
            }
        }
        self.in_flight.insert(key, now_ms);
        Gate::Go
    }

    /// The attempt ended without a verdict (the relay was busy): nothing counts.
    pub(crate) fn release(&mut self, user: &str, source: Source) {
        self.in_flight.remove(&(user.to_owned(), source));
    }

    /// The attempt succeeded: the source's failures are forgotten.
    pub(crate) fn succeeded(&mut self, user: &str, source: Source) {
        let key = (user.to_owned(), source);
        self.in_flight.remove(&key);
        self.sources.remove(&key);
    }

    /// The attempt failed. Returns the failure count of this source for
    /// this account, and whether this failure locked the source out.
    pub(crate) fn failed(
        &mut self,
        user: &str,
        source: Source,
        known: bool,
        policy: Policy,
        now_ms: u64,
    ) -> (u32, bool) {
        if !known {
            let a = self.account(user, now_ms);
            if a.unknown_failures.len() >= UNKNOWN_SOURCE_FAILURES {
                a.unknown_failures.pop_front();
            }
            a.unknown_failures.push_back(now_ms);
            self.note_spray(source, policy, now_ms);
        }
        self.in_flight.remove(&(user.to_owned(), source));
        let e = self.source_entry(user, source, policy, now_ms);
        e.expire(policy, now_ms);
        e.failures = e.failures.saturating_add(1);
        e.last_failure_ms = now_ms;
        let failures = e.failures;
        if failures >= policy.max_failures {
            e.locked_until_ms = now_ms.saturating_add(policy.lockout_ms);
            return (failures, true);
        }
        if failures >= SLOWDOWN_AFTER {
            let shift = (failures - SLOWDOWN_AFTER).min(20);
            let delay = (1000u64 << shift).min(policy.lockout_ms);
            e.not_before_ms = now_ms.saturating_add(delay);
        }
        (failures, false)
    }

    fn note_spray(&mut self, source: Source, policy: Policy, now_ms: u64) {
        if !self.spray.contains_key(&source) && self.spray.len() >= MAX_ENTRIES {
            self.spray
                .retain(|_, sp| sp.window_start_ms.saturating_add(policy.lockout_ms) > now_ms);
            if self.spray.len() >= MAX_ENTRIES {
                return; // counted again once the sweep makes room
            }
        }
        let sp = self.spray.entry(source).or_default();
        if sp.window_start_ms.saturating_add(policy.lockout_ms) <= now_ms {
            *sp = SprayEntry {
                window_start_ms: now_ms,
                failures: 0,
            };
        }
        sp.failures = sp.failures.saturating_add(1);
    }

    /// Drops idle entries (called from the broker's timer).
    pub(crate) fn sweep(&mut self, policy: Policy, now_ms: u64) {
        if now_ms < self.last_sweep_ms.saturating_add(SWEEP_EVERY_MS) {
            return;
        }
        self.last_sweep_ms = now_ms;
        self.sweep_now(policy, now_ms);
    }

    fn sweep_now(&mut self, policy: Policy, now_ms: u64) {
        self.sources.retain(|_, e| !e.idle(policy, now_ms));
        self.in_flight
            .retain(|_, since| since.saturating_add(STALE_IN_FLIGHT_MS) > now_ms);
        self.spray
            .retain(|_, sp| sp.window_start_ms.saturating_add(policy.lockout_ms) > now_ms);
        let window_start = now_ms.saturating_sub(policy.lockout_ms);
        self.accounts.retain(|_, a| {
            a.unknown_failures
                .back()
                .is_some_and(|&t| t >= window_start)
        });
    }

    fn source_entry(
        &mut self,
        user: &str,
        source: Source,
        policy: Policy,
        now_ms: u64,
    ) -> &mut SourceEntry {
        let key = (user.to_owned(), source);
        if !self.sources.contains_key(&key) && self.sources.len() >= MAX_ENTRIES {
            self.sweep_now(policy, now_ms);
            if self.sources.len() >= MAX_ENTRIES {
                // Unlocked entries go first, the least recently used first.
                let oldest = self
                    .sources
                    .iter()
                    .min_by_key(|(_, e)| (e.locked_until_ms > now_ms, e.touched_ms))
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.sources.remove(&k);
                }
            }
        }
        let e = self.sources.entry(key).or_default();
        e.touched_ms = now_ms;
        e
    }

    fn account(&mut self, user: &str, now_ms: u64) -> &mut AccountEntry {
        if !self.accounts.contains_key(user) && self.accounts.len() >= MAX_ENTRIES {
            // Accounts without recent failures go first, the least recently used first.
            let oldest = self
                .accounts
                .iter()
                .min_by_key(|(_, a)| (!a.unknown_failures.is_empty(), a.touched_ms))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.accounts.remove(&k);
            }
        }
        let a = self.accounts.entry(user.to_owned()).or_default();
        a.touched_ms = a.touched_ms.max(now_ms);
        a
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize, usize) {
        (
            self.sources.len(),
            self.accounts.len(),
            self.in_flight.len(),
        )
    }
}

fn wait(retry_at_ms: u64, why: Refusal) -> Gate {
    Gate::Wait { retry_at_ms, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        max_failures: 5,
        lockout_ms: 20 * 60_000,
        per_source: 30,
    };

    fn src(n: u32) -> Source {
        Source::of(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
            0x0a00_0000 + n,
        )))
    }

    #[test]
    fn slow_down_doubles_then_locks_one_source_only() {
        let mut l = Lockouts::default();
        let mut now = 1_000_000;
        let mut waits = Vec::new();
        for _ in 0..5 {
            if let Gate::Wait { retry_at_ms, .. } = l.admit("root", src(1), false, POLICY, now) {
                waits.push(retry_at_ms - now);
                now = retry_at_ms;
                assert_eq!(l.admit("root", src(1), false, POLICY, now), Gate::Go);
            }
            l.failed("root", src(1), false, POLICY, now);
        }
        assert_eq!(waits, [1000, 2000, 4000]);
        assert_eq!(
            l.admit("root", src(1), false, POLICY, now),
            Gate::Wait {
                retry_at_ms: now + POLICY.lockout_ms,
                why: Refusal::Locked
            }
        );
        assert_eq!(l.admit("root", src(2), false, POLICY, now), Gate::Go);
        assert_eq!(
            l.admit("root", src(1), false, POLICY, now + POLICY.lockout_ms),
            Gate::Go
        );
    }

    #[test]
    fn an_attempt_in_flight_holds_back_the_next_from_the_same_source() {
        let mut l = Lockouts::default();
        assert_eq!(l.admit("root", src(1), true, POLICY, 0), Gate::Go);
        assert!(matches!(
            l.admit("root", src(1), true, POLICY, 0),
            Gate::Wait {
                why: Refusal::SlowedDown,
                ..
            }
        ));
        l.release("root", src(1));
        assert_eq!(l.admit("root", src(1), true, POLICY, 0), Gate::Go);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_names() {
        let mut l = Lockouts::default();
        for n in 0..(MAX_ENTRIES as u32 + 100) {
            let user = format!("u{n}");
            assert_eq!(l.admit(&user, src(n), false, POLICY, 5), Gate::Go);
            l.failed(&user, src(n), false, POLICY, 5);
        }
        let (sources, accounts, in_flight) = l.len();
        assert!(sources <= MAX_ENTRIES && accounts <= MAX_ENTRIES);
        assert_eq!(in_flight, 0);
    }

    #[test]
    fn refused_or_unchecked_attempts_leave_no_state_behind() {
        let mut l = Lockouts::default();
        for n in 0..1000 {
            let user = format!("u{n}");
            assert_eq!(l.admit(&user, src(n), false, POLICY, 5), Gate::Go);
            l.release(&user, src(n)); // the relay was busy
        }
        assert_eq!(l.len(), (0, 0, 0));
    }

    #[test]
    fn an_epoch_seen_for_the_first_time_clears_nothing() {
        let mut l = Lockouts::default();
        for _ in 0..5 {
            l.failed("root", src(1), false, POLICY, 0);
        }
        l.sync_epoch("root", 7); // first seen in this run
        l.sweep_now(POLICY, 1); // the lock is kept
        assert!(matches!(
            l.admit("root", src(1), false, POLICY, 0),
            Gate::Wait {
                why: Refusal::Locked,
                ..
            }
        ));
        l.sync_epoch("root", 8); // an unblock
        assert_eq!(l.admit("root", src(1), false, POLICY, 0), Gate::Go);
    }
}
