//! Sorted set commands.
use super::set::{positive_arg, range_arg, scan_reply};
use super::*;
use crate::blocking::{self, TimeoutReply};
use crate::keyspace::{Db, Dict, ValRef, Value, NO_EXPIRE};
use crate::notify::{self, notify};
use crate::resp::Reply;
use crate::types::set::Set;
use crate::types::zset::{LexBound, LexRange, ScoreRange, ZSet};
use crate::util::{eq_ic, parse_f64, parse_i64};
use rand::Rng;
use std::borrow::Cow;

const MOVABLE: u32 = MOVABLE_KEYS;

pub static COMMANDS: &[Command] = &[
    cmd("zadd", -4, WRITE | DENYOOM | FAST, SORTEDSET, zadd),
    cmd("zincrby", 4, WRITE | DENYOOM | FAST, SORTEDSET, zincrby),
    cmd("zrem", -3, WRITE | FAST, SORTEDSET, zrem),
    cmd("zcard", 2, READONLY | FAST, SORTEDSET, zcard),
    cmd("zcount", 4, READONLY | FAST, SORTEDSET, zcount),
    cmd("zlexcount", 4, READONLY | FAST, SORTEDSET, zlexcount),
    cmd("zscore", 3, READONLY | FAST, SORTEDSET, zscore),
    cmd("zmscore", -3, READONLY | FAST, SORTEDSET, zmscore),
    cmd("zrank", 3, READONLY | FAST, SORTEDSET, zrank),
    cmd("zrevrank", 3, READONLY | FAST, SORTEDSET, zrevrank),
    cmd("zrange", -4, READONLY, SORTEDSET, zrange),
    cmd("zrangestore", -5, WRITE | DENYOOM, SORTEDSET, zrangestore),
    cmd("zrevrange", -4, READONLY, SORTEDSET, zrevrange),
    cmd("zrangebyscore", -4, READONLY, SORTEDSET, zrangebyscore),
    cmd(
        "zrevrangebyscore",
        -4,
        READONLY,
        SORTEDSET,
        zrevrangebyscore,
    ),
    cmd("zrangebylex", -4, READONLY, SORTEDSET, zrangebylex),
    cmd("zrevrangebylex", -4, READONLY, SORTEDSET, zrevrangebylex),
    cmd("zremrangebyrank", 4, WRITE, SORTEDSET, zremrangebyrank),
    cmd("zremrangebyscore", 4, WRITE, SORTEDSET, zremrangebyscore),
    cmd("zremrangebylex", 4, WRITE, SORTEDSET, zremrangebylex),
    cmd("zpopmin", -2, WRITE | FAST, SORTEDSET, zpopmin),
    cmd("zpopmax", -2, WRITE | FAST, SORTEDSET, zpopmax),
    cmd("zmpop", -4, WRITE | MOVABLE, SORTEDSET, zmpop),
    cmd(
        "bzpopmin",
        -3,
        WRITE | NOSCRIPT | FAST | BLOCKING,
        SORTEDSET,
        bzpopmin,
    ),
    cmd(
        "bzpopmax",
        -3,
        WRITE | NOSCRIPT | FAST | BLOCKING,
        SORTEDSET,
        bzpopmax,
    ),
    cmd("bzmpop", -5, WRITE | BLOCKING | MOVABLE, SORTEDSET, bzmpop),
    cmd("zunion", -3, READONLY | MOVABLE, SORTEDSET, zunion),
    cmd("zinter", -3, READONLY | MOVABLE, SORTEDSET, zinter),
    cmd("zdiff", -3, READONLY | MOVABLE, SORTEDSET, zdiff),
    cmd(
        "zunionstore",
        -4,
        WRITE | DENYOOM | MOVABLE,
        SORTEDSET,
        zunionstore,
    ),
    cmd(
        "zinterstore",
        -4,
        WRITE | DENYOOM | MOVABLE,
        SORTEDSET,
        zinterstore,
    ),
    cmd(
        "zdiffstore",
        -4,
        WRITE | DENYOOM | MOVABLE,
        SORTEDSET,
        zdiffstore,
    ),
    cmd("zintercard", -3, READONLY | MOVABLE, SORTEDSET, zintercard),
    cmd("zrandmember", -2, READONLY, SORTEDSET, zrandmember),
    cmd("zscan", -3, READONLY, SORTEDSET, zscan),
];

const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const RANGE_NOT_LEX: &str = "ERR min or max not valid string range item";

/// `zset-max-listpack-entries` and `zset-max-listpack-value`.
#[derive(Clone, Copy)]
pub(super) struct Limits {
    entries: usize,
    value: usize,
}

pub(super) fn limits(ctx: &Ctx) -> Limits {
    Limits {
        entries: ctx.srv.cfg.zset_max_listpack_entries.max(0) as usize,
        value: ctx.srv.cfg.zset_max_listpack_value.max(0) as usize,
    }
}

