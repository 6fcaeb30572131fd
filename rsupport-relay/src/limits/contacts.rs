//! Chat-first contact requests: per source and per addressed operator.
//!
//! Each `ContactOperator` costs a store lookup and, when delivered, puts a
//! prompt on an operator's screen. A source may send `PER_SOURCE` of them
//! per `SOURCE_WINDOW_MS` whatever their outcome (so probing operator IDs
//! costs the same as contacting one), and one operator receives at most
//! `PER_OPERATOR` per `OPERATOR_WINDOW_MS` (beyond that, customers hear the
//! same "not available" as for an offline operator).
//!
//! Memory: at most `MAX_TRACKED` sources and `MAX_TRACKED` operators.

use super::WindowCounts;
use crate::Source;

/// Contact requests per source per window.
pub(crate) const PER_SOURCE: u32 = 3;
/// The per-source window, ms (10 minutes).
pub(crate) const SOURCE_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Contact requests delivered to one operator per window.
pub(crate) const PER_OPERATOR: u32 = 20;
/// The per-operator window, ms (one hour).
pub(crate) const OPERATOR_WINDOW_MS: u64 = 60 * 60 * 1000;
const MAX_TRACKED: usize = 200_000;

/// Longest customer name an operator is shown, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 64;
/// Longest customer description an operator is shown, in characters.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 256;
/// Longest first chat line of a contact request, in characters.
pub(crate) const MAX_FIRST_MESSAGE_CHARS: usize = 2048;

/// Contact counters. See the module docs.
#[derive(Debug)]
pub(crate) struct ContactLimits {
    sources: WindowCounts<Source>,
    /// Keyed by a hash of the operator's user name (a fixed-size key).
    operators: WindowCounts<u64>,
}

impl Default for ContactLimits {
    fn default() -> Self {
        ContactLimits {
            sources: WindowCounts::new(SOURCE_WINDOW_MS, MAX_TRACKED),
            operators: WindowCounts::new(OPERATOR_WINDOW_MS, MAX_TRACKED),
        }
    }
}

fn operator_key(username: &str) -> u64 {
    use std::hash::Hasher;
    // SipHash with fixed keys: the same name always gives the same key; a
    // collision only makes two operators share an allowance.
    let mut k = std::hash::DefaultHasher::new();
    k.write(username.as_bytes());
    k.finish()
}

impl ContactLimits {
    /// Counts one request from `source`; `Err(retry_at_ms)` when it is over
    /// the source's allowance.
    pub(crate) fn source_request(&mut self, source: Source, now_ms: u64) -> Result<(), u64> {
        let (n, window_end) = self.sources.get(source, now_ms);
        if n >= PER_SOURCE {
            return Err(window_end);
        }
        self.sources.add(source, now_ms);
        Ok(())
    }

    /// Counts one request delivered to `operator`; `false` when the
    /// operator already received its allowance in this window.
    pub(crate) fn deliver_to(&mut self, operator: &str, now_ms: u64) -> bool {
        let key = operator_key(operator);
        if self.operators.get(key, now_ms).0 >= PER_OPERATOR {
            return false;
        }
        self.operators.add(key, now_ms);
        true
    }

    pub(crate) fn prune(&mut self, now_ms: u64) {
        self.sources.prune(now_ms);
        self.operators.prune(now_ms);
    }
}
