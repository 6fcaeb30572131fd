//! TLS for the relay: server and client configurations (TLS 1.3, and TLS 1.2
//! with AEAD suites only), SHA-256 fingerprints and fingerprint pinning.
//! Certificate generation lives with the relay (`rsupport_relay::identity`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A TLS setup failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Reading or writing a PEM file failed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Config(String),
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(String),
}

fn config_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config(e.to_string())
}

/// The ring provider restricted to AEAD suites (rustls offers nothing else,
/// but listing them keeps the promise explicit if defaults ever change).
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::cipher_suite as cs;
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites = vec![
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(p)
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// Reads PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let file_err = |path: &Path, e: &dyn std::fmt::Display| TlsError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| file_err(cert, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_err(cert, &e))?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, &e))?;
        Ok(Identity {
            chain,
            key: key_der,
        })
    }

    /// Parses a certificate chain and private key from PEM text (what
    /// certificate generators hand out).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(config_err)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(config_err)?;
        Ok(Identity { chain, key })
    }

    /// SHA-256 of the leaf certificate.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.chain.first().map_or([0; 32], |c| fingerprint(c))
    }
}

/// SHA-256 of a DER certificate.
pub fn fingerprint(cert: &CertificateDer<'_>) -> [u8; 32] {
    Sha256::digest(cert.as_ref()).into()
}

/// A fingerprint as colon-separated upper-case hex (`AB:CD:…`).
pub fn fingerprint_hex(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses [`fingerprint_hex`] output (colons optional).
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Reads every certificate of a PEM file into a root store.
pub fn roots_from_pem(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| TlsError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    for c in certs {
        let c = c.map_err(|e| TlsError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        roots.add(c).map_err(config_err)?;
    }
    Ok(roots)
}

/// The relay's TLS configuration. With `client_ca`, clients may present a
/// certificate signed by it (the broker can then require one for operators);
/// connections without one are still accepted for customers.
pub fn server_config(
    identity: Identity,
    client_ca: Option<RootCertStore>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(config_err)?;
    let builder = match client_ca {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .allow_unauthenticated()
                .build()
                .map_err(config_err)?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let cfg = builder
        .with_single_cert(identity.chain, identity.key)
        .map_err(config_err)?;
    Ok(Arc::new(cfg))
}

/// How a client decides to trust the relay.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Trust {
    /// A CA (or the relay's own certificate) in a root store; the name is checked.
    Roots(RootCertStore),
    /// The SHA-256 fingerprint of the relay's certificate (for self-signed relays).
    Fingerprint([u8; 32]),
}

/// A client TLS configuration for reaching the relay.
pub fn client_config(
    trust: Trust,
    client_identity: Option<Identity>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    build_client_config(trust, client_identity, PresentedCertificate::default())
}

/// A client configuration that pins `fingerprint` and records the
/// certificate the server presented, so that a refused handshake can be
/// reported with both fingerprints ("pinned AB:…, the relay presented 12:…").
pub fn pinned_client_config(
    fingerprint: [u8; 32],
    client_identity: Option<Identity>,
) -> Result<(Arc<rustls::ClientConfig>, PresentedCertificate), TlsError> {
    let presented = PresentedCertificate::default();
    let config = build_client_config(
        Trust::Fingerprint(fingerprint),
        client_identity,
        presented.clone(),
    )?;
    Ok((config, presented))
}

/// What the server of a pinned connection presented, filled in during the
/// handshake ([`pinned_client_config`]).
#[derive(Debug, Clone, Default)]
pub struct PresentedCertificate(Arc<Mutex<Option<[u8; 32]>>>);

impl PresentedCertificate {
    /// SHA-256 of the server's certificate, once a handshake has seen one.
    pub fn fingerprint(&self) -> Option<[u8; 32]> {
        self.0.lock().ok().and_then(|seen| *seen)
    }

    fn record(&self, fingerprint: [u8; 32]) {
        if let Ok(mut seen) = self.0.lock() {
            *seen = Some(fingerprint);
        }
    }
}

fn build_client_config(
    trust: Trust,
    client_identity: Option<Identity>,
    presented: PresentedCertificate,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(config_err)?;
    let builder = match trust {
        Trust::Roots(roots) => builder.with_root_certificates(roots),
        Trust::Fingerprint(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCert {
                fingerprint: fp,
                presented,
                provider: provider(),
            })),
    };
    let cfg = match client_identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain, id.key)
            .map_err(config_err)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// Accepts exactly one certificate, by SHA-256 fingerprint; handshake
/// signatures are still verified, so the peer must hold the matching key.
#[derive(Debug)]
struct PinnedCert {
    fingerprint: [u8; 32],
    presented: PresentedCertificate,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity);
        self.presented.record(seen);
        if bool::from(seen.ct_eq(&self.fingerprint)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_hex_round_trips() {
        let fp: [u8; 32] = core::array::from_fn(|i| i as u8 * 7);
        assert_eq!(parse_fingerprint(&fingerprint_hex(&fp)), Some(fp));
        assert_eq!(parse_fingerprint("AB:CD"), None);
    }
}
