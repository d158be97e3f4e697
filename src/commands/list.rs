//! List commands.
use super::*;
use crate::keyspace::Value;
use std::collections::VecDeque;

pub static COMMANDS: &[Command] = &[
    cmd("lpush", -3, WRITE | DENYOOM | FAST, LIST, (1, 1, 1), lpush),
    cmd("rpush", -3, WRITE | DENYOOM | FAST, LIST, (1, 1, 1), rpush),
    cmd("lpop", -2, WRITE | FAST, LIST, (1, 1, 1), lpop),
    cmd("rpop", -2, WRITE | FAST, LIST, (1, 1, 1), rpop),
    cmd("llen", 2, READONLY | FAST, LIST, (1, 1, 1), llen),
    cmd("lrange", 4, READONLY, LIST, (1, 1, 1), lrange),
];

fn push(ctx: &mut Ctx, args: Args, left: bool) {
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let slot = match db.find(key) {
        Some(s) => s,
        None => db.insert_new(key, Value::List(VecDeque::new())),
    };
    let Some((_, e)) = db.dict.at_mut(slot) else {
        return;
    };
    let Value::List(l) = &mut e.val else {
        return out.error(WRONGTYPE);
    };
    for v in args.iter().skip(2) {
        if left {
            l.push_front(v.into());
        } else {
            l.push_back(v.into());
        }
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
    push(ctx, args, true)
}
fn rpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, false)
}

fn pop(ctx: &mut Ctx, args: Args, left: bool) {
    let key = args.get(1);
    let count = if args.len() == 3 {
        match crate::util::parse_i64(args.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.out.error("ERR value is out of range, must be positive"),
        }
    } else if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    } else {
        None
    };
    let (db, out) = ctx.db_out();
    let Some(slot) = db.find(key) else {
        return if count.is_some() {
            out.null_array()
        } else {
            out.null()
        };
    };
    let Some((_, e)) = db.dict.at_mut(slot) else {
        return;
    };
    let Value::List(l) = &mut e.val else {
        return out.error(WRONGTYPE);
    };
    match count {
        None => {
            let v = if left { l.pop_front() } else { l.pop_back() };
            match v {
                Some(v) => out.bulk(&v),
                None => out.null(),
            }
        }
        Some(n) => {
            let n = n.min(l.len());
            out.array(n);
            for _ in 0..n {
                let v = if left { l.pop_front() } else { l.pop_back() };
                if let Some(v) = v {
                    out.bulk(&v);
                }
            }
        }
    }
    let empty = l.is_empty();
    if empty {
        db.remove_slot(slot);
    }
    ctx.modified(key);
    crate::notify::notify_write(
        ctx,
        crate::notify::LIST,
        if left { "lpop" } else { "rpop" },
        key,
    );
}

fn lpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, true)
}
fn rpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, false)
}

fn llen(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)).map(|e| &e.val) {
        None => out.int(0),
        Some(Value::List(l)) => out.int(l.len() as i64),
        Some(_) => out.error(WRONGTYPE),
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
    let l = match db.get(args.get(1)).map(|e| &e.val) {
        None => return out.array(0),
        Some(Value::List(l)) => l,
        Some(_) => return out.error(WRONGTYPE),
    };
    let len = l.len() as i64;
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let e = if end < 0 { len + end } else { end.min(len - 1) };
    if s > e || s >= len {
        return out.array(0);
    }
    out.array((e - s + 1) as usize);
    for v in l.range(s as usize..=e as usize) {
        out.bulk(v);
    }
}
