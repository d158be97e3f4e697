//! `Dict`: a hash map from byte-string keys to values whose entries never move.
//!
//! Entries live in a slab and a `hashbrown::HashTable` indexes them by slot. Because a
//! slot is stable for the life of its entry, a SCAN cursor is simply a slot number: every
//! element present for the whole iteration is returned (Redis's SCAN guarantee), even while
//! other keys are added and deleted. Random sampling (RANDOMKEY, eviction, SPOP) picks
//! random slots. The keyspace, hashes and sets all use this one structure.
use hashbrown::HashTable;
use rand::Rng;
use slab::Slab;
use std::hash::BuildHasher;

pub use super::key::Key;

#[derive(Clone)]
pub struct Dict<V> {
    slots: Slab<(Key, V)>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict {
            slots: Slab::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_capacity(n: usize) -> Self {
        Dict {
            slots: Slab::with_capacity(n),
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
        self.slots.len()
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
    /// The slot of `k`, if present.
    #[inline]
    pub fn slot_of(&self, k: &[u8]) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(self.hash(k), |&i| &*slots[i as usize].0 == k)
            .map(|&i| i as usize)
    }
    #[inline]
    pub fn get(&self, k: &[u8]) -> Option<&V> {
        self.slot_of(k).map(|i| &self.slots[i].1)
    }
    #[inline]
    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        let i = self.slot_of(k)?;
        Some(&mut self.slots[i].1)
    }
    #[inline]
    pub fn contains(&self, k: &[u8]) -> bool {
        self.slot_of(k).is_some()
    }
    #[inline]
    pub fn at(&self, slot: usize) -> Option<(&Key, &V)> {
        self.slots.get(slot).map(|(k, v)| (k, v))
    }
    #[inline]
    pub fn at_mut(&mut self, slot: usize) -> Option<(&Key, &mut V)> {
        self.slots.get_mut(slot).map(|(k, v)| (&*k, v))
    }
    /// Insert or replace; returns the old value if the key existed.
    pub fn insert(&mut self, k: &[u8], v: V) -> Option<V> {
        if let Some(i) = self.slot_of(k) {
            return Some(std::mem::replace(&mut self.slots[i].1, v));
        }
        self.insert_new(k.into(), v);
        None
    }
    /// Insert a key known to be absent; returns its slot.
    pub fn insert_new(&mut self, k: Key, v: V) -> usize {
        let h = self.hash(&k);
        let slot = self.slots.insert((k, v));
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(h, slot as u32, |&i| hasher.hash_one(&*slots[i as usize].0));
        slot
    }
    /// The value for `k`, inserting `make()` first if absent. Returns (slot, inserted).
    pub fn entry_slot(&mut self, k: &[u8], make: impl FnOnce() -> V) -> (usize, bool) {
        match self.slot_of(k) {
            Some(i) => (i, false),
            None => (self.insert_new(k.into(), make()), true),
        }
    }
    pub fn remove(&mut self, k: &[u8]) -> Option<(Key, V)> {
        let h = self.hash(k);
        let slots = &self.slots;
        let entry = self
            .index
            .find_entry(h, |&i| &*slots[i as usize].0 == k)
            .ok()?;
        let (slot, _) = entry.remove();
        let kv = self.slots.remove(slot as usize);
        self.maybe_shrink();
        Some(kv)
    }
    pub fn remove_slot(&mut self, slot: usize) -> Option<(Key, V)> {
        let h = self.hash(&self.slots.get(slot)?.0);
        let entry = self.index.find_entry(h, |&i| i as usize == slot).ok()?;
        entry.remove();
        let kv = self.slots.remove(slot);
        self.maybe_shrink();
        Some(kv)
    }
    /// Give memory back after mass deletion: only when empty, so live slots never move.
    fn maybe_shrink(&mut self) {
        if self.slots.is_empty() && self.slots.capacity() > 64 {
            self.slots = Slab::new();
            self.index = HashTable::new();
        }
    }
    pub fn clear(&mut self) {
        self.slots = Slab::new();
        self.index = HashTable::new();
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        self.slots.iter().map(|(_, (k, v))| (k, v))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut V)> {
        self.slots.iter_mut().map(|(_, (k, v))| (&*k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.slots.iter().map(|(_, (k, _))| k)
    }
    /// One past the highest slot that may be occupied: the cursor space of SCAN.
    #[inline]
    pub fn slot_bound(&self) -> usize {
        self.slots.capacity()
    }
    /// A uniformly random occupied slot, or None if empty.
    pub fn random_slot(&self) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let cap = self.slots.capacity();
        let mut rng = rand::thread_rng();
        // Dense slabs hit quickly; a sparse one falls back to a walk from a random point.
        for _ in 0..64 {
            let i = rng.gen_range(0..cap);
            if self.slots.contains(i) {
                return Some(i);
            }
        }
        let start = rng.gen_range(0..cap);
        (start..cap)
            .chain(0..start)
            .find(|&i| self.slots.contains(i))
    }
    /// Visit occupied slots from `cursor` on until `budget` entries were visited (or
    /// `10 * budget` slots were looked at). Returns the next cursor, 0 when done.
    pub fn scan(&self, cursor: usize, budget: usize, mut f: impl FnMut(&Key, &V)) -> usize {
        let cap = self.slots.capacity();
        let (mut i, mut seen, mut looked) = (cursor, 0, 0);
        while i < cap && seen < budget.max(1) && looked < budget.max(1) * 10 {
            if let Some((k, v)) = self.slots.get(i) {
                f(k, v);
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
    /// Bytes of bookkeeping per entry, for MEMORY USAGE estimates.
    pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<(Key, V)>() + 8 + 5;
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
        assert!(d.random_slot().is_some());
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
}
