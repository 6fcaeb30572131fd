//! Live sessions (from the broker), the audit history (query and export) and statistics.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use rsupport_proto::relay::admin::{AuditPage, AuditQuery, AuditRecord, LiveSession, PartyLink};
use rsupport_proto::relay::{AdminCommand, AdminReply};
use serde_json::{json, Value};

use super::accounts::unexpected;
use super::link::SessionView;
use super::stats::{self, Finished};
use super::{json_answer, ok, refused, ApiError, ApiResult, Call};
use crate::audit;
use crate::server::now_ms;

/// Most rows an export, the statistics or the live list read.
const MAX_ROWS: usize = 100_000;
/// Rows per request to the relay while reading many.
const PAGE: u32 = 1000;

async fn page(session: &SessionView, q: AuditQuery) -> Result<AuditPage, ApiError> {
    match session.link.admin(AdminCommand::QueryAudit(q)).await? {
        AdminReply::Audit(p) => Ok(p),
        AdminReply::Result(r) => Err(refused(&r, "The history could not be read")),
        _ => Err(unexpected()),
    }
}

/// Every row `q` selects, page by page, up to [`MAX_ROWS`]; the flag says
/// whether rows were left out.
async fn all_rows(
    session: &SessionView,
    mut q: AuditQuery,
) -> Result<(Vec<AuditRecord>, bool), ApiError> {
    let mut rows = Vec::new();
    q.limit = PAGE;
    loop {
        let p = page(session, q.clone()).await?;
        let last = p.records.last().map(|r| r.id);
        rows.extend(p.records);
        match last {
            Some(id) if p.truncated => {
                if rows.len() >= MAX_ROWS {
                    rows.truncate(MAX_ROWS);
                    return Ok((rows, true));
                }
                q.after_id = id;
            }
            _ => return Ok((rows, false)),
        }
    }
}

fn number(call: &Call, name: &str) -> Result<u64, ApiError> {
    match call.param(name) {
        None | Some("") => Ok(0),
        Some(v) => v.parse().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("`{name}` must be a whole number, not {v:?}"),
                "Give times as milliseconds since 1970 (UTC).",
            )
        }),
    }
}

fn query(call: &Call) -> Result<AuditQuery, ApiError> {
    Ok(AuditQuery {
        from_ms: number(call, "from_ms")?,
        to_ms: number(call, "to_ms")?,
        operator_username: call.param("operator").unwrap_or_default().to_owned(),
        limit: u32::try_from(number(call, "limit")?).unwrap_or(u32::MAX),
        after_id: number(call, "after_id")?,
    })
}

/// `GET /audit?from_ms&to_ms&operator&limit&after_id`.
pub(super) async fn audit(call: &Call, session: &SessionView) -> ApiResult {
    let p = page(session, query(call)?).await?;
    let next = if p.truncated {
        p.records.last().map(|r| r.id)
    } else {
        None
    };
    Ok(json_answer(
        StatusCode::OK,
        &json!({
            "records": p.records.iter().map(audit::record_json).collect::<Vec<_>>(),
            "truncated": p.truncated,
            "next_after_id": next,
        }),
    ))
}

/// `GET /audit/export?format=csv|json&from_ms&to_ms&operator`: the whole
/// selection (up to 100 000 rows) as a download.
pub(super) async fn export(call: &Call, session: &SessionView) -> ApiResult {
    let format = call.param("format").unwrap_or("csv");
    if format != "csv" && format != "json" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`format` must be csv or json, not {format:?}"),
            "Choose format=csv (spreadsheets) or format=json.",
        ));
    }
    let mut q = query(call)?;
    q.after_id = 0;
    let (rows, cut) = all_rows(session, q).await?;
    let (body, ty) = if format == "csv" {
        let mut out = Vec::new();
        let written =
            audit::write_csv_header(&mut out).and_then(|()| audit::write_csv(&rows, &mut out));
        if written.is_err() {
            return Err(unexpected());
        }
        (out, "text/csv; charset=utf-8")
    } else {
        let all: Vec<Value> = rows.iter().map(audit::record_json).collect();
        (
            Value::Array(all).to_string().into_bytes(),
            "application/json",
        )
    };
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    let h = answer.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ty));
    let disposition = format!("attachment; filename=\"rsupport-audit.{format}\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    if cut {
        h.insert("x-rsupport-truncated", HeaderValue::from_static("true"));
    }
    Ok(answer)
}

