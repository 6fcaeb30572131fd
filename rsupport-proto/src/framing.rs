//! Length-delimited framing with a hard cap per frame kind.
//!
//! A frame is a 5-byte header — one kind byte, then the body length as a
//! big-endian `u32` — followed by the body:
//!
//! ```text
//! +------+----------------+-----------------------+
//! | kind | length (u32 BE) | body (length bytes)   |
//! +------+----------------+-----------------------+
//! ```
//!
//! Decoding is check-then-parse (as in mini-redis): [`check`] looks only at
//! the header, so an unknown kind or an over-cap length is refused before a
//! single body byte is buffered, and "incomplete" (`Ok(None)`) is kept apart
//! from "malformed" (`Err`). [`FrameDecoder`] then splits the body off the
//! read buffer without copying.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::FrameError;

/// Size of the frame header in bytes.
pub const HEADER_LEN: usize = 5;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// A relay-control message ([`crate::relay::RelayMessage`]) between a party and the relay.
    Relay,
    /// A session message wrapped in an [`crate::envelope::Envelope`], routed by the relay.
    Session,
}

impl FrameKind {
    /// Every kind.
    pub const ALL: &'static [FrameKind] = &[FrameKind::Relay, FrameKind::Session];

    /// The kind byte on the wire.
    pub const fn to_byte(self) -> u8 {
        match self {
            FrameKind::Relay => 0x01,
            FrameKind::Session => 0x02,
        }
    }

    /// Parses a kind byte.
    pub fn from_byte(b: u8) -> Result<Self, FrameError> {
        match b {
            0x01 => Ok(FrameKind::Relay),
            0x02 => Ok(FrameKind::Session),
            other => Err(FrameError::UnknownKind(other)),
        }
    }
}

/// Body-size caps, one per frame kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    relay: u32,
    session: u32,
}

impl FrameLimits {
    /// Default cap for relay-control frames: 64 KiB.
    pub const DEFAULT_RELAY: u32 = 64 * 1024;
    /// Default cap for session frames: 16 MiB (a full 4K key frame compresses far below this).
    pub const DEFAULT_SESSION: u32 = 16 * 1024 * 1024;

    /// The caps for relay-control and session frames.
    pub const fn new(relay: u32, session: u32) -> Self {
        FrameLimits { relay, session }
    }

    /// The cap for `kind`.
    pub const fn max_body(&self, kind: FrameKind) -> u32 {
        match kind {
            FrameKind::Relay => self.relay,
            FrameKind::Session => self.session,
        }
    }
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits::new(Self::DEFAULT_RELAY, Self::DEFAULT_SESSION)
    }
}

/// One decoded frame: its kind and its body (a slice of the read buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the body holds.
    pub kind: FrameKind,
    /// The body bytes.
    pub body: Bytes,
}

impl Frame {
    /// A frame of `kind` around `body`.
    pub fn new(kind: FrameKind, body: Bytes) -> Self {
        Frame { kind, body }
    }

    /// The header that precedes `body` on the wire. Lets a forwarder write a
    /// frame with a vectored write instead of copying the body.
    pub fn header(&self) -> [u8; HEADER_LEN] {
        header(self.kind, self.body.len())
    }

    /// Appends header and body to `dst`, refusing a body over the cap.
    pub fn encode(&self, limits: &FrameLimits, dst: &mut BytesMut) -> Result<(), FrameError> {
        encode_frame(self.kind, &self.body, limits, dst)
    }

    /// Length on the wire (header + body).
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }
}

fn header(kind: FrameKind, len: usize) -> [u8; HEADER_LEN] {
    // Callers have checked `len` against a u32 cap.
    let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    [kind.to_byte(), len[0], len[1], len[2], len[3]]
}

/// Appends a frame of `kind` carrying `body` to `dst`. A body over the cap is
/// refused here so that we never send what the peer must reject.
pub fn encode_frame(
    kind: FrameKind,
    body: &[u8],
    limits: &FrameLimits,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    let max = limits.max_body(kind);
    if body.len() as u64 > u64::from(max) {
        return Err(FrameError::TooLarge {
            kind,
            len: body.len() as u64,
            max,
        });
    }
    dst.reserve(HEADER_LEN + body.len());
    dst.put_slice(&header(kind, body.len()));
    dst.put_slice(body);
    Ok(())
}

