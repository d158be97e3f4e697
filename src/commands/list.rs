//! List commands, including the blocking pops and moves (parked through `crate::blocking`).
//! A list is a quicklist (`crate::types::list`): O(1) push/pop at both ends, indexing for
//! LINDEX/LRANGE. An emptied list is deleted, as in Redis.
use super::*;
use crate::blocking::{self, TimeoutReply};
use crate::keyspace::{Db, Key, ValMut, ValRef, Value};
use crate::resp::Reply;

use crate::keyspace::List;
use std::borrow::Cow;

pub static COMMANDS: &[Command] = &[
    cmd("lpush", -3, WRITE | DENYOOM | FAST, LIST, lpush),
    cmd("rpush", -3, WRITE | DENYOOM | FAST, LIST, rpush),
    cmd("lpushx", -3, WRITE | DENYOOM | FAST, LIST, lpushx),
    cmd("rpushx", -3, WRITE | DENYOOM | FAST, LIST, rpushx),
    cmd("lpop", -2, WRITE | FAST, LIST, lpop),
    cmd("rpop", -2, WRITE | FAST, LIST, rpop),
    cmd("llen", 2, READONLY | FAST, LIST, llen),
    cmd("lrange", 4, READONLY, LIST, lrange),
    cmd("lindex", 3, READONLY, LIST, lindex),
    cmd("lset", 4, WRITE | DENYOOM, LIST, lset),
    cmd("lrem", 4, WRITE, LIST, lrem),
    cmd("ltrim", 4, WRITE, LIST, ltrim),
    cmd("linsert", 5, WRITE | DENYOOM, LIST, linsert),
    cmd("lpos", -3, READONLY, LIST, lpos),
    cmd("lmove", 5, WRITE | DENYOOM, LIST, lmove),
    cmd("rpoplpush", 3, WRITE | DENYOOM, LIST, rpoplpush),
    cmd("lmpop", -4, WRITE | MOVABLE_KEYS, LIST, lmpop),
    cmd("blpop", -3, WRITE | NOSCRIPT | BLOCKING, LIST, blpop),
    cmd("brpop", -3, WRITE | NOSCRIPT | BLOCKING, LIST, brpop),
    cmd(
        "blmove",
        6,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        LIST,
        blmove,
    ),
    cmd(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        LIST,
        brpoplpush,
    ),
    cmd("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, LIST, blmpop),
];

/// The list at `key`: `Ok(None)` when absent, `Err(())` when of another type.
/// Delete `key` if its list became empty.
fn drop_if_empty(db: &mut Db, key: &[u8]) {
    if matches!(db.get(key).map(|e| e.val()), Some(ValRef::List(l)) if l.is_empty()) {
        db.remove(key);
    }
}

/// LEFT / RIGHT: true for the head.
fn parse_side(a: &[u8]) -> Option<bool> {
    if crate::util::eq_ic(a, "left") {
        Some(true)
    } else if crate::util::eq_ic(a, "right") {
        Some(false)
    } else {
        None
    }
}

fn pop_end(l: &mut List, left: bool) -> Option<Key> {
    if left {
        l.pop_front()
    } else {
        l.pop_back()
    }
}

/// Redis's start/end (negative from the end) as an inclusive in-range span, if not empty.
fn span(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let e = if end < 0 { len + end } else { end.min(len - 1) };
    (s <= e && s < len).then_some((s as usize, e as usize))
}

/// Redis's index (negative from the end) into a list of `len`.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

// ---- push ----

fn push(ctx: &mut Ctx, args: Args, left: bool, only_existing: bool) {
    let key = args.get(1);
    let (fill, depth) = (
        ctx.srv.cfg.list_max_listpack_size,
        ctx.srv.cfg.list_compress_depth,
    );
    let (db, out) = ctx.db_out();
    let l = match db.typed_mut::<List>(key) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(Some(l)) => l,
        Ok(None) if only_existing => return out.int(0),
        Ok(None) => {
            let pos = db.insert_new(key, Value::List(Box::new(List::new(fill, depth))));
            match db.at_mut(pos).map(|e| e.val_mut()) {
                Some(ValMut::List(l)) => l,
                _ => return,
            }
        }
    };
    for v in args.iter().skip(2) {
        l.push(v, left);
    }
    out.int(l.len() as i64);
    ctx.modified(key);
    crate::notify::notify(
        ctx,
        crate::notify::LIST,
        if left { "lpush" } else { "rpush" },
        key,
    );
}

