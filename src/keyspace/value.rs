//! Value types stored under a key, and the per-key metadata (expiry, LRU/LFU clock).
use std::collections::VecDeque;

/// `expire` of a key with no TTL.
pub const NO_EXPIRE: i64 = -1;

pub enum Value {
    /// A string; integers that fit an i64 and print back identically are kept as numbers
    /// (OBJECT ENCODING "int"), so INCR needs no parsing.
    Int(i64),
    Str(super::Str),
    // Containers are boxed so that a string key's Entry stays small: `Value` is 24 bytes
    // (its tag shares a byte with `Str`'s).
    List(Box<VecDeque<Box<[u8]>>>),
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
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Str(_))
    }
    /// The string's bytes, formatting an integer into `tmp`.
    pub fn str_bytes<'a>(&'a self, tmp: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
        match self {
            Value::Int(n) => Some(tmp.format(*n).as_bytes()),
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// A 20-byte content digest (DEBUG DIGEST-VALUE): equal values give equal digests,
    /// whatever their internal order; lists are order-sensitive.
    pub fn digest(&self) -> [u8; 20] {
        let mut d = [0u8; 20];
        match self {
            Value::Int(_) | Value::Str(_) => {
                let mut tmp = itoa::Buffer::new();
                let b = self.str_bytes(&mut tmp).unwrap_or_default();
                d = digest_of(&[b"string", b]);
            }
            Value::List(l) => {
                for e in l.iter() {
                    d = digest_of(&[b"list", &d, e]);
                }
            }
            Value::Hash(h) => h
                .iter()
                .for_each(|(k, v)| xor_into(&mut d, &digest_of(&[b"hash", k, v]))),
            Value::Set(s) => s.for_each(|k| xor_into(&mut d, &digest_of(&[b"set", k]))),
            Value::ZSet(z) => z.iter().for_each(|(m, score)| {
                let sc = crate::util::fmt_double(score);
                xor_into(&mut d, &digest_of(&[b"zset", m, sc.as_bytes()]))
            }),
            Value::Stream(s) => {
                let mut buf = [0u8; 48];
                for (id, fields) in &s.entries {
                    d = digest_of(&[b"stream", &d, id.fmt(&mut buf)]);
                    for f in fields.iter() {
                        d = digest_of(&[&d, f]);
                    }
                }
            }
        }
        d
    }
    /// Approximate heap bytes held by the value (MEMORY USAGE, OBJECT).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_size(),
            Value::List(l) => l.iter().map(|e| e.len() + 16).sum::<usize>() + l.capacity() * 16,
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }
}

pub struct Entry {
    pub val: Value,
    /// Absolute unix time in ms, or NO_EXPIRE.
    pub expire: i64,
    /// LRU clock (seconds, 24 bits like Redis) or, under an LFU policy, the LFU counter
    /// and decay time packed as Redis does (16 bits minutes, 8 bits counter).
    pub lru: u32,
}

impl Entry {
    pub fn new(val: Value, expire: i64) -> Self {
        Entry {
            val,
            expire,
            lru: crate::evict::lru_clock(),
        }
    }
    #[inline]
    pub fn touch(&mut self) {
        self.lru = crate::evict::lru_clock();
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
    /// Every string key pays for the largest variant: keep big containers behind a Box.
    #[test]
    fn string_entries_stay_small() {
        assert!(std::mem::size_of::<Value>() <= 24);
        assert!(std::mem::size_of::<Entry>() <= 40);
    }
}
