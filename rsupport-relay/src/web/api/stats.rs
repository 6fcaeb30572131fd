//! Statistics over finished sessions, from the audit history's
//! `session_ended` rows (each carries the operator, start and end).

use std::collections::BTreeMap;

use serde_json::{json, Value};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// One finished session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    /// The operator.
    pub(crate) operator: String,
    /// Start, ms since epoch.
    pub(crate) started_ms: u64,
    /// End, ms since epoch.
    pub(crate) ended_ms: u64,
}

/// `YYYY-MM-DD` (UTC) of a day number since the epoch.
pub(crate) fn date_of_day(day: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// The statistics of the sessions that started in `[from_ms, to_ms)`:
/// per day (sessions started, peak concurrent sessions that day),
/// durations (mean, median, longest) and per operator (count, total).
pub(crate) fn compute(sessions: &[Finished], from_ms: u64, to_ms: u64) -> Value {
    let chosen: Vec<&Finished> = sessions
        .iter()
        .filter(|s| s.started_ms >= from_ms && s.started_ms < to_ms)
        .collect();
    let first_day = from_ms / DAY_MS;
    let last_day = to_ms.saturating_sub(1) / DAY_MS;
    // At most ~3 years of days in one answer.
    let last_day = last_day.min(first_day + 1100);
    let mut days: BTreeMap<u64, (u64, u64)> = (first_day..=last_day).map(|d| (d, (0, 0))).collect();
    for s in &chosen {
        if let Some(e) = days.get_mut(&(s.started_ms / DAY_MS)) {
            e.0 += 1;
        }
    }
    // Peak concurrency: every session that overlaps the range counts.
    let mut events: Vec<(u64, i64)> = sessions
        .iter()
        .filter(|s| s.ended_ms > from_ms && s.started_ms < to_ms)
        .flat_map(|s| [(s.started_ms, 1), (s.ended_ms.max(s.started_ms), -1)])
        .collect();
    // Ends before starts at the same instant: back-to-back is not overlap.
    events.sort();
    let mut count: i64 = 0;
    let mut day_of_count = first_day;
    for (at, delta) in events {
        let day = at / DAY_MS;
        // The count carried into each day that passed counts for that day.
        let mut d = day_of_count.max(first_day);
        while d <= day.min(last_day) {
            if let Some(e) = days.get_mut(&d) {
                e.1 = e.1.max(count.max(0) as u64);
            }
            d += 1;
        }
        day_of_count = day;
        count += delta;
        if let Some(e) = days.get_mut(&day) {
            e.1 = e.1.max(count.max(0) as u64);
        }
    }
    let mut durations: Vec<u64> = chosen
        .iter()
        .map(|s| s.ended_ms.saturating_sub(s.started_ms))
        .collect();
    durations.sort_unstable();
    let n = durations.len() as u64;
    let total: u64 = durations.iter().sum();
    let median = match durations.len() {
        0 => 0,
        len if len % 2 == 1 => durations.get(len / 2).copied().unwrap_or(0),
        len => {
            let a = durations.get(len / 2 - 1).copied().unwrap_or(0);
            let b = durations.get(len / 2).copied().unwrap_or(0);
            (a + b) / 2
        }
    };
    let mut operators: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for s in &chosen {
        let e = operators.entry(s.operator.as_str()).or_default();
        e.0 += 1;
        e.1 += s.ended_ms.saturating_sub(s.started_ms);
    }
    json!({
        "from_ms": from_ms,
        "to_ms": to_ms,
        "days": days.iter().map(|(d, (count, peak))| json!({
            "date": date_of_day(*d),
            "sessions": count,
            "peak_concurrent": peak,
        })).collect::<Vec<_>>(),
        "durations": {
            "count": n,
            "mean_ms": total.checked_div(n).unwrap_or(0),
            "median_ms": median,
            "longest_ms": durations.last().copied().unwrap_or(0),
        },
        "operators": operators.iter().map(|(name, (count, total))| json!({
            "username": name,
            "sessions": count,
            "total_ms": total,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(op: &str, start: u64, end: u64) -> Finished {
        Finished {
            operator: op.into(),
            started_ms: start,
            ended_ms: end,
        }
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(date_of_day(19_723), "2024-01-01");
        assert_eq!(date_of_day(19_782), "2024-02-29");
    }

    #[test]
    fn days_peaks_durations_and_operators() {
        let d0 = 19_723 * DAY_MS;
        let h = 3_600_000;
        let sessions = [
            s("aiko", d0 + h, d0 + 3 * h),          // 2 h
            s("aiko", d0 + 2 * h, d0 + 4 * h),      // overlaps: peak 2
            s("ben", d0 + 4 * h, d0 + 5 * h),       // starts as one ends: not overlap
            s("ben", d0 + 23 * h, d0 + DAY_MS + h), // runs into day 2
            s("old", d0 - DAY_MS, d0 - DAY_MS + h), // before the range
        ];
        let v = compute(&sessions, d0, d0 + 2 * DAY_MS);
        let days = v["days"].as_array().unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(
            days[0],
            json!({"date": "2024-01-01", "sessions": 4, "peak_concurrent": 2})
        );
        // Day 2: no session starts, but one carried over from day 1.
        assert_eq!(
            days[1],
            json!({"date": "2024-01-02", "sessions": 0, "peak_concurrent": 1})
        );
        assert_eq!(v["durations"]["count"], 4);
        assert_eq!(v["durations"]["longest_ms"], 2 * h);
        assert_eq!(v["durations"]["median_ms"], 2 * h);
        assert_eq!(v["durations"]["mean_ms"], (2 * h + 2 * h + h + 2 * h) / 4);
        assert_eq!(
            v["operators"],
            json!([
                {"username": "aiko", "sessions": 2, "total_ms": 4 * h},
                {"username": "ben", "sessions": 2, "total_ms": 3 * h},
            ])
        );
    }

    #[test]
    fn nothing_to_count_is_zeros_not_a_panic() {
        let v = compute(&[], 0, 1);
        assert_eq!(v["durations"]["mean_ms"], 0);
        let v = compute(&[s("a", 5, 1)], 0, u64::MAX);
        assert!(v["days"].as_array().unwrap().len() <= 1101);
    }
}
