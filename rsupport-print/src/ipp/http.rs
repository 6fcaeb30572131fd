//! The part of HTTP/1.1 that IPP uses (RFC 8010 §4): POST requests with
//! `application/ipp` bodies, sent with Content-Length or chunked, with
//! keep-alive. Request heads are parsed without IO and with hard caps; bodies
//! are read through [`BodyReader`], which never buffers more than one read.

// Peer-controlled input passes through here: no panicking shortcuts.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt};

/// Largest request head (request line + headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 64;
/// Longest chunk-size line accepted.
const MAX_CHUNK_LINE: usize = 256;

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Transfer-Encoding: chunked.
    Chunked,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Method (`POST`, `GET`, …).
    pub method: String,
    /// Request target (`/ipp/print`).
    pub path: String,
    /// Whether the client asked for `100 Continue` before it sends the body.
    pub expect_continue: bool,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// How the body is delimited.
    pub body: BodyKind,
    /// The `Host` header, if one came.
    pub host: Option<String>,
    /// The `Content-Type` header, if one came.
    pub content_type: Option<String>,
    /// Whether an `Origin` header came: browsers send one, printing
    /// clients do not (the server refuses such requests).
    pub has_origin: bool,
}

/// A malformed or oversized request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub &'static str);

/// Parses a complete request head (without the final empty line).
pub fn parse_request_head(head: &[u8]) -> Result<RequestHead, BadRequest> {
    if head.len() > MAX_HEAD {
        return Err(BadRequest("request head too large"));
    }
    let text = std::str::from_utf8(head).map_err(|_| BadRequest("request head is not UTF-8"))?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let request_line = lines.next().ok_or(BadRequest("empty request"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest("malformed request line"));
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(BadRequest("unsupported HTTP version")),
    };
    let mut head = RequestHead {
        method: method.to_owned(),
        path: path.to_owned(),
        expect_continue: false,
        keep_alive: http11,
        body: BodyKind::Empty,
        host: None,
        content_type: None,
        has_origin: false,
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for (n, line) in lines.filter(|l| !l.is_empty()).enumerate() {
        if n >= MAX_HEADERS {
            return Err(BadRequest("too many headers"));
        }
        let (name, value) = line.split_once(':').ok_or(BadRequest("malformed header"))?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let parsed = value
                    .parse()
                    .map_err(|_| BadRequest("bad Content-Length"))?;
                if length.is_some_and(|l| l != parsed) {
                    return Err(BadRequest("conflicting Content-Length"));
                }
                length = Some(parsed);
            }
            "transfer-encoding" => {
                if !value.eq_ignore_ascii_case("chunked") {
                    return Err(BadRequest("unsupported Transfer-Encoding"));
                }
                chunked = true;
            }
            // Two different answers to "which host" or "what body" are a
            // smuggling attempt, not a printing client.
            "host" if head.host.is_some() => return Err(BadRequest("more than one Host")),
            "host" => head.host = Some(value.to_owned()),
            "content-type" if head.content_type.is_some() => {
                return Err(BadRequest("more than one Content-Type"))
            }
            "content-type" => head.content_type = Some(value.to_owned()),
            "origin" => head.has_origin = true,
            "expect" => head.expect_continue = value.eq_ignore_ascii_case("100-continue"),
            "connection" => {
                if value.eq_ignore_ascii_case("close") {
                    head.keep_alive = false;
                } else if value.eq_ignore_ascii_case("keep-alive") {
                    head.keep_alive = true;
                }
            }
            _ => {}
        }
    }
    head.body = match (chunked, length) {
        // RFC 9112 §6.3: a request with both is suspect (smuggling); refuse.
        (true, Some(_)) => return Err(BadRequest("both chunked and Content-Length")),
        (true, None) => BodyKind::Chunked,
        (false, Some(0) | None) => BodyKind::Empty,
        (false, Some(n)) => BodyKind::Length(n),
    };
    Ok(head)
}

/// Reads one request head from `reader`. `Ok(None)` when the peer closed the
/// connection cleanly before a new request.
pub async fn read_request_head<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let line = read_line_bounded(reader, MAX_HEAD.saturating_sub(head.len())).await?;
        if line.is_empty() {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated request head",
                ))
            };
        }
        let trimmed = line.strip_suffix(b"\n").unwrap_or(&line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if trimmed.is_empty() {
            if head.is_empty() {
                continue; // stray CRLF between requests (RFC 9112 §2.2)
            }
            return Ok(Some(head));
        }
        head.extend_from_slice(trimmed);
        head.extend_from_slice(b"\r\n");
    }
}

/// Reads up to and including `\n`, failing past `max` bytes. Empty at EOF.
async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(line);
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(buf.get(..take).unwrap_or_default());
        reader.consume(take);
        if line.len() > max {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
        }
        if done {
            return Ok(line);
        }
    }
}

/// Reads a request body, de-chunking if needed, one piece at a time.
#[derive(Debug)]
pub struct BodyReader {
    state: BodyState,
}

