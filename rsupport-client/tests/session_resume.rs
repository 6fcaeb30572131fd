//! Sessions that survive a dropped connection and a relay restart, through
//! a real TLS relay over SQLite and the vendor API: a file transfer cut
//! mid-way continues from its last confirmed byte and arrives verified.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rsupport_testkit::relay as support;

use std::path::Path;

use rsupport_capture::source::SyntheticSource;
use rsupport_client::{HostPlatform, LobbyEvent, SessionHandle};
use rsupport_core::e2e::Protection;
use rsupport_core::files::FileEvent;
use rsupport_core::session::{ConnectionState, SessionEvent};
use rsupport_input::inject::{InjectError, Injector};
use rsupport_input::InputEvent;
use rsupport_proto::ConnectionMode;
use rsupport_relay::ShutdownMode;
use sha2::{Digest, Sha256};
use support::{grant, paired_via, wait_for, Forwarder, RestartableRelay, WAIT};

const MIB: u64 = 1024 * 1024;
const FILE_SIZE: u64 = 12 * MIB;

struct NoInput;

impl Injector for NoInput {
    fn inject(&mut self, _: &InputEvent) -> Result<(), InjectError> {
        Ok(())
    }
    fn name(&self) -> &'static str {
        "none"
    }
}

fn platform() -> HostPlatform {
    HostPlatform::new(Box::new(SyntheticSource::new()), Box::new(NoInput), None)
}

/// A file whose bytes differ along its length, so a chunk written at the
/// wrong offset changes the hash.
fn write_source(dir: &Path) -> (std::path::PathBuf, [u8; 32]) {
    let data: Vec<u8> = (0..FILE_SIZE)
        .map(|i| ((i * 7 + i / 4099) % 253) as u8)
        .collect();
    let path = dir.join("setup.bin");
    std::fs::write(&path, &data).unwrap();
    (path, Sha256::digest(&data).into())
}

