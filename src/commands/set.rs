//! Set commands.
use super::*;
use crate::keyspace::{Dict, Value};

pub static COMMANDS: &[Command] = &[
    cmd("sadd", -3, WRITE | DENYOOM | FAST, SET, (1, 1, 1), sadd),
    cmd("spop", -2, WRITE | FAST, SET, (1, 1, 1), spop),
    cmd("scard", 2, READONLY | FAST, SET, (1, 1, 1), scard),
];

fn sadd(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let slot = match db.find(key) {
        Some(s) => s,
        None => db.insert_new(key, Value::Set(Dict::new())),
    };
    let Some((_, e)) = db.dict.at_mut(slot) else {
        return;
    };
    let Value::Set(s) = &mut e.val else {
        return out.error(WRONGTYPE);
    };
    let mut added = 0;
    for m in args.iter().skip(2) {
        if s.insert(m, ()).is_none() {
            added += 1;
        }
    }
    out.int(added);
    ctx.modified(key);
    if added > 0 {
        crate::notify::notify(ctx, crate::notify::SET, "sadd", key);
    }
}

fn spop(ctx: &mut Ctx, args: Args) {
    if args.len() > 2 {
        return ctx.out.error(SYNTAX);
    }
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let Some(slot) = db.find(key) else {
        return out.null();
    };
    let Some((_, e)) = db.dict.at_mut(slot) else {
        return;
    };
    let Value::Set(s) = &mut e.val else {
        return out.error(WRONGTYPE);
    };
    if let Some(i) = s.random_slot() {
        if let Some((m, _)) = s.remove_slot(i) {
            out.bulk(&m);
        }
    }
    if s.is_empty() {
        db.remove_slot(slot);
    }
    ctx.modified(key);
    crate::notify::notify_write(ctx, crate::notify::SET, "spop", key);
}

fn scard(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)).map(|e| &e.val) {
        None => out.int(0),
        Some(Value::Set(s)) => out.int(s.len() as i64),
        Some(_) => out.error(WRONGTYPE),
    }
}
