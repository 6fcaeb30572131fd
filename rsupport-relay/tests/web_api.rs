//! The admin REST API against a real TLS relay: every endpoint, every
//! answer checked against docs/openapi.json, cookies, CSRF, the relay's own
//! lockout shared with native logins, roles, ending a live session, the
//! statistics of sessions actually run, and the CSV export.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rsupport_net::RelayConnection;
use rsupport_proto::relay::{LoginStatus, RelayMessage};
use rsupport_proto::Role;
use rsupport_testkit::web::{
    assert_documented, log_in, pair_by_code, ApiClient, Tls, WebRelay, ADMIN, ADMIN_PASSWORD,
    OPERATOR, OPERATOR_PASSWORD, WAIT,
};
use serde_json::{json, Value};

const DOC: &str = include_str!("../../docs/openapi.json");

fn doc() -> Value {
    serde_json::from_str(DOC).unwrap()
}

async fn relay(dir: &tempfile::TempDir) -> WebRelay {
    WebRelay::start(&dir.path().join("relay.db"), |_| {}).await
}

async fn native_login(
    relay: &WebRelay,
    user: &str,
    password: &str,
) -> (RelayConnection<Tls>, LoginStatus) {
    let mut c = relay.native(Role::Operator).await;
    let status = log_in(&mut c, user, password).await;
    (c, status)
}

/// A native operator and customer in a session; returns both and its id.
async fn session(relay: &WebRelay) -> (RelayConnection<Tls>, RelayConnection<Tls>, u64) {
    let (mut op, status) = native_login(relay, OPERATOR, OPERATOR_PASSWORD).await;
    assert_eq!(status, LoginStatus::Ok);
    let mut cu = relay.native(Role::Customer).await;
    let id = pair_by_code(&mut op, &mut cu).await;
    (op, cu, id)
}

async fn expect_ended<S>(c: &mut RelayConnection<S>, id: u64)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(WAIT, async {
        loop {
            if let RelayMessage::SessionEnded { session_id, .. } = c.recv_relay().await.unwrap() {
                assert_eq!(session_id, id);
                return;
            }
        }
    })
    .await
    .expect("the session ended");
}

