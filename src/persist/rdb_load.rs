//! The RDB reader: a whole Redis RDB file (versions 1 to 10, Redis 7.0) held in memory,
//! turned into a stream of items (keys with their values and metadata, function libraries,
//! aux fields, RESIZEDB hints) handed to a sink.
//!
//! Every length is checked against the bytes that remain before anything is allocated, the
//! compact encodings (ziplist, listpack, intset, zipmap, stream nodes) are validated entry
//! by entry, and no input makes it panic or recurse: a malformed file gives a `LoadError`
//! with the byte offset and a message worded like Redis's.
use super::crc64::crc64_update;
use super::lzf;
use crate::keyspace::{List, Value};
use crate::types::hash::Hash;
use crate::types::set::Set;
use crate::types::stream::{Consumer, Group, Nack, Stream, StreamId};
use crate::types::zset::ZSet;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use super::rdb::RDB_VERSION;
use super::rdb::*;

const EOF_MSG: &str = "Unexpected EOF reading RDB file";

/// Preallocation cap: a count read from the file only sizes a buffer this far.
const PREALLOC: usize = 1024;

/// Limits that shape a rebuilt value like the server's own commands would.
pub struct Shape {
    pub set_max_intset_entries: usize,
    pub stream_node_max_entries: u64,
    pub stream_node_max_bytes: u64,
    pub hash_limits: crate::types::hash::Limits,
}

/// The server settings that shape rebuilt values, as the server's own commands would.
pub struct LoadOpts {
    /// set-max-intset-entries, stream-node-max-*, hash-max-listpack-*.
    pub shape: Shape,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// `list-max-listpack-size` and `list-compress-depth` of loaded lists.
    pub list_fill: i64,
    pub list_depth: i64,
    /// `databases`: a SELECTDB at or past it is refused.
    pub databases: u64,
    /// Check the CRC-64 trailer (when the file has a non-zero one).
    pub verify_checksum: bool,
}

/// One key as stored in the file.
pub struct KeyItem<'a> {
    pub db: u64,
    pub key: Cow<'a, [u8]>,
    pub value: Value,
    /// Absolute expire time in Unix milliseconds (may be in the past: the caller decides).
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (RDB_OPCODE_IDLE).
    pub lru_idle: Option<u64>,
    /// LFU counter (RDB_OPCODE_FREQ).
    pub lfu_freq: Option<u8>,
}

/// What the file holds, in file order.
pub enum Item<'a> {
    Key(KeyItem<'a>),
    /// A function library's code, as FUNCTION LOAD takes it (the old FUNCTION opcode's
    /// name/engine/blob are turned into that form, as Redis does).
    Function(Vec<u8>),
    /// An aux field (redis-ver, redis-bits, ctime, used-mem, repl-id, repl-offset,
    /// repl-stream-db, aof-base, lua, ...); unknown ones are to be ignored.
    Aux {
        name: Cow<'a, [u8]>,
        value: Cow<'a, [u8]>,
    },
    /// A key whose container was empty, skipped (as Redis skips it, logging its name).
    EmptyKey(Cow<'a, [u8]>),
    /// RESIZEDB: how many keys and keys with a TTL follow for `db`.
    ResizeDb {
        db: u64,
        keys: u64,
        expires: u64,
    },
}

/// What happened to the checksum trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checksum {
    /// Version < 5: files had none.
    #[default]
    Absent,
    /// Saved with rdbchecksum no (zero): nothing to check.
    Disabled,
    /// Present, not checked (`verify_checksum` off).
    Unchecked,
    Verified,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub version: u32,
    /// Keys handed to the sink.
    pub keys: u64,
    pub functions: u64,
    /// Empty containers found in the file, skipped as Redis does.
    pub empty_keys_skipped: u64,
    pub checksum: Checksum,
    /// Where the RDB ended in the data (an AOF's RDB preamble is followed by commands).
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Offset in the file of the item or field found wrong.
    pub offset: usize,
    pub msg: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {})", self.msg, self.offset)
    }
}

impl std::error::Error for LoadError {}

type Res<T> = Result<T, LoadError>;

fn err<T>(offset: usize, msg: impl Into<String>) -> Res<T> {
    Err(LoadError {
        offset,
        msg: msg.into(),
    })
}

// ---- the byte reader ----

struct R<'a> {
    b: &'a [u8],
    pos: usize,
}

enum Len {
    Plain(u64),
    /// A special string encoding (INT8/16/32, LZF, or unknown).
    Enc(u8),
}

impl<'a> R<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.pos
    }
    fn eof<T>(&self) -> Res<T> {
        err(self.pos, EOF_MSG)
    }
    fn take(&mut self, n: u64) -> Res<&'a [u8]> {
        if n > self.left() as u64 {
            return self.eof();
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    fn fixed<const N: usize>(&mut self) -> Res<[u8; N]> {
        let s = self.take(N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u8(&mut self) -> Res<u8> {
        Ok(self.fixed::<1>()?[0])
    }
    fn i64le(&mut self) -> Res<i64> {
        Ok(i64::from_le_bytes(self.fixed()?))
    }
    fn len_raw(&mut self) -> Res<Len> {
        let at = self.pos;
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain(((b & 0x3f) as u64) << 8 | self.u8()? as u64),
            3 => Len::Enc(b & 0x3f),
            _ => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.fixed()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.fixed()?)),
                _ => return err(at, format!("Unknown length encoding {b} in rdbLoadLen()")),
            },
        })
    }
    /// A length; an encoded-string marker reads as its type number, as Redis's rdbLoadLen.
    fn len(&mut self) -> Res<u64> {
        Ok(match self.len_raw()? {
            Len::Plain(n) => n,
            Len::Enc(e) => e as u64,
        })
    }
    /// A count of items, each at least `min` bytes long: more than can fit is an EOF.
    fn count(&mut self, min: usize) -> Res<usize> {
        let n = self.len()?;
        if n > (self.left() / min.max(1)) as u64 {
            return self.eof();
        }
        Ok(n as usize)
    }
    fn string(&mut self) -> Res<Cow<'a, [u8]>> {
        let at = self.pos;
        Ok(match self.len_raw()? {
            Len::Plain(n) => Cow::Borrowed(self.take(n)?),
            Len::Enc(0) => int_bytes(self.fixed::<1>()?[0] as i8 as i64),
            Len::Enc(1) => int_bytes(i16::from_le_bytes(self.fixed()?) as i64),
            Len::Enc(2) => int_bytes(i32::from_le_bytes(self.fixed()?) as i64),
            Len::Enc(3) => {
                let clen = self.len()?;
                let ulen = self.len()?;
                let c = self.take(clen)?;
                match usize::try_from(ulen)
                    .ok()
                    .and_then(|u| lzf::decompress(c, u))
                {
                    Some(v) => Cow::Owned(v),
                    None => return err(at, "Invalid LZF compressed string"),
                }
            }
            Len::Enc(e) => return err(at, format!("Unknown RDB string encoding type {e}")),
        })
    }
    /// A stream ID as 16 raw bytes, big-endian (rax keys, PEL entries).
    fn raw_id(&mut self) -> Res<StreamId> {
        let a: [u8; 16] = self.fixed()?;
        Ok(id_from_be(&a))
    }
    fn len_id(&mut self) -> Res<StreamId> {
        Ok(StreamId::new(self.len()?, self.len()?))
    }
}

fn id_from_be(a: &[u8; 16]) -> StreamId {
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&a[..8]);
    seq.copy_from_slice(&a[8..]);
    StreamId::new(u64::from_be_bytes(ms), u64::from_be_bytes(seq))
}

fn int_bytes(n: i64) -> Cow<'static, [u8]> {
    Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec())
}

// ---- entry of a compact encoding ----

#[derive(Clone, Copy, Debug)]
enum Elem<'b> {
    Str(&'b [u8]),
    Int(i64),
}

impl<'b> Elem<'b> {
    fn bytes(self) -> Cow<'b, [u8]> {
        match self {
            Elem::Str(s) => Cow::Borrowed(s),
            Elem::Int(n) => int_bytes(n),
        }
    }
    fn int(self) -> Option<i64> {
        match self {
            Elem::Int(n) => Some(n),
            Elem::Str(s) => crate::util::parse_i64(s),
        }
    }
    fn score(self) -> Option<f64> {
        let d = match self {
            Elem::Int(n) => n as f64,
            Elem::Str(s) => std::str::from_utf8(s).ok()?.parse::<f64>().ok()?,
        };
        (!d.is_nan()).then_some(d)
    }
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn int_le(b: &[u8]) -> i64 {
    // Sign-extend a little-endian integer of 1..=8 bytes.
    let mut v: i64 = 0;
    for (i, &x) in b.iter().enumerate() {
        v |= (x as i64) << (8 * i);
    }
    let bits = 8 * b.len() as u32;
    if bits < 64 {
        let shift = 64 - bits;
        v = (v << shift) >> shift;
    }
    v
}

