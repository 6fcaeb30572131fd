//! Who may talk to the virtual printer (SECURITY M9).
//!
//! The printer listens on 127.0.0.1 without passwords, so it checks what a
//! loopback connection can still tell apart:
//!
//! - **the request**: `POST` to the printer's own path with
//!   `Content-Type: application/ipp`, a `Host` naming the loopback (so a DNS
//!   rebinding page with `Host: evil.example` is refused), and no `Origin`
//!   header (browsers add one to every cross-site POST; printing clients
//!   never do);
//! - **the local user**: on Linux the connecting socket's owner is looked up
//!   in `/proc/net/tcp{,6}`. Only the user that runs the customer program
//!   may print, plus the system print service (root or `lp`, which CUPS
//!   runs its `ipp` backend as) on behalf of that same user
//!   (`requesting-user-name`, which CUPS sets from the authenticated
//!   submitter). Anything else, or a lookup that fails, is refused.

// Peer-controlled input passes through here: no panicking shortcuts.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::{IpAddr, SocketAddr};

use super::http::RequestHead;

/// The path of the printer URI (`ipp://127.0.0.1:<port>/ipp/print`).
pub(crate) const PRINTER_PATH: &str = "/ipp/print";

/// An HTTP status and a short reason for a refused request.
pub(crate) type Refused = (u16, &'static str);

/// Checks a request head against the rules above (all but the user).
pub(crate) fn check_head(head: &RequestHead, port: u16) -> Result<(), Refused> {
    if head.has_origin {
        return Err((403, "Forbidden"));
    }
    match head.host.as_deref() {
        Some(host) if host_is_loopback(host, port) => {}
        _ => return Err((403, "Forbidden")),
    }
    if head.method != "POST" {
        return Err((405, "Method Not Allowed"));
    }
    if head.path != PRINTER_PATH {
        return Err((404, "Not Found"));
    }
    match head.content_type.as_deref() {
        Some(ct) if is_ipp(ct) => Ok(()),
        _ => Err((415, "Unsupported Media Type")),
    }
}

/// `application/ipp`, any case, with or without parameters.
fn is_ipp(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/ipp")
}

/// `localhost`, `127.0.0.1` or `[::1]`, with no port or with ours.
fn host_is_loopback(host: &str, port: u16) -> bool {
    let (name, given_port) = match host.rsplit_once(':') {
        // "[::1]" alone has colons inside the brackets only.
        Some((name, p)) if !p.contains(']') => (name, Some(p)),
        _ => (host, None),
    };
    let name_ok = name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]";
    let port_ok = match given_port {
        None => true,
        Some(p) => p.parse::<u16>().ok() == Some(port),
    };
    name_ok && port_ok
}

/// Which local users may print.
#[derive(Debug, Clone)]
pub(crate) struct LocalUsers {
    /// The user running this program.
    pub(crate) own_uid: u32,
    /// Its login name, matched against `requesting-user-name` for jobs the
    /// print service relays.
    pub(crate) own_name: Option<String>,
    /// Users the system print service runs as (root, `lp`).
    pub(crate) service_uids: Vec<u32>,
}

/// How a connection's user may use the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Our own user: everything, owning its jobs.
    Own(u32),
    /// The print service: only requests naming our user.
    Service(u32),
}

impl Peer {
    /// The uid jobs created on this connection belong to.
    pub(crate) fn uid(self) -> u32 {
        match self {
            Peer::Own(uid) | Peer::Service(uid) => uid,
        }
    }
}

impl LocalUsers {
    /// The users of this machine as seen from this process.
    pub(crate) fn of_this_process() -> Self {
        let own_uid = own_uid();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let own_name = name_of_uid(&passwd, own_uid);
        let mut service_uids = vec![0];
        service_uids.extend(uid_of_name(&passwd, "lp"));
        Self {
            own_uid,
            own_name,
            service_uids,
        }
    }

    /// What a connection owned by `uid` may do; `None`: refuse it.
    pub(crate) fn classify(&self, uid: u32) -> Option<Peer> {
        if uid == self.own_uid {
            Some(Peer::Own(uid))
        } else if self.service_uids.contains(&uid) {
            Some(Peer::Service(uid))
        } else {
            None
        }
    }

    /// Whether a relayed request names our user (`requesting-user-name`).
    pub(crate) fn is_own_name(&self, requesting_user: Option<&str>) -> bool {
        matches!((self.own_name.as_deref(), requesting_user), (Some(a), Some(b)) if a == b)
    }
}

#[cfg(unix)]
fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(not(unix))]
fn own_uid() -> u32 {
    u32::MAX
}

/// The login name of `uid` in a passwd file.
fn name_of_uid(passwd: &str, uid: u32) -> Option<String> {
    passwd_entries(passwd)
        .find(|(_, u)| *u == uid)
        .map(|(name, _)| name.to_owned())
}

/// The uid of `name` in a passwd file.
fn uid_of_name(passwd: &str, name: &str) -> Option<u32> {
    passwd_entries(passwd)
        .find(|(n, _)| *n == name)
        .map(|(_, uid)| uid)
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = (&str, u32)> {
    passwd.lines().filter_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let uid = fields.nth(1)?.parse().ok()?;
        Some((name, uid))
    })
}

/// The uid owning the socket at `peer` connected to us at `local`, from the
/// kernel's socket tables. `None` when it cannot be found (refuse then).
#[cfg(target_os = "linux")]
pub(crate) fn peer_uid(local: SocketAddr, peer: SocketAddr) -> Option<u32> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| {
            let text = std::fs::read_to_string(table).ok()?;
            find_uid(&text, local, peer)
        })
}