/// After adding member `m`: leave the listpack encoding when a limit is passed.
fn note_insert(z: &mut ZSet, m: &[u8], lim: Limits) {
    if z.is_listpack() && (z.len() > lim.entries || m.len() > lim.value) {
        z.to_skiplist();
    }
}

/// The encoding a freshly computed result gets (ZUNIONSTORE, ZRANGESTORE, ...).
pub(super) fn fit_encoding(z: &mut ZSet, lim: Limits) {
    z.set_listpack(z.len() <= lim.entries && z.max_member_len() <= lim.value);
}

/// Reply a list of (member, score) pairs: flat in RESP2, nested pairs in RESP3.
fn reply_pairs<'a>(
    out: &mut Reply,
    n: usize,
    items: impl Iterator<Item = (&'a [u8], f64)>,
    withscores: bool,
) {
    if withscores && !out.resp3 {
        out.array(n * 2);
    } else {
        out.array(n);
    }
    for (m, s) in items {
        // A client past its output limit is dropped with this reply: no need to finish
        // it (ZRANDMEMBER with a huge negative count).
        if out.over_limit() {
            break;
        }
        if withscores {
            if out.resp3 {
                out.array(2);
            }
            out.bulk(m);
            out.double(s);
        } else {
            out.bulk(m);
        }
    }
}

// ---- ZADD / ZINCRBY ----

#[derive(Default, Clone, Copy)]
pub(super) struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

/// The leading ZADD options from argument 2 on, and where the elements start. GEOADD
/// (`all` false) knows only NX, XX and CH.
pub(super) fn add_flags(args: Args, all: bool) -> (AddFlags, usize) {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        let flag = if eq_ic(a, "nx") {
            &mut f.nx
        } else if eq_ic(a, "xx") {
            &mut f.xx
        } else if eq_ic(a, "ch") {
            &mut f.ch
        } else if all && eq_ic(a, "incr") {
            &mut f.incr
        } else if all && eq_ic(a, "gt") {
            &mut f.gt
        } else if all && eq_ic(a, "lt") {
            &mut f.lt
        } else {
            break;
        };
        *flag = true;
        i += 1;
    }
    (f, i)
}

fn zadd(ctx: &mut Ctx, args: Args) {
    let (f, first) = add_flags(args, true);
    zadd_generic(ctx, args, first, f)
}

fn zincrby(ctx: &mut Ctx, args: Args) {
    let f = AddFlags {
        incr: true,
        ..Default::default()
    };
    zadd_generic(ctx, args, 2, f)
}

fn zadd_generic(ctx: &mut Ctx, args: Args, first: usize, f: AddFlags) {
    let elements = args.len() - first;
    if elements == 0 || !elements.is_multiple_of(2) {
        return ctx.out.error(SYNTAX);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return ctx
            .out
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx
            .out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 1 {
        return ctx
            .out
            .error("ERR INCR option supports a single increment-element pair");
    }
    let mut items = Vec::with_capacity(elements);
    for j in 0..elements {
        match parse_f64(args.get(first + 2 * j)) {
            Some(s) => items.push((s, args.get(first + 2 * j + 1))),
            None => return ctx.out.error(NOT_FLOAT),
        }
    }
    zadd_items(ctx, args.get(1), f, &items)
}

/// ZADD's work once the arguments are checked: (score, member) pairs into the set at
/// `key` (GEOADD comes here with the scores it computed).
pub(super) fn zadd_items(ctx: &mut Ctx, key: &[u8], f: AddFlags, items: &[(f64, &[u8])]) {
    let lim = limits(ctx);
    let pos = match typed_pos::<ZSet>(ctx, key) {
        Err(()) => return,
        Ok(Some(s)) => s,
        Ok(None) if f.xx => {
            return if f.incr {
                ctx.out.null()
            } else {
                ctx.out.int(0)
            };
        }
        Ok(None) => {
            let z = if lim.entries != 0 && items[0].1.len() <= lim.value {
                ZSet::new()
            } else {
                ZSet::new_skiplist()
            };
            ctx.dbm().insert_new(key, Value::ZSet(Box::new(z)))
        }
    };
    let (db, out) = ctx.db_out();
    let z = db.at_as_mut::<ZSet>(pos);
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    let mut nan = false;
    for &(score, m) in items {
        match z.score(m) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    nan = true;
                    break;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                if new != cur {
                    z.insert(m, new);
                    updated += 1;
                }
                processed += 1;
                last = new;
            }
            None => {
                if f.xx {
                    continue;
                }
                z.insert(m, score);
                note_insert(z, m, lim);
                added += 1;
                processed += 1;
                last = score;
            }
        }
    }
    if z.is_empty() {
        db.remove_pos(pos);
    }
    if nan {
        out.error(NAN_ERR);
    } else if f.incr {
        if processed > 0 {
            out.double(last);
        } else {
            out.null();
        }
    } else {
        out.int(if f.ch { added + updated } else { added });
    }
    if added + updated > 0 {
        ctx.modified(key);
        notify(
            ctx,
            notify::ZSET,
            if f.incr { "zincr" } else { "zadd" },
            key,
        );
    }
}

