//! String commands: GET/SET and their variants, counters, ranges, LCS (bitmaps: bitmap.rs).
use super::*;
use crate::keyspace::clock;
use crate::keyspace::{Db, Str, ValRef, Value, NO_EXPIRE};
use crate::resp::Reply;
use crate::util::{eq_ic, parse_f64, parse_i64};

const WDF: u32 = WRITE | DENYOOM | FAST;

pub static COMMANDS: &[Command] = &[
    cmd("get", 2, READONLY | FAST, STRING, get),
    cmd("set", -3, WRITE | DENYOOM, STRING, set),
    cmd("getex", -2, WRITE | FAST, STRING, getex),
    cmd("getdel", 2, WRITE | FAST, STRING, getdel),
    cmd("getset", 3, WDF, STRING, getset),
    cmd("setnx", 3, WDF, STRING, setnx),
    cmd("setex", 4, WRITE | DENYOOM, STRING, setex),
    cmd("psetex", 4, WRITE | DENYOOM, STRING, psetex),
    cmd("incr", 2, WDF, STRING, incr),
    cmd("decr", 2, WDF, STRING, decr),
    cmd("incrby", 3, WDF, STRING, incrby),
    cmd("decrby", 3, WDF, STRING, decrby),
    cmd("incrbyfloat", 3, WDF, STRING, incrbyfloat),
    cmd("mget", -2, READONLY | FAST, STRING, mget),
    cmd("mset", -3, WRITE | DENYOOM, STRING, mset),
    cmd("msetnx", -3, WRITE | DENYOOM, STRING, msetnx),
    cmd("append", 3, WDF, STRING, append),
    cmd("strlen", 2, READONLY | FAST, STRING, strlen),
    cmd("getrange", 4, READONLY, STRING, getrange),
    cmd("substr", 4, READONLY, STRING, getrange),
    cmd("setrange", 4, WRITE | DENYOOM, STRING, setrange),
    cmd("lcs", -3, READONLY, STRING, lcs),
];

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// Reply a string value as a bulk string; false (and nothing written) if not a string.
#[inline]
fn reply_string(out: &mut Reply, v: ValRef) -> bool {
    match v {
        ValRef::Str(s) => out.bulk(s),
        ValRef::Int(n) => out.bulk_int(n),
        _ => return false,
    }
    true
}

fn invalid_expire(ctx: &mut Ctx, cmd: &str) {
    ctx.out
        .error(&format!("ERR invalid expire time in '{cmd}' command"));
}

/// The expiry options of SET and GETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

#[derive(Default)]
struct StrOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpUnit, &'a [u8])>,
}

/// Parse SET (`set = true`) or GETEX options starting at `from`, with Redis's rules on
/// which options exclude which. Sends the error and returns None on a bad combination.
fn parse_str_opts<'a>(
    ctx: &mut Ctx,
    args: Args<'a>,
    from: usize,
    set: bool,
) -> Option<StrOpts<'a>> {
    let mut o = StrOpts::default();
    let mut i = from;
    while i < args.len() {
        let a = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        let unit = if eq_ic(a, "ex") {
            Some(ExpUnit::Ex)
        } else if eq_ic(a, "px") {
            Some(ExpUnit::Px)
        } else if eq_ic(a, "exat") {
            Some(ExpUnit::ExAt)
        } else if eq_ic(a, "pxat") {
            Some(ExpUnit::PxAt)
        } else {
            None
        };
        if set && eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if set && eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if set && eq_ic(a, "get") {
            o.get = true;
        } else if set && eq_ic(a, "keepttl") && o.expire.is_none() {
            o.keep_ttl = true;
        } else if !set && eq_ic(a, "persist") && o.expire.is_none() {
            o.persist = true;
        } else if let (Some(u), Some(n)) = (unit, next) {
            // The same unit may repeat (the last wins); different ones conflict.
            if o.keep_ttl || o.persist || o.expire.is_some_and(|(p, _)| p != u) {
                ctx.out.error(SYNTAX);
                return None;
            }
            o.expire = Some((u, n));
            i += 1;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
        i += 1;
    }
    Some(o)
}

