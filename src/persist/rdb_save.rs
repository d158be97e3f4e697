//! The RDB writer: Redis 7.0's file format (RDB version 10), which redis-server 7.0 loads
//! and `redis-check-rdb` accepts.
//!
//! A file is the magic `REDIS0010`, aux fields (name/value strings), the function
//! libraries, then per non-empty database SELECTDB and RESIZEDB followed by its keys
//! (an optional expiry in ms, an optional LRU idle time or LFU counter, the value's type
//! byte, the key and the value), EOF and the CRC-64 of everything before it (zero when
//! `rdbchecksum no`).
//!
//! Values are written in encodings every Redis 7.0 loads: strings as integers when they
//! are small integers, LZF-compressed past 20 bytes when `rdbcompression yes` and that is
//! smaller, raw otherwise; lists as Redis 7.0 writes them (QUICKLIST_2: listpack nodes
//! cut by list-max-listpack-size); hashes and sorted sets as listpacks and integer sets
//! as intsets when Redis would hold them so (the `*-max-listpack-*` and
//! set-max-intset-entries limits), else in their plain forms (sorted sets with binary
//! double scores); streams as STREAM_LISTPACKS_2, Redis 7.0's own: entries in
//! listpack nodes keyed by their master ID, then the stream's IDs and counters, and its
//! consumer groups with their pending entries and consumers.
use super::crc64::crc64_update;
use super::listpack::Listpack;
use crate::keyspace::{Keyspace, ValRef, NO_EXPIRE};
use crate::types::stream::{Stream, StreamId};
use std::io::{self, Write};

use super::rdb::*;
pub use super::rdb::{OP_FUNCTION2, RDB_VERSION};

// Special string encodings (length byte 0b11xxxxxx).
const ENC_INT8: u8 = 0xc0;
const ENC_INT16: u8 = 0xc1;
const ENC_INT32: u8 = 0xc2;
const ENC_LZF: u8 = 0xc3;

/// What goes with the keys, and how to write them.
pub struct Options<'a> {
    pub compression: bool,
    pub checksum: bool,
    /// Aux fields after the standard ones (repl-id, repl-offset...).
    pub aux: &'a [(&'a str, String)],
    /// Keep each key's idle time (an LRU policy) or LFU counter (an LFU policy).
    pub lru: Lru,
    /// The stream node limits (stream-node-max-entries / -bytes) the nodes are cut by.
    pub stream_node_max_entries: u64,
    pub stream_node_max_bytes: u64,
    /// rdb-key-save-delay (tests): microseconds to sleep after each key.
    pub key_save_delay_us: i64,
    /// The limits under which Redis keeps small hashes and sorted sets as listpacks and
    /// integer sets as intsets, and writes them so.
    pub compact: Compact,
    /// Called with the count of keys written so far, every 1024 keys (a BGSAVE child
    /// reports its progress and copy-on-write size with it).
    pub progress: Option<fn(u64)>,
}

/// hash-max-listpack-entries/-value, zset-max-listpack-entries/-value,
/// set-max-intset-entries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Compact {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub zset_entries: usize,
    pub zset_value: usize,
    pub intset_entries: usize,
}

impl Compact {
    /// Redis 7.0's defaults.
    pub const DEFAULT: Compact = Compact {
        hash_entries: 512,
        hash_value: 64,
        zset_entries: 128,
        zset_value: 64,
        intset_entries: 512,
    };

    pub fn of(cfg: &crate::config::Config) -> Compact {
        let n = |v: i64| v.max(0) as usize;
        Compact {
            hash_entries: n(cfg.hash_max_listpack_entries),
            hash_value: n(cfg.hash_max_listpack_value),
            zset_entries: n(cfg.zset_max_listpack_entries),
            zset_value: n(cfg.zset_max_listpack_value),
            intset_entries: n(cfg.set_max_intset_entries),
        }
    }