fn zrem(ctx: &mut Ctx, args: Args) {
    remove_members::<ZSet>(ctx, args, notify::ZSET, "zrem");
}

// ---- reads ----

/// Run `f` on the sorted set at `key`, or reply `missing` when absent.
pub(super) fn with_zset(
    ctx: &mut Ctx,
    key: &[u8],
    missing: fn(&mut Reply),
    f: impl FnOnce(&ZSet, &mut Reply),
) {
    match typed_pos::<ZSet>(ctx, key) {
        Err(()) => {}
        Ok(None) => missing(ctx.out),
        Ok(Some(pos)) => {
            let (db, out) = ctx.db_out();
            f(db.at_as::<ZSet>(pos), out)
        }
    }
}

fn zcard(ctx: &mut Ctx, args: Args) {
    with_zset(ctx, args.get(1), |o| o.int(0), |z, o| o.int(z.len() as i64));
}

fn zscore(ctx: &mut Ctx, args: Args) {
    let m = args.get(2);
    with_zset(
        ctx,
        args.get(1),
        |o| o.null(),
        |z, o| match z.score(m) {
            Some(s) => o.double(s),
            None => o.null(),
        },
    );
}

fn zmscore(ctx: &mut Ctx, args: Args) {
    let pos = match typed_pos::<ZSet>(ctx, args.get(1)) {
        Err(()) => return,
        Ok(s) => s,
    };
    let (db, out) = ctx.db_out();
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match pos.and_then(|s| db.at_as::<ZSet>(s).score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
}

fn rank_generic(ctx: &mut Ctx, args: Args, rev: bool) {
    let m = args.get(2);
    with_zset(
        ctx,
        args.get(1),
        |o| o.null(),
        |z, o| match z.rank(m) {
            Some(r) => o.int(if rev { z.len() - 1 - r } else { r } as i64),
            None => o.null(),
        },
    );
}

fn zrank(ctx: &mut Ctx, args: Args) {
    rank_generic(ctx, args, false)
}
fn zrevrank(ctx: &mut Ctx, args: Args) {
    rank_generic(ctx, args, true)
}

fn parse_score_bound(a: &[u8]) -> Option<(f64, bool)> {
    let (ex, num) = match a.first() {
        Some(b'(') => (true, &a[1..]),
        _ => (false, a),
    };
    parse_f64(num).map(|v| (v, ex))
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, min_ex) = parse_score_bound(min)?;
    let (max, max_ex) = parse_score_bound(max)?;
    Some(ScoreRange {
        min,
        max,
        min_ex,
        max_ex,
    })
}

