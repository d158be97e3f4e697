//! Intset: a sorted array of integers of one width (2, 4 or 8 bytes, the smallest that
//! holds every member; it widens as needed and never narrows), in Redis's own layout so
//! RDB and DUMP write its bytes as they are:
//!
//! ```text
//! encoding: u32 LE (the width)   length: u32 LE   members: `length` × width bytes LE, ascending
//! ```
//!
//! Ten members below 2^31 take 48 bytes, where a `Vec<i64>` grown one push at a time
//! takes 128.
const HEAD: usize = 8;

#[derive(Clone)]
pub struct IntSet {
    /// Exact size (see `boxbuf`).
    buf: Box<[u8]>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet {
            buf: Box::new([2, 0, 0, 0, 0, 0, 0, 0]),
        }
    }
}

fn width_for(v: i64) -> usize {
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
        u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn set_len(&mut self, n: usize) {
        self.buf[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    }
    /// The member at position `i` (ascending).
    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        let at = HEAD + i * self.width();
        let b = &self.buf[at..];
        match self.width() {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }
    fn put(&mut self, i: usize, v: i64) {
        let w = self.width();
        let at = HEAD + i * w;
        self.buf[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
    }
    /// Where `v` is (Ok) or would go (Err).
    pub fn search(&self, v: i64) -> Result<usize, usize> {
        if width_for(v) > self.width() {
            // Wider than any member: past one end.
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }
    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }
    /// Re-encode every member at width `w` (wider than the current one).
    fn widen(&mut self, w: usize) {
        let n = self.len();
        let mut out = Vec::with_capacity(HEAD + (n + 1) * w);
        out.extend_from_slice(&(w as u32).to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        for i in 0..n {
            out.extend_from_slice(&self.get(i).to_le_bytes()[..w]);
        }
        self.buf = out.into_boxed_slice();
    }
    /// Add `v`; true if it was new.
    pub fn insert(&mut self, v: i64) -> bool {
        if width_for(v) > self.width() {
            self.widen(width_for(v));
        }
        let Err(pos) = self.search(v) else {
            return false;
        };
        let w = self.width();
        let n = self.len();
        let at = HEAD + pos * w;
        super::boxbuf::edit(&mut self.buf, |b| {
            b.reserve_exact(w);
            b.resize(HEAD + (n + 1) * w, 0);
            b.copy_within(at..HEAD + n * w, at + w);
        });
        self.put(pos, v);
        self.set_len(n + 1);
        true
    }
    /// Remove the member at position `i`, returning it.
    pub fn remove_at(&mut self, i: usize) -> i64 {
        let v = self.get(i);
        let w = self.width();
        let at = HEAD + i * w;
        super::boxbuf::edit(&mut self.buf, |b| {
            b.drain(at..at + w);
        });
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
    /// The intset's bytes, as RDB and DUMP store them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
    pub fn heap_size(&self) -> usize {
        self.buf.len()
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
        assert_eq!(t.as_bytes(), &[2, 0, 0, 0, 2, 0, 0, 0, 0xfe, 0xff, 1, 0]);
        t.insert(1 << 20);
        assert_eq!(t.width(), 4);
        assert!(t.contains(-2) && t.contains(1 << 20) && !t.contains(3));
        assert_eq!(t.search(i64::MAX), Err(3));
        assert_eq!(t.search(i64::MIN), Err(0));
    }
}
