//! Set: an intset while every member is an integer and the set is small (bounded by
//! `set-max-intset-entries`), otherwise a `Dict`. The switch to the dictionary is one way,
//! as in Redis.
use super::intset::IntSet;
use crate::keyspace::Dict;
use crate::util::parse_i64;
use rand::Rng;
use std::borrow::Cow;

#[derive(Clone)]
pub enum Set {
    Ints(IntSet),
    /// Boxed: an intset-encoded set stays the size of a Vec.
    Table(Box<Dict<()>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

/// Format an integer member into a small stack buffer.
fn int_bytes(n: i64) -> Cow<'static, [u8]> {
    let mut b = itoa::Buffer::new();
    Cow::Owned(b.format(n).as_bytes().to_vec())
}

impl Set {
    /// An empty set shaped for a first member, as Redis's setTypeCreate.
    pub fn for_member(m: &[u8]) -> Set {
        if parse_i64(m).is_some() {
            Set::default()
        } else {
            Set::table()
        }
    }
    /// An empty set in the hashtable encoding.
    pub fn table() -> Set {
        Set::Table(Box::default())
    }
    pub fn is_intset(&self) -> bool {
        matches!(self, Set::Ints(_))
    }
    /// The intset of an intset-encoded set.
    pub fn ints(&self) -> Option<&IntSet> {
        match self {
            Set::Ints(v) => Some(v),
            Set::Table(_) => None,
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_i64(m).is_some_and(|n| v.contains(n)),
            Set::Table(d) => d.contains(m),
        }
    }
    fn convert_to_table(&mut self) {
        if let Set::Ints(v) = self {
            let mut d = Dict::with_capacity(v.len() + 1);
            let mut b = itoa::Buffer::new();
            for n in v.iter() {
                d.insert_new(b.format(n).as_bytes().into(), ());
            }
            *self = Set::Table(Box::new(d));
        }
    }
    /// Add a member; true if it was new. `max_ints` is `set-max-intset-entries`.
    pub fn insert(&mut self, m: &[u8], max_ints: usize) -> bool {
        if let Set::Ints(v) = self {
            match parse_i64(m) {
                Some(n) => {
                    if !v.insert(n) {
                        return false;
                    }
                    if v.len() > max_ints {
                        self.convert_to_table();
                    }
                    return true;
                }
                None => self.convert_to_table(),
            }
        }
        match self {
            Set::Table(d) => d.insert(m, ()).is_none(),
            Set::Ints(_) => false,
        }
    }
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_i64(m).is_some_and(|n| v.remove(n)),
            Set::Table(d) => d.remove(m).is_some(),
        }
    }
    /// Every member, in the set's own order (ascending for an intset).
    pub fn members(&self) -> Vec<Cow<'_, [u8]>> {
        match self {
            Set::Ints(v) => v.iter().map(int_bytes).collect(),
            Set::Table(d) => d.keys().map(|k| Cow::Borrowed(&**k)).collect(),
        }
    }
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Ints(v) => {
                let mut b = itoa::Buffer::new();
                for n in v.iter() {
                    f(b.format(n).as_bytes());
                }
            }
            Set::Table(d) => {
                for k in d.keys() {
                    f(k);
                }
            }
        }
    }
    /// A uniformly random member.
    pub fn random(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Set::Ints(v) if v.is_empty() => None,
            Set::Ints(v) => Some(int_bytes(v.get(rand::thread_rng().gen_range(0..v.len())))),
            Set::Table(d) => d
                .random_pos()
                .and_then(|s| d.at(s))
                .map(|(k, _)| Cow::Borrowed(&**k)),
        }
    }
    /// Remove and return a random member.
    pub fn pop_random(&mut self) -> Option<Box<[u8]>> {
        match self {
            Set::Ints(v) if v.is_empty() => None,
            Set::Ints(v) => {
                let i = rand::thread_rng().gen_range(0..v.len());
                Some(int_bytes(v.remove_at(i)).into_owned().into())
            }
            Set::Table(d) => {
                let s = d.random_pos()?;
                d.remove_pos(s).map(|(k, _)| k.into())
            }
        }
    }
    /// SSCAN step: an intset is returned whole (cursor 0), like Redis.
    pub fn scan(&self, cursor: usize, budget: usize, mut f: impl FnMut(&[u8])) -> usize {
        match self {
            Set::Ints(_) => {
                self.for_each(f);
                0
            }
            Set::Table(d) => d.scan(cursor, budget, |k, _| f(k)),
        }
    }
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(v) => v.heap_size(),
            Set::Table(d) => d.keys().map(|k| k.len() + Dict::<()>::ENTRY_OVERHEAD).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn intset_converts_on_string_or_size() {
        let mut s = Set::for_member(b"1");
        assert!(s.insert(b"3", 3));
        assert!(s.insert(b"1", 3));
        assert!(!s.insert(b"1", 3));
        assert!(s.is_intset());
        assert_eq!(
            s.members(),
            vec![Cow::Borrowed(&b"1"[..]), Cow::Borrowed(&b"3"[..])]
        );
        assert!(s.insert(b"2", 3));
        assert!(s.is_intset());
        assert!(s.insert(b"4", 3));
        assert!(!s.is_intset());
        assert!(s.contains(b"4") && s.contains(b"1"));
        let mut t = Set::for_member(b"1");
        t.insert(b"1", 10);
        t.insert(b"x", 10);
        assert!(!t.is_intset() && t.contains(b"1") && t.contains(b"x"));
        assert!(t.remove(b"1") && !t.remove(b"1"));
        assert!(!s.contains(b"01"));
    }
}
