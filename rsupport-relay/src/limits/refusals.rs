//! Audit rows about refusals, summarised: one row per (kind, subject) per
//! minute, however many refusals a flood causes. The subject is the source
//! refused, or the operator a flood of contact requests was aimed at.
//!
//! The first refusal of a kind for a subject is written at once (so an admin
//! sees an attack start); the ones that follow within the minute are only
//! counted, and when the minute ends one row says how many there were. A
//! flood therefore costs at most one row per subject and kind per minute.
//!
//! Memory: at most `MAX_KEYS` (kind, subject) pairs; beyond that, refusals
//! for further subjects are counted together under "several".

use std::collections::HashMap;

use crate::broker::{Broker, ConnId};
use crate::Source;

const PERIOD_MS: u64 = 60_000;
const MAX_KEYS: usize = 10_000;

/// Whom a refusal is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Subject {
    /// The source refused.
    Source(Source),
    /// The operator the refused requests were for.
    Operator(String),
    /// Many subjects, counted together once the table is full.
    Several,
}

type Key = (&'static str, Subject);

#[derive(Debug, Clone, Copy)]
struct Period {
    start_ms: u64,
    counted: u64,
}

/// A summary row that is due: `counted` refusals of `kind` for `subject`
/// since `since_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) kind: &'static str,
    pub(crate) subject: Subject,
    pub(crate) counted: u64,
    pub(crate) since_ms: u64,
}

/// The refusal counters. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct RefusalLog {
    periods: HashMap<Key, Period>,
    /// The earliest end of a period with counted refusals.
    next_due_ms: Option<u64>,
}

impl RefusalLog {
    /// Notes one refusal. `true`: write a row for it now; `false`: it was
    /// counted into the summary for this minute.
    pub(crate) fn note(&mut self, kind: &'static str, subject: Subject, now_ms: u64) -> bool {
        let mut key = (kind, subject);
        if !self.periods.contains_key(&key) && self.periods.len() >= MAX_KEYS {
            key = (kind, Subject::Several);
        }
        match self.periods.get_mut(&key) {
            Some(p) if now_ms < p.start_ms.saturating_add(PERIOD_MS) => {
                p.counted += 1;
                let end = p.start_ms.saturating_add(PERIOD_MS);
                self.next_due_ms = Some(self.next_due_ms.map_or(end, |d| d.min(end)));
                false
            }
            // A period without a summary row yet (the catch-all key counts
            // its first refusal too).
            _ if key.1 == Subject::Several => {
                self.periods.insert(
                    key,
                    Period {
                        start_ms: now_ms,
                        counted: 1,
                    },
                );
                let end = now_ms.saturating_add(PERIOD_MS);
                self.next_due_ms = Some(self.next_due_ms.map_or(end, |d| d.min(end)));
                false
            }
            _ => {
                self.periods.insert(
                    key,
                    Period {
                        start_ms: now_ms,
                        counted: 0,
                    },
                );
                true
            }
        }
    }

    /// When [`RefusalLog::due`] next has something to return.
    pub(crate) fn next_due_ms(&self) -> Option<u64> {
        self.next_due_ms
    }

    /// Summaries of the periods that ended by `now_ms`. A period with
    /// refusals counted starts again (its summary row counts as the first
    /// row of the next minute); one without is forgotten.
    pub(crate) fn due(&mut self, now_ms: u64) -> Vec<Summary> {
        let mut out = Vec::new();
        let mut next: Option<u64> = None;
        self.periods.retain(|(kind, subject), p| {
            if now_ms < p.start_ms.saturating_add(PERIOD_MS) {
                if p.counted > 0 {
                    let end = p.start_ms.saturating_add(PERIOD_MS);
                    next = Some(next.map_or(end, |d| d.min(end)));
                }
                return true;
            }
            if p.counted == 0 {
                return false;
            }
            out.push(Summary {
                kind,
                subject: subject.clone(),
                counted: p.counted,
                since_ms: p.start_ms,
            });
            *p = Period {
                start_ms: now_ms,
                counted: 0,
            };
            true
        });
        self.next_due_ms = next;
        out
    }
}

impl Broker {
    /// Audits a refusal of `kind` on `conn`, or only counts it when a row
    /// for the same kind and subject (by default, `conn`'s source) was
    /// written within the minute.
    pub(crate) fn audit_refusal(
        &mut self,
        now_ms: u64,
        kind: &'static str,
        conn: ConnId,
        subject: Option<Subject>,
        fill: impl FnOnce(&mut rsupport_proto::relay::admin::AuditRecord),
    ) {
        let source = self.conns.get(&conn).map(|c| Source::of(c.info.source));
        let Some(subject) = subject.or(source.map(Subject::Source)) else {
            return;
        };
        if self.refusals.note(kind, subject, now_ms) {
            self.audit(now_ms, kind, "", conn, fill);
        }
    }

    /// Writes the summary rows that are due.
    pub(crate) fn flush_refusals(&mut self, now_ms: u64) {
        for s in self.refusals.due(now_ms) {
            let (source, operator_username) = match s.subject {
                Subject::Source(x) => (x.to_string(), String::new()),
                Subject::Operator(name) => (String::new(), name),
                Subject::Several => ("(several)".to_owned(), String::new()),
            };
            let record = rsupport_proto::relay::admin::AuditRecord {
                at_ms: now_ms,
                kind: s.kind.to_owned(),
                source,
                operator_username,
                detail: format!("{} more refused since at_ms={}", s.counted, s.since_ms),
                ..Default::default()
            };
            tracing::info!(kind = s.kind, source = %record.source, counted = s.counted, "audit summary");
            if let Err(e) = self.store.append_audit(&record) {
                tracing::error!(error = %e, kind = s.kind, "cannot write audit record");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_then_one_summary_per_minute() {
        let s = Source::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        let mut log = RefusalLog::default();
        assert!(
            log.note("resume_rate_limited", Subject::Source(s), 0),
            "first: written"
        );
        for t in 1..100 {
            assert!(!log.note("resume_rate_limited", Subject::Source(s), t));
        }
        assert!(
            log.note("code_rate_limited", Subject::Source(s), 5),
            "another kind"
        );
        assert_eq!(log.next_due_ms(), Some(PERIOD_MS));
        assert!(log.due(PERIOD_MS - 1).is_empty());
        let due = log.due(PERIOD_MS);
        assert_eq!(
            due,
            vec![Summary {
                kind: "resume_rate_limited",
                subject: Subject::Source(s),
                counted: 99,
                since_ms: 0
            }]
        );
        // The flood goes on: counted into the next minute, no row at once.
        assert!(!log.note("resume_rate_limited", Subject::Source(s), PERIOD_MS + 1));
        assert_eq!(log.due(2 * PERIOD_MS).len(), 1);
        // Quiet minute: forgotten; the next refusal is written at once.
        assert!(log.due(3 * PERIOD_MS).is_empty());
        assert_eq!(log.next_due_ms(), None);
        assert!(log.note("resume_rate_limited", Subject::Source(s), 3 * PERIOD_MS));
    }
}
