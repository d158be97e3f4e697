//! A hash value. Small hashes are one flat buffer of length-prefixed field/value pairs in
//! insertion order (Redis's listpack: a few bytes of overhead per pair instead of a slab
//! entry plus an index position); once a hash outgrows hash-max-listpack-entries or stores a
//! field or value longer than hash-max-listpack-value it becomes a `Dict` for good, as in
//! Redis, even if it later shrinks.
use super::thin::{Form, Packed, ThinBytes};
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

/// One word (see `thin`): the small form's pairs, encoded back to back (see `Item`), or
/// a boxed table.
#[derive(Clone)]
pub struct Hash(Packed<ThinBytes, Table>);

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
        Hash(Packed::compact(ThinBytes::new()))
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

/// One item (field or value) of the compact form: bytes, or an integer when the string is
/// an integer's canonical text ("1234567" takes 3 bytes instead of 7).
///
/// A pair is one header byte, the field's code in its high nibble and the value's in its
/// low one, then the field and the value:
/// - codes 0..=9: a string of that many bytes;
/// - codes 10..=14: an integer in 1, 2, 3, 4 or 8 little-endian bytes (sign-extended);
/// - code 15 (`LONG`): a varint follows, `len << 1` for a longer string or
///   `width << 1 | 1` for an integer of another width, then the bytes.
///
/// `f3 → 1234567` is 1 + 2 + 3 = 6 bytes (Redis's listpack: 10); short field names with
/// integer or short values, the common hash, pay one byte of header per pair.
#[derive(Clone, Copy)]
enum Item<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

/// Strings up to this long have their length in the nibble.
const INLINE_MAX: usize = 9;
/// Integer widths with a nibble code of their own (10 + index).
const INT_WIDTHS: [usize; 5] = [1, 2, 3, 4, 8];
const LONG: u8 = 15;

impl<'a> Item<'a> {
    #[inline]
    fn of(s: &'a [u8]) -> Self {
        match as_int(s) {
            Some(n) => Item::Int(n),
            None => Item::Bytes(s),
        }
    }
    /// The nibble code, and the varint after the header byte when it is `LONG`.
    #[inline]
    fn code(&self) -> (u8, Option<usize>) {
        match *self {
            Item::Bytes(b) if b.len() <= INLINE_MAX => (b.len() as u8, None),
            Item::Bytes(b) => (LONG, Some(b.len() << 1)),
            Item::Int(n) => {
                let w = int_width(n);
                match INT_WIDTHS.iter().position(|&x| x == w) {
                    Some(i) => (10 + i as u8, None),
                    None => (LONG, Some(w << 1 | 1)),
                }
            }
        }
    }
    /// Bytes after the header byte: the long form's varint, then the item's own bytes.
    #[inline]
    fn encoded_len(&self) -> usize {
        let body = match *self {
            Item::Bytes(b) => b.len(),
            Item::Int(n) => int_width(n),
        };
        body + self.code().1.map_or(0, varint_len)
    }
    /// Writes what `encoded_len` counts into `out` (exactly that many bytes).
    fn write_at(&self, out: &mut [u8]) {
        let p = match self.code().1 {
            Some(ext) => varint::write(out, ext),
            None => 0,
        };
        match *self {
            Item::Bytes(b) => out[p..].copy_from_slice(b),
            Item::Int(n) => out[p..].copy_from_slice(&n.to_le_bytes()[..int_width(n)]),
        }
    }
    fn val(&self) -> Val<'a> {
        match *self {
            Item::Bytes(b) => Val::Bytes(b),
            Item::Int(n) => num_val(n),
        }
    }
}

/// The encoded size of a pair.
#[inline]
fn pair_len(f: &Item, v: &Item) -> usize {
    1 + f.encoded_len() + v.encoded_len()
}

/// Writes a pair into `out` (exactly `pair_len` bytes).
fn write_pair(out: &mut [u8], f: &Item, v: &Item) {
    out[0] = f.code().0 << 4 | v.code().0;
    let fl = f.encoded_len();
    f.write_at(&mut out[1..1 + fl]);
    v.write_at(&mut out[1 + fl..]);
}

/// Bytes of an item of each nibble code but `LONG`.
const SPAN: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 8];

/// Where an item of nibble `code` is, at `*pos`: (is an integer, its byte length), with
/// `*pos` moved past the long form's varint to the item's bytes.
#[inline(always)]
fn item_span(code: u8, buf: &[u8], pos: &mut usize) -> (bool, usize) {
    if code < LONG {
        (code >= 10, SPAN[code as usize] as usize)
    } else {
        let h = varint::read(buf, pos);
        (h & 1 == 1, h >> 1)
    }
}

/// Reads an item of nibble `code` at `*pos`, advancing past it.
#[inline]
fn get_item<'a>(code: u8, buf: &'a [u8], pos: &mut usize) -> Item<'a> {
    let (int, n) = item_span(code, buf, pos);
    let s = &buf[*pos..*pos + n];
    *pos += n;
    if int {
        Item::Int(read_int(s))
    } else {
        Item::Bytes(s)
    }
}

