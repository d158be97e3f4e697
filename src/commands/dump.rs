//! DUMP and RESTORE with ferrokv's own self-describing payload (not RDB-compatible: payloads
//! round-trip between ferrokv servers only).
//!
//! Layout: one type byte, the body (lengths are LEB128 varints, strings are length-prefixed
//! bytes, scores are f64 bits little-endian), then a 2-byte little-endian format version and
//! the CRC-64/Jones (Redis's checksum) of everything before it, 8 bytes little-endian.
use super::*;
use crate::keyspace::clock;
use crate::keyspace::{Entry, ValRef, Value, NO_EXPIRE};
use crate::types::set::Set;
use crate::types::stream::{Consumer, Group, Nack, Stream, StreamId};
use crate::types::zset::ZSet;
use crate::util::eq_ic;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub static COMMANDS: &[Command] = &[
    cmd("dump", 2, READONLY, KEYSPACE, (1, 1, 1), dump),
    cmd(
        "restore",
        -4,
        WRITE | DENYOOM,
        KEYSPACE | DANGEROUS,
        (1, 1, 1),
        restore,
    ),
];

/// Bumped whenever the layout changes; older or newer payloads are refused.
const VERSION: u16 = 1;

const T_STRING: u8 = 0;
const T_LIST: u8 = 1;
const T_SET: u8 = 2;
const T_ZSET: u8 = 3;
const T_HASH: u8 = 4;
const T_STREAM: u8 = 5;
/// A function library (FUNCTION DUMP), never a key's type.
const T_FUNCTION: u8 = 245;

const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
const BAD_FORMAT: &str = "ERR Bad data format";

// ---- CRC-64/Jones (reflected polynomial 0x95ac9329ac4bc9b5), as Redis's crc64.c ----

const fn crc_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x95ac_9329_ac4b_c9b5
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u64; 256] = crc_table();

pub fn crc64(data: &[u8]) -> u64 {
    data.iter().fold(0u64, |crc, &b| {
        CRC_TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8)
    })
}

// ---- encoding ----

struct Writer(Vec<u8>);

impl Writer {
    fn len(&mut self, mut n: u64) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn f64(&mut self, d: f64) {
        self.0.extend_from_slice(&d.to_bits().to_le_bytes());
    }
    fn i64(&mut self, n: i64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    fn id(&mut self, id: StreamId) {
        self.len(id.ms);
        self.len(id.seq);
    }
}

/// The payload for a value (type, body, version, checksum).
pub fn serialize(v: ValRef) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    match v {
        ValRef::Int(n) => {
            w.0.push(T_STRING);
            w.bytes(itoa::Buffer::new().format(n).as_bytes());
        }
        ValRef::Str(s) => {
            w.0.push(T_STRING);
            w.bytes(s);
        }
        ValRef::List(l) => {
            w.0.push(T_LIST);
            w.len(l.len() as u64);
            for e in l.iter() {
                w.bytes(e);
            }
        }
        ValRef::Set(s) => {
            w.0.push(T_SET);
            w.len(s.len() as u64);
            s.for_each(|m| w.bytes(m));
        }
        ValRef::ZSet(z) => {
            w.0.push(T_ZSET);
            w.len(z.len() as u64);
            for (m, score) in z.iter() {
                w.bytes(m);
                w.f64(score);
            }
        }
        ValRef::Hash(h) => {
            w.0.push(T_HASH);
            w.len(h.len() as u64);
            for (k, val) in h.iter() {
                w.bytes(k);
                w.bytes(val);
            }
        }
        ValRef::Stream(s) => {
            w.0.push(T_STREAM);
            write_stream(&mut w, s);
        }
    }
    seal(w.0)
}

/// Append the version and checksum trailer.
fn seal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// FUNCTION DUMP: the code of each library, in the same framing as a key's payload.
pub fn serialize_libraries<'a>(codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    for code in codes {
        w.0.push(T_FUNCTION);
        w.bytes(code);
    }
    seal(w.0)
}

/// FUNCTION RESTORE: the libraries' code from a verified body, or the reason it is not
/// a functions payload.
pub fn deserialize_libraries(body: &[u8]) -> Result<Vec<&[u8]>, &'static str> {
    let mut r = Reader { b: body, pos: 0 };
    let mut codes = Vec::new();
    while r.pos < body.len() {
        if r.u8() != Some(T_FUNCTION) {
            return Err("ERR given type is not a function");
        }
        codes.push(r.bytes().ok_or("ERR can not read data type")?);
    }
    Ok(codes)
}

