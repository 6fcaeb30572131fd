//! Telling a browser from a native client by the first bytes it sends.
//!
//! After the TLS handshake (or at once on plain TCP) the relay reads until
//! the bytes either start an HTTP/1.1 request line (`GET `, `POST `, …) or
//! cannot be one; at most [`MAX_PEEK`] bytes are ever needed. The bytes read
//! are replayed to whichever side takes the connection ([`Prefixed`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The request methods that send a connection to the web front door.
const METHODS: [&[u8]; 7] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"PATCH ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
];

/// The most bytes [`classify`] ever needs (`OPTIONS `).
pub(crate) const MAX_PEEK: usize = 8;

/// What a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Speaks {
    /// An HTTP/1.1 request: the web front door.
    Http,
    /// Anything else: the relay's framed protocol.
    Framed,
}

/// What the first bytes say, or `None` while they are a proper prefix of
/// a request method and more are needed.
pub(crate) fn classify(first: &[u8]) -> Option<Speaks> {
    let mut undecided = false;
    for method in METHODS {
        let n = first.len().min(method.len());
        if first.get(..n) == method.get(..n) {
            if n == method.len() {
                return Some(Speaks::Http);
            }
            undecided = true;
        }
    }
    if undecided {
        None
    } else {
        Some(Speaks::Framed)
    }
}

/// Reads just enough of `stream` to decide; returns the verdict and the
/// bytes read. End of stream before a verdict is an error (nothing to
/// serve). The caller bounds the time (the handshake deadline).
pub(crate) async fn sniff<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<(Speaks, Vec<u8>)> {
    let mut first = Vec::with_capacity(MAX_PEEK);
    loop {
        if let Some(speaks) = classify(&first) {
            return Ok((speaks, first));
        }
        let mut byte = [0u8; MAX_PEEK];
        // Never read past what a verdict can need: the rest stays in the stream.
        let want = MAX_PEEK.saturating_sub(first.len()).max(1);
        let n = stream.read(&mut byte[..want]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        first.extend_from_slice(byte.get(..n).unwrap_or_default());
    }
}

/// A stream whose first reads return bytes already taken from it.
#[derive(Debug)]
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, with `prefix` read first.
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let rest = this.prefix.get(this.at..).unwrap_or_default();
        if !rest.is_empty() {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
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
    fn methods_go_to_the_web_and_frames_do_not() {
        assert_eq!(classify(b"GET / HTTP/1.1"), Some(Speaks::Http));
        assert_eq!(classify(b"OPTIONS "), Some(Speaks::Http));
        assert_eq!(classify(b"DELETE /api"), Some(Speaks::Http));
        assert_eq!(classify(b""), None);
        assert_eq!(classify(b"P"), None);
        assert_eq!(classify(b"PO"), None);
        assert_eq!(classify(b"PA"), None);
        assert_eq!(classify(b"OPTION"), None);
        assert_eq!(classify(b"GETX"), Some(Speaks::Framed));
        assert_eq!(classify(b"get "), Some(Speaks::Framed));
        assert_eq!(classify(&[1, 0, 0, 0, 9]), Some(Speaks::Framed));
        assert_eq!(classify(b"\x16\x03\x01"), Some(Speaks::Framed));
    }

    #[test]
    fn classify_never_panics_on_any_short_input() {
        for a in 0..=255u8 {
            for b in [b' ', b'E', b'O', b'T', 0, 255] {
                let _ = classify(&[a]);
                let _ = classify(&[a, b]);
                let _ = classify(&[b'P', a, b]);
                let _ = classify(&[b'O', b'P', b'T', b'I', b'O', b'N', a, b]);
            }
        }
    }

    #[tokio::test]
    async fn the_peeked_bytes_are_replayed_then_the_rest_follows() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(b"POST /api/v1/login HTTP/1.1\r\n")
            .await
            .unwrap();
        drop(a);
        let (speaks, first) = sniff(&mut b).await.unwrap();
        assert_eq!(speaks, Speaks::Http);
        assert!(first.len() <= MAX_PEEK);
        let mut all = Vec::new();
        Prefixed::new(first, b).read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"POST /api/v1/login HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn end_of_stream_before_a_verdict_is_an_error() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(b"OPT").await.unwrap();
        drop(a);
        assert!(sniff(&mut b).await.is_err());
    }
}