fn lpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, true, false)
}
fn rpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, false, false)
}
fn lpushx(ctx: &mut Ctx, args: Args) {
    push(ctx, args, true, true)
}
fn rpushx(ctx: &mut Ctx, args: Args) {
    push(ctx, args, false, true)
}

// ---- pop ----

/// Pop up to `count` elements from one end and reply them as an array.
fn pop_many(out: &mut Reply, l: &mut List, left: bool, count: usize) {
    let n = count.min(l.len());
    out.array(n);
    for _ in 0..n {
        if let Some(v) = pop_end(l, left) {
            out.bulk(&v);
        }
    }
}

fn pop(ctx: &mut Ctx, args: Args, left: bool) {
    if args.len() > 3 {
        let name = if left { "lpop" } else { "rpop" };
        return ctx.out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let count = if args.len() == 3 {
        match positive(
            ctx,
            args.get(2),
            "ERR value is out of range, must be positive",
        ) {
            Some(n) => Some(n),
            None => return,
        }
    } else {
        None
    };
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let l = match db.typed_mut::<List>(key) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) if count.is_some() => return out.null_array(),
        Ok(None) => return out.null(),
        Ok(Some(l)) => l,
    };
    match count {
        Some(0) => return out.array(0),
        Some(n) => pop_many(out, l, left, n as usize),
        None => match pop_end(l, left) {
            Some(v) => out.bulk(&v),
            None => out.null(),
        },
    }
    drop_if_empty(db, key);
    ctx.modified(key);
    crate::notify::notify_write(
        ctx,
        crate::notify::LIST,
        if left { "lpop" } else { "rpop" },
        key,
    );
}

/// A non-negative integer argument, or `msg` (Redis's getPositiveLong...OrReply).
fn positive(ctx: &mut Ctx, a: &[u8], msg: &str) -> Option<i64> {
    match crate::util::parse_i64(a) {
        Some(n) if n >= 0 => Some(n),
        _ => {
            ctx.out.error(msg);
            None
        }
    }
}

fn lpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, true)
}
fn rpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, false)
}

// ---- read ----

fn llen(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.typed::<List>(args.get(1)) {
        Err(()) => out.error(WRONGTYPE),
        Ok(l) => out.int(l.map_or(0, |l| l.len()) as i64),
    }
}

fn lrange(ctx: &mut Ctx, args: Args) {
    let (Some(start), Some(end)) = (
        crate::util::parse_i64(args.get(2)),
        crate::util::parse_i64(args.get(3)),
    ) else {
        return ctx.out.error(NOT_INT);
    };
    let (db, out) = ctx.db_out();
    let l = match db.typed::<List>(args.get(1)) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) => return out.array(0),
        Ok(Some(l)) => l,
    };
    let Some((s, e)) = span(start, end, l.len()) else {
        return out.array(0);
    };
    out.array(e - s + 1);
    l.for_range(s, e - s + 1, |v| out.bulk(v));
}

fn lindex(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.typed::<List>(args.get(1)) {
        Err(()) => out.error(WRONGTYPE),
        Ok(None) => out.null(),
        Ok(Some(l)) => match crate::util::parse_i64(args.get(2)) {
            None => out.error(NOT_INT),
            Some(i) => match index(i, l.len()) {
                Some(i) => out.bulk(&l.get(i).unwrap_or_default()),
                None => out.null(),
            },
        },
    }
}

