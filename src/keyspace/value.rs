//! Value types stored under a key, and the per-key metadata (expiry, LRU/LFU clock).

/// `expire` of a key with no TTL.
pub const NO_EXPIRE: i64 = -1;

pub use crate::types::list::List;

pub enum Value {
    /// A string; integers that fit an i64 and print back identically are kept as numbers
    /// (OBJECT ENCODING "int"), so INCR needs no parsing.
    Int(i64),
    Str(super::Str),
    // Containers are boxed: `Value` is 24 bytes (its tag shares a byte with `Str`'s), and
    // an `Entry` block stores just the box's pointer.
    List(Box<List>),
    Hash(Box<crate::types::hash::Hash>),
    Set(Box<crate::types::set::Set>),
    ZSet(Box<crate::types::zset::ZSet>),
    Stream(Box<crate::types::stream::Stream>),
}

/// A deep copy of any value (COPY).
impl Clone for Value {
    fn clone(&self) -> Self {
        match self {
            Value::Int(n) => Value::Int(*n),
            Value::Str(s) => Value::Str(s.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Hash(h) => Value::Hash(h.clone()),
            Value::Set(s) => Value::Set(s.clone()),
            Value::ZSet(z) => Value::ZSet(z.clone()),
            Value::Stream(s) => Value::Stream(s.clone()),
        }
    }
}

impl Value {
    /// Build a string value, integer-encoded when it round-trips (as Redis's tryObjectEncoding).
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(n) = crate::util::parse_i64(b) {
                return Value::Int(n);
            }
        }
        Value::Str(super::Str::new(b))
    }
    /// Read access, as to a stored value.
    pub fn as_ref(&self) -> ValRef<'_> {
        match self {
            Value::Int(n) => ValRef::Int(*n),
            Value::Str(s) => ValRef::Str(s),
            Value::List(l) => ValRef::List(l),
            Value::Hash(h) => ValRef::Hash(h),
            Value::Set(s) => ValRef::Set(s),
            Value::ZSet(z) => ValRef::ZSet(z),
            Value::Stream(s) => ValRef::Stream(s),
        }
    }
}