fn parse_lex_bound(a: &[u8]) -> Option<LexBound> {
    match a.first()? {
        b'+' if a.len() == 1 => Some(LexBound::PosInf),
        b'-' if a.len() == 1 => Some(LexBound::NegInf),
        b'(' => Some(LexBound::Excl(a[1..].into())),
        b'[' => Some(LexBound::Incl(a[1..].into())),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<LexRange> {
    Some(LexRange {
        min: parse_lex_bound(min)?,
        max: parse_lex_bound(max)?,
    })
}

fn zcount(ctx: &mut Ctx, args: Args) {
    let Some(r) = parse_score_range(args.get(2), args.get(3)) else {
        return ctx.out.error(RANGE_NOT_FLOAT);
    };
    with_zset(
        ctx,
        args.get(1),
        |o| o.int(0),
        |z, o| {
            let (a, b) = z.score_span(&r);
            o.int((b - a) as i64)
        },
    );
}

fn zlexcount(ctx: &mut Ctx, args: Args) {
    let Some(r) = parse_lex_range(args.get(2), args.get(3)) else {
        return ctx.out.error(RANGE_NOT_LEX);
    };
    with_zset(
        ctx,
        args.get(1),
        |o| o.int(0),
        |z, o| {
            let (a, b) = z.lex_span(&r);
            o.int((b - a) as i64)
        },
    );
}

// ---- ZRANGE and friends ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeBy {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Auto,
    Fwd,
    Rev,
}

enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Rank bounds after Redis's negative-index rules, or None for an empty range.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut end = if end < 0 { end + len } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// The selected elements as (first reverse-or-forward rank, count) for `ZSet::range`.
fn select(z: &ZSet, spec: &Spec, rev: bool, offset: i64, limit: i64) -> Option<(usize, usize)> {
    let len = z.len();
    let (a, b) = match spec {
        Spec::Rank(s, e) => {
            let (s, e) = clamp_ranks(*s, *e, len)?;
            return Some((s, e));
        }
        Spec::Score(r) => z.score_span(r),
        Spec::Lex(r) => z.lex_span(r),
    };
    let n = b - a;
    if offset < 0 || offset as usize >= n {
        return None;
    }
    let mut cnt = n - offset as usize;
    if limit >= 0 {
        cnt = cnt.min(limit as usize);
    }
    if cnt == 0 {
        return None;
    }
    let first = if rev { len - b } else { a } + offset as usize;
    Some((first, first + cnt - 1))
}

fn zrange_generic(
    ctx: &mut Ctx,
    args: Args,
    at: usize,
    store: Option<&[u8]>,
    mut by: RangeBy,
    mut dir: Dir,
) {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = at + 3;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if store.is_none() && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            let Some(o) = int_arg(ctx, args.get(j + 1)) else {
                return;
            };
            let Some(l) = int_arg(ctx, args.get(j + 2)) else {
                return;
            };
            (offset, limit) = (o, l);
            j += 2;
        } else if dir == Dir::Auto && eq_ic(a, "rev") {
            dir = Dir::Rev;
        } else if by == RangeBy::Auto && eq_ic(a, "bylex") {
            by = RangeBy::Lex;
        } else if by == RangeBy::Auto && eq_ic(a, "byscore") {
            by = RangeBy::Score;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let rev = dir == Dir::Rev;
    if by == RangeBy::Auto {
        by = RangeBy::Rank;
    }
    if by == RangeBy::Rank && limit != -1 {
        return ctx.out.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && by == RangeBy::Lex {
        return ctx
            .out
            .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut lo, mut hi) = (args.get(at + 1), args.get(at + 2));
    if rev && by != RangeBy::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let spec = match by {
        RangeBy::Score => match parse_score_range(lo, hi) {
            Some(r) => Spec::Score(r),
            None => return ctx.out.error(RANGE_NOT_FLOAT),
        },
        RangeBy::Lex => match parse_lex_range(lo, hi) {
            Some(r) => Spec::Lex(r),
            None => return ctx.out.error(RANGE_NOT_LEX),
        },
        _ => {
            let Some(s) = int_arg(ctx, lo) else { return };
            let Some(e) = int_arg(ctx, hi) else { return };
            Spec::Rank(s, e)
        }
    };
    let pos = match typed_pos::<ZSet>(ctx, args.get(at)) {
        Err(()) => return,
        Ok(s) => s,
    };
    let lim = limits(ctx);
    let (db, out) = ctx.db_out();
    let sel = pos.and_then(|s| {
        let z = db.at_as::<ZSet>(s);
        select(z, &spec, rev, offset, limit).map(|(a, b)| (z, a, b))
    });
    match store {
        None => match sel {
            None => out.array(0),
            Some((z, a, b)) => reply_pairs(out, b - a + 1, z.range(a, b, rev), withscores),
        },
        Some(dst) => {
            let mut nz = ZSet::new_skiplist();
            if let Some((z, a, b)) = sel {
                for (m, s) in z.range(a, b, rev) {
                    nz.insert(m, s);
                }
            }
            fit_encoding(&mut nz, lim);
            store_zset(ctx, dst, nz, "zrangestore");
        }
    }
}

/// Replace `dst` with `z` (deleting it when empty); replies the new size.
pub(super) fn store_zset(ctx: &mut Ctx, dst: &[u8], z: ZSet, event: &str) {
    let n = z.len();
    let db = ctx.dbm();
    if n == 0 {
        if db.remove(dst).is_some() {
            ctx.modified(dst);
            notify(ctx, notify::GENERIC, "del", dst);
        }
    } else {
        db.set(dst, Value::ZSet(Box::new(z)), NO_EXPIRE, false);
        ctx.modified(dst);
        notify(ctx, notify::ZSET, event, dst);
    }
    ctx.out.int(n as i64);
}

fn zrange(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, RangeBy::Auto, Dir::Auto)
}
fn zrangestore(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 2, Some(args.get(1)), RangeBy::Auto, Dir::Auto)
}
fn zrevrange(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, RangeBy::Rank, Dir::Rev)
}
fn zrangebyscore(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, RangeBy::Score, Dir::Fwd)
}
fn zrevrangebyscore(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, RangeBy::Score, Dir::Rev)
}
fn zrangebylex(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, RangeBy::Lex, Dir::Fwd)
}
fn zrevrangebylex(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, RangeBy::Lex, Dir::Rev)
}

// ---- ZREMRANGEBY* ----

