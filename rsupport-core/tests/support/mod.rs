//! Shared harness for the end-to-end session tests: a real relay over TLS
//! on loopback with a SQLite store, and helpers to pair an operator with a
//! customer through the vendor API.

#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_core::auth::{Argon2Params, PasswordHasher};
use rsupport_core::endpoint::{
    Customer, HostPlatform, LobbyEvent, Operator, OperatorOptions, RelayTarget, SessionHandle,
};
use rsupport_core::relay::{new_account, serve, AccountSpec, RelayConfig, ServeConfig};
use rsupport_core::session::{ControlEvent, SessionEvent};
use rsupport_core::store::{SqliteStore, Store};
use rsupport_core::tls::{fingerprint_hex, server_config, Identity};
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::{ConnectionMode, Role};
use tokio::net::TcpListener;

pub const OPERATOR: &str = "aiko";
pub const PASSWORD: &str = "Operator1";
pub const WAIT: Duration = Duration::from_secs(20);

/// Starts a relay on 127.0.0.1 with one operator account; its SQLite store
/// lives at `database` (or in memory).
pub async fn start_relay(database: Option<&Path>) -> RelayTarget {
    start_relay_with(database, false).await
}

/// [`start_relay`], with the operator's "full file transfer control" grant
/// set as given (offers in control mode are then accepted without asking).
pub async fn start_relay_with(database: Option<&Path>, full_file_control: bool) -> RelayTarget {
    let (identity, _, _) = Identity::self_signed(&["localhost".into()]).unwrap();
    let fingerprint = fingerprint_hex(&identity.fingerprint());
    let mut store = match database {
        Some(path) => SqliteStore::open(path).unwrap(),
        None => SqliteStore::in_memory().unwrap(),
    };
    let mut rng = StdRng::seed_from_u64(11);
    let hasher = PasswordHasher::new(Argon2Params::insecure_fast(), &mut rng);
    let mut op = new_account(
        &store,
        AccountSpec {
            username: OPERATOR,
            display_name: "Aiko",
            password: PASSWORD,
            role: Role::Operator,
        },
        &hasher,
        &mut rng,
        0,
    )
    .unwrap();
    op.must_change_password = false;
    op.full_file_control = full_file_control;
    store.insert_account(&op).unwrap();
    let mut relay = RelayConfig::default();
    relay.argon2 = Argon2Params::insecure_fast();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServeConfig {
        relay,
        tls: Some(server_config(identity, None).unwrap()),
        store: Box::new(store),
        rng: Box::new(StdRng::seed_from_u64(12)),
    };
    tokio::spawn(serve(listener, config, std::future::pending()));
    RelayTarget::pinned(addr.to_string(), "localhost", fingerprint)
}

/// Waits for the first event `pick` accepts, skipping others.
pub async fn wait_for<T>(
    session: &mut SessionHandle,
    mut pick: impl FnMut(&SessionEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = session.next_event().await.expect("session still open");
            if let Some(t) = pick(&event) {
                return t;
            }
        }
    })
    .await
    .expect("event in time")
}

/// An operator logged in, a customer joined with the operator's code.
pub async fn paired(
    target: &RelayTarget,
    platform: HostPlatform,
) -> (Operator, SessionHandle, SessionHandle) {
    let mut operator = Operator::connect(target, OperatorOptions::default())
        .await
        .unwrap();
    operator.login(OPERATOR, PASSWORD, None).await.unwrap();
    let invitation = operator.issue_code().await.unwrap();
    assert_eq!(invitation.code().len(), 8);
    let customer = Customer::connect(target, platform).await.unwrap();
    let code = invitation.code().to_owned();
    let join = tokio::spawn(async move {
        customer
            .join(
                &code,
                CustomerInfo {
                    name: "Bob".into(),
                    description: "printer broken".into(),
                    ..Default::default()
                },
            )
            .await
    });
    let op_session = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::SessionStarted(s)) = operator.next_event().await {
                return s;
            }
        }
    })
    .await
    .unwrap();
    let cu_session = join.await.unwrap().unwrap();
    assert_eq!(op_session.customer().name, "Bob");
    (operator, op_session, cu_session)
}

/// The operator asks for `mode`; the customer allows it.
pub async fn grant(op: &mut SessionHandle, cu: &mut SessionHandle, mode: ConnectionMode) {
    op.request_mode(mode, "to help").await.unwrap();
    let request_id = wait_for(cu, |e| match e {
        SessionEvent::Control(ControlEvent::ConsentRequested {
            request_id,
            mode: m,
            ..
        }) if *m == mode => Some(*request_id),
        _ => None,
    })
    .await;
    cu.decide(request_id, true).await.unwrap();
    wait_for(op, |e| match e {
        SessionEvent::Control(ControlEvent::SharingChanged(s)) if s.mode() == Some(mode) => {
            Some(())
        }
        _ => None,
    })
    .await;
}
