//! Hash commands, on `types::hash::Hash` (compact listpack form while small, a table after).
//! Writes pass the hash-max-listpack-* limits so the hash converts when it outgrows them.
//! An emptied hash is deleted, as in Redis.
use super::*;
use crate::keyspace::{Db, ValMut, ValRef, Value};
use crate::types::hash::{Hash, Limits};
use crate::util::{eq_ic, parse_f64, parse_i64};

pub static COMMANDS: &[Command] = &[
    cmd("hset", -4, WRITE | DENYOOM | FAST, HASH, hset),
    cmd("hsetnx", 4, WRITE | DENYOOM | FAST, HASH, hsetnx),
    cmd("hget", 3, READONLY | FAST, HASH, hget),
    cmd("hmset", -4, WRITE | DENYOOM | FAST, HASH, hmset),
    cmd("hmget", -3, READONLY | FAST, HASH, hmget),
    cmd("hdel", -3, WRITE | FAST, HASH, hdel),
    cmd("hlen", 2, READONLY | FAST, HASH, hlen),
    cmd("hstrlen", 3, READONLY | FAST, HASH, hstrlen),
    cmd("hexists", 3, READONLY | FAST, HASH, hexists),
    cmd("hkeys", 2, READONLY, HASH, hkeys),
    cmd("hvals", 2, READONLY, HASH, hvals),
    cmd("hgetall", 2, READONLY, HASH, hgetall),
    cmd("hincrby", 4, WRITE | DENYOOM | FAST, HASH, hincrby),
    cmd(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        HASH,
        hincrbyfloat,
    ),
    cmd("hrandfield", -2, READONLY, HASH, hrandfield),
    cmd("hscan", -3, READONLY, HASH, hscan),
];

/// The hash at `key`: `Ok(None)` when absent, `Err(())` when of another type.
/// The hash at `key`, created empty if absent; `Err(())` when of another type.
fn hash_or_create<'a>(db: &'a mut Db, key: &[u8]) -> Result<&'a mut Hash, ()> {
    let pos = match db.find(key) {
        Some(s) => s,
        None => db.insert_new(key, Value::Hash(Box::default())),
    };
    match db.at_mut(pos).map(|e| e.val_mut()) {
        Some(ValMut::Hash(h)) => Ok(h),
        _ => Err(()),
    }
}

/// HSET / HMSET: set field-value pairs; returns the number of new fields, None after an error.
fn set_pairs(ctx: &mut Ctx, args: Args, name: &str) -> Option<i64> {
    if !args.len().is_multiple_of(2) {
        ctx.out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return None;
    }
    let key = args.get(1);
    let lim = Limits::from_cfg(&ctx.srv.cfg);
    let (db, out) = ctx.db_out();
    let Ok(h) = hash_or_create(db, key) else {
        out.error(WRONGTYPE);
        return None;
    };
    let mut added = 0;
    for i in (2..args.len()).step_by(2) {
        added += h.set(args.get(i), args.get(i + 1), lim) as i64;
    }
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::HASH, "hset", key);
    Some(added)
}

fn hset(ctx: &mut Ctx, args: Args) {
    if let Some(n) = set_pairs(ctx, args, "hset") {
        ctx.out.int(n);
    }
}

fn hmset(ctx: &mut Ctx, args: Args) {
    if set_pairs(ctx, args, "hmset").is_some() {
        ctx.out.ok();
    }
}

fn hsetnx(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let lim = Limits::from_cfg(&ctx.srv.cfg);
    let (db, out) = ctx.db_out();
    let Ok(h) = hash_or_create(db, key) else {
        return out.error(WRONGTYPE);
    };
    if h.contains(args.get(2)) {
        return out.int(0);
    }
    h.set(args.get(2), args.get(3), lim);
    out.int(1);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::HASH, "hset", key);
}

fn hget(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.typed::<Hash>(args.get(1)) {
        Err(()) => out.error(WRONGTYPE),
        Ok(h) => match h.and_then(|h| h.get(args.get(2))) {
            Some(v) => out.bulk(&v),
            None => out.null(),
        },
    }
}

fn hmget(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    let h = match db.typed::<Hash>(args.get(1)) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(h) => h,
    };
    out.array(args.len() - 2);
    for f in args.iter().skip(2) {
        match h.and_then(|h| h.get(f)) {
            Some(v) => out.bulk(&v),
            None => out.null(),
        }
    }
}