/// An expiry option's absolute unix-ms time, or the Redis error for it.
fn expire_at(ctx: &mut Ctx, unit: ExpUnit, arg: &[u8], cmd: &str) -> Option<i64> {
    let n = int_arg(ctx, arg)?;
    let secs = matches!(unit, ExpUnit::Ex | ExpUnit::ExAt);
    if n <= 0 || (secs && n > i64::MAX / 1000) {
        invalid_expire(ctx, cmd);
        return None;
    }
    let ms = if secs { n * 1000 } else { n };
    let at = if matches!(unit, ExpUnit::Ex | ExpUnit::Px) {
        ms.checked_add(clock::now())
    } else {
        Some(ms)
    };
    match at {
        Some(t) if t > 0 => Some(t),
        _ => {
            invalid_expire(ctx, cmd);
            None
        }
    }
}

fn get(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    let found = match db.get(args.get(1)) {
        None => {
            out.null();
            false
        }
        Some(e) => {
            if !reply_string(out, e.val()) {
                out.error(WRONGTYPE);
            }
            true
        }
    };
    ctx.hit(found);
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
fn set(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    // Fast path: plain SET key value.
    if args.len() == 3 {
        let created = ctx.dbm().set(key, args.get(2), NO_EXPIRE, false);
        ctx.out.ok();
        ctx.modified(key);
        crate::notify::set_events(ctx, key, created, false);
        return;
    }
    let Some(o) = parse_str_opts(ctx, args, 3, true) else {
        return;
    };
    let mut expire = NO_EXPIRE;
    if let Some((u, a)) = o.expire {
        match expire_at(ctx, u, a, "set") {
            Some(t) => expire = t,
            None => return,
        }
    }
    if set_generic(ctx, key, args.get(2), expire, &o, None) && ctx.srv.data.prop.on() {
        if expire != NO_EXPIRE {
            // An absolute time: a replica or an AOF replay later sets the same instant.
            propagate_set_pxat(ctx, key, args.get(2), expire);
        } else if o.get {
            // GET changes nothing: replicas need not send the old value anywhere.
            let words: Vec<&[u8]> = args
                .iter()
                .enumerate()
                .filter(|&(i, a)| i < 3 || !eq_ic(a, "get"))
                .map(|(_, a)| a)
                .collect();
            ctx.propagate_as(&words);
        }
    }
}

/// The shared tail of SET, SETNX, SETEX, PSETEX: `flag_reply` replaces OK/null by 1/0.
/// True when the value was written.
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    val: &[u8],
    expire: i64,
    o: &StrOpts,
    flag_reply: Option<()>,
) -> bool {
    let (db, out) = ctx.db_out();
    let existing = db.get(key);
    if o.get {
        match existing {
            None => out.null(),
            Some(e) => {
                if !reply_string(out, e.val()) {
                    out.error(WRONGTYPE);
                    return false;
                }
            }
        }
    }
    let exists = existing.is_some();
    if (o.nx && exists) || (o.xx && !exists) {
        if flag_reply.is_some() {
            out.int(0);
        } else if !o.get {
            out.null();
        }
        return false;
    }
    db.set(key, val, expire, o.keep_ttl);
    if flag_reply.is_some() {
        out.int(1);
    } else if !o.get {
        out.ok();
    }
    ctx.modified(key);
    crate::notify::set_events(ctx, key, !exists, expire != NO_EXPIRE);
    true
}

fn setnx(ctx: &mut Ctx, args: Args) {
    let o = StrOpts {
        nx: true,
        ..Default::default()
    };
    set_generic(ctx, args.get(1), args.get(2), NO_EXPIRE, &o, Some(()));
}

/// SET key value PXAT <ms>: how a write with a relative expiry propagates.
fn propagate_set_pxat(ctx: &mut Ctx, key: &[u8], val: &[u8], at: i64) {
    if ctx.srv.data.prop.on() {
        let at = at.to_string();
        ctx.propagate_as(&[b"SET", key, val, b"PXAT", at.as_bytes()]);
    }
}

