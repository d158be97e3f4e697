//! `ChunkedSlab`: a slab (stable indices, a free list of vacated ones) stored in fixed-size chunks.
//!
//! A single `Vec` doubles by copying everything: 64 MB at 1M keys, a ~40 ms pause for every
//! client. Here the first chunk grows as a `Vec` up to `CHUNK` entries (small dicts stay
//! small) and then whole chunks are added, so growing never moves more than one chunk.
use std::ops::{Index, IndexMut};

const CHUNK: usize = 4096;

/// A cell is an `Option`, so a position of a pointer-sized `T` (a keyspace `Entry`) is one
/// pointer: vacant cells are `None` and their indices sit in a separate free list.
type Cell<T> = Option<T>;

#[derive(Clone)]
pub struct ChunkedSlab<T> {
    chunks: Vec<Vec<Cell<T>>>,
    len: usize,
    /// Cells ever used (occupied or vacant): indices are below this.
    end: usize,
    /// Vacant indices, most recently vacated last (reused first).
    free: Vec<u32>,
}

impl<T> Default for ChunkedSlab<T> {
    fn default() -> Self {
        ChunkedSlab {
            chunks: Vec::new(),
            len: 0,
            end: 0,
            free: Vec::new(),
        }
    }
}

impl<T> ChunkedSlab<T> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_capacity(n: usize) -> Self {
        let mut s = Self::default();
        s.chunks.reserve(n.div_ceil(CHUNK));
        s
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// One past the highest index in use: the range SCAN cursors and random picks cover.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.end
    }
    #[inline]
    fn cell(&self, i: usize) -> Option<&Cell<T>> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.cell(i)?.as_ref()
    }
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)?.as_mut()
    }
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        self.get(i).is_some()
    }
    /// Store `t`, reusing the most recently vacated index if any. Returns its index.
    pub fn insert(&mut self, t: T) -> usize {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            let i = i as usize;
            let cell = &mut self.chunks[i / CHUNK][i % CHUNK];
            debug_assert!(cell.is_none(), "the free list holds vacant cells only");
            *cell = Some(t);
            return i;
        }
        let i = self.end;
        if i.is_multiple_of(CHUNK) && i / CHUNK == self.chunks.len() {
            // The first chunk starts small and grows; later ones are allocated whole.
            let cap = if self.chunks.is_empty() { 4 } else { CHUNK };
            self.chunks.push(Vec::with_capacity(cap));
        }
        self.chunks[i / CHUNK].push(Some(t));
        self.end += 1;
        i
    }
    /// Take the value at `i` out. Panics if `i` is vacant (callers check first).
    pub fn remove(&mut self, i: usize) -> T {
        let t = self.chunks[i / CHUNK][i % CHUNK]
            .take()
            .unwrap_or_else(|| panic!("removing vacant cell {i}"));
        // Indices fit u32: the dict's index stores them as u32.
        self.free.push(i as u32);
        self.len -= 1;
        t
    }
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_ref()?)))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut T)> {
        self.chunks
            .iter_mut()
            .flatten()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_mut()?)))
    }
}

impl<T> Index<usize> for ChunkedSlab<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        self.get(i).expect("occupied cell")
    }
}

impl<T> IndexMut<usize> for ChunkedSlab<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i).expect("occupied cell")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_stable_and_reused_across_chunks() {
        let mut s = ChunkedSlab::new();
        let n = CHUNK * 3 + 5;
        for i in 0..n {
            assert_eq!(s.insert(i), i);
        }
        assert_eq!((s.len(), s.capacity()), (n, n));
        assert_eq!(s.remove(CHUNK + 1), CHUNK + 1);
        assert_eq!(s.remove(7), 7);
        assert!(!s.contains(7) && s.get(CHUNK + 1).is_none());
        assert_eq!(s[CHUNK * 2], CHUNK * 2);
        // Most recently vacated first, then new cells at the end.
        assert_eq!(s.insert(100), 7);
        assert_eq!(s.insert(101), CHUNK + 1);
        assert_eq!(s.insert(102), n);
        assert_eq!(s.len(), n + 1);
        let sum: usize = s.iter().map(|(_, v)| *v).sum();
        assert_eq!(
            sum,
            (0..n).sum::<usize>() - 7 - (CHUNK + 1) + 100 + 101 + 102
        );
        for (_, v) in s.iter_mut() {
            *v += 1;
        }
        assert_eq!(s[0], 1);
        assert_eq!(s.iter().count(), s.len());
    }
}