/// Looks at the start of `src` without consuming it.
///
/// - `Ok(None)`: not enough bytes yet for a whole frame (read more);
/// - `Ok(Some((kind, body_len)))`: a whole frame of `HEADER_LEN + body_len` bytes is there;
/// - `Err(_)`: the header is invalid; close the connection.
///
/// The header is validated as soon as its bytes arrive, so a peer announcing
/// 4 GiB is refused after 5 bytes, not after we buffer them.
pub fn check(src: &[u8], limits: &FrameLimits) -> Result<Option<(FrameKind, usize)>, FrameError> {
    let Some(&kind_byte) = src.first() else {
        return Ok(None);
    };
    let kind = FrameKind::from_byte(kind_byte)?;
    let Some(Ok(len_bytes)) = src.get(1..HEADER_LEN).map(<[u8; 4]>::try_from) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(len_bytes);
    let max = limits.max_body(kind);
    if len > max {
        return Err(FrameError::TooLarge {
            kind,
            len: u64::from(len),
            max,
        });
    }
    let len = len as usize;
    if src.len() - HEADER_LEN < len {
        return Ok(None);
    }
    Ok(Some((kind, len)))
}

/// Incremental frame decoder over a read buffer.
#[derive(Debug, Clone, Default)]
pub struct FrameDecoder {
    limits: FrameLimits,
}

impl FrameDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: FrameLimits) -> Self {
        FrameDecoder { limits }
    }

    /// The caps in force.
    pub fn limits(&self) -> &FrameLimits {
        &self.limits
    }

    /// Changes the caps for the frames still to come, e.g. a small session
    /// cap until a connection is allowed to send session traffic, the full
    /// one afterwards (per-phase limits).
    pub fn set_limits(&mut self, limits: FrameLimits) {
        self.limits = limits;
    }

    /// Takes one whole frame off the front of `src`, if there is one.
    ///
    /// Returns `Ok(None)` when more bytes are needed; `src` is then untouched.
    /// After an `Err`, the stream is unusable and the connection should be
    /// closed with [`FrameError::close_reason`].
    ///
    /// The decoder never reserves room for the announced body: a 5-byte
    /// header must not make the reader allocate megabytes the peer may never
    /// send. The buffer grows with the bytes that actually arrive.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        match check(src, &self.limits)? {
            None => Ok(None),
            Some((kind, len)) => {
                src.advance(HEADER_LEN);
                let body = src.split_to(len).freeze();
                Ok(Some(Frame { kind, body }))
            }
        }
    }
}

