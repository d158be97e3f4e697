//! A hash value. Small hashes are one flat buffer of length-prefixed field/value pairs in
//! insertion order (Redis's listpack: a few bytes of overhead per pair instead of a slab
//! entry plus an index position); once a hash outgrows hash-max-listpack-entries or stores a
//! field or value longer than hash-max-listpack-value it becomes a `Dict` for good, as in
//! Redis, even if it later shrinks.
use crate::keyspace::Dict;
use rand::Rng;

type Table = Dict<Box<[u8]>>;

#[derive(Clone)]
pub enum Hash {
    /// Pairs encoded as `varint(len) field varint(len) value`, back to back.
    Small(Vec<u8>),
    /// Boxed so a hash value stays the size of a Vec inside `Value`.
    Table(Box<Table>),
}

/// The hash-max-listpack-* thresholds in force when a hash is written.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

impl Limits {
    pub fn from_cfg(cfg: &crate::config::Config) -> Self {
        Limits {
            entries: cfg.hash_max_listpack_entries.max(0) as usize,
            value: cfg.hash_max_listpack_value.max(0) as usize,
        }
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Small(Vec::new())
    }
}

fn put_varint(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push(n as u8 | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Reads one length-prefixed string at `*pos`, advancing past it.
fn get_str<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    let s = &buf[*pos..*pos + n];
    *pos += n;
    s
}

/// The pairs of a small hash, with each pair's byte range in the buffer.
pub struct SmallPairs<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for SmallPairs<'a> {
    /// (start offset, field, value, end offset)
    type Item = (usize, &'a [u8], &'a [u8], usize);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let f = get_str(self.buf, &mut self.pos);
        let v = get_str(self.buf, &mut self.pos);
        Some((start, f, v, self.pos))
    }
}

fn pairs(buf: &[u8]) -> SmallPairs<'_> {
    SmallPairs { buf, pos: 0 }
}

/// Encodes one pair into `out` (exact growth: small hashes should not carry slack).
fn encode_pair(out: &mut Vec<u8>, f: &[u8], v: &[u8]) {
    out.reserve_exact(varint_len(f.len()) + f.len() + varint_len(v.len()) + v.len());
    put_varint(out, f.len());
    out.extend_from_slice(f);
    put_varint(out, v.len());
    out.extend_from_slice(v);
}

pub enum Iter<'a> {
    Small(SmallPairs<'a>),
    Table(Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(p) => p.next().map(|(_, f, v, _)| (f, v)),
            Iter::Table(t) => t.next(),
        }
    }
}

impl Hash {
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether the compact (listpack) form is in use.
    pub fn is_small(&self) -> bool {
        matches!(self, Hash::Small(_))
    }
    pub fn len(&self) -> usize {
        match self {
            Hash::Small(b) => pairs(b).count(),
            Hash::Table(t) => t.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        match self {
            Hash::Small(b) => b.is_empty(),
            Hash::Table(t) => t.is_empty(),
        }
    }
    pub fn get(&self, f: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Small(b) => pairs(b).find(|p| p.1 == f).map(|p| p.2),
            Hash::Table(t) => t.get(f).map(|v| &**v),
        }
    }
    pub fn contains(&self, f: &[u8]) -> bool {
        self.get(f).is_some()
    }
    /// Pairs in storage order (insertion order for the small form).
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Small(b) => Iter::Small(pairs(b)),
            Hash::Table(t) => Iter::Table(Box::new(t.iter().map(|(f, v)| (&**f, &**v)))),
        }
    }
    /// Sets `f` to `v`, converting to the table form when the limits require it.
    /// Returns whether `f` is a new field.
    pub fn set(&mut self, f: &[u8], v: &[u8], lim: Limits) -> bool {
        if let Hash::Small(b) = self {
            if f.len() > lim.value || v.len() > lim.value {
                self.convert();
            } else {
                let mut count = 0;
                let mut found = None;
                for (start, pf, pv, end) in pairs(b) {
                    if pf == f {
                        found = Some((start, end, pv.len()));
                        break;
                    }
                    count += 1;
                }
                match found {
                    Some((_, end, old)) if old == v.len() => {
                        // Same length (a counter, usually): overwrite in place.
                        b[end - old..end].copy_from_slice(v);
                        return false;
                    }
                    Some((start, end, _)) => {
                        let mut pair = Vec::new();
                        encode_pair(&mut pair, f, v);
                        b.splice(start..end, pair);
                        b.shrink_to_fit();
                        return false;
                    }
                    None if count < lim.entries => {
                        encode_pair(b, f, v);
                        return true;
                    }
                    None => self.convert(),
                }
            }
        }
        let Hash::Table(t) = self else { unreachable!() };
        t.insert(f, v.into()).is_none()
    }
    /// Removes `f`; returns whether it was present.
    pub fn remove(&mut self, f: &[u8]) -> bool {
        match self {
            Hash::Small(b) => match pairs(b).find(|p| p.1 == f) {
                Some((start, _, _, end)) => {
                    b.drain(start..end);
                    b.shrink_to_fit();
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove(f).is_some(),
        }
    }
    /// Moves every pair into a Dict (one way: Redis never converts back).
    fn convert(&mut self) {
        if let Hash::Small(b) = self {
            let mut t = Table::with_capacity(pairs(b).count() + 1);
            for (_, f, v, _) in pairs(b) {
                t.insert_new(f.into(), v.into());
            }
            *self = Hash::Table(Box::new(t));
        }
    }
    /// HSCAN of the table form from `cursor`; the small form is scanned whole (cursor 0).
    pub fn scan(&self, cursor: usize, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> usize {
        match self {
            Hash::Small(_) => {
                self.iter().for_each(|(k, v)| f(k, v));
                0
            }
            Hash::Table(t) if cursor >= t.pos_bound() => 0,
            Hash::Table(t) => t.scan(cursor, count, |k, v| f(k, v)),
        }
    }
    /// Random access by position, for HRANDFIELD.
    pub fn sampler(&self) -> Sampler<'_> {
        match self {
            Hash::Small(_) => Sampler::Small(self.iter().collect()),
            Hash::Table(t) => Sampler::Table(t),
        }
    }
    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Small(b) => b.capacity(),
            Hash::Table(t) => {
                std::mem::size_of::<Table>()
                    + t.iter()
                        .map(|(k, v)| k.len() + v.len() + Table::ENTRY_OVERHEAD)
                        .sum::<usize>()
            }
        }
    }
}

