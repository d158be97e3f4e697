//! HyperLogLog sketches in Redis's string format, so that GET/SET/DUMP of a sketch move
//! between ferrokv and redis-server unchanged.
//!
//! Layout: a 16-byte header ("HYLL", encoding byte, 3 unused, 8-byte little-endian cached
//! cardinality whose top bit marks it stale) then 16384 registers, either dense (6 bits
//! each, 12288 bytes) or sparse (run-length opcodes: ZERO 00xxxxxx for 1-64 zero
//! registers, XZERO 01xxxxxx yyyyyyyy for up to 16384, VAL 1vvvvvxx for 1-4 registers of
//! value 1-32). An element picks a register with the low 14 bits of its MurmurHash64A and
//! stores the length of the run of zero bits above them, plus one; the cardinality is
//! Ertl's estimator over the histogram of register values, as Redis computes it.
//!
//! Sparse sketches are edited by decoding the registers, updating them and encoding the
//! runs again (Redis edits the opcodes in place; both give valid sketches of the same
//! registers, and the same length whenever the runs split the same way).

pub const REGISTERS: usize = 1 << P;
const P: u32 = 14;
const Q: usize = 64 - P as usize;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const HEADER: usize = 16;
pub const DENSE_SIZE: usize = HEADER + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const MAGIC: &[u8; 4] = b"HYLL";
const STALE: u8 = 0x80;

const SPARSE_VAL_MAX: u8 = 32;
const SPARSE_VAL_RUN: usize = 4;
const SPARSE_ZERO_RUN: usize = 64;
/// 0.5 / ln 2 (the same double as Redis's 0.721347520444481703680).
const ALPHA_INF: f64 = 0.7213475204444817;
const HASH_SEED: u64 = 0xadc83b19;

/// Raw registers, one byte each.
pub type Registers = [u8; REGISTERS];

/// A sketch whose sparse runs do not add up to 16384 registers.
#[derive(Debug)]
pub struct Corrupt;

/// True if `b` is a sketch by Redis's checks (header, known encoding, dense length).
pub fn is_hll(b: &[u8]) -> bool {
    b.len() >= HEADER
        && &b[..4] == MAGIC
        && b[4] <= SPARSE
        && (b[4] != DENSE || b.len() == DENSE_SIZE)
}

/// An empty sketch: sparse, one XZERO run, cached cardinality 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = header(SPARSE);
    push_zeros(&mut v, REGISTERS);
    v
}

fn header(encoding: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + 2);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&[encoding, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    v
}

pub fn encoding(b: &[u8]) -> u8 {
    b[4]
}

/// The cached cardinality, unless stale.
pub fn cached(b: &[u8]) -> Option<u64> {
    (b[15] & STALE == 0).then(|| u64::from_le_bytes(b[8..16].try_into().unwrap()))
}
pub fn set_cached(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}
pub fn invalidate(b: &mut [u8]) {
    b[15] |= STALE;
}

/// MurmurHash64A (Austin Appleby), little-endian, as Redis hashes HLL elements.
fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let chunks = key.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap()).wrapping_mul(M);
        k ^= k >> R;
        h ^= k.wrapping_mul(M);
        h = h.wrapping_mul(M);
    }
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^ (h >> R)
}

/// The register an element maps to and the value it proposes for it.
pub fn register_of(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, HASH_SEED);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    // A sentinel bit bounds the run at Q zeros.
    let rest = (h >> P) | 1 << Q;
    (index, rest.trailing_zeros() as u8 + 1)
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let (byte, shift) = (i * BITS / 8, i * BITS % 8);
    let lo = regs[byte] as u16 >> shift;
    let hi = regs.get(byte + 1).map_or(0, |&b| (b as u16) << (8 - shift));
    (lo | hi) as u8 & REGISTER_MAX
}

fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let (byte, shift) = (i * BITS / 8, i * BITS % 8);
    let word = (v as u16) << shift;
    let mask = (REGISTER_MAX as u16) << shift;
    regs[byte] = (regs[byte] & !(mask as u8)) | word as u8;
    if let Some(b) = regs.get_mut(byte + 1) {
        *b = (*b & !((mask >> 8) as u8)) | (word >> 8) as u8;
    }
}