/// A collection type stored under a key, reached by a typed lookup (`Db::typed_mut`,
/// `Db::typed_pos`) that tells "absent" from "holds another type" (WRONGTYPE).
pub trait Container {
    fn of(v: ValRef<'_>) -> Option<&Self>;
    fn of_mut(v: ValMut<'_>) -> Option<&mut Self>;
}

macro_rules! container {
    ($t:ty, $variant:ident) => {
        impl Container for $t {
            #[inline]
            fn of(v: ValRef<'_>) -> Option<&Self> {
                match v {
                    ValRef::$variant(x) => Some(x),
                    _ => None,
                }
            }
            #[inline]
            fn of_mut(v: ValMut<'_>) -> Option<&mut Self> {
                match v {
                    ValMut::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}
container!(List, List);
container!(crate::types::hash::Hash, Hash);
container!(crate::types::set::Set, Set);
container!(crate::types::zset::ZSet, ZSet);
container!(crate::types::stream::Stream, Stream);

/// A collection that members can be removed from (SREM, ZREM, HDEL).
pub trait Members: Container {
    /// Remove one member; true if it was there.
    fn remove_member(&mut self, m: &[u8]) -> bool;
    fn is_empty(&self) -> bool;
}

macro_rules! members {
    ($t:ty) => {
        impl Members for $t {
            #[inline]
            fn remove_member(&mut self, m: &[u8]) -> bool {
                self.remove(m)
            }
            #[inline]
            fn is_empty(&self) -> bool {
                <$t>::is_empty(self)
            }
        }
    };
}
members!(crate::types::hash::Hash);
members!(crate::types::set::Set);
members!(crate::types::zset::ZSet);

/// A stored value, borrowed (`Entry::val`).
#[derive(Clone, Copy)]
pub enum ValRef<'a> {
    Int(i64),
    Str(&'a [u8]),
    List(&'a List),
    Hash(&'a crate::types::hash::Hash),
    Set(&'a crate::types::set::Set),
    ZSet(&'a crate::types::zset::ZSet),
    Stream(&'a crate::types::stream::Stream),
}

/// A stored container, to change in place (`Entry::val_mut`); strings are replaced
/// through the entry instead.
pub enum ValMut<'a> {
    String,
    List(&'a mut List),
    Hash(&'a mut crate::types::hash::Hash),
    Set(&'a mut crate::types::set::Set),
    ZSet(&'a mut crate::types::zset::ZSet),
    Stream(&'a mut crate::types::stream::Stream),
}

impl<'a> ValRef<'a> {
    pub fn type_name(self) -> &'static str {
        match self {
            ValRef::Int(_) | ValRef::Str(_) => "string",
            ValRef::List(_) => "list",
            ValRef::Hash(_) => "hash",
            ValRef::Set(_) => "set",
            ValRef::ZSet(_) => "zset",
            ValRef::Stream(_) => "stream",
        }
    }
    pub fn is_string(self) -> bool {
        matches!(self, ValRef::Int(_) | ValRef::Str(_))
    }
    /// The string's bytes, formatting an integer into `tmp`.
    pub fn str_bytes<'b>(self, tmp: &'b mut itoa::Buffer) -> Option<&'b [u8]>
    where
        'a: 'b,
    {
        match self {
            ValRef::Int(n) => Some(tmp.format(n).as_bytes()),
            ValRef::Str(s) => Some(s),
            _ => None,
        }
    }
    /// A 20-byte content digest (DEBUG DIGEST-VALUE): equal values give equal digests,
    /// whatever their internal order; lists are order-sensitive.
    pub fn digest(self) -> [u8; 20] {
        let mut d = [0u8; 20];
        match self {
            ValRef::Int(_) | ValRef::Str(_) => {
                let mut tmp = itoa::Buffer::new();
                let b = self.str_bytes(&mut tmp).unwrap_or_default();
                d = digest_of(&[b"string", b]);
            }
            ValRef::List(l) => {
                for e in l.iter() {
                    d = digest_of(&[b"list", &d, &e]);
                }
            }
            ValRef::Hash(h) => h
                .iter()
                .for_each(|(k, v)| xor_into(&mut d, &digest_of(&[b"hash", &k, &v]))),
            ValRef::Set(s) => s.for_each(|k| xor_into(&mut d, &digest_of(&[b"set", k]))),
            ValRef::ZSet(z) => z.iter().for_each(|(m, score)| {
                let sc = crate::util::fmt_double(score);
                xor_into(&mut d, &digest_of(&[b"zset", m, sc.as_bytes()]))
            }),
            ValRef::Stream(s) => {
                let mut buf = [0u8; 48];
                for (id, fields) in s.entries.iter() {
                    d = digest_of(&[b"stream", &d, id.fmt(&mut buf)]);
                    for f in fields.iter() {
                        d = digest_of(&[&d, f]);
                    }
                }
            }
        }
        d
    }
    /// DEBUG HTSTATS-KEY: the hash-table index of a hashtable-encoded set or hash, or of a
    /// skiplist sorted set's member dictionary; None for other encodings.
    pub fn table_stats(self) -> Option<crate::keyspace::dict::IndexStats> {
        match self {
            ValRef::Set(s) => s.dict().map(|d| d.index_stats()),
            ValRef::Hash(h) => h.table().map(|t| t.index_stats()),
            ValRef::ZSet(z) => z.skiplist().map(|k| k.dict_stats()),
            _ => None,
        }
    }
    /// Approximate heap bytes held by the value (MEMORY USAGE, OBJECT).
    pub fn heap_size(self) -> usize {
        match self {
            ValRef::Int(_) => 0,
            // A string's bytes are in its entry's block (`Entry::block_size`).
            ValRef::Str(_) => 0,
            ValRef::List(l) => l.heap_size(),
            ValRef::Hash(h) => h.heap_size(),
            ValRef::Set(s) => s.heap_size(),
            ValRef::ZSet(z) => z.heap_size(),
            ValRef::Stream(s) => s.heap_size(),
        }
    }
    /// A deep copy, as an owned value (COPY, DUMP...).
    pub fn to_value(self) -> Value {
        match self {
            ValRef::Int(n) => Value::Int(n),
            ValRef::Str(s) => Value::Str(super::Str::new(s)),
            ValRef::List(l) => Value::List(Box::new(l.clone())),
            ValRef::Hash(h) => Value::Hash(Box::new(h.clone())),
            ValRef::Set(s) => Value::Set(Box::new(s.clone())),
            ValRef::ZSet(z) => Value::ZSet(Box::new(z.clone())),
            ValRef::Stream(s) => Value::Stream(Box::new(s.clone())),
        }
    }
}

/// A deterministic 20-byte hash of the given parts (SipHash with fixed keys, three lanes).
pub fn digest_of(parts: &[&[u8]]) -> [u8; 20] {
    use std::hash::{Hash, Hasher};
    let mut out = [0u8; 20];
    for (lane, chunk) in out.chunks_mut(8).enumerate() {
        #[allow(deprecated)] // SipHasher: stable output across runs, unlike DefaultHasher
        let mut h = std::hash::SipHasher::new_with_keys(lane as u64, 0x0066_6572_726f_6b76);
        for p in parts {
            p.hash(&mut h);
        }
        let v = h.finish().to_be_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    out
}

pub fn xor_into(acc: &mut [u8; 20], d: &[u8; 20]) {
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

/// A digest as the 40 lower-case hex digits DEBUG DIGEST prints.
pub fn digest_hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Keep big containers behind a Box: a value in flight is three words.
    #[test]
    fn values_stay_small() {
        assert!(std::mem::size_of::<Value>() <= 24);
    }
}