/// Elsewhere the owner of a loopback socket is not looked up: refuse.
#[cfg(not(target_os = "linux"))]
pub(crate) fn peer_uid(_local: SocketAddr, _peer: SocketAddr) -> Option<u32> {
    None
}

/// Finds, in the text of `/proc/net/tcp` or `/proc/net/tcp6`, the socket
/// whose own address is `peer` and whose remote address is `local` (the
/// client's end of the connection), and returns its uid.
pub(crate) fn find_uid(table: &str, local: SocketAddr, peer: SocketAddr) -> Option<u32> {
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let own = parse_endpoint(fields.nth(1)?)?;
        let remote = parse_endpoint(fields.next()?)?;
        if !same(own, peer) || !same(remote, local) {
            return None;
        }
        // st, tx:rx, tr:when, retrnsmt, then uid.
        fields.nth(4)?.parse().ok()
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6). The kernel
/// prints each 32-bit word of the address as a number in host byte order.
fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in addr.as_bytes().chunks(8) {
        let word = std::str::from_utf8(word).ok()?;
        let n = u32::from_str_radix(word, 16).ok()?;
        bytes.extend_from_slice(&n.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Equal addresses, an IPv4 one matching its IPv4-mapped IPv6 form.
fn same(a: SocketAddr, b: SocketAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    a.port() == b.port() && canon(a.ip()) == canon(b.ip())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::ipp::http::parse_request_head;

    fn head(text: &str) -> RequestHead {
        parse_request_head(text.as_bytes()).unwrap()
    }

    const GOOD: &str = "POST /ipp/print HTTP/1.1\r\nHost: 127.0.0.1:631\r\nContent-Type: application/ipp\r\nContent-Length: 9\r\n";

    #[test]
    fn a_printing_client_passes() {
        assert_eq!(check_head(&head(GOOD), 631), Ok(()));
        for host in [
            "localhost",
            "LOCALHOST:631",
            "[::1]:631",
            "[::1]",
            "127.0.0.1",
        ] {
            let text = GOOD.replace("127.0.0.1:631", host);
            assert_eq!(check_head(&head(&text), 631), Ok(()), "{host}");
        }
    }

    #[test]
    fn browsers_other_hosts_paths_and_types_are_refused() {
        let cases = [
            (format!("{GOOD}Origin: https://evil.example\r\n"), 403),
            (GOOD.replace("127.0.0.1:631", "evil.example:631"), 403),
            (GOOD.replace("127.0.0.1:631", "127.0.0.1:632"), 403),
            (GOOD.replace("127.0.0.1:631", "127.0.0.1.evil.example"), 403),
            (GOOD.replace("Host: 127.0.0.1:631\r\n", ""), 403),
            (GOOD.replace("/ipp/print", "/admin"), 404),
            (GOOD.replace("application/ipp", "text/plain"), 415),
            (GOOD.replace("Content-Type: application/ipp\r\n", ""), 415),
        ];
        for (text, code) in cases {
            assert_eq!(
                check_head(&head(&text), 631).map_err(|e| e.0),
                Err(code),
                "{text}"
            );
        }
    }

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:D431 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1001        0 2 1 0000000000000000 20 4 30 10 -1\n\
   2: 0100007F:9C40 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1\n";

    #[test]
    fn the_client_end_of_the_connection_gives_the_uid() {
        if cfg!(target_endian = "big") {
            return; // the table above is what a little-endian kernel prints
        }
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap(); // 0x9C40
        let peer: SocketAddr = "127.0.0.1:54321".parse().unwrap(); // 0xD431
        assert_eq!(find_uid(TCP, local, peer), Some(1001));
        let stranger: SocketAddr = "127.0.0.1:54322".parse().unwrap();
        assert_eq!(find_uid(TCP, local, stranger), None);
        let mapped = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid\n\
   0: 0000000000000000FFFF00000100007F:D431 0000000000000000FFFF00000100007F:9C40 01 00000000:00000000 00:00000000 00000000  1002        0 4\n";
        assert_eq!(find_uid(mapped, local, peer), Some(1002));
    }

    #[test]
    fn only_our_user_and_the_print_service_for_our_user() {
        let users = LocalUsers {
            own_uid: 1000,
            own_name: Some("bob".into()),
            service_uids: vec![0, 7],
        };
        assert_eq!(users.classify(1000), Some(Peer::Own(1000)));
        assert_eq!(users.classify(7), Some(Peer::Service(7)));
        assert_eq!(users.classify(1001), None);
        assert!(users.is_own_name(Some("bob")));
        assert!(!users.is_own_name(Some("mallory")));
        assert!(!users.is_own_name(None));
        let passwd = "root:x:0:0:root:/root:/bin/sh\nlp:x:7:7:lp:/var/spool/lpd:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n";
        assert_eq!(uid_of_name(passwd, "lp"), Some(7));
        assert_eq!(name_of_uid(passwd, 1000).as_deref(), Some("bob"));
    }

    #[test]
    fn this_connection_is_found_as_our_own() {
        // A real loopback connection of this process: its uid is ours.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let uid = peer_uid(listener.local_addr().unwrap(), peer);
        if cfg!(target_os = "linux") {
            assert_eq!(uid, Some(own_uid()));
        } else {
            assert_eq!(uid, None);
        }
    }
}