/// Call `f(value, run length)` for each sparse opcode; the runs must cover exactly the
/// 16384 registers.
fn sparse_runs(ops: &[u8], mut f: impl FnMut(u8, usize)) -> Result<(), Corrupt> {
    let (mut i, mut covered) = (0, 0usize);
    while i < ops.len() {
        let op = ops[i];
        let (value, len) = match op >> 6 {
            0 => {
                i += 1;
                (0, (op & 0x3f) as usize + 1)
            }
            1 => {
                let low = *ops.get(i + 1).ok_or(Corrupt)? as usize;
                i += 2;
                (0, (((op & 0x3f) as usize) << 8 | low) + 1)
            }
            _ => {
                i += 1;
                (((op >> 2) & 0x1f) + 1, (op & 0x3) as usize + 1)
            }
        };
        if covered + len > REGISTERS {
            return Err(Corrupt);
        }
        f(value, len);
        covered += len;
    }
    if covered != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Every register of a sketch, one byte each.
pub fn registers(b: &[u8]) -> Result<Box<Registers>, Corrupt> {
    let mut raw = Box::new([0u8; REGISTERS]);
    max_into(&mut raw, b)?;
    Ok(raw)
}

/// raw[i] = max(raw[i], register i of the sketch `b`) (PFMERGE, PFCOUNT of many keys).
pub fn max_into(raw: &mut Registers, b: &[u8]) -> Result<(), Corrupt> {
    let body = &b[HEADER..];
    if encoding(b) == DENSE {
        for (i, r) in raw.iter_mut().enumerate() {
            *r = (*r).max(dense_get(body, i));
        }
        return Ok(());
    }
    let mut at = 0;
    sparse_runs(body, |v, len| {
        if v > 0 {
            for r in &mut raw[at..at + len] {
                *r = (*r).max(v);
            }
        }
        at += len;
    })
}

fn push_zeros(out: &mut Vec<u8>, len: usize) {
    let n = len - 1;
    if len <= SPARSE_ZERO_RUN {
        out.push(n as u8);
    } else {
        out.push(0x40 | (n >> 8) as u8);
        out.push((n & 0xff) as u8);
    }
}

/// The sparse opcodes for `raw`, or None if a register is too large for them.
fn sparse_ops(raw: &Registers) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < REGISTERS {
        let v = raw[i];
        let run = raw[i..].iter().take_while(|&&x| x == v).count();
        if v == 0 {
            push_zeros(&mut out, run);
        } else {
            if v > SPARSE_VAL_MAX {
                return None;
            }
            let mut left = run;
            while left > 0 {
                let n = left.min(SPARSE_VAL_RUN);
                out.push(0x80 | (v - 1) << 2 | (n - 1) as u8);
                left -= n;
            }
        }
        i += run;
    }
    Some(out)
}

/// Rewrite the body of sketch `b` (header kept, cache marked stale) to hold `raw`:
/// sparse if `sparse` is asked and the result fits in `sparse_max` bytes, else dense.
pub fn store(b: &mut Vec<u8>, raw: &Registers, sparse: bool, sparse_max: usize) {
    b.truncate(HEADER);
    if sparse {
        if let Some(ops) = sparse_ops(raw).filter(|o| HEADER + o.len() <= sparse_max) {
            b[4] = SPARSE;
            b.extend_from_slice(&ops);
            invalidate(b);
            return;
        }
    }
    b[4] = DENSE;
    b.resize(DENSE_SIZE, 0);
    for (i, &v) in raw.iter().enumerate() {
        if v != 0 {
            dense_set(&mut b[HEADER..], i, v);
        }
    }
    invalidate(b);
}

/// Add elements; true if a register changed (then the cache is stale). A sparse sketch
/// that outgrows `sparse_max` bytes or needs a register above 32 turns dense, as in Redis.
pub fn add<'a>(
    b: &mut Vec<u8>,
    elements: impl Iterator<Item = &'a [u8]>,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if encoding(b) == DENSE {
        return Ok(add_dense(b, elements));
    }
    let mut changed = false;
    let mut raw = registers(b)?;
    for e in elements {
        let (i, v) = register_of(e);
        if v > raw[i] {
            raw[i] = v;
            changed = true;
        }
    }
    if changed {
        store(b, &raw, true, sparse_max);
        invalidate(b);
    }
    Ok(changed)
}

/// `add` for a dense sketch (`is_hll` checked its length), which never changes size: done
/// in place on the stored bytes.
pub fn add_dense<'a>(b: &mut [u8], elements: impl Iterator<Item = &'a [u8]>) -> bool {
    let regs = &mut b[HEADER..];
    let mut changed = false;
    for e in elements {
        let (i, v) = register_of(e);
        if v > dense_get(regs, i) {
            dense_set(regs, i, v);
            changed = true;
        }
    }
    if changed {
        invalidate(b);
    }
    changed
}

/// The cardinality estimate of a sketch (without its cache).
pub fn count(b: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    let body = &b[HEADER..];
    if encoding(b) == DENSE {
        for i in 0..REGISTERS {
            histo[dense_get(body, i) as usize] += 1;
        }
    } else {
        sparse_runs(body, |v, len| histo[v as usize] += len as u32)?;
    }
    Ok(estimate(&histo))
}

/// The cardinality estimate of raw registers.
pub fn count_raw(raw: &Registers) -> u64 {
    let mut histo = [0u32; 64];
    for &v in raw.iter() {
        histo[(v & 63) as usize] += 1;
    }
    estimate(&histo)
}

/// Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017).
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Convert a sparse sketch to dense in place (PFDEBUG TODENSE / GETREG).
pub fn to_dense(b: &mut Vec<u8>) -> Result<(), Corrupt> {
    let raw = registers(b)?;
    store(b, &raw, false, 0);
    Ok(())
}