/// A ziplist's entries, or None when its structure is wrong: header lengths, tail offset,
/// each entry's prevlen, entry bounds, count and end byte.
fn ziplist(b: &[u8]) -> Option<Vec<Elem<'_>>> {
    const HEADER: usize = 10;
    if b.len() < HEADER + 1 || u32le(b, 0)? as usize != b.len() || *b.last()? != 0xff {
        return None;
    }
    let tail = u32le(b, 4)? as usize;
    let zllen = u16le(b, 8)?;
    let end = b.len() - 1;
    let mut out = Vec::new();
    let mut pos = HEADER;
    let mut prev_len = 0usize;
    let mut last = HEADER;
    while pos < end {
        let start = pos;
        let p = *b.get(pos)?;
        let prevlen = if p < 254 {
            pos += 1;
            p as usize
        } else if p == 254 {
            let v = u32le(b, pos + 1)? as usize;
            pos += 5;
            v
        } else {
            return None;
        };
        if prevlen != prev_len {
            return None;
        }
        let enc = *b.get(pos)?;
        let (head, data, int): (usize, usize, Option<usize>) = match enc >> 6 {
            0 => (1, (enc & 0x3f) as usize, None),
            1 => (
                2,
                ((enc & 0x3f) as usize) << 8 | *b.get(pos + 1)? as usize,
                None,
            ),
            // 10xxxxxx: a 32-bit length follows (the low bits are ignored, as by Redis).
            2 => {
                let n = u32::from_be_bytes(b.get(pos + 1..pos + 5)?.try_into().ok()?);
                (5, n as usize, None)
            }
            _ => match enc {
                0xc0 => (1, 2, Some(2)),
                0xd0 => (1, 4, Some(4)),
                0xe0 => (1, 8, Some(8)),
                0xf0 => (1, 3, Some(3)),
                0xfe => (1, 1, Some(1)),
                0xf1..=0xfd => (1, 0, Some(0)),
                _ => return None,
            },
        };
        let body = pos.checked_add(head)?;
        let next = body.checked_add(data)?;
        if next > end {
            return None;
        }
        let v = &b[body..next];
        out.push(match int {
            None => Elem::Str(v),
            Some(0) => Elem::Int((enc & 0x0f) as i64 - 1),
            Some(_) => Elem::Int(int_le(v)),
        });
        prev_len = next - start;
        last = start;
        pos = next;
    }
    if pos != end || tail != last || (zllen != u16::MAX && zllen as usize != out.len()) {
        return None;
    }
    Some(out)
}

/// The bytes of a listpack entry's back-length for an entry of `l` bytes.
fn backlen(l: usize, buf: &mut [u8; 5]) -> usize {
    let n = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    for (i, slot) in buf.iter_mut().take(n).enumerate() {
        // Most significant group first; every byte but the first has the high bit set.
        let shift = 7 * (n - 1 - i);
        let v = ((l >> shift) & 0x7f) as u8;
        *slot = if i == 0 { v } else { v | 0x80 };
    }
    n
}

/// A listpack's entries, or None when its structure is wrong: total bytes, count, entry
/// encodings and bounds, each back-length, end byte.
fn listpack(b: &[u8]) -> Option<Vec<Elem<'_>>> {
    const HEADER: usize = 6;
    if b.len() < HEADER + 1 || u32le(b, 0)? as usize != b.len() || *b.last()? != 0xff {
        return None;
    }
    let num = u16le(b, 4)?;
    let end = b.len() - 1;
    let mut out = Vec::new();
    let mut pos = HEADER;
    while pos < end {
        let enc = b[pos];
        let (head, data): (usize, usize) = if enc & 0x80 == 0 {
            (1, 0)
        } else if enc & 0xc0 == 0x80 {
            (1, (enc & 0x3f) as usize)
        } else if enc & 0xe0 == 0xc0 {
            (2, 0)
        } else if enc & 0xf0 == 0xe0 {
            (2, ((enc & 0x0f) as usize) << 8 | *b.get(pos + 1)? as usize)
        } else {
            match enc {
                0xf0 => (5, u32le(b, pos + 1)? as usize),
                0xf1 => (1, 2),
                0xf2 => (1, 3),
                0xf3 => (1, 4),
                0xf4 => (1, 8),
                _ => return None,
            }
        };
        let entry = head.checked_add(data)?;
        let body_end = pos.checked_add(entry)?;
        if body_end > end {
            return None;
        }
        let mut bl = [0u8; 5];
        let n = backlen(entry, &mut bl);
        let next = body_end + n;
        if next > end || b[body_end..next] != bl[..n] {
            return None;
        }
        let v = &b[pos..body_end];
        out.push(if enc & 0x80 == 0 {
            Elem::Int((enc & 0x7f) as i64)
        } else if enc & 0xc0 == 0x80 || enc & 0xf0 == 0xe0 || enc == 0xf0 {
            Elem::Str(&v[head..])
        } else if enc & 0xe0 == 0xc0 {
            let u = ((enc & 0x1f) as i64) << 8 | v[1] as i64;
            Elem::Int(if u >= 1 << 12 { u - (1 << 13) } else { u })
        } else {
            Elem::Int(int_le(&v[1..]))
        });
        pos = next;
    }
    if num != u16::MAX && num as usize != out.len() {
        return None;
    }
    Some(out)
}

/// An intset's members (sorted, unique, non-empty), or None.
fn intset(b: &[u8]) -> Option<Vec<i64>> {
    let enc = u32le(b, 0)? as usize;
    let n = u32le(b, 4)? as usize;
    if !matches!(enc, 2 | 4 | 8) || n == 0 || (b.len() - 8) / enc < n || 8 + n * enc != b.len() {
        return None;
    }
    let v: Vec<i64> = b[8..].chunks_exact(enc).map(int_le).collect();
    v.windows(2).all(|w| w[0] < w[1]).then_some(v)
}

/// A zipmap's field/value pairs (non-empty, count matching), or None.
fn zipmap(b: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    if b.len() < 2 || *b.last()? != 0xff {
        return None;
    }
    let end = b.len() - 1;
    let mut pos = 1;
    let mut out = Vec::new();
    let len_at = |pos: &mut usize| -> Option<usize> {
        let p = *b.get(*pos)?;
        match p {
            0..=253 => {
                *pos += 1;
                Some(p as usize)
            }
            254 => {
                let v = u32le(b, *pos + 1)? as usize;
                *pos += 5;
                Some(v)
            }
            _ => None,
        }
    };
    while pos < end && b[pos] != 0xff {
        let flen = len_at(&mut pos)?;
        let f = b.get(pos..pos.checked_add(flen)?)?;
        pos += flen;
        let vlen = len_at(&mut pos)?;
        let free = *b.get(pos)? as usize;
        pos += 1;
        let v = b.get(pos..pos.checked_add(vlen)?)?;
        pos = pos.checked_add(vlen)?.checked_add(free)?;
        if pos > end {
            return None;
        }
        out.push((f, v));
    }
    if pos != end || out.is_empty() || (b[0] != 254 && b[0] as usize != out.len()) {
        return None;
    }
    Some(out)
}

// ---- values ----

/// A set of `members`; None on a duplicate. More members than an intset may hold make a
/// hash table from the start, as Redis.
fn set_from<'b>(
    members: impl ExactSizeIterator<Item = Cow<'b, [u8]>>,
    max_ints: usize,
) -> Option<Option<Value>> {
    let mut s: Option<Set> = (members.len() > max_ints).then(Set::table);
    for m in members {
        let set = s.get_or_insert_with(|| Set::for_member(&m));
        if !set.insert(&m, max_ints) {
            return None;
        }
    }
    Some(s.map(|s| Value::Set(Box::new(s))))
}

fn zset_fit(z: &mut ZSet, opts: &LoadOpts, check_member_len: bool) {
    z.set_listpack(
        z.len() <= opts.zset_max_listpack_entries
            && (!check_member_len || z.max_member_len() <= opts.zset_max_listpack_value),
    );
}

/// Pairs of a ziplist/listpack hash or zset: an even count of entries.
fn pairs<'s, 'b>(e: &'s [Elem<'b>]) -> Option<impl Iterator<Item = (Elem<'b>, Elem<'b>)> + 's> {
    e.len()
        .is_multiple_of(2)
        .then(|| e.chunks_exact(2).map(|c| (c[0], c[1])))
}

fn hash_from_pairs<'b>(
    it: impl Iterator<Item = (Cow<'b, [u8]>, Cow<'b, [u8]>)>,
    opts: &LoadOpts,
) -> Option<Option<Value>> {
    let mut h = Hash::new();
    for (f, v) in it {
        if !h.set(&f, &v, opts.shape.hash_limits) {
            return None;
        }
    }
    Some((!h.is_empty()).then(|| Value::Hash(Box::new(h))))
}