fn lpos(ctx: &mut Ctx, args: Args) {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        let more = i + 1 < args.len();
        if more && crate::util::eq_ic(opt, "rank") {
            let Some(r) = int_arg(ctx, args.get(i + 1)) else {
                return;
            };
            if r == 0 {
                return ctx.out.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            rank = r;
        } else if more && crate::util::eq_ic(opt, "count") {
            let Some(c) = positive(ctx, args.get(i + 1), "ERR COUNT can't be negative") else {
                return;
            };
            count = Some(c);
        } else if more && crate::util::eq_ic(opt, "maxlen") {
            let Some(m) = positive(ctx, args.get(i + 1), "ERR MAXLEN can't be negative") else {
                return;
            };
            maxlen = m;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 2;
    }
    let elem = args.get(2);
    let (db, out) = ctx.db_out();
    let l = match db.typed::<List>(args.get(1)) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) if count.is_some() => return out.array(0),
        Ok(None) => return out.null(),
        Ok(Some(l)) => l,
    };
    let from_tail = rank < 0;
    // Redis negates the rank in a C long: i64::MIN stays negative and matches at once.
    let skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs() - 1
    };
    let len = l.len();
    let scan = if maxlen == 0 {
        len
    } else {
        (maxlen as usize).min(len)
    };
    // One walk from the chosen end (indexing each position would be O(n) per step).
    let walk: Box<dyn Iterator<Item = Cow<[u8]>>> = if from_tail {
        Box::new(l.iter().rev())
    } else {
        Box::new(l.iter())
    };
    let mut matches = walk
        .take(scan)
        .enumerate()
        .filter(|(_, v)| **v == *elem)
        .map(|(k, _)| if from_tail { len - 1 - k } else { k })
        .skip(skip.min(len as u64) as usize);
    match count {
        None => match matches.next() {
            Some(p) => out.int(p as i64),
            None => out.null(),
        },
        Some(c) => {
            let found: Vec<usize> = if c == 0 {
                matches.collect()
            } else {
                matches.take(c as usize).collect()
            };
            out.array(found.len());
            for p in found {
                out.int(p as i64);
            }
        }
    }
}

// ---- in-place edits ----

fn lset(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let l = match db.typed_mut::<List>(key) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) => return out.error("ERR no such key"),
        Ok(Some(l)) => l,
    };
    let Some(i) = crate::util::parse_i64(args.get(2)) else {
        return out.error(NOT_INT);
    };
    match index(i, l.len()) {
        Some(i) => {
            l.set(i, args.get(3));
            out.ok();
            ctx.modified(key);
            crate::notify::notify(ctx, crate::notify::LIST, "lset", key);
        }
        None => out.error("ERR index out of range"),
    }
}

fn lrem(ctx: &mut Ctx, args: Args) {
    let Some(count) = int_arg(ctx, args.get(2)) else {
        return;
    };
    let (key, elem) = (args.get(1), args.get(3));
    let (db, out) = ctx.db_out();
    let l = match db.typed_mut::<List>(key) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) => return out.int(0),
        Ok(Some(l)) => l,
    };
    let total = l.iter().filter(|v| **v == *elem).count();
    let limit = if count == 0 {
        total
    } else {
        (count.unsigned_abs() as usize).min(total)
    };
    // From the tail: keep the first `total - limit` matches, remove the rest.
    let keep_first = if count < 0 { total - limit } else { 0 };
    let mut seen = 0;
    l.retain(|v| {
        if v != elem {
            return true;
        }
        seen += 1;
        if count < 0 {
            seen <= keep_first
        } else {
            seen > limit
        }
    });
    out.int(limit as i64);
    if limit > 0 {
        drop_if_empty(db, key);
        ctx.modified(key);
        crate::notify::notify_write(ctx, crate::notify::LIST, "lrem", key);
    }
}

fn ltrim(ctx: &mut Ctx, args: Args) {
    let (Some(start), Some(end)) = (
        crate::util::parse_i64(args.get(2)),
        crate::util::parse_i64(args.get(3)),
    ) else {
        return ctx.out.error(NOT_INT);
    };
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let l = match db.typed_mut::<List>(key) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) => return out.ok(),
        Ok(Some(l)) => l,
    };
    match span(start, end, l.len()) {
        Some((s, e)) => l.keep_range(s, e - s + 1),
        None => l.clear(),
    }
    drop_if_empty(db, key);
    out.ok();
    ctx.modified(key);
    crate::notify::notify_write(ctx, crate::notify::LIST, "ltrim", key);
}

