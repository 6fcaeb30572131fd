//! The PROXY protocol header (HAProxy's versions 1 and 2) a load balancer
//! sends before the client's own bytes, naming the real client address.
//!
//! Only the relay reads it, and only from peers it trusts: anyone else could
//! claim any address. The parser is pure and bounded: it looks at most at
//! [`MAX_HEADER_LEN`] bytes, never allocates, and tells "need more bytes"
//! apart from "not a PROXY header" and "malformed".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature: the first 12 bytes of every version 2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, CRLF included (from the protocol's description).
pub const V1_MAX_LEN: usize = 107;
/// The longest v2 address-and-extensions block accepted. Real proxies send
/// the addresses and a few short extensions; more is refused.
pub const V2_MAX_PAYLOAD: usize = 512;
/// The most bytes a header may take: a reader never needs to buffer more.
pub const MAX_HEADER_LEN: usize = 16 + V2_MAX_PAYLOAD;

/// A complete header at the start of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// The client the proxy speaks for; `None` for a connection the proxy
    /// made itself (v2 `LOCAL`, v1 `UNKNOWN`, non-TCP families): then the
    /// proxy's own address stands.
    pub client: Option<SocketAddr>,
    /// How many bytes the header took; the client's own bytes follow.
    pub consumed: usize,
}

/// Why the input is not a usable PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyHeaderError {
    /// The input does not start with either version's signature.
    #[error("no PROXY protocol header")]
    NotProxy,
    /// It starts like a PROXY header but breaks its rules.
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(&'static str),
}

/// Parses a PROXY header (v1 or v2) at the start of `input`.
///
/// `Ok(None)`: the input is a prefix of a header; read more (no more than
/// [`MAX_HEADER_LEN`] bytes in all). `Ok(Some(h))`: a header of `h.consumed`
/// bytes. `Err(NotProxy)`: the input starts with something else.
pub fn parse_proxy_header(input: &[u8]) -> Result<Option<ProxyHeader>, ProxyHeaderError> {
    if starts_like(input, &V2_SIGNATURE) {
        return if input.len() < V2_SIGNATURE.len() {
            Ok(None)
        } else {
            parse_v2(input)
        };
    }
    if starts_like(input, b"PROXY ") {
        return if input.len() < 6 {
            Ok(None)
        } else {
            parse_v1(input)
        };
    }
    Err(ProxyHeaderError::NotProxy)
}

/// Whether `input` and `prefix` agree on their common length.
fn starts_like(input: &[u8], prefix: &[u8]) -> bool {
    input.iter().zip(prefix).all(|(a, b)| a == b)
}

fn parse_v1(input: &[u8]) -> Result<Option<ProxyHeader>, ProxyHeaderError> {
    let window = input.get(..V1_MAX_LEN.min(input.len())).unwrap_or(input);
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        return if input.len() >= V1_MAX_LEN {
            Err(ProxyHeaderError::Malformed(
                "v1 header longer than 107 bytes",
            ))
        } else {
            Ok(None)
        };
    };
    let consumed = end + 2;
    let line = window.get(..end).unwrap_or_default();
    let line = std::str::from_utf8(line).map_err(|_| ProxyHeaderError::Malformed("not ASCII"))?;
    let mut words = line.split(' ');
    let _proxy = words.next();
    let family = words.next();
    if family == Some("UNKNOWN") {
        return Ok(Some(ProxyHeader {
            client: None,
            consumed,
        }));
    }
    let (Some(src), Some(_dst), Some(sport), Some(_dport), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return Err(ProxyHeaderError::Malformed("v1 needs 6 fields"));
    };
    let ip: IpAddr = match family {
        Some("TCP4") => src
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| ProxyHeaderError::Malformed("bad IPv4 source"))?,
        Some("TCP6") => src
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| ProxyHeaderError::Malformed("bad IPv6 source"))?,
        _ => return Err(ProxyHeaderError::Malformed("unknown v1 family")),
    };
    let port = parse_port(sport)?;
    Ok(Some(ProxyHeader {
        client: Some(SocketAddr::new(ip, port)),
        consumed,
    }))
}

fn parse_port(text: &str) -> Result<u16, ProxyHeaderError> {
    let ok = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    // The description forbids leading zeros; "0" itself is allowed.
    if !ok || (text.len() > 1 && text.starts_with('0')) {
        return Err(ProxyHeaderError::Malformed("bad port"));
    }
    text.parse()
        .map_err(|_| ProxyHeaderError::Malformed("bad port"))
}

fn parse_v2(input: &[u8]) -> Result<Option<ProxyHeader>, ProxyHeaderError> {
    let Some(&[ver_cmd, family, len_hi, len_lo]) = input.get(12..16) else {
        return Ok(None);
    };
    if ver_cmd >> 4 != 2 {
        return Err(ProxyHeaderError::Malformed("v2 version nibble is not 2"));
    }
    let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
    if len > V2_MAX_PAYLOAD {
        return Err(ProxyHeaderError::Malformed("v2 header too long"));
    }
    let consumed = 16 + len;
    let Some(payload) = input.get(16..consumed) else {
        return Ok(None);
    };
    let client = match ver_cmd & 0x0F {
        // LOCAL: the proxy's own connection (a health check).
        0 => None,
        1 => v2_source(family, payload)?,
        _ => return Err(ProxyHeaderError::Malformed("unknown v2 command")),
    };
    Ok(Some(ProxyHeader { client, consumed }))
}

