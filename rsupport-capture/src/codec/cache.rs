//! The bounded tile cache both ends keep in lockstep.
//!
//! The encoder marks a tile with a cache id; the decoder stores the tile's
//! pixels under it; later tiles with the same pixels travel as that id alone.
//! Both sides run the same least-recently-used policy with the same capacity
//! (negotiated through `Capabilities::tile_cache_entries`), touching entries in
//! batch order, so they evict the same entries at the same moments.
//!
//! The cache is bounded twice: by entries and by pixel bytes
//! ([`DEFAULT_CACHE_BYTES`] unless set otherwise). An honest encoder caches
//! only 64×64 tiles (16 KiB), so its 1024 entries fill exactly 16 MiB and
//! both bounds evict at the same moment; both ends apply the same byte
//! bound in any case, so they stay in step. The byte bound is there for a
//! hostile host that caches large tiles: its later cache ids miss (a decode
//! error, never unbounded memory).

use std::collections::{BTreeMap, HashMap};

/// One cached tile.
#[derive(Debug)]
pub(crate) struct CachedTile {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// Row-major BGRA, `width * height * 4` bytes.
    pub(crate) pixels: Vec<u8>,
    stamp: u64,
    hash: u64,
}

/// Pixel bytes a tile cache keeps by default: 16 MiB, what 1024 cached
/// 64×64 tiles take.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// A least-recently-used map from cache id to tile pixels.
#[derive(Debug, Default)]
pub(crate) struct TileCache {
    capacity: usize,
    /// Most pixel bytes kept.
    max_bytes: usize,
    /// Pixel bytes kept now.
    bytes: usize,
    clock: u64,
    entries: HashMap<u64, CachedTile>,
    /// Use stamp → id, oldest first.
    order: BTreeMap<u64, u64>,
    /// Content hash → id; filled only on the encoder side.
    by_hash: HashMap<u64, u64>,
}

impl TileCache {
    /// A cache of at most `capacity` entries and `max_bytes` pixel bytes.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        TileCache {
            capacity,
            max_bytes,
            ..TileCache::default()
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Pixel bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.by_hash.clear();
        self.bytes = 0;
    }

    fn next_stamp(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Stores `pixels` under `id`, evicting least recently used entries
    /// until both the entry and the byte bound hold. A tile larger than the
    /// whole byte bound is not stored (and an older entry under `id` goes).
    /// `hash` is the content hash (encoder side) or 0.
    pub(crate) fn insert(&mut self, id: u64, width: u32, height: u32, pixels: &[u8], hash: u64) {
        if self.capacity == 0 {
            return;
        }
        if let Some(old) = self.entries.remove(&id) {
            self.forget(id, &old);
        }
        if pixels.len() > self.max_bytes {
            return;
        }
        while self.entries.len() >= self.capacity || self.bytes + pixels.len() > self.max_bytes {
            let Some((_, victim)) = self.order.pop_first() else {
                break;
            };
            if let Some(old) = self.entries.remove(&victim) {
                self.forget(victim, &old);
            }
        }
        let stamp = self.next_stamp();
        self.order.insert(stamp, id);
        if hash != 0 {
            self.by_hash.insert(hash, id);
        }
        self.bytes += pixels.len();
        self.entries.insert(
            id,
            CachedTile {
                width,
                height,
                pixels: pixels.to_vec(),
                stamp,
                hash,
            },
        );
    }

    fn forget(&mut self, id: u64, old: &CachedTile) {
        self.bytes = self.bytes.saturating_sub(old.pixels.len());
        self.order.remove(&old.stamp);
        if old.hash != 0 && self.by_hash.get(&old.hash) == Some(&id) {
            self.by_hash.remove(&old.hash);
        }
    }

    /// The entry under `id`, marked as just used.
    pub(crate) fn touch(&mut self, id: u64) -> Option<&CachedTile> {
        let stamp = self.next_stamp();
        let entry = self.entries.get_mut(&id)?;
        self.order.remove(&entry.stamp);
        entry.stamp = stamp;
        self.order.insert(stamp, id);
        Some(entry)
    }

    /// The id of an entry holding exactly these pixels (confirmed byte for byte).
    pub(crate) fn find(&self, hash: u64, width: u32, height: u32, pixels: &[u8]) -> Option<u64> {
        let id = *self.by_hash.get(&hash)?;
        let e = self.entries.get(&id)?;
        (e.width == width && e.height == height && e.pixels == pixels).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut c = TileCache::new(2, DEFAULT_CACHE_BYTES);
        c.insert(1, 1, 1, &[1; 4], 11);
        c.insert(2, 1, 1, &[2; 4], 22);
        assert!(c.touch(1).is_some()); // 2 is now the oldest
        c.insert(3, 1, 1, &[3; 4], 33);
        assert_eq!(c.len(), 2);
        assert!(c.touch(2).is_none());
        assert_eq!(c.find(11, 1, 1, &[1; 4]), Some(1));
        assert_eq!(c.find(22, 1, 1, &[2; 4]), None);
        // A hash hit with other pixels is not a match.
        assert_eq!(c.find(33, 1, 1, &[9; 4]), None);
    }

    #[test]
    fn evicts_by_bytes_oldest_first() {
        // Room for two 16-byte tiles by bytes, though ten by entries.
        let mut c = TileCache::new(10, 32);
        c.insert(1, 2, 2, &[1; 16], 0);
        c.insert(2, 2, 2, &[2; 16], 0);
        assert!(c.touch(1).is_some()); // 2 is now the oldest
        c.insert(3, 2, 2, &[3; 16], 0);
        assert_eq!(c.bytes(), 32);
        assert!(c.touch(2).is_none(), "evicted to make room by bytes");
        assert!(c.touch(1).is_some() && c.touch(3).is_some());
        // Larger than the whole bound: not kept, and the old entry goes.
        c.insert(1, 3, 3, &[9; 36], 0);
        assert!(c.touch(1).is_none());
        assert_eq!(c.bytes(), 16);
        c.clear();
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let mut c = TileCache::new(0, DEFAULT_CACHE_BYTES);
        c.insert(1, 1, 1, &[1; 4], 11);
        assert!(c.touch(1).is_none());
    }
}
