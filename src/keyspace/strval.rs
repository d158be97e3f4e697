//! `Str`: the bytes of a string value.
//!
//! Values up to 22 bytes (counters, flags, tokens, most benchmark values) live inside the
//! keyspace entry: SET of a short value allocates nothing. Longer values sit in an exactly
//! sized heap block (no spare capacity, unlike a `Vec`). Either way the type is 24 bytes,
//! which keeps `Value` and so every keyspace slot 8 bytes smaller than with a `Vec`.
//!
//! `raw` records that the value was changed in place (APPEND, SETRANGE, SETBIT...), which
//! Redis reports as OBJECT ENCODING "raw" whatever the length.
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
    /// Change the bytes in place through a `Vec` (the heap block is reused, then trimmed
    /// to fit). Marks the value "raw".
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut v = match std::mem::replace(self, Str::new(b"")) {
            Str::Inline { len, buf } => buf[..len as usize].to_vec(),
            Str::Heap { bytes, .. } => bytes.into_vec(),
        };
        let r = f(&mut v);
        *self = Str::raw(v);
        r
    }
    /// Made by a command that edits strings (see `raw`).
    pub fn is_raw(&self) -> bool {
        matches!(self, Str::Heap { raw: true, .. })
    }
    /// OBJECT ENCODING: "embstr" for a short value made whole, "raw" otherwise.
    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Heap { raw: true, .. } => "raw",
            s if s.len() > EMBSTR_MAX => "raw",
            _ => "embstr",
        }
    }
    /// Heap bytes held (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Inline { .. } => 0,
            Str::Heap { bytes, .. } => bytes.len(),
        }
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
            assert_eq!(s.encoding(), if n <= 44 { "embstr" } else { "raw" });
        }
    }

    #[test]
    fn modify_in_place_grows_and_marks_raw() {
        let mut s = Str::new(b"abc");
        let n = s.modify(|v| {
            v.extend_from_slice(&[b'x'; 30]);
            v.len()
        });
        assert_eq!(n, 33);
        assert_eq!(&s[..3], b"abc");
        assert_eq!(s.len(), 33);
        assert_eq!(s.encoding(), "raw");
        s.modify(|v| v.truncate(2));
        assert_eq!(&*s, b"ab");
        assert_eq!(s.encoding(), "raw", "raw stays raw, as in Redis");
    }

    #[test]
    fn a_string_value_is_three_words() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
    }
}