/// PFDEBUG DECODE: the sparse opcodes as text ("z:len", "Z:len", "v:value,len").
pub fn decode_text(b: &[u8]) -> String {
    let ops = &b[HEADER..];
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        let op = ops[i];
        match op >> 6 {
            0 => {
                parts.push(format!("z:{}", (op & 0x3f) as usize + 1));
                i += 1;
            }
            1 => {
                let low = ops.get(i + 1).copied().unwrap_or(0) as usize;
                parts.push(format!("Z:{}", (((op & 0x3f) as usize) << 8 | low) + 1));
                i += 2;
            }
            _ => {
                parts.push(format!("v:{},{}", ((op >> 2) & 0x1f) + 1, (op & 3) + 1));
                i += 1;
            }
        }
    }
    parts.join(" ")
}

/// PFSELFTEST: registers read back what was written at every position, and estimates
/// stay within 5 standard errors (1.04/sqrt(m)) as elements are added, with the sparse
/// and dense forms of the same sketch agreeing exactly.
pub fn self_test() -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_SIZE - HEADER];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..64 {
        let values: Vec<u8> = (0..REGISTERS).map(|_| (next() & 63) as u8).collect();
        for (i, &v) in values.iter().enumerate() {
            dense_set(&mut regs, i, v);
        }
        for (i, &v) in values.iter().enumerate() {
            if dense_get(&regs, i) != v {
                return Err(format!("TESTFAILED Register error at {i}"));
            }
        }
    }
    let mut sparse = new_sparse();
    let mut dense = new_sparse();
    to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion")?;
    let rel_err = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    for j in 1..=1_000_000u64 {
        let ele = j.to_le_bytes();
        add(&mut dense, std::iter::once(&ele[..]), 0).map_err(|_| "TESTFAILED add")?;
        if j <= 2000 {
            add(&mut sparse, std::iter::once(&ele[..]), usize::MAX)
                .map_err(|_| "TESTFAILED add")?;
        }
        if j != checkpoint {
            continue;
        }
        let card = count(&dense).map_err(|_| "TESTFAILED count")?;
        if j <= 2000 {
            if encoding(&sparse) != SPARSE {
                return Err("TESTFAILED sparse encoding not used".into());
            }
            if count(&sparse).map_err(|_| "TESTFAILED count")? != card {
                return Err("TESTFAILED dense/sparse disagree".into());
            }
        }
        // Very small counts are exact enough to need slack of a couple of elements.
        let max_err = (j as f64 * rel_err * 5.0).max(3.0);
        if (card as f64 - j as f64).abs() > max_err {
            return Err(format!(
                "TESTFAILED Too big error. card:{card} abserr:{} (max {max_err})",
                (card as f64 - j as f64).abs()
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_test_passes() {
        self_test().unwrap();
    }

    #[test]
    fn dense_registers_round_trip_at_every_position() {
        let mut regs = vec![0u8; DENSE_SIZE - HEADER];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
        }
    }

    #[test]
    fn sparse_and_dense_hold_the_same_registers() {
        let mut s = new_sparse();
        assert_eq!(s.len(), HEADER + 2);
        assert_eq!(decode_text(&s), "Z:16384");
        let elements: Vec<Vec<u8>> = (0..500).map(|i| format!("e{i}").into_bytes()).collect();
        assert!(add(&mut s, elements.iter().map(|e| &e[..]), 3000).unwrap());
        assert_eq!(encoding(&s), SPARSE);
        let mut d = s.clone();
        to_dense(&mut d).unwrap();
        assert_eq!(d.len(), DENSE_SIZE);
        assert_eq!(registers(&s).unwrap()[..], registers(&d).unwrap()[..]);
        assert_eq!(count(&s).unwrap(), count(&d).unwrap());
        assert!(!add(&mut s, elements.iter().map(|e| &e[..]), 3000).unwrap());
        // Corruption: runs not covering exactly 16384 registers.
        let mut bad = s.clone();
        bad.extend_from_slice(b"hello");
        assert!(count(&bad).is_err());
        let mut short = new_sparse();
        short.pop();
        assert!(count(&short).is_err());
    }

    #[test]
    fn estimates_are_those_of_redis() {
        // PFADD hll 1 2 3 4 5 then PFCOUNT: 5; with 6 7 8 8 9 10: 10 (unit/hyperloglog).
        let mut s = new_sparse();
        let five: Vec<&[u8]> = vec![b"1", b"2", b"3", b"4", b"5"];
        add(&mut s, five.into_iter(), 3000).unwrap();
        assert_eq!(count(&s).unwrap(), 5);
        let more: Vec<&[u8]> = vec![b"6", b"7", b"8", b"8", b"9", b"10"];
        add(&mut s, more.into_iter(), 3000).unwrap();
        assert_eq!(count(&s).unwrap(), 10);
        assert_eq!(count(&new_sparse()).unwrap(), 0);
    }
}
