//! Bitmap commands: bits of string values (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP) and
//! BITFIELD's integers of any width at any bit offset.
use super::*;
use crate::keyspace::{Db, Str, Value, NO_EXPIRE};
use crate::util::{eq_ic, parse_i64};

pub static COMMANDS: &[Command] = &[
    cmd("setbit", 4, WRITE | DENYOOM, BITMAP, setbit),
    cmd("getbit", 3, READONLY | FAST, BITMAP, getbit),
    cmd("bitcount", -2, READONLY, BITMAP, bitcount),
    cmd("bitpos", -3, READONLY, BITMAP, bitpos),
    cmd("bitop", -4, WRITE | DENYOOM, BITMAP, bitop),
    cmd("bitfield", -2, WRITE | DENYOOM, BITMAP, bitfield),
    cmd("bitfield_ro", -2, READONLY | FAST, BITMAP, bitfield_ro),
];

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

fn bit_offset(ctx: &mut Ctx, a: &[u8]) -> Option<usize> {
    match parse_i64(a) {
        Some(n) if (0..(512i64 << 23)).contains(&n) => Some(n as usize),
        _ => {
            ctx.out.error(BIT_OFFSET_ERR);
            None
        }
    }
}

/// The string at `key` for a bit write reaching bit `maxbit`: created if missing, grown
/// with zero bytes if short. The flag says whether either happened, which counts as a
/// change even when the bits written equal the old ones. None: not a string.
fn bit_target<'a>(db: &'a mut Db, key: &[u8], maxbit: usize) -> Option<(&'a mut [u8], bool)> {
    let created = db.find(key).is_none();
    if created {
        db.set(key, Value::Str(Str::new(b"")), NO_EXPIRE, false);
    }
    let e = db.get_mut(key).expect("present");
    let len = e.str_mut()?.len();
    let need = (maxbit >> 3) + 1;
    let grew = len < need;
    if grew {
        e.resize_str(need);
    }
    Some((e.str_mut()?, created || grew))
}

fn setbit(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let Some(off) = bit_offset(ctx, args.get(2)) else {
        return;
    };
    let on = match args.get(3) {
        b"1" => true,
        b"0" => false,
        _ => return ctx.out.error("ERR bit is not an integer or out of range"),
    };
    let (db, out) = ctx.db_out();
    let Some((s, grew)) = bit_target(db, key, off) else {
        return out.error(WRONGTYPE);
    };
    let (byte, mask) = (off >> 3, 1u8 << (7 - (off & 7)));
    let old = s[byte] & mask != 0;
    out.int(old as i64);
    // Only a real change counts (dirty, WATCH, the "setbit" event), as in Redis 7.0.15.
    if grew || old != on {
        if on {
            s[byte] |= mask
        } else {
            s[byte] &= !mask
        }
        ctx.modified(key);
        crate::notify::notify(ctx, crate::notify::STRING, "setbit", key);
    }
}

/// The bytes of the string at `key` (an integer in its decimal form, written into `tmp`):
/// `Ok(None)` when the key is missing, `Err(())` when it holds another type (WRONGTYPE).
fn string_bytes<'a>(
    db: &'a mut Db,
    key: &[u8],
    tmp: &'a mut itoa::Buffer,
) -> Result<Option<&'a [u8]>, ()> {
    match db.get(key) {
        None => Ok(None),
        Some(e) => e.val().str_bytes(tmp).map(Some).ok_or(()),
    }
}

fn getbit(ctx: &mut Ctx, args: Args) {
    let Some(off) = bit_offset(ctx, args.get(2)) else {
        return;
    };
    let (db, out) = ctx.db_out();
    let mut tmp = itoa::Buffer::new();
    let s = match string_bytes(db, args.get(1), &mut tmp) {
        Ok(s) => s.unwrap_or_default(),
        Err(()) => return out.error(WRONGTYPE),
    };
    let bit = off >> 3 < s.len() && bit_at(s, off as i64);
    out.int(bit as i64);
}

/// Resolve a [start end [BYTE|BIT]] range against a string of `len` bytes (negative ends
/// count from the end; clamped); returns the inclusive range in the unit asked for, or None
/// when empty. GETRANGE uses it too.
pub(super) fn bit_range(start: i64, end: i64, bits: bool, len: usize) -> Option<(i64, i64)> {
    let total = if bits { len as i64 * 8 } else { len as i64 };
    let (mut s, mut e) = (start, end);
    if s < 0 {
        s += total;
    }
    if e < 0 {
        e += total;
    }
    let s = s.max(0);
    let e = e.max(0).min(total - 1);
    (s <= e && total > 0).then_some((s, e))
}

