//! A hash value. Small hashes are one flat buffer of length-prefixed field/value pairs in
//! insertion order (Redis's listpack: a few bytes of overhead per pair instead of a slab
//! entry plus an index position); once a hash outgrows hash-max-listpack-entries or stores a
//! field or value longer than hash-max-listpack-value it becomes a `Dict` for good, as in
//! Redis, even if it later shrinks.
use rand::Rng;

use crate::keyspace::Table as Slots;

/// One field and its value in a single allocation (`varint(field length) field value`):
/// a table cell is this box's 16 bytes, where a (field, value) pair of `Key`s took 48.
#[derive(Clone)]
pub struct Pair(Box<[u8]>);

impl Pair {
    fn new(f: &[u8], v: &[u8]) -> Self {
        let mut b = Vec::with_capacity(varint_len(f.len()) + f.len() + v.len());
        put_varint(&mut b, f.len());
        b.extend_from_slice(f);
        b.extend_from_slice(v);
        Pair(b.into())
    }
    #[inline]
    fn split(&self) -> (&[u8], &[u8]) {
        let b = &self.0;
        let mut p = 0;
        let n = varint::read(b, &mut p);
        (&b[p..p + n], &b[p + n..])
    }
    /// Replaces the value: in place when the length is the same (a counter, a fixed-width
    /// value), else a new block.
    fn set_value(&mut self, f: &[u8], v: &[u8]) {
        let at = self.0.len() - self.value().len();
        if self.0.len() - at == v.len() {
            self.0[at..].copy_from_slice(v);
        } else {
            *self = Pair::new(f, v);
        }
    }
    pub fn field(&self) -> &[u8] {
        self.split().0
    }
    pub fn value(&self) -> &[u8] {
        self.split().1
    }
}

impl crate::keyspace::dict::Keyed for Pair {
    #[inline]
    fn key(&self) -> &[u8] {
        self.field()
    }
}

type Table = Slots<Pair>;

#[derive(Clone)]
pub enum Hash {
    /// Pairs encoded as `varint(len) field varint(len) value`, back to back.
    Small(Box<[u8]>),
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
        Hash::Small(Box::default())
    }
}

use super::varint::{self, len as varint_len};

fn put_varint(buf: &mut Vec<u8>, n: usize) {
    varint::put(buf, n as u64)
}

/// A field or value read from a hash: borrowed bytes, or the text of an integer-encoded
/// one (formatted on the stack). Dereferences to the bytes either way.
#[derive(Clone, Copy)]
pub enum Val<'a> {
    Bytes(&'a [u8]),
    Num { buf: [u8; 20], len: u8 },
}

impl std::ops::Deref for Val<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Val::Bytes(b) => b,
            Val::Num { buf, len } => &buf[..*len as usize],
        }
    }
}

impl AsRef<[u8]> for Val<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Val<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

impl PartialEq<&[u8]> for Val<'_> {
    fn eq(&self, o: &&[u8]) -> bool {
        **self == **o
    }
}

fn num_val(n: i64) -> Val<'static> {
    let mut buf = [0u8; 20];
    let mut f = itoa::Buffer::new();
    let t = f.format(n).as_bytes();
    buf[..t.len()].copy_from_slice(t);
    Val::Num {
        buf,
        len: t.len() as u8,
    }
}

/// The integer a string is the canonical text of (as Redis's listpack stores it).
#[inline]
fn as_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let n = crate::util::parse_i64(s)?;
    (itoa::Buffer::new().format(n).as_bytes() == s).then_some(n)
}

/// Bytes of the smallest little-endian form of `n` that sign-extends back (1..=8).
#[inline]
fn int_width(n: i64) -> usize {
    let mut w = 8;
    while w > 1 {
        let sh = 64 - 8 * (w as u32 - 1);
        if (n << sh) >> sh != n {
            break;
        }
        w -= 1;
    }
    w
}