fn write_stream(w: &mut Writer, s: &Stream) {
    w.len(s.entries.len() as u64);
    for (id, fields) in &s.entries {
        w.id(*id);
        w.len(fields.len() as u64);
        for f in fields.iter() {
            w.bytes(f);
        }
    }
    w.id(s.last_id);
    w.id(s.first_id);
    w.id(s.max_deleted);
    w.len(s.entries_added);
    w.len(s.groups.len() as u64);
    for (name, g) in &s.groups {
        w.bytes(name);
        w.id(g.last_id);
        w.i64(g.entries_read);
        w.len(g.pel.len() as u64);
        for (id, n) in &g.pel {
            w.id(*id);
            w.bytes(&n.consumer);
            w.i64(n.delivery_time);
            w.len(n.delivery_count);
        }
        w.len(g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            w.bytes(cname);
            w.i64(c.seen_time);
            w.len(c.pel.len() as u64);
            for id in &c.pel {
                w.id(*id);
            }
        }
    }
}

// ---- decoding ----

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

/// Every read fails with None on truncated or malformed input.
impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    fn len(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            n |= ((b & 0x7f) as u64).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }
    /// A count of items each at least one byte long: bounded by what is left.
    fn count(&mut self) -> Option<usize> {
        let n = self.len()?;
        (n <= (self.b.len() - self.pos) as u64).then_some(n as usize)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.count()?;
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Some(s)
    }
    fn fixed8(&mut self) -> Option<[u8; 8]> {
        let s = self.b.get(self.pos..self.pos + 8)?;
        self.pos += 8;
        s.try_into().ok()
    }
    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_bits(u64::from_le_bytes(self.fixed8()?)))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.fixed8()?))
    }
    fn id(&mut self) -> Option<StreamId> {
        Some(StreamId::new(self.len()?, self.len()?))
    }
}

/// Check the version and checksum trailer; returns the body (type byte included).
pub fn verify(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 11 {
        return None;
    }
    let (head, crc) = payload.split_at(payload.len() - 8);
    let (body, ver) = head.split_at(head.len() - 2);
    let crc = u64::from_le_bytes(crc.try_into().ok()?);
    (u16::from_le_bytes([ver[0], ver[1]]) == VERSION && crc64(head) == crc).then_some(body)
}

/// Limits that shape the rebuilt value like the server's own commands would.
pub struct Shape {
    pub set_max_intset_entries: usize,
    pub stream_node_max_entries: u64,
    pub stream_node_max_bytes: u64,
    pub hash_limits: crate::types::hash::Limits,
}

/// Rebuild a value from a verified body; None when it is malformed.
pub fn deserialize(body: &[u8], shape: &Shape) -> Option<Value> {
    let mut r = Reader { b: body, pos: 0 };
    let v = match r.u8()? {
        T_STRING => Value::from_bytes(r.bytes()?),
        T_LIST => {
            let n = r.count()?;
            let mut l = VecDeque::with_capacity(n);
            for _ in 0..n {
                l.push_back(r.bytes()?.into());
            }
            Value::List(Box::new(l))
        }
        T_SET => {
            let n = r.count()?.checked_sub(1)?;
            let first = r.bytes()?;
            let mut s = Set::for_member(first);
            s.insert(first, shape.set_max_intset_entries);
            for _ in 0..n {
                s.insert(r.bytes()?, shape.set_max_intset_entries);
            }
            Value::Set(Box::new(s))
        }
        T_ZSET => {
            let n = r.count()?;
            let mut z = ZSet::default();
            for _ in 0..n {
                let m = r.bytes()?;
                let score = r.f64()?;
                if score.is_nan() {
                    return None;
                }
                z.insert(m, score);
            }
            Value::ZSet(Box::new(z))
        }
        T_HASH => {
            let n = r.count()?;
            let mut h = crate::types::hash::Hash::new();
            for _ in 0..n {
                let k = r.bytes()?;
                let val = r.bytes()?;
                h.set(k, val, shape.hash_limits);
            }
            Value::Hash(Box::new(h))
        }
        T_STREAM => Value::Stream(Box::new(read_stream(&mut r, shape)?)),
        _ => return None,
    };
    // Trailing garbage or an empty container means a payload we did not write.
    let empty = match &v {
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        _ => false,
    };
    (r.pos == body.len() && !empty).then_some(v)
}