/// The source address of a v2 `PROXY` command; `None` for families other
/// than TCP over IPv4/IPv6 (UNSPEC, UDP, UNIX), which name no TCP client.
fn v2_source(family: u8, payload: &[u8]) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let short = ProxyHeaderError::Malformed("v2 address block too short");
    match family {
        0x11 => {
            let Some(&[a, b, c, d]) = payload.get(..4) else {
                return Err(short);
            };
            let Some(&[p0, p1]) = payload.get(8..10) else {
                return Err(short);
            };
            let ip = Ipv4Addr::new(a, b, c, d);
            Ok(Some(SocketAddr::new(
                ip.into(),
                u16::from_be_bytes([p0, p1]),
            )))
        }
        0x21 => {
            let Some(Ok(octets)) = payload.get(..16).map(<[u8; 16]>::try_from) else {
                return Err(short);
            };
            let Some(&[p0, p1]) = payload.get(32..34) else {
                return Err(short);
            };
            let ip = Ipv6Addr::from(octets);
            Ok(Some(SocketAddr::new(
                ip.into(),
                u16::from_be_bytes([p0, p1]),
            )))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn v2(cmd: u8, family: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(0x20 | cmd);
        out.push(family);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn v1_tcp4_and_tcp6_name_the_client() {
        let h = b"PROXY TCP4 198.51.100.7 10.0.0.1 51234 7443\r\n\x16\x03";
        let got = parse_proxy_header(h).unwrap().unwrap();
        assert_eq!(got.client, Some("198.51.100.7:51234".parse().unwrap()));
        assert_eq!(got.consumed, h.len() - 2);
        let h = b"PROXY TCP6 2001:db8::7 2001:db8::1 1 7443\r\n";
        let got = parse_proxy_header(h).unwrap().unwrap();
        assert_eq!(got.client, Some("[2001:db8::7]:1".parse().unwrap()));
        let h = b"PROXY UNKNOWN\r\n";
        assert_eq!(parse_proxy_header(h).unwrap().unwrap().client, None);
    }

    #[test]
    fn v2_tcp4_tcp6_and_local() {
        let mut p4 = vec![203, 0, 113, 9, 10, 0, 0, 1];
        p4.extend_from_slice(&4000u16.to_be_bytes());
        p4.extend_from_slice(&7443u16.to_be_bytes());
        let h = v2(1, 0x11, &p4);
        let got = parse_proxy_header(&h).unwrap().unwrap();
        assert_eq!(got.client, Some("203.0.113.9:4000".parse().unwrap()));
        assert_eq!(got.consumed, h.len());
        let mut p6 = "2001:db8::9".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        p6.extend_from_slice(&[0; 16]);
        p6.extend_from_slice(&[0, 80, 0, 1]);
        p6.extend_from_slice(&[0x04, 0, 1, 0]); // a TLV after the addresses
        let got = parse_proxy_header(&v2(1, 0x21, &p6)).unwrap().unwrap();
        assert_eq!(got.client, Some("[2001:db8::9]:80".parse().unwrap()));
        let got = parse_proxy_header(&v2(0, 0x00, &[])).unwrap().unwrap();
        assert_eq!((got.client, got.consumed), (None, 16));
    }

    #[test]
    fn every_prefix_of_a_header_asks_for_more() {
        let mut p4 = vec![203, 0, 113, 9, 10, 0, 0, 1, 0, 1, 0, 2];
        let v2h = v2(1, 0x11, &p4);
        let v1h = b"PROXY TCP4 198.51.100.7 10.0.0.1 51234 7443\r\n".to_vec();
        for h in [v2h, v1h] {
            for cut in 0..h.len() {
                assert_eq!(parse_proxy_header(&h[..cut]), Ok(None), "cut {cut}");
            }
            assert!(parse_proxy_header(&h).unwrap().is_some());
        }
        p4.truncate(3);
        assert!(parse_proxy_header(&v2(1, 0x11, &p4)).is_err());
    }

    #[test]
    fn other_bytes_and_broken_headers_are_refused() {
        // A TLS ClientHello is not a PROXY header.
        assert_eq!(
            parse_proxy_header(&[0x16, 0x03, 0x01]),
            Err(ProxyHeaderError::NotProxy)
        );
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 1\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 1\r\n",
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        ] {
            assert!(
                matches!(parse_proxy_header(bad), Err(ProxyHeaderError::Malformed(_))),
                "{bad:?}"
            );
        }
        let endless = [b"PROXY ".as_slice(), &[b'1'; 200]].concat();
        assert!(parse_proxy_header(&endless).is_err());
        let mut long = V2_SIGNATURE.to_vec();
        long.extend_from_slice(&[0x21, 0x11, 0xFF, 0xFF]);
        assert!(parse_proxy_header(&long).is_err());
        let mut v3 = V2_SIGNATURE.to_vec();
        v3.extend_from_slice(&[0x31, 0x11, 0, 0]);
        assert!(parse_proxy_header(&v3).is_err());
    }
}