fn setex_generic(ctx: &mut Ctx, args: Args, unit: ExpUnit, name: &str) {
    let Some(at) = expire_at(ctx, unit, args.get(2), name) else {
        return;
    };
    if set_generic(ctx, args.get(1), args.get(3), at, &StrOpts::default(), None) {
        propagate_set_pxat(ctx, args.get(1), args.get(3), at);
    }
}

fn setex(ctx: &mut Ctx, args: Args) {
    setex_generic(ctx, args, ExpUnit::Ex, "setex")
}

fn psetex(ctx: &mut Ctx, args: Args) {
    setex_generic(ctx, args, ExpUnit::Px, "psetex")
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]
fn getex(ctx: &mut Ctx, args: Args) {
    let Some(o) = parse_str_opts(ctx, args, 2, false) else {
        return;
    };
    let mut at = None;
    if let Some((u, a)) = o.expire {
        match expire_at(ctx, u, a, "getex") {
            Some(t) => at = Some(t),
            None => return,
        }
    }
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let Some(pos) = db.find(key) else {
        return out.null();
    };
    let e = db.at(pos).expect("position just found");
    if !reply_string(out, e.val()) {
        return out.error(WRONGTYPE);
    }
    let had_ttl = e.expire() != NO_EXPIRE;
    let event = match at {
        Some(t) if clock::already_expired(t) => {
            db.remove_pos(pos);
            "del"
        }
        Some(t) => {
            db.set_expire(pos, t);
            "expire"
        }
        None if o.persist && had_ttl => {
            db.set_expire(pos, NO_EXPIRE);
            "persist"
        }
        None => return,
    };
    // Never propagated as is: as the deletion, PEXPIREAT or PERSIST it caused.
    if ctx.srv.data.prop.on() {
        match (event, at) {
            ("del", _) => {
                let lazy = ctx.srv.cfg.lazyfree_lazy_expire;
                ctx.propagate_as(&[del_word(lazy), key]);
            }
            ("expire", Some(t)) => {
                let t = t.to_string();
                ctx.propagate_as(&[b"PEXPIREAT", key, t.as_bytes()]);
            }
            _ => ctx.propagate_as(&[b"PERSIST", key]),
        }
    }
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::GENERIC, event, key);
}

fn getdel(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let Some(pos) = db.find(key) else {
        return out.null();
    };
    if !reply_string(out, db.at(pos).expect("position just found").val()) {
        return out.error(WRONGTYPE);
    }
    db.remove_pos(pos);
    let lazy = ctx.srv.cfg.lazyfree_lazy_user_del;
    ctx.propagate_as(&[del_word(lazy), key]);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::GENERIC, "del", key);
}

fn getset(ctx: &mut Ctx, args: Args) {
    let o = StrOpts {
        get: true,
        ..Default::default()
    };
    if set_generic(ctx, args.get(1), args.get(2), NO_EXPIRE, &o, None) {
        ctx.propagate_as(&[b"SET", args.get(1), args.get(2)]);
    }
}

/// The integer held by a string value, if it is one.
fn value_int(v: ValRef) -> Result<i64, &'static str> {
    match v {
        ValRef::Int(n) => Ok(n),
        ValRef::Str(s) => parse_i64(s).ok_or(NOT_INT),
        _ => Err(WRONGTYPE),
    }
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) {
    let (db, out) = ctx.db_out();
    let new = match db.get_mut(key) {
        None => {
            db.set(key, Value::Int(by), NO_EXPIRE, false);
            by
        }
        Some(e) => {
            let cur = match value_int(e.val()) {
                Ok(n) => n,
                Err(msg) => return out.error(msg),
            };
            let Some(n) = cur.checked_add(by) else {
                return out.error("ERR increment or decrement would overflow");
            };
            e.set_int(n);
            n
        }
    };
    out.int(new);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::STRING, "incrby", key);
}