fn sha256_of(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// Offers `file` from the operator; the customer accepts into `dest`.
async fn start_transfer(op: &SessionHandle, cu: &mut SessionHandle, file: &Path, dest: &Path) {
    op.send_files(file).await.unwrap();
    let id = wait_for(cu, |e| match e {
        SessionEvent::File(FileEvent::OfferReceived {
            transfer_id,
            total_size,
            ..
        }) => {
            assert_eq!(*total_size, FILE_SIZE);
            Some(*transfer_id)
        }
        _ => None,
    })
    .await;
    cu.accept_files(id, dest).await.unwrap();
}

/// What the customer saw until the transfer finished: the connection
/// states in order, and whether any entry failed.
async fn customer_until_finished(cu: &mut SessionHandle) -> (Vec<ConnectionState>, bool) {
    let mut states = Vec::new();
    let mut failed = false;
    wait_for(cu, |e| match e {
        SessionEvent::Connection(s) => {
            states.push(*s);
            None
        }
        SessionEvent::File(FileEvent::EntryFailed { .. }) => {
            failed = true;
            None
        }
        SessionEvent::File(FileEvent::Finished { failed_entries, .. }) => Some(*failed_entries),
        SessionEvent::Control(rsupport_core::session::ControlEvent::Ended { reason, .. }) => {
            panic!("session ended: {reason:?}")
        }
        _ => None,
    })
    .await;
    (states, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_resumes_and_the_file_arrives_verified() {
    let db = tempfile::tempdir().unwrap();
    let relay = RestartableRelay::start(&db.path().join("relay.db")).await;
    let forwarder = Forwarder::start(relay.addr()).await;
    let (_operator, mut op, mut cu) = paired_via(
        &relay.target(),
        &relay.target_via(forwarder.addr()),
        platform(),
    )
    .await;
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    let fingerprint = assert_encrypted(&op, &cu);

    let src = tempfile::tempdir().unwrap();
    let (file, digest) = write_source(src.path());
    let dest = tempfile::tempdir().unwrap();
    // Half-way through the file the customer's TCP connection is cut.
    forwarder.cut_after(FILE_SIZE / 2);
    start_transfer(&op, &mut cu, &file, dest.path()).await;
    let (states, failed) = customer_until_finished(&mut cu).await;

    assert!(!failed);
    assert_eq!(
        states,
        vec![ConnectionState::Reconnecting, ConnectionState::Resumed]
    );
    assert_eq!(sha256_of(&dest.path().join("setup.bin")), digest);
    let delivered = forwarder.delivered();
    eprintln!("bytes delivered to the customer per connection: {delivered:?}");
    assert_eq!(delivered.len(), 2, "one reconnect: {delivered:?}");
    assert!(delivered[0] >= FILE_SIZE / 2, "{delivered:?}");
    // Resumed from a confirmed offset, not from the start: the second
    // connection carried less than the whole file.
    assert!(
        delivered[1] < FILE_SIZE,
        "re-sent {} of {FILE_SIZE} bytes",
        delivered[1]
    );
    // The operator heard its peer go and come back.
    let mut peer = Vec::new();
    tokio::time::timeout(WAIT, async {
        while peer.last() != Some(&ConnectionState::PeerResumed) {
            if let SessionEvent::Connection(s) = op.next_event().await.unwrap() {
                peer.push(s);
            }
        }
    })
    .await
    .unwrap();
    assert!(peer.contains(&ConnectionState::PeerResumed));

    // The session goes on: chat still reaches the other side.
    op.send_chat("still here?").await.unwrap();
    wait_for(&mut cu, |e| match e {
        SessionEvent::Chat(rsupport_core::session::ChatEvent::Received(line)) => {
            (line.text == "still here?").then_some(())
        }
        _ => None,
    })
    .await;
    // Still sealed, with the same keys: no new code, no new exchange.
    assert_eq!(assert_encrypted(&op, &cu), fingerprint);
}

/// Both sides show the same end-to-end fingerprint; returns it.
fn assert_encrypted(op: &SessionHandle, cu: &SessionHandle) -> String {
    let (
        Protection::Encrypted { fingerprint: a, .. },
        Protection::Encrypted { fingerprint: b, .. },
    ) = (op.protection(), cu.protection())
    else {
        panic!(
            "not end-to-end encrypted: {:?} / {:?}",
            op.protection(),
            cu.protection()
        );
    };
    assert_eq!(a, b);
    a
}

/// Both parties lose the relay mid-transfer; a new relay on the same
/// address and database takes the session back and the transfer completes.
async fn survive_restart(stop: impl AsyncFnOnce(&mut RestartableRelay)) {
    let db = tempfile::tempdir().unwrap();
    let mut relay = RestartableRelay::start(&db.path().join("relay.db")).await;
    let forwarder = Forwarder::start(relay.addr()).await;
    let (mut operator, mut op, mut cu) = paired_via(
        &relay.target(),
        &relay.target_via(forwarder.addr()),
        platform(),
    )
    .await;
    let session_id = op.session_id();
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    let fingerprint = assert_encrypted(&op, &cu);

    let src = tempfile::tempdir().unwrap();
    let (file, digest) = write_source(src.path());
    let dest = tempfile::tempdir().unwrap();
    // Freeze the transfer half-way, so the relay goes down mid-transfer.
    forwarder.stall_after(FILE_SIZE / 2);
    start_transfer(&op, &mut cu, &file, dest.path()).await;
    forwarder.stalled().await;

    stop(&mut relay).await;
    forwarder.cut(); // the customer learns the relay is gone
    relay.restart().await;

    let (states, failed) = customer_until_finished(&mut cu).await;
    assert!(!failed);
    assert_eq!(states.first(), Some(&ConnectionState::Reconnecting));
    assert!(states.contains(&ConnectionState::Resumed), "{states:?}");
    assert_eq!(sha256_of(&dest.path().join("setup.bin")), digest);
    let delivered = forwarder.delivered();
    eprintln!("bytes delivered to the customer per connection: {delivered:?}");
    assert!(
        delivered.iter().skip(1).sum::<u64>() < FILE_SIZE,
        "{delivered:?}"
    );
    assert_eq!(op.session_id(), session_id);
    assert_eq!(assert_encrypted(&op, &cu), fingerprint);

    // The operator's lobby says the new connection is not logged in.
    let logged_out = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::Reconnected) = operator.next_event().await {
                return;
            }
        }
    })
    .await;
    assert!(logged_out.is_ok());
    assert!(operator.login_info().is_none());
    assert!(operator.issue_code().await.is_err(), "not logged in");
    operator
        .login(support::OPERATOR, support::PASSWORD, None)
        .await
        .unwrap();
    assert_eq!(operator.issue_code().await.unwrap().code().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_relay_restarts_and_the_transfer_completes() {
    survive_restart(async |relay: &mut RestartableRelay| relay.crash().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_stopped_for_restart_keeps_its_sessions() {
    survive_restart(async |relay: &mut RestartableRelay| {
        relay.stop(ShutdownMode::KeepSessions).await
    })
    .await;
}
