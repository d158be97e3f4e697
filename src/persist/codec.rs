//! The value codec: one serialized form of a key's value (and of function libraries) for
//! every place that moves values between servers or to disk: DUMP/RESTORE, MIGRATE, FUNCTION
//! DUMP/RESTORE, MEMORY USAGE's estimate, and next the RDB writer and full sync.
//!
//! Layout (ferrokv's own, until the RDB encodings replace it): one type byte, the body
//! (lengths are LEB128 varints, strings are length-prefixed bytes, scores are f64 bits
//! little-endian), then a 2-byte little-endian format version and the CRC-64/Jones
//! (Redis's checksum) of everything before it, 8 bytes little-endian.
use super::crc64::crc64;
use crate::keyspace::{ValRef, Value};
use crate::types::set::Set;
use crate::types::stream::{Consumer, Group, Nack, Stream, StreamId};
use crate::types::zset::ZSet;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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

pub const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_FORMAT: &str = "ERR Bad data format";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_is_checked() {
        let mut p = serialize(Value::from_bytes(b"hello").as_ref());
        assert!(verify(&p).is_some());
        p[1] ^= 1;
        assert!(verify(&p).is_none());
        assert!(verify(b"short").is_none());
    }
}