fn incr(ctx: &mut Ctx, args: Args) {
    incr_by(ctx, args.get(1), 1)
}
fn decr(ctx: &mut Ctx, args: Args) {
    incr_by(ctx, args.get(1), -1)
}
fn incrby(ctx: &mut Ctx, args: Args) {
    if let Some(n) = int_arg(ctx, args.get(2)) {
        incr_by(ctx, args.get(1), n)
    }
}
fn decrby(ctx: &mut Ctx, args: Args) {
    if let Some(n) = int_arg(ctx, args.get(2)) {
        match n.checked_neg() {
            Some(m) => incr_by(ctx, args.get(1), m),
            None => ctx.out.error("ERR decrement would overflow"),
        }
    }
}

// ---- INCRBYFLOAT arithmetic ----
//
// Redis adds in 80-bit long double and prints "%.17Lf" with trailing zeros removed. Its
// sums of short decimal inputs are exact to the digits shown (0.1 + 0.2 is "0.3", x + -x is
// "0"), which f64 is not. So decimal inputs are added exactly in fixed point (i128) and
// rounded to 17 decimals; values out of that range fall back to f64.

/// Decimal places kept, as "%.17Lf".
const FLOAT_DECIMALS: u32 = 17;
/// Significant decimal digits a long double's 64-bit mantissa holds.
const LONG_DOUBLE_DIGITS: u32 = 19;
/// Largest scale kept while parsing (digits after the point).
const MAX_SCALE: u32 = 30;

