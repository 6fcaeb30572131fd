//! Trusted load balancers and the PROXY protocol header they send (L3).
//!
//! Behind a load balancer every client arrives from the balancer's address,
//! so per-source limits would lump everyone together. A peer listed in
//! [`RelayConfig::trusted_proxies`](crate::RelayConfig::trusted_proxies)
//! may send a PROXY protocol header (v1 or v2) before TLS; the relay then
//! counts and audits the client it names. Nobody else may: a header from an
//! untrusted peer is never read, so the TLS handshake fails on it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use rsupport_proto::proxy_header::{parse_proxy_header, ProxyHeaderError, MAX_HEADER_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// One trusted network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The peers allowed to send a PROXY header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<Net>,
}

impl TrustedProxies {
    /// Parses `"10.0.0.5"`, `"192.0.2.0/24"` or `"2001:db8::/48"`; `None`
    /// for anything else (bad address, prefix over 32 or 128).
    pub(crate) fn parse_one(entry: &str) -> Option<Net> {
        let (addr, prefix) = match entry.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (entry.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Net { addr, prefix })
    }

    /// The list from the configuration; entries that do not parse are
    /// skipped (`RelayConfig::validate` refuses them before start).
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Self {
        TrustedProxies {
            nets: entries
                .iter()
                .filter_map(|e| Self::parse_one(e.as_ref()))
                .collect(),
        }
    }

    /// Whether `peer` may send a PROXY header.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(peer))
    }

    /// Whether the list is empty (no peer is trusted).
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

/// Why a trusted peer's PROXY header could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyReadError {
    /// The connection failed or ended inside the header.
    #[error("connection ended inside the PROXY header: {0}")]
    Io(#[from] io::Error),
    /// The header is malformed.
    #[error(transparent)]
    Header(ProxyHeaderError),
}

/// Reads a PROXY header from a trusted peer, at most [`MAX_HEADER_LEN`]
/// bytes. Returns the client it names (`None` when it names none, or when
/// the peer sent no header at all) and the stream with any bytes read past
/// the header put back in front.
pub async fn read_header<S: AsyncRead + Unpin>(
    mut stream: S,
) -> Result<(Option<SocketAddr>, Prefixed<S>), ProxyReadError> {
    let mut buf = BytesMut::with_capacity(MAX_HEADER_LEN);
    loop {
        match parse_proxy_header(&buf) {
            Ok(Some(h)) => {
                buf.advance(h.consumed);
                return Ok((
                    h.client,
                    Prefixed {
                        prefix: buf,
                        inner: stream,
                    },
                ));
            }
            // A trusted peer talking directly (no header): keep its bytes.
            Err(ProxyHeaderError::NotProxy) if !buf.is_empty() => {
                return Ok((
                    None,
                    Prefixed {
                        prefix: buf,
                        inner: stream,
                    },
                ))
            }
            Err(ProxyHeaderError::NotProxy) | Ok(None) => {}
            Err(e) => return Err(ProxyReadError::Header(e)),
        }
        // Bounded: never more than the longest header in all; read only as
        // much as the parser can still need, so little spills past it.
        let room = MAX_HEADER_LEN.saturating_sub(buf.len());
        if room == 0 {
            return Err(ProxyReadError::Header(ProxyHeaderError::Malformed(
                "too long",
            )));
        }
        let mut limited = (&mut stream).take(room as u64);
        if limited.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
    }
}

/// A stream with bytes already read put back in front of it.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: BytesMut,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner` with nothing put back.
    pub fn plain(inner: S) -> Self {
        Prefixed {
            prefix: BytesMut::new(),
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let head = self.prefix.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn trust_is_by_address_or_network() {
        let t = TrustedProxies::new(&["10.0.0.5", "192.0.2.0/24", "2001:db8::/48"]);
        assert!(t.trusts("10.0.0.5".parse().unwrap()));
        assert!(!t.trusts("10.0.0.6".parse().unwrap()));
        assert!(t.trusts("192.0.2.200".parse().unwrap()));
        assert!(t.trusts("::ffff:192.0.2.1".parse().unwrap()));
        assert!(t.trusts("2001:db8:0:ffff::1".parse().unwrap()));
        assert!(!t.trusts("2001:db9::1".parse().unwrap()));
        assert!(TrustedProxies::new(&["0.0.0.0/0"]).trusts("8.8.8.8".parse().unwrap()));
        assert!(!TrustedProxies::default().trusts("127.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "host", "10.0.0.1/x", ""] {
            assert!(TrustedProxies::parse_one(bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn header_is_taken_off_and_the_rest_kept() {
        let (mut a, b) = tokio::io::duplex(1024);
        a.write_all(b"PROXY TCP4 198.51.100.7 10.0.0.1 5000 7443\r\n\x16\x03\x01")
            .await
            .unwrap();
        let (client, mut rest) = read_header(b).await.unwrap();
        assert_eq!(client, Some("198.51.100.7:5000".parse().unwrap()));
        let mut first = [0u8; 3];
        rest.read_exact(&mut first).await.unwrap();
        assert_eq!(first, [0x16, 0x03, 0x01]);
    }

    #[tokio::test]
    async fn no_header_from_a_trusted_peer_keeps_its_bytes() {
        let (mut a, b) = tokio::io::duplex(1024);
        a.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        let (client, mut rest) = read_header(b).await.unwrap();
        assert_eq!(client, None);
        let mut first = [0u8; 3];
        rest.read_exact(&mut first).await.unwrap();
        assert_eq!(first, [0x16, 0x03, 0x01]);
    }

    #[tokio::test]
    async fn a_malformed_header_is_an_error() {
        let (mut a, b) = tokio::io::duplex(1024);
        a.write_all(b"PROXY TCP4 nonsense\r\n").await.unwrap();
        assert!(read_header(b).await.is_err());
    }
}