/// One item (field or value) of the compact form: `varint(len << 1)` and the bytes, or
/// `varint(width << 1 | 1)` and an integer in `width` little-endian bytes when the
/// string is an integer's canonical text: "1234567" takes 4 bytes instead of 8.
enum Item<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl<'a> Item<'a> {
    #[inline]
    fn of(s: &'a [u8]) -> Self {
        match as_int(s) {
            Some(n) => Item::Int(n),
            None => Item::Bytes(s),
        }
    }
    fn encoded_len(&self) -> usize {
        match self {
            Item::Bytes(b) => varint_len(b.len() << 1) + b.len(),
            Item::Int(n) => 1 + int_width(*n),
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Item::Bytes(b) => {
                put_varint(out, b.len() << 1);
                out.extend_from_slice(b);
            }
            Item::Int(n) => {
                let w = int_width(*n);
                out.push((w << 1 | 1) as u8);
                out.extend_from_slice(&n.to_le_bytes()[..w]);
            }
        }
    }
    /// Writes the encoding into `out` (exactly `encoded_len` bytes).
    fn write_at(&self, out: &mut [u8]) {
        match self {
            Item::Bytes(b) => {
                let p = varint::write(out, b.len() << 1);
                out[p..].copy_from_slice(b);
            }
            Item::Int(n) => {
                let w = int_width(*n);
                out[0] = (w << 1 | 1) as u8;
                out[1..].copy_from_slice(&n.to_le_bytes()[..w]);
            }
        }
    }
    fn val(&self) -> Val<'a> {
        match self {
            Item::Bytes(b) => Val::Bytes(b),
            Item::Int(n) => num_val(*n),
        }
    }
}

/// Reads one item at `*pos`, advancing past it.
#[inline]
fn get_item<'a>(buf: &'a [u8], pos: &mut usize) -> Item<'a> {
    let h = varint::read(buf, pos);
    if h & 1 == 1 {
        let w = h >> 1;
        let mut raw = [0u8; 8];
        raw[..w].copy_from_slice(&buf[*pos..*pos + w]);
        *pos += w;
        let sh = 64 - 8 * w as u32;
        Item::Int((i64::from_le_bytes(raw) << sh) >> sh)
    } else {
        let n = h >> 1;
        let s = &buf[*pos..*pos + n];
        *pos += n;
        Item::Bytes(s)
    }
}

/// The pairs of a small hash, with each pair's byte range in the buffer.
pub struct SmallPairs<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> SmallPairs<'a> {
    /// (start offset, field, value, end offset, value's start offset)
    #[inline]
    fn next_raw(&mut self) -> Option<(usize, Item<'a>, Item<'a>, usize, usize)> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let f = get_item(self.buf, &mut self.pos);
        let vstart = self.pos;
        let v = get_item(self.buf, &mut self.pos);
        Some((start, f, v, self.pos, vstart))
    }
}

impl<'a> Iterator for SmallPairs<'a> {
    type Item = (Val<'a>, Val<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        self.next_raw().map(|(_, f, v, _, _)| (f.val(), v.val()))
    }
}

fn pairs(buf: &[u8]) -> SmallPairs<'_> {
    SmallPairs { buf, pos: 0 }
}

/// Encodes one pair into `out` (exact growth: small hashes should not carry slack).
fn encode_pair(out: &mut Vec<u8>, f: &Item, v: &Item) {
    out.reserve_exact(f.encoded_len() + v.encoded_len());
    f.encode(out);
    v.encode(out);
}