fn zset_from_pairs(e: &[Elem<'_>], opts: &LoadOpts) -> Option<Option<Value>> {
    // Built as a skip list (inserts stay O(log n) however long the file's listpack is),
    // then shaped as Redis would.
    let mut z = ZSet::new_skiplist();
    for (m, s) in pairs(e)? {
        if !z.insert(&m.bytes(), s.score()?) {
            return None;
        }
    }
    if z.is_empty() {
        return Some(None);
    }
    zset_fit(&mut z, opts, false);
    Some(Some(Value::ZSet(Box::new(z))))
}

/// The value of a key of RDB type `t`; None for an empty container (skipped, as Redis).
fn object(r: &mut R<'_>, t: u8, opts: &LoadOpts) -> Res<Option<Value>> {
    let at = r.pos;
    let corrupt = |msg: &str| err(at, msg);
    match t {
        T_STRING => Ok(Some(Value::from_bytes(&r.string()?))),
        T_LIST => {
            let n = r.count(1)?;
            let mut l = List::new(opts.list_fill, opts.list_depth);
            for _ in 0..n {
                l.push_back(&r.string()?);
            }
            Ok((!l.is_empty()).then(|| Value::List(Box::new(l))))
        }
        T_SET => {
            let n = r.count(1)?;
            let mut members = Vec::with_capacity(n.min(PREALLOC));
            for _ in 0..n {
                members.push(r.string()?);
            }
            match set_from(members.into_iter(), opts.shape.set_max_intset_entries) {
                Some(v) => Ok(v),
                None => corrupt("Duplicate set members detected"),
            }
        }
        T_ZSET | T_ZSET_2 => {
            let n = r.count(2)?;
            // Loaded as a skip list (which keeps -0), then shaped like Redis does.
            let mut z = ZSet::new_skiplist();
            for _ in 0..n {
                let m = r.string()?;
                let score = if t == T_ZSET_2 {
                    f64::from_le_bytes(r.fixed()?)
                } else {
                    double_value(r)?
                };
                if score.is_nan() {
                    return corrupt("Zset with NAN score detected");
                }
                if !z.insert(&m, score) {
                    return corrupt("Duplicate zset fields detected");
                }
            }
            if z.is_empty() {
                return Ok(None);
            }
            zset_fit(&mut z, opts, true);
            Ok(Some(Value::ZSet(Box::new(z))))
        }
        T_HASH => {
            let n = r.count(2)?;
            // Too many fields for a listpack: a hash table from the start, as Redis.
            let mut h = if n > opts.shape.hash_limits.entries {
                Hash::table_form()
            } else {
                Hash::new()
            };
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                if !h.set(&f, &v, opts.shape.hash_limits) {
                    return corrupt("Duplicate hash fields detected");
                }
            }
            Ok((!h.is_empty()).then(|| Value::Hash(Box::new(h))))
        }
        T_LIST_QUICKLIST | T_LIST_QUICKLIST_2 => {
            let n = r.count(1)?;
            let mut l = List::new(opts.list_fill, opts.list_depth);
            for _ in 0..n {
                let plain = if t == T_LIST_QUICKLIST_2 {
                    match r.len()? {
                        1 => true,
                        2 => false,
                        _ => return corrupt("Quicklist integrity check failed."),
                    }
                } else {
                    false
                };
                let node = r.string()?;
                if node.is_empty() {
                    return corrupt("Quicklist integrity check failed.");
                }
                if plain {
                    l.push_back(&node);
                    continue;
                }
                let elems = if t == T_LIST_QUICKLIST_2 {
                    listpack(&node).ok_or("Listpack integrity check failed.")
                } else {
                    ziplist(&node).ok_or("Ziplist integrity check failed.")
                };
                match elems {
                    Ok(elems) => elems.into_iter().for_each(|e| l.push_back(&e.bytes())),
                    Err(msg) => return corrupt(msg),
                }
            }
            Ok((!l.is_empty()).then(|| Value::List(Box::new(l))))
        }
        T_HASH_ZIPMAP | T_LIST_ZIPLIST | T_SET_INTSET | T_ZSET_ZIPLIST | T_HASH_ZIPLIST
        | T_HASH_LISTPACK | T_ZSET_LISTPACK => {
            let blob = r.string()?;
            let b: &[u8] = &blob;
            let (got, msg) = match t {
                T_HASH_ZIPMAP => {
                    let got = zipmap(b).and_then(|p| {
                        hash_from_pairs(
                            p.into_iter()
                                .map(|(f, v)| (Cow::Borrowed(f), Cow::Borrowed(v))),
                            opts,
                        )
                    });
                    (got, "Zipmap integrity check failed.")
                }
                T_LIST_ZIPLIST => {
                    let got = ziplist(b).map(|e| {
                        let mut l = List::new(opts.list_fill, opts.list_depth);
                        e.into_iter().for_each(|e| l.push_back(&e.bytes()));
                        (!l.is_empty()).then(|| Value::List(Box::new(l)))
                    });
                    (got, "List ziplist integrity check failed.")
                }
                T_SET_INTSET => {
                    let got = intset(b).and_then(|v| {
                        set_from(
                            v.into_iter().map(int_bytes),
                            opts.shape.set_max_intset_entries,
                        )
                    });
                    (got, "Intset integrity check failed.")
                }
                T_ZSET_ZIPLIST => (
                    ziplist(b).and_then(|e| zset_from_pairs(&e, opts)),
                    "Zset ziplist integrity check failed.",
                ),
                T_ZSET_LISTPACK => (
                    listpack(b).and_then(|e| zset_from_pairs(&e, opts)),
                    "Zset listpack integrity check failed.",
                ),
                T_HASH_ZIPLIST | T_HASH_LISTPACK => {
                    let e = if t == T_HASH_ZIPLIST {
                        ziplist(b)
                    } else {
                        listpack(b)
                    };
                    let got = e.and_then(|e| {
                        hash_from_pairs(pairs(&e)?.map(|(f, v)| (f.bytes(), v.bytes())), opts)
                    });
                    let msg = if t == T_HASH_ZIPLIST {
                        "Hash ziplist integrity check failed."
                    } else {
                        "Hash listpack integrity check failed."
                    };
                    (got, msg)
                }
                _ => (None, "Unknown RDB encoding type"),
            };
            match got {
                Some(v) => Ok(v),
                None => corrupt(msg),
            }
        }
        T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 => {
            stream(r, t == T_STREAM_LISTPACKS_2, opts).map(|s| Some(Value::Stream(Box::new(s))))
        }
        T_MODULE | T_MODULE_2 => {
            let id = r.len()?;
            err(
                at,
                format!(
                    "The RDB file contains module data I can't load: no matching module type '{}'",
                    module_name(id)
                ),
            )
        }
        _ => corrupt(&format!("Unknown RDB encoding type {t}")),
    }
}

/// A score of the old ZSET type: a length byte (253 NaN, 254 +inf, 255 -inf) and text.
fn double_value(r: &mut R<'_>) -> Res<f64> {
    let at = r.pos;
    Ok(match r.u8()? {
        253 => f64::NAN,
        254 => f64::INFINITY,
        255 => f64::NEG_INFINITY,
        n => {
            let s = r.take(n as u64)?;
            match std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()) {
                Some(d) => d,
                None => return err(at, "Invalid double value in RDB file"),
            }
        }
    })
}

