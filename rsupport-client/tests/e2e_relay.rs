//! End-to-end encryption against a real relay: a tap that sees what a
//! compromised relay machine sees finds no chat line, typed string, file or
//! screen tile in what it forwards; a relay that runs its own key exchange
//! with each side is caught by both before any prompt or frame; a wrong code
//! fails; old programs get plaintext sessions only where both sides allow it;
//! chat-first contacts are verified with the help desk's key; a stolen
//! resume token gives the route, never the keys.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;

use rsupport_client::{
    ClientError, Customer, Encryption, HostPlatform, LobbyEvent, Operator, RelayTarget,
    SessionHandle,
};
use rsupport_core::e2e::{HelpdeskKey, Protection, Verification};
use rsupport_core::files::FileEvent;
use rsupport_core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport_proto::envelope::{Envelope, PayloadProtection};
use rsupport_proto::input::InputMessage;
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::screen::ScreenMessage;
use rsupport_proto::session::SessionMessage;
use rsupport_proto::{ConnectionMode, EndReason};
use rsupport_testkit::relay::{
    grant, operator_logged_in, paired, session_started as started, start_relay_with, wait_for, WAIT,
};
use rsupport_testkit::tap::Tap;

const CHAT_MARKER: &str = "chat-marker-7f3a9c hunter2";
const TYPED_MARKER: &str = "typed-marker-51be0d correct horse";
const FILE_MARKER: &[u8] = b"file-marker-c0ffee-";

/// A relay (plaintext sessions allowed, for the comparison run) and a tap
/// in front of it.
async fn tapped_relay() -> Tap {
    let target =
        start_relay_with(None, false, |c| c.settings.allow_plaintext_sessions = true).await;
    let (addr, fp) = relay_addr_and_fingerprint(&target);
    Tap::start(addr, &fp).await
}

fn relay_addr_and_fingerprint(target: &RelayTarget) -> (std::net::SocketAddr, String) {
    let debug = format!("{target:?}");
    // RelayTarget keeps its pin private; tests read it from Debug.
    let fp = debug
        .split("Pinned(\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    (target.addr().parse().unwrap(), fp)
}

/// A session through `target` that moves a chat line, a typed string, a
/// file and screen frames; returns when the customer saw all of it.
async fn busy_session(target: &RelayTarget, files: &Path) -> (SessionHandle, SessionHandle) {
    let (operator, mut op, mut cu) = paired(target, HostPlatform::synthetic()).await;
    std::mem::forget(operator); // keeps the operator's connection for the session
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    wait_for(&mut op, |e| match e {
        SessionEvent::ViewerScreen(_) => Some(()),
        _ => None,
    })
    .await;
    op.send_chat(CHAT_MARKER).await.unwrap();
    wait_for(&mut cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) if l.text == CHAT_MARKER => Some(()),
        _ => None,
    })
    .await;
    op.send_input(InputMessage::Text {
        text: TYPED_MARKER.into(),
    })
    .await
    .unwrap();
    let src = files.join("report.txt");
    std::fs::write(&src, FILE_MARKER.repeat(64)).unwrap();
    op.send_files(&src).await.unwrap();
    let id = wait_for(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::OfferReceived { transfer_id, .. }) => Some(*transfer_id),
        _ => None,
    })
    .await;
    let dest = files.join("in");
    std::fs::create_dir_all(&dest).unwrap();
    cu.accept_files(id, &dest).await.unwrap();
    wait_for(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::Finished { .. }) => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(
        std::fs::read(dest.join("report.txt")).unwrap(),
        FILE_MARKER.repeat(64)
    );
    (op, cu)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// 48 bytes from the middle of the encoded tiles of the first frame the
