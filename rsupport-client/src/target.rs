//! Where the relay is and how to trust it.

use std::path::PathBuf;

use rsupport_net::tls::{self, Trust};

use super::ClientError;
use crate::encryption::Encryption;

/// How the relay's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TrustSpec {
    /// SHA-256 fingerprint of the relay's (self-signed) certificate.
    Pinned(String),
    /// A PEM file with the CA (or the relay's own certificate); the name is checked.
    CaFile(PathBuf),
}

/// The relay to connect to: its address, the name on its certificate and
/// how to trust it. Built with [`pinned`](Self::pinned) or
/// [`with_ca`](Self::with_ca).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayTarget {
    addr: String,
    server_name: String,
    trust: TrustSpec,
    encryption: Encryption,
    /// Speak the protocol inside a WebSocket on the relay's port.
    websocket: bool,
}

impl RelayTarget {
    /// A relay whose certificate has this SHA-256 fingerprint (as printed by
    /// the relay on first start, hex with or without colons).
    pub fn pinned(
        addr: impl Into<String>,
        server_name: impl Into<String>,
        fingerprint: impl Into<String>,
    ) -> Self {
        RelayTarget {
            addr: addr.into(),
            server_name: server_name.into(),
            trust: TrustSpec::Pinned(fingerprint.into()),
            encryption: Encryption::default(),
            websocket: false,
        }
    }

    /// A relay whose certificate chains to the CA in `ca_pem`.
    pub fn with_ca(
        addr: impl Into<String>,
        server_name: impl Into<String>,
        ca_pem: impl Into<PathBuf>,
    ) -> Self {
        RelayTarget {
            addr: addr.into(),
            server_name: server_name.into(),
            trust: TrustSpec::CaFile(ca_pem.into()),
            encryption: Encryption::default(),
            websocket: false,
        }
    }

    /// End-to-end encryption settings for sessions over this relay (the
    /// defaults encrypt every session and refuse plaintext ones).
    pub fn with_encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = encryption;
        self
    }

    /// Reaches the relay through a WebSocket on its port (`wss://…/ws`)
    /// instead of plain TLS: the same protocol and the same end-to-end
    /// encryption, for networks whose proxies let only HTTPS through.
    pub fn over_websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    /// The end-to-end encryption settings.
    pub fn encryption(&self) -> &Encryption {
        &self.encryption
    }

    /// Says hello as `role`, announcing the protocol the settings allow.
    pub(crate) async fn hello<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
        &self,
        conn: &mut rsupport_net::RelayConnection<S>,
        role: rsupport_proto::Role,
        software: &str,
    ) -> Result<(), ClientError> {
        conn.hello_up_to(role, software, self.encryption.max_version())
            .await
            .map(|_| ())
            .map_err(ClientError::link)
    }

    /// The `host:port` address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// A dialer for the connection task: connects again and says hello as
    /// `role`, for resuming sessions after a dropped connection.
    pub(crate) fn dialer(
        &self,
        role: rsupport_proto::Role,
        software: String,
    ) -> super::connection::Dialer<rsupport_net::BoxedStream> {
        let target = self.clone();
        Box::new(move || {
            let (target, software) = (target.clone(), software.clone());
            Box::pin(async move {
                let mut conn = target.connect().await?;
                target.hello(&mut conn, role, &software).await?;
                Ok(conn)
            })
        })
    }

    pub(crate) async fn connect(
        &self,
    ) -> Result<rsupport_net::RelayConnection<rsupport_net::BoxedStream>, ClientError> {
        let mut presented = None;
        let (config, pinned) = match &self.trust {
            TrustSpec::Pinned(fp) => {
                let pinned = tls::parse_fingerprint(fp).ok_or_else(|| ClientError::TlsSetup {
                    detail: format!(
                        "the pinned fingerprint for {} is not 32 hex bytes (like AB:CD:…, as the relay prints it)",
                        self.addr
                    ),
                })?;
                let (config, seen) =
                    tls::pinned_client_config(pinned, None).map_err(|e| ClientError::TlsSetup {
                        detail: e.to_string(),
                    })?;
                presented = Some(seen);
                (config, Some(pinned))
            }
            TrustSpec::CaFile(path) => {
                let roots = tls::roots_from_pem(path).map_err(|e| ClientError::TlsSetup {
                    detail: format!("CA file {}: {e}", path.display()),
                })?;
                let config = tls::client_config(Trust::Roots(roots), None).map_err(|e| {
                    ClientError::TlsSetup {
                        detail: e.to_string(),
                    }
                })?;
                (config, None)
            }
        };
        let connected = if self.websocket {
            rsupport_net::connect_websocket(&self.addr, &self.server_name, config)
                .await
                .map(|c| Box::new(c.into_inner()) as rsupport_net::BoxedStream)
        } else {
            rsupport_net::connect(&self.addr, &self.server_name, config)
                .await
                .map(|c| Box::new(c.into_inner()) as rsupport_net::BoxedStream)
        };
        match connected {
            Ok(stream) => Ok(rsupport_net::RelayConnection::new(stream)),
            Err(e) => Err(self.classify(e, pinned, presented.and_then(|p| p.fingerprint()))),
        }
    }

    /// Blames a failed connect on the certificate or on reachability.
    fn classify(
        &self,
        e: rsupport_net::LinkError,
        pinned: Option<[u8; 32]>,
        seen: Option<[u8; 32]>,
    ) -> ClientError {
        if let (Some(pinned), Some(seen)) = (pinned, seen) {
            if pinned != seen {
                return ClientError::FingerprintMismatch {
                    addr: self.addr.clone(),
                    expected: tls::fingerprint_hex(&pinned),
                    seen: tls::fingerprint_hex(&seen),
                };
            }
        }
        if let rsupport_net::LinkError::Io(io) = &e {
            let tls_error = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            if let Some(rustls::Error::InvalidCertificate(cert)) = tls_error {
                use rustls::CertificateError as C;
                let detail = match cert {
                    C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
                    C::NotValidYet | C::NotValidYetContext { .. } => {
                        "it is not valid yet (check this computer's clock)".to_owned()
                    }
                    C::NotValidForName | C::NotValidForNameContext { .. } => {
                        format!("it is not issued for the name {:?}", self.server_name)
                    }
                    C::UnknownIssuer | C::BadSignature => {
                        "it is not signed by the CA in the CA file".to_owned()
                    }
                    C::Revoked => "it has been revoked".to_owned(),
                    other => rustls::Error::InvalidCertificate(other.clone()).to_string(),
                };
                return ClientError::Certificate {
                    addr: self.addr.clone(),
                    detail,
                };
            }
        }
        if let rsupport_net::LinkError::ServerName = e {
            return ClientError::TlsSetup {
                detail: format!("{:?} is not a valid TLS server name", self.server_name),
            };
        }
        ClientError::Unreachable {
            addr: self.addr.clone(),
            source: Box::new(e),
        }
    }
}
