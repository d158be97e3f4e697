//! Sorted set, in one of Redis's two encodings: small sets are one packed buffer in order
//! (`small`, OBJECT ENCODING "listpack"); a set that outgrows `zset-max-listpack-entries`
//! or gets a member longer than `zset-max-listpack-value` becomes a skip list plus a
//! member dictionary (`skiplist`) for good, as in Redis.
mod skiplist;
mod small;

use crate::types::thin::{Form, Packed, SAFE_BYTES};
pub use skiplist::SkipList;
use small::Small;
use std::cmp::Ordering;

/// One word: the packed pairs, or a boxed skip list (see `thin`).
#[derive(Clone)]
pub struct ZSet(Packed<Small, SkipList>);

impl Default for ZSet {
    fn default() -> Self {
        ZSet(Packed::compact(Small::default()))
    }
}

/// A score range as ZRANGEBYSCORE takes it: `(` marks an exclusive end.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_ex: bool,
    pub max_ex: bool,
}

impl ScoreRange {
    #[inline]
    pub(super) fn below(&self, s: f64) -> bool {
        if self.min_ex {
            s <= self.min
        } else {
            s < self.min
        }
    }
    #[inline]
    pub(super) fn above(&self, s: f64) -> bool {
        if self.max_ex {
            s >= self.max
        } else {
            s > self.max
        }
    }
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex))
    }
}

/// One end of a lexicographic range: `-`, `+`, `[x` or `(x`.
#[derive(Clone, Debug)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Box<[u8]>),
    Excl(Box<[u8]>),
}

#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub(super) fn below(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m < &**b,
            LexBound::Excl(b) => m <= &**b,
        }
    }
    pub(super) fn above(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m > &**b,
            LexBound::Excl(b) => m >= &**b,
        }
    }
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (PosInf, _) | (_, NegInf) => true,
            (NegInf, _) | (_, PosInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a), Excl(b)) | (Excl(a), Incl(b)) | (Excl(a), Excl(b)) => a >= b,
        }
    }
}

/// Total order of (score, member); scores are never NaN.
#[inline]
pub(crate) fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then(m1.cmp(m2))
}

macro_rules! both {
    ($self:expr, $z:ident => $e:expr) => {
        match $self.0.get() {
            Form::Packed($z) => $e,
            Form::Big($z) => $e,
        }
    };
}

macro_rules! both_mut {
    ($self:expr, $z:ident => $e:expr) => {
        match $self.0.get_mut() {
            Form::Packed($z) => $e,
            Form::Big($z) => $e,
        }
    };
}

impl ZSet {
    /// An empty set in the listpack encoding.
    pub fn new() -> Self {
        Self::default()
    }
    /// An empty set in the skiplist encoding.
    pub fn new_skiplist() -> Self {
        ZSet(Packed::big(Box::default()))
    }
    /// The skip list of a skiplist-encoded set.
    pub fn skiplist(&self) -> Option<&SkipList> {
        match self.0.get() {
            Form::Big(k) => Some(k),
            Form::Packed(_) => None,
        }
    }
    /// Whether the compact (listpack) encoding is in use.
    pub fn is_listpack(&self) -> bool {
        self.0.is_packed()
    }
    /// Converts to the skip list (one way, as Redis: past a listpack limit).
    pub fn to_skiplist(&mut self) {
        if let Form::Packed(s) = self.0.get() {
            let mut k = SkipList::new();
            for (m, sc) in s.iter() {
                k.insert(m, sc);
            }
            self.0 = Packed::big(Box::new(k));
        }
    }
    /// Takes the encoding Redis would give a set built or loaded whole: the listpack when
    /// `listpack`, else the skip list.
    pub fn set_listpack(&mut self, listpack: bool) {
        match self.0.get() {
            Form::Big(k)
                if listpack && k.iter().map(|(m, _)| m.len() + 16).sum::<usize>() <= SAFE_BYTES =>
            {
                let mut s = Small::default();
                for (m, sc) in k.iter() {
                    s.push_sorted(m, sc);
                }
                self.0 = Packed::compact(s);
            }
            Form::Packed(_) if !listpack => self.to_skiplist(),
            _ => {}
        }
    }
    pub fn len(&self) -> usize {
        both!(self, z => z.len())
    }
    pub fn is_empty(&self) -> bool {
        both!(self, z => z.is_empty())
    }
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        both!(self, z => z.score(m))
    }
    /// Insert or update; true if the member is new. A listpack that would pass
    /// `SAFE_BYTES` becomes a skip list first.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        if let Form::Packed(s) = self.0.get() {
            if !s.fits(m.len() + 16) {
                self.to_skiplist();
            }
        }
        both_mut!(self, z => z.insert(m, score))
    }
    pub fn remove(&mut self, m: &[u8]) -> bool {
        both_mut!(self, z => z.remove(m))
    }
    pub fn pop_min(&mut self) -> Option<(Box<[u8]>, f64)> {
        both_mut!(self, z => z.pop_min())
    }
    pub fn pop_max(&mut self) -> Option<(Box<[u8]>, f64)> {
        both_mut!(self, z => z.pop_max())
    }
    /// 0-based rank of a member in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        both!(self, z => z.rank(m))
    }
    /// Elements with rank in `start..=end` (ascending ranks, or ranks from the top when
    /// `rev`), walked forward or backward.
    pub fn range(&self, start: usize, end: usize, rev: bool) -> Iter<'_> {
        match self.0.get() {
            Form::Packed(z) => Iter::Small(z.range(start, end, rev)),
            Form::Big(z) => Iter::Skip(z.range(start, end, rev)),
        }
    }
    /// Everything in order.
    pub fn iter(&self) -> Iter<'_> {
        match self.0.get() {
            Form::Packed(z) => Iter::Small(z.iter()),
            Form::Big(z) => Iter::Skip(z.iter()),
        }
    }
    /// Ascending ranks [first, last) of the elements within a score range.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        both!(self, z => z.score_span(r))
    }
    /// Ascending ranks [first, last) of the elements within a lex range.
    pub fn lex_span(&self, r: &LexRange) -> (usize, usize) {
        both!(self, z => z.lex_span(r))
    }
    /// Remove ranks [first, last); returns how many went.
    pub fn remove_ranks(&mut self, first: usize, last: usize) -> usize {
        both_mut!(self, z => z.remove_ranks(first, last))
    }
    /// A random member and its score.
    pub fn random(&self) -> Option<(&[u8], f64)> {
        use rand::Rng;
        match self.0.get() {
            Form::Packed(z) if z.is_empty() => None,
            Form::Packed(z) => z.at_rank(rand::thread_rng().gen_range(0..z.len())),
            Form::Big(z) => z.random(),
        }
    }
    /// ZSCAN step: a listpack is returned whole (cursor 0), as Redis does.
    pub fn scan(&self, cursor: usize, budget: usize, mut f: impl FnMut(&[u8], f64)) -> usize {
        match self.0.get() {
            Form::Packed(z) => {
                z.iter().for_each(|(m, s)| f(m, s));
                0
            }
            Form::Big(z) => z.scan(cursor, budget, f),
        }
    }
    pub fn max_member_len(&self) -> usize {
        both!(self, z => z.max_member_len())
    }
    pub fn heap_size(&self) -> usize {
        both!(self, z => z.heap_size())
    }
}

