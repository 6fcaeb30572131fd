//! Connection slots per source (H3) and the admission of a new connection:
//! the per-source cap, counted from the TCP accept so half-open sockets count
//! too, and the PROXY header of trusted load balancers (L3).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpStream;

use super::proxy::{read_header, Prefixed, TrustedProxies};
use super::source::Source;

/// Live connections per source, capped.
#[derive(Debug)]
pub(crate) struct SourceSlots {
    cap: usize,
    counts: Mutex<HashMap<Source, usize>>,
}

/// One connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct SourceSlot {
    slots: Arc<SourceSlots>,
    source: Source,
}

impl SourceSlots {
    /// At most `cap` connections per source.
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(SourceSlots {
            cap,
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<Source, usize>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for `source`, or `None` when it has `cap` connections already.
    pub(crate) fn try_take(self: &Arc<Self>, source: Source) -> Option<SourceSlot> {
        let mut counts = self.counts();
        let n = counts.entry(source).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            slots: self.clone(),
            source,
        })
    }

    /// Connections `source` holds now.
    #[cfg(test)]
    pub(crate) fn count(&self, source: Source) -> usize {
        self.counts().get(&source).copied().unwrap_or(0)
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts();
        if let Some(n) = counts.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.source);
            }
        }
    }
}

/// What the accept loop checks before a connection gets a task.
#[derive(Debug)]
pub(crate) struct Admission {
    slots: Arc<SourceSlots>,
    proxies: TrustedProxies,
}

/// An admitted connection: the stream (with any bytes read past a PROXY
/// header put back), the client address to use for limits and audit, and
/// its slot.
pub(crate) struct Admitted {
    pub(crate) stream: Prefixed<TcpStream>,
    pub(crate) client: SocketAddr,
    _slot: SourceSlot,
}

/// The first step of admission, synchronous in the accept loop.
pub(crate) enum Accepted {
    /// A direct peer that got its slot.
    Direct(SocketAddr, SourceSlot),
    /// A trusted proxy: the slot is taken once its header names the client.
    Proxied(SocketAddr),
}

impl Admission {
    pub(crate) fn new(per_source: usize, trusted: &[String]) -> Self {
        Admission {
            slots: SourceSlots::new(per_source),
            proxies: TrustedProxies::new(trusted),
        }
    }

    /// At accept, before any byte is read: a direct peer over its cap is
    /// refused at once. A trusted proxy's own address is not capped (every
    /// client behind it shares it); its clients are, once named.
    pub(crate) fn at_accept(&self, peer: SocketAddr) -> Option<Accepted> {
        if self.proxies.trusts(peer.ip()) {
            return Some(Accepted::Proxied(peer));
        }
        match self.slots.try_take(Source::of(peer.ip())) {
            Some(slot) => Some(Accepted::Direct(peer, slot)),
            None => {
                tracing::debug!(source = %Source::of(peer.ip()), "per-source connection cap reached; refusing");
                None
            }
        }
    }

    /// Finishes admission: reads a trusted proxy's header (the caller bounds
    /// the time) and takes the slot of the client it names.
    pub(crate) async fn finish(&self, tcp: TcpStream, accepted: Accepted) -> Option<Admitted> {
        match accepted {
            Accepted::Direct(client, slot) => Some(Admitted {
                stream: Prefixed::plain(tcp),
                client,
                _slot: slot,
            }),
            Accepted::Proxied(proxy) => {
                let (named, stream) = match read_header(tcp).await {
                    Ok(got) => got,
                    Err(e) => {
                        tracing::debug!(%proxy, error = %e, "bad PROXY header from a trusted proxy");
                        return None;
                    }
                };
                let client = named.unwrap_or(proxy);
                let Some(slot) = self.slots.try_take(Source::of(client.ip())) else {
                    tracing::debug!(source = %Source::of(client.ip()), "per-source connection cap reached; refusing");
                    return None;
                };
                Some(Admitted {
                    stream,
                    client,
                    _slot: slot,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_source_and_freed_on_drop() {
        let slots = SourceSlots::new(2);
        let a = Source::of("192.0.2.1".parse().unwrap());
        let b = Source::of("2001:db8::1".parse().unwrap());
        let b_same64 = Source::of("2001:db8::ffff".parse().unwrap());
        let one = slots.try_take(a).unwrap();
        let _two = slots.try_take(a).unwrap();
        assert!(slots.try_take(a).is_none(), "third from one source refused");
        let _b1 = slots.try_take(b).unwrap();
        let _b2 = slots.try_take(b_same64).unwrap();
        assert!(slots.try_take(b).is_none(), "one IPv6 /64 is one source");
        drop(one);
        assert_eq!(slots.count(a), 1);
        assert!(slots.try_take(a).is_some());
    }
}
