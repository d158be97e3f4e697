//! Hash commands.
use super::*;
use crate::keyspace::{Dict, Value};

pub static COMMANDS: &[Command] = &[
    cmd("hset", -4, WRITE | DENYOOM | FAST, HASH, (1, 1, 1), hset),
    cmd("hget", 3, READONLY | FAST, HASH, (1, 1, 1), hget),
];

fn hset(ctx: &mut Ctx, args: Args) {
    if !args.len().is_multiple_of(2) {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'hset' command");
    }
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let slot = match db.find(key) {
        Some(s) => s,
        None => db.insert_new(key, Value::Hash(Dict::new())),
    };
    let Some((_, e)) = db.dict.at_mut(slot) else {
        return;
    };
    let Value::Hash(h) = &mut e.val else {
        return out.error(WRONGTYPE);
    };
    let mut added = 0;
    for i in (2..args.len()).step_by(2) {
        if h.insert(args.get(i), args.get(i + 1).into()).is_none() {
            added += 1;
        }
    }
    out.int(added);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::HASH, "hset", key);
}

fn hget(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)).map(|e| &e.val) {
        None => out.null(),
        Some(Value::Hash(h)) => match h.get(args.get(2)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        },
        Some(_) => out.error(WRONGTYPE),
    }
}
