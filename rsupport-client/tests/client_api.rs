//! The paved API through a real relay over TLS on loopback: errors by
//! blame, codes as people type them, typed operator and admin calls,
//! transfer, bounded events and the latest-frame viewer.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_client::admin::{AuditQuery, NewAccount, RelaySettings};
use rsupport_client::{
    ClientError, Customer, Encryption, HostPlatform, LobbyEvent, NotAllowed, Operator,
    OperatorOptions, RelayTarget,
};
use rsupport_core::e2e::Protection;
use rsupport_core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport_proto::relay::{
    CustomerInfo, JoinRefusal, LoginStatus, RelayMessage, RequestError, Secret,
};
use rsupport_proto::{ConnectionMode, EndReason};
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::SqliteStore;
use rsupport_testkit::relay::{
    grant, paired, session_started as started, start_relay, wait_for, OPERATOR, PASSWORD, WAIT,
};

const ADMIN: &str = "root";
const ADMIN_PASSWORD: &str = "violet-kettle-harbor-42";

/// A relay whose store also has an admin account.
async fn relay_with_admin(dir: &Path, allow_plaintext: bool) -> RelayTarget {
    let db = dir.join("relay.db");
    let mut store = SqliteStore::open(&db).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    rsupport_relay::bootstrap_admin(
        &mut store,
        ADMIN,
        ADMIN_PASSWORD,
        Argon2Params::insecure_fast(),
        &mut rng,
        0,
    )
    .unwrap();
    drop(store);
    rsupport_testkit::relay::start_relay_with(Some(&db), false, |c| {
        c.settings.allow_plaintext_sessions = allow_plaintext;
    })
    .await
}

async fn logged_in(target: &RelayTarget, user: &str, password: &str) -> Operator {
    let mut operator = Operator::connect(target, OperatorOptions::default())
        .await
        .unwrap();
    operator.login(user, password, None).await.unwrap();
    operator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_typed_with_spaces_or_dashes_join() {
    let target = start_relay(None).await;
    let mut operator = logged_in(&target, OPERATOR, PASSWORD).await;
    for typed in [
        |c: &str| format!("{} {}", &c[..6], &c[6..]),
        |c: &str| format!("{}-{}-{}", &c[..3], &c[3..6], &c[6..]),
        |c: &str| format!(" {c}\t"),
    ] {
        let invitation = operator.issue_code().await.unwrap();
        assert_eq!(invitation.display_code().len(), 15, "123 456 789 012");
        let customer = Customer::connect(&target, HostPlatform::synthetic())
            .await
            .unwrap();
        let code = typed(invitation.code());
        let join = tokio::spawn(async move { customer.join(&code, CustomerInfo::default()).await });
        let op_session = started(&mut operator).await;
        let cu_session = join.await.unwrap().unwrap();
        assert_eq!(op_session.session_id(), cu_session.session_id());
        op_session
            .end(EndReason::OperatorEnded, "next")
            .await
            .unwrap();
    }

    // Refused before anything is sent, with a sentence that does not echo it.
    let customer = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let e = customer
        .join("1234/5678", CustomerInfo::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::NotAllowed(NotAllowed::InvalidCode { .. })),
        "{e:?}"
    );
    assert!(e.is_not_allowed());
    assert!(!e.to_string().contains("1234/5678"), "{e}");
}