/// The 9-character name a module type id stands for (Redis's moduleTypeNameByID).
fn module_name(id: u64) -> String {
    const CSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = id >> 10;
    let mut name = [0u8; 9];
    for slot in name.iter_mut().rev() {
        *slot = CSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// One stream node (a listpack under its master ID): its live entries, appended in order.
fn stream_node(master: StreamId, e: &[Elem<'_>], s: &mut Stream, opts: &LoadOpts) -> Option<()> {
    let mut it = e.iter().copied();
    let mut next = || it.next();
    let count = next()?.int()?;
    let deleted = next()?.int()?;
    let nmaster = usize::try_from(next()?.int()?).ok()?;
    if count < 0 || deleted < 0 || nmaster > e.len() {
        return None;
    }
    let mut master_fields = Vec::with_capacity(nmaster);
    for _ in 0..nmaster {
        master_fields.push(next()?);
    }
    if next()?.int()? != 0 {
        return None;
    }
    let (mut live, mut dead) = (0i64, 0i64);
    for _ in 0..count.checked_add(deleted)? {
        let flags = next()?.int()?;
        let ms = master.ms.wrapping_add(next()?.int()? as u64);
        let seq = master.seq.wrapping_add(next()?.int()? as u64);
        let id = StreamId::new(ms, seq);
        let mut fields: Vec<Box<[u8]>>;
        let lp_count;
        if flags & FLAG_SAMEFIELDS != 0 {
            fields = Vec::with_capacity(nmaster * 2);
            for f in &master_fields {
                fields.push(f.bytes().into());
                fields.push(next()?.bytes().into());
            }
            lp_count = nmaster as i64 + 3;
        } else {
            let n = usize::try_from(next()?.int()?).ok()?;
            if n > e.len() {
                return None;
            }
            fields = Vec::with_capacity(n * 2);
            for _ in 0..2 * n {
                fields.push(next()?.bytes().into());
            }
            lp_count = 2 * n as i64 + 4;
        }
        if next()?.int()? != lp_count {
            return None;
        }
        if s.entries.last().is_some_and(|(last, _)| last >= id) || id < master {
            return None;
        }
        if flags & FLAG_DELETED != 0 {
            dead += 1;
            continue;
        }
        live += 1;
        let fields: Vec<&[u8]> = fields.iter().map(|f| &f[..]).collect();
        s.append(
            id,
            &fields,
            opts.shape.stream_node_max_entries,
            opts.shape.stream_node_max_bytes,
        );
    }
    (next().is_none() && live == count && dead == deleted).then_some(())
}

/// A group PEL entry as read: delivery time, count, and the consumer once one claims it.
type PendingNack = (i64, u64, Option<Box<[u8]>>);

fn stream(r: &mut R<'_>, v2: bool, opts: &LoadOpts) -> Res<Stream> {
    let mut s = Stream::default();
    let nodes = r.count(2)?;
    let mut prev_master: Option<StreamId> = None;
    for _ in 0..nodes {
        let at = r.pos;
        let key = r.string()?;
        let Ok(raw) = <[u8; 16]>::try_from(key.as_ref()) else {
            return err(at, "Stream node key entry is not the size of a stream ID");
        };
        let master = id_from_be(&raw);
        let lp_at = r.pos;
        let lp = r.string()?;
        let Some(e) = listpack(&lp) else {
            return err(lp_at, "Stream listpack integrity check failed.");
        };
        if e.is_empty() {
            return err(lp_at, "Empty listpack inside stream");
        }
        if prev_master.is_some_and(|p| p >= master) {
            return err(at, "Listpack re-added with existing key");
        }
        prev_master = Some(master);
        if stream_node(master, &e, &mut s, opts).is_none() {
            return err(lp_at, "Stream listpack integrity check failed.");
        }
    }
    let at = r.pos;
    let length = r.len()?;
    if length != s.len() as u64 {
        return err(at, "Stream length inconsistent with rax entries");
    }
    s.last_id = r.len_id()?;
    if v2 {
        s.first_id = r.len_id()?;
        s.max_deleted = r.len_id()?;
        s.entries_added = r.len()?;
    } else {
        // Before 7.0 these were not saved: derived as Redis does.
        s.max_deleted = StreamId::MIN;
        s.entries_added = length;
        s.first_id = s.entries.first().map(|(k, _)| k).unwrap_or_default();
    }
    // What XSETID refuses, refused here too: later arithmetic relies on it.
    if s.last_id < s.last_live_id() || s.last_id < s.max_deleted || s.entries_added < length {
        return err(at, "Stream metadata inconsistent with its entries");
    }
    let ngroups = r.count(3)?;
    for _ in 0..ngroups {
        let at = r.pos;
        let name: Box<[u8]> = r.string()?.as_ref().into();
        let last_id = r.len_id()?;
        let entries_read = if v2 {
            r.len()? as i64
        } else {
            s.entries_read_at(last_id).map_or(-1, |n| n as i64)
        };
        if s.groups.contains_key(&name) {
            return err(
                at,
                format!(
                    "Duplicated consumer group name {}",
                    String::from_utf8_lossy(&name)
                ),
            );
        }
        let npel = r.count(16 + 8 + 1)?;
        let mut pel: BTreeMap<StreamId, PendingNack> = BTreeMap::new();
        for _ in 0..npel {
            let at = r.pos;
            let id = r.raw_id()?;
            let time = r.i64le()?;
            let count = r.len()?;
            if pel.insert(id, (time, count, None)).is_some() {
                return err(
                    at,
                    "Duplicated global PEL entry loading stream consumer group",
                );
            }
        }
        let nconsumers = r.count(1 + 8 + 1)?;
        let mut consumers = BTreeMap::new();
        for _ in 0..nconsumers {
            let at = r.pos;
            let cname: Box<[u8]> = r.string()?.as_ref().into();
            if consumers.contains_key(&cname) {
                return err(at, "Duplicate stream consumer detected.");
            }
            let seen_time = r.i64le()?;
            let n = r.count(16)?;
            let mut cpel = BTreeSet::new();
            for _ in 0..n {
                let at = r.pos;
                let id = r.raw_id()?;
                let Some(nack) = pel.get_mut(&id) else {
                    return err(at, "Consumer entry not found in group global PEL");
                };
                if nack.2.is_some() || !cpel.insert(id) {
                    return err(
                        at,
                        "Duplicated consumer PEL entry  loading a stream consumer group",
                    );
                }
                nack.2 = Some(cname.clone());
            }
            consumers.insert(
                cname,
                Consumer {
                    seen_time,
                    pel: cpel,
                },
            );
        }
        let mut group_pel = BTreeMap::new();
        for (id, (delivery_time, delivery_count, consumer)) in pel {
            let Some(consumer) = consumer else {
                return err(at, "Stream CG PEL entry without consumer");
            };
            group_pel.insert(
                id,
                Nack {
                    consumer,
                    delivery_time,
                    delivery_count,
                },
            );
        }
        s.groups.insert(
            name,
            Group {
                last_id,
                entries_read,
                pel: group_pel,
                consumers,
            },
        );
    }
    Ok(s)
}

// ---- the file ----

/// What [`Incremental::next`] found.
pub enum Next<'a> {
    /// One item, and the bytes it took (with the metadata opcodes before it).
    Item(Item<'a>, usize),
    /// The bytes end inside the next item: it is parsed again once more have come. The
    /// count is what could be consumed before it (metadata opcodes, already applied).
    More(usize),
    /// The end of the file (and its checksum) was reached, after these bytes.
    Done(usize),
}

/// The reader's state between items, so that a file can be parsed as it arrives (a
/// replica's snapshot streaming from its master) as well as whole: the bytes are handed
/// in pieces, each starting where the last call stopped consuming, and an item cut by the
/// end of the bytes so far is parsed again when more are there.
pub struct Incremental {
    /// 0 until the header is read.
    version: u32,
    db: u64,
    expire: Option<i64>,
    idle: Option<u64>,
    freq: Option<u8>,
    /// The EOF opcode was read: the checksum trailer is next.
    at_trailer: bool,
    /// CRC-64 of the bytes consumed so far.
    crc: u64,
    /// Bytes consumed so far: error offsets count from the file's start.
    consumed: u64,
    /// Where the last item handed out began in the file (its type or opcode byte).
    pub item_at: u64,
    pub summary: Summary,
}

impl Default for Incremental {
    fn default() -> Self {
        Self::new()
    }
}

impl Incremental {
    pub fn new() -> Self {
        Incremental {
            version: 0,
            db: 0,
            expire: None,
            idle: None,
            freq: None,
            at_trailer: false,
            crc: 0,
            consumed: 0,
            item_at: 0,
            summary: Summary::default(),
        }
    }

    /// Bytes of the file consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The next item of the file from `buf`, the bytes that follow those consumed so far.
    /// `last`: no more bytes will come, so a cut item is an error.
    pub fn next<'a>(
        &mut self,
        buf: &'a [u8],
        opts: &LoadOpts,
        last: bool,
    ) -> Result<Next<'a>, LoadError> {
        let mut r = R { b: buf, pos: 0 };
        let base = self.consumed as usize;
        let shift = |mut e: LoadError| {
            e.offset += base;
            e
        };
        // Where the thing being read began: what is consumed when the bytes run out.
        let mut start = 0;
        let out = self.step(&mut r, &mut start, opts, buf);
        let next = match out {
            Ok(n) => n,
            Err(e) if e.msg == EOF_MSG && !last => Next::More(start),
            Err(e) => return Err(shift(e)),
        };
        if let Next::Item(..) = next {
            self.item_at = (base + start) as u64;
        }
        let used = match &next {
            Next::Item(_, n) | Next::More(n) | Next::Done(n) => *n,
        };
        if !matches!(next, Next::Done(_)) {
            self.crc = crc64_update(self.crc, &buf[..used]);
        }
        self.consumed += used as u64;
        if matches!(next, Next::Done(_)) {
            self.summary.end = self.consumed as usize;
        }
        Ok(next)
    }

    fn step<'a>(
        &mut self,
        r: &mut R<'a>,
        start: &mut usize,
        opts: &LoadOpts,
        buf: &'a [u8],
    ) -> Result<Next<'a>, LoadError> {
        if self.version == 0 {
            if buf.len() < 9 {
                return err(0, EOF_MSG);
            }
            if !buf.starts_with(b"REDIS") {
                return err(0, "Wrong signature trying to load DB from file");
            }
            let head = r.take(9)?;
            // atoi: the leading digits.
            let version = head[5..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .fold(0u32, |v, &c| v * 10 + (c - b'0') as u32);
            if !(1..=RDB_VERSION as u32).contains(&version) {
                return err(5, format!("Can't handle RDB format version {version}"));
            }
            self.version = version;
            self.summary.version = version;
            *start = 9;
        }
        loop {
            if self.at_trailer {
                return self.trailer(r, buf, opts);
            }
            let at = r.pos;
            *start = at;
            let t = r.u8()?;
            match t {
                OP_EXPIRETIME_MS => self.expire = Some(r.i64le()?),
                OP_EXPIRETIME => {
                    self.expire = Some(i32::from_le_bytes(r.fixed()?) as i64 * 1000);
                }
                OP_FREQ => self.freq = Some(r.u8()?),
                OP_IDLE => self.idle = Some(r.len()?),
                OP_EOF => {
                    self.at_trailer = true;
                    *start = r.pos;
                }
                OP_SELECTDB => {
                    let db = r.len()?;
                    if db >= opts.databases {
                        return err(
                            at,
                            format!(
                                "FATAL: Data file was created with a Redis server configured to \
                                 handle more than {} databases. Exiting",
                                opts.databases
                            ),
                        );
                    }
                    self.db = db;
                }
                OP_RESIZEDB => {
                    let keys = r.len()?;
                    let expires = r.len()?;
                    let db = self.db;
                    return Ok(Next::Item(Item::ResizeDb { db, keys, expires }, r.pos));
                }
                OP_AUX => {
                    let name = r.string()?;
                    let value = r.string()?;
                    return Ok(Next::Item(Item::Aux { name, value }, r.pos));
                }
                OP_MODULE_AUX => {
                    let id = r.len()?;
                    return err(
                        at,
                        format!(
                            "The RDB file contains AUX module data I can't load: no matching module '{}'",
                            module_name(id)
                        ),
                    );
                }
                OP_FUNCTION2 => {
                    let code = r.string()?.into_owned();
                    self.summary.functions += 1;
                    return Ok(Next::Item(Item::Function(code), r.pos));
                }
                OP_FUNCTION => {
                    let name = r.string()?;
                    let engine = r.string()?;
                    if r.len()? != 0 {
                        r.string()?;
                    }
                    let blob = r.string()?;
                    let mut code = Vec::with_capacity(blob.len() + name.len() + engine.len() + 10);
                    code.extend_from_slice(b"#!");
                    code.extend_from_slice(&engine);
                    code.extend_from_slice(b" name=");
                    code.extend_from_slice(&name);
                    code.push(b'\n');
                    code.extend_from_slice(&blob);
                    self.summary.functions += 1;
                    return Ok(Next::Item(Item::Function(code), r.pos));
                }
                _ => {
                    if !is_value_type(t) {
                        return err(at, format!("Unknown RDB encoding type {t}"));
                    }
                    let key = r.string()?;
                    let value = object(r, t, opts)?;
                    let (expire_ms, lru_idle, lfu_freq) =
                        (self.expire.take(), self.idle.take(), self.freq.take());
                    let item = match value {
                        None => {
                            self.summary.empty_keys_skipped += 1;
                            Item::EmptyKey(key)
                        }
                        Some(value) => {
                            self.summary.keys += 1;
                            Item::Key(KeyItem {
                                db: self.db,
                                key,
                                value,
                                expire_ms,
                                lru_idle,
                                lfu_freq,
                            })
                        }
                    };
                    return Ok(Next::Item(item, r.pos));
                }
            }
        }
    }

    /// After the EOF opcode: the CRC-64 of everything before the trailer (version 5 on).
    fn trailer<'a>(
        &mut self,
        r: &mut R<'a>,
        buf: &'a [u8],
        opts: &LoadOpts,
    ) -> Result<Next<'a>, LoadError> {
        let at = r.pos;
        let expected = crc64_update(self.crc, &buf[..at]);
        if self.version >= 5 {
            let got = u64::from_le_bytes(r.fixed()?);
            self.summary.checksum = if got == 0 {
                Checksum::Disabled
            } else if !opts.verify_checksum {
                Checksum::Unchecked
            } else if got != expected {
                return err(
                    at,
                    format!(
                        "Wrong RDB checksum expected: ({expected:x}) but got ({got:x}). Aborting now. RDB CRC error"
                    ),
                );
            } else {
                Checksum::Verified
            };
        }
        Ok(Next::Done(r.pos))
    }
}

