//! Where the relay is and how to trust it.

use std::path::PathBuf;
use std::sync::Arc;

use super::EndpointError;
use rsupport_net::tls::{self, Trust};

/// How the relay's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TrustSpec {
    /// SHA-256 fingerprint of the relay's (self-signed) certificate.
    Pinned(String),
    /// A PEM file with the CA (or the relay's own certificate); the name is checked.
    CaFile(PathBuf),
}

/// The relay to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTarget {
    addr: String,
    server_name: String,
    trust: TrustSpec,
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
        }
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
    ) -> super::connection::Dialer<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let target = self.clone();
        Box::new(move || {
            let (target, software) = (target.clone(), software.clone());
            Box::pin(async move {
                let mut conn = target.connect().await?;
                conn.hello(role, &software).await?;
                Ok(conn)
            })
        })
    }

    pub(crate) async fn connect(
        &self,
    ) -> Result<
        rsupport_net::RelayConnection<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
        EndpointError,
    > {
        let trust = match &self.trust {
            TrustSpec::Pinned(fp) => Trust::Fingerprint(
                tls::parse_fingerprint(fp)
                    .ok_or_else(|| EndpointError::Tls("malformed fingerprint".into()))?,
            ),
            TrustSpec::CaFile(path) => Trust::Roots(
                tls::roots_from_pem(path).map_err(|e| EndpointError::Tls(e.to_string()))?,
            ),
        };
        let config: Arc<rustls::ClientConfig> =
            tls::client_config(trust, None).map_err(|e| EndpointError::Tls(e.to_string()))?;
        Ok(rsupport_net::connect(&self.addr, &self.server_name, config).await?)
    }
}