#[derive(Debug)]
enum BodyState {
    Length(u64),
    /// Bytes left in the current chunk; `None` before the next chunk-size line.
    Chunked(Option<u64>),
    Done,
}

impl BodyReader {
    /// A reader for a body of this kind.
    pub fn new(kind: BodyKind) -> Self {
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => BodyState::Done,
            BodyKind::Length(n) => BodyState::Length(n),
            BodyKind::Chunked => BodyState::Chunked(None),
        };
        Self { state }
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, BodyState::Done)
    }

    /// Reads the next piece of body into `buf`; `Ok(0)` at the end of the body.
    pub async fn read<R: AsyncBufRead + AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        loop {
            match self.state {
                BodyState::Done => return Ok(0),
                BodyState::Length(left) => {
                    let n = limited_read(reader, buf, left).await?;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        BodyState::Done
                    } else {
                        BodyState::Length(left)
                    };
                    return Ok(n);
                }
                BodyState::Chunked(Some(0)) => {
                    expect_crlf(reader).await?;
                    self.state = BodyState::Chunked(None);
                }
                BodyState::Chunked(Some(left)) => {
                    let n = limited_read(reader, buf, left).await?;
                    self.state = BodyState::Chunked(Some(left - n as u64));
                    return Ok(n);
                }
                BodyState::Chunked(None) => {
                    let line = read_line_bounded(reader, MAX_CHUNK_LINE).await?;
                    let size = parse_chunk_size(&line)?;
                    if size == 0 {
                        // Trailer section: header lines until an empty line.
                        for _ in 0..=MAX_HEADERS {
                            let t = read_line_bounded(reader, MAX_HEAD).await?;
                            if t.is_empty() {
                                return Err(eof());
                            }
                            if t == b"\r\n" || t == b"\n" {
                                self.state = BodyState::Done;
                                return Ok(0);
                            }
                        }
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "trailer too long",
                        ));
                    }
                    self.state = BodyState::Chunked(Some(size));
                }
            }
        }
    }

    /// Reads and discards the rest of the body.
    pub async fn drain<R: AsyncBufRead + AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
    ) -> io::Result<u64> {
        let mut scratch = [0u8; 8192];
        let mut total = 0u64;
        loop {
            let n = self.read(reader, &mut scratch).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    }
}

fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "body ended early")
}

async fn limited_read<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
    left: u64,
) -> io::Result<usize> {
    let max = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
    let Some(target) = buf.get_mut(..max) else {
        return Ok(0);
    };
    let n = reader.read(target).await?;
    if n == 0 && max > 0 {
        return Err(eof());
    }
    Ok(n)
}

async fn expect_crlf<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<()> {
    let line = read_line_bounded(reader, 2).await?;
    if line == b"\r\n" || line == b"\n" {
        Ok(())
    } else if line.is_empty() {
        Err(eof())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "missing CRLF after chunk",
        ))
    }
}

fn parse_chunk_size(line: &[u8]) -> io::Result<u64> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad chunk size");
    if line.is_empty() {
        return Err(eof());
    }
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    // Chunk extensions (";name=value") are allowed and ignored.
    let size = text.split(';').next().unwrap_or_default().trim();
    if size.is_empty() || size.len() > 15 {
        return Err(bad());
    }
    u64::from_str_radix(size, 16).map_err(|_| bad())
}

/// A complete HTTP response carrying an IPP message.
pub fn ipp_response(body: &[u8], keep_alive: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A complete HTTP error response (the connection is closed after it).
pub fn error_response(code: u16, reason: &str) -> Vec<u8> {
    format!("HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parses_cups_style_heads() {
        let head = parse_request_head(
            b"POST /ipp/print HTTP/1.1\r\nContent-Type: application/ipp\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n",
        )
        .unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.path, "/ipp/print");
        assert!(head.expect_continue && head.keep_alive);
        assert_eq!(head.body, BodyKind::Chunked);
        let head = parse_request_head(b"POST / HTTP/1.0\r\nContent-Length: 12\r\n").unwrap();
        assert_eq!(head.body, BodyKind::Length(12));
        assert!(!head.keep_alive);
    }

    #[test]
    fn refuses_smuggling_and_garbage() {
        assert!(parse_request_head(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
        )
        .is_err());
        assert!(parse_request_head(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
        )
        .is_err());
        assert!(parse_request_head(b"POST / HTTP/2\r\n").is_err());
        assert!(parse_request_head(b"garbage").is_err());
        assert!(parse_request_head(&[0xff, 0xfe]).is_err());
    }

    #[tokio::test]
    async fn dechunks_bodies() {
        let wire: &[u8] = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let mut reader = tokio::io::BufReader::new(wire);
        let mut body = BodyReader::new(BodyKind::Chunked);
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = body.read(&mut reader, &mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b"hello world");
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"NEXT", "the next request stays in the stream");
    }

    #[tokio::test]
    async fn truncated_chunked_body_is_an_error() {
        let wire: &[u8] = b"10\r\nshort";
        let mut reader = tokio::io::BufReader::new(wire);
        let mut body = BodyReader::new(BodyKind::Chunked);
        let err = body.drain(&mut reader).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
