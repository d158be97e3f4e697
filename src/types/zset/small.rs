//! The small sorted set (Redis's "listpack" encoding): every (member, score) pair, in
//! (score, member) order, packed back to back in one buffer.
//!
//! A pair is `varint(member length) member tag score`:
//! - `tag` 0..=8: the score is an integer of that many little-endian bytes (sign-extended;
//!   0 bytes is the score 0; -0 is stored as 0, as Redis's listpack does); 9: an IEEE
//!   double in 8 bytes (fractions, infinities, huge values);
//! - no length after the pair (Redis's listpack has one, to walk backwards): a set this
//!   small is walked forward, and a reverse walk (ZREVRANGE) notes offsets in batches of
//!   32 as it goes (`Iter`). That byte is 10% of a pair of an 8-byte member and a small
//!   score.
//!
//! Ten 8-byte members with small integer scores take 102 bytes, where a skip list node
//! alone takes more than that. Lookups are linear, as in Redis: the set stays small
//! (`zset-max-listpack-entries`, 128 by default) or becomes a skip list for good.
use super::{cmp_key, LexRange, ScoreRange};
use crate::types::thin::{ThinBytes, ThinRepr};

const TAG_DOUBLE: u8 = 9;

/// The buffer starts with the pair count (u16 LE; 65535: count by walking).
const HDR: usize = 2;
/// Integer scores in SMALL_MIN..=SMALL_MAX are the tag byte itself (tag - SMALL_BIAS).
const SMALL_MIN: i64 = -64;
const SMALL_MAX: i64 = 175;
const SMALL_BIAS: i64 = 80;

#[derive(Clone, Default)]
#[repr(transparent)]
pub struct Small {
    /// Empty, or the count and the pairs; exact size, one word (see `thin`).
    buf: ThinBytes,
}

// SAFETY: Small is #[repr(transparent)] over ThinBytes.
unsafe impl ThinRepr for Small {}

/// One decoded pair: its member, score and byte range.
#[derive(Clone, Copy)]
struct Pair<'a> {
    member: &'a [u8],
    score: f64,
    start: usize,
    end: usize,
}

use crate::types::varint::len as varint_len;

/// The tag and the bytes of a score.
fn score_bytes(s: f64) -> (u8, [u8; 8]) {
    // Integral scores in i64 range take 0 to 8 bytes; -0 becomes the integer 0, as in
    // Redis's listpack.
    if s.fract() == 0.0 && s.abs() < 9.0e18 {
        let v = s as i64;
        if (SMALL_MIN..=SMALL_MAX).contains(&v) {
            return ((v + SMALL_BIAS) as u8, [0; 8]);
        }
        let bytes = v.to_le_bytes();
        let mut w = 8;
        while w > 0 {
            // Drop a top byte while the rest still sign-extends to v.
            let rest = w - 1;
            let trunc = if rest == 0 {
                0
            } else {
                let sh = 64 - 8 * rest as u32;
                (v << sh) >> sh
            };
            if trunc != v {
                break;
            }
            w = rest;
        }
        (w as u8, bytes)
    } else {
        (TAG_DOUBLE, s.to_le_bytes())
    }
}

fn score_width(tag: u8) -> usize {
    match tag {
        TAG_DOUBLE => 8,
        0..=8 => tag as usize,
        _ => 0,
    }
}

/// The encoded size of a pair.
fn pair_len(m: &[u8], tag: u8) -> usize {
    varint_len(m.len()) + m.len() + 1 + score_width(tag)
}

/// Writes a pair into `out` (exactly `pair_len` bytes).
fn write_pair(out: &mut [u8], m: &[u8], tag: u8, sb: &[u8; 8]) {
    let mut p = crate::types::varint::write(out, m.len());
    out[p..p + m.len()].copy_from_slice(m);
    p += m.len();
    out[p] = tag;
    p += 1;
    let w = score_width(tag);
    out[p..p + w].copy_from_slice(&sb[..w]);
}