/// BITCOUNT/BITPOS's optional `start [end [BYTE|BIT]]`.
struct BitRangeArgs {
    start: i64,
    end: i64,
    end_given: bool,
    bits: bool,
}

/// Parse the range arguments at `from` (an end is required after a start when `end_needed`).
fn range_args(ctx: &mut Ctx, args: Args, from: usize, end_needed: bool) -> Option<BitRangeArgs> {
    let mut r = BitRangeArgs {
        start: 0,
        end: -1,
        end_given: false,
        bits: false,
    };
    if args.len() <= from {
        return Some(r);
    }
    r.start = int_arg(ctx, args.get(from))?;
    if args.len() > from + 1 {
        r.end = int_arg(ctx, args.get(from + 1))?;
        r.end_given = true;
    } else if end_needed {
        ctx.out.error(SYNTAX);
        return None;
    }
    if args.len() == from + 3 {
        let u = args.get(from + 2);
        if eq_ic(u, "bit") {
            r.bits = true;
        } else if !eq_ic(u, "byte") {
            ctx.out.error(SYNTAX);
            return None;
        }
    } else if args.len() > from + 3 {
        ctx.out.error(SYNTAX);
        return None;
    }
    Some(r)
}

fn bit_at(s: &[u8], i: i64) -> bool {
    s[(i >> 3) as usize] & (1 << (7 - (i & 7))) != 0
}

fn bitcount(ctx: &mut Ctx, args: Args) {
    let Some(r) = range_args(ctx, args, 2, true) else {
        return;
    };
    let (db, out) = ctx.db_out();
    let mut tmp = itoa::Buffer::new();
    let s = match string_bytes(db, args.get(1), &mut tmp) {
        Ok(Some(s)) => s,
        Ok(None) => return out.int(0),
        Err(()) => return out.error(WRONGTYPE),
    };
    // Both ends negative and crossed: empty, before they are clamped (Redis 7.0.15).
    if r.start < 0 && r.end < 0 && r.start > r.end {
        return out.int(0);
    }
    let bits = r.bits;
    let Some((a, b)) = bit_range(r.start, r.end, bits, s.len()) else {
        return out.int(0);
    };
    let n = if bits {
        (a..=b).filter(|&i| bit_at(s, i)).count()
    } else {
        s[a as usize..=b as usize]
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum()
    };
    out.int(n as i64);
}

/// BITOP AND|OR|XOR|NOT dest src...: missing sources are zero bytes, shorter ones are
/// zero-padded to the longest; an empty result deletes dest. Replies the result's length.
fn bitop(ctx: &mut Ctx, args: Args) {
    let op = args.get(1).to_ascii_lowercase();
    if !matches!(&op[..], b"and" | b"or" | b"xor" | b"not") {
        return ctx.out.error(SYNTAX);
    }
    let (dest, srcs) = (args.get(2), (3..args.len()).map(|i| args.get(i)));
    if op == b"not" && args.len() != 4 {
        return ctx
            .out
            .error("ERR BITOP NOT must be called with a single source key.");
    }
    let (db, out) = ctx.db_out();
    let mut res: Vec<u8> = Vec::new();
    for (n, key) in srcs.enumerate() {
        let mut tmp = itoa::Buffer::new();
        let src = match string_bytes(db, key, &mut tmp) {
            Ok(s) => s.unwrap_or_default(),
            Err(()) => return out.error(WRONGTYPE),
        };
        if n == 0 {
            res = match &op[..] {
                b"not" => src.iter().map(|b| !b).collect(),
                _ => src.to_vec(),
            };
            continue;
        }
        if src.len() > res.len() {
            res.resize(src.len(), 0);
        }
        let padded = src.iter().copied().chain(std::iter::repeat(0));
        for (r, s) in res.iter_mut().zip(padded) {
            match &op[..] {
                b"and" => *r &= s,
                b"or" => *r |= s,
                _ => *r ^= s,
            }
        }
    }
    let len = res.len();
    if len > 0 {
        db.set(dest, Value::Str(Str::raw(res)), NO_EXPIRE, false);
        out.int(len as i64);
        ctx.modified(dest);
        crate::notify::notify(ctx, crate::notify::STRING, "set", dest);
    } else {
        let existed = db.remove(dest).is_some();
        out.int(0);
        if existed {
            ctx.modified(dest);
            crate::notify::notify(ctx, crate::notify::GENERIC, "del", dest);
        }
    }
}

