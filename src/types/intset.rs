//! Intset: a sorted array of integers stored as unsigned offsets from the smallest one,
//! all of one width (1, 2, 4 or 8 bytes: the smallest that holds the largest offset; it
//! widens as needed and never narrows):
//!
//! ```text
//! width: u8   length: u32 LE   base: i64 LE   offsets: `length` × width bytes LE, ascending
//! ```
//!
//! Redis picks the width by the members' own range (2, 4 or 8 bytes); offsets from the
//! smallest member let clustered ids (the common case: 100 consecutive ids near 10^6) take
//! 1 byte each instead of 4, and never take more than Redis's width. RDB and DUMP write
//! Redis's layout (`to_redis`), converted on the way out.
use super::thin::{ThinBytes, ThinRepr};

const HEAD: usize = 13;

#[derive(Clone)]
#[repr(transparent)]
pub struct IntSet {
    /// Exact size, one word (see `thin`).
    buf: ThinBytes,
}

// SAFETY: IntSet is #[repr(transparent)] over ThinBytes.
unsafe impl ThinRepr for IntSet {}

impl Default for IntSet {
    fn default() -> Self {
        let mut b = [0u8; HEAD];
        b[0] = 1;
        IntSet {
            buf: ThinBytes::from_slice(&b),
        }
    }
}

/// Bytes an offset needs.
fn width_for(off: u64) -> usize {
    if off <= 0xff {
        1
    } else if off <= 0xffff {
        2
    } else if off <= 0xffff_ffff {
        4
    } else {
        8
    }
}