/// The kind and body length a complete header at the start of `src`
/// announces, without checking the length against any cap: `Ok(None)` until
/// the 5 header bytes are there, `Err` for an unknown kind. Lets a reader
/// decide to skip a frame it will not buffer.
pub fn announced(src: &[u8]) -> Result<Option<(FrameKind, u32)>, FrameError> {
    let Some(&kind_byte) = src.first() else {
        return Ok(None);
    };
    let kind = FrameKind::from_byte(kind_byte)?;
    let Some(Ok(len)) = src.get(1..HEADER_LEN).map(<[u8; 4]>::try_from) else {
        return Ok(None);
    };
    Ok(Some((kind, u32::from_be_bytes(len))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small_limits() -> FrameLimits {
        FrameLimits::new(16, 64)
    }

    fn framed(kind: FrameKind, body: &[u8]) -> BytesMut {
        let mut buf = BytesMut::new();
        encode_frame(kind, body, &FrameLimits::new(u32::MAX, u32::MAX), &mut buf).unwrap();
        buf
    }

    #[test]
    fn empty_buffer_is_incomplete() {
        let mut dec = FrameDecoder::new(small_limits());
        let mut buf = BytesMut::new();
        assert_eq!(dec.decode(&mut buf), Ok(None));
    }

    #[test]
    fn empty_body_is_a_valid_frame() {
        let mut dec = FrameDecoder::new(small_limits());
        let mut buf = framed(FrameKind::Relay, b"");
        assert_eq!(
            dec.decode(&mut buf),
            Ok(Some(Frame::new(FrameKind::Relay, Bytes::new())))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn body_exactly_at_the_cap_is_accepted() {
        for &kind in FrameKind::ALL {
            let cap = small_limits().max_body(kind) as usize;
            let body = vec![0xAB; cap];
            let mut dec = FrameDecoder::new(small_limits());
            let mut buf = framed(kind, &body);
            let frame = dec.decode(&mut buf).unwrap().unwrap();
            assert_eq!(frame.kind, kind);
            assert_eq!(frame.body.len(), cap);
        }
    }

    #[test]
    fn body_one_over_the_cap_is_refused_from_the_header_alone() {
        for &kind in FrameKind::ALL {
            let cap = small_limits().max_body(kind);
            let body = vec![0u8; cap as usize + 1];
            let full = framed(kind, &body);
            // Only the header has arrived: already refused.
            let mut header_only = BytesMut::from(&full[..HEADER_LEN]);
            let mut dec = FrameDecoder::new(small_limits());
            assert_eq!(
                dec.decode(&mut header_only),
                Err(FrameError::TooLarge {
                    kind,
                    len: u64::from(cap) + 1,
                    max: cap
                })
            );
            // And the encoder will not produce it either.
            let mut out = BytesMut::new();
            assert!(encode_frame(kind, &body, &small_limits(), &mut out).is_err());
            assert!(out.is_empty());
        }
    }

    #[test]
    fn u32_max_length_is_refused_without_allocating() {
        let mut buf = BytesMut::from(&[0x02, 0xFF, 0xFF, 0xFF, 0xFF][..]);
        let mut dec = FrameDecoder::default();
        let cap_before = buf.capacity();
        assert!(matches!(
            dec.decode(&mut buf),
            Err(FrameError::TooLarge { len, .. }) if len == u64::from(u32::MAX)
        ));
        assert_eq!(buf.capacity(), cap_before);
    }

    #[test]
    fn an_announced_body_is_not_reserved_before_it_arrives() {
        // A header announcing a body just under the 16 MiB cap, then 10 bytes.
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(&header(FrameKind::Session, 16 * 1024 * 1024 - 1));
        buf.extend_from_slice(&[0u8; 10]);
        let mut dec = FrameDecoder::default();
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(
            buf.capacity() < 64 * 1024,
            "decoder reserved {} bytes on the header's word",
            buf.capacity()
        );
        assert_eq!(
            announced(&buf),
            Ok(Some((FrameKind::Session, 16 * 1024 * 1024 - 1)))
        );
    }

    #[test]
    fn limits_can_change_between_frames() {
        let mut dec = FrameDecoder::new(FrameLimits::new(16, 4));
        let mut buf = framed(FrameKind::Session, &[1u8; 8]);
        assert!(matches!(
            dec.decode(&mut buf.clone()),
            Err(FrameError::TooLarge { .. })
        ));
        dec.set_limits(small_limits());
        assert_eq!(dec.decode(&mut buf).unwrap().unwrap().body.len(), 8);
    }

    #[test]
    fn unknown_kind_is_refused_at_the_first_byte() {
        let mut dec = FrameDecoder::default();
        for kind in [0x00u8, 0x03, 0x7F, 0xFF] {
            let mut buf = BytesMut::from(&[kind][..]);
            assert_eq!(dec.decode(&mut buf), Err(FrameError::UnknownKind(kind)));
        }
    }

    #[test]
    fn truncated_at_every_byte_is_incomplete_then_whole() {
        let body: Vec<u8> = (0..40u8).collect();
        let full = framed(FrameKind::Session, &body);
        for cut in 0..full.len() {
            let mut dec = FrameDecoder::new(small_limits());
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(dec.decode(&mut buf), Ok(None), "cut at {cut}");
            assert_eq!(&buf[..], &full[..cut], "incomplete input left untouched");
            buf.extend_from_slice(&full[cut..]);
            let frame = dec.decode(&mut buf).unwrap().unwrap();
            assert_eq!(&frame.body[..], &body[..]);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn header_matches_encoding() {
        let frame = Frame::new(FrameKind::Session, Bytes::from_static(b"hello"));
        let mut buf = BytesMut::new();
        frame.encode(&FrameLimits::default(), &mut buf).unwrap();
        assert_eq!(&buf[..HEADER_LEN], &frame.header());
        assert_eq!(buf.len(), frame.wire_len());
    }

    proptest! {
        #[test]
        fn any_sequence_of_frames_round_trips_in_any_chunking(
            frames in proptest::collection::vec(
                (proptest::sample::select(FrameKind::ALL), proptest::collection::vec(any::<u8>(), 0..16)),
                0..8),
            chunk in 1usize..7,
        ) {
            let mut wire = BytesMut::new();
            for (kind, body) in &frames {
                encode_frame(*kind, body, &small_limits(), &mut wire).unwrap();
            }
            let mut dec = FrameDecoder::new(small_limits());
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(f) = dec.decode(&mut buf).unwrap() {
                    got.push((f.kind, f.body.to_vec()));
                }
            }
            prop_assert_eq!(got, frames);
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut dec = FrameDecoder::new(small_limits());
            let mut buf = BytesMut::from(&data[..]);
            while let Ok(Some(_)) = dec.decode(&mut buf) {}
        }
    }
}