/// tap saw in clear (if any).
fn first_tile(envelopes: &[Envelope]) -> Option<Vec<u8>> {
    envelopes
        .iter()
        .find_map(|env| match SessionMessage::decode(env.payload.clone()) {
            Ok(SessionMessage::Screen(ScreenMessage::Frame(update)))
                if update.tiles.len() >= 96 =>
            {
                let mid = update.tiles.len() / 2;
                Some(update.tiles[mid..mid + 48].to_vec())
            }
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_forwards_nothing_it_can_read() {
    let files = tempfile::tempdir().unwrap();

    // Control run: programs from before end-to-end encryption. The tap must
    // see every marker, or this test could not fail.
    let tap = tapped_relay().await;
    let legacy = tap
        .target()
        .with_encryption(Encryption::default().speak_protocol_1_only());
    let plain_dir = files.path().join("plain");
    std::fs::create_dir_all(&plain_dir).unwrap();
    let (op, _cu) = busy_session(&legacy, &plain_dir).await;
    assert_eq!(op.protection(), Protection::Plaintext);
    let seen = tap.recorded();
    assert!(
        contains(&seen, CHAT_MARKER.as_bytes()),
        "the tap sees plaintext chat"
    );
    assert!(contains(&seen, TYPED_MARKER.as_bytes()));
    assert!(contains(&seen, FILE_MARKER));
    let tile = first_tile(&tap.envelopes()).expect("the tap sees plaintext frames");

    // The same session, end-to-end encrypted (the default).
    let tap = tapped_relay().await;
    let sealed_dir = files.path().join("sealed");
    std::fs::create_dir_all(&sealed_dir).unwrap();
    let (op, cu) = busy_session(&tap.target(), &sealed_dir).await;
    assert!(matches!(op.protection(), Protection::Encrypted { .. }));
    assert_eq!(op.protection(), cu.protection());
    let seen = tap.recorded();
    let envelopes = tap.envelopes();
    assert!(
        seen.len() > 10_000,
        "the tap forwarded the session: {} bytes",
        seen.len()
    );
    assert!(
        !contains(&seen, CHAT_MARKER.as_bytes()),
        "chat line readable"
    );
    assert!(
        !contains(&seen, TYPED_MARKER.as_bytes()),
        "typed string readable"
    );
    assert!(!contains(&seen, FILE_MARKER), "file content readable");
    assert!(!contains(&seen, &tile), "a screen tile is readable");
    assert!(first_tile(&envelopes).is_none());
    // Every session payload is sealed or part of the key exchange.
    assert!(envelopes.iter().all(|e| matches!(
        e.protection,
        PayloadProtection::Sealed | PayloadProtection::Handshake
    )));
    let sealed = envelopes
        .iter()
        .filter(|e| e.protection == PayloadProtection::Sealed)
        .count();
    assert!(sealed > 20, "{sealed} sealed envelopes");
}

fn ended(event: &SessionEvent) -> Option<(EndReason, String)> {
    match event {
        SessionEvent::Control(ControlEvent::Ended { reason, detail, .. }) => {
            Some((*reason, detail.clone()))
        }
        SessionEvent::Control(ControlEvent::ConsentRequested { .. }) => {
            panic!("consent asked without agreed keys")
        }
        SessionEvent::ViewerScreen(_) => panic!("a frame without agreed keys"),
        SessionEvent::Protection(Protection::Encrypted { .. }) => {
            panic!("announced as encrypted with a party in the middle")
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_in_the_middle_is_caught_by_both_sides_before_anything_is_shared() {
    let target = start_relay_with(None, false, |_| {}).await;
    let (addr, fp) = relay_addr_and_fingerprint(&target);
    let mitm = Tap::man_in_the_middle(addr, &fp, "00000").await;
    let mut operator = operator_logged_in(&mitm.target()).await;
    let code = operator.issue_code().await.unwrap().code().to_owned();
    assert!(!code.ends_with("00000"), "the meddler's guess is wrong");
    let customer = Customer::connect(&mitm.target(), HostPlatform::synthetic())
        .await
        .unwrap();
    let join = tokio::spawn(async move { customer.join(&code, CustomerInfo::default()).await });
    let mut op = started(&mut operator).await;
    let mut cu = join.await.unwrap().unwrap();
    // The operator asks at once; it must never reach the customer.
    let _ = op
        .request_mode(ConnectionMode::ControlCustomer, "help")
        .await;
    let _ = op.send_chat("what is your password?").await;
    let (reason, detail) = wait_for(&mut cu, ended).await;
    assert_eq!(reason, EndReason::KeyExchangeFailed);
    assert!(detail.contains("someone between you"), "{detail}");
    let (reason, detail) = wait_for(&mut op, ended).await;
    assert_eq!(reason, EndReason::KeyExchangeFailed);
    assert!(detail.contains("secure connection"), "says why: {detail:?}");
    assert!(mitm.intercepted() >= 2, "the meddler took part");
    assert_eq!(op.protection(), Protection::Negotiating);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_fails_the_exchange_and_uses_the_code_up() {
    let target = start_relay_with(None, false, |_| {}).await;
    let mut operator = operator_logged_in(&target).await;
    let code = operator.issue_code().await.unwrap().code().to_owned();
    // The relay's digits right, a secret digit wrong.
    let mut wrong = code.clone().into_bytes();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == b'9' {
        b'0'
    } else {
        wrong[last] + 1
    };
    let wrong = String::from_utf8(wrong).unwrap();
    let customer = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let join = tokio::spawn(async move { customer.join(&wrong, CustomerInfo::default()).await });
    let mut op = started(&mut operator).await;
    let mut cu = join.await.unwrap().unwrap();
    let (reason, detail) = wait_for(&mut cu, ended).await;
    assert_eq!(reason, EndReason::KeyExchangeFailed);
    assert!(detail.contains("code does not match"), "{detail}");
    assert_eq!(
        wait_for(&mut op, ended).await.0,
        EndReason::KeyExchangeFailed
    );
    // The right code no longer works: a failed exchange used it up.
    let again = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let e = again
        .join(&code, CustomerInfo::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::JoinRefused { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_customer_gets_a_plaintext_session_only_where_both_sides_allow_it() {
    let target =
        start_relay_with(None, false, |c| c.settings.allow_plaintext_sessions = true).await;
    let old = target
        .clone()
        .with_encryption(Encryption::default().speak_protocol_1_only());

    // The operator's program refuses sessions the relay could read.
    let (_operator, mut op, mut cu) =
        rsupport_testkit::relay::paired_via(&target, &old, HostPlatform::synthetic()).await;
    let (reason, detail) = wait_for(&mut op, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { reason, detail, .. }) => {
            Some((*reason, detail.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(reason, EndReason::NotEncrypted);
    assert!(detail.contains("cannot encrypt"), "{detail}");
    wait_for(&mut cu, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { .. }) => Some(()),
        _ => None,
    })
    .await;

    // Allowed on the operator's side too: both say it is not encrypted.
    let allowing = target
        .clone()
        .with_encryption(Encryption::default().allow_plaintext(true));
    let (_operator, mut op, mut cu) =
        rsupport_testkit::relay::paired_via(&allowing, &old, HostPlatform::synthetic()).await;
    for side in [&mut op, &mut cu] {
        let p = wait_for(side, |e| match e {
            SessionEvent::Protection(p) => Some(p.clone()),
            _ => None,
        })
        .await;
        assert_eq!(p, Protection::Plaintext);
        assert!(p.to_string().contains("not end-to-end encrypted"));
    }
    grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
}

/// Chat-first contact: the customer program pins the help desk's key.
async fn contact(
    operator_target: &RelayTarget,
    customer_target: &RelayTarget,
) -> (SessionHandle, SessionHandle, Operator) {
    let mut operator = operator_logged_in(operator_target).await;
    let id = operator.login_info().unwrap().operator_id.clone();
    let customer = Customer::connect(customer_target, HostPlatform::synthetic())
        .await
        .unwrap();
    let ask = tokio::spawn(async move {
        customer
            .contact(&id, CustomerInfo::default(), "my printer is broken")
            .await
    });
    let request = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::ContactRequest(r)) = operator.next_event().await {
                return r;
            }
        }
    })
    .await
    .unwrap();
    operator.answer_contact(request.contact_id, true).unwrap();
    let op = started(&mut operator).await;
    let cu = ask.await.unwrap().unwrap();
    (op, cu, operator)
}

async fn protection_of(session: &mut SessionHandle) -> Result<Protection, (EndReason, String)> {
    wait_for(session, |e| match e {
        SessionEvent::Protection(p) => Some(Ok(p.clone())),
        SessionEvent::Control(ControlEvent::Ended { reason, detail, .. }) => {
            Some(Err((*reason, detail.clone())))
        }
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_first_contacts_are_verified_with_the_help_desks_key() {
    let target = start_relay_with(None, false, |_| {}).await;
    let key = HelpdeskKey::generate().unwrap();
    let signing = target
        .clone()
        .with_encryption(Encryption::default().sign_as_helpdesk(key.clone()));
    let pinning = target
        .clone()
        .with_encryption(Encryption::default().trust_helpdesk(key.public_key()));

    let (mut op, mut cu, _o) = contact(&signing, &pinning).await;
    let (a, b) = (
        protection_of(&mut op).await.unwrap(),
        protection_of(&mut cu).await.unwrap(),
    );
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert!(matches!(
        b,
        Protection::Encrypted {
            verification: Verification::Helpdesk,
            ..
        }
    ));
    op.send_chat("hello from the help desk").await.unwrap();
    wait_for(&mut cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
        _ => None,
    })
    .await;

    // An operator program without the key cannot pass as the help desk.
    let (_op, mut cu, _o) = contact(&target, &pinning).await;
    let (reason, detail) = protection_of(&mut cu).await.unwrap_err();
    assert_eq!(reason, EndReason::KeyExchangeFailed);
    assert!(detail.contains("help desk"), "{detail}");

    // Without a pinned key: encrypted, not verified, fingerprint to compare.
    let (mut op, mut cu, _o) = contact(&signing, &target).await;
    let p = protection_of(&mut cu).await.unwrap();
    assert!(matches!(
        p,
        Protection::Encrypted {
            verification: Verification::Unverified,
            ..
        }
    ));
    // The operator signed; only the customer's side knows it went unchecked.
    assert_eq!(
        fingerprint(&protection_of(&mut op).await.unwrap()),
        fingerprint(&p)
    );
}

fn fingerprint(p: &Protection) -> String {
    match p {
        Protection::Encrypted { fingerprint, .. } => fingerprint.clone(),
        other => panic!("not encrypted: {other:?}"),
    }
}

/// Whoever holds a party's resume token — the relay, or anyone who stole
/// it from the relay — gets the route, not the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_token_alone_reads_and_injects_nothing() {
    use rsupport_proto::chat::{ChatMessage, ChatText};
    use rsupport_proto::relay::RelayMessage;
    use rsupport_testkit::relay::{raw_customer, KeyedCustomer};

    let target = start_relay_with(None, false, |_| {}).await;
    let mut operator = operator_logged_in(&target).await;
    let code = operator.issue_code().await.unwrap().code().to_owned();
    let customer = KeyedCustomer::join(&target, &code).await;
    let mut op = started(&mut operator).await;
    let (session_id, token) = (
        customer.paired.session_id,
        customer.paired.resume_token.clone(),
    );

    // The imposter takes the customer's place on the route with the token.
    let mut imposter = raw_customer(&target).await;
    imposter
        .send(&RelayMessage::Resume {
            session_id,
            resume_token: token,
        })
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            if let rsupport_net::Incoming::Relay(RelayMessage::Paired(p)) =
                imposter.recv().await.unwrap()
            {
                assert_eq!(p.session_id, session_id);
                return;
            }
        }
    })
    .await
    .expect("the relay hands the route to whoever holds the token");

    // What the operator says next reaches the imposter sealed.
    op.send_chat(CHAT_MARKER).await.unwrap();
    let sealed = tokio::time::timeout(WAIT, async {
        loop {
            if let rsupport_net::Incoming::Session(env) = imposter.recv().await.unwrap() {
                if env.protection == PayloadProtection::Sealed
                    && env.priority == rsupport_proto::envelope::Priority::Chat
                {
                    return env;
                }
            }
        }
    })
    .await
    .unwrap();
    assert!(!contains(&sealed.payload, CHAT_MARKER.as_bytes()));
    assert!(!matches!(
        SessionMessage::decode(sealed.payload.clone()),
        Ok(SessionMessage::Chat(_))
    ));

    // What it injects ends the session instead of reaching the operator.
    let forged = SessionMessage::Chat(ChatMessage::Text(ChatText {
        id: 99,
        text: "please type your password".into(),
        sent_at_ms: 0,
        sender_name: "Bob".into(),
    }))
    .into_envelope(session_id, 1);
    imposter.send_envelope(&forged).await.unwrap();
    let (reason, detail) = wait_for(&mut op, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) => panic!("injected line shown: {}", l.text),
        SessionEvent::Control(ControlEvent::Ended { reason, detail, .. }) => {
            Some((*reason, detail.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(reason, EndReason::Tampered);
    assert!(detail.contains("inject"), "{detail}");
}
