//! Passwords and session codes never reach the logs. (Its own test binary, so
//! the capturing subscriber is the only one and sees every event.)

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_proto::relay::{CustomerInfo, Hello, Login, RelayMessage, Secret};
use rsupport_proto::{Role, PROTOCOL_VERSION};
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::SqliteStore;
use rsupport_relay::{bootstrap_admin, Broker, ConnInfo, Output, RelayConfig};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn passwords_and_codes_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    const PW: &str = "violet-kettle-harbor-42";
    let mut store = SqliteStore::in_memory().unwrap();
    bootstrap_admin(
        &mut store,
        "root",
        PW,
        Argon2Params::insecure_fast(),
        &mut StdRng::seed_from_u64(1),
        0,
    )
    .unwrap();
    let mut config = RelayConfig::default();
    config.argon2 = Argon2Params::insecure_fast();
    let mut broker = Broker::new(config, Box::new(store), Box::new(StdRng::seed_from_u64(2)));
    let info = ConnInfo {
        source: "192.0.2.1".parse().unwrap(),
        client_cert: false,
    };
    let hello = |role| {
        RelayMessage::Hello(Hello {
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            role,
            software: "t".into(),
        })
    };
    let login = |pw: &str| {
        RelayMessage::Login(Login {
            username: "root".into(),
            password: pw.into(),
            totp: Secret::default(),
        })
    };
    broker.handle_connect(1, info.clone(), 0);
    broker.handle_message(1, hello(Role::Admin), 0);
    // Runs the password jobs as the relay's worker pool would.
    let pump = |broker: &mut Broker| {
        while let Some(o) = broker.poll_output() {
            if let Output::CheckPassword(job) = o {
                broker.handle_password_checked(job.id, job.run(), 0);
            }
        }
    };
    broker.handle_message(1, login("Wrong9999"), 0);
    pump(&mut broker);
    broker.handle_message(1, login(PW), 0);
    pump(&mut broker);
    broker.handle_message(1, RelayMessage::IssueCode { ttl_secs: 0 }, 0);
    let code = std::iter::from_fn(|| broker.poll_output())
        .find_map(|o| match o {
            Output::Send {
                message: RelayMessage::CodeIssued(c),
                ..
            } => Some(c.code.into_inner()),
            _ => None,
        })
        .unwrap();
    broker.handle_connect(2, info, 0);
    broker.handle_message(2, hello(Role::Customer), 0);
    broker.handle_message(
        2,
        RelayMessage::JoinByCode {
            code: code.as_str().into(),
            customer: CustomerInfo::default(),
        },
        0,
    );
    assert_eq!(broker.session_count(), 1);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("code_used") && logs.contains("login_failed"),
        "events are logged: {logs}"
    );
    for secret in [PW, "Wrong9999", code.as_str()] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}
