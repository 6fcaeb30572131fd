//! The client side of the relay protocol: a thin framed connection over any
//! `AsyncRead + AsyncWrite`, and [`connect`] for TLS over TCP.
//!
//! Operators and customers (issue 6 builds on this) send [`RelayMessage`]s
//! and [`Envelope`]s and receive [`Incoming`] items. The connection does not
//! ping by itself: send `Ping` more often than the relay's idle timeout
//! (default 120 s) while idle.

use std::sync::Arc;

use bytes::BytesMut;
use rsupport_proto::envelope::Envelope;
use rsupport_proto::framing::{encode_frame, FrameDecoder, FrameKind, FrameLimits};
use rsupport_proto::relay::{Hello, HelloAck, RelayMessage};
use rsupport_proto::{
    CloseReason, DecodeError, FrameError, Role, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::client::TlsStream;

/// A client-side failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The server name is not valid for TLS.
    #[error("invalid server name")]
    ServerName,
    /// The relay sent a bad frame header.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The relay sent a message that does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The relay closed the connection.
    #[error("relay closed the connection: {reason:?} {detail}")]
    Closed {
        /// Why.
        reason: CloseReason,
        /// Detail from the relay.
        detail: String,
    },
    /// The relay hung up without a `Close`.
    #[error("connection ended")]
    Eof,
    /// The relay answered with something else than expected.
    #[error("unexpected message from relay")]
    Unexpected(Box<RelayMessage>),
}

/// Something received from the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming {
    /// A relay-control message.
    Relay(RelayMessage),
    /// A session message from the paired peer (payload still encoded).
    Session(Envelope),
}

/// A framed connection to the relay.
#[derive(Debug)]
pub struct RelayConnection<S> {
    stream: S,
    input: FrameInput,
    output: FrameOutput,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RelayConnection<S> {
    /// Wraps an established stream (TLS or, in tests, anything else).
    pub fn new(stream: S) -> Self {
        RelayConnection {
            stream,
            input: FrameInput::default(),
            output: FrameOutput::default(),
        }
    }

    /// Sends a relay-control message.
    pub async fn send(&mut self, message: &RelayMessage) -> Result<(), LinkError> {
        let body = message.encode();
        self.output
            .send(&mut self.stream, FrameKind::Relay, &body)
            .await
    }

    /// Sends a session envelope to the paired peer.
    pub async fn send_envelope(&mut self, envelope: &Envelope) -> Result<(), LinkError> {
        let body = envelope.encode();
        self.output
            .send(&mut self.stream, FrameKind::Session, &body)
            .await
    }

    /// Writes raw bytes (for tests that must send malformed input).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// The next item from the relay. A `Close` from the relay becomes
    /// [`LinkError::Closed`].
    pub async fn recv(&mut self) -> Result<Incoming, LinkError> {
        self.input.recv(&mut self.stream).await
    }

    /// The next relay-control message, skipping nothing: a session frame here is unexpected.
    pub async fn recv_relay(&mut self) -> Result<RelayMessage, LinkError> {
        match self.recv().await? {
            Incoming::Relay(m) => Ok(m),
            Incoming::Session(_) => Err(LinkError::Eof),
        }
    }

    /// Sends `Hello` and waits for `HelloAck`.
    pub async fn hello(&mut self, role: Role, software: &str) -> Result<HelloAck, LinkError> {
        self.hello_up_to(role, software, PROTOCOL_VERSION).await
    }

    /// As [`hello`](Self::hello), announcing at most `max_version` (a
    /// program that must speak an older protocol, or a compatibility test).
    pub async fn hello_up_to(
        &mut self,
        role: Role,
        software: &str,
        max_version: u32,
    ) -> Result<HelloAck, LinkError> {
        self.send(&RelayMessage::Hello(Hello {
            min_version: MIN_PROTOCOL_VERSION,
            max_version: max_version.clamp(MIN_PROTOCOL_VERSION, PROTOCOL_VERSION),
            role,
            software: software.to_owned(),
        }))
        .await?;
        match self.recv_relay().await? {
            RelayMessage::HelloAck(ack) => Ok(ack),
            other => Err(LinkError::Unexpected(Box::new(other))),
        }
    }

    /// Splits into a reader and a writer that can live in different tasks
    /// (e.g. one task receiving while another sends input and screen frames).
    /// Bytes already buffered stay with the reader.
    pub fn into_split(self) -> (RelayReader<ReadHalf<S>>, RelayWriter<WriteHalf<S>>) {
        let (rd, wr) = tokio::io::split(self.stream);
        (
            RelayReader {
                stream: rd,
                input: self.input,
            },
            RelayWriter {
                stream: wr,
                output: self.output,
            },
        )
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Takes the stream back (bytes already buffered are lost).
    pub fn into_inner(self) -> S {
        self.stream
    }
}

/// The receiving half of a split [`RelayConnection`].
#[derive(Debug)]
pub struct RelayReader<R> {
    stream: R,
    input: FrameInput,
}

impl<R: AsyncRead + Unpin> RelayReader<R> {
    /// The next item from the relay; a `Close` becomes [`LinkError::Closed`].
    pub async fn recv(&mut self) -> Result<Incoming, LinkError> {
        self.input.recv(&mut self.stream).await
    }
}

/// The sending half of a split [`RelayConnection`].
#[derive(Debug)]
pub struct RelayWriter<W> {
    stream: W,
    output: FrameOutput,
}

impl<W: AsyncWrite + Unpin> RelayWriter<W> {
    /// Sends a relay-control message.
    pub async fn send(&mut self, message: &RelayMessage) -> Result<(), LinkError> {
        let body = message.encode();
        self.output
            .send(&mut self.stream, FrameKind::Relay, &body)
            .await
    }

    /// Sends a session envelope to the paired peer.
    pub async fn send_envelope(&mut self, envelope: &Envelope) -> Result<(), LinkError> {
        let body = envelope.encode();
        self.output
            .send(&mut self.stream, FrameKind::Session, &body)
            .await
    }
}

/// The read path shared by [`RelayConnection`] and [`RelayReader`]: bytes
/// buffered from the stream and the frame decoder (bounded by its limits).
#[derive(Debug)]
struct FrameInput {
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl Default for FrameInput {
    fn default() -> Self {
        FrameInput {
            buf: BytesMut::new(),
            decoder: FrameDecoder::new(FrameLimits::default()),
        }
    }
}

impl FrameInput {
    /// The next item from `stream`; a `Close` from the relay becomes
    /// [`LinkError::Closed`].
    async fn recv<R: AsyncRead + Unpin>(&mut self, stream: &mut R) -> Result<Incoming, LinkError> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf)? {
                return match frame.kind {
                    FrameKind::Relay => match RelayMessage::decode(frame.body)? {
                        RelayMessage::Close { reason, detail } => {
                            Err(LinkError::Closed { reason, detail })
                        }
                        m => Ok(Incoming::Relay(m)),
                    },
                    _ => Ok(Incoming::Session(Envelope::decode(frame.body)?)),
                };
            }
            if stream.read_buf(&mut self.buf).await? == 0 {
                return Err(LinkError::Eof);
            }
        }
    }
}

