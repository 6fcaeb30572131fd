//! Who a connection comes from, for limits: an IPv4 address or an IPv6 /64.
//!
//! One IPv6 customer line is usually handed a whole /64, so counting the full
//! 128-bit address would give an attacker 2^64 "sources" for free. Every
//! limit keyed on the peer (failed codes, failed logins, connection caps)
//! uses [`Source`] rather than the raw address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The unit a per-source limit counts: an IPv4 address, or the /64 prefix
/// of an IPv6 address. IPv4-mapped IPv6 addresses count as their IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// One IPv4 address.
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6Prefix(u64),
}

impl Source {
    /// The limit key for a peer address.
    pub fn of(addr: IpAddr) -> Source {
        match addr {
            IpAddr::V4(v4) => Source::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4),
                None => Source::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

impl From<IpAddr> for Source {
    fn from(addr: IpAddr) -> Self {
        Source::of(addr)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::V4(v4) => write!(f, "{v4}"),
            Source::V6Prefix(prefix) => {
                let addr = Ipv6Addr::from(u128::from(*prefix) << 64);
                write!(f, "{addr}/64")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_in_one_64_are_one_source() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Source::of(a), Source::of(b));
        assert_ne!(Source::of(a), Source::of(c));
        assert_eq!(Source::of(a).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv4_and_mapped_ipv4_are_the_same_source() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(Source::of(v4), Source::of(mapped));
        assert_ne!(Source::of(v4), Source::of(other));
        assert_eq!(Source::of(mapped).to_string(), "192.0.2.7");
    }
}