fn zremrange(ctx: &mut Ctx, args: Args, by: RangeBy) {
    let (lo, hi) = (args.get(2), args.get(3));
    let spec = match by {
        RangeBy::Score => match parse_score_range(lo, hi) {
            Some(r) => Spec::Score(r),
            None => return ctx.out.error(RANGE_NOT_FLOAT),
        },
        RangeBy::Lex => match parse_lex_range(lo, hi) {
            Some(r) => Spec::Lex(r),
            None => return ctx.out.error(RANGE_NOT_LEX),
        },
        _ => {
            let Some(s) = int_arg(ctx, lo) else { return };
            let Some(e) = int_arg(ctx, hi) else { return };
            Spec::Rank(s, e)
        }
    };
    let key = args.get(1);
    let pos = match typed_pos::<ZSet>(ctx, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.int(0),
        Ok(Some(s)) => s,
    };
    let db = ctx.dbm();
    let z = db.at_as_mut::<ZSet>(pos);
    let n = match select(z, &spec, false, 0, -1) {
        Some((a, b)) => z.remove_ranks(a, b + 1),
        None => 0,
    };
    if z.is_empty() {
        db.remove_pos(pos);
    }
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.modified(key);
        let event = match by {
            RangeBy::Score => "zremrangebyscore",
            RangeBy::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        notify::notify_write(ctx, notify::ZSET, event, key);
    }
}

fn zremrangebyrank(ctx: &mut Ctx, args: Args) {
    zremrange(ctx, args, RangeBy::Rank)
}
fn zremrangebyscore(ctx: &mut Ctx, args: Args) {
    zremrange(ctx, args, RangeBy::Score)
}
fn zremrangebylex(ctx: &mut Ctx, args: Args) {
    zremrange(ctx, args, RangeBy::Lex)
}

// ---- pops ----

/// How a pop replies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PopShape {
    /// ZPOPMIN/ZPOPMAX: flat [m, s, ...]; nested pairs for a COUNT in RESP3.
    Plain { count_given: bool },
    /// BZPOPMIN/BZPOPMAX: [key, m, s].
    KeyFlat,
    /// ZMPOP/BZMPOP: [key, [[m, s], ...]].
    KeyNested,
}

/// Pop up to `count` from the first existing sorted set among `keys`. Ok(false): none
/// exists, nothing was replied; Err: a wrong type was replied.
fn pop_first<'a>(
    ctx: &mut Ctx,
    keys: impl Iterator<Item = &'a [u8]>,
    max: bool,
    count: usize,
    shape: PopShape,
) -> Result<bool, ()> {
    for k in keys {
        if let Some(pos) = typed_pos::<ZSet>(ctx, k)? {
            pop_at(ctx, k, pos, max, count, shape);
            return Ok(true);
        }
    }
    Ok(false)
}

fn pop_at(ctx: &mut Ctx, key: &[u8], pos: usize, max: bool, count: usize, shape: PopShape) {
    if count == 0 {
        return ctx.out.array(0);
    }
    let (db, out) = ctx.db_out();
    let z = db.at_as_mut::<ZSet>(pos);
    let n = count.min(z.len());
    let nested = match shape {
        PopShape::Plain { count_given } => {
            let nested = out.resp3 && count_given;
            out.array(if nested { n } else { n * 2 });
            nested
        }
        PopShape::KeyFlat => {
            out.array(n * 2 + 1);
            out.bulk(key);
            false
        }
        PopShape::KeyNested => {
            out.array(2);
            out.bulk(key);
            out.array(n);
            true
        }
    };
    for _ in 0..n {
        let Some((m, s)) = (if max { z.pop_max() } else { z.pop_min() }) else {
            break;
        };
        if nested {
            out.array(2);
        }
        out.bulk(&m);
        out.double(s);
    }
    if z.is_empty() {
        db.remove_pos(pos);
    }
    // The blocking and multi-key forms propagate as the plain pop they did.
    if ctx.srv.data.prop.on() && !matches!(shape, PopShape::Plain { .. }) {
        let cmd: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        if matches!(shape, PopShape::KeyFlat) {
            ctx.propagate_as(&[cmd, key]);
        } else {
            let n = n.to_string();
            ctx.propagate_as(&[cmd, key, n.as_bytes()]);
        }
    }
    ctx.modified(key);
    let event = if max { "zpopmax" } else { "zpopmin" };
    notify::notify_write(ctx, notify::ZSET, event, key);
}

fn zpop(ctx: &mut Ctx, args: Args, max: bool) {
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let count = if args.len() == 3 {
        match positive_arg(ctx, args.get(2)) {
            Some(n) => Some(n),
            None => return,
        }
    } else {
        None
    };
    let shape = PopShape::Plain {
        count_given: count.is_some(),
    };
    let keys = std::iter::once(args.get(1));
    if let Ok(false) = pop_first(ctx, keys, max, count.unwrap_or(1), shape) {
        ctx.out.array(0);
    }
}

fn zpopmin(ctx: &mut Ctx, args: Args) {
    zpop(ctx, args, false)
}
fn zpopmax(ctx: &mut Ctx, args: Args) {
    zpop(ctx, args, true)
}

