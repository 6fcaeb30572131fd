//! The bounded tile cache both ends keep in lockstep.
//!
//! The encoder marks a tile with a cache id; the decoder stores the tile's
//! pixels under it; later tiles with the same pixels travel as that id alone.
//! Both sides run the same least-recently-used policy with the same capacity
//! (negotiated through `Capabilities::tile_cache_entries`), touching entries in
//! batch order, so they evict the same entries at the same moments.

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

/// A least-recently-used map from cache id to tile pixels.
#[derive(Debug, Default)]
pub(crate) struct TileCache {
    capacity: usize,
    clock: u64,
    entries: HashMap<u64, CachedTile>,
    /// Use stamp → id, oldest first.
    order: BTreeMap<u64, u64>,
    /// Content hash → id; filled only on the encoder side.
    by_hash: HashMap<u64, u64>,
}

impl TileCache {
    pub(crate) fn new(capacity: usize) -> Self {
        TileCache {
            capacity,
            ..TileCache::default()
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.by_hash.clear();
    }

    fn next_stamp(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Stores `pixels` under `id`, evicting the least recently used entry when full.
    /// `hash` is the content hash (encoder side) or 0.
    pub(crate) fn insert(&mut self, id: u64, width: u32, height: u32, pixels: &[u8], hash: u64) {
        if self.capacity == 0 {
            return;
        }
        let stamp = self.next_stamp();
        let mut buffer = Vec::new();
        if let Some(old) = self.entries.remove(&id) {
            self.forget(id, &old);
            buffer = old.pixels;
        } else if self.entries.len() >= self.capacity {
            if let Some((_, victim)) = self.order.pop_first() {
                if let Some(old) = self.entries.remove(&victim) {
                    self.forget(victim, &old);
                    buffer = old.pixels;
                }
            }
        }
        buffer.clear();
        buffer.extend_from_slice(pixels);
        self.order.insert(stamp, id);
        if hash != 0 {
            self.by_hash.insert(hash, id);
        }
        self.entries.insert(
            id,
            CachedTile {
                width,
                height,
                pixels: buffer,
                stamp,
                hash,
            },
        );
    }

    fn forget(&mut self, id: u64, old: &CachedTile) {
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
        let mut c = TileCache::new(2);
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
    fn zero_capacity_stores_nothing() {
        let mut c = TileCache::new(0);
        c.insert(1, 1, 1, &[1; 4], 11);
        assert!(c.touch(1).is_none());
    }
}