fn linsert(ctx: &mut Ctx, args: Args) {
    let after = if crate::util::eq_ic(args.get(2), "after") {
        true
    } else if crate::util::eq_ic(args.get(2), "before") {
        false
    } else {
        return ctx.out.error(SYNTAX);
    };
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let l = match db.typed_mut::<List>(key) {
        Err(()) => return out.error(WRONGTYPE),
        Ok(None) => return out.int(0),
        Ok(Some(l)) => l,
    };
    let Some(p) = l.iter().position(|v| *v == *args.get(3)) else {
        return out.int(-1);
    };
    l.insert(if after { p + 1 } else { p }, args.get(4));
    out.int(l.len() as i64);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::LIST, "linsert", key);
}

// ---- moves ----

/// Move one element from `src` to `dst` and reply it; nothing (Ok(false)) if `src` is
/// absent or empty. Err(()) after replying WRONGTYPE.
fn move_one(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<bool, ()> {
    let (fill, depth) = (
        ctx.srv.cfg.list_max_listpack_size,
        ctx.srv.cfg.list_compress_depth,
    );
    let (db, out) = ctx.db_out();
    match db.typed::<List>(src) {
        Err(()) => {
            out.error(WRONGTYPE);
            return Err(());
        }
        Ok(None) => return Ok(false),
        Ok(Some(l)) if l.is_empty() => return Ok(false),
        Ok(Some(_)) => {}
    }
    if db.typed::<List>(dst).is_err() {
        out.error(WRONGTYPE);
        return Err(());
    }
    let Ok(Some(l)) = db.typed_mut::<List>(src) else {
        return Ok(false);
    };
    let Some(v) = pop_end(l, from_left) else {
        return Ok(false);
    };
    out.bulk(&v);
    match db.typed_mut::<List>(dst) {
        Ok(Some(d)) => d.push(&v, to_left),
        _ => {
            let mut l = List::new(fill, depth);
            l.push_back(&v);
            db.insert_new(dst, Value::List(Box::new(l)));
        }
    }
    drop_if_empty(db, src);
    ctx.modified(src);
    let (pop_ev, push_ev) = (
        if from_left { "lpop" } else { "rpop" },
        if to_left { "lpush" } else { "rpush" },
    );
    crate::notify::notify_write(ctx, crate::notify::LIST, pop_ev, src);
    if dst != src {
        ctx.modified(dst);
    }
    crate::notify::notify(ctx, crate::notify::LIST, push_ev, dst);
    Ok(true)
}

fn lmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (parse_side(args.get(3)), parse_side(args.get(4))) else {
        return ctx.out.error(SYNTAX);
    };
    if let Ok(false) = move_one(ctx, args.get(1), args.get(2), from, to) {
        ctx.out.null();
    }
}

fn rpoplpush(ctx: &mut Ctx, args: Args) {
    if let Ok(false) = move_one(ctx, args.get(1), args.get(2), false, true) {
        ctx.out.null();
    }
}

fn blmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (parse_side(args.get(3)), parse_side(args.get(4))) else {
        return ctx.out.error(SYNTAX);
    };
    if let Some(deadline) = blocking::parse_timeout(ctx, args.get(5)) {
        block_move(ctx, args, from, to, deadline);
    }
}

fn brpoplpush(ctx: &mut Ctx, args: Args) {
    if let Some(deadline) = blocking::parse_timeout(ctx, args.get(3)) {
        block_move(ctx, args, false, true, deadline);
    }
}

fn block_move(ctx: &mut Ctx, args: Args, from: bool, to: bool, deadline: i64) {
    match move_one(ctx, args.get(1), args.get(2), from, to) {
        Ok(true) => propagate_move(ctx, args),
        Err(()) => {}
        Ok(false) if !blocking::may_block(ctx) => ctx.out.null(),
        Ok(false) => blocking::block(
            ctx,
            args,
            [args.get(1)],
            deadline,
            retry_move,
            TimeoutReply::NullBulk,
        ),
    }
}

