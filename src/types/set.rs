//! Set: an intset while every member is an integer and the set is small (bounded by
//! `set-max-intset-entries`), otherwise a `Dict`. The switch to the dictionary is one way,
//! as in Redis.
use super::intset::IntSet;
use super::thin::{Form, Packed, SAFE_BYTES};
use crate::keyspace::Dict;
use crate::util::parse_i64;
use rand::Rng;
use std::borrow::Cow;

/// One word: the intset, or a boxed dictionary (see `thin`).
#[derive(Clone)]
pub struct Set(Packed<IntSet, Dict<()>>);

impl Default for Set {
    fn default() -> Self {
        Set(Packed::compact(IntSet::default()))
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
        Set(Packed::big(Box::default()))
    }
    pub fn is_intset(&self) -> bool {
        self.0.is_packed()
    }
    /// The intset of an intset-encoded set.
    pub fn ints(&self) -> Option<&IntSet> {
        match self.0.get() {
            Form::Packed(v) => Some(v),
            Form::Big(_) => None,
        }
    }
    /// The dictionary of a hashtable-encoded set.
    pub fn dict(&self) -> Option<&Dict<()>> {
        match self.0.get() {
            Form::Big(d) => Some(d),
            Form::Packed(_) => None,
        }
    }
    pub fn len(&self) -> usize {
        match self.0.get() {
            Form::Packed(v) => v.len(),
            Form::Big(d) => d.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn contains(&self, m: &[u8]) -> bool {
        match self.0.get() {
            Form::Packed(v) => parse_i64(m).is_some_and(|n| v.contains(n)),
            Form::Big(d) => d.contains(m),
        }
    }
    fn convert_to_table(&mut self) {
        if let Form::Packed(v) = self.0.get() {
            let mut d = Dict::with_capacity(v.len() + 1);
            let mut b = itoa::Buffer::new();
            for n in v.iter() {
                d.insert_new(b.format(n).as_bytes().into(), ());
            }
            self.0 = Packed::big(Box::new(d));
        }
    }
    /// Add a member; true if it was new. `max_ints` is `set-max-intset-entries`.
    pub fn insert(&mut self, m: &[u8], max_ints: usize) -> bool {
        if let Form::Packed(v) = self.0.get_mut() {
            match parse_i64(m) {
                Some(n) => {
                    if !v.insert(n) {
                        return false;
                    }
                    // Past the limit, or where 8-byte members would pass SAFE_BYTES.
                    if v.len() > max_ints || v.len() >= SAFE_BYTES / 8 {
                        self.convert_to_table();
                    }
                    return true;
                }
                None => self.convert_to_table(),
            }
        }
        match self.0.get_mut() {
            Form::Big(d) => d.insert(m, ()).is_none(),
            Form::Packed(_) => false,
        }
    }
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.0.get_mut() {
            Form::Packed(v) => parse_i64(m).is_some_and(|n| v.remove(n)),
            Form::Big(d) => d.remove(m).is_some(),
        }
    }
    /// Every member, in the set's own order (ascending for an intset).
    pub fn members(&self) -> Vec<Cow<'_, [u8]>> {
        match self.0.get() {
            Form::Packed(v) => v.iter().map(int_bytes).collect(),
            Form::Big(d) => d.keys().map(|k| Cow::Borrowed(&**k)).collect(),
        }
    }
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self.0.get() {
            Form::Packed(v) => {
                let mut b = itoa::Buffer::new();
                for n in v.iter() {
                    f(b.format(n).as_bytes());
                }
            }
            Form::Big(d) => {
                for k in d.keys() {
                    f(k);
                }
            }
        }
    }
    /// A uniformly random member.
    pub fn random(&self) -> Option<Cow<'_, [u8]>> {
        match self.0.get() {
            Form::Packed(v) if v.is_empty() => None,
            Form::Packed(v) => Some(int_bytes(v.get(rand::thread_rng().gen_range(0..v.len())))),
            Form::Big(d) => d
                .random_pos()
                .and_then(|s| d.at(s))
                .map(|(k, _)| Cow::Borrowed(&**k)),
        }
    }
    /// Remove and return a random member.
    pub fn pop_random(&mut self) -> Option<Box<[u8]>> {
        match self.0.get_mut() {
            Form::Packed(v) if v.is_empty() => None,
            Form::Packed(v) => {
                let i = rand::thread_rng().gen_range(0..v.len());
                Some(int_bytes(v.remove_at(i)).into_owned().into())
            }
            Form::Big(d) => {
                let s = d.random_pos()?;
                d.remove_pos(s).map(|(k, _)| k.into())
            }
        }
    }
    /// SSCAN step: an intset is returned whole (cursor 0), like Redis.
    pub fn scan(&self, cursor: usize, budget: usize, mut f: impl FnMut(&[u8])) -> usize {
        match self.0.get() {
            Form::Packed(_) => {
                self.for_each(f);
                0
            }
            Form::Big(d) => d.scan(cursor, budget, |k, _| f(k)),
        }
    }
    pub fn heap_size(&self) -> usize {
        match self.0.get() {
            Form::Packed(v) => v.heap_size(),
            Form::Big(d) => d.keys().map(|k| k.len() + Dict::<()>::ENTRY_OVERHEAD).sum(),
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