    /// Whether Redis would hold (and write) this value in its compact encoding.
    fn fits(&self, v: &ValRef) -> bool {
        match v {
            ValRef::Hash(h) => {
                h.len() <= self.hash_entries
                    && h.iter()
                        .all(|(f, v)| f.len() <= self.hash_value && v.len() <= self.hash_value)
            }
            ValRef::ZSet(z) => {
                z.len() <= self.zset_entries
                    && z.range(0, z.len().saturating_sub(1), false)
                        .all(|(m, _)| m.len() <= self.zset_value)
            }
            ValRef::Set(s) => s.is_intset() && s.len() <= self.intset_entries,
            _ => false,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lru {
    None,
    Idle,
    Freq,
}

/// Bytes go out through a buffer that also keeps the running checksum.
pub struct Out<W: Write> {
    w: W,
    buf: Vec<u8>,
    crc: u64,
    written: u64,
}

const FLUSH_AT: usize = 64 * 1024;

impl<W: Write> Out<W> {
    pub fn new(w: W) -> Self {
        Out {
            w,
            buf: Vec::with_capacity(FLUSH_AT * 2),
            crc: 0,
            written: 0,
        }
    }
    fn flush_buf(&mut self) -> io::Result<()> {
        self.crc = crc64_update(self.crc, &self.buf);
        self.w.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
    #[inline]
    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }
    /// Bytes written so far (flushed or not).
    pub fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The checksum trailer, then everything to the writer; gives the writer back.
    fn finish(mut self, checksum: bool) -> io::Result<W> {
        self.flush_buf()?;
        let crc = if checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Length encoding: 6, 14, 32 or 64 bits.
pub fn put_len(b: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        b.push(n as u8);
    } else if n < 1 << 14 {
        b.push(0x40 | (n >> 8) as u8);
        b.push(n as u8);
    } else if n <= u32::MAX as u64 {
        b.push(0x80);
        b.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        b.push(0x81);
        b.extend_from_slice(&n.to_be_bytes());
    }
}

/// An integer as the shortest integer string encoding, if it has one (32 bits or less).
fn put_int_encoded(b: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(v) = i8::try_from(n) {
        b.push(ENC_INT8);
        b.push(v as u8);
    } else if let Ok(v) = i16::try_from(n) {
        b.push(ENC_INT16);
        b.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(n) {
        b.push(ENC_INT32);
        b.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// A string: integer-encoded when it is the canonical text of a 32-bit integer (as Redis
/// tries for strings of up to 11 bytes), LZF-compressed when allowed, longer than 20
/// bytes and smaller so, else raw.
pub fn put_string(b: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(n) = crate::util::parse_i64(s) {
            if itoa::Buffer::new().format(n).as_bytes() == s && put_int_encoded(b, n) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf_compress(s) {
            b.push(ENC_LZF);
            put_len(b, c.len() as u64);
            put_len(b, s.len() as u64);
            b.extend_from_slice(&c);
            return;
        }
    }
    put_len(b, s.len() as u64);
    b.extend_from_slice(s);
}

/// LZF when it saves at least 5 bytes (as Redis's rdbSaveLzfStringObject asks: the two
/// lengths it adds would eat a smaller gain).
fn lzf_compress(s: &[u8]) -> Option<Vec<u8>> {
    super::lzf::compress(s).filter(|c| c.len() + 4 < s.len())
}

fn put_int_string(b: &mut Vec<u8>, n: i64) {
    if !put_int_encoded(b, n) {
        let mut buf = itoa::Buffer::new();
        let s = buf.format(n).as_bytes();
        put_len(b, s.len() as u64);
        b.extend_from_slice(s);
    }
}

/// A value's RDB type byte.
pub fn type_of(v: &ValRef, opts: &Options) -> u8 {
    let compact = opts.compact.fits(v);
    match v {
        ValRef::Int(_) | ValRef::Str(_) => T_STRING,
        ValRef::List(_) => T_LIST_QUICKLIST_2,
        ValRef::Set(_) if compact => T_SET_INTSET,
        ValRef::Set(_) => T_SET,
        ValRef::ZSet(_) if compact => T_ZSET_LISTPACK,
        ValRef::ZSet(_) => T_ZSET_2,
        ValRef::Hash(_) if compact => T_HASH_LISTPACK,
        ValRef::Hash(_) => T_HASH,
        ValRef::Stream(_) => T_STREAM_LISTPACKS_2,
    }
}

/// A sorted set's score as Redis writes it into a listpack (d2string): an integer
/// when it is one (within ±2^62), else "%.17g".
fn score_text(d: f64) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if d.is_finite() && d.abs() < (i64::MAX / 2) as f64 && d.fract() == 0.0 {
        return (d as i64).to_string();
    }
    crate::util::fmt_double(d)
}

/// A value in Redis's compact encoding (see `Compact::fits`): a listpack of fields and
/// values (hash), of members and scores ascending (sorted set), or an intset.
fn put_compact(b: &mut Vec<u8>, v: &ValRef, z: bool) {
    match v {
        ValRef::Hash(h) => {
            let mut lp = Listpack::new();
            for (f, val) in h.iter() {
                lp.push_str(&f);
                lp.push_str(&val);
            }
            put_string(b, &lp.finish(), z);
        }
        ValRef::ZSet(zs) => {
            let mut lp = Listpack::new();
            for (m, score) in zs.range(0, zs.len().saturating_sub(1), false) {
                lp.push_str(m);
                lp.push_str(score_text(score).as_bytes());
            }
            put_string(b, &lp.finish(), z);
        }
        ValRef::Set(s) => {
            if let Some(ints) = s.ints() {
                put_string(b, &ints.to_redis(), z);
            }
        }
        _ => {}
    }
}

/// A value's body (after its type byte): the object encoding shared by RDB files and
/// DUMP payloads.
pub fn put_object(b: &mut Vec<u8>, v: &ValRef, opts: &Options) {
    let z = opts.compression;
    if opts.compact.fits(v) {
        return put_compact(b, v, z);
    }
    match v {
        ValRef::Int(n) => put_int_string(b, *n),
        ValRef::Str(s) => put_string(b, s, z),
        ValRef::List(l) => put_quicklist(b, l.iter(), l.fill(), opts),
        ValRef::Set(s) => {
            put_len(b, s.len() as u64);
            s.for_each(|m| put_string(b, m, z));
        }
        ValRef::ZSet(zs) => {
            put_len(b, zs.len() as u64);
            // Highest score first, as Redis writes them: each load is then an insert
            // at the head of the skip list.
            let n = zs.len();
            for (m, score) in zs.range(0, n.saturating_sub(1), true) {
                put_string(b, m, z);
                b.extend_from_slice(&score.to_le_bytes());
            }
        }
        ValRef::Hash(h) => {
            put_len(b, h.len() as u64);
            for (k, val) in h.iter() {
                put_string(b, &k, z);
                put_string(b, &val, z);
            }
        }
        ValRef::Stream(s) => put_stream(b, s, opts),
    }
}

/// An element this large gets a node of its own, stored plain (Redis's packed_threshold).
const PLAIN_THRESHOLD: usize = 1 << 30;

/// A list as Redis 7.0 writes it (QUICKLIST_2): its nodes, each a listpack of entries
/// (container 2) cut where list-max-listpack-size says, or one huge element stored plain
/// (container 1).
/// `fill` is the list's own list-max-listpack-size (the one it was created with: Redis
/// writes its nodes as they are in memory).
fn put_quicklist<E: AsRef<[u8]>>(
    b: &mut Vec<u8>,
    items: impl Iterator<Item = E>,
    fill: i64,
    opts: &Options,
) {
    let allows = |lp: &Listpack, len: usize| {
        crate::types::list::node_allows(lp.len_bytes(), lp.count(), len, fill)
    };
    let mut nodes: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut lp = Listpack::new();
    for e in items {
        let e = e.as_ref();
        if e.len() >= PLAIN_THRESHOLD {
            if lp.count() > 0 {
                nodes.push((2, std::mem::take(&mut lp).finish()));
            }
            nodes.push((1, e.to_vec()));
            continue;
        }
        if lp.count() > 0 && !allows(&lp, e.len()) {
            nodes.push((2, std::mem::take(&mut lp).finish()));
        }
        lp.push_str(e);
    }
    if lp.count() > 0 {
        nodes.push((2, lp.finish()));
    }
    put_len(b, nodes.len() as u64);
    for (container, data) in &nodes {
        put_len(b, *container);
        put_string(b, data, opts.compression);
    }
}

fn put_id_len(b: &mut Vec<u8>, id: StreamId) {
    put_len(b, id.ms);
    put_len(b, id.seq);
}

/// A stream ID as 16 raw bytes, big-endian ms then seq (a node key, a PEL entry).
fn raw_id(id: StreamId) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&id.ms.to_be_bytes());
    r[8..].copy_from_slice(&id.seq.to_be_bytes());
    r
}

// Stream entry flags in a node's listpack.
const SF_SAMEFIELDS: i64 = 2;

fn put_stream(b: &mut Vec<u8>, s: &Stream, opts: &Options) {
    // Nodes: runs of entries cut by the node limits, each a listpack starting with its
    // master entry (count, deleted, the first entry's field names, 0).
    let max_entries = opts.stream_node_max_entries.max(1) as usize;
    let max_bytes = if opts.stream_node_max_bytes == 0 {
        usize::MAX
    } else {
        opts.stream_node_max_bytes as usize
    };
    let mut nodes: Vec<(StreamId, Vec<u8>)> = Vec::new();
    let mut it = s.entries.iter();
    while let Some((master, first_fields)) = it.next() {
        let mut run = vec![(master, first_fields)];
        let mut bytes = first_fields.iter().map(|f| f.len() + 2).sum::<usize>();
        while run.len() < max_entries && bytes < max_bytes {
            let Some((id, f)) = it.next() else {
                break;
            };
            bytes += f.iter().map(|f| f.len() + 2).sum::<usize>() + 6;
            run.push((id, f));
        }
        let master_fields: Vec<&[u8]> = first_fields.iter().step_by(2).collect();
        let mut lp = Listpack::new();
        lp.push_int(run.len() as i64);
        lp.push_int(0);
        lp.push_int(master_fields.len() as i64);
        for f in &master_fields {
            lp.push_str(f);
        }
        lp.push_int(0);
        for (id, fields) in &run {
            let names = fields.iter().step_by(2);
            let same =
                fields.len() / 2 == master_fields.len() && names.eq(master_fields.iter().copied());
            lp.push_int(if same { SF_SAMEFIELDS } else { 0 });
            lp.push_int(id.ms.wrapping_sub(master.ms) as i64);
            lp.push_int(id.seq.wrapping_sub(master.seq) as i64);
            let n = fields.len() / 2;
            if same {
                for v in fields.iter().skip(1).step_by(2) {
                    lp.push_str(v);
                }
                lp.push_int(n as i64 + 3);
            } else {
                lp.push_int(n as i64);
                for f in fields.iter() {
                    lp.push_str(f);
                }
                lp.push_int(2 * n as i64 + 4);
            }
        }
        nodes.push((master, lp.finish()));
    }
    put_len(b, nodes.len() as u64);
    for (master, lp) in &nodes {
        put_string(b, &raw_id(*master), false);
        put_string(b, lp, false);
    }
    put_len(b, s.len() as u64);
    put_id_len(b, s.last_id);
    put_id_len(b, s.first_id);
    put_id_len(b, s.max_deleted);
    put_len(b, s.entries_added);
    put_len(b, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(b, name, false);
        put_id_len(b, g.last_id);
        // entries_read: -1 (unknown) is written as its 64-bit two's complement.
        put_len(b, g.entries_read as u64);
        put_len(b, g.pel.len() as u64);
        for (id, n) in &g.pel {
            b.extend_from_slice(&raw_id(*id));
            b.extend_from_slice(&n.delivery_time.to_le_bytes());
            put_len(b, n.delivery_count);
        }
        put_len(b, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_string(b, cname, false);
            b.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(b, c.pel.len() as u64);
            for id in &c.pel {
                b.extend_from_slice(&raw_id(*id));
            }
        }
    }
}

fn put_aux(b: &mut Vec<u8>, name: &str, value: &[u8]) {
    b.push(OP_AUX);
    put_string(b, name.as_bytes(), false);
    put_string(b, value, false);
}

/// Write a whole RDB file: the keyspace, the function libraries' code and the aux
/// fields. Returns the writer (to fsync) and the number of keys written.
pub fn write<'f, W: Write>(
    w: W,
    ks: &Keyspace,
    functions: impl Iterator<Item = &'f [u8]>,
    opts: &Options,
) -> io::Result<(W, u64)> {
    let mut out = Out::new(w);
    out.buf
        .extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    let b = &mut out.buf;
    put_aux(b, "redis-ver", crate::REDIS_VERSION.as_bytes());
    put_aux(b, "redis-bits", b"64");
    let ctime = crate::util::now_ms() / 1000;
    put_aux(b, "ctime", itoa::Buffer::new().format(ctime).as_bytes());
    let mem = crate::evict::used_memory();
    put_aux(b, "used-mem", itoa::Buffer::new().format(mem).as_bytes());
    for (name, value) in opts.aux {
        put_aux(b, name, value.as_bytes());
    }
    for code in functions {
        out.buf.push(OP_FUNCTION2);
        put_string(&mut out.buf, code, opts.compression);
        out.maybe_flush()?;
    }
    let mut keys = 0u64;
    for (i, db) in ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        out.buf.push(OP_SELECTDB);
        put_len(&mut out.buf, i as u64);
        out.buf.push(OP_RESIZEDB);
        put_len(&mut out.buf, db.len() as u64);
        put_len(&mut out.buf, db.volatile() as u64);
        for (_, e) in db.dict.items() {
            let b = &mut out.buf;
            let exp = e.expire();
            if exp != NO_EXPIRE {
                b.push(OP_EXPIRETIME_MS);
                b.extend_from_slice(&exp.to_le_bytes());
            }
            match opts.lru {
                Lru::None => {}
                Lru::Idle => {
                    b.push(OP_IDLE);
                    put_len(b, crate::evict::idle_secs(e.lru()));
                }
                Lru::Freq => {
                    b.push(OP_FREQ);
                    b.push(crate::evict::lfu_counter(e.lru()) as u8);
                }
            }
            let v = e.val();
            b.push(type_of(&v, opts));
            put_string(b, e.key(), opts.compression);
            put_object(b, &v, opts);
            keys += 1;
            out.maybe_flush()?;
            if let Some(progress) = opts.progress {
                if opts.key_save_delay_us > 0 || keys.is_multiple_of(1024) {
                    progress(keys);
                }
            }
            if opts.key_save_delay_us > 0 {
                std::thread::sleep(std::time::Duration::from_micros(
                    opts.key_save_delay_us as u64,
                ));
            }
        }
    }
    out.buf.push(OP_EOF);
    let w = out.finish(opts.checksum)?;
    Ok((w, keys))
}