fn read_stream(r: &mut Reader, shape: &Shape) -> Option<Stream> {
    let mut s = Stream::default();
    let n = r.count()?;
    for _ in 0..n {
        let id = r.id()?;
        let nf = r.count()?;
        let mut fields = Vec::with_capacity(nf);
        for _ in 0..nf {
            fields.push(Box::<[u8]>::from(r.bytes()?));
        }
        if s.entries
            .last_key_value()
            .is_some_and(|(last, _)| *last >= id)
        {
            return None;
        }
        s.append(
            id,
            fields.into_boxed_slice(),
            shape.stream_node_max_entries,
            shape.stream_node_max_bytes,
        );
    }
    s.last_id = r.id()?;
    s.first_id = r.id()?;
    s.max_deleted = r.id()?;
    s.entries_added = r.len()?;
    let ng = r.count()?;
    for _ in 0..ng {
        let name: Box<[u8]> = r.bytes()?.into();
        let last_id = r.id()?;
        let entries_read = r.i64()?;
        let np = r.count()?;
        let mut pel = BTreeMap::new();
        for _ in 0..np {
            let id = r.id()?;
            let consumer = r.bytes()?.into();
            let delivery_time = r.i64()?;
            let delivery_count = r.len()?;
            pel.insert(
                id,
                Nack {
                    consumer,
                    delivery_time,
                    delivery_count,
                },
            );
        }
        let nc = r.count()?;
        let mut consumers = BTreeMap::new();
        for _ in 0..nc {
            let cname: Box<[u8]> = r.bytes()?.into();
            let seen_time = r.i64()?;
            let ncp = r.count()?;
            let mut cpel = BTreeSet::new();
            for _ in 0..ncp {
                cpel.insert(r.id()?);
            }
            consumers.insert(
                cname,
                Consumer {
                    seen_time,
                    pel: cpel,
                },
            );
        }
        s.groups.insert(
            name,
            Group {
                last_id,
                entries_read,
                pel,
                consumers,
            },
        );
    }
    Some(s)
}

// ---- commands ----

fn dump(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)) {
        Some(e) => out.bulk(&serialize(e.val())),
        None => out.null(),
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
fn restore(ctx: &mut Ctx, args: Args) {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None::<i64>, None::<i64>);
    let mut j = 4;
    while j < args.len() {
        let a = args.get(j);
        let more = j + 1 < args.len();
        if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "absttl") {
            absttl = true;
        } else if eq_ic(a, "idletime") && more && freq.is_none() {
            let Some(n) = int_arg(ctx, args.get(j + 1)) else {
                return;
            };
            if n < 0 {
                return ctx.out.error("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(n);
            j += 1;
        } else if eq_ic(a, "freq") && more && idle.is_none() {
            let Some(n) = int_arg(ctx, args.get(j + 1)) else {
                return;
            };
            if !(0..=255).contains(&n) {
                return ctx
                    .out
                    .error("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(n);
            j += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let key = args.get(1);
    if !replace && ctx.dbm().exists(key) {
        return ctx.out.error("BUSYKEY Target key name already exists.");
    }
    let Some(mut ttl) = int_arg(ctx, args.get(2)) else {
        return;
    };
    if ttl < 0 {
        return ctx.out.error("ERR Invalid TTL value, must be >= 0");
    }
    let Some(body) = verify(args.get(3)) else {
        return ctx.out.error(BAD_PAYLOAD);
    };
    let cfg = &ctx.srv.cfg;
    let shape = Shape {
        set_max_intset_entries: cfg.set_max_intset_entries.max(0) as usize,
        stream_node_max_entries: cfg.stream_node_max_entries.max(0) as u64,
        stream_node_max_bytes: cfg.stream_node_max_bytes.max(0) as u64,
        hash_limits: crate::types::hash::Limits::from_cfg(cfg),
    };
    let lfu = cfg.maxmemory_policy_name().contains("lfu");
    let Some(val) = deserialize(body, &shape) else {
        return ctx.out.error(BAD_FORMAT);
    };
    let db = ctx.dbm();
    let deleted = replace && db.remove(key).is_some();
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(clock::now());
    }
    if ttl != 0 && ttl <= clock::now() {
        // Already expired: the key ends up absent.
        if deleted {
            ctx.propagate_as(&[b"DEL", key]);
            ctx.modified(key);
        }
        return ctx.out.ok();
    }
    // A relative TTL propagates as the absolute time it came to.
    if ttl != 0 && !absttl && ctx.srv.prop.on() {
        let at = ttl.to_string();
        let mut words: Vec<&[u8]> = args.iter().collect();
        words[2] = at.as_bytes();
        words.push(b"ABSTTL");
        ctx.propagate_as(&words);
    }
    let db = ctx.dbm();
    let mut e = Entry::new(key, val, if ttl != 0 { ttl } else { NO_EXPIRE });
    match (lfu, freq, idle) {
        (true, Some(f), _) => e.set_lru((e.lru() & !0xff) | f as u32),
        (false, _, Some(secs)) => e.set_lru(e.lru().wrapping_sub(secs as u32)),
        _ => {}
    }
    db.insert_entry(e);
    ctx.modified(key);
    ctx.out.ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_jones_check_value() {
        // Redis's crc64.c test vector.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn trailer_is_checked() {
        let mut p = serialize(Value::from_bytes(b"hello").as_ref());
        assert!(verify(&p).is_some());
        p[1] ^= 1;
        assert!(verify(&p).is_none());
        assert!(verify(b"short").is_none());
    }
}
