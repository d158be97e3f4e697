//! Sorted set commands.
use super::*;
use crate::keyspace::Value;

pub static COMMANDS: &[Command] = &[
    cmd(
        "zadd",
        -4,
        WRITE | DENYOOM | FAST,
        SORTEDSET,
        (1, 1, 1),
        zadd,
    ),
    cmd("zpopmin", -2, WRITE | FAST, SORTEDSET, (1, 1, 1), zpopmin),
    cmd("zcard", 2, READONLY | FAST, SORTEDSET, (1, 1, 1), zcard),
    cmd("zscore", 3, READONLY | FAST, SORTEDSET, (1, 1, 1), zscore),
];

fn zadd(ctx: &mut Ctx, args: Args) {
    if !args.len().is_multiple_of(2) {
        return ctx.out.error(SYNTAX);
    }
    let mut pairs = Vec::with_capacity((args.len() - 2) / 2);
    for i in (2..args.len()).step_by(2) {
        let Some(score) = crate::util::parse_f64(args.get(i)) else {
            return ctx.out.error(NOT_FLOAT);
        };
        pairs.push((score, args.get(i + 1)));
    }
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let slot = match db.find(key) {
        Some(s) => s,
        None => db.insert_new(key, Value::ZSet(Box::default())),
    };
    let Some((_, e)) = db.dict.at_mut(slot) else {
        return;
    };
    let Value::ZSet(z) = &mut e.val else {
        return out.error(WRONGTYPE);
    };
    let mut added = 0;
    for (score, m) in pairs {
        if z.insert(m, score) {
            added += 1;
        }
    }
    out.int(added);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::ZSET, "zadd", key);
}

fn zpopmin(ctx: &mut Ctx, args: Args) {
    let count = if args.len() == 3 {
        match crate::util::parse_i64(args.get(2)) {
            Some(n) if n >= 0 => n as usize,
            _ => return ctx.out.error("ERR value is out of range, must be positive"),
        }
    } else {
        1
    };
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let Some(slot) = db.find(key) else {
        return out.array(0);
    };
    let Some((_, e)) = db.dict.at_mut(slot) else {
        return;
    };
    let Value::ZSet(z) = &mut e.val else {
        return out.error(WRONGTYPE);
    };
    let n = count.min(z.len());
    if out.resp3 && args.len() == 3 {
        out.array(n);
    } else {
        out.array(n * 2);
    }
    for _ in 0..n {
        if let Some((m, s)) = z.pop_min() {
            if out.resp3 && args.len() == 3 {
                out.array(2);
            }
            out.bulk(&m);
            out.double(s);
        }
    }
    if z.is_empty() {
        db.remove_slot(slot);
    }
    ctx.modified(key);
    crate::notify::notify_write(ctx, crate::notify::ZSET, "zpopmin", key);
}

fn zcard(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)).map(|e| &e.val) {
        None => out.int(0),
        Some(Value::ZSet(z)) => out.int(z.len() as i64),
        Some(_) => out.error(WRONGTYPE),
    }
}

fn zscore(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)).map(|e| &e.val) {
        None => out.null(),
        Some(Value::ZSet(z)) => match z.score(args.get(2)) {
            Some(s) => out.double(s),
            None => out.null(),
        },
        Some(_) => out.error(WRONGTYPE),
    }
}