/// Parse "[-+]digits[.digits][e[-+]digits]" exactly as `mantissa / 10^scale`.
fn parse_decimal(s: &[u8]) -> Option<(i128, u32)> {
    let (neg, mut rest) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mut m, mut frac, mut seen_point, mut digits) = (0i128, 0i64, false, 0);
    while let Some(&c) = rest.first() {
        match c {
            b'0'..=b'9' => {
                m = m.checked_mul(10)?.checked_add((c - b'0') as i128)?;
                frac += seen_point as i64;
                digits += 1;
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        rest = &rest[1..];
    }
    if digits == 0 {
        return None;
    }
    let mut exp = 0i64;
    if let Some((&e, tail)) = rest.split_first() {
        if e != b'e' && e != b'E' {
            return None;
        }
        exp = std::str::from_utf8(tail).ok()?.parse().ok()?;
    }
    let mut scale = frac.checked_sub(exp)?;
    while scale < 0 {
        m = m.checked_mul(10)?;
        scale += 1;
    }
    while scale > MAX_SCALE as i64 {
        // Only exact trailing zeros may be dropped; anything else needs f64.
        if m % 10 != 0 {
            return None;
        }
        m /= 10;
        scale -= 1;
    }
    Some((if neg { -m } else { m }, scale as u32))
}

/// a + b exactly, as decimal text rounded to 17 places.
fn decimal_sum(a: &[u8], b: &[u8]) -> Option<String> {
    let (ma, sa) = parse_decimal(a)?;
    let (mb, sb) = parse_decimal(b)?;
    let scale = sa.max(sb);
    let ma = ma.checked_mul(10i128.checked_pow(scale - sa)?)?;
    let mb = mb.checked_mul(10i128.checked_pow(scale - sb)?)?;
    let mut sum = ma.checked_add(mb)?;
    let mut scale = scale;
    // Keep at most 17 decimals and, like a 64-bit long double mantissa, 19 significant digits.
    let digits = sum.unsigned_abs().checked_ilog10().map_or(1, |l| l + 1);
    let drop = scale
        .saturating_sub(FLOAT_DECIMALS)
        .max(digits.saturating_sub(LONG_DOUBLE_DIGITS));
    if drop > 0 {
        let div = 10i128.checked_pow(drop)?;
        let (q, r) = (sum / div, sum % div);
        // Half to even: an exact decimal tie has no better guess at the binary value.
        let twice = r.abs() * 2;
        let up = twice > div || (twice == div && q % 2 != 0);
        sum = q + if up { r.signum() } else { 0 };
        if drop > scale {
            sum = sum.checked_mul(10i128.checked_pow(drop - scale)?)?;
            scale = 0;
        } else {
            scale -= drop;
        }
    }
    let neg = sum < 0;
    let digits = sum.unsigned_abs().to_string();
    let digits = format!("{digits:0>width$}", width = scale as usize + 1);
    let (int, frac) = digits.split_at(digits.len() - scale as usize);
    let frac = frac.trim_end_matches('0');
    let mut out = String::with_capacity(digits.len() + 2);
    if neg && (int != "0" || !frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

/// The f64 fallback: plain decimal notation (Rust's Display never uses an exponent),
/// at most 17 decimals, no trailing zeros, never "-0".
fn fmt_human_float(v: f64) -> String {
    let s = format!("{v}");
    let s = match s.split_once('.') {
        Some((_, f)) if f.len() > FLOAT_DECIMALS as usize => {
            let t = format!("{v:.17}");
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        _ => s,
    };
    if s.strip_prefix('-')
        .is_some_and(|r| r.bytes().all(|c| c == b'0' || c == b'.'))
    {
        return "0".into();
    }
    s
}

/// The text INCRBYFLOAT and HINCRBYFLOAT store for `cur_text` + `by_text` (whose f64 sum
/// is `v`): the exact decimal sum where it has one, as Redis's long double arithmetic
/// prints it ("0.1" + "0.2" is "0.3"), else the f64 in plain decimal.
pub(super) fn float_sum(cur_text: &[u8], by_text: &[u8], v: f64) -> String {
    decimal_sum(cur_text, by_text).unwrap_or_else(|| fmt_human_float(v))
}

fn incrbyfloat(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let cur = match db.get(key).map(|e| e.val()) {
        None => 0.0,
        Some(v) => {
            let mut tmp = itoa::Buffer::new();
            let Some(b) = v.str_bytes(&mut tmp) else {
                return out.error(WRONGTYPE);
            };
            match parse_f64(b) {
                Some(f) => f,
                None => return out.error(NOT_FLOAT),
            }
        }
    };
    let Some(by) = parse_f64(args.get(2)) else {
        return out.error(NOT_FLOAT);
    };
    let v = cur + by;
    if !v.is_finite() {
        return out.error("ERR increment would produce NaN or Infinity");
    }
    let mut tmp = itoa::Buffer::new();
    let cur_text = match db.get(key) {
        Some(e) => e.val().str_bytes(&mut tmp).unwrap_or(b"0"),
        None => b"0",
    };
    let s = float_sum(cur_text, args.get(2), v);
    out.bulk(s.as_bytes());
    // Stored as a string even when integral ("embstr" in Redis, not "int").
    db.set(key, Value::Str(Str::new(s.as_bytes())), NO_EXPIRE, true);
    // The result, not the increment: float formatting can never differ on the other side.
    ctx.propagate_as(&[b"SET", key, s.as_bytes(), b"KEEPTTL"]);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::STRING, "incrbyfloat", key);
}

fn mget(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    out.array(args.len() - 1);
    for k in args.iter().skip(1) {
        match db.get(k) {
            Some(e) if reply_string(out, e.val()) => {}
            _ => out.null(),
        }
    }
}

fn mset_generic(ctx: &mut Ctx, args: Args, nx: bool) {
    if args.len() % 2 != 1 {
        let name = if nx { "msetnx" } else { "mset" };
        return ctx.out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    if nx
        && (1..args.len())
            .step_by(2)
            .any(|i| ctx.dbm().exists(args.get(i)))
    {
        return ctx.out.int(0);
    }
    for i in (1..args.len()).step_by(2) {
        ctx.dbm()
            .set(args.get(i), args.get(i + 1), NO_EXPIRE, false);
        ctx.modified(args.get(i));
        crate::notify::notify(ctx, crate::notify::STRING, "set", args.get(i));
    }
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

fn mset(ctx: &mut Ctx, args: Args) {
    mset_generic(ctx, args, false)
}

fn msetnx(ctx: &mut Ctx, args: Args) {
    mset_generic(ctx, args, true)
}

/// The length of a string value (integers count their decimal digits).
fn str_len(v: ValRef) -> Option<usize> {
    match v {
        ValRef::Str(s) => Some(s.len()),
        ValRef::Int(n) => Some(itoa::Buffer::new().format(n).len()),
        _ => None,
    }
}

fn append(ctx: &mut Ctx, args: Args) {
    let (key, add) = (args.get(1), args.get(2));
    let max = ctx.srv.cfg.proto_max_bulk_len as usize;
    let (db, out) = ctx.db_out();
    let len = match db.get_mut(key) {
        None => {
            db.set(key, add, NO_EXPIRE, false);
            add.len()
        }
        Some(e) => {
            let Some(cur) = str_len(e.val()) else {
                return out.error(WRONGTYPE);
            };
            if cur + add.len() > max {
                return out.error(TOO_BIG);
            }
            e.resize_str(cur + add.len());
            e.str_mut().expect("checked string")[cur..].copy_from_slice(add);
            cur + add.len()
        }
    };
    out.int(len as i64);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::STRING, "append", key);
}

fn strlen(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)).map(|e| str_len(e.val())) {
        None => out.int(0),
        Some(Some(n)) => out.int(n as i64),
        Some(None) => out.error(WRONGTYPE),
    }
}

fn getrange(ctx: &mut Ctx, args: Args) {
    let Some(start) = int_arg(ctx, args.get(2)) else {
        return;
    };
    let Some(end) = int_arg(ctx, args.get(3)) else {
        return;
    };
    let (db, out) = ctx.db_out();
    let Some(e) = db.get(args.get(1)) else {
        return out.bulk(b"");
    };
    let mut tmp = itoa::Buffer::new();
    let Some(s) = e.val().str_bytes(&mut tmp) else {
        return out.error(WRONGTYPE);
    };
    // Both ends negative and crossed: empty, before they are clamped.
    if start < 0 && end < 0 && start > end {
        return out.bulk(b"");
    }
    match super::bitmap::bit_range(start, end, false, s.len()) {
        Some((a, b)) => out.bulk(&s[a as usize..=b as usize]),
        None => out.bulk(b""),
    }
}

fn setrange(ctx: &mut Ctx, args: Args) {
    let (key, val) = (args.get(1), args.get(3));
    let Some(off) = int_arg(ctx, args.get(2)) else {
        return;
    };
    if off < 0 {
        return ctx.out.error("ERR offset is out of range");
    }
    let max = ctx.srv.cfg.proto_max_bulk_len;
    let too_big = off.checked_add(val.len() as i64).is_none_or(|t| t > max);
    let (db, out) = ctx.db_out();
    let len = match db.get_mut(key) {
        None => {
            if val.is_empty() {
                return out.int(0);
            }
            if too_big {
                return out.error(TOO_BIG);
            }
            let mut v = vec![0u8; off as usize];
            v.extend_from_slice(val);
            let s = Str::raw(v);
            let n = s.len();
            db.set(key, Value::Str(s), NO_EXPIRE, false);
            n
        }
        Some(e) => {
            let Some(cur) = str_len(e.val()) else {
                return out.error(WRONGTYPE);
            };
            if val.is_empty() {
                return out.int(cur as i64);
            }
            if too_big {
                return out.error(TOO_BIG);
            }
            let (off, end) = (off as usize, off as usize + val.len());
            if cur < end {
                e.resize_str(end);
            }
            let s = e.str_mut().expect("checked string");
            s[off..end].copy_from_slice(val);
            s.len()
        }
    };
    out.int(len as i64);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::STRING, "setrange", key);
}

/// A string key's bytes for commands that read two keys (LCS): missing is empty.
fn read_str(db: &mut Db, key: &[u8]) -> Result<Vec<u8>, ()> {
    match db.get(key).map(|e| e.val()) {
        None => Ok(Vec::new()),
        Some(ValRef::Str(s)) => Ok(s.to_vec()),
        Some(ValRef::Int(n)) => Ok(itoa::Buffer::new().format(n).as_bytes().to_vec()),
        Some(_) => Err(()),
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx, args: Args) {
    let db = ctx.dbm();
    let (Ok(a), Ok(b)) = (read_str(db, args.get(1)), read_str(db, args.get(2))) else {
        return ctx
            .out
            .error("ERR The specified keys must contain string values");
    };
    let (mut want_len, mut want_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < args.len() {
        let o = args.get(i);
        if eq_ic(o, "idx") {
            want_idx = true;
        } else if eq_ic(o, "len") {
            want_len = true;
        } else if eq_ic(o, "withmatchlen") {
            with_len = true;
        } else if eq_ic(o, "minmatchlen") && i + 1 < args.len() {
            let Some(n) = int_arg(ctx, args.get(i + 1)) else {
                return;
            };
            min_len = n.max(0);
            i += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 1;
    }
    if want_len && want_idx {
        return ctx
            .out
            .error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > ctx.srv.cfg.proto_max_bulk_len as u64 {
        return ctx
            .out
            .error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    // table[i][j] = LCS length of a[..i] and b[..j]
    let w = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen];
    let out = &mut *ctx.out;
    if want_len {
        return out.int(total as i64);
    }
    // Walk back from the end, collecting the LCS and its matching ranges (last first).
    let mut result = vec![0u8; total as usize];
    let mut ranges: Vec<[usize; 5]> = Vec::new();
    let mut k = total as usize;
    let (mut i, mut j) = (alen, blen);
    let mut cur: Option<[usize; 4]> = None; // a_start, a_end, b_start, b_end
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[k - 1] = a[i - 1];
            match &mut cur {
                None => cur = Some([i - 1, i - 1, j - 1, j - 1]),
                Some(r) if r[0] == i && r[2] == j => {
                    r[0] -= 1;
                    r[2] -= 1;
                }
                Some(_) => emit = true,
            }
            if cur.is_some_and(|r| r[0] == 0 || r[2] == 0) {
                emit = true;
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if cur.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(r) = cur.take() {
                let mlen = r[1] - r[0] + 1;
                if min_len == 0 || mlen as i64 >= min_len {
                    ranges.push([r[0], r[1], r[2], r[3], mlen]);
                }
            }
        }
    }
    if !want_idx {
        return out.bulk(&result);
    }
    out.map(2);
    out.bulk(b"matches");
    out.array(ranges.len());
    for r in &ranges {
        out.array(2 + with_len as usize);
        out.array(2);
        out.int(r[0] as i64);
        out.int(r[1] as i64);
        out.array(2);
        out.int(r[2] as i64);
        out.int(r[3] as i64);
        if with_len {
            out.int(r[4] as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn decimal_sums_like_long_double() {
        let sum = |a: &str, b: &str| decimal_sum(a.as_bytes(), b.as_bytes()).unwrap();
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("0.024390243902439025", "-0.024390243902439025"), "0");
        assert_eq!(sum("10.5", "0.5"), "11");
        assert_eq!(sum("0", "5.0e3"), "5000");
        assert_eq!(sum("0", "1e-5"), "0.00001");
        assert_eq!(sum("17179869184", "1.5"), "17179869185.5");
        assert_eq!(sum("1", "-1.5"), "-0.5");
        assert_eq!(sum("0", "1e-20"), "0");
        assert_eq!(sum("0", "0.123456789012345678"), "0.12345678901234568");
        assert_eq!(sum("0", "0.024390243902439025"), "0.02439024390243902");
        assert_eq!(sum("0.02439024390243902", "-0.024390243902439025"), "0");
        assert!(decimal_sum(b"1e308", b"1").is_none(), "too big: f64 path");
        assert_eq!(sum("0.00001", "3.0e20"), "300000000000000000000");
        // (Redis prints 100000000000000000008 here: binary ulp noise no decimal rule copies.)
        assert_eq!(sum("1e20", "6.7"), "100000000000000000000");
        assert_eq!(sum("1234567890.123456789012", "0"), "1234567890.123456789");
        assert_eq!(fmt_human_float(1e300).len(), 301);
        assert_eq!(fmt_human_float(-1e-30), "0");
        assert_eq!(fmt_human_float(2.5), "2.5");
    }
}