impl Small {
    /// Whether `extra` more bytes keep the pairs within `SAFE_BYTES`.
    pub fn fits(&self, extra: usize) -> bool {
        self.buf.fits(extra)
    }
    pub fn len(&self) -> usize {
        if self.buf.is_empty() {
            return 0;
        }
        match u16::from_le_bytes([self.buf[0], self.buf[1]]) {
            u16::MAX => self.pairs().count(),
            n => n as usize,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    fn set_len(&mut self, n: usize) {
        if n == 0 {
            self.buf = ThinBytes::new();
        } else {
            let c = n.min(u16::MAX as usize) as u16;
            self.buf[..HDR].copy_from_slice(&c.to_le_bytes());
        }
    }
    pub fn heap_size(&self) -> usize {
        self.buf.heap_size()
    }

    /// The pair starting at `at`.
    #[inline]
    fn pair(&self, at: usize) -> Pair<'_> {
        let b = &self.buf;
        let mut p = at;
        let len = crate::types::varint::read(b, &mut p);
        let member = &b[p..p + len];
        p += len;
        let tag = b[p];
        p += 1;
        let score = if tag == TAG_DOUBLE {
            f64::from_le_bytes(b[p..p + 8].try_into().unwrap_or_default())
        } else if tag > 8 {
            (tag as i64 - SMALL_BIAS) as f64
        } else if tag == 0 {
            0.0
        } else {
            let w = tag as usize;
            let mut raw = [0u8; 8];
            raw[..w].copy_from_slice(&b[p..p + w]);
            let sh = 64 - 8 * w as u32;
            ((i64::from_le_bytes(raw) << sh) >> sh) as f64
        };
        p += score_width(tag);
        Pair {
            member,
            score,
            start: at,
            end: p,
        }
    }

    fn pairs(&self) -> impl Iterator<Item = Pair<'_>> + '_ {
        let mut at = HDR;
        std::iter::from_fn(move || {
            (at < self.buf.len()).then(|| {
                let p = self.pair(at);
                at = p.end;
                p
            })
        })
    }

    /// The pair of member `m`: a walk that compares members and skips scores undecoded.
    fn find(&self, m: &[u8]) -> Option<Pair<'_>> {
        let b = &self.buf;
        let mut at = HDR;
        while at < b.len() {
            let mut p = at;
            let len = crate::types::varint::read(b, &mut p);
            if len == m.len() && &b[p..p + len] == m {
                return Some(self.pair(at));
            }
            at = p + len + 1 + score_width(b[p + len]);
        }
        None
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.find(m).map(|p| p.score)
    }

    /// Inserts a pair at byte offset `at`.
    fn put_at(&mut self, at: usize, m: &[u8], score: f64) {
        let n = self.len();
        let at = at.max(HDR);
        let (tag, sb) = score_bytes(score);
        let len = pair_len(m, tag);
        if self.buf.is_empty() {
            self.buf.resize(HDR);
        }
        write_pair(self.buf.splice(at, at, len), m, tag, &sb);
        self.set_len(n + 1);
    }

    fn cut(&mut self, start: usize, end: usize, pairs: usize) {
        let n = self.len();
        self.buf.remove(start, end);
        self.set_len(n - pairs);
    }

    /// Appends a pair that sorts after every other (building from an ordered source).
    pub fn push_sorted(&mut self, m: &[u8], score: f64) {
        let at = self.buf.len();
        self.put_at(at, m, score);
    }