/// The write path shared by [`RelayConnection`] and [`RelayWriter`]: one
/// buffer reused between frames, and the frame limits.
#[derive(Debug, Default)]
struct FrameOutput {
    buf: BytesMut,
    limits: FrameLimits,
}

impl FrameOutput {
    /// Frames `body` and writes it out.
    async fn send<W: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut W,
        kind: FrameKind,
        body: &[u8],
    ) -> Result<(), LinkError> {
        self.buf.clear();
        encode_frame(kind, body, &self.limits, &mut self.buf)?;
        stream.write_all(&self.buf).await?;
        stream.flush().await?;
        Ok(())
    }
}

/// Any byte stream a [`RelayConnection`] can run on (TLS, a WebSocket …).
pub trait RelayIo: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> RelayIo for T {}

/// A relay connection's stream whose kind is chosen at run time.
pub type BoxedStream = Box<dyn RelayIo>;

/// Connects over TCP and TLS. `server_name` is checked against the
/// certificate unless `tls` pins a fingerprint ([`crate::tls::client_config`]).
pub async fn connect(
    addr: impl ToSocketAddrs,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Result<RelayConnection<TlsStream<TcpStream>>, LinkError> {
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
        .map_err(|_| LinkError::ServerName)?;
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await?;
    Ok(RelayConnection::new(stream))
}

/// Connects over TCP and TLS, then opens `wss://{server_name}/ws`: the same
/// relay protocol in WebSocket binary messages, for networks whose proxies
/// or firewalls let only HTTPS through. `addr` is dialled; `server_name` is
/// checked against the certificate (unless `tls` pins it) and sent as the
/// HTTP host.
pub async fn connect_websocket(
    addr: impl ToSocketAddrs,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Result<RelayConnection<crate::ws::WsStream<TlsStream<TcpStream>>>, LinkError> {
    let stream = connect(addr, server_name, tls).await?.into_inner();
    let url = format!("wss://{server_name}/ws");
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(crate::ws::config()))
            .await
            .map_err(|e| {
                LinkError::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    format!("the relay did not open its WebSocket: {e}"),
                ))
            })?;
    Ok(RelayConnection::new(crate::ws::WsStream::new(ws)))
}
