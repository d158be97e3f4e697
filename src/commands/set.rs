//! Set commands.
use super::*;
use crate::keyspace::{Db, Value};
use crate::notify::{self, notify};
use crate::resp::Reply;
use crate::types::set::Set;
use rand::Rng;
use std::borrow::Cow;

pub static COMMANDS: &[Command] = &[
    cmd("sadd", -3, WRITE | DENYOOM | FAST, SET, sadd),
    cmd("srem", -3, WRITE | FAST, SET, srem),
    cmd("smembers", 2, READONLY, SET, smembers),
    cmd("sismember", 3, READONLY | FAST, SET, sismember),
    cmd("smismember", -3, READONLY | FAST, SET, smismember),
    cmd("scard", 2, READONLY | FAST, SET, scard),
    cmd("spop", -2, WRITE | FAST, SET, spop),
    cmd("srandmember", -2, READONLY, SET, srandmember),
    cmd("smove", 4, WRITE | FAST, SET, smove),
    cmd("sinter", -2, READONLY, SET, sinter),
    cmd("sintercard", -3, READONLY | MOVABLE_KEYS, SET, sintercard),
    cmd("sunion", -2, READONLY, SET, sunion),
    cmd("sdiff", -2, READONLY, SET, sdiff),
    cmd("sinterstore", -3, WRITE | DENYOOM, SET, sinterstore),
    cmd("sunionstore", -3, WRITE | DENYOOM, SET, sunionstore),
    cmd("sdiffstore", -3, WRITE | DENYOOM, SET, sdiffstore),
    cmd("sscan", -3, READONLY, SET, sscan),
];

fn max_ints(ctx: &Ctx) -> usize {
    ctx.srv.cfg.set_max_intset_entries.max(0) as usize
}

fn sadd(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let max = max_ints(ctx);
    let pos = match typed_pos::<Set>(ctx, key) {
        Err(()) => return,
        Ok(Some(s)) => s,
        Ok(None) => {
            let set = Set::for_member(args.get(2));
            ctx.dbm().insert_new(key, Value::Set(Box::new(set)))
        }
    };
    let s = ctx.dbm().at_as_mut::<Set>(pos);
    let mut added = 0;
    for m in args.iter().skip(2) {
        if s.insert(m, max) {
            added += 1;
        }
    }
    ctx.out.int(added);
    if added > 0 {
        ctx.modified(key);
        notify(ctx, notify::SET, "sadd", key);
    }
}

fn srem(ctx: &mut Ctx, args: Args) {
    remove_members::<Set>(ctx, args, notify::SET, "srem");
}

fn reply_members<'a>(out: &mut Reply, items: impl ExactSizeIterator<Item = Cow<'a, [u8]>>) {
    out.set(items.len());
    for m in items {
        out.bulk(&m);
    }
}

fn smembers(ctx: &mut Ctx, args: Args) {
    let pos = match typed_pos::<Set>(ctx, args.get(1)) {
        Err(()) => return,
        Ok(None) => return ctx.out.set(0),
        Ok(Some(s)) => s,
    };
    let (db, out) = ctx.db_out();
    let s = db.at_as::<Set>(pos);
    out.set(s.len());
    s.for_each(|m| out.bulk(m));
}

fn sismember(ctx: &mut Ctx, args: Args) {
    match typed_pos::<Set>(ctx, args.get(1)) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some(pos)) => {
            let (db, out) = ctx.db_out();
            out.int(db.at_as::<Set>(pos).contains(args.get(2)) as i64);
        }
    }
}

fn smismember(ctx: &mut Ctx, args: Args) {
    let pos = match typed_pos::<Set>(ctx, args.get(1)) {
        Err(()) => return,
        Ok(s) => s,
    };
    let (db, out) = ctx.db_out();
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        let hit = pos.is_some_and(|s| db.at_as::<Set>(s).contains(m));
        out.int(hit as i64);
    }
}

fn scard(ctx: &mut Ctx, args: Args) {
    match typed_pos::<Set>(ctx, args.get(1)) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some(pos)) => {
            let (db, out) = ctx.db_out();
            out.int(db.at_as::<Set>(pos).len() as i64);
        }
    }
}