/// Positions of a hash that can be drawn at random: pair indexes of the small form,
/// positions of the table form (some positions may be vacant).
pub enum Sampler<'a> {
    Small(Vec<(&'a [u8], &'a [u8])>),
    Table(&'a Table),
}

impl<'a> Sampler<'a> {
    pub fn len(&self) -> usize {
        match self {
            Sampler::Small(p) => p.len(),
            Sampler::Table(t) => t.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One past the highest position.
    pub fn bound(&self) -> usize {
        match self {
            Sampler::Small(p) => p.len(),
            Sampler::Table(t) => t.pos_bound(),
        }
    }
    pub fn at(&self, pos: usize) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            Sampler::Small(p) => p.get(pos).copied(),
            Sampler::Table(t) => t.at(pos).map(|(f, v)| (&**f, &**v)),
        }
    }
    /// A random occupied position.
    pub fn random(&self) -> Option<usize> {
        match self {
            Sampler::Small(p) if p.is_empty() => None,
            Sampler::Small(p) => Some(rand::thread_rng().gen_range(0..p.len())),
            Sampler::Table(t) => t.random_pos(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        entries: 3,
        value: 8,
    };

    #[test]
    fn small_keeps_order_and_replaces_in_place() {
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1", LIM));
        assert!(h.set(b"a", b"2", LIM));
        assert!(!h.set(b"b", b"333", LIM));
        let got: Vec<_> = h.iter().collect();
        assert_eq!(got, vec![(&b"b"[..], &b"333"[..]), (&b"a"[..], &b"2"[..])]);
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 1);
        assert!(h.is_small());
    }

    #[test]
    fn converts_on_count_and_length_and_stays_converted() {
        let mut h = Hash::new();
        for f in [&b"x"[..], b"y", b"z"] {
            h.set(f, b"v", LIM);
        }
        assert!(h.is_small());
        h.set(b"w", b"v", LIM);
        assert!(!h.is_small());
        assert_eq!(h.len(), 4);
        for f in [&b"x"[..], b"y", b"z"] {
            h.remove(f);
        }
        assert!(!h.is_small());
        assert_eq!(h.get(b"w"), Some(&b"v"[..]));

        let mut h = Hash::new();
        h.set(b"f", b"123456789", LIM);
        assert!(!h.is_small());
    }

    #[test]
    fn value_stays_small() {
        assert_eq!(std::mem::size_of::<Hash>(), std::mem::size_of::<Vec<u8>>());
        let mut h = Hash::new();
        h.set(b"n", b"10", LIM);
        h.set(b"m", b"x", LIM);
        h.set(b"n", b"11", LIM);
        h.set(b"n", b"9", LIM);
        assert_eq!(h.get(b"n"), Some(&b"9"[..]));
        assert_eq!(h.get(b"m"), Some(&b"x"[..]));
    }

    #[test]
    fn long_lengths_round_trip() {
        let big = vec![7u8; 300];
        let lim = Limits {
            entries: 10,
            value: 1000,
        };
        let mut h = Hash::new();
        h.set(&big, &big, lim);
        h.set(b"k", b"", lim);
        assert!(h.is_small());
        assert_eq!(h.get(&big), Some(&big[..]));
        assert_eq!(h.get(b"k"), Some(&b""[..]));
        assert_eq!(h.len(), 2);
    }
}
