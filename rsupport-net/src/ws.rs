//! The relay protocol over a WebSocket (`GET /ws` on the relay's port): the
//! same byte stream as a native connection, carried in binary messages, for
//! browsers and for programs on networks that only let HTTPS through.
//!
//! [`WsStream`] turns a WebSocket into a tokio `AsyncRead + AsyncWrite`, so
//! the relay's ordinary connection driver runs on it with every limit,
//! deadline, memory budget and admission rule unchanged, and a client's
//! [`RelayConnection`](crate::RelayConnection) works over it as over TLS.
//! Message boundaries
//! carry no meaning: a message may hold several frames or part of one.
//! Writes are gathered into one binary message per flush (or per
//! [`WRITE_CHUNK`] bytes). A text message, or one larger than the largest
//! frame plus its header, ends the connection.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use rsupport_proto::framing::{FrameLimits, HEADER_LEN};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Bytes gathered before they are sent as one message even without a flush.
pub const WRITE_CHUNK: usize = 64 * 1024;

/// The largest message a client may send: one whole frame of the largest kind.
pub const MAX_MESSAGE: usize = FrameLimits::DEFAULT_SESSION as usize + HEADER_LEN;

/// The WebSocket settings for `/ws`: messages (and their fragments) capped
/// at [`MAX_MESSAGE`].
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// A WebSocket as a byte stream (see the module docs). Either end may use
/// it: the relay on an upgraded connection, a client on one it opened.
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    /// The rest of the last binary message received.
    read: Bytes,
    /// Bytes written since the last message was sent.
    write: BytesMut,
    /// The peer closed (or broke the rules): reads return end of stream.
    done: bool,
}

impl<S> WsStream<S> {
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        WsStream {
            ws,
            read: Bytes::new(),
            write: BytesMut::new(),
            done: false,
        }
    }
}

fn to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => io::ErrorKind::BrokenPipe.into(),
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// Sends what was gathered as one binary message (not flushed yet).
    fn poll_send_gathered(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write.is_empty() {
            return Poll::Ready(Ok(()));
        }
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(to_io)?;
        let message = Message::Binary(self.write.split().freeze());
        Pin::new(&mut self.ws).start_send(message).map_err(to_io)?;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.read.is_empty() {
                let n = this.read.len().min(buf.remaining());
                buf.put_slice(this.read.get(..n).unwrap_or_default());
                this.read.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.read = data,
                Some(Ok(Message::Text(_))) => {
                    this.done = true;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text message on the relay's WebSocket (binary only)",
                    )));
                }
                // Pings are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => {
                    this.done = true;
                }
                Some(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Err(to_io(e)));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write.len() >= WRITE_CHUNK {
            ready!(this.poll_send_gathered(cx))?;
        }
        let n = buf.len().min(WRITE_CHUNK - this.write.len());
        this.write
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_gathered(cx))?;
        Pin::new(&mut this.ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_gathered(cx))?;
        Pin::new(&mut this.ws).poll_close(cx).map_err(to_io)
    }
}