/// A count that must be >= 0 (Redis's getPositiveLongFromObjectOrReply).
pub(super) fn positive_arg(ctx: &mut Ctx, a: &[u8]) -> Option<usize> {
    range_arg(ctx, a, 0, "ERR value is out of range, must be positive").map(|n| n as usize)
}

/// An integer in `min..` or, for anything else (not a number too), the error `msg`
/// (Redis's getRangeLongFromObjectOrReply with a message).
pub(super) fn range_arg(ctx: &mut Ctx, a: &[u8], min: i64, msg: &str) -> Option<i64> {
    match crate::util::parse_i64(a) {
        Some(n) if n >= min => Some(n),
        _ => {
            ctx.out.error(msg);
            None
        }
    }
}

fn spop(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let key = args.get(1);
    let count = if args.len() == 3 {
        match positive_arg(ctx, args.get(2)) {
            Some(n) => Some(n),
            None => return,
        }
    } else {
        None
    };
    let pos = match typed_pos::<Set>(ctx, key) {
        Err(()) => return,
        Ok(None) if count.is_some() => return ctx.out.set(0),
        Ok(None) => return ctx.out.null(),
        Ok(Some(s)) => s,
    };
    if count == Some(0) {
        return ctx.out.set(0);
    }
    let on = ctx.srv.data.prop.on();
    let mut popped: Vec<Box<[u8]>> = Vec::new();
    let (db, out) = ctx.db_out();
    let s = db.at_as_mut::<Set>(pos);
    let size = s.len();
    match count {
        None => {
            if let Some(m) = s.pop_random() {
                out.bulk(&m);
                if on {
                    popped.push(m);
                }
            }
        }
        Some(n) => {
            let n = n.min(s.len());
            out.set(n);
            if n > s.len() / 4 {
                // A large share of the set: one shuffle of the member list beats repeated
                // random probes into an ever sparser table.
                let mut all: Vec<Box<[u8]>> = s.members().into_iter().map(|m| m.into()).collect();
                let mut rng = rand::thread_rng();
                for i in 0..n {
                    let j = rng.gen_range(i..all.len());
                    all.swap(i, j);
                    out.bulk(&all[i]);
                    s.remove(&all[i]);
                }
                if on {
                    all.truncate(n);
                    popped = all;
                }
            } else {
                for _ in 0..n {
                    if let Some(m) = s.pop_random() {
                        out.bulk(&m);
                        if on {
                            popped.push(m);
                        }
                    }
                }
            }
        }
    }
    if s.is_empty() {
        db.remove_pos(pos);
    }
    // Propagated as what was removed: SREM of each member, or DEL of a set popped whole.
    if on {
        if count.is_some_and(|n| n >= size) {
            ctx.propagate_as(&[b"DEL", key]);
        } else if count.is_none() {
            if let Some(m) = popped.first() {
                ctx.propagate_as(&[b"SREM", key, m]);
            }
        } else {
            for m in &popped {
                ctx.also_propagate(&[b"SREM", key, m]);
            }
            ctx.prevent_propagation();
        }
    }
    ctx.modified(key);
    notify::notify_write(ctx, notify::SET, "spop", key);
}

fn srandmember(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let count = if args.len() == 3 {
        match crate::util::parse_i64(args.get(2)) {
            Some(n) if n > i64::MIN => Some(n),
            Some(_) => {
                return ctx
                    .out
                    .error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            }
            None => return ctx.out.error(NOT_INT),
        }
    } else {
        None
    };
    let pos = match typed_pos::<Set>(ctx, args.get(1)) {
        Err(()) => return,
        Ok(None) if count.is_some() => return ctx.out.array(0),
        Ok(None) => return ctx.out.null(),
        Ok(Some(s)) => s,
    };
    let (db, out) = ctx.db_out();
    let s = db.at_as::<Set>(pos);
    let Some(count) = count else {
        match s.random() {
            Some(m) => out.bulk(&m),
            None => out.null(),
        }
        return;
    };
    if count < 0 {
        // Repeats allowed: sample independently.
        let n = count.unsigned_abs() as usize;
        out.array(n);
        // (A client past its output limit is dropped with this reply: it stops there.)
        if let Some(v) = s.ints() {
            let mut rng = rand::thread_rng();
            for _ in 0..n {
                if out.over_limit() {
                    break;
                }
                out.bulk_int(v.get(rng.gen_range(0..v.len())));
            }
        } else {
            for _ in 0..n {
                if out.over_limit() {
                    break;
                }
                if let Some(m) = s.random() {
                    out.bulk(&m);
                }
            }
        }
        return;
    }
    let n = count as usize;
    if n >= s.len() {
        out.array(s.len());
        s.for_each(|m| out.bulk(m));
        return;
    }
    // Distinct members: a partial Fisher-Yates shuffle over the member list.
    let mut all = s.members();
    let mut rng = rand::thread_rng();
    for i in 0..n {
        let j = rng.gen_range(i..all.len());
        all.swap(i, j);
    }
    all.truncate(n);
    out.array(n);
    for m in all {
        out.bulk(&m);
    }
}