pub enum Iter<'a> {
    Small(SmallPairs<'a>),
    Table(Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Val<'a>, Val<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(p) => p.next(),
            Iter::Table(t) => t.next().map(|(f, v)| (Val::Bytes(f), Val::Bytes(v))),
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
    pub fn get(&self, f: &[u8]) -> Option<Val<'_>> {
        match self {
            Hash::Small(b) => Self::find_small(b, f).0.map(|(_, vstart, _)| {
                let mut p = vstart;
                get_item(b, &mut p).val()
            }),
            Hash::Table(t) => t
                .pos_of(f)
                .and_then(|p| t.item(p))
                .map(|p| Val::Bytes(p.value())),
        }
    }
    /// Where field `f` is in the small form: (pair start, value start, pair end), and
    /// how many pairs come before it (all of them when absent).
    fn find_small(b: &[u8], f: &[u8]) -> (Option<(usize, usize, usize)>, usize) {
        // One pass reading headers only: a string's length and an integer's width are
        // both the header shifted right once, so a value is skipped without decoding.
        use varint::read as header;
        let probe = Item::of(f);
        let (mut p, mut count) = (0, 0);
        while p < b.len() {
            let start = p;
            let h = header(b, &mut p);
            let n = h >> 1;
            let hit = match probe {
                Item::Bytes(x) => h & 1 == 0 && n == x.len() && &b[p..p + n] == x,
                Item::Int(v) => {
                    h & 1 == 1 && {
                        let mut raw = [0u8; 8];
                        raw[..n].copy_from_slice(&b[p..p + n]);
                        let sh = 64 - 8 * n as u32;
                        (i64::from_le_bytes(raw) << sh) >> sh == v
                    }
                }
            };
            p += n;
            let vstart = p;
            let vh = header(b, &mut p);
            p += vh >> 1;
            if hit {
                return (Some((start, vstart, p)), count);
            }
            count += 1;
        }
        (None, count)
    }
    pub fn contains(&self, f: &[u8]) -> bool {
        self.get(f).is_some()
    }
    /// Pairs in storage order (insertion order for the small form).
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Small(b) => Iter::Small(pairs(b)),
            Hash::Table(t) => Iter::Table(Box::new(t.items().map(|(_, p)| p.split()))),
        }
    }
    /// Sets `f` to `v`, converting to the table form when the limits require it.
    /// Returns whether `f` is a new field.
    pub fn set(&mut self, f: &[u8], v: &[u8], lim: Limits) -> bool {
        if let Hash::Small(b) = self {
            if f.len() > lim.value || v.len() > lim.value {
                self.convert();
            } else {
                let (found, count) = Self::find_small(b, f);
                let nv = Item::of(v);
                match found {
                    Some((_, vstart, end)) if end - vstart == nv.encoded_len() => {
                        // Same encoded size (a counter, usually): overwrite in place.
                        nv.write_at(&mut b[vstart..end]);
                        return false;
                    }
                    Some((_, vstart, end)) => {
                        // Resize the value's room in place, then write it there.
                        let (old, new) = (end - vstart, nv.encoded_len());
                        crate::types::boxbuf::edit(b, |b| {
                            if new > old {
                                b.splice(vstart..vstart, std::iter::repeat_n(0, new - old));
                            } else {
                                b.drain(vstart..vstart + old - new);
                            }
                            nv.write_at(&mut b[vstart..vstart + new]);
                        });
                        return false;
                    }
                    None if count < lim.entries => {
                        crate::types::boxbuf::edit(b, |b| encode_pair(b, &Item::of(f), &nv));
                        return true;
                    }
                    None => self.convert(),
                }
            }
        }
        let Hash::Table(t) = self else { unreachable!() };
        match t.pos_of(f) {
            Some(p) => {
                if let Some(cell) = t.item_mut(p) {
                    cell.set_value(f, v);
                }
                false
            }
            None => {
                t.add(Pair::new(f, v));
                true
            }
        }
    }
    /// Removes `f`; returns whether it was present.
    pub fn remove(&mut self, f: &[u8]) -> bool {
        match self {
            Hash::Small(b) => match Self::find_small(b, f).0 {
                Some((start, _, end)) => {
                    crate::types::boxbuf::edit(b, |b| {
                        b.drain(start..end);
                    });
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove_key(f).is_some(),
        }
    }
    /// Moves every pair into a Dict (one way: Redis never converts back).
    fn convert(&mut self) {
        if let Hash::Small(b) = self {
            let mut t = Table::with_capacity(pairs(b).count() + 1);
            for (f, v) in pairs(b) {
                t.add(Pair::new(&f, &v));
            }
            *self = Hash::Table(Box::new(t));
        }
    }
    /// HSCAN of the table form from `cursor`; the small form is scanned whole (cursor 0).
    pub fn scan(&self, cursor: usize, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> usize {
        match self {
            Hash::Small(_) => {
                self.iter().for_each(|(k, v)| f(&k, &v));
                0
            }
            Hash::Table(t) if cursor >= t.pos_bound() => 0,
            Hash::Table(t) => t.scan_items(cursor, count, |p| {
                let (k, v) = p.split();
                f(k, v)
            }),
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
            Hash::Small(b) => b.len(),
            Hash::Table(t) => {
                // A 16-byte cell, ~5 bytes of index and the pair's own block.
                std::mem::size_of::<Table>()
                    + t.items().map(|(_, p)| p.0.len() + 16 + 5).sum::<usize>()
            }
        }
    }
}

/// Positions of a hash that can be drawn at random: pair indexes of the small form,
/// positions of the table form (some positions may be vacant).
pub enum Sampler<'a> {
    Small(Vec<(Val<'a>, Val<'a>)>),
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
    pub fn at(&self, pos: usize) -> Option<(Val<'a>, Val<'a>)> {
        match self {
            Sampler::Small(p) => p.get(pos).copied(),
            Sampler::Table(t) => t.item(pos).map(|p| {
                let (f, v) = p.split();
                (Val::Bytes(f), Val::Bytes(v))
            }),
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
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                (b"b".to_vec(), b"333".to_vec()),
                (b"a".to_vec(), b"2".to_vec())
            ]
        );
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
        assert_eq!(h.get(b"w").as_deref(), Some(&b"v"[..]));

        let mut h = Hash::new();
        h.set(b"f", b"123456789", LIM);
        assert!(!h.is_small());
    }

    #[test]
    fn value_stays_small() {
        assert_eq!(std::mem::size_of::<Hash>(), 16);
        let mut h = Hash::new();
        h.set(b"n", b"10", LIM);
        h.set(b"m", b"x", LIM);
        h.set(b"n", b"11", LIM);
        h.set(b"n", b"9", LIM);
        assert_eq!(h.get(b"n").as_deref(), Some(&b"9"[..]));
        assert_eq!(h.get(b"m").as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn integers_are_stored_compactly_and_read_back_as_text() {
        let lim = Limits {
            entries: 100,
            value: 64,
        };
        let mut h = Hash::new();
        let cases: [&[u8]; 12] = [
            b"0",
            b"-1",
            b"127",
            b"1234567",
            b"-9223372036854775808",
            b"9223372036854775807",
            b"01",
            b"+1",
            b"-0",
            b"1.5",
            b" 1",
            b"99999999999999999999",
        ];
        for (i, v) in cases.iter().enumerate() {
            assert!(h.set(v, v, lim), "{i}");
        }
        for v in cases {
            assert_eq!(h.get(v).as_deref(), Some(v));
        }
        let Hash::Small(b) = &h else { panic!() };
        // "1234567" as a field and as a value: 1 + 3 bytes each, not 1 + 7.
        assert!(b.len() < cases.iter().map(|c| 2 * (c.len() + 1)).sum::<usize>());
        assert_eq!(h.get(b"1").as_deref(), None);
        assert!(!h.set(b"127", b"300", lim));
        assert_eq!(h.get(b"127").as_deref(), Some(&b"300"[..]));
        assert!(h.remove(b"-1") && !h.remove(b"-1"));
        assert_eq!(h.len(), cases.len() - 1);
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
        assert_eq!(h.get(&big).as_deref(), Some(&big[..]));
        assert_eq!(h.get(b"k").as_deref(), Some(&b""[..]));
        assert_eq!(h.len(), 2);
    }
}