fn bitpos(ctx: &mut Ctx, args: Args) {
    let want = match args.get(2) {
        b"1" => true,
        b"0" => false,
        _ => return ctx.out.error("ERR The bit argument must be 1 or 0."),
    };
    let Some(r) = range_args(ctx, args, 3, false) else {
        return;
    };
    let (db, out) = ctx.db_out();
    let mut tmp = itoa::Buffer::new();
    let s = match string_bytes(db, args.get(1), &mut tmp) {
        Ok(Some(s)) => s,
        Ok(None) => return out.int(if want { -1 } else { 0 }),
        Err(()) => return out.error(WRONGTYPE),
    };
    let bits = r.bits;
    let Some((a, b)) = bit_range(r.start, r.end, bits, s.len()) else {
        return out.int(-1);
    };
    let (first, last) = if bits { (a, b) } else { (a * 8, b * 8 + 7) };
    match (first..=last).find(|&i| bit_at(s, i) == want) {
        Some(i) => out.int(i),
        // Looking for a clear bit with no explicit end: the string is padded with zeros.
        None if !want && !r.end_given => out.int(last + 1),
        None => out.int(-1),
    }
}

// ---- BITFIELD ----

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy)]
enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

const BAD_FIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

fn bitfield(ctx: &mut Ctx, args: Args) {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx, args: Args) {
    bitfield_generic(ctx, args, true)
}

/// `i1`..`i64` or `u1`..`u63`: (signed, bits).
fn field_type(a: &[u8]) -> Option<(bool, u32)> {
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    let bits = parse_i64(&a[1..])?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some((signed, bits as u32))
}

/// A bit offset, or `#N` for the N-th field of this width.
fn field_offset(a: &[u8], bits: u32, max_bulk: i64) -> Option<u64> {
    let (hash, digits) = match a.split_first() {
        Some((b'#', rest)) => (true, rest),
        _ => (false, a),
    };
    let mut n = parse_i64(digits)?;
    if hash {
        n = n.checked_mul(bits as i64)?;
    }
    (n >= 0 && (n >> 3) < max_bulk).then_some(n as u64)
}

fn bitfield_generic(ctx: &mut Ctx, args: Args, read_only: bool) {
    let max_bulk = ctx.srv.cfg.proto_max_bulk_len;
    let mut fields: smallvec::SmallVec<[Field; 4]> = smallvec::SmallVec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest_write: Option<u64> = None;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let sub = args.get(j).to_ascii_lowercase();
        let takes = match &sub[..] {
            b"get" if left >= 2 => 2,
            b"set" | b"incrby" if left >= 3 => 3,
            b"overflow" if left >= 1 => {
                overflow = match &args.get(j + 1).to_ascii_lowercase()[..] {
                    b"wrap" => Overflow::Wrap,
                    b"sat" => Overflow::Sat,
                    b"fail" => Overflow::Fail,
                    _ => return ctx.out.error("ERR Invalid OVERFLOW type specified"),
                };
                j += 2;
                continue;
            }
            _ => return ctx.out.error(SYNTAX),
        };
        let Some((signed, bits)) = field_type(args.get(j + 1)) else {
            return ctx.out.error(BAD_FIELD_TYPE);
        };
        let Some(offset) = field_offset(args.get(j + 2), bits, max_bulk) else {
            return ctx.out.error(BIT_OFFSET_ERR);
        };
        let op = if takes == 2 {
            FieldOp::Get
        } else {
            let Some(n) = parse_i64(args.get(j + 3)) else {
                return ctx.out.error(NOT_INT);
            };
            let last = offset + bits as u64 - 1;
            highest_write = Some(highest_write.map_or(last, |h| h.max(last)));
            if sub == b"set" {
                FieldOp::Set(n)
            } else {
                FieldOp::Incr(n)
            }
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += 1 + takes;
    }
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let Some(maxbit) = highest_write else {
        // Only GETs: a missing key reads as zeros.
        let mut tmp = itoa::Buffer::new();
        let bytes = match string_bytes(db, key, &mut tmp) {
            Ok(b) => b.unwrap_or_default(),
            Err(()) => return out.error(WRONGTYPE),
        };
        out.array(fields.len());
        for f in &fields {
            out.int(read_field(bytes, f.offset, f.bits, f.signed));
        }
        return;
    };
    if read_only {
        return out.error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let Some((s, grew)) = bit_target(db, key, maxbit as usize) else {
        return out.error(WRONGTYPE);
    };
    out.array(fields.len());
    let mut changes = 0u64;
    {
        let v = s;
        for f in &fields {
            let old = read_field(v, f.offset, f.bits, f.signed);
            let (incr, base) = match f.op {
                FieldOp::Get => {
                    out.int(old);
                    continue;
                }
                FieldOp::Set(n) => (0, n),
                FieldOp::Incr(n) => (n, old),
            };
            let (overflowed, limit) = if f.signed {
                signed_overflow(base, incr, f.bits, f.overflow)
            } else {
                let (o, l) = unsigned_overflow(base as u64, incr, f.bits, f.overflow);
                (o, l as i64)
            };
            if overflowed && f.overflow == Overflow::Fail {
                out.null();
                continue;
            }
            let new = if overflowed {
                limit
            } else {
                base.wrapping_add(incr)
            };
            out.int(if matches!(f.op, FieldOp::Set(_)) {
                old
            } else {
                new
            });
            write_field(v, f.offset, f.bits, new as u64);
            if grew || old != new {
                changes += 1;
            }
        }
    }
    if changes > 0 {
        ctx.modified(key);
        ctx.srv.data.dirty += changes - 1;
        crate::notify::notify(ctx, crate::notify::STRING, "setbit", key);
    }
}

/// The `bits`-wide integer at bit `offset` (bit 0 is the first byte's high bit); bits
/// past the end of `s` read as 0.
fn read_field(s: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let b = offset + i;
        let bit = s
            .get((b >> 3) as usize)
            .map_or(0, |x| (x >> (7 - (b & 7))) & 1);
        v = (v << 1) | bit as u64;
    }
    if signed && bits < 64 && v & (1 << (bits - 1)) != 0 {
        v |= u64::MAX << bits; // sign-extend
    }
    v as i64
}