/// A blocking or multi-key pop propagates as the plain pop it did: LPOP/RPOP key
/// [count] (BLPOP, BRPOP, LMPOP, BLMPOP, served now or later).
fn propagate_pop(ctx: &mut Ctx, key: &[u8], left: bool, count: Option<usize>) {
    if !ctx.srv.data.prop.on() {
        return;
    }
    let cmd: &[u8] = if left { b"LPOP" } else { b"RPOP" };
    match count {
        None => ctx.propagate_as(&[cmd, key]),
        Some(n) => {
            let n = n.to_string();
            ctx.propagate_as(&[cmd, key, n.as_bytes()]);
        }
    }
}

/// BLMOVE / BRPOPLPUSH propagate as LMOVE / RPOPLPUSH (no timeout to replay).
fn propagate_move(ctx: &mut Ctx, args: Args) {
    if args.len() == 6 {
        ctx.propagate_as(&[b"LMOVE", args.get(1), args.get(2), args.get(3), args.get(4)]);
    } else {
        ctx.propagate_as(&[b"RPOPLPUSH", args.get(1), args.get(2)]);
    }
}

/// Retry of BLMOVE / BRPOPLPUSH once the source may have data.
fn retry_move(ctx: &mut Ctx, args: Args, _key: &[u8]) -> bool {
    let (from, to) = if args.len() == 6 {
        (
            parse_side(args.get(3)).unwrap_or(true),
            parse_side(args.get(4)).unwrap_or(true),
        )
    } else {
        (false, true)
    };
    if !matches!(ctx.dbm().typed::<List>(args.get(1)), Ok(Some(l)) if !l.is_empty()) {
        return false;
    }
    // A destination of the wrong type answers WRONGTYPE to the waiting client.
    let r = move_one(ctx, args.get(1), args.get(2), from, to);
    if r == Ok(true) {
        propagate_move(ctx, args);
    }
    r != Ok(false)
}

// ---- multi-key pops ----

/// Pop from the first non-empty list of `keys`: `[key, value]` (count None) or
/// `[key, [values...]]`. Ok(false) when every list is empty; Err(()) after WRONGTYPE.
fn pop_first(ctx: &mut Ctx, keys: KeyList, left: bool, count: Option<usize>) -> Result<bool, ()> {
    for key in keys.iter() {
        let (db, out) = ctx.db_out();
        match db.typed_mut::<List>(key) {
            Err(()) => {
                out.error(WRONGTYPE);
                return Err(());
            }
            Ok(Some(l)) if !l.is_empty() => {
                let popped = count.map(|n| n.min(l.len()));
                pop_reply(out, l, key, left, count);
                drop_if_empty(db, key);
                propagate_pop(ctx, key, left, popped);
                ctx.modified(key);
                crate::notify::notify_write(
                    ctx,
                    crate::notify::LIST,
                    if left { "lpop" } else { "rpop" },
                    key,
                );
                return Ok(true);
            }
            _ => {}
        }
    }
    Ok(false)
}

fn pop_reply(out: &mut Reply, l: &mut List, key: &[u8], left: bool, count: Option<usize>) {
    out.array(2);
    out.bulk(key);
    match count {
        None => {
            if let Some(v) = pop_end(l, left) {
                out.bulk(&v);
            }
        }
        Some(n) => pop_many(out, l, left, n),
    }
}

fn bpop(ctx: &mut Ctx, args: Args, left: bool) {
    let Some(deadline) = blocking::parse_timeout(ctx, args.get(args.len() - 1)) else {
        return;
    };
    let keys = KeyList {
        args,
        from: 1,
        to: args.len() - 1,
    };
    match pop_first(ctx, keys, left, None) {
        Ok(true) | Err(()) => {}
        Ok(false) if !blocking::may_block(ctx) => ctx.out.null_array(),
        Ok(false) => blocking::block(
            ctx,
            args,
            keys.iter(),
            deadline,
            retry_bpop,
            TimeoutReply::NullArray,
        ),
    }
}