/// `GET /stats?from_ms&to_ms` (default: the last 30 days).
pub(super) async fn stats(call: &Call, session: &SessionView) -> ApiResult {
    let now = now_ms();
    let to = match number(call, "to_ms")? {
        0 => now,
        t => t,
    };
    let from = match number(call, "from_ms")? {
        0 => to.saturating_sub(30 * 24 * 60 * 60 * 1000),
        f => f,
    };
    if from >= to {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "`from_ms` must be before `to_ms`.",
            "Choose a range that starts before it ends.",
        ));
    }
    // Sessions that started in the range end in it or later.
    let q = AuditQuery {
        from_ms: from,
        ..AuditQuery::default()
    };
    let (rows, _) = all_rows(session, q).await?;
    let finished: Vec<Finished> = rows
        .iter()
        .filter(|r| r.kind == "session_ended" && r.started_ms > 0)
        .map(|r| Finished {
            operator: r.operator_username.clone(),
            started_ms: r.started_ms,
            ended_ms: r.ended_ms,
        })
        .collect();
    Ok(json_answer(
        StatusCode::OK,
        &stats::compute(&finished, from, to),
    ))
}

/// `GET /sessions`: the sessions the relay is running now, from its own
/// table (page by page, up to [`MAX_ROWS`]).
pub(super) async fn live_sessions(session: &SessionView) -> ApiResult {
    let mut list = Vec::new();
    let mut after_id = 0;
    loop {
        let command = AdminCommand::ListSessions { after_id, limit: 0 };
        let page = match session.link.admin(command).await? {
            AdminReply::Sessions(p) => p,
            AdminReply::Result(r) => {
                return Err(refused(&r, "The live sessions could not be read"))
            }
            _ => return Err(unexpected()),
        };
        let last = page.sessions.last().map(|s| s.session_id);
        list.extend(page.sessions.iter().map(live_json));
        match last {
            Some(id) if page.truncated && list.len() < MAX_ROWS => after_id = id,
            _ => break,
        }
    }
    Ok(json_answer(StatusCode::OK, &json!({"sessions": list})))
}

fn live_json(s: &LiveSession) -> Value {
    let away = |link: PartyLink| match link {
        PartyLink::Suspended { until_ms } => json!(until_ms),
        _ => Value::Null,
    };
    json!({
        // Text: JavaScript's numbers would lose digits of a 64-bit id.
        "session_id": s.session_id.to_string(),
        "operator": s.operator_username,
        "customer": s.customer_name,
        "customer_description": s.customer_description,
        "modes": s.allowed_modes.iter().map(|m| crate::auth::mode_name(*m)).collect::<Vec<_>>(),
        "started_ms": s.started_ms,
        "end_to_end": s.end_to_end,
        "operator_suspended_until_ms": away(s.operator),
        "customer_suspended_until_ms": away(s.customer),
        "time_limit_ms": s.time_limit_ms,
    })
}

/// `DELETE /sessions/{id}`: ends a running session for both parties.
pub(super) async fn end_session(session: &SessionView, id: &str) -> ApiResult {
    let session_id: u64 = id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{id:?} is not a session id"),
            "Take the id from the list of live sessions.",
        )
    })?;
    match session
        .link
        .admin(AdminCommand::EndSession { session_id })
        .await?
    {
        AdminReply::Result(r) if r.is_ok() => ok(),
        AdminReply::Result(r) => Err(refused(&r, &format!("Session {session_id} was not ended"))),
        _ => Err(unexpected()),
    }
}