/// ZMPOP/BZMPOP arguments: keys are `args[first..first + n]`.
struct Mpop {
    first: usize,
    n: usize,
    max: bool,
    count: usize,
}

/// Parse `numkeys key... MIN|MAX [COUNT n]` with numkeys at `at`; the error is replied.
fn parse_mpop(ctx: &mut Ctx, args: Args, at: usize) -> Option<Mpop> {
    let n = range_arg(ctx, args.get(at), 1, "ERR numkeys should be greater than 0")? as usize;
    let where_at = (at + 1).saturating_add(n);
    if where_at >= args.len() {
        ctx.out.error(SYNTAX);
        return None;
    }
    let w = args.get(where_at);
    let max = if eq_ic(w, "min") {
        false
    } else if eq_ic(w, "max") {
        true
    } else {
        ctx.out.error(SYNTAX);
        return None;
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(args.get(j), "count") && j + 1 < args.len() {
            let c = range_arg(
                ctx,
                args.get(j + 1),
                1,
                "ERR count should be greater than 0",
            )?;
            count = Some(c as usize);
            j += 2;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
    }
    Some(Mpop {
        first: at + 1,
        n,
        max,
        count: count.unwrap_or(1),
    })
}

fn zmpop(ctx: &mut Ctx, args: Args) {
    let Some(p) = parse_mpop(ctx, args, 1) else {
        return;
    };
    let keys = (p.first..p.first + p.n).map(|i| args.get(i));
    if let Ok(false) = pop_first(ctx, keys, p.max, p.count, PopShape::KeyNested) {
        ctx.out.null_array();
    }
}

/// Pop now, or park the client on `keys` until one of them gets members.
fn pop_or_block<'a>(
    ctx: &mut Ctx,
    args: Args<'a>,
    keys: impl Iterator<Item = &'a [u8]> + Clone,
    deadline: i64,
    (max, count, shape): (bool, usize, PopShape),
) {
    match pop_first(ctx, keys.clone(), max, count, shape) {
        Ok(true) | Err(()) => {}
        Ok(false) if !blocking::may_block(ctx) => ctx.out.null_array(),
        Ok(false) => blocking::block(
            ctx,
            args,
            keys,
            deadline,
            retry_bpop,
            TimeoutReply::NullArray,
        ),
    }
}

fn bzpop(ctx: &mut Ctx, args: Args, max: bool) {
    let Some(deadline) = blocking::parse_timeout(ctx, args.get(args.len() - 1)) else {
        return;
    };
    let keys = (1..args.len() - 1).map(|i| args.get(i));
    pop_or_block(ctx, args, keys, deadline, (max, 1, PopShape::KeyFlat));
}

fn bzpopmin(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, false)
}
fn bzpopmax(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, true)
}

fn bzmpop(ctx: &mut Ctx, args: Args) {
    let Some(p) = parse_mpop(ctx, args, 2) else {
        return;
    };
    let Some(deadline) = blocking::parse_timeout(ctx, args.get(1)) else {
        return;
    };
    let keys = (p.first..p.first + p.n).map(|i| args.get(i));
    pop_or_block(
        ctx,
        args,
        keys,
        deadline,
        (p.max, p.count, PopShape::KeyNested),
    );
}

/// Serve a waiting BZPOPMIN/BZPOPMAX/BZMPOP from the key that became ready.
fn retry_bpop(ctx: &mut Ctx, args: Args, key: &[u8]) -> bool {
    let (max, count, shape) = if eq_ic(args.get(0), "bzmpop") {
        // Parsed fine when the client blocked; a scratch reply keeps this silent anyway.
        let mut scratch = Reply::default();
        let mut tmp = Ctx {
            srv: ctx.srv,
            out: &mut scratch,
            id: ctx.id,
            db: ctx.db,
        };
        match parse_mpop(&mut tmp, args, 2) {
            Some(p) => (p.max, p.count, PopShape::KeyNested),
            None => return false,
        }
    } else {
        (eq_ic(args.get(0), "bzpopmax"), 1, PopShape::KeyFlat)
    };
    match ctx.dbm().typed_pos::<ZSet>(key) {
        Ok(Some(pos)) => {
            pop_at(ctx, key, pos, max, count, shape);
            true
        }
        _ => false,
    }
}

// ---- ZUNION / ZINTER / ZDIFF ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Agg {
    Sum,
    Min,
    Max,
}

fn aggregate(agg: Agg, acc: &mut f64, v: f64) {
    match agg {
        Agg::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Agg::Min => *acc = acc.min(v),
        Agg::Max => *acc = acc.max(v),
    }
}

/// An input of ZUNION & co: a sorted set, or a set whose members score 1.
enum Src<'a> {
    Z(&'a ZSet),
    S(&'a Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }
    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }
    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.for_each(|m| f(m, 1.0)),
        }
    }
}

