//! The decoded-tile cache: least recently used out first, bounded in bytes.
//!
//! Owns the bound ([`DEFAULT_TILE_CACHE_BYTES`] unless configured): after every insert
//! the cached tiles cost at most the bound (a tile larger than the whole bound is not
//! kept). Thread-safe; tiles are shared as `Arc<Tile>`, so a tile evicted while the UI
//! still holds it lives until the UI lets go (at most what one frame draws).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Tile, TileKey};

/// 512 MiB: ~2,000 decoded 256x256 RGBA tiles, about 40 screens of 1920x1080.
pub const DEFAULT_TILE_CACHE_BYTES: usize = 512 << 20;

#[derive(Debug)]
pub struct TileCache {
    capacity_bytes: usize,
    inner: Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    entries: HashMap<TileKey, (Arc<Tile>, u64)>,
    /// Use tick -> key; the first entry is the least recently used.
    order: BTreeMap<u64, TileKey>,
    tick: u64,
    bytes: usize,
    peak_bytes: usize,
}

/// Counters for tests, benchmarks and the status line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub tiles: usize,
    pub bytes: usize,
    /// The most `bytes` has been since the last [`TileCache::clear`].
    pub peak_bytes: usize,
    pub capacity_bytes: usize,
}

impl TileCache {
    pub fn new(capacity_bytes: usize) -> TileCache {
        TileCache {
            capacity_bytes,
            inner: Mutex::new(Lru::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lru> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The tile, marked as just used.
    pub fn get(&self, key: TileKey) -> Option<Arc<Tile>> {
        let mut lru = self.lock();
        lru.tick += 1;
        let tick = lru.tick;
        let (tile, old) = {
            let entry = lru.entries.get_mut(&key)?;
            let old = std::mem::replace(&mut entry.1, tick);
            (Arc::clone(&entry.0), old)
        };
        lru.order.remove(&old);
        lru.order.insert(tick, key);
        Some(tile)
    }

    /// Whether the tile is cached (does not count as a use).
    pub fn contains(&self, key: TileKey) -> bool {
        self.lock().entries.contains_key(&key)
    }

    /// Inserts (or replaces) a tile, then evicts least recently used tiles until the
    /// total is within the bound.
    pub fn insert(&self, tile: Arc<Tile>) {
        let cost = tile.cost_bytes();
        if cost > self.capacity_bytes {
            return;
        }
        let mut lru = self.lock();
        lru.tick += 1;
        let tick = lru.tick;
        let key = tile.key;
        if let Some((old, old_tick)) = lru.entries.insert(key, (tile, tick)) {
            lru.order.remove(&old_tick);
            lru.bytes -= old.cost_bytes();
        }
        lru.order.insert(tick, key);
        lru.bytes += cost;
        while lru.bytes > self.capacity_bytes {
            let Some((_, victim)) = lru.order.pop_first() else {
                break;
            };
            if let Some((gone, _)) = lru.entries.remove(&victim) {
                lru.bytes -= gone.cost_bytes();
            }
        }
        lru.peak_bytes = lru.peak_bytes.max(lru.bytes);
    }

    pub fn clear(&self) {
        let mut lru = self.lock();
        *lru = Lru::default();
    }

    pub fn stats(&self) -> CacheStats {
        let lru = self.lock();
        CacheStats {
            tiles: lru.entries.len(),
            bytes: lru.bytes,
            peak_bytes: lru.peak_bytes,
            capacity_bytes: self.capacity_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::slide::TileContent;

    fn tile(col: u32, side: u32) -> Arc<Tile> {
        Arc::new(Tile {
            key: TileKey {
                level: 0,
                col,
                row: 0,
            },
            width: side,
            height: side,
            content: TileContent::Rgba(vec![0; (side * side * 4) as usize]),
        })
    }

    #[test]
    fn the_byte_bound_holds_and_the_least_recently_used_go_first() {
        let one = tile(0, 64).cost_bytes();
        let cache = TileCache::new(one * 3 + one / 2);
        for col in 0..3 {
            cache.insert(tile(col, 64));
        }
        assert_eq!(cache.stats().tiles, 3);
        // Use tile 0, so tile 1 is now the least recently used.
        assert!(cache.get(tiles_key(0)).is_some());
        cache.insert(tile(3, 64));
        assert!(cache.contains(tiles_key(0)));
        assert!(!cache.contains(tiles_key(1)));
        assert!(cache.contains(tiles_key(2)) && cache.contains(tiles_key(3)));
        for col in 4..100 {
            cache.insert(tile(col, 64));
            let s = cache.stats();
            assert!(s.bytes <= s.capacity_bytes, "{s:?}");
        }
        assert!(cache.stats().peak_bytes <= cache.stats().capacity_bytes);
        // Replacing a tile does not count it twice.
        cache.insert(tile(99, 64));
        assert_eq!(cache.stats().tiles, 3);
        // Larger than the whole bound: not kept, nothing evicted for it.
        cache.insert(tile(500, 512));
        assert!(!cache.contains(tiles_key(500)));
        assert_eq!(cache.stats().tiles, 3);
        cache.clear();
        assert_eq!(
            cache.stats(),
            CacheStats {
                capacity_bytes: cache.stats().capacity_bytes,
                ..CacheStats::default()
            }
        );
    }

    fn tiles_key(col: u32) -> TileKey {
        TileKey {
            level: 0,
            col,
            row: 0,
        }
    }
}