/// Redis's intset width for a member (2, 4 or 8).
fn redis_width(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    #[inline]
    fn width(&self) -> usize {
        self.buf[0] as usize
    }
    #[inline]
    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn set_len(&mut self, n: usize) {
        self.buf[1..5].copy_from_slice(&(n as u32).to_le_bytes());
    }
    #[inline]
    fn base(&self) -> i64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[5..13]);
        i64::from_le_bytes(b)
    }
    /// The offset at position `i`.
    #[inline]
    fn off(&self, i: usize) -> u64 {
        let w = self.width();
        let b = &self.buf[HEAD + i * w..];
        // One fixed-size load per width (a copy of `w` bytes is a call to memcpy).
        match w {
            1 => b[0] as u64,
            2 => u16::from_le_bytes([b[0], b[1]]) as u64,
            4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
            _ => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }
    /// The member at position `i` (ascending).
    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        self.base().wrapping_add(self.off(i) as i64)
    }
    fn put(&mut self, i: usize, off: u64) {
        let w = self.width();
        let at = HEAD + i * w;
        self.buf[at..at + w].copy_from_slice(&off.to_le_bytes()[..w]);
    }
    /// Where the offset `off` is (Ok) or would go (Err).
    fn search_off(&self, off: u64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.off(mid).cmp(&off) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }
    /// Where `v` is (Ok) or would go (Err).
    pub fn search(&self, v: i64) -> Result<usize, usize> {
        let base = self.base();
        if self.is_empty() || v < base {
            return Err(0);
        }
        let off = (v as u64).wrapping_sub(base as u64);
        if width_for(off) > self.width() {
            // Beyond every member.
            return Err(self.len());
        }
        self.search_off(off)
    }
    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }
    /// Re-encode every member from `base` at width `w` (wider, or a lower base), with
    /// room for one more.
    fn rebuild(&mut self, base: i64, w: usize) {
        let n = self.len();
        let mut out = Vec::with_capacity(HEAD + (n + 1) * w);
        out.push(w as u8);
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&base.to_le_bytes());
        for v in self.iter() {
            let off = (v as u64).wrapping_sub(base as u64);
            out.extend_from_slice(&off.to_le_bytes()[..w]);
        }
        self.buf = ThinBytes::from_slice(&out);
    }
    /// Add `v`; true if it was new.
    pub fn insert(&mut self, v: i64) -> bool {
        if self.is_empty() {
            self.buf = Self::default().buf;
            self.buf[5..13].copy_from_slice(&v.to_le_bytes());
        } else if v < self.base() {
            let top = self.get(self.len() - 1);
            let w = width_for((top as u64).wrapping_sub(v as u64)).max(self.width());
            self.rebuild(v, w);
        } else {
            let w = width_for((v as u64).wrapping_sub(self.base() as u64));
            if w > self.width() {
                self.rebuild(self.base(), w);
            }
        }
        let off = (v as u64).wrapping_sub(self.base() as u64);
        let Err(pos) = self.search_off(off) else {
            return false;
        };
        let w = self.width();
        let n = self.len();
        let at = HEAD + pos * w;
        self.buf.splice(at, at, w);
        self.put(pos, off);
        self.set_len(n + 1);
        true
    }
    /// Remove the member at position `i`, returning it.
    pub fn remove_at(&mut self, i: usize) -> i64 {
        let v = self.get(i);
        let w = self.width();
        let at = HEAD + i * w;
        self.buf.remove(at, at + w);
        let n = self.len();
        self.set_len(n - 1);
        v
    }
    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
    /// Redis's intset bytes for these members, as RDB and DUMP store them:
    /// `encoding: u32 LE (2, 4 or 8)   length: u32 LE   members LE, ascending`.
    pub fn to_redis(&self) -> Vec<u8> {
        let n = self.len();
        let w = if n == 0 {
            2
        } else {
            redis_width(self.get(0)).max(redis_width(self.get(n - 1)))
        };
        let mut out = Vec::with_capacity(8 + n * w);
        out.extend_from_slice(&(w as u32).to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        for v in self.iter() {
            out.extend_from_slice(&v.to_le_bytes()[..w]);
        }
        out
    }
    pub fn heap_size(&self) -> usize {
        self.buf.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn widens_and_stays_sorted_like_a_btree() {
        let mut rng = rand::thread_rng();
        let mut s = IntSet::default();
        let mut model = std::collections::BTreeSet::new();
        for step in 0..5000 {
            let v = match rng.gen_range(0..4) {
                0 => rng.gen_range(-300..300),
                1 => rng.gen_range(-70000..70000),
                2 if step > 2000 => rng.gen::<i64>(),
                _ => rng.gen_range(-50..50),
            };
            if rng.gen_ratio(2, 3) {
                assert_eq!(s.insert(v), model.insert(v));
            } else {
                assert_eq!(s.remove(v), model.remove(&v));
            }
            assert_eq!(s.len(), model.len());
        }
        assert!(s.iter().eq(model.iter().copied()));
        assert_eq!(s.width(), 8);
        let mut t = IntSet::default();
        t.insert(1);
        t.insert(-2);
        assert_eq!(t.to_redis(), &[2, 0, 0, 0, 2, 0, 0, 0, 0xfe, 0xff, 1, 0]);
        assert_eq!(t.width(), 1);
        t.insert(1 << 20);
        assert_eq!(t.width(), 4);
        assert!(t.contains(-2) && t.contains(1 << 20) && !t.contains(3));
        assert_eq!(t.search(i64::MAX), Err(3));
        assert_eq!(t.search(i64::MIN), Err(0));
        assert_eq!(t.to_redis()[..8], [4, 0, 0, 0, 3, 0, 0, 0]);
    }

    /// 100 consecutive ids near a million: 1 byte each (Redis: 4).
    #[test]
    fn clustered_members_take_one_byte_and_extremes_work() {
        let mut s = IntSet::default();
        for v in (1_000_000..1_000_100).rev() {
            assert!(s.insert(v));
        }
        assert_eq!(
            (s.width(), s.heap_size()),
            (1, crate::types::thin::size_class(8 + HEAD + 100))
        );
        assert!(s.iter().eq(1_000_000..1_000_100));
        let mut e = IntSet::default();
        for v in [i64::MAX, i64::MIN, 0, -1, 1, i64::MIN + 1, i64::MAX - 1] {
            assert!(e.insert(v));
            assert!(!e.insert(v));
        }
        let want = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        assert!(e.iter().eq(want));
        for v in want {
            assert!(e.contains(v));
        }
        assert_eq!(e.search(2), Err(5));
        assert!(e.remove(i64::MIN) && !e.contains(i64::MIN) && e.contains(i64::MIN + 1));
        assert_eq!(e.to_redis().len(), 8 + 6 * 8);
    }
}