#[tokio::test]
async fn login_cookie_me_logout_and_csrf() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let doc = doc();
    let served = relay.get("/api/v1/openapi.json").await;
    assert_eq!(
        served.json(),
        doc,
        "the served document is docs/openapi.json"
    );

    let login = relay
        .send(
            "POST",
            "/api/v1/login",
            &[
                ("origin", &relay.origin()),
                ("content-type", "application/json"),
            ],
            json!({"username": ADMIN, "password": ADMIN_PASSWORD})
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_documented(&doc, "/api/v1/login", "POST", &login);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let set = login.header("set-cookie").unwrap();
    let token = set
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("rsupport_session=")
        .unwrap();
    assert_eq!(token.len(), 64);
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            set.split("; ").any(|a| a == attribute),
            "{attribute} in {set}"
        );
    }
    let admin = relay.api_login(ADMIN, ADMIN_PASSWORD).await;
    let me = admin.get("/api/v1/me").await;
    assert_documented(&doc, "/api/v1/me", "GET", &me);
    assert_eq!(me.json()["role"], "admin");
    assert_eq!(me.json()["csrf_token"], admin.csrf.as_str());

    // No token, a wrong token, a foreign origin: refused, nothing done.
    let body =
        json!({"username": "mika", "password": "correct-horse-battery-9", "role": "operator"});
    let cookie = admin.cookie.clone();
    let origin = relay.origin();
    let no_csrf = relay
        .send(
            "POST",
            "/api/v1/accounts",
            &[("cookie", &cookie), ("origin", &origin)],
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(no_csrf.status, 403);
    assert_documented(&doc, "/api/v1/accounts", "POST", &no_csrf);
    let wrong = ApiClient {
        csrf: "0".repeat(64),
        ..admin_clone(&admin, &relay)
    };
    assert_eq!(wrong.post("/api/v1/accounts", &body).await.status, 403);
    let foreign = relay
        .send(
            "POST",
            "/api/v1/accounts",
            &[
                ("cookie", &cookie),
                ("origin", "https://evil.example"),
                ("x-csrf-token", &admin.csrf),
            ],
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(foreign.status, 403);
    let accounts = admin.get("/api/v1/accounts").await.json();
    assert!(!accounts.to_string().contains("mika"));

    // Malformed and oversize bodies: plain-words 400 / 413.
    let bad = admin.call("POST", "/api/v1/accounts", &json!(null)).await;
    assert_eq!(bad.status, 400);
    let broken = relay
        .send(
            "POST",
            "/api/v1/login",
            &[("origin", &origin), ("content-type", "application/json")],
            b"{\"username\": ",
        )
        .await;
    assert_eq!(broken.status, 400);
    assert_documented(&doc, "/api/v1/login", "POST", &broken);
    assert!(broken.json()["error"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    let huge = vec![b' '; 70 * 1024];
    let too_big = relay
        .send("POST", "/api/v1/login", &[("origin", &origin)], &huge)
        .await;
    assert_eq!(too_big.status, 413);

    // Not logged in.
    let anonymous = relay.get("/api/v1/accounts").await;
    assert_eq!(anonymous.status, 401);
    assert_documented(&doc, "/api/v1/accounts", "GET", &anonymous);

    let out = admin.post("/api/v1/logout", &json!({})).await;
    assert_documented(&doc, "/api/v1/logout", "POST", &out);
    assert_eq!(admin.get("/api/v1/me").await.status, 401);
}

fn admin_clone<'a>(c: &ApiClient<'a>, _relay: &'a WebRelay) -> ApiClient<'a> {
    ApiClient {
        relay: c.relay,
        cookie: c.cookie.clone(),
        csrf: c.csrf.clone(),
    }
}

#[tokio::test]
async fn accounts_settings_and_totp_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let doc = doc();
    let admin = relay.api_login(ADMIN, ADMIN_PASSWORD).await;

    let created = admin
        .post(
            "/api/v1/accounts",
            &json!({"username": "mika", "display_name": "Mika", "password": "correct-horse-battery-9", "role": "operator"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_documented(&doc, "/api/v1/accounts", "POST", &created);
    let again = admin
        .post(
            "/api/v1/accounts",
            &json!({"username": "mika", "password": "correct-horse-battery-9", "role": "operator"}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_documented(&doc, "/api/v1/accounts", "POST", &again);

    let path = "/api/v1/accounts/{username}";
    let changed = admin
        .call(
            "PATCH",
            "/api/v1/accounts/mika",
            &json!({"allowed_modes": ["view_customer"], "full_file_control": true, "enabled": false}),
        )
        .await;
    assert_documented(&doc, path, "PATCH", &changed);
    assert_eq!(changed.status, 200, "{}", changed.text());
    let list = admin.get("/api/v1/accounts").await;
    assert_documented(&doc, "/api/v1/accounts", "GET", &list);
    let mika = list.json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "mika")
        .cloned()
        .unwrap();
    assert_eq!(mika["allowed_modes"], json!(["view_customer"]));
    assert_eq!(mika["full_file_control"], true);
    assert_eq!(mika["enabled"], false);
    let bad_mode = admin
        .call(
            "PATCH",
            "/api/v1/accounts/mika",
            &json!({"allowed_modes": ["fly"]}),
        )
        .await;
    assert_eq!(bad_mode.status, 400);
    assert_documented(&doc, path, "PATCH", &bad_mode);
    assert_eq!(
        admin
            .call("PATCH", "/api/v1/accounts/mika", &json!({"enabled": true}))
            .await
            .status,
        200
    );

    let reset = admin
        .post(
            "/api/v1/accounts/mika/password",
            &json!({"new_password": "another-long-secret-77"}),
        )
        .await;
    assert_documented(&doc, "/api/v1/accounts/{username}/password", "POST", &reset);
    assert_eq!(reset.status, 200);
    let unblock = admin
        .post("/api/v1/accounts/mika/unblock", &json!({}))
        .await;
    assert_documented(
        &doc,
        "/api/v1/accounts/{username}/unblock",
        "POST",
        &unblock,
    );
    let totp = admin.post("/api/v1/accounts/mika/totp", &json!({})).await;
    assert_documented(&doc, "/api/v1/accounts/{username}/totp", "POST", &totp);
    let t = totp.json();
    assert!(t["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/rsupport:mika?secret="));
    assert!(t["qr_svg"].as_str().unwrap().contains("<svg"));
    let untotp = admin
        .call("DELETE", "/api/v1/accounts/mika/totp", &json!({}))
        .await;
    assert_documented(&doc, "/api/v1/accounts/{username}/totp", "DELETE", &untotp);
    assert_eq!(untotp.status, 200);
    let missing = admin
        .post("/api/v1/accounts/nobody/unblock", &json!({}))
        .await;
    assert!(matches!(missing.status, 404 | 400), "{}", missing.status);
    assert_documented(
        &doc,
        "/api/v1/accounts/{username}/unblock",
        "POST",
        &missing,
    );

    // The first login of a reset account must change its password first.
    let mika = relay.api_login("mika", "another-long-secret-77").await;
    let me = mika.get("/api/v1/me").await.json();
    assert_eq!(me["must_change_password"], true);
    let changed = mika
        .post(
            "/api/v1/password",
            &json!({"old_password": "another-long-secret-77", "new_password": "mika-chose-this-one-42"}),
        )
        .await;
    assert_documented(&doc, "/api/v1/password", "POST", &changed);
    assert_eq!(changed.status, 200, "{}", changed.text());
    // An operator may not use the admin API.
    let forbidden = mika.get("/api/v1/accounts").await;
    assert_eq!(forbidden.status, 403);
    assert_documented(&doc, "/api/v1/accounts", "GET", &forbidden);

    let settings = admin.get("/api/v1/settings").await;
    assert_documented(&doc, "/api/v1/settings", "GET", &settings);
    let updated = admin
        .call(
            "PATCH",
            "/api/v1/settings",
            &json!({"max_failed_logins": 3, "remote_printing": false}),
        )
        .await;
    assert_documented(&doc, "/api/v1/settings", "PATCH", &updated);
    assert_eq!(updated.json()["max_failed_logins"], 3);
    assert_eq!(updated.json()["remote_printing"], false);
    let wrong = admin
        .call("PATCH", "/api/v1/settings", &json!({"colour": "blue"}))
        .await;
    assert_eq!(wrong.status, 400);
    let out_of_range = admin
        .call("PATCH", "/api/v1/settings", &json!({"code_length": 1}))
        .await;
    assert_eq!(out_of_range.status, 400, "{}", out_of_range.text());
    assert_documented(&doc, "/api/v1/settings", "PATCH", &out_of_range);
}

#[tokio::test]
async fn a_lockout_is_the_relays_own_for_the_api_and_native_logins() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let doc = doc();
    let admin = relay.api_login(ADMIN, ADMIN_PASSWORD).await;
    admin
        .call(
            "PATCH",
            "/api/v1/settings",
            &json!({"max_failed_logins": 3}),
        )
        .await;
    let wrong = json!({"username": OPERATOR, "password": "not-it"});
    let anonymous = ApiClient {
        relay: &relay,
        cookie: String::new(),
        csrf: String::new(),
    };
    for _ in 0..2 {
        let r = anonymous.post("/api/v1/login", &wrong).await;
        assert_eq!(r.status, 401);
        assert_documented(&doc, "/api/v1/login", "POST", &r);
        assert_eq!(r.json()["reason"], "bad_credentials");
    }
    // The third failure reaches max_failed_logins: the relay locks at once.
    let third = anonymous.post("/api/v1/login", &wrong).await;
    assert_eq!(third.status, 429, "{}", third.text());
    // Locked over the API: the right password is refused, natively too.
    let right = json!({"username": OPERATOR, "password": OPERATOR_PASSWORD});
    let locked = anonymous.post("/api/v1/login", &right).await;
    assert_eq!(locked.status, 429, "{}", locked.text());
    assert_documented(&doc, "/api/v1/login", "POST", &locked);
    // Blocked, or (from this source, after the block) rate limited: the relay decides.
    let reason = locked.json()["reason"].clone();
    assert!(
        reason == "locked_out" || reason == "too_many_attempts",
        "{reason}"
    );
    assert!(locked.header("retry-after").is_some());
    let (_, native) = native_login(&relay, OPERATOR, OPERATOR_PASSWORD).await;
    assert!(
        matches!(native, LoginStatus::Blocked | LoginStatus::RateLimited),
        "{native:?}"
    );

    // Unblocked by the admin; then native failures lock the API login.
    admin
        .post(&format!("/api/v1/accounts/{OPERATOR}/unblock"), &json!({}))
        .await;
    let (_, ok) = native_login(&relay, OPERATOR, OPERATOR_PASSWORD).await;
    assert_eq!(ok, LoginStatus::Ok);
    for expected in [LoginStatus::BadCredentials, LoginStatus::BadCredentials] {
        let (_, s) = native_login(&relay, OPERATOR, "not-it").await;
        assert_eq!(s, expected);
    }
    let (_, third) = native_login(&relay, OPERATOR, "not-it").await;
    assert!(
        matches!(third, LoginStatus::Blocked | LoginStatus::RateLimited),
        "{third:?}"
    );
    let locked = anonymous.post("/api/v1/login", &right).await;
    assert_eq!(locked.status, 429);
    // The audit history shows the failures.
    let audit = admin.get("/api/v1/audit?limit=500").await;
    assert_documented(&doc, "/api/v1/audit", "GET", &audit);
    assert!(audit.text().contains("login_failed"), "{}", audit.text());
}

#[tokio::test]
async fn live_sessions_end_history_export_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(&dir).await;
    let doc = doc();
    let admin = relay.api_login(ADMIN, ADMIN_PASSWORD).await;

    // One session ended by the operator, one by the admin through the API.
    let (mut op, _cu, first) = session(&relay).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    op.send(&RelayMessage::LeaveSession {
        session_id: first,
        reason: rsupport_proto::EndReason::OperatorEnded,
    })
    .await
    .unwrap();
    expect_ended(&mut op, first).await;
    drop(op);
    let (mut op, mut cu, id) = session(&relay).await;
    let live = admin.get("/api/v1/sessions").await;
    assert_documented(&doc, "/api/v1/sessions", "GET", &live);
    let ids: Vec<u64> = live.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, vec![id]);
    // From the broker's table: both parties connected, encrypted end to end.
    let row = &live.json()["sessions"][0];
    assert_eq!(row["operator"], OPERATOR);
    assert_eq!(row["end_to_end"], true);
    assert_eq!(row["operator_suspended_until_ms"], Value::Null);
    assert_eq!(row["customer_suspended_until_ms"], Value::Null);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ended = admin
        .call("DELETE", &format!("/api/v1/sessions/{id}"), &json!({}))
        .await;
    assert_documented(&doc, "/api/v1/sessions/{session_id}", "DELETE", &ended);
    assert_eq!(ended.status, 200, "{}", ended.text());
    expect_ended(&mut op, id).await;
    expect_ended(&mut cu, id).await;
    let gone = admin
        .call("DELETE", &format!("/api/v1/sessions/{id}"), &json!({}))
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text());
    assert_documented(&doc, "/api/v1/sessions/{session_id}", "DELETE", &gone);
    assert_eq!(
        admin.get("/api/v1/sessions").await.json()["sessions"],
        json!([])
    );

    // Statistics: the two sessions, both the operator's.
    let stats = admin.get("/api/v1/stats").await;
    assert_documented(&doc, "/api/v1/stats", "GET", &stats);
    let s = stats.json();
    assert_eq!(s["durations"]["count"], 2);
    assert_eq!(s["operators"][0]["username"], OPERATOR);
    assert_eq!(s["operators"][0]["sessions"], 2);
    let days = s["days"].as_array().unwrap();
    let started: u64 = days.iter().map(|d| d["sessions"].as_u64().unwrap()).sum();
    assert_eq!(started, 2);
    assert_eq!(
        days.iter()
            .map(|d| d["peak_concurrent"].as_u64().unwrap())
            .max(),
        Some(1)
    );
    assert!(s["durations"]["longest_ms"].as_u64().unwrap() >= 50);

    // History: paged, filtered and exported.
    let page = admin.get("/api/v1/audit?limit=2").await;
    assert_documented(&doc, "/api/v1/audit", "GET", &page);
    let next = page.json()["next_after_id"].as_u64().unwrap();
    let page2 = admin
        .get(&format!("/api/v1/audit?limit=2&after_id={next}"))
        .await;
    assert!(page2.json()["records"][0]["id"].as_u64().unwrap() > next);
    let csv = admin
        .get(&format!(
            "/api/v1/audit/export?format=csv&operator={OPERATOR}"
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment;"));
    let text = csv.text();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, rsupport_relay::audit::COLUMNS);
    let kind = header.iter().position(|c| *c == "kind").unwrap();
    let ended_rows = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .inspect(|fields| assert!(fields.len() >= header.len(), "{fields:?}"))
        .filter(|f| f[kind] == "session_ended")
        .count();
    assert_eq!(ended_rows, 2);
    let json_export = admin.get("/api/v1/audit/export?format=json").await;
    assert_eq!(json_export.status, 200);
    let schema = &doc["paths"]["/api/v1/audit/export"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    rsupport_testkit::web::check_schema(&doc, schema, &json_export.json()).unwrap();
    let bad = admin.get("/api/v1/audit/export?format=xls").await;
    assert_eq!(bad.status, 400);
    assert_documented(&doc, "/api/v1/audit/export", "GET", &bad);
}