fn src_at(db: &Db, pos: usize) -> Src<'_> {
    match db.at(pos).map(|e| e.val()) {
        Some(ValRef::ZSet(z)) => Src::Z(z),
        Some(ValRef::Set(s)) => Src::S(s),
        _ => unreachable!("position checked to hold a set or zset"),
    }
}

/// Parse and compute; returns the result set and whether WITHSCORES was given, or None
/// after replying an error. `dst_form`: the STORE variant; `card`: ZINTERCARD.
fn zsetop(
    ctx: &mut Ctx,
    args: Args,
    at: usize,
    op: Op,
    dst_form: bool,
    card: bool,
) -> Option<(ZSet, bool)> {
    let n = match parse_i64(args.get(at)) {
        Some(n) => n,
        None => {
            ctx.out.error(NOT_INT);
            return None;
        }
    };
    if n < 1 {
        let name = ctx
            .srv
            .cmds
            .lookup(args.get(0))
            .map(|id| ctx.srv.cmds.entries[id].full_name.clone());
        ctx.out.error(&format!(
            "ERR at least 1 input key is needed for '{}' command",
            name.unwrap_or_default()
        ));
        return None;
    }
    let n = n as usize;
    if n > args.len() - at - 1 {
        ctx.out.error(SYNTAX);
        return None;
    }
    let mut cells = Vec::with_capacity(n);
    for i in 0..n {
        // A source may be a sorted set or a plain set (its members scored 1).
        let (db, key) = (ctx.dbm(), args.get(at + 1 + i));
        match db
            .typed_pos::<ZSet>(key)
            .or_else(|()| db.typed_pos::<Set>(key))
        {
            Ok(s) => cells.push(s),
            Err(()) => {
                ctx.out.error(WRONGTYPE);
                return None;
            }
        }
    }
    let mut weights = vec![1.0f64; n];
    let (mut agg, mut withscores, mut limit) = (Agg::Sum, false, 0usize);
    let mut j = at + 1 + n;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j;
        if op != Op::Diff && !card && left > n && eq_ic(a, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                match parse_f64(args.get(j + 1 + i)) {
                    Some(v) => *w = v,
                    None => {
                        ctx.out.error("ERR weight value is not a float");
                        return None;
                    }
                }
            }
            j += 1 + n;
        } else if op != Op::Diff && !card && left >= 2 && eq_ic(a, "aggregate") {
            let v = args.get(j + 1);
            agg = if eq_ic(v, "sum") {
                Agg::Sum
            } else if eq_ic(v, "min") {
                Agg::Min
            } else if eq_ic(v, "max") {
                Agg::Max
            } else {
                ctx.out.error(SYNTAX);
                return None;
            };
            j += 2;
        } else if !dst_form && !card && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && left >= 2 && eq_ic(a, "limit") {
            limit = range_arg(ctx, args.get(j + 1), 0, "ERR LIMIT can't be negative")? as usize;
            j += 2;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
    }
    let db = ctx.dbm();
    let mut srcs: Vec<(Option<Src>, f64)> = cells
        .iter()
        .zip(&weights)
        .map(|(s, &w)| (s.map(|s| src_at(db, s)), w))
        .collect();
    let mut acc: Dict<f64> = Dict::new();
    let weigh = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    match op {
        Op::Union => {
            for (src, w) in srcs.iter().filter_map(|(s, w)| s.as_ref().map(|s| (s, *w))) {
                src.for_each(|m, s| {
                    let v = weigh(s, w);
                    match acc.get_mut(m) {
                        Some(a) => aggregate(agg, a, v),
                        None => {
                            acc.insert_new(m.into(), v);
                        }
                    }
                });
            }
        }
        Op::Inter => {
            if srcs
                .iter()
                .all(|(s, _)| s.as_ref().is_some_and(|s| s.len() > 0))
            {
                srcs.sort_by_key(|(s, _)| s.as_ref().map_or(0, |s| s.len()));
                let (first, w0) = (&srcs[0].0, srcs[0].1);
                if let Some(first) = first {
                    first.for_each(|m, s| {
                        if limit > 0 && acc.len() >= limit {
                            return;
                        }
                        let mut v = weigh(s, w0);
                        for (other, w) in &srcs[1..] {
                            match other.as_ref().and_then(|o| o.score(m)) {
                                Some(os) => aggregate(agg, &mut v, weigh(os, *w)),
                                None => return,
                            }
                        }
                        acc.insert_new(m.into(), v);
                    });
                }
            }
        }
        Op::Diff => {
            if let Some(first) = &srcs[0].0 {
                first.for_each(|m, s| {
                    if !srcs[1..]
                        .iter()
                        .any(|(o, _)| o.as_ref().is_some_and(|o| o.score(m).is_some()))
                    {
                        acc.insert_new(m.into(), s);
                    }
                });
            }
        }
    }
    let mut z = ZSet::new_skiplist();
    if card {
        // Only the size matters: skip building the order.
        ctx.out.int(acc.len() as i64);
        return None;
    }
    for (m, &s) in acc.iter() {
        z.insert(m, s);
    }
    Some((z, withscores))
}

