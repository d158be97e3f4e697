//! `Str`: the bytes of a string value in flight (`Value::Str`: built by a command, read
//! from a DUMP payload, taken out of an entry). Stored keys keep their bytes in their
//! `Entry` block instead.
//!
//! Values up to 22 bytes live inline; longer ones in an exactly sized heap block. Either
//! way the type is 24 bytes, which keeps `Value` three words.
//!
//! `raw` records that the value was changed in place (APPEND, SETRANGE, SETBIT...), which
//! Redis reports as OBJECT ENCODING "raw" whatever the length (`Entry::str_encoding`).
use std::ops::Deref;

pub const INLINE_CAP: usize = 22;

/// Longest string OBJECT ENCODING calls "embstr" (Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_MAX: usize = 44;

#[derive(Clone)]
pub enum Str {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap { raw: bool, bytes: Box<[u8]> },
}

impl Str {
    #[inline]
    pub fn new(b: &[u8]) -> Str {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            Str::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Str::Heap {
                raw: false,
                bytes: b.into(),
            }
        }
    }
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Str::Inline { len, buf } => &buf[..*len as usize],
            Str::Heap { bytes, .. } => bytes,
        }
    }
    /// A value built by a command that edits strings (SETRANGE, BITOP): "raw", as Redis
    /// reports such strings, whatever their length.
    pub fn raw(v: Vec<u8>) -> Str {
        Str::Heap {
            raw: true,
            bytes: v.into_boxed_slice(),
        }
    }
    /// Made by a command that edits strings (see `raw`).
    pub fn is_raw(&self) -> bool {
        matches!(self, Str::Heap { raw: true, .. })
    }
}

impl Deref for Str {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<Vec<u8>> for Str {
    fn from(v: Vec<u8>) -> Str {
        if v.len() <= INLINE_CAP {
            Str::new(&v)
        } else {
            Str::Heap {
                raw: false,
                bytes: v.into_boxed_slice(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_up_to_cap_then_heap_and_bytes_round_trip() {
        for n in [0, 1, 3, INLINE_CAP, INLINE_CAP + 1, 44, 45, 100, 5000] {
            let b: Vec<u8> = (0..n).map(|i| (i * 13 + 7) as u8).collect();
            let s = Str::new(&b);
            assert_eq!(matches!(s, Str::Inline { .. }), n <= INLINE_CAP, "len {n}");
            assert_eq!(&*s, &b[..]);
            assert_eq!(&*Str::from(b.clone()), &b[..]);
        }
    }

    #[test]
    fn a_string_value_is_three_words() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
    }
}