    /// Insert or update; true if the member is new.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        let mut new = true;
        if let Some(p) = self.find(m) {
            if p.score == score {
                return false;
            }
            let (s, e) = (p.start, p.end);
            self.cut(s, e, 1);
            new = false;
        }
        let at = self
            .pairs()
            .find(|p| cmp_key(p.score, p.member, score, m).is_gt())
            .map_or(self.buf.len(), |p| p.start);
        self.put_at(at, m, score);
        new
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.find(m) {
            Some(p) => {
                let (s, e) = (p.start, p.end);
                self.cut(s, e, 1);
                true
            }
            None => false,
        }
    }

    pub fn pop_min(&mut self) -> Option<(Box<[u8]>, f64)> {
        if self.is_empty() {
            return None;
        }
        let p = self.pair(HDR);
        let out = (p.member.into(), p.score);
        let end = p.end;
        self.cut(HDR, end, 1);
        Some(out)
    }

    pub fn pop_max(&mut self) -> Option<(Box<[u8]>, f64)> {
        if self.is_empty() {
            return None;
        }
        let end = self.buf.len();
        let p = self.pairs().last()?;
        let out = (p.member.into(), p.score);
        let start = p.start;
        self.cut(start, end, 1);
        Some(out)
    }

    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        self.pairs().position(|p| p.member == m)
    }

    /// Byte offset of the pair at 0-based rank `r` (`r <= n`; `n`: the end).
    fn offset_at(&self, r: usize) -> usize {
        self.skip(HDR, r)
    }
    /// Byte offset `k` pairs after offset `at`: a walk that skips scores undecoded.
    #[inline]
    fn skip(&self, mut at: usize, k: usize) -> usize {
        let b = &self.buf;
        for _ in 0..k {
            let mut p = at;
            let len = crate::types::varint::read(b, &mut p);
            at = p + len + 1 + score_width(b[p + len]);
        }
        at
    }

    /// Elements with rank in `start..=end`, walked forward or backward (`rev`: ranks
    /// counted from the top).
    pub fn range(&self, start: usize, end: usize, rev: bool) -> Iter<'_> {
        let n = self.len();
        if start > end || start >= n {
            return Iter::new(self, HDR, 0, rev);
        }
        let end = end.min(n - 1);
        let left = end - start + 1;
        // Backward, ranks count from the top: the window's lowest ascending rank is
        // n-1-end, and the walk yields it last.
        let low = if rev { n - 1 - end } else { start };
        Iter::new(self, self.offset_at(low), left, rev)
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter::new(self, HDR, self.len(), false)
    }

    fn count_before(&self, before: impl Fn(&Pair) -> bool) -> usize {
        self.pairs().take_while(|p| before(p)).count()
    }

    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let a = self.count_before(|p| r.below(p.score));
        let b = self.count_before(|p| !r.above(p.score));
        (a, b.max(a))
    }

    pub fn lex_span(&self, r: &LexRange) -> (usize, usize) {
        let a = self.count_before(|p| r.below(p.member));
        let b = self.count_before(|p| !r.above(p.member));
        (a, b.max(a))
    }

    /// Remove ranks [first, last); returns how many went.
    pub fn remove_ranks(&mut self, first: usize, last: usize) -> usize {
        let n = self.len();
        let last = last.min(n);
        if first >= last {
            return 0;
        }
        let s = self.offset_at(first);
        let e = if last == n {
            self.buf.len()
        } else {
            self.offset_at(last)
        };
        self.cut(s, e, last - first);
        last - first
    }

    pub fn at_rank(&self, r: usize) -> Option<(&[u8], f64)> {
        (r < self.len()).then(|| {
            let p = self.pair(self.offset_at(r));
            (p.member, p.score)
        })
    }

    pub fn max_member_len(&self) -> usize {
        self.pairs().map(|p| p.member.len()).max().unwrap_or(0)
    }
}

/// Offsets a backward walk notes per forward pass.
const BATCH: usize = 32;

pub struct Iter<'a> {
    z: &'a Small,
    /// The next pair's start (forward), or the window's lowest pair's start (backward:
    /// the window shrinks from its top).
    front: usize,
    left: usize,
    rev: bool,
    /// Backward: starts of the window's top pairs, ascending; the last `noted` are next.
    noted: u8,
    offs: [u32; BATCH],
}