fn blpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, true)
}
fn brpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, false)
}

/// Serve a waiting BLPOP/BRPOP/BLMPOP from the key that became ready.
fn retry_bpop(ctx: &mut Ctx, args: Args, key: &[u8]) -> bool {
    let (left, count) = if crate::util::eq_ic(args.get(0), "blmpop") {
        match parse_mpop(args, 2) {
            Ok(p) => (p.left, Some(p.count)),
            Err(_) => return false,
        }
    } else {
        (crate::util::eq_ic(args.get(0), "blpop"), None)
    };
    let (db, out) = ctx.db_out();
    match db.typed_mut::<List>(key) {
        Ok(Some(l)) if !l.is_empty() => {
            let popped = count.map(|n| n.min(l.len()));
            pop_reply(out, l, key, left, count);
            drop_if_empty(db, key);
            propagate_pop(ctx, key, left, popped);
            ctx.modified(key);
            crate::notify::notify_write(
                ctx,
                crate::notify::LIST,
                if left { "lpop" } else { "rpop" },
                key,
            );
            true
        }
        _ => false,
    }
}

/// Arguments `from..to` of a command: the keys of a multi-key pop.
#[derive(Clone, Copy)]
struct KeyList<'a> {
    args: Args<'a>,
    from: usize,
    to: usize,
}

impl<'a> KeyList<'a> {
    fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        (self.from..self.to).map(move |i| self.args.get(i))
    }
}

struct MpopArgs<'a> {
    keys: KeyList<'a>,
    left: bool,
    count: usize,
}

/// Parse `numkeys key... LEFT|RIGHT [COUNT n]` starting at `numkeys_at`.
fn parse_mpop(args: Args, numkeys_at: usize) -> Result<MpopArgs, &'static str> {
    let n = match crate::util::parse_i64(args.get(numkeys_at)) {
        Some(n) if n > 0 => n as u64,
        _ => return Err("ERR numkeys should be greater than 0"),
    };
    let where_at = numkeys_at as u64 + n + 1;
    if where_at >= args.len() as u64 {
        return Err(SYNTAX);
    }
    let where_at = where_at as usize;
    let left = parse_side(args.get(where_at)).ok_or(SYNTAX)?;
    let mut count = None;
    let mut i = where_at + 1;
    while i < args.len() {
        if count.is_none() && crate::util::eq_ic(args.get(i), "count") && i + 1 < args.len() {
            count = match crate::util::parse_i64(args.get(i + 1)) {
                Some(c) if c > 0 => Some(c as usize),
                _ => return Err("ERR count should be greater than 0"),
            };
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok(MpopArgs {
        keys: KeyList {
            args,
            from: numkeys_at + 1,
            to: numkeys_at + 1 + n as usize,
        },
        left,
        count: count.unwrap_or(1),
    })
}

fn lmpop(ctx: &mut Ctx, args: Args) {
    let p = match parse_mpop(args, 1) {
        Ok(p) => p,
        Err(e) => return ctx.out.error(e),
    };
    if let Ok(false) = pop_first(ctx, p.keys, p.left, Some(p.count)) {
        ctx.out.null_array();
    }
}

fn blmpop(ctx: &mut Ctx, args: Args) {
    let p = match parse_mpop(args, 2) {
        Ok(p) => p,
        Err(e) => return ctx.out.error(e),
    };
    let Some(deadline) = blocking::parse_timeout(ctx, args.get(1)) else {
        return;
    };
    match pop_first(ctx, p.keys, p.left, Some(p.count)) {
        Ok(true) | Err(()) => {}
        Ok(false) if !blocking::may_block(ctx) => ctx.out.null_array(),
        Ok(false) => blocking::block(
            ctx,
            args,
            p.keys.iter(),
            deadline,
            retry_bpop,
            TimeoutReply::NullArray,
        ),
    }
}