/// A sign-extended little-endian integer of 1..=8 bytes.
#[inline]
fn read_int(s: &[u8]) -> i64 {
    let mut raw = [0u8; 8];
    raw[..s.len()].copy_from_slice(s);
    let sh = 64 - 8 * s.len() as u32;
    (i64::from_le_bytes(raw) << sh) >> sh
}

/// The pairs of a small hash.
pub struct SmallPairs<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Reads the pair at `*pos`, advancing past it.
#[inline]
fn read_pair<'a>(buf: &'a [u8], pos: &mut usize) -> (Item<'a>, Item<'a>) {
    let h = buf[*pos];
    *pos += 1;
    let f = get_item(h >> 4, buf, pos);
    let v = get_item(h & 15, buf, pos);
    (f, v)
}

impl<'a> Iterator for SmallPairs<'a> {
    type Item = (Val<'a>, Val<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, v) = read_pair(self.buf, &mut self.pos);
        Some((f.val(), v.val()))
    }
}

fn pairs(buf: &[u8]) -> SmallPairs<'_> {
    SmallPairs { buf, pos: 0 }
}

/// Appends one pair (exact growth: small hashes should not carry slack).
fn append_pair(out: &mut ThinBytes, f: &Item, v: &Item) {
    let end = out.len();
    write_pair(out.splice(end, end, pair_len(f, v)), f, v);
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
    /// An empty hash in the table form.
    pub fn table_form() -> Self {
        Hash(Packed::big(Box::default()))
    }
    /// The table of a hash in the table form.
    pub fn table(&self) -> Option<&Table> {
        match self.0.get() {
            Form::Big(t) => Some(t),
            Form::Packed(_) => None,
        }
    }
    pub fn is_small(&self) -> bool {
        self.0.is_packed()
    }
    pub fn len(&self) -> usize {
        match self.0.get() {
            Form::Packed(b) => pairs(b).count(),
            Form::Big(t) => t.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        match self.0.get() {
            Form::Packed(b) => b.is_empty(),
            Form::Big(t) => t.is_empty(),
        }
    }
    pub fn get(&self, f: &[u8]) -> Option<Val<'_>> {
        match self.0.get() {
            Form::Packed(b) => Self::find_small(b, f).0.map(|(start, vstart, _)| {
                let mut p = vstart;
                get_item(b[start] & 15, b, &mut p).val()
            }),
            Form::Big(t) => t
                .pos_of(f)
                .and_then(|p| t.item(p))
                .map(|p| Val::Bytes(p.value())),
        }
    }
    /// Where field `f` is in the small form: (pair start, value start, pair end), and how
    /// many pairs come before it (all of them when absent).
    fn find_small(b: &[u8], f: &[u8]) -> (Option<(usize, usize, usize)>, usize) {
        // One pass over the header bytes: a field matches when its code and its bytes
        // are the probe's (an integer's bytes are canonical: its fewest); a value is
        // skipped by its code's span.
        let probe = Item::of(f);
        let pc = probe.code().0;
        let mut ib = [0u8; 8];
        let (pint, body): (bool, &[u8]) = match probe {
            Item::Bytes(x) => (false, x),
            Item::Int(v) => {
                let w = int_width(v);
                ib[..w].copy_from_slice(&v.to_le_bytes()[..w]);
                (true, &ib[..w])
            }
        };
        let (mut p, mut count) = (0, 0);
        while p < b.len() {
            let start = p;
            let h = b[p];
            p += 1;
            let fc = h >> 4;
            let (fint, n) = item_span(fc, b, &mut p);
            let hit = fc == pc && fint == pint && n == body.len() && &b[p..p + n] == body;
            p += n;
            let vstart = p;
            p += item_span(h & 15, b, &mut p).1;
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
        match self.0.get() {
            Form::Packed(b) => Iter::Small(pairs(b)),
            Form::Big(t) => Iter::Table(Box::new(t.items().map(|(_, p)| p.split()))),
        }
    }
    /// Sets `f` to `v`, converting to the table form when the limits require it.
    /// Returns whether `f` is a new field.
    pub fn set(&mut self, f: &[u8], v: &[u8], lim: Limits) -> bool {
        if let Form::Packed(b) = self.0.get_mut() {
            if f.len() > lim.value || v.len() > lim.value || !b.fits(f.len() + v.len() + 24) {
                self.convert();
            } else {
                let (found, count) = Self::find_small(b, f);
                let nv = Item::of(v);
                match found {
                    Some((start, _, end)) => {
                        // The pair rewritten where it is: in place when its size stays (a
                        // counter, usually), else resized in place first.
                        // The field matched: its encoding is the probe's.
                        let fi = Item::of(f);
                        let len = pair_len(&fi, &nv);
                        if len == end - start {
                            write_pair(&mut b[start..end], &fi, &nv);
                        } else {
                            write_pair(b.splice(start, end, len), &fi, &nv);
                        }
                        return false;
                    }
                    None if count < lim.entries => {
                        append_pair(b, &Item::of(f), &nv);
                        return true;
                    }
                    None => self.convert(),
                }
            }
        }
        let Form::Big(t) = self.0.get_mut() else {
            unreachable!()
        };
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
        match self.0.get_mut() {
            Form::Packed(b) => match Self::find_small(b, f).0 {
                Some((start, _, end)) => {
                    b.remove(start, end);
                    true
                }
                None => false,
            },
            Form::Big(t) => t.remove_key(f).is_some(),
        }
    }
    /// Moves every pair into a Dict (one way: Redis never converts back).
    fn convert(&mut self) {
        if let Form::Packed(b) = self.0.get() {
            let mut t = Table::with_capacity(pairs(b).count() + 1);
            for (f, v) in pairs(b) {
                t.add(Pair::new(&f, &v));
            }
            self.0 = Packed::big(Box::new(t));
        }
    }
    /// HSCAN of the table form from `cursor`; the small form is scanned whole (cursor 0).
    pub fn scan(&self, cursor: usize, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> usize {
        match self.0.get() {
            Form::Packed(_) => {
                self.iter().for_each(|(k, v)| f(&k, &v));
                0
            }
            Form::Big(t) if cursor >= t.pos_bound() => 0,
            Form::Big(t) => t.scan_items(cursor, count, |p| {
                let (k, v) = p.split();
                f(k, v)
            }),
        }
    }
    /// Random access by position, for HRANDFIELD.
    pub fn sampler(&self) -> Sampler<'_> {
        match self.0.get() {
            Form::Packed(_) => Sampler::Small(self.iter().collect()),
            Form::Big(t) => Sampler::Table(t),
        }
    }
    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self.0.get() {
            Form::Packed(b) => b.heap_size(),
            Form::Big(t) => {
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
        assert_eq!(std::mem::size_of::<Hash>(), 8);
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
        let Form::Packed(b) = h.0.get() else { panic!() };
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

    #[test]
    fn every_nibble_code_round_trips_under_churn() {
        // Strings of 0..=12 bytes (inline and long), integers of every width (the nibble
        // ones and the long form's 5..=7), "-0" and "007" (strings), against a model.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        let lim = Limits {
            entries: 64,
            value: 64,
        };
        let item = |rng: &mut rand::rngs::StdRng| -> Vec<u8> {
            match rng.gen_range(0..4) {
                0 => (0..rng.gen_range(0..=12))
                    .map(|_| rng.gen_range(b'a'..=b'c'))
                    .collect(),
                1 => {
                    let bits = rng.gen_range(0..64);
                    let n = rng.gen::<i64>() >> bits;
                    n.to_string().into_bytes()
                }
                2 => {
                    [&b"-0"[..], b"007", b"", b"9223372036854775807"][rng.gen_range(0..4)].to_vec()
                }
                _ => rng.gen_range(0..20).to_string().into_bytes(),
            }
        };
        for _ in 0..200 {
            let mut h = Hash::new();
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..60 {
                let f = item(&mut rng);
                if rng.gen_bool(0.2) {
                    let was = model.iter().position(|(k, _)| *k == f);
                    assert_eq!(h.remove(&f), was.is_some());
                    if let Some(i) = was {
                        model.remove(i);
                    }
                    continue;
                }
                let v = item(&mut rng);
                let new = match model.iter_mut().find(|(k, _)| *k == f) {
                    Some(kv) => {
                        kv.1 = v.clone();
                        false
                    }
                    None => {
                        model.push((f.clone(), v.clone()));
                        true
                    }
                };
                assert_eq!(h.set(&f, &v, lim), new);
                assert!(h.is_small());
                let got: Vec<(Vec<u8>, Vec<u8>)> =
                    h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                assert_eq!(got, model);
                for (k, v) in &model {
                    assert_eq!(h.get(k).as_deref(), Some(&v[..]));
                }
            }
        }
    }

    #[test]
    fn a_short_field_and_an_integer_take_one_header_byte() {
        let lim = Limits {
            entries: 8,
            value: 64,
        };
        let mut h = Hash::new();
        h.set(b"f3", b"1234567", lim);
        let Form::Packed(b) = h.0.get() else { panic!() };
        // Header, "f3", 1234567 in 3 bytes (Redis's listpack: 1+2+1 and 1+3+1).
        assert_eq!(b.len(), 1 + 2 + 3);
        h.set(b"f3", b"12345678901", lim);
        h.set(b"long field", b"v", lim);
        let Form::Packed(b) = h.0.get() else { panic!() };
        // 12345678901 is 5 bytes (long form: 1 + 5); "long field" is 10 (long: 1 + 10).
        assert_eq!(b.len(), (1 + 2 + 1 + 5) + (1 + 1 + 10 + 1));
        assert_eq!(h.get(b"f3").as_deref(), Some(&b"12345678901"[..]));
    }
}
