//! Tile workers: named threads that read and decode requested tiles into the cache.
//!
//! Owns the request queue: bounded ([`TilePool::new`]'s `queue_capacity`), ordered by
//! [`Priority`] (visible before next zoom level before neighbours) and then by request
//! order, each tile at most once (queued, in flight or cached tiles are not queued
//! again). [`TilePool::replace_wanted`] is how a view cancels what it no longer shows:
//! queued tiles that are not wanted any more are dropped; tiles already in flight
//! finish (a tile takes milliseconds) and land in the cache; a tile in flight that is
//! wanted more urgently meanwhile keeps the higher priority. Results go into the
//! [`TileCache`]; `on_ready` is called after each with its priority and how many
//! visible tiles are still to come (the UI decides when to repaint from that).
//! A panic while reading a tile becomes a blank tile with a reason, never a dead worker.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::cache::TileCache;
use super::{Slide, Tile, TileContent, TileKey};

/// How urgently a tile is wanted; lower sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// On screen now (including the overview stand-ins).
    Visible,
    /// The next finer level around the centre: what zooming in shows first.
    NextZoom,
    /// Just outside the screen: what panning shows first.
    Neighbour,
}

/// Where tiles come from (the slide; tests use fakes).
pub trait TileSource: Send + Sync {
    fn read_tile(&self, key: TileKey) -> Tile;
}

impl TileSource for Slide {
    fn read_tile(&self, key: TileKey) -> Tile {
        Slide::read_tile(self, key)
    }
}

/// Default queue bound: a few screens' worth of tiles with prefetch.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

/// A tile that has just landed in the cache (what `on_ready` is told).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub key: TileKey,
    /// The most urgent priority it was wanted at while it was read.
    pub priority: Priority,
    /// Visible tiles still queued or being read, besides this one.
    pub visible_left: usize,
}

type OnReady = Box<dyn Fn(Ready) + Send + Sync>;

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    idle: Condvar,
    source: Arc<dyn TileSource>,
    cache: Arc<TileCache>,
    on_ready: OnReady,
}

#[derive(Default)]
struct State {
    queue: BTreeMap<(Priority, u64), TileKey>,
    queued: HashMap<TileKey, (Priority, u64)>,
    in_flight: HashMap<TileKey, Priority>,
    seq: u64,
    capacity: usize,
    decoded: u64,
    shutdown: bool,
}

impl State {
    fn remove(&mut self, key: TileKey) {
        if let Some(slot) = self.queued.remove(&key) {
            self.queue.remove(&slot);
        }
    }

    fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// Visible tiles queued, or in flight and not yet in `cache`, `key` left out. Every
    /// worker caches its tile before counting, so of tiles finishing together the one
    /// counting last sees none left: the last visible tile is always told so.
    fn visible_besides(&self, key: TileKey, cache: &TileCache) -> usize {
        let queued = self
            .queue
            .range(..(Priority::NextZoom, 0))
            .filter(|(_, k)| **k != key)
            .count();
        let reading = self
            .in_flight
            .iter()
            .filter(|(k, p)| **k != key && **p == Priority::Visible && !cache.contains(**k))
            .count();
        queued + reading
    }
}

