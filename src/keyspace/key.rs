//! `Key`: a short owned byte string: hash fields and set members (the key of a `Dict`
//! position), list elements, channels, watched keys, keys reported as expired...
//!
//! Short ones — nearly all in practice — are stored inline, so a lookup compares against
//! bytes already in the slab cell instead of following a pointer to a separate heap
//! allocation (one cache miss less per lookup, and no allocator overhead per item).
//! Longer keys live on the heap. Hashing, equality and ordering are those of `[u8]`, so a
//! `Key` can be looked up by `&[u8]` in any map or set.
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest key kept inline: the enum is 24 bytes (tag, length, bytes), the same as a
/// `Vec<u8>` and 8 more than the `Box<[u8]>` it replaces, which also cost a heap block.
pub const INLINE_CAP: usize = 22;

#[derive(Clone)]
pub enum Key {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl Key {
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, buf } => &buf[..*len as usize],
            Key::Heap(b) => b,
        }
    }
    #[inline]
    pub fn is_inline(&self) -> bool {
        matches!(self, Key::Inline { .. })
    }
    /// Heap bytes held beyond the key itself (MEMORY USAGE estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            Key::Inline { .. } => 0,
            Key::Heap(b) => b.len(),
        }
    }
}

impl Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Key {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<&[u8]> for Key {
    #[inline]
    fn from(b: &[u8]) -> Key {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            Key::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Key::Heap(b.into())
        }
    }
}

impl<const N: usize> From<&[u8; N]> for Key {
    fn from(b: &[u8; N]) -> Key {
        Key::from(&b[..])
    }
}

impl From<&Vec<u8>> for Key {
    fn from(b: &Vec<u8>) -> Key {
        Key::from(b.as_slice())
    }
}

/// Reuses the allocation when the key is too long to go inline.
impl From<Box<[u8]>> for Key {
    fn from(b: Box<[u8]>) -> Key {
        if b.len() <= INLINE_CAP {
            Key::from(&*b)
        } else {
            Key::Heap(b)
        }
    }
}

impl From<Vec<u8>> for Key {
    fn from(v: Vec<u8>) -> Key {
        if v.len() <= INLINE_CAP {
            Key::from(v.as_slice())
        } else {
            Key::Heap(v.into_boxed_slice())
        }
    }
}

impl From<&Key> for Box<[u8]> {
    fn from(k: &Key) -> Box<[u8]> {
        k.as_bytes().into()
    }
}

impl From<Key> for Box<[u8]> {
    fn from(k: Key) -> Box<[u8]> {
        match k {
            Key::Heap(b) => b,
            inline => inline.as_bytes().into(),
        }
    }
}

impl From<Key> for Vec<u8> {
    fn from(k: Key) -> Vec<u8> {
        Box::<[u8]>::from(k).into_vec()
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Key {}

impl PartialEq<[u8]> for Key {
    #[inline]
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// Must hash exactly as `[u8]` does, so `&[u8]` lookups in hashed maps find the key.
impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;
    use std::collections::{HashMap, HashSet};
    use std::hash::BuildHasher;

    #[test]
    fn same_size_as_a_vec() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
    }

    #[test]
    fn short_inline_long_on_heap_and_bytes_round_trip() {
        for n in [0, 1, 16, INLINE_CAP, INLINE_CAP + 1, 100, 1000] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 + 1) as u8).collect();
            let k = Key::from(&bytes[..]);
            assert_eq!(k.is_inline(), n <= INLINE_CAP, "len {n}");
            assert_eq!(&*k, &bytes[..]);
            assert_eq!(k.len(), n);
            assert_eq!(Key::from(bytes.clone()), k);
            assert_eq!(Key::from(bytes.clone().into_boxed_slice()), k);
            assert_eq!(Vec::<u8>::from(k.clone()), bytes);
            assert_eq!(&*Box::<[u8]>::from(k.clone()), &bytes[..]);
        }
    }

    #[test]
    fn hash_eq_and_order_match_byte_slices() {
        let s = foldhash::fast::RandomState::default();
        for b in [&b""[..], b"a", b"key:000000012345", &[b'x'; 40]] {
            let k = Key::from(b);
            assert_eq!(s.hash_one(&k), s.hash_one(b));
        }
        // zero padding must not make an inline key equal to one with trailing NULs
        assert_ne!(Key::from(&b"ab"[..]), Key::from(&b"ab\0"[..]));
        let (ab, ab0) = (Key::from(&b"ab"[..]), Key::from(&b"ab\0"[..]));
        assert_eq!(ab.cmp(&ab0), Ordering::Less);
        // inline against heap, both ways
        let (zz, long) = (Key::from(&b"zz"[..]), Key::from(&[b'z'; 30][..]));
        let longer = Key::from(&[b'z'; 35][..]);
        assert_eq!(zz.cmp(&long), Ordering::Less);
        assert_eq!(long.cmp(&zz), Ordering::Greater);
        assert_eq!(long.cmp(&longer), Ordering::Less);
    }

    #[test]
    fn looked_up_by_slice_in_std_maps() {
        let mut m: HashMap<Key, u32> = HashMap::new();
        m.insert(Key::from(&b"short"[..]), 1);
        m.insert(Key::from(&b"a key longer than twenty-two bytes"[..]), 2);
        assert_eq!(m.get(&b"short"[..]), Some(&1));
        assert_eq!(m.get(&b"a key longer than twenty-two bytes"[..]), Some(&2));
        assert_eq!(m.get(&b"shor"[..]), None);
        let set: HashSet<Key> = m.keys().cloned().collect();
        assert!(set.contains(&b"short"[..]));
    }
}