fn smove(ctx: &mut Ctx, args: Args) {
    let (src, dst, m) = (args.get(1), args.get(2), args.get(3));
    let max = max_ints(ctx);
    let src_pos = match typed_pos::<Set>(ctx, src) {
        Err(()) => return,
        Ok(None) => {
            // Redis still type-checks nothing else when the source is missing.
            return ctx.out.int(0);
        }
        Ok(Some(s)) => s,
    };
    let dst_pos = match typed_pos::<Set>(ctx, dst) {
        Err(()) => return,
        Ok(s) => s,
    };
    let db = ctx.dbm();
    if dst_pos == Some(src_pos) {
        let hit = db.at_as::<Set>(src_pos).contains(m);
        return ctx.out.int(hit as i64);
    }
    let s = db.at_as_mut::<Set>(src_pos);
    if !s.remove(m) {
        return ctx.out.int(0);
    }
    if s.is_empty() {
        db.remove_pos(src_pos);
    }
    let dst_pos = match dst_pos {
        Some(d) => d,
        None => db.insert_new(dst, Value::Set(Box::new(Set::for_member(m)))),
    };
    let added = db.at_as_mut::<Set>(dst_pos).insert(m, max);
    ctx.modified(src);
    notify::notify_write(ctx, notify::SET, "srem", src);
    if added {
        ctx.modified(dst);
        notify(ctx, notify::SET, "sadd", dst);
    }
    ctx.out.int(1);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The sets under `keys` (None for a missing key), or Err after a WRONGTYPE reply.
fn gather(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<Option<usize>>, ()> {
    let mut cells = Vec::with_capacity(keys.len());
    for k in keys {
        cells.push(typed_pos::<Set>(ctx, k)?);
    }
    Ok(cells)
}

/// Compute an intersection, union or difference; `limit` stops an intersection early
/// (SINTERCARD), 0 meaning none.
fn compute(db: &Db, cells: &[Option<usize>], op: Op, limit: usize) -> Vec<Box<[u8]>> {
    let sets: Vec<Option<&Set>> = cells
        .iter()
        .map(|s| s.map(|s| db.at_as::<Set>(s)))
        .collect();
    match op {
        Op::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Vec::new();
            }
            let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            let mut out = Vec::new();
            sets[0].for_each(|m| {
                if (limit == 0 || out.len() < limit) && sets[1..].iter().all(|s| s.contains(m)) {
                    out.push(m.into());
                }
            });
            out
        }
        Op::Union => {
            let mut seen = crate::keyspace::Dict::<()>::new();
            for s in sets.iter().flatten() {
                s.for_each(|m| {
                    seen.insert(m, ());
                });
            }
            seen.keys().map(|k| k.into()).collect()
        }
        Op::Diff => {
            let Some(first) = sets[0] else {
                return Vec::new();
            };
            let mut out = Vec::new();
            first.for_each(|m| {
                if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                    out.push(m.into());
                }
            });
            out
        }
    }
}

fn set_op(ctx: &mut Ctx, args: Args, op: Op) {
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    let Ok(cells) = gather(ctx, &keys) else {
        return;
    };
    let (db, out) = ctx.db_out();
    let res = compute(db, &cells, op, 0);
    reply_members(out, res.iter().map(|m| Cow::Borrowed(&**m)));
}

fn set_op_store(ctx: &mut Ctx, args: Args, op: Op) {
    let dst = args.get(1);
    let keys: Vec<&[u8]> = args.iter().skip(2).collect();
    let Ok(cells) = gather(ctx, &keys) else {
        return;
    };
    let max = max_ints(ctx);
    let res = compute(ctx.dbm(), &cells, op, 0);
    let event = match op {
        Op::Inter => "sinterstore",
        Op::Union => "sunionstore",
        Op::Diff => "sdiffstore",
    };
    store_members(ctx, dst, res.iter().map(|m| &**m), max, event);
}