pub enum Iter<'a> {
    Small(small::Iter<'a>),
    Skip(skiplist::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(i) => i.next(),
            Iter::Skip(i) => i.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Small(i) => i.size_hint(),
            Iter::Skip(i) => i.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Both encodings give the same answers to the same operations.
    #[test]
    fn encodings_agree_under_churn() {
        let mut rng = rand::thread_rng();
        let mut a = ZSet::new();
        let mut b = ZSet::new_skiplist();
        for step in 0..4000 {
            let m = format!("m{}", rng.gen_range(0..60)).into_bytes();
            match rng.gen_range(0..10) {
                0..=5 => {
                    let s = match rng.gen_range(0..4) {
                        0 => rng.gen_range(-300..300) as f64,
                        1 => rng.gen_range(-3.0..3.0),
                        2 => f64::INFINITY,
                        _ => 1e15 * rng.gen_range(-5..5) as f64,
                    };
                    assert_eq!(a.insert(&m, s), b.insert(&m, s));
                }
                6 => assert_eq!(a.remove(&m), b.remove(&m)),
                7 => {
                    if rng.gen() {
                        assert_eq!(a.pop_min(), b.pop_min());
                    } else {
                        assert_eq!(a.pop_max(), b.pop_max());
                    }
                }
                8 => {
                    let (x, y) = (rng.gen_range(0..70), rng.gen_range(0..70));
                    let rev = rng.gen();
                    let ra: Vec<_> = a.range(x, y, rev).collect();
                    let rb: Vec<_> = b.range(x, y, rev).collect();
                    assert_eq!(ra, rb, "range {x} {y} {rev}");
                    assert_eq!(a.rank(&m), b.rank(&m));
                    let r = ScoreRange {
                        min: -100.0,
                        max: 2.0,
                        min_ex: rng.gen(),
                        max_ex: rng.gen(),
                    };
                    assert_eq!(a.score_span(&r), b.score_span(&r));
                }
                _ => {
                    if step % 97 == 0 {
                        let (x, y) = (rng.gen_range(0..30), rng.gen_range(0..30));
                        assert_eq!(a.remove_ranks(x, y), b.remove_ranks(x, y));
                    }
                }
            }
            assert_eq!(a.len(), b.len());
            assert!(a.is_listpack() && !b.is_listpack());
        }
        let all: Vec<_> = a.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        let mut c = a.clone();
        c.to_skiplist();
        c.set_listpack(true);
        assert!(c.is_listpack());
        assert_eq!(
            c.iter().map(|(m, s)| (m.to_vec(), s)).collect::<Vec<_>>(),
            all
        );
    }
}