/// Parse a whole RDB file, handing each item to `sink` in file order. The sink may stop
/// the load with a message (e.g. a duplicate key); it becomes the error, at that item.
pub fn load<'a>(
    data: &'a [u8],
    opts: &LoadOpts,
    sink: &mut dyn FnMut(Item<'a>) -> Result<(), String>,
) -> Result<Summary, LoadError> {
    let mut inc = Incremental::new();
    let mut pos = 0;
    loop {
        match inc.next(&data[pos..], opts, true)? {
            Next::Item(item, n) => {
                let at = inc.item_at as usize;
                sink(item).map_err(|msg| LoadError { offset: at, msg })?;
                pos += n;
            }
            // Not with `last`: a cut item is an error.
            Next::More(_) => return err(data.len(), EOF_MSG),
            Next::Done(_) => return Ok(inc.summary.clone()),
        }
    }
}

/// One value in its RDB form (type byte, then the object), as DUMP payloads carry it:
/// None when malformed, trailed by anything, a module type, or an empty container.
pub fn load_object(body: &[u8], opts: &LoadOpts) -> Result<Value, String> {
    let Some((&t, rest)) = body.split_first() else {
        return Err(EOF_MSG.into());
    };
    if !is_value_type(t) || matches!(t, 6 | 7) {
        return Err(format!("Unknown RDB encoding type {t}"));
    }
    let mut r = R { b: rest, pos: 0 };
    match object(&mut r, t, opts) {
        Err(e) => Err(e.msg),
        Ok(None) => Err("Empty keys are not allowed".into()),
        Ok(Some(_)) if r.pos != rest.len() => Err("Trailing data after the value".into()),
        Ok(Some(v)) => Ok(v),
    }
}

/// FUNCTION RESTORE's payload body: FUNCTION2 records of library code (the old FUNCTION
/// opcode refused), or Redis's error.
pub fn load_functions(body: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut r = R { b: body, pos: 0 };
    let mut codes = Vec::new();
    while r.pos < body.len() {
        if r.u8().ok() != Some(OP_FUNCTION2) {
            return Err("ERR given type is not a function");
        }
        codes.push(
            r.string()
                .map_err(|_| "ERR can not read data type")?
                .into_owned(),
        );
    }
    Ok(codes)
}

/// The settings that shape loaded values, from the server's config.
pub fn opts_of(cfg: &crate::config::Config) -> LoadOpts {
    LoadOpts {
        shape: Shape {
            set_max_intset_entries: cfg.set_max_intset_entries.max(0) as usize,
            stream_node_max_entries: cfg.stream_node_max_entries.max(0) as u64,
            stream_node_max_bytes: cfg.stream_node_max_bytes.max(0) as u64,
            hash_limits: crate::types::hash::Limits::from_cfg(cfg),
        },
        zset_max_listpack_entries: cfg.zset_max_listpack_entries.max(0) as usize,
        zset_max_listpack_value: cfg.zset_max_listpack_value.max(0) as usize,
        list_fill: cfg.list_max_listpack_size,
        list_depth: cfg.list_compress_depth,
        databases: cfg.databases.max(0) as u64,
        verify_checksum: cfg.rdbchecksum,
    }
}

