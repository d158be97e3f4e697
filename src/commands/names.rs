//! `NameMap`: case-insensitive command (and subcommand) name → table id.
//!
//! Every command looks its name up once, so this is on the hot path. Names of up to 15
//! bytes (all but a handful of Redis's commands) are folded to lowercase into one `u128`
//! together with their length: hashing and comparing that is a few instructions, where a
//! byte-string key costs a length-prefixed hash and a `memcmp` (a quarter of GET's
//! dispatch time before). Longer names go through an ordinary byte-string map.
use hashbrown::HashMap;

const SHORT_MAX: usize = 15;

#[derive(Default)]
pub struct NameMap {
    short: HashMap<u128, usize>,
    long: HashMap<Box<[u8]>, usize>,
}

/// The lowercased name and its length in one integer, or None if longer than SHORT_MAX.
/// The bytes are read with a few overlapping loads straight into registers (a copy into
/// a stack buffer then a wide load stalls on store forwarding), then folded 8 at a time.
#[inline]
fn short_key(name: &[u8]) -> Option<u128> {
    let n = name.len();
    let (lo, hi) = match n {
        0 => (0, 0),
        1..=3 => {
            let w = name[0] as u64
                | (name[n / 2] as u64) << (8 * (n / 2))
                | (name[n - 1] as u64) << (8 * (n - 1));
            (w, 0)
        }
        4..=7 => {
            let a = u32::from_le_bytes(name[..4].try_into().unwrap()) as u64;
            let b = u32::from_le_bytes(name[n - 4..].try_into().unwrap()) as u64;
            (a | b << (8 * (n - 4)), 0)
        }
        8..=SHORT_MAX => {
            let a = u64::from_le_bytes(name[..8].try_into().unwrap());
            let b = u64::from_le_bytes(name[n - 8..].try_into().unwrap());
            (a, b >> (8 * (16 - n)))
        }
        _ => return None,
    };
    // Byte 15 (the top byte of `hi`, never a name byte here) holds the length.
    Some(((lower(hi) | (n as u64) << 56) as u128) << 64 | lower(lo) as u128)
}

/// ASCII lowercase of 8 bytes at once: set bit 5 in every byte that is 'A'..='Z'.
#[inline]
fn lower(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = x & !HIGH;
    // Per byte (no carries: low7 <= 0x7f): bit 7 set iff >= 'A', and iff > 'Z'.
    let ge_a = low7 + 0x3f3f_3f3f_3f3f_3f3f;
    let gt_z = low7 + 0x2525_2525_2525_2525;
    let upper = ge_a & !gt_z & !x & HIGH;
    x | upper >> 2
}

impl NameMap {
    pub fn insert(&mut self, name: &[u8], id: usize) {
        match short_key(name) {
            Some(k) => self.short.insert(k, id),
            None => self.long.insert(name.to_ascii_lowercase().into(), id),
        };
    }
    pub fn remove(&mut self, name: &[u8]) {
        match short_key(name) {
            Some(k) => self.short.remove(&k),
            None => self.long.remove(name.to_ascii_lowercase().as_slice()),
        };
    }
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<usize> {
        match short_key(name) {
            Some(k) => self.short.get(&k).copied(),
            None => self.get_long(name),
        }
    }
    #[cold]
    fn get_long(&self, name: &[u8]) -> Option<usize> {
        // No allocation for a name of any length a client may send.
        let mut buf = [0u8; 64];
        let buf = buf.get_mut(..name.len())?;
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        self.long.get(&*buf).copied()
    }
    pub fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }
    pub fn values(&self) -> impl Iterator<Item = &usize> {
        self.short.values().chain(self.long.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_short_and_long_names() {
        let mut m = NameMap::default();
        m.insert(b"get", 1);
        m.insert(b"georadiusbymember_ro", 2);
        m.insert(b"zrangebyscore", 3);
        assert_eq!(m.get(b"GET"), Some(1));
        assert_eq!(m.get(b"gEt"), Some(1));
        assert_eq!(m.get(b"GEORADIUSBYMEMBER_RO"), Some(2));
        assert_eq!(m.get(b"ZRangeByScore"), Some(3));
        // Length is part of the key: a trailing NUL or a prefix is another name.
        assert_eq!(m.get(b"get\0"), None);
        assert_eq!(m.get(b"ge"), None);
        assert_eq!(m.get(b"get_"), None);
        assert_eq!(m.get(&[b'x'; 100]), None);
        // Bytes that differ only in bit 5 but are not letters must not fold together.
        m.insert(b"a_b", 4);
        assert_eq!(m.get(b"a\x7fb"), None);
        assert_eq!(m.get(b"A_B"), Some(4));
        m.remove(b"GET");
        assert_eq!(m.get(b"get"), None);
        m.remove(b"GEORADIUSBYMEMBER_ro");
        assert_eq!(m.get(b"georadiusbymember_ro"), None);
        assert_eq!(m.values().count(), 2);
        // Every length up to the long map, every byte value: folding only 'A'..='Z'.
        for len in 1..=20usize {
            for b in 0..=255u8 {
                let name: Vec<u8> = (0..len)
                    .map(|i| if i == len / 2 { b } else { b'k' })
                    .collect();
                let mut m = NameMap::default();
                m.insert(&name.to_ascii_lowercase(), 7);
                assert_eq!(m.get(&name), Some(7), "{name:?}");
                assert_eq!(m.get(&name.to_ascii_uppercase()), Some(7), "{name:?}");
                let mut other = name.clone();
                other[len / 2] ^= 0x20;
                let expect = other.eq_ignore_ascii_case(&name).then_some(7);
                assert_eq!(m.get(&other), expect, "{name:?} vs {other:?}");
                assert_eq!(m.get(&name[..len - 1]), None);
            }
        }
    }
}