/// Any client benefits: the relay itself ignores spaces and dashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_normalises_codes_from_any_client() {
    let target = start_relay(None).await;
    let mut operator = logged_in(&target, OPERATOR, PASSWORD).await;
    let invitation = operator.issue_code().await.unwrap();
    let c = invitation.code();
    // The digits the relay issued (a protocol-2 program keeps the last five,
    // the end-to-end secret, to itself), typed loosely.
    let typed = format!(" {}-{} ", &c[..4], &c[4..7]);

    // A raw connection, as a browser or another SDK would send it.
    let mut conn = rsupport_testkit::relay::raw_customer(&target).await;
    conn.send(&RelayMessage::JoinByCode {
        code: Secret::new(typed),
        customer: CustomerInfo::default(),
    })
    .await
    .unwrap();
    let answer = tokio::time::timeout(WAIT, async {
        loop {
            match conn.recv().await.unwrap() {
                rsupport_net::Incoming::Relay(RelayMessage::Paired(p)) => return Ok(p),
                rsupport_net::Incoming::Relay(RelayMessage::JoinRefused { reason, .. }) => {
                    return Err(reason)
                }
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(answer.is_ok(), "refused: {answer:?}");
    started(&mut operator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_whose_fault_it_was() {
    let target = start_relay(None).await;

    // Wrong pin: both fingerprints named.
    let wrong = RelayTarget::pinned(target.addr(), "localhost", "12".repeat(32));
    let e = Operator::connect(&wrong, OperatorOptions::default())
        .await
        .unwrap_err();
    let ClientError::FingerprintMismatch {
        addr,
        expected,
        seen,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(addr, target.addr());
    assert!(expected.starts_with("12:12:"), "{expected}");
    assert_eq!(seen.len(), 95, "{seen}");
    assert!(e.is_tls());
    assert!(e.to_string().contains(seen.as_str()));

    // Malformed pin.
    let bad = RelayTarget::pinned(target.addr(), "localhost", "AB:CD");
    let e = Customer::connect(&bad, HostPlatform::synthetic())
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::TlsSetup { .. }), "{e:?}");

    // A CA that did not sign the relay's certificate.
    let dir = tempfile::tempdir().unwrap();
    let (_, other_ca, _) = rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, other_ca).unwrap();
    let untrusted = RelayTarget::with_ca(target.addr(), "localhost", &ca_file);
    let e = Customer::connect(&untrusted, HostPlatform::synthetic())
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Certificate { .. }), "{e:?}");
    assert!(e.to_string().contains("not signed by the CA"), "{e}");

    // Nobody listening: the I/O error is the source.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap().to_string();
    drop(listener);
    let nowhere = RelayTarget::pinned(closed.clone(), "localhost", "12".repeat(32));
    let e = Customer::connect(&nowhere, HostPlatform::synthetic())
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
    assert!(e.is_connect());
    assert!(e.to_string().contains(&closed), "{e}");
    assert!(std::error::Error::source(&e).is_some());

    // Wrong password: typed status, a sentence.
    let mut operator = Operator::connect(&target, OperatorOptions::default())
        .await
        .unwrap();
    let e = operator
        .login(OPERATOR, "wrong-pass", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::LoginRefused {
                status: LoginStatus::BadCredentials,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.to_string().contains("BadCredentials"), "{e}");

    // Not logged in: refused locally.
    let e = operator.issue_code().await.unwrap_err();
    assert!(
        matches!(e, ClientError::NotAllowed(NotAllowed::NotLoggedIn)),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_can_be_cancelled_and_issued_with_a_lifetime() {
    let target = start_relay(None).await;
    let mut operator = logged_in(&target, OPERATOR, PASSWORD).await;

    let before = rsupport_relay::now_ms();
    let short = operator
        .issue_code_with_ttl(Duration::from_secs(90))
        .await
        .unwrap();
    assert!(short.expires_at_ms() <= before + 91_000, "ttl honoured");
    assert!(short.expires_at_ms() >= before + 89_000);

    operator.cancel_code(&short).await.unwrap();
    let customer = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let e = customer
        .join(short.code(), CustomerInfo::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::JoinRefused {
                reason: JoinRefusal::InvalidCode,
                retry_at_ms: None
            }
        ),
        "{e:?}"
    );
    let e = operator.cancel_code(&short).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::RequestRefused {
                reason: Some(RequestError::NotFound),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("the relay refused to cancel the session code"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_accounts_settings_audit_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let target = relay_with_admin(dir.path(), false).await;

    // An operator is not an admin.
    let mut aiko = logged_in(&target, OPERATOR, PASSWORD).await;
    assert!(matches!(
        aiko.admin().unwrap_err(),
        ClientError::NotAllowed(NotAllowed::NotAdmin)
    ));

    let mut root = logged_in(&target, ADMIN, ADMIN_PASSWORD).await;
    let mut admin = root.admin().unwrap();
    admin
        .create_account(NewAccount::operator(
            "kenji",
            "Kenji Mori",
            "Initial-harbor-lantern-7",
        ))
        .await
        .unwrap();
    let e = admin
        .create_account(NewAccount::operator(
            "kenji",
            "Kenji",
            "Initial-harbor-lantern-7",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::RequestRefused {
                reason: Some(RequestError::AlreadyExists),
                ..
            }
        ),
        "{e:?}"
    );
    let accounts = admin.list_accounts().await.unwrap();
    let names: Vec<&str> = accounts.iter().map(|a| a.username.as_str()).collect();
    assert!(
        names.contains(&"kenji") && names.contains(&OPERATOR),
        "{names:?}"
    );

    admin.set_account_enabled("kenji", false).await.unwrap();
    let kenji = accounts.iter().find(|a| a.username == "kenji").unwrap();
    assert!(kenji.enabled);
    assert!(
        !admin
            .list_accounts()
            .await
            .unwrap()
            .iter()
            .find(|a| a.username == "kenji")
            .unwrap()
            .enabled
    );

    admin
        .update_settings(RelaySettings {
            code_ttl_ms: Some(123_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(admin.settings().await.unwrap().code_ttl_ms, Some(123_000));

    let page = admin.audit(AuditQuery::default()).await.unwrap();
    assert!(
        page.records.iter().any(|r| r.kind == "login_ok"),
        "{page:?}"
    );

    // End a live session.
    let (_op, mut op_session, mut cu_session) = {
        let invitation = aiko.issue_code().await.unwrap();
        let customer = Customer::connect(&target, HostPlatform::synthetic())
            .await
            .unwrap();
        let code = invitation.display_code();
        let join = tokio::spawn(async move { customer.join(&code, CustomerInfo::default()).await });
        let op = started(&mut aiko).await;
        ((), op, join.await.unwrap().unwrap())
    };
    let mut admin = root.admin().unwrap();
    admin.end_session(op_session.session_id()).await.unwrap();
    for session in [&mut op_session, &mut cu_session] {
        wait_for(session, |e| match e {
            SessionEvent::Control(ControlEvent::Ended { .. }) => Some(()),
            _ => None,
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_session_is_not_handed_over_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let target = relay_with_admin(dir.path(), false).await;
    let kenji_id = colleague(&target).await.1;
    let (mut aiko, op_session, _cu_session) = paired(&target, HostPlatform::synthetic()).await;
    let e = aiko
        .transfer_session(&op_session, &kenji_id, "printer expert")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("end-to-end encrypted"),
        "says why in plain words: {e}"
    );
}

/// Sessions of programs from before end-to-end encryption (protocol 1,
/// where the relay allows them) still go to a colleague.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_session_is_handed_to_a_colleague() {
    let dir = tempfile::tempdir().unwrap();
    let target = relay_with_admin(dir.path(), true)
        .await
        .with_encryption(Encryption::default().speak_protocol_1_only());
    let (mut kenji, kenji_id) = colleague(&target).await;
    let (mut aiko, mut op_session, mut cu_session) =
        paired(&target, HostPlatform::synthetic()).await;
    assert_eq!(op_session.protection(), Protection::Plaintext);
    aiko.transfer_session(&op_session, &kenji_id, "printer expert")
        .await
        .unwrap();
    let offer = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::SessionOffer(o)) = kenji.next_event().await {
                return o;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(offer.note, "printer expert");
    assert_eq!(offer.session_id, op_session.session_id());
    kenji.answer_offer(offer.offer_id, true).unwrap();
    let kenji_session = started(&mut kenji).await;
    let reason = wait_for(&mut op_session, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { reason, .. }) => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, EndReason::Transferred);

    // The customer now talks to the colleague.
    kenji_session.send_chat("Kenji here").await.unwrap();
    let text = wait_for(&mut cu_session, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(text, "Kenji here");
}

/// A second operator, Kenji, created by the admin and logged in with his
/// own password: his connection and operator ID.
async fn colleague(target: &RelayTarget) -> (Operator, String) {
    let mut root = logged_in(target, ADMIN, ADMIN_PASSWORD).await;
    root.admin()
        .unwrap()
        .create_account(NewAccount::operator(
            "kenji",
            "Kenji Mori",
            "Initial-harbor-lantern-7",
        ))
        .await
        .unwrap();
    let mut kenji = logged_in(target, "kenji", "Initial-harbor-lantern-7").await;
    assert!(kenji.login_info().unwrap().must_change_password);
    kenji
        .change_password("Initial-harbor-lantern-7", "granite-otter-sunrise-58")
        .await
        .unwrap();
    let id = kenji.login_info().unwrap().operator_id.clone();
    (kenji, id)
}

/// A product that stops reading: chat is never lost, frames keep being
/// applied without queueing, and the viewer shows the newest frame with
/// damage covering everything that changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_product_loses_no_chat_and_sees_the_latest_frame() {
    let target = start_relay(None).await;
    let (_operator, mut op, mut cu) = paired(&target, HostPlatform::synthetic()).await;
    grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
    let mut viewer = op.viewer();
    viewer.changed().await.unwrap();
    let first = viewer.frame().unwrap();
    let (width, height) = (first.frame().width(), first.frame().height());
    assert!(first
        .changed_rects()
        .iter()
        .any(|r| r.width == width && r.height == height));
    drop(first);

    // The operator's product stops reading events for a while: frames go
    // on being applied, their notices do not pile up.
    let applied_before = op.stats().await.unwrap().frames_applied;
    while op.queued_events() > 0 {
        op.next_event().await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let applied_after = op.stats().await.unwrap().frames_applied;
    assert!(
        applied_after > applied_before + 5,
        "frames keep being applied while nobody reads: {applied_before} → {applied_after}"
    );

    // The viewer: the latest frame, the union of damage, no backlog.
    let view = viewer.frame().unwrap();
    assert!(!view.changed_rects().is_empty());
    assert!(view.changed_rects().len() <= 64);
    assert!(
        view.seq() >= applied_after - 1,
        "no older frame left to see"
    );
    drop(view);
    let queued = op.queued_events();
    assert!(
        queued <= 4,
        "{queued} events queued for {} frames",
        applied_after - applied_before
    );

    // Chat while nobody reads: more lines than the channel holds, none lost,
    // and the channel stays within its bound.
    const LINES: usize = 600;
    for i in 0..LINES {
        cu.send_chat(format!("line {i}")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(op.queued_events() <= 256, "bounded: {}", op.queued_events());
    let mut got = 0;
    while got < LINES {
        let event = tokio::time::timeout(WAIT, op.next_event())
            .await
            .unwrap()
            .unwrap();
        if let SessionEvent::Chat(ChatEvent::Received(l)) = event {
            assert_eq!(l.text, format!("line {got}"));
            got += 1;
        }
    }

    // The session ends: a viewer waiting for frames is told.
    cu.end(EndReason::CustomerEnded, "done").await.unwrap();
    let e = tokio::time::timeout(WAIT, async {
        loop {
            if let Err(e) = viewer.changed().await {
                return e;
            }
        }
    })
    .await
    .unwrap();
    assert!(e.is_session_ended(), "{e:?}");
}

/// One session whose product stops reading never stalls another session
/// of the same operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_session_does_not_stall_the_others() {
    let target = start_relay(None).await;
    let (mut operator, mut stalled_op, stalled_cu) =
        paired(&target, HostPlatform::synthetic()).await;
    let invitation = operator.issue_code().await.unwrap();
    let customer = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let code = invitation.display_code();
    let join = tokio::spawn(async move { customer.join(&code, CustomerInfo::default()).await });
    let mut live_op = started(&mut operator).await;
    let live_cu = join.await.unwrap().unwrap();

    // Far more than the stalled handle's channel holds.
    for i in 0..1500 {
        stalled_cu.send_chat(format!("flood {i}")).await.unwrap();
    }
    for i in 0..20 {
        live_cu.send_chat(format!("live {i}")).await.unwrap();
        let text = wait_for(&mut live_op, |e| match e {
            SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
            _ => None,
        })
        .await;
        assert_eq!(text, format!("live {i}"));
    }
    assert!(stalled_op.queued_events() <= 256);
    // It even ends meanwhile: nothing is lost, the end comes last.
    stalled_cu
        .end(EndReason::CustomerEnded, "bye")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The stalled session lost nothing.
    let mut got = 0;
    while got < 1500 {
        if let SessionEvent::Chat(ChatEvent::Received(l)) =
            tokio::time::timeout(WAIT, stalled_op.next_event())
                .await
                .unwrap()
                .unwrap()
        {
            assert_eq!(l.text, format!("flood {got}"));
            got += 1;
        }
    }
    let reason = wait_for(&mut stalled_op, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { reason, .. }) => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, EndReason::CustomerEnded);
}

/// A customer program connects when it starts, and its user may take a
/// while to type the code: the relay's deadline to join after Hello must not
/// make the join fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_who_types_the_code_after_the_join_deadline_still_joins() {
    let target = rsupport_testkit::relay::start_relay_with(None, false, |config| {
        config.auth_timeout_ms = 1_000;
    })
    .await;
    let mut operator = Operator::connect(&target, Default::default())
        .await
        .unwrap();
    operator.login(OPERATOR, PASSWORD, None).await.unwrap();
    let invitation = operator.issue_code().await.unwrap();
    let customer = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let session = tokio::time::timeout(
        WAIT,
        customer.join(invitation.code(), CustomerInfo::default()),
    )
    .await
    .expect("the join is answered")
    .expect("the customer joins");
    assert_eq!(session.side(), rsupport_core::Side::Customer);
}