fn zsetop_reply(ctx: &mut Ctx, args: Args, op: Op) {
    if let Some((z, withscores)) = zsetop(ctx, args, 1, op, false, false) {
        reply_pairs(ctx.out, z.len(), z.iter(), withscores);
    }
}

fn zsetop_store(ctx: &mut Ctx, args: Args, op: Op) {
    if let Some((mut z, _)) = zsetop(ctx, args, 2, op, true, false) {
        fit_encoding(&mut z, limits(ctx));
        let event = match op {
            Op::Union => "zunionstore",
            Op::Inter => "zinterstore",
            Op::Diff => "zdiffstore",
        };
        store_zset(ctx, args.get(1), z, event);
    }
}

fn zunion(ctx: &mut Ctx, args: Args) {
    zsetop_reply(ctx, args, Op::Union)
}
fn zinter(ctx: &mut Ctx, args: Args) {
    zsetop_reply(ctx, args, Op::Inter)
}
fn zdiff(ctx: &mut Ctx, args: Args) {
    zsetop_reply(ctx, args, Op::Diff)
}
fn zunionstore(ctx: &mut Ctx, args: Args) {
    zsetop_store(ctx, args, Op::Union)
}
fn zinterstore(ctx: &mut Ctx, args: Args) {
    zsetop_store(ctx, args, Op::Inter)
}
fn zdiffstore(ctx: &mut Ctx, args: Args) {
    zsetop_store(ctx, args, Op::Diff)
}
fn zintercard(ctx: &mut Ctx, args: Args) {
    zsetop(ctx, args, 1, Op::Inter, false, true);
}

// ---- ZRANDMEMBER / ZSCAN ----

fn zrandmember(ctx: &mut Ctx, args: Args) {
    if args.len() < 3 {
        return with_zset(
            ctx,
            args.get(1),
            |o| o.null(),
            |z, o| match z.random() {
                Some((m, _)) => o.bulk(m),
                None => o.null(),
            },
        );
    }
    let l = match parse_i64(args.get(2)) {
        Some(n) if n > i64::MIN => n,
        Some(_) => {
            return ctx.out.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )
        }
        None => return ctx.out.error(NOT_INT),
    };
    if args.len() > 4 || (args.len() == 4 && !eq_ic(args.get(3), "withscores")) {
        return ctx.out.error(SYNTAX);
    }
    let withscores = args.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return ctx.out.error("ERR value is out of range");
    }
    let pos = match typed_pos::<ZSet>(ctx, args.get(1)) {
        Err(()) => return,
        Ok(None) => return ctx.out.array(0),
        Ok(Some(s)) => s,
    };
    if l == 0 {
        return ctx.out.array(0);
    }
    let (db, out) = ctx.db_out();
    let z = db.at_as::<ZSet>(pos);
    if l < 0 {
        let n = l.unsigned_abs() as usize;
        let picks = (0..n).filter_map(|_| z.random());
        return reply_pairs(out, n, picks, withscores);
    }
    let n = l as usize;
    if n >= z.len() {
        return reply_pairs(out, z.len(), z.iter(), withscores);
    }
    // Distinct members: a partial Fisher-Yates shuffle over ranks.
    let mut ranks: Vec<usize> = (0..z.len()).collect();
    let mut rng = rand::thread_rng();
    for i in 0..n {
        let j = rng.gen_range(i..ranks.len());
        ranks.swap(i, j);
    }
    let picks = ranks[..n]
        .iter()
        .filter_map(|&r| z.range(r, r, false).next());
    reply_pairs(out, n, picks, withscores);
}

fn zscan(ctx: &mut Ctx, args: Args) {
    if super::keys::cursor_arg(ctx, args.get(2)).is_none() {
        return;
    }
    let pos = match typed_pos::<ZSet>(ctx, args.get(1)) {
        Err(()) => return,
        Ok(None) => return scan_reply(ctx.out, 0, &[]),
        Ok(Some(s)) => s,
    };
    let Some(o) = super::keys::parse_scan(ctx, args, 2, false) else {
        return;
    };
    let (db, out) = ctx.db_out();
    let z = db.at_as::<ZSet>(pos);
    let mut items: Vec<Cow<[u8]>> = Vec::new();
    let keep = |m: &[u8], s: f64| {
        if o.matches(m) {
            items.push(Cow::Owned(m.to_vec()));
            items.push(Cow::Owned(crate::util::fmt_double(s).into_bytes()));
        }
    };
    // A listpack-encoded set is returned whole in order, as Redis does.
    let next = z.scan(o.cursor, o.count, keep);
    scan_reply(out, next, &items);
}