fn hdel(ctx: &mut Ctx, args: Args) {
    remove_members::<Hash>(ctx, args, crate::notify::HASH, "hdel");
}

fn hlen(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.typed::<Hash>(args.get(1)) {
        Err(()) => out.error(WRONGTYPE),
        Ok(h) => out.int(h.map_or(0, |h| h.len()) as i64),
    }
}

fn hstrlen(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.typed::<Hash>(args.get(1)) {
        Err(()) => out.error(WRONGTYPE),
        Ok(h) => out.int(h.and_then(|h| h.get(args.get(2))).map_or(0, |v| v.len()) as i64),
    }
}

fn hexists(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.typed::<Hash>(args.get(1)) {
        Err(()) => out.error(WRONGTYPE),
        Ok(h) => out.int(h.is_some_and(|h| h.contains(args.get(2))) as i64),
    }
}

/// HKEYS / HVALS / HGETALL.
fn getall(ctx: &mut Ctx, args: Args, keys: bool, vals: bool) {
    let (db, out) = ctx.db_out();
    let h = match db.typed::<Hash>(args.get(1)) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) if keys && vals => return out.map(0),
        Ok(None) => return out.array(0),
        Ok(Some(h)) => h,
    };
    if keys && vals {
        out.map(h.len());
    } else {
        out.array(h.len());
    }
    for (f, v) in h.iter() {
        if keys {
            out.bulk(&f);
        }
        if vals {
            out.bulk(&v);
        }
    }
}

fn hkeys(ctx: &mut Ctx, args: Args) {
    getall(ctx, args, true, false)
}
fn hvals(ctx: &mut Ctx, args: Args) {
    getall(ctx, args, false, true)
}
fn hgetall(ctx: &mut Ctx, args: Args) {
    getall(ctx, args, true, true)
}

/// A field's new number: HINCRBY's integer, or HINCRBYFLOAT's formatted float.
enum Incr {
    Int(i64),
    Float(String),
}

/// HINCRBY / HINCRBYFLOAT: `step` turns the field's current text (None when absent) into
/// its new number or an error; the hash is created if absent, the field set, the result
/// replied and `event` notified.
fn incr_field(
    ctx: &mut Ctx,
    args: Args,
    event: &str,
    step: impl FnOnce(Option<&[u8]>) -> Result<Incr, &'static str>,
) {
    let (key, field) = (args.get(1), args.get(2));
    let lim = Limits::from_cfg(&ctx.srv.cfg);
    let (db, out) = ctx.db_out();
    let Ok(h) = hash_or_create(db, key) else {
        return out.error(WRONGTYPE);
    };
    match step(h.get(field).as_deref()) {
        Err(e) => return out.error(e),
        Ok(Incr::Int(n)) => {
            h.set(field, itoa::Buffer::new().format(n).as_bytes(), lim);
            out.int(n);
        }
        Ok(Incr::Float(s)) => {
            h.set(field, s.as_bytes(), lim);
            out.bulk(s.as_bytes());
            // The result, not the increment (as INCRBYFLOAT): no float formatting to differ.
            ctx.propagate_as(&[b"HSET", key, field, s.as_bytes()]);
        }
    }
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::HASH, event, key);
}

fn hincrby(ctx: &mut Ctx, args: Args) {
    let Some(by) = int_arg(ctx, args.get(3)) else {
        return;
    };
    incr_field(ctx, args, "hincrby", |cur| {
        let cur = match cur {
            None => 0,
            Some(v) => parse_i64(v).ok_or("ERR hash value is not an integer")?,
        };
        cur.checked_add(by)
            .map(Incr::Int)
            .ok_or("ERR increment or decrement would overflow")
    });
}

fn hincrbyfloat(ctx: &mut Ctx, args: Args) {
    let Some(by) = float_arg(ctx, args.get(3)) else {
        return;
    };
    if !by.is_finite() {
        return ctx.out.error("ERR value is NaN or Infinity");
    }
    let by_text = args.get(3);
    incr_field(ctx, args, "hincrbyfloat", |cur| {
        let text = cur.unwrap_or(b"0");
        let cur = parse_f64(text).ok_or("ERR hash value is not a float")?;
        let new = cur + by;
        if !new.is_finite() {
            return Err("ERR increment would produce NaN or Infinity");
        }
        Ok(Incr::Float(super::string::float_sum(text, by_text, new)))
    });
}

