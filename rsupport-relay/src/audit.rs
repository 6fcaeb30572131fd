//! Audit history export: CSV and JSON lines.

use std::io::{self, Write};

use rsupport_proto::relay::admin::AuditRecord;

use crate::auth::mode_name;

/// Column names, in export order.
pub const COLUMNS: &[&str] = &[
    "id",
    "at_ms",
    "kind",
    "operator",
    "source",
    "session_id",
    "customer",
    "modes",
    "started_ms",
    "ended_ms",
    "duration_ms",
    "bytes_to_operator",
    "bytes_to_customer",
    "end_reason",
    "detail",
];

fn modes(r: &AuditRecord) -> String {
    r.modes
        .iter()
        .map(|m| mode_name(*m))
        .collect::<Vec<_>>()
        .join(" ")
}

fn end_reason(r: &AuditRecord) -> String {
    r.end_reason.map(|e| format!("{e:?}")).unwrap_or_default()
}

fn duration(r: &AuditRecord) -> u64 {
    r.ended_ms.saturating_sub(r.started_ms)
}

/// Quotes a CSV field when needed (RFC 4180), and defuses spreadsheet
/// formulas by prefixing `'` to text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return (spreadsheets skip the last two and read the
/// formula behind them).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Writes the header line.
pub fn write_csv_header(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", COLUMNS.join(","))
}

/// Writes records as CSV rows (no header).
pub fn write_csv(records: &[AuditRecord], out: &mut dyn Write) -> io::Result<()> {
    for r in records {
        let fields = [
            r.id.to_string(),
            r.at_ms.to_string(),
            csv_field(&r.kind),
            csv_field(&r.operator_username),
            csv_field(&r.source),
            r.session_id.to_string(),
            csv_field(&r.customer),
            modes(r),
            r.started_ms.to_string(),
            r.ended_ms.to_string(),
            duration(r).to_string(),
            r.bytes_to_operator.to_string(),
            r.bytes_to_customer.to_string(),
            end_reason(r),
            csv_field(&r.detail),
        ];
        writeln!(out, "{}", fields.join(","))?;
    }
    Ok(())
}

/// One record as the JSON object the exports use. The session id is text
/// (`null` when none): ids are random 64-bit numbers, and JavaScript's
/// numbers keep only 53 bits, so a page would read a different id.
pub fn record_json(r: &AuditRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "at_ms": r.at_ms,
        "kind": r.kind,
        "operator": r.operator_username,
        "source": r.source,
        "session_id": (r.session_id != 0).then(|| r.session_id.to_string()),
        "customer": r.customer,
        "modes": r.modes.iter().map(|m| mode_name(*m)).collect::<Vec<_>>(),
        "started_ms": r.started_ms,
        "ended_ms": r.ended_ms,
        "duration_ms": duration(r),
        "bytes_to_operator": r.bytes_to_operator,
        "bytes_to_customer": r.bytes_to_customer,
        "end_reason": end_reason(r),
        "detail": r.detail,
    })
}

/// Writes records as JSON lines, one object per record.
pub fn write_jsonl(records: &[AuditRecord], out: &mut dyn Write) -> io::Result<()> {
    for r in records {
        let v = record_json(r);
        writeln!(out, "{v}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsupport_proto::{ConnectionMode, EndReason};

    fn record() -> AuditRecord {
        AuditRecord {
            id: 3,
            at_ms: 10,
            kind: "session_ended".into(),
            operator_username: "aiko".into(),
            customer: "Bob, \"ACME\"".into(),
            modes: vec![ConnectionMode::ControlCustomer],
            started_ms: 1000,
            ended_ms: 4000,
            end_reason: Some(EndReason::TimeLimit),
            detail: "=cmd()".into(),
            ..Default::default()
        }
    }

    #[test]
    fn csv_quotes_and_defuses() {
        let mut out = Vec::new();
        write_csv_header(&mut out).unwrap();
        write_csv(&[record()], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(row.contains("\"Bob, \"\"ACME\"\"\""), "{row}");
        assert!(row.contains(",3000,"), "duration: {row}");
        assert!(row.ends_with(",TimeLimit,'=cmd()"), "{row}");
        assert_eq!(
            text.lines().next().unwrap().split(',').count(),
            COLUMNS.len()
        );
    }

    #[test]
    fn csv_defuses_tab_and_carriage_return_prefixes_too() {
        for evil in ["\t=cmd()", "\r=cmd()", "=1+1", "+1", "-1", "@SUM(A1)"] {
            let field = csv_field(evil);
            let inner = field.trim_start_matches('"');
            assert!(inner.starts_with('\''), "{evil:?} -> {field:?}");
        }
        assert_eq!(csv_field("aiko"), "aiko");
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let mut out = Vec::new();
        write_jsonl(&[record(), record()], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["modes"][0], "control_customer");
        assert_eq!(v["duration_ms"], 3000);
    }
}