fn is_value_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=19)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::ValRef;
    use crate::persist::crc64::crc64;
    use std::fmt::Write;

    fn opts() -> LoadOpts {
        LoadOpts {
            shape: Shape {
                set_max_intset_entries: 512,
                stream_node_max_entries: 100,
                stream_node_max_bytes: 4096,
                hash_limits: crate::types::hash::Limits {
                    entries: 128,
                    value: 64,
                },
            },
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_fill: -2,
            list_depth: 0,
            databases: 16,
            verify_checksum: true,
        }
    }

    fn s(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// A value as text: type, encoding, then its contents (sets and hashes sorted).
    fn show(v: &Value) -> String {
        let mut o = String::new();
        match v.as_ref() {
            ValRef::Int(n) => write!(o, "int {n}").unwrap(),
            ValRef::Str(x) => write!(o, "str {}", s(x)).unwrap(),
            ValRef::List(l) => {
                let items: Vec<String> = l.iter().map(|e| s(&e)).collect();
                write!(o, "list {}", items.join(",")).unwrap()
            }
            ValRef::Set(x) => {
                let mut m = Vec::new();
                x.for_each(|e| m.push(s(e)));
                m.sort();
                let enc = if x.is_intset() { "intset" } else { "hashtable" };
                write!(o, "set/{enc} {}", m.join(",")).unwrap()
            }
            ValRef::ZSet(z) => {
                let items: Vec<String> = z.iter().map(|(m, sc)| format!("{}={sc}", s(m))).collect();
                let enc = if z.is_listpack() {
                    "listpack"
                } else {
                    "skiplist"
                };
                write!(o, "zset/{enc} {}", items.join(",")).unwrap()
            }
            ValRef::Hash(h) => {
                let mut items: Vec<String> = h
                    .iter()
                    .map(|(f, v)| format!("{}={}", s(&f), s(&v)))
                    .collect();
                items.sort();
                let enc = if h.is_small() {
                    "listpack"
                } else {
                    "hashtable"
                };
                write!(o, "hash/{enc} {}", items.join(",")).unwrap()
            }
            ValRef::Stream(st) => {
                write!(
                    o,
                    "stream len={} last={:?} first={:?} maxdel={:?} added={}",
                    st.len(),
                    (st.last_id.ms, st.last_id.seq),
                    (st.first_id.ms, st.first_id.seq),
                    (st.max_deleted.ms, st.max_deleted.seq),
                    st.entries_added
                )
                .unwrap();
            }
        }
        o
    }

    struct Loaded {
        keys: Vec<(u64, String, String, Option<i64>)>,
        values: BTreeMap<String, Value>,
        functions: Vec<String>,
        aux: Vec<(String, String)>,
        resize: Vec<(u64, u64, u64)>,
        empty: Vec<String>,
        summary: Summary,
    }

    fn load_file(data: &[u8], o: &LoadOpts) -> Result<Loaded, LoadError> {
        let mut l = Loaded {
            keys: Vec::new(),
            values: BTreeMap::new(),
            functions: Vec::new(),
            empty: Vec::new(),
            aux: Vec::new(),
            resize: Vec::new(),
            summary: Summary::default(),
        };
        let summary = load(data, o, &mut |item| {
            match item {
                Item::Key(k) => {
                    l.keys.push((k.db, s(&k.key), show(&k.value), k.expire_ms));
                    l.values.insert(s(&k.key), k.value);
                }
                Item::Function(code) => l.functions.push(s(&code)),
                Item::Aux { name, value } => l.aux.push((s(&name), s(&value))),
                Item::ResizeDb { db, keys, expires } => l.resize.push((db, keys, expires)),
                Item::EmptyKey(key) => l.empty.push(s(&key)),
            }
            Ok(())
        })?;
        l.summary = summary;
        Ok(l)
    }

    fn asset(name: &str) -> Vec<u8> {
        let p = format!("{}/tests/assets/rdb/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn show_of(l: &Loaded, key: &str) -> String {
        let k = l.keys.iter().find(|k| k.1 == key);
        k.unwrap_or_else(|| panic!("no key {key}")).2.clone()
    }

    fn stream_of<'l>(l: &'l Loaded, key: &str) -> &'l Stream {
        match l.values.get(key) {
            Some(Value::Stream(st)) => st,
            _ => panic!("{key} is not a stream"),
        }
    }

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    #[test]
    fn redis_7_all_types() {
        let l = load_file(&asset("redis-7.0.15-all-types.rdb"), &opts()).unwrap();
        assert_eq!(
            l.summary,
            Summary {
                version: 10,
                keys: 22,
                functions: 1,
                empty_keys_skipped: 0,
                checksum: Checksum::Verified,
                end: asset("redis-7.0.15-all-types.rdb").len(),
            }
        );
        let aux: Vec<&str> = l.aux.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            aux,
            ["redis-ver", "redis-bits", "ctime", "used-mem", "aof-base"]
        );
        assert_eq!(l.aux[0].1, "7.0.15");
        assert_eq!(l.aux[4].1, "0");
        assert_eq!(l.resize, [(0, 21, 2), (1, 1, 0)]);
        assert_eq!(
            l.functions,
            ["#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 42 end)"]
        );
        let seq = |a: u32, b: u32| (a..=b).map(|i| i.to_string()).collect::<Vec<_>>();
        let expect = [
            ("str:plain", "str hello world".to_string()),
            ("str:int", "int 12345".into()),
            ("str:neg", "int -987654321".into()),
            ("str:big", "int 6000000000".into()),
            ("str:empty", "str ".into()),
            ("str:lzf", format!("str {}", "abcdefgh".repeat(40))),
            ("list:small", "list a,b,c,1,2,-3,100000,6000000000".into()),
            ("list:big", format!("list {}", seq(1, 1000).join(","))),
            ("set:ints", "set/intset -5,1,2,3,5000000000,70000".into()),
            ("set:strs", "set/hashtable apple,banana,cherry".into()),
            (
                "zset:small",
                "zset/listpack bottom=-inf,three=-3,one=1,two=2.5,top=inf".into(),
            ),
            ("hash:small", "hash/listpack f1=v1,f2=2,f3=".into()),
            (
                "hash:longval",
                format!("hash/hashtable k={}", "x".repeat(100)),
            ),
            ("ttl:ms", "str v".into()),
            ("ttl:list", "list x".into()),
            ("db1:key", "str in-db-1".into()),
        ];
        for (k, v) in expect {
            assert_eq!(show_of(&l, k), v, "{k}");
        }
        let mut ints = seq(1, 600);
        ints.sort();
        assert_eq!(
            show_of(&l, "set:bigints"),
            format!("set/hashtable {}", ints.join(","))
        );
        let z: Vec<String> = (1..=200).map(|i| format!("m{i}={i}.5")).collect();
        assert_eq!(
            show_of(&l, "zset:big"),
            format!("zset/skiplist {}", z.join(","))
        );
        let mut h: Vec<String> = (1..=600).map(|i| format!("field{i}=value{i}")).collect();
        h.sort();
        assert_eq!(
            show_of(&l, "hash:big"),
            format!("hash/hashtable {}", h.join(","))
        );
        // TTLs and databases.
        for (db, key, _, ttl) in &l.keys {
            let want = match key.as_str() {
                "ttl:ms" => Some(4102444800123),
                "ttl:list" => Some(4102444800000),
                _ => None,
            };
            assert_eq!(*ttl, want, "{key}");
            assert_eq!(*db, u64::from(key == "db1:key"), "{key}");
        }

        // The stream with groups.
        let st = stream_of(&l, "stream:s");
        let entries: Vec<(StreamId, Vec<String>)> = st
            .entries
            .iter()
            .map(|(id, f)| (id, f.iter().map(s).collect()))
            .collect();
        let f = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            entries,
            [
                (id(1, 1), f(&["name", "alice", "age", "30"])),
                (id(1, 2), f(&["name", "bob", "age", "25"])),
                (id(2, 0), f(&["city", "paris"])),
                (id(4, 0), f(&["name", "dave", "age", "50"])),
            ]
        );
        assert_eq!(
            (st.last_id, st.first_id, st.max_deleted, st.entries_added),
            (id(4, 0), id(1, 1), id(3, 0), 5)
        );
        let names: Vec<String> = st.groups.keys().map(|g| s(g)).collect();
        assert_eq!(names, ["g1", "g2"]);
        let g1 = &st.groups[&b"g1"[..]];
        assert_eq!(g1.last_id, id(2, 0));
        let pel: Vec<(StreamId, String, u64)> = g1
            .pel
            .iter()
            .map(|(id, n)| (*id, s(&n.consumer), n.delivery_count))
            .collect();
        assert_eq!(
            pel,
            [(id(1, 1), "c1".into(), 1), (id(2, 0), "c2".into(), 1)]
        );
        assert!(g1.pel.values().all(|n| n.delivery_time > 1_700_000_000_000));
        let consumers: Vec<(String, Vec<StreamId>)> = g1
            .consumers
            .iter()
            .map(|(n, c)| (s(n), c.pel.iter().copied().collect()))
            .collect();
        assert_eq!(
            consumers,
            [
                ("c1".into(), vec![id(1, 1)]),
                ("c2".into(), vec![id(2, 0)]),
                ("idle".into(), vec![]),
            ]
        );
        assert!(g1
            .consumers
            .values()
            .all(|c| c.seen_time > 1_700_000_000_000));
        let g2 = &st.groups[&b"g2"[..]];
        assert_eq!(g2.last_id, id(4, 0));
        assert!(g2.pel.is_empty());
        assert_eq!(
            g2.consumers.keys().map(|c| s(c)).collect::<Vec<_>>(),
            ["c3"]
        );

        // A stream of three nodes, and an emptied stream.
        let big = stream_of(&l, "stream:big");
        assert_eq!(big.len(), 250);
        assert_eq!(big.node_count(), 3);
        assert!(big.entries.iter().enumerate().all(|(i, (k, f))| {
            let f: Vec<&[u8]> = f.iter().collect();
            k == id(i as u64 + 1, 0) && s(f[0]) == "k" && s(f[1]) == (i + 1).to_string()
        }));
        assert_eq!(big.groups[&b"grp"[..]].last_id, id(100, 0));
        let empty = stream_of(&l, "stream:empty");
        assert!(empty.is_empty());
        assert_eq!(
            (
                empty.last_id,
                empty.first_id,
                empty.max_deleted,
                empty.entries_added
            ),
            (id(5, 5), id(0, 0), id(5, 5), 1)
        );
    }

    #[test]
    fn redis_encodings_rdb() {
        // Redis's tests/integration/rdb.tcl "RDB encoding loading test" (an RDB v4 file).
        let l = load_file(&asset("encodings.rdb"), &opts()).unwrap();
        assert_eq!(l.summary.version, 4);
        assert_eq!(l.summary.checksum, Checksum::Absent);
        let list = "1,2,3,a,b,c,100000,6000000000";
        let expect = [
            ("compressible", format!("str {}", "a".repeat(137))),
            (
                "hash",
                "hash/listpack a=1,aa=10,aaa=100,b=2,bb=20,bbb=200,c=3,cc=30,ccc=300,ddd=400,eee=5000000000"
                    .into(),
            ),
            ("hash_zipped", "hash/listpack a=1,b=2,c=3".into()),
            ("list", format!("list {list},{list},{list}")),
            ("list_zipped", format!("list {list}")),
            ("number", "int 10".into()),
            ("set", "set/hashtable 1,100000,2,3,6000000000,a,b,c".into()),
            ("set_zipped_1", "set/intset 1,2,3,4".into()),
            ("set_zipped_2", "set/intset 100000,200000,300000,400000".into()),
            (
                "set_zipped_3",
                "set/intset 1000000000,2000000000,3000000000,4000000000,5000000000,6000000000".into(),
            ),
            ("string", "str Hello World".into()),
            (
                "zset",
                "zset/listpack a=1,b=2,c=3,aa=10,bb=20,cc=30,aaa=100,bbb=200,ccc=300,aaaa=1000,cccc=123456789,bbbb=5000000000"
                    .into(),
            ),
            ("zset_zipped", "zset/listpack a=1,b=2,c=3".into()),
        ];
        assert_eq!(l.keys.len(), expect.len());
        for (k, v) in expect {
            assert_eq!(show_of(&l, k), v, "{k}");
        }
    }

    #[test]
    fn redis_small_fixtures() {
        // convert-zipmap-hash-on-load.tcl (RDB v3, a zipmap).
        let l = load_file(&asset("hash-zipmap.rdb"), &opts()).unwrap();
        assert_eq!(show_of(&l, "hash"), "hash/listpack f1=v1,f2=v2");
        let mut o = opts();
        o.shape.hash_limits.entries = 1;
        let l = load_file(&asset("hash-zipmap.rdb"), &o).unwrap();
        assert_eq!(show_of(&l, "hash"), "hash/hashtable f1=v1,f2=v2");
        let mut o = opts();
        o.shape.hash_limits.value = 1;
        let l = load_file(&asset("hash-zipmap.rdb"), &o).unwrap();
        assert_eq!(show_of(&l, "hash"), "hash/hashtable f1=v1,f2=v2");
        // convert-ziplist-hash-on-load.tcl.
        let l = load_file(&asset("hash-ziplist.rdb"), &opts()).unwrap();
        assert_eq!(show_of(&l, "hash"), "hash/listpack f1=v1,f2=v2");
        let mut o = opts();
        o.shape.hash_limits.entries = 1;
        let l = load_file(&asset("hash-ziplist.rdb"), &o).unwrap();
        assert_eq!(show_of(&l, "hash"), "hash/hashtable f1=v1,f2=v2");
        // convert-ziplist-zset-on-load.tcl.
        let l = load_file(&asset("zset-ziplist.rdb"), &opts()).unwrap();
        assert_eq!(show_of(&l, "zset"), "zset/listpack one=1,two=2");
        let mut o = opts();
        o.zset_max_listpack_entries = 1;
        let l = load_file(&asset("zset-ziplist.rdb"), &o).unwrap();
        assert_eq!(show_of(&l, "zset"), "zset/skiplist one=1,two=2");
        // rdb.tcl "test old version rdb file" (RDB v8, a quicklist of ziplists).
        let l = load_file(&asset("list-quicklist.rdb"), &opts()).unwrap();
        assert_eq!(l.summary.version, 8);
        assert_eq!(show_of(&l, "x"), "int 7");
        assert!(show_of(&l, "list").starts_with("list 7"));
        // rdb.tcl "script won't load anymore if it's in rdb": a "lua" aux field.
        let l = load_file(&asset("scriptbackup.rdb"), &opts()).unwrap();
        let lua: Vec<&(String, String)> = l.aux.iter().filter(|(n, _)| n == "lua").collect();
        assert_eq!(lua.len(), 1);
        assert!(lua[0].1.contains("redis.call('set', 'foo', 'bar')"));
        // corrupt-dump.tcl: nine empty keys are skipped, not loaded.
        let l = load_file(&asset("corrupt_empty_keys.rdb"), &opts()).unwrap();
        assert!(l.keys.is_empty());
        assert_eq!(l.summary.empty_keys_skipped, 9);
        assert_eq!(l.empty.len(), 9, "each skipped key named");
        // corrupt-dump.tcl #3505: a corrupt ziplist in an RDB without CRC.
        let e = load_file(&asset("corrupt_ziplist.rdb"), &opts())
            .err()
            .unwrap();
        assert!(e.msg.contains("integrity check failed"), "{e}");
    }

    /// An RDB v10 file around `body`, with its EOF opcode and checksum.
    fn rdb(body: &[u8]) -> Vec<u8> {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(body);
        f.push(OP_EOF);
        let c = crc64(&f);
        f.extend_from_slice(&c.to_le_bytes());
        f
    }

    fn load_err(data: &[u8]) -> LoadError {
        match load_file(data, &opts()) {
            Ok(_) => panic!("loaded"),
            Err(e) => e,
        }
    }

    #[test]
    fn header_and_trailer_errors() {
        assert_eq!(load_err(b"").msg, EOF_MSG);
        assert_eq!(load_err(b"REDIS00").msg, EOF_MSG);
        assert_eq!(
            load_err(b"RODIS0009\xff").msg,
            "Wrong signature trying to load DB from file"
        );
        assert_eq!(
            load_err(b"REDIS0011\xff").msg,
            "Can't handle RDB format version 11"
        );
        assert_eq!(
            load_err(b"REDIS0000\xff").msg,
            "Can't handle RDB format version 0"
        );
        // Version 4: no checksum.
        assert!(load_file(b"REDIS0004\xff", &opts()).is_ok());
        // No EOF opcode, or no checksum after it.
        assert_eq!(load_err(b"REDIS0010").msg, EOF_MSG);
        assert_eq!(load_err(b"REDIS0010\xff\0\0").offset, 10);
        // A wrong checksum, a disabled one, one not checked.
        let mut f = rdb(b"\x00\x01k\x01v");
        let n = f.len();
        f[n - 1] ^= 1;
        let e = load_err(&f);
        assert!(e.msg.starts_with("Wrong RDB checksum expected: ("), "{e}");
        assert_eq!(e.offset, n - 8);
        let mut o = opts();
        o.verify_checksum = false;
        assert_eq!(
            load_file(&f, &o).unwrap().summary.checksum,
            Checksum::Unchecked
        );
        f[n - 8..].fill(0);
        assert_eq!(
            load_file(&f, &opts()).unwrap().summary.checksum,
            Checksum::Disabled
        );
    }

    #[test]
    fn opcode_and_value_errors() {
        let e = load_err(&rdb(b"\x2a\x01k\x01v"));
        assert_eq!(
            (e.offset, e.msg.as_str()),
            (9, "Unknown RDB encoding type 42")
        );
        assert_eq!(
            load_err(&rdb(b"\x08\x01k")).msg,
            "Unknown RDB encoding type 8"
        );
        let e = load_err(&rdb(b"\xf7\x81\x00\x00\x00\x00\x00\x00\x00\x00"));
        assert!(
            e.msg
                .starts_with("The RDB file contains AUX module data I can't load"),
            "{e}"
        );
        let e = load_err(&rdb(b"\x07\x01k\x05"));
        assert!(
            e.msg
                .starts_with("The RDB file contains module data I can't load"),
            "{e}"
        );
        let e = load_err(&rdb(b"\xfe\x10"));
        assert!(e.msg.contains("more than 16 databases"), "{e}");
        // A huge string length: no allocation, an EOF.
        // Each file body and the error it must give.
        // (Values: huge lengths, bad LZF, unknown string encoding, duplicates, a NaN
        // score, an intset out of order, a listpack with a wrong back-length.)
        let cases: &[(&[u8], &str)] = &[
            (b"\x00\x01k\x81\x7f\xff\xff\xff\xff\xff\xff\xff", EOF_MSG),
            (b"\x01\x01k\x80\xff\xff\xff\xff\x01a", EOF_MSG),
            (
                b"\x00\x01k\xc3\x02\x81\x00\x00\x01\x00\x00\x00\x00\x00\x00a",
                "Invalid LZF compressed string",
            ),
            (
                b"\x00\x01k\xc3\x02\x05\x20\x05",
                "Invalid LZF compressed string",
            ),
            (b"\x00\x01k\xc5", "Unknown RDB string encoding type 5"),
            (b"\x02\x01k\x02\x01a\x01a", "Duplicate set members detected"),
            (
                b"\x04\x01k\x02\x01a\x01b\x01a\x01c",
                "Duplicate hash fields detected",
            ),
            (
                b"\x03\x01k\x02\x01a\x011\x01a\x012",
                "Duplicate zset fields detected",
            ),
            (b"\x03\x01k\x01\x01a\xfd", "Zset with NAN score detected"),
            (
                b"\x0b\x01k\x0c\x02\0\0\0\x02\0\0\0\x02\0\x01\0",
                "Intset integrity check failed.",
            ),
            (
                b"\x10\x01k\x0b\x0b\0\0\0\x02\0\x01\x02\x02\x01\xff",
                "Hash listpack integrity check failed.",
            ),
        ];
        for (body, msg) in cases {
            assert_eq!(load_err(&rdb(body)).msg, *msg, "{body:?}");
        }
    }

    #[test]
    fn small_values_and_metadata() {
        // Old ZSET scores as text, EXPIRETIME in seconds, IDLE, FREQ, an int-encoded key,
        // a RESIZEDB hint, the old FUNCTION opcode and AUX.
        let body = b"\xfa\x03foo\xc0\x07\
            \xfb\x02\x01\
            \xfd\x10\x00\x00\x00\xf8\x05\x03\x01z\x02\x01a\x031.5\x01b\xfe\
            \xf9\x09\x00\xc1\x39\x30\x02hi\
            \xf6\x03lib\x03lua\x01\x04desc\x04code";
        let l = load_file(&rdb(body), &opts()).unwrap();
        assert_eq!(l.aux, [("foo".to_string(), "7".to_string())]);
        assert_eq!(l.resize, [(0, 2, 1)]);
        assert_eq!(
            l.keys,
            [
                (
                    0,
                    "z".into(),
                    "zset/listpack a=1.5,b=inf".into(),
                    Some(16_000)
                ),
                (0, "12345".into(), "str hi".into(), None),
            ]
        );
        assert_eq!(l.functions, ["#!lua name=lib\ncode"]);
        let mut idle = Vec::new();
        load(&rdb(body), &opts(), &mut |item| {
            if let Item::Key(k) = item {
                idle.push((k.lru_idle, k.lfu_freq));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(idle, [(Some(5), None), (None, Some(9))]);
        // The sink can stop the load.
        let e = load(&rdb(body), &opts(), &mut |item| match item {
            Item::Key(_) => Err("stop".into()),
            _ => Ok(()),
        })
        .err()
        .unwrap();
        assert_eq!(e.msg, "stop");
    }

    /// A listpack of small strings and integers 0..=127 (what the tests need).
    fn lp(items: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        for it in items {
            match it.parse::<u8>() {
                Ok(n) if n < 128 && n.to_string() == *it => body.extend_from_slice(&[n, 1]),
                _ => {
                    assert!(it.len() < 64);
                    body.push(0x80 | it.len() as u8);
                    body.extend_from_slice(it.as_bytes());
                    body.push(it.len() as u8 + 1);
                }
            }
        }
        let total = (6 + body.len() + 1) as u32;
        let mut out = total.to_le_bytes().to_vec();
        out.extend_from_slice(&(items.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xff);
        out
    }

    fn rdb_str(b: &[u8]) -> Vec<u8> {
        assert!(b.len() < 64);
        let mut out = vec![b.len() as u8];
        out.extend_from_slice(b);
        out
    }

    fn raw_id(ms: u64, seq: u64) -> Vec<u8> {
        let mut v = ms.to_be_bytes().to_vec();
        v.extend_from_slice(&seq.to_be_bytes());
        v
    }

    #[test]
    fn stream_v1_and_listpack_lists() {
        // An RDB_TYPE_STREAM_LISTPACKS (Redis 5-6.2) stream: one node at 10-0 holding
        // 10-0 (same fields as the master entry), 11-0 (deleted), 12-0 (own fields).
        let node = lp(&[
            "2", "1", "2", "a", "b", "0", // master entry
            "2", "0", "0", "1", "2", "5", // 10-0 a=1 b=2
            "3", "1", "0", "x", "y", "5", // 11-0, deleted
            "0", "2", "0", "1", "c", "3", "6", // 12-0 c=3
        ]);
        let mut body = vec![T_STREAM_LISTPACKS];
        body.extend(rdb_str(b"s"));
        body.push(1);
        body.extend(rdb_str(&raw_id(10, 0)));
        body.push(node.len() as u8);
        body.extend(&node);
        body.extend([2, 12, 0]); // length, last id
        body.push(2); // groups
        body.extend(rdb_str(b"g"));
        body.extend([11, 0]); // last delivered
        body.push(1);
        body.extend(raw_id(10, 0));
        body.extend(1234i64.to_le_bytes());
        body.push(2);
        body.push(1);
        let c_at = body.len();
        body.extend(rdb_str(b"c"));
        body.extend(5678i64.to_le_bytes());
        body.push(1);
        body.extend(raw_id(10, 0));
        body.extend(rdb_str(b"h"));
        body.extend([12, 0, 0, 0]); // at the end, no PEL, no consumers
                                    // A LIST_QUICKLIST_2 with a packed node and a plain one.
        body.push(T_LIST_QUICKLIST_2);
        body.extend(rdb_str(b"l"));
        body.push(2);
        let packed = lp(&["one", "2", "three"]);
        body.extend([2, packed.len() as u8]);
        body.extend(&packed);
        body.push(1);
        body.extend(rdb_str(b"plain"));
        // A ZSET_LISTPACK and a HASH_LISTPACK.
        body.push(T_ZSET_LISTPACK);
        body.extend(rdb_str(b"z"));
        let z = lp(&["a", "3", "b", "1.5"]);
        body.push(z.len() as u8);
        body.extend(&z);
        body.push(T_HASH_LISTPACK);
        body.extend(rdb_str(b"h"));
        let h = lp(&["f", "v", "n", "7"]);
        body.push(h.len() as u8);
        body.extend(&h);

        let l = load_file(&rdb(&body), &opts()).unwrap();
        assert_eq!(show_of(&l, "l"), "list one,2,three,plain");
        assert_eq!(show_of(&l, "z"), "zset/listpack b=1.5,a=3");
        assert_eq!(show_of(&l, "h"), "hash/listpack f=v,n=7");
        let st = stream_of(&l, "s");
        let entries: Vec<(StreamId, Vec<String>)> = st
            .entries
            .iter()
            .map(|(id, f)| (id, f.iter().map(s).collect()))
            .collect();
        assert_eq!(
            entries,
            [
                (
                    id(10, 0),
                    vec!["a".into(), "1".into(), "b".into(), "2".into()]
                ),
                (id(12, 0), vec!["c".into(), "3".into()]),
            ]
        );
        // Not in the file before RDB 10: derived as Redis does.
        assert_eq!(
            (st.last_id, st.first_id, st.max_deleted, st.entries_added),
            (id(12, 0), id(10, 0), id(0, 0), 2)
        );
        let g = &st.groups[&b"g"[..]];
        assert_eq!((g.last_id, g.entries_read), (id(11, 0), -1));
        let n = &g.pel[&id(10, 0)];
        assert_eq!(
            (&*n.consumer, n.delivery_time, n.delivery_count),
            (&b"c"[..], 1234, 2)
        );
        assert_eq!(g.consumers[&b"c"[..]].seen_time, 5678);
        assert_eq!(
            g.consumers[&b"c"[..]].pel.iter().collect::<Vec<_>>(),
            [&id(10, 0)]
        );
        let h = &st.groups[&b"h"[..]];
        assert_eq!((h.last_id, h.entries_read), (id(12, 0), 2));

        // The same stream with a PEL entry nobody claims, or claimed twice.
        let mut orphan = body.clone();
        orphan[c_at + 10] = 0; // consumer c's PEL count
        orphan.drain(c_at + 11..c_at + 27);
        assert_eq!(
            load_err(&rdb(&orphan)).msg,
            "Stream CG PEL entry without consumer"
        );
        let mut bad = body.clone();
        bad[c_at + 26] = 1; // c claims 10-1, not pending
        assert_eq!(
            load_err(&rdb(&bad)).msg,
            "Consumer entry not found in group global PEL"
        );
        // A wrong lp-count in the node.
        let mut bad = body.clone();
        let lp_at = body.windows(node.len()).position(|w| w == node).unwrap();
        bad[lp_at + 6 + 24] = 4; // entry 10-0's lp-count: 5 -> 4
        assert_eq!(
            load_err(&rdb(&bad)).msg,
            "Stream listpack integrity check failed."
        );
    }

    fn load_quiet(data: &[u8], o: &LoadOpts) -> Result<Summary, LoadError> {
        load(data, o, &mut |_| Ok(()))
    }

    #[test]
    fn corrupt_files_never_panic() {
        let data = asset("redis-7.0.15-all-types.rdb");
        let start = std::time::Instant::now();
        // Every truncation loses at least the checksum: always an error.
        // Every offset in release builds; a sample of them in debug builds (10x slower).
        let step = if cfg!(debug_assertions) { 5 } else { 1 };
        for cut in (0..data.len()).step_by(step) {
            assert!(load_quiet(&data[..cut], &opts()).is_err(), "cut at {cut}");
        }
        // Flipped bytes with the checksum off: an error or a load, never a panic.
        let mut o = opts();
        o.verify_checksum = false;
        let mut bad = data.clone();
        let mut loaded = 0;
        for at in (9..data.len()).step_by(3) {
            let x = [0xff, 0x01, 0x80, 0x3c][at % 4];
            bad[at] ^= x;
            loaded += load_quiet(&bad, &o).is_ok() as usize;
            bad[at] ^= x;
        }
        assert!(loaded > 0);
        // Older files, every value at every byte.
        for name in [
            "encodings.rdb",
            "hash-zipmap.rdb",
            "list-quicklist.rdb",
            "zset-ziplist.rdb",
        ] {
            let data = asset(name);
            for cut in 0..data.len() {
                let _ = load_quiet(&data[..cut], &o);
            }
            let mut bad = data.clone();
            for at in 9..data.len() {
                for x in [1, 2, 4, 8, 16, 32, 64, 128, 0x55, 0xff] {
                    bad[at] ^= x;
                    let _ = load_quiet(&bad, &o);
                    bad[at] ^= x;
                }
            }
        }
        // No quadratic blow-up on any of these (about 4 s in release).
        let limit = if cfg!(debug_assertions) { 300 } else { 20 };
        assert!(start.elapsed().as_secs() < limit, "{:?}", start.elapsed());
    }

    /// Random multi-byte corruption of every fixture, checksum off; long, so ignored by
    /// default: `RDB_FUZZ_ITERS=100000 cargo test --lib rdb_load -- --ignored`.
    #[test]
    #[ignore]
    fn random_corruption_never_panics() {
        use rand::{Rng, SeedableRng};
        let iters: usize = std::env::var("RDB_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let mut o = opts();
        o.verify_checksum = false;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        let files = fixture_files();
        for i in 0..iters {
            let mut d = files[i % files.len()].clone();
            for _ in 0..rng.gen_range(1..=4) {
                let at = rng.gen_range(9..d.len());
                d[at] = rng.gen();
            }
            let _ = load_quiet(&d, &o);
        }
    }

    /// Every RDB file of tests/assets/rdb.
    fn fixture_files() -> Vec<Vec<u8>> {
        let dir = format!("{}/tests/assets/rdb", env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rdb") {
                files.push(std::fs::read(p).unwrap());
            }
        }
        files
    }

    /// Items as text, whatever the source: for comparing a whole parse with a piecewise one.
    fn item_text(item: Item<'_>) -> String {
        match item {
            Item::Key(k) => format!(
                "key {} {} {} {:?}",
                k.db,
                s(&k.key),
                show(&k.value),
                k.expire_ms
            ),
            Item::Function(code) => format!("fn {}", s(&code)),
            Item::Aux { name, value } => format!("aux {} {}", s(&name), s(&value)),
            Item::ResizeDb { db, keys, expires } => format!("resize {db} {keys} {expires}"),
            Item::EmptyKey(key) => format!("empty {}", s(&key)),
        }
    }

    /// A file parsed as it streams in (pieces of every size, as a replica receives its
    /// master's snapshot) gives the same items, summary and errors as parsed whole, and an
    /// item cut by the end of the bytes so far is never handed out half.
    #[test]
    fn piecewise_parse_equals_whole() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut files = fixture_files();
        // Corrupt copies too: the error must be the same one, at the same offset.
        for f in files.clone() {
            let mut d = f.clone();
            let at = d.len() / 2;
            d[at] ^= 0x5a;
            files.push(d);
            files.push(f[..f.len() * 2 / 3].to_vec());
        }
        let o = opts();
        for data in &files {
            let mut whole = Vec::new();
            let want = load(data, &o, &mut |it| {
                whole.push(item_text(it));
                Ok(())
            });
            for piece in [1usize, 2, 7, 100, 4096, 0] {
                let mut inc = Incremental::new();
                let mut got = Vec::new();
                let (mut pos, mut avail) = (0usize, 0usize);
                let result = loop {
                    let step = if piece == 0 {
                        rng.gen_range(1..64)
                    } else {
                        piece
                    };
                    avail = (avail + step).min(data.len());
                    let last = avail == data.len();
                    let mut stop = None;
                    loop {
                        match inc.next(&data[pos..avail], &o, last) {
                            Ok(Next::Item(it, n)) => {
                                got.push(item_text(it));
                                pos += n;
                            }
                            Ok(Next::More(n)) => {
                                pos += n;
                                break;
                            }
                            Ok(Next::Done(n)) => {
                                pos += n;
                                stop = Some(Ok(inc.summary.clone()));
                                break;
                            }
                            Err(e) => {
                                stop = Some(Err(e));
                                break;
                            }
                        }
                    }
                    assert_eq!(inc.consumed() as usize, pos);
                    if let Some(r) = stop {
                        break r;
                    }
                    assert!(!last, "more wanted after the last byte");
                };
                match (&want, &result) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(a), Err(b)) => assert_eq!(a, b, "piece {piece}"),
                    _ => panic!("piece {piece}: {want:?} vs {result:?}"),
                }
                if want.is_ok() {
                    assert_eq!(whole, got, "piece {piece}");
                } else {
                    assert!(whole.starts_with(&got) || got.len() <= whole.len());
                }
            }
        }
    }
}
