//! `ChunkedSlab`: a slab (stable indices, a free list of vacated ones) stored in fixed-size chunks.
//!
//! A single `Vec` doubles by copying everything: 64 MB at 1M keys, a ~40 ms pause for every
//! client. Here each chunk grows as a `Vec` up to `CHUNK` entries (small dicts stay small,
//! and the last chunk holds little more than it uses), so growing never moves more than
//! one chunk.
use std::ops::{Index, IndexMut};

const CHUNK: usize = 4096;

/// A cell is an `Option`, so a position of a pointer-sized `T` (a keyspace `Entry`) is one
/// pointer: vacant cells are `None` and their indices sit in a separate free list.
type Cell<T> = Option<T>;

/// Positions are u32 (the dict's index stores them so).
#[derive(Clone)]
pub struct ChunkedSlab<T> {
    /// The first chunk, here so a small table is one allocation fewer.
    first: Vec<Cell<T>>,
    /// Chunks 1, 2... (empty, unallocated, until the first is full).
    more: Vec<Vec<Cell<T>>>,
    len: u32,
    /// Cells ever used (occupied or vacant): indices are below this.
    end: u32,
    /// Vacant indices, most recently vacated last (reused first).
    free: Vec<u32>,
}

impl<T> Default for ChunkedSlab<T> {
    fn default() -> Self {
        ChunkedSlab {
            first: Vec::new(),
            more: Vec::new(),
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
        s.first.reserve_exact(n.next_power_of_two().min(CHUNK));
        s.more.reserve((n / CHUNK).saturating_sub(1));
        s
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }
    #[inline]
    fn chunk(&self, c: usize) -> Option<&Vec<Cell<T>>> {
        if c == 0 {
            Some(&self.first)
        } else {
            self.more.get(c - 1)
        }
    }
    #[inline]
    fn chunk_mut(&mut self, c: usize) -> Option<&mut Vec<Cell<T>>> {
        if c == 0 {
            Some(&mut self.first)
        } else {
            self.more.get_mut(c - 1)
        }
    }
    fn chunks(&self) -> impl Iterator<Item = &Vec<Cell<T>>> {
        std::iter::once(&self.first).chain(self.more.iter())
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// One past the highest index in use: the range SCAN cursors and random picks cover.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.end as usize
    }
    #[inline]
    fn cell(&self, i: usize) -> Option<&Cell<T>> {
        self.chunk(i / CHUNK)?.get(i % CHUNK)
    }
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.cell(i)?.as_ref()
    }
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunk_mut(i / CHUNK)?.get_mut(i % CHUNK)?.as_mut()
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
            let cell = &mut self.chunk_mut(i / CHUNK).expect("a used chunk")[i % CHUNK];
            debug_assert!(cell.is_none(), "the free list holds vacant cells only");
            *cell = Some(t);
            return i;
        }
        let i = self.end as usize;
        self.end += 1;
        if i < CHUNK {
            // The first chunk grows 4, 8, 12, 16 cells (a 10-member set holds 12, not 16),
            // then doubles.
            if self.first.len() == self.first.capacity() {
                let extra = if i < 16 { 4 } else { i.min(CHUNK - i) };
                self.first.reserve_exact(extra);
            }
            self.first.push(Some(t));
            return i;
        }
        if i.is_multiple_of(CHUNK) {
            // A new chunk starts at an eighth and doubles (copying at most half a chunk):
            // a 5000-member set holds 1024 cells past its first chunk, not 4096.
            self.more.push(Vec::with_capacity(CHUNK / 8));
        }
        let last = &mut self.more[i / CHUNK - 1];
        if last.len() == last.capacity() {
            let extra = last.len().min(CHUNK - last.len());
            last.reserve_exact(extra);
        }
        last.push(Some(t));
        i
    }
    /// Take the value at `i` out. Panics if `i` is vacant (callers check first).
    pub fn remove(&mut self, i: usize) -> T {
        let t = self
            .chunk_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK)?.take())
            .unwrap_or_else(|| panic!("removing vacant cell {i}"));
        // Indices fit u32: the dict's index stores them as u32.
        self.free.push(i as u32);
        self.len -= 1;
        t
    }
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.chunks()
            .flatten()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_ref()?)))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut T)> {
        std::iter::once(&mut self.first)
            .chain(self.more.iter_mut())
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

    /// Past the first chunk, cells are allocated as they are needed, not a chunk at a time.
    #[test]
    fn later_chunks_grow_as_needed() {
        let mut s = ChunkedSlab::new();
        for i in 0..CHUNK + 10 {
            assert_eq!(s.insert(i), i);
        }
        let cells: usize = s.first.capacity() + s.more.iter().map(Vec::capacity).sum::<usize>();
        assert!(cells <= CHUNK + CHUNK / 8, "{cells}");
        for i in CHUNK + 10..3 * CHUNK {
            assert_eq!(s.insert(i), i);
        }
        assert!(s.more.iter().all(|c| c.capacity() == CHUNK));
        assert_eq!(s[CHUNK + 5], CHUNK + 5);
    }

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