/// Store the low `bits` bits of `val` at bit `offset` (`s` already long enough).
fn write_field(s: &mut [u8], offset: u64, bits: u32, val: u64) {
    for i in 0..bits as u64 {
        let bit = (val >> (bits as u64 - 1 - i)) & 1;
        let b = offset + i;
        let (byte, mask) = ((b >> 3) as usize, 1u8 << (7 - (b & 7)));
        if bit == 1 {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
    }
}

/// Whether `value + incr` leaves the unsigned `bits`-wide range, and the value the policy
/// gives then (wrapped modulo 2^bits, or saturated).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max = (1u64 << bits) - 1; // bits <= 63
    let wrapped = value.wrapping_add(incr as u64) & max;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    if value > max || (incr > 0 && incr > max_incr) {
        (true, if ow == Overflow::Sat { max } else { wrapped })
    } else if incr < 0 && incr < min_incr {
        (true, if ow == Overflow::Sat { 0 } else { wrapped })
    } else {
        (false, 0)
    }
}

/// As `unsigned_overflow` for a two's complement `bits`-wide field.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let wrapped = {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let high = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= high
            } else {
                c &= !high
            }
        }
        c as i64
    };
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wide = bits != 64;
    if value > max || (wide && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        (true, if ow == Overflow::Sat { max } else { wrapped })
    } else if value < min || (wide && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr)
    {
        (true, if ow == Overflow::Sat { min } else { wrapped })
    } else {
        (false, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_at_any_bit_offset() {
        let mut s = vec![0u8; 3];
        write_field(&mut s, 3, 5, 0b10110);
        assert_eq!(s[0], 0b0001_0110);
        assert_eq!(read_field(&s, 3, 5, false), 22);
        assert_eq!(read_field(&s, 3, 5, true), 22 - 32);
        write_field(&mut s, 6, 12, 0xABC);
        assert_eq!(read_field(&s, 6, 12, false), 0xABC);
        assert_eq!(read_field(&s, 20, 64, false), 0, "past the end reads zeros");
        let mut w = vec![0u8; 8];
        write_field(&mut w, 0, 64, u64::MAX);
        assert_eq!(read_field(&w, 0, 64, true), -1);
    }

    #[test]
    fn overflow_policies_match_redis() {
        // u8: 250 + 10 wraps to 4, saturates at 255; 5 - 10 saturates at 0.
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), (true, 4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), (true, 255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), (true, 0));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Fail), (false, 0));
        // i8: 120 + 10 wraps to -126, saturates at 127; -120 - 10 saturates at -128.
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), (true, -126));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Sat), (true, 127));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), (true, -128));
        // SET checks the value itself: 300 does not fit i8.
        assert_eq!(signed_overflow(300, 0, 8, Overflow::Wrap), (true, 44));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (true, i64::MIN)
        );
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Sat),
            (true, i64::MAX)
        );
    }
}