impl<'a> Iter<'a> {
    fn new(z: &'a Small, front: usize, left: usize, rev: bool) -> Self {
        Iter {
            z,
            front,
            left,
            rev,
            noted: 0,
            offs: [0; BATCH],
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let p = if self.rev {
            if self.noted == 0 {
                // One forward pass to the window's top BATCH pairs, noting where each starts.
                let k = self.left.min(BATCH);
                let mut at = self.z.skip(self.front, self.left - k);
                for o in &mut self.offs[..k] {
                    *o = at as u32;
                    at = self.z.skip(at, 1);
                }
                self.noted = k as u8;
            }
            self.noted -= 1;
            self.z.pair(self.offs[self.noted as usize] as usize)
        } else {
            let p = self.z.pair(self.front);
            self.front = p.end;
            p
        };
        self.left -= 1;
        Some((p.member, p.score))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_in_the_fewest_bytes() {
        for s in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            127.0,
            128.0,
            -129.0,
            255.0,
            175.0,
            176.0,
            -64.0,
            -65.0,
            65536.0,
            -8.0e18,
            8.9e18,
            1e300,
            2.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            i64::MAX as f64,
        ] {
            let mut z = Small::default();
            z.push_sorted(b"m", s);
            let got = z.iter().next().unwrap().1;
            let want = if s == 0.0 { 0.0 } else { s };
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
        let (tag, _) = score_bytes(5.0);
        assert_eq!(score_width(tag), 0);
        assert_eq!(score_bytes(0.0).0, SMALL_BIAS as u8);
        assert_eq!(score_bytes(300.0).0, 2);
        assert_eq!(score_bytes(-0.0).0, SMALL_BIAS as u8);
        assert_eq!(score_bytes(175.0).0, 255);
        assert_eq!(score_bytes(-65.0).0, 1);
        assert_eq!(score_bytes(0.5).0, TAG_DOUBLE);
        assert_eq!(pair_len(b"m0000000", score_bytes(5.0).0), 10);
    }

    #[test]
    fn long_members_walk_both_ways() {
        let mut z = Small::default();
        let long = vec![b'x'; 300];
        z.insert(&long, 1.0);
        z.insert(b"a", 0.5);
        z.insert(b"z", 2.0);
        let fwd: Vec<_> = z.iter().map(|(m, s)| (m.len(), s)).collect();
        assert_eq!(fwd, vec![(1, 0.5), (300, 1.0), (1, 2.0)]);
        let back: Vec<_> = z.range(0, 10, true).map(|(m, _)| m.len()).collect();
        assert_eq!(back, vec![1, 300, 1]);
        assert_eq!(z.range(1, 1, true).next().unwrap().0.len(), 300);
        assert_eq!(z.pop_max().unwrap().1, 2.0);
        assert_eq!(z.pop_max().unwrap().1, 1.0);
        assert_eq!(z.len(), 1);
    }

    /// Backward windows of every shape over 100 pairs (past several 32-offset batches)
    /// agree with the forward walk reversed.
    #[test]
    fn backward_windows_match_the_forward_walk() {
        let mut z = Small::default();
        for i in 0..100 {
            let m = format!("m{}", "x".repeat(i % 7 + (i * 37) % 130));
            z.insert(m.as_bytes(), (i % 13) as f64 * 0.5);
        }
        let n = z.len();
        let fwd: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        for start in [0, 1, 5, 31, 32, 33, 64, 98, 99, 100] {
            for end in [0, 1, 31, 32, 33, 63, 64, 65, 99, 500] {
                let got: Vec<(Vec<u8>, f64)> = z
                    .range(start, end, true)
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect();
                let want: Vec<(Vec<u8>, f64)> = if start > end || start >= n {
                    vec![]
                } else {
                    let end = end.min(n - 1);
                    fwd[n - 1 - end..n - start].iter().rev().cloned().collect()
                };
                assert_eq!(got, want, "{start}..={end}");
                assert_eq!(z.range(start, end, false).count(), want.len());
            }
        }
        assert_eq!(
            z.pop_max().map(|p| p.0.to_vec()),
            fwd.last().map(|p| p.0.clone())
        );
    }
}