fn hrandfield(ctx: &mut Ctx, args: Args) {
    let mut count = None;
    let mut withvalues = false;
    if args.len() >= 3 {
        let Some(n) = int_arg(ctx, args.get(2)) else {
            return;
        };
        if n == i64::MIN {
            return ctx.out.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
        }
        if args.len() > 4 || (args.len() == 4 && !eq_ic(args.get(3), "withvalues")) {
            return ctx.out.error(SYNTAX);
        }
        if args.len() == 4 {
            withvalues = true;
            if n.unsigned_abs() > (i64::MAX / 2) as u64 {
                return ctx.out.error("ERR value is out of range");
            }
        }
        count = Some(n);
    }
    let (db, out) = ctx.db_out();
    let h = match db.typed::<Hash>(args.get(1)) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) if count.is_some() => return out.array(0),
        Ok(None) => return out.null(),
        Ok(Some(h)) => h,
    };
    let h = h.sampler();
    let Some(n) = count else {
        if let Some((f, _)) = h.random().and_then(|s| h.at(s)) {
            out.bulk(&f);
        }
        return;
    };
    let resp3 = out.resp3;
    if n < 0 {
        // Repetitions allowed: independent draws, written as drawn (no list of them: the
        // count may be huge). A client past its output limit is dropped with this reply:
        // it stops there.
        let n = n.unsigned_abs() as usize;
        out.array(if withvalues && !resp3 { n * 2 } else { n });
        for _ in 0..n {
            if out.over_limit() {
                break;
            }
            let Some((f, v)) = h.random().and_then(|s| h.at(s)) else {
                break;
            };
            if withvalues && resp3 {
                out.array(2);
            }
            out.bulk(&f);
            if withvalues {
                out.bulk(&v);
            }
        }
        return;
    }
    let pick: Vec<usize> = if (n as u64).saturating_mul(3) <= h.len() as u64 {
        // Few distinct fields from a big hash: sample until enough distinct ones.
        let mut seen = hashbrown::HashSet::with_capacity(n as usize);
        let mut pick = Vec::with_capacity(n as usize);
        while pick.len() < n as usize {
            match h.random() {
                Some(s) if seen.insert(s) => pick.push(s),
                Some(_) => {}
                None => break,
            }
        }
        pick
    } else {
        // Many distinct fields: a partial shuffle of every position.
        let mut cells: Vec<usize> = (0..h.bound()).filter(|&s| h.at(s).is_some()).collect();
        let k = (n as usize).min(cells.len());
        let mut rng = rand::thread_rng();
        for i in 0..k {
            let j = rand::Rng::gen_range(&mut rng, i..cells.len());
            cells.swap(i, j);
        }
        cells.truncate(k);
        cells
    };
    out.array(if withvalues && !resp3 {
        pick.len() * 2
    } else {
        pick.len()
    });
    for s in pick {
        let Some((f, v)) = h.at(s) else { continue };
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(&f);
        if withvalues {
            out.bulk(&v);
        }
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count], with the SCAN family's shared parser.
fn hscan(ctx: &mut Ctx, args: Args) {
    if super::keys::cursor_arg(ctx, args.get(2)).is_none() {
        return;
    }
    match ctx.dbm().get(args.get(1)) {
        None => return super::keys::scan_reply_header(ctx.out, 0, 0),
        Some(e) if !matches!(e.val(), ValRef::Hash(_)) => return ctx.out.error(WRONGTYPE),
        Some(_) => {}
    }
    let Some(o) = super::keys::parse_scan(ctx, args, 2, false) else {
        return;
    };
    let (db, out) = ctx.db_out();
    let Some(ValRef::Hash(h)) = db.get(args.get(1)).map(|e| e.val()) else {
        return;
    };
    // Matches are encoded into a side buffer, counted, then appended after the header.
    let mut page = crate::resp::Reply::default();
    let mut n = 0usize;
    let mut collect = |f: &[u8], v: &[u8]| {
        if o.matches(f) {
            page.bulk(f);
            page.bulk(v);
            n += 1;
        }
    };
    // The small (listpack) form is returned whole with cursor 0, as Redis does.
    let next = h.scan(o.cursor, o.count, &mut collect);
    super::keys::scan_reply_header(out, next, n * 2);
    out.raw(&page.buf);
}
