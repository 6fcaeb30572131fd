//! Optional client certificates: with `require_client_cert_for_operators`,
//! an operator needs a certificate from the configured CA; customers need none.

#![allow(clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::SeedableRng;
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rsupport_net::connect;
use rsupport_net::tls::{client_config, Identity, Trust};
use rsupport_proto::relay::{Login, LoginStatus, RelayMessage, Secret};
use rsupport_proto::Role;
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::SqliteStore;
use rsupport_relay::{create_account, AccountSpec, Relay};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap().der().clone();
    Ca {
        cert,
        issuer: Issuer::new(params, key),
    }
}

fn client_identity(ca: &Ca) -> Identity {
    let mut params = CertificateParams::new(vec!["aiko".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    Identity {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    }
}

#[tokio::test]
async fn operators_need_a_client_certificate_when_required() {
    let ca = ca();
    let (identity, _, _) = rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
    let fp = identity.fingerprint();
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert.clone()).unwrap();

    let mut store = SqliteStore::in_memory().unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let fast = Argon2Params::insecure_fast();
    let operator = AccountSpec {
        username: "aiko",
        display_name: "Aiko",
        password: "Operator1",
        role: Role::Operator,
    };
    create_account(&mut store, operator, fast, &mut rng, 0).unwrap();
    let relay = Relay::builder()
        .configure(|relay| {
            relay.argon2 = fast;
            relay.require_client_cert_for_operators = true;
        })
        .store(store)
        .identity(identity)
        .client_certificates(roots)
        .rng(StdRng::seed_from_u64(6))
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let addr = relay.local_addr();

    let login = |id: Option<Identity>| async move {
        let mut c = connect(
            addr,
            "localhost",
            client_config(Trust::Fingerprint(fp), id).unwrap(),
        )
        .await
        .unwrap();
        c.hello(Role::Operator, "t").await.unwrap();
        c.send(&RelayMessage::Login(Login {
            username: "aiko".into(),
            password: "Operator1".into(),
            totp: Secret::default(),
        }))
        .await
        .unwrap();
        match c.recv_relay().await.unwrap() {
            RelayMessage::LoginResult(r) => r.status,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(login(None).await, LoginStatus::NotAllowed, "no certificate");
    assert_eq!(
        login(Some(client_identity(&ca))).await,
        LoginStatus::Ok,
        "certificate from the CA"
    );
    // A certificate from another CA fails the TLS handshake itself.
    let stranger = client_identity(&self::ca());
    let tls = client_config(Trust::Fingerprint(fp), Some(stranger)).unwrap();
    let refused = async {
        let mut c = connect(addr, "localhost", tls).await?;
        c.hello(Role::Operator, "t").await.map(|_| ())
    };
    assert!(refused.await.is_err());
    // Customers connect without a certificate.
    let mut c = connect(
        addr,
        "localhost",
        client_config(Trust::Fingerprint(fp), None).unwrap(),
    )
    .await
    .unwrap();
    c.hello(Role::Customer, "t").await.unwrap();
}
