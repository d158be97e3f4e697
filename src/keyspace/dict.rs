//! `Table` (and `Dict`, its map of `(Key, V)` pairs): a hash table of byte-string-keyed
//! items whose entries never move.
//!
//! Entries live in a slab and a `hashbrown::HashTable` indexes them by position. Because a
//! position is stable for the life of its entry, a SCAN cursor is simply a position number: every
//! element present for the whole iteration is returned (Redis's SCAN guarantee), even while
//! other keys are added and deleted. Random sampling (RANDOMKEY, eviction, SPOP) picks
//! random positions. The keyspace, hashes and sets all use this one structure.
//!
//! The index of a large dict does not double in one step (re-reading every key: ~50 ms at
//! 1M keys, all of it a pause for every client): a new index twice the size takes the new
//! keys while the old one is moved over a batch per write and per cron tick, as Redis's
//! incremental rehash does. Lookups meanwhile try both.
use super::chunked::ChunkedSlab as Slab;
use hashbrown::HashTable;
use rand::Rng;
use std::hash::BuildHasher;

pub use super::key::Key;

/// What a table stores: anything that can name its key. A `Dict` stores `(Key, V)` pairs;
/// the keyspace stores `Entry` blocks that hold their own key.
pub trait Keyed {
    fn key(&self) -> &[u8];
}

impl<V> Keyed for (Key, V) {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Clone)]
pub struct Table<T> {
    cells: Slab<T>,
    index: HashTable<u32>,
    /// The index being moved into `index` while a large table grows. Boxed: a small
    /// table (a 10-member set) is 128 bytes, one 128-byte block.
    grow: Option<Box<Growth>>,
    hasher: foldhash::fast::RandomState,
}

/// (table size, elements) of a table's index, and of the old one while it grows.
pub type IndexStats = ((usize, usize), Option<(usize, usize)>);

#[derive(Clone)]
struct Growth {
    /// The previous index.
    old: HashTable<u32>,
    /// The next position whose entry may still be in `old`.
    cursor: usize,
}

/// A map of byte-string keys to values (hash fields, set members...).
pub type Dict<V> = Table<(Key, V)>;