/// Replace `dst` with a set of `members` (deleting it when empty); replies the size.
fn store_members<'a>(
    ctx: &mut Ctx,
    dst: &[u8],
    members: impl Iterator<Item = &'a [u8]>,
    max: usize,
    event: &str,
) {
    let mut set = Set::default();
    for m in members {
        set.insert(m, max);
    }
    let n = set.len();
    let db = ctx.dbm();
    if n == 0 {
        if db.remove(dst).is_some() {
            ctx.modified(dst);
            notify(ctx, notify::GENERIC, "del", dst);
        }
    } else {
        db.set(
            dst,
            Value::Set(Box::new(set)),
            crate::keyspace::NO_EXPIRE,
            false,
        );
        ctx.modified(dst);
        notify(ctx, notify::SET, event, dst);
    }
    ctx.out.int(n as i64);
}

fn sinter(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Inter)
}
fn sunion(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Union)
}
fn sdiff(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Diff)
}
fn sinterstore(ctx: &mut Ctx, args: Args) {
    set_op_store(ctx, args, Op::Inter)
}
fn sunionstore(ctx: &mut Ctx, args: Args) {
    set_op_store(ctx, args, Op::Union)
}
fn sdiffstore(ctx: &mut Ctx, args: Args) {
    set_op_store(ctx, args, Op::Diff)
}

/// `numkeys key [key ...]` as SINTERCARD/ZINTERCARD/ZMPOP... take it: the key count, or
/// None after replying the error.
pub(super) fn numkeys_arg(ctx: &mut Ctx, args: Args, at: usize) -> Option<usize> {
    let n = range_arg(ctx, args.get(at), 1, "ERR numkeys should be greater than 0")? as usize;
    if n > args.len() - at - 1 {
        ctx.out
            .error("ERR Number of keys can't be greater than number of args");
        return None;
    }
    Some(n)
}

/// `[LIMIT n]` after the keys of SINTERCARD/ZINTERCARD.
pub(super) fn limit_opt(ctx: &mut Ctx, args: Args, from: usize) -> Option<usize> {
    let mut limit = 0;
    let mut i = from;
    while i < args.len() {
        if crate::util::eq_ic(args.get(i), "limit") && i + 1 < args.len() {
            limit = range_arg(ctx, args.get(i + 1), 0, "ERR LIMIT can't be negative")? as usize;
            i += 2;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
    }
    Some(limit)
}

fn sintercard(ctx: &mut Ctx, args: Args) {
    let Some(n) = numkeys_arg(ctx, args, 1) else {
        return;
    };
    let Some(limit) = limit_opt(ctx, args, 2 + n) else {
        return;
    };
    let keys: Vec<&[u8]> = args.iter().skip(2).take(n).collect();
    let Ok(cells) = gather(ctx, &keys) else {
        return;
    };
    let (db, out) = ctx.db_out();
    out.int(compute(db, &cells, Op::Inter, limit).len() as i64);
}

/// Reply `[cursor, [items...]]`.
pub(super) fn scan_reply(out: &mut Reply, next: usize, items: &[Cow<'_, [u8]>]) {
    super::keys::scan_reply_header(out, next, items.len());
    for i in items {
        out.bulk(i);
    }
}

fn sscan(ctx: &mut Ctx, args: Args) {
    if super::keys::cursor_arg(ctx, args.get(2)).is_none() {
        return;
    }
    let pos = match typed_pos::<Set>(ctx, args.get(1)) {
        Err(()) => return,
        Ok(None) => return scan_reply(ctx.out, 0, &[]),
        Ok(Some(s)) => s,
    };
    let Some(o) = super::keys::parse_scan(ctx, args, 2, false) else {
        return;
    };
    let (db, out) = ctx.db_out();
    let mut items = Vec::new();
    let next = db.at_as::<Set>(pos).scan(o.cursor, o.count, |m| {
        if o.matches(m) {
            items.push(Cow::Owned(m.to_vec()));
        }
    });
    scan_reply(out, next, &items);
}