pub struct TilePool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for TilePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TilePool")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl TilePool {
    /// Starts `workers` threads (at least one) named `slide-tile-N`.
    pub fn new(
        source: Arc<dyn TileSource>,
        cache: Arc<TileCache>,
        workers: usize,
        queue_capacity: usize,
        on_ready: impl Fn(Ready) + Send + Sync + 'static,
    ) -> std::io::Result<TilePool> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                capacity: queue_capacity.max(1),
                ..State::default()
            }),
            work: Condvar::new(),
            idle: Condvar::new(),
            source,
            cache,
            on_ready: Box::new(on_ready),
        });
        let mut pool = TilePool {
            shared,
            workers: Vec::new(),
        };
        for n in 0..workers.max(1) {
            let shared = Arc::clone(&pool.shared);
            let handle = std::thread::Builder::new()
                .name(format!("slide-tile-{n}"))
                .spawn(move || worker(&shared))?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Queues one tile (or raises its priority). False when it is cached, in flight,
    /// or the queue is full of more urgent tiles.
    pub fn request(&self, key: TileKey, priority: Priority) -> bool {
        if self.shared.cache.contains(key) {
            return false;
        }
        let mut state = self.shared.lock();
        let queued = enqueue(&mut state, key, priority);
        drop(state);
        if queued {
            self.shared.work.notify_one();
        }
        queued
    }

    /// Makes `wanted` (in order) the whole queue: anything queued and not in it is
    /// cancelled. Tiles already cached are skipped; tiles in flight are not queued again
    /// (they keep the more urgent of their two priorities).
    pub fn replace_wanted(&self, wanted: impl IntoIterator<Item = (TileKey, Priority)>) {
        let wanted: Vec<(TileKey, Priority)> = wanted
            .into_iter()
            .filter(|(k, _)| !self.shared.cache.contains(*k))
            .collect();
        let mut state = self.shared.lock();
        state.queue.clear();
        state.queued.clear();
        let mut any = false;
        for (key, priority) in wanted {
            any |= enqueue(&mut state, key, priority);
        }
        let idle = state.is_idle();
        drop(state);
        if any {
            self.shared.work.notify_all();
        }
        if idle {
            self.shared.idle.notify_all();
        }
    }

    /// Drops every queued tile (tiles in flight finish).
    pub fn cancel_all(&self) {
        self.replace_wanted(std::iter::empty());
    }

    /// Blocks until nothing is queued or in flight.
    pub fn wait_idle(&self) {
        let mut state = self.shared.lock();
        while !state.is_idle() && !state.shutdown {
            state = match self.shared.idle.wait(state) {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Tiles queued plus tiles in flight.
    pub fn pending(&self) -> usize {
        let state = self.shared.lock();
        state.queue.len() + state.in_flight.len()
    }

    /// Whether `key` is queued or being read.
    pub fn is_pending(&self, key: TileKey) -> bool {
        let state = self.shared.lock();
        state.queued.contains_key(&key) || state.in_flight.contains_key(&key)
    }

    /// Tiles read since the pool started.
    pub fn decoded(&self) -> u64 {
        self.shared.lock().decoded
    }

    pub fn cache(&self) -> &Arc<TileCache> {
        &self.shared.cache
    }
}

/// Queues `key` unless it is in flight (then only its priority may rise); a full queue
/// drops its least urgent tile for a more urgent one.
fn enqueue(state: &mut State, key: TileKey, priority: Priority) -> bool {
    if let Some(p) = state.in_flight.get_mut(&key) {
        *p = (*p).min(priority);
        return false;
    }
    if let Some(&(old, _)) = state.queued.get(&key) {
        if old <= priority {
            return false;
        }
        state.remove(key);
    }
    if state.queue.len() >= state.capacity {
        let Some((&(worst, _), _)) = state.queue.last_key_value() else {
            return false;
        };
        if worst <= priority {
            return false;
        }
        if let Some((_, dropped)) = state.queue.pop_last() {
            state.queued.remove(&dropped);
        }
    }
    state.seq += 1;
    let slot = (priority, state.seq);
    state.queue.insert(slot, key);
    state.queued.insert(key, slot);
    true
}

fn worker(shared: &Shared) {
    loop {
        let key = {
            let mut state = shared.lock();
            loop {
                if state.shutdown {
                    return;
                }
                if let Some(((priority, _), key)) = state.queue.pop_first() {
                    state.queued.remove(&key);
                    state.in_flight.insert(key, priority);
                    break key;
                }
                state = match shared.work.wait(state) {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
            }
        };
        let tile = if shared.cache.contains(key) {
            None
        } else {
            Some(
                catch_unwind(AssertUnwindSafe(|| shared.source.read_tile(key))).unwrap_or_else(
                    |_| Tile {
                        key,
                        width: 0,
                        height: 0,
                        content: TileContent::Blank {
                            reason: "tile reader failed on damaged data".into(),
                        },
                    },
                ),
            )
        };
        let fresh = tile.is_some();
        if let Some(tile) = tile {
            shared.cache.insert(Arc::new(tile));
            let ready = {
                // Lock order: pool state, then the cache (nothing takes them the other way).
                let state = shared.lock();
                Ready {
                    key,
                    priority: state
                        .in_flight
                        .get(&key)
                        .copied()
                        .unwrap_or(Priority::Visible),
                    visible_left: state.visible_besides(key, &shared.cache),
                }
            };
            // Before the tile leaves `in_flight`: once idle, every callback has run.
            (shared.on_ready)(ready);
        }
        let idle = {
            let mut state = shared.lock();
            state.in_flight.remove(&key);
            if fresh {
                state.decoded += 1;
            }
            state.is_idle()
        };
        if idle {
            shared.idle.notify_all();
        }
    }
}

impl Drop for TilePool {
    fn drop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.shutdown = true;
            state.queue.clear();
            state.queued.clear();
        }
        self.shared.work.notify_all();
        self.shared.idle.notify_all();
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A source that blocks every read until the test lets it go, and records the order.
    struct Gate {
        go: Mutex<mpsc::Receiver<()>>,
        order: Mutex<Vec<TileKey>>,
        panic_on: Option<TileKey>,
    }

    impl TileSource for Gate {
        fn read_tile(&self, key: TileKey) -> Tile {
            if let Ok(rx) = self.go.lock() {
                let _ = rx.recv();
            }
            self.order.lock().unwrap().push(key);
            if Some(key) == self.panic_on {
                panic!("boom");
            }
            Tile {
                key,
                width: 1,
                height: 1,
                content: TileContent::Rgba(vec![1, 2, 3, 255]),
            }
        }
    }

    fn key(col: u32) -> TileKey {
        TileKey {
            level: 0,
            col,
            row: 0,
        }
    }

    fn gated(panic_on: Option<TileKey>) -> (Arc<Gate>, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        (
            Arc::new(Gate {
                go: Mutex::new(rx),
                order: Mutex::new(Vec::new()),
                panic_on,
            }),
            tx,
        )
    }

    #[test]
    fn priorities_order_the_work_and_replacing_the_wanted_set_cancels() {
        let (gate, go) = gated(None);
        let cache = Arc::new(TileCache::new(1 << 20));
        let pool = TilePool::new(gate.clone(), cache.clone(), 1, 100, |_| {}).unwrap();
        // The first request occupies the single worker (blocked in the gate).
        assert!(pool.request(key(0), Priority::Visible));
        while pool.shared.lock().in_flight.is_empty() {
            std::thread::yield_now();
        }
        assert!(pool.request(key(1), Priority::Neighbour));
        assert!(pool.request(key(2), Priority::NextZoom));
        assert!(pool.request(key(3), Priority::Visible));
        assert!(pool.request(key(4), Priority::Neighbour));
        // Raising a queued tile's priority moves it; lowering does nothing.
        assert!(pool.request(key(4), Priority::Visible));
        assert!(!pool.request(key(3), Priority::Neighbour));
        // The view moved: tile 1 is no longer wanted.
        pool.replace_wanted([
            (key(3), Priority::Visible),
            (key(4), Priority::Visible),
            (key(2), Priority::NextZoom),
            (key(0), Priority::Visible), // in flight: skipped, not queued twice
        ]);
        assert_eq!(pool.pending(), 4);
        for _ in 0..4 {
            go.send(()).unwrap();
        }
        pool.wait_idle();
        assert_eq!(
            *gate.order.lock().unwrap(),
            vec![key(0), key(3), key(4), key(2)]
        );
        assert!(!cache.contains(key(1)));
        assert_eq!(pool.decoded(), 4);
        // Cached tiles are not queued again.
        assert!(!pool.request(key(3), Priority::Visible));
    }

    #[test]
    fn ready_tells_the_priority_and_the_visible_tiles_left() {
        let (gate, go) = gated(None);
        let cache = Arc::new(TileCache::new(1 << 20));
        let ready = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&ready);
        let pool = TilePool::new(gate, cache, 1, 100, move |r: Ready| {
            seen.lock().unwrap().push(r);
        })
        .unwrap();
        // Prefetched, then on screen while it is read: it finishes as visible.
        assert!(pool.request(key(0), Priority::Neighbour));
        while pool.shared.lock().in_flight.is_empty() {
            std::thread::yield_now();
        }
        pool.replace_wanted([
            (key(0), Priority::Visible),
            (key(1), Priority::Visible),
            (key(2), Priority::NextZoom),
        ]);
        for _ in 0..3 {
            go.send(()).unwrap();
        }
        pool.wait_idle();
        let got: Vec<(u32, Priority, usize)> = ready
            .lock()
            .unwrap()
            .iter()
            .map(|r| (r.key.col, r.priority, r.visible_left))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, Priority::Visible, 1),
                (1, Priority::Visible, 0),
                (2, Priority::NextZoom, 0)
            ]
        );
    }

    #[test]
    fn the_queue_is_bounded_and_keeps_the_most_urgent() {
        let (gate, go) = gated(None);
        let cache = Arc::new(TileCache::new(1 << 20));
        let pool = TilePool::new(gate, cache, 1, 2, |_| {}).unwrap();
        assert!(pool.request(key(0), Priority::Visible));
        while pool.shared.lock().in_flight.is_empty() {
            std::thread::yield_now();
        }
        assert!(pool.request(key(1), Priority::Neighbour));
        assert!(pool.request(key(2), Priority::Neighbour));
        assert!(!pool.request(key(3), Priority::Neighbour), "full");
        assert!(
            pool.request(key(4), Priority::Visible),
            "evicts a neighbour"
        );
        assert_eq!(pool.shared.lock().queue.len(), 2);
        assert!(!pool.is_pending(key(2)));
        drop(go);
        pool.wait_idle();
    }

    #[test]
    fn a_panicking_read_becomes_a_blank_tile_and_the_worker_lives_on() {
        let (gate, go) = gated(Some(key(7)));
        drop(go); // never block
        let cache = Arc::new(TileCache::new(1 << 20));
        let ready = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&ready);
        let pool = TilePool::new(gate, cache.clone(), 2, 10, move |r: Ready| {
            seen.lock().unwrap().push(r.key);
        })
        .unwrap();
        pool.request(key(7), Priority::Visible);
        pool.request(key(8), Priority::Visible);
        pool.wait_idle();
        let blank = cache.get(key(7)).unwrap();
        assert!(matches!(&blank.content, TileContent::Blank { reason } if !reason.contains('\n')));
        assert!(matches!(
            cache.get(key(8)).unwrap().content,
            TileContent::Rgba(_)
        ));
        assert_eq!(ready.lock().unwrap().len(), 2);
    }
}