/// Indexes smaller than this grow in one step (cheap); larger ones incrementally.
const INCREMENTAL_FROM: usize = 1 << 14;
/// Entries moved from the old index per write (~100 ns each): a pipelined batch of writes
/// in one loop iteration then pays a few ms at most, and the move ends after cap/16 writes
/// (or in 1 ms cron steps when there are none).
const REHASH_BATCH: usize = 16;

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            cells: Slab::new(),
            index: HashTable::new(),
            grow: None,
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<T: Keyed> Table<T> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_capacity(n: usize) -> Self {
        Table {
            cells: Slab::with_capacity(n),
            index: HashTable::with_capacity(n),
            ..Default::default()
        }
    }
    #[inline]
    fn hash(&self, k: &[u8]) -> u64 {
        self.hasher.hash_one(k)
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.cells.len()
    }
    /// DEBUG HTSTATS-KEY's view: (table size, elements) of the main index, and of the one
    /// being moved from while a large table grows (Redis's "rehashing target" is the
    /// new one; here the old one drains into the main).
    pub fn index_stats(&self) -> IndexStats {
        let size = |t: &HashTable<u32>| {
            if t.capacity() == 0 {
                0
            } else {
                (t.capacity() * 8 / 7).next_power_of_two()
            }
        };
        (
            (size(&self.index), self.index.len()),
            self.grow.as_ref().map(|g| (size(&g.old), g.old.len())),
        )
    }
    /// The index's bucket count (DEBUG HTSTATS's "table size"): a power of two, holding
    /// up to 7/8 of it in entries.
    pub fn buckets(&self) -> usize {
        let cap = self.index.capacity() + self.grow.as_ref().map_or(0, |g| g.old.capacity());
        if cap == 0 {
            0
        } else {
            (cap * 8 / 7).next_power_of_two()
        }
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    /// The position of `k`, if present.
    #[inline]
    pub fn pos_of(&self, k: &[u8]) -> Option<usize> {
        let cells = &self.cells;
        let h = self.hash(k);
        let eq = |&i: &u32| cells[i as usize].key() == k;
        match self.index.find(h, eq) {
            Some(&i) => Some(i as usize),
            None => match &self.grow {
                Some(g) => g.old.find(h, eq).map(|&i| i as usize),
                None => None,
            },
        }
    }
    #[inline]
    pub fn contains(&self, k: &[u8]) -> bool {
        self.pos_of(k).is_some()
    }
    #[inline]
    pub fn item(&self, pos: usize) -> Option<&T> {
        self.cells.get(pos)
    }
    /// The item at `position`, to change in place. Its key must stay the same.
    #[inline]
    pub fn item_mut(&mut self, pos: usize) -> Option<&mut T> {
        self.cells.get_mut(pos)
    }
    /// Insert an item whose key is known to be absent; returns its position.
    pub fn add(&mut self, t: T) -> usize {
        let h = self.hash(t.key());
        let pos = self.cells.insert(t);
        if self.grow.is_none()
            && self.index.len() >= INCREMENTAL_FROM
            && self.index.len() == self.index.capacity()
        {
            // Full: the next insert would rebuild the whole index. Start a new one instead.
            let bigger = HashTable::with_capacity(self.index.capacity() * 2);
            let old = std::mem::replace(&mut self.index, bigger);
            self.grow = Some(Box::new(Growth { old, cursor: 0 }));
        }
        self.rehash_step(REHASH_BATCH);
        let (cells, hasher) = (&self.cells, &self.hasher);
        self.index
            .insert_unique(h, pos as u32, |&i| hasher.hash_one(cells[i as usize].key()));
        pos
    }
    /// Move up to `n` entries from the old index into the new one, walking the positions in
    /// order (no-op when not growing). Returns whether a move is still under way.
    pub fn rehash_step(&mut self, n: usize) -> bool {
        let Table {
            cells,
            index,
            grow,
            hasher,
        } = self;
        let Some(g) = grow.as_deref_mut() else {
            return false;
        };
        let Growth {
            old,
            cursor: move_cursor,
        } = g;
        let rehash = |i: &u32| hasher.hash_one(cells[*i as usize].key());
        let bound = cells.capacity();
        let (mut moved, mut looked) = (0, 0);
        while moved < n && looked < n * 8 && *move_cursor < bound {
            let pos = *move_cursor;
            *move_cursor += 1;
            looked += 1;
            let Some(t) = cells.get(pos) else {
                continue;
            };
            let h = hasher.hash_one(t.key());
            // ChunkedSlab filled since the move began are already in the new index.
            if let Ok(entry) = old.find_entry(h, |&i| i as usize == pos) {
                entry.remove();
                index.insert_unique(h, pos as u32, rehash);
                moved += 1;
            }
        }
        if old.is_empty() || *move_cursor >= bound {
            // Every old entry sits at a position below the bound, so none should be left; if one
            // were, it must not be lost.
            for i in old.drain() {
                index.insert_unique(rehash(&i), i, rehash);
            }
            *grow = None; // give its memory back
            return false;
        }
        true
    }
    /// Take out the item keyed `k`.
    pub fn remove_key(&mut self, k: &[u8]) -> Option<T> {
        let h = self.hash(k);
        let cells = &self.cells;
        let pos = unindex(&mut self.index, self.grow.as_deref_mut(), h, |&i| {
            cells[i as usize].key() == k
        })?;
        Some(self.free_at(pos as usize))
    }
    /// Take out the item at `position`.
    pub fn take(&mut self, pos: usize) -> Option<T> {
        let h = self.hash(self.cells.get(pos)?.key());
        unindex(&mut self.index, self.grow.as_deref_mut(), h, |&i| {
            i as usize == pos
        })?;
        Some(self.free_at(pos))
    }
    /// Take an unindexed entry out of its position; a removal also moves the growth along.
    fn free_at(&mut self, pos: usize) -> T {
        let t = self.cells.remove(pos);
        self.rehash_step(REHASH_BATCH);
        self.maybe_shrink();
        t
    }
    /// Give memory back after mass deletion: only when empty, so live positions never move.
    fn maybe_shrink(&mut self) {
        if self.cells.is_empty() && self.cells.capacity() > 64 {
            self.clear();
        }
    }
    pub fn clear(&mut self) {
        self.cells = Slab::new();
        self.index = HashTable::new();
        self.grow = None;
    }
    /// Every item with its position.
    pub fn items(&self) -> impl Iterator<Item = (usize, &T)> {
        self.cells.iter()
    }
    pub fn items_mut(&mut self) -> impl Iterator<Item = (usize, &mut T)> {
        self.cells.iter_mut()
    }
    /// One past the highest position that may be occupied: the cursor space of SCAN.
    #[inline]
    pub fn pos_bound(&self) -> usize {
        self.cells.capacity()
    }
    /// A uniformly random occupied position, or None if empty.
    pub fn random_pos(&self) -> Option<usize> {
        if self.cells.is_empty() {
            return None;
        }
        let cap = self.cells.capacity();
        let mut rng = rand::thread_rng();
        // Dense slabs hit quickly; a sparse one falls back to a walk from a random point.
        for _ in 0..64 {
            let i = rng.gen_range(0..cap);
            if self.cells.contains(i) {
                return Some(i);
            }
        }
        let start = rng.gen_range(0..cap);
        (start..cap)
            .chain(0..start)
            .find(|&i| self.cells.contains(i))
    }
    /// Visit occupied positions from `cursor` on until `budget` items were visited (or
    /// `10 * budget` positions were looked at). Returns the next cursor, 0 when done.
    pub fn scan_items(&self, cursor: usize, budget: usize, mut f: impl FnMut(&T)) -> usize {
        let cap = self.cells.capacity();
        let (mut i, mut seen, mut looked) = (cursor, 0, 0);
        while i < cap && seen < budget.max(1) && looked < budget.max(1) * 10 {
            if let Some(t) = self.cells.get(i) {
                f(t);
                seen += 1;
            }
            i += 1;
            looked += 1;
        }
        if i >= cap {
            0
        } else {
            i
        }
    }
}

/// The map view of a table of `(Key, V)` pairs.
impl<V> Table<(Key, V)> {
    #[inline]
    pub fn get(&self, k: &[u8]) -> Option<&V> {
        self.pos_of(k).map(|i| &self.cells[i].1)
    }
    #[inline]
    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        let i = self.pos_of(k)?;
        Some(&mut self.cells[i].1)
    }
    #[inline]
    pub fn at(&self, pos: usize) -> Option<(&Key, &V)> {
        self.cells.get(pos).map(|(k, v)| (k, v))
    }
    #[inline]
    pub fn at_mut(&mut self, pos: usize) -> Option<(&Key, &mut V)> {
        self.cells.get_mut(pos).map(|(k, v)| (&*k, v))
    }
    /// Insert or replace; returns the old value if the key existed.
    pub fn insert(&mut self, k: &[u8], v: V) -> Option<V> {
        if let Some(i) = self.pos_of(k) {
            return Some(std::mem::replace(&mut self.cells[i].1, v));
        }
        self.insert_new(k.into(), v);
        None
    }
    /// Insert a key known to be absent; returns its position.
    pub fn insert_new(&mut self, k: Key, v: V) -> usize {
        self.add((k, v))
    }
    /// The value for `k`, inserting `make()` first if absent. Returns (position, inserted).
    pub fn entry_pos(&mut self, k: &[u8], make: impl FnOnce() -> V) -> (usize, bool) {
        match self.pos_of(k) {
            Some(i) => (i, false),
            None => (self.insert_new(k.into(), make()), true),
        }
    }
    pub fn remove(&mut self, k: &[u8]) -> Option<(Key, V)> {
        self.remove_key(k)
    }
    pub fn remove_pos(&mut self, pos: usize) -> Option<(Key, V)> {
        self.take(pos)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        self.cells.iter().map(|(_, (k, v))| (k, v))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut V)> {
        self.cells.iter_mut().map(|(_, (k, v))| (&*k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.cells.iter().map(|(_, (k, _))| k)
    }
    /// `scan_items` over pairs.
    pub fn scan(&self, cursor: usize, budget: usize, mut f: impl FnMut(&Key, &V)) -> usize {
        self.scan_items(cursor, budget, |(k, v)| f(k, v))
    }
    /// Bytes of bookkeeping per entry, for MEMORY USAGE estimates.
    pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<(Key, V)>() + 8 + 5;
}

/// Take the entry `eq` picks out of the index (or the old one while growing): its position.
fn unindex(
    index: &mut HashTable<u32>,
    grow: Option<&mut Growth>,
    h: u64,
    eq: impl Fn(&u32) -> bool,
) -> Option<u32> {
    match index.find_entry(h, &eq) {
        Ok(entry) => Some(entry.remove().0),
        Err(_) => grow?.old.find_entry(h, &eq).ok().map(|e| e.remove().0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn insert_get_remove() {
        let mut d = Dict::new();
        for i in 0..1000u32 {
            assert!(d.insert(i.to_string().as_bytes(), i).is_none());
        }
        assert_eq!(d.len(), 1000);
        assert_eq!(d.get(b"500"), Some(&500));
        assert_eq!(d.remove(b"500").map(|(_, v)| v), Some(500));
        assert_eq!(d.get(b"500"), None);
        assert_eq!(d.insert(b"1", 7), Some(1));
        assert!(d.random_pos().is_some());
    }
    #[test]
    fn scan_returns_every_stable_key_under_churn() {
        let mut d = Dict::new();
        for i in 0..500u32 {
            d.insert(format!("k{i}").as_bytes(), i);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut n = 0u32;
        loop {
            cursor = d.scan(cursor, 10, |k, _| {
                seen.insert(k.clone());
            });
            // churn: add and delete keys that are not part of the stable set
            d.insert(format!("t{n}").as_bytes(), 0);
            if n.is_multiple_of(2) {
                d.remove(format!("t{}", n / 2).as_bytes());
            }
            n += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500u32 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "missing k{i}");
        }
    }
    /// The same above INCREMENTAL_FROM, with the churn growing the index (incrementally,
    /// two indexes at once) while the scan is under way.
    #[test]
    fn scan_returns_every_stable_key_under_churn_while_the_index_grows() {
        let mut d = Dict::new();
        let stable = INCREMENTAL_FROM as u32 * 2;
        for i in 0..stable {
            d.insert(format!("k{i}").as_bytes(), i);
        }
        let mut seen = std::collections::HashSet::new();
        let (mut cursor, mut n, mut grew_during_scan) = (0, 0u32, false);
        loop {
            cursor = d.scan(cursor, 100, |k, _| {
                seen.insert(k.clone());
            });
            // Net growth below the scan's pace, so the scan ends.
            for j in 0..160 {
                d.insert(format!("t{n}:{j}").as_bytes(), 0);
            }
            for j in 0..80 {
                d.remove(format!("t{n}:{}", j * 2).as_bytes());
            }
            grew_during_scan |= d.grow.is_some();
            n += 1;
            if cursor == 0 {
                break;
            }
        }
        assert!(grew_during_scan, "the index grew incrementally mid-scan");
        for i in 0..stable {
            assert!(seen.contains(format!("k{i}").as_bytes()), "missing k{i}");
        }
    }
    /// Past INCREMENTAL_FROM the index grows in batches: every key stays findable and
    /// removable while two indexes exist, and the old one is gone once moved.
    #[test]
    fn incremental_growth_keeps_every_key_reachable() {
        let mut d = Dict::new();
        let mut model = std::collections::HashMap::new();
        let n = (INCREMENTAL_FROM * 4) as u32;
        let mut checked_during_move = false;
        for i in 0..n {
            let k = format!("key:{i}");
            assert!(d.insert(k.as_bytes(), i).is_none());
            model.insert(k, i);
            if i % 2 == 0 {
                // Deletions during a move find the key in either index.
                let gone = format!("key:{}", i / 2);
                assert_eq!(
                    d.remove(gone.as_bytes()).map(|(_, v)| v),
                    model.remove(&gone)
                );
            }
            if d.grow.is_some() && !checked_during_move {
                checked_during_move = true;
                for (k, v) in &model {
                    assert_eq!(d.get(k.as_bytes()), Some(v), "{k} while moving");
                }
            }
        }
        assert!(
            checked_during_move,
            "the index grew incrementally at least once"
        );
        while d.rehash_step(1024) {}
        assert!(d.grow.is_none());
        assert_eq!(d.len(), model.len());
        assert_eq!(d.index.len(), model.len());
        for i in 0..n {
            let k = format!("key:{i}");
            assert_eq!(d.get(k.as_bytes()), model.get(&k), "{k}");
        }
    }
}
