//! String commands.
use super::*;
use crate::keyspace::{Value, NO_EXPIRE};
use crate::util::{eq_ic, now_ms, parse_i64};

pub static COMMANDS: &[Command] = &[
    cmd("get", 2, READONLY | FAST, STRING, (1, 1, 1), get),
    cmd("set", -3, WRITE | DENYOOM, STRING, (1, 1, 1), set),
    cmd("incr", 2, WRITE | DENYOOM | FAST, STRING, (1, 1, 1), incr),
    cmd("decr", 2, WRITE | DENYOOM | FAST, STRING, (1, 1, 1), decr),
    cmd(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        STRING,
        (1, 1, 1),
        incrby,
    ),
    cmd(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        STRING,
        (1, 1, 1),
        decrby,
    ),
    cmd("mget", -2, READONLY | FAST, STRING, (1, -1, 1), mget),
    cmd("mset", -3, WRITE | DENYOOM, STRING, (1, -1, 2), mset),
    cmd(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        STRING,
        (1, 1, 1),
        append,
    ),
    cmd("strlen", 2, READONLY | FAST, STRING, (1, 1, 1), strlen),
];

fn get(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    let found = match db.get(args.get(1)) {
        None => {
            out.null();
            false
        }
        Some(e) => {
            match &e.val {
                Value::Str(s) => out.bulk(s),
                Value::Int(n) => out.bulk_int(*n),
                _ => out.error(WRONGTYPE),
            }
            true
        }
    };
    ctx.hit(found);
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
fn set(ctx: &mut Ctx, args: Args) {
    let (mut nx, mut xx, mut get_old, mut keep_ttl) = (false, false, false, false);
    let mut expire = NO_EXPIRE;
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        if eq_ic(a, "nx") && !xx {
            nx = true;
        } else if eq_ic(a, "xx") && !nx {
            xx = true;
        } else if eq_ic(a, "get") {
            get_old = true;
        } else if eq_ic(a, "keepttl") && expire == NO_EXPIRE {
            keep_ttl = true;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && expire == NO_EXPIRE
            && !keep_ttl
            && next.is_some()
        {
            let Some(n) = next.and_then(parse_i64) else {
                return ctx.out.error(NOT_INT);
            };
            if n <= 0 {
                return ctx.out.error("ERR invalid expire time in 'set' command");
            }
            let at = if eq_ic(a, "ex") {
                n.checked_mul(1000).and_then(|ms| ms.checked_add(now_ms()))
            } else if eq_ic(a, "px") {
                n.checked_add(now_ms())
            } else if eq_ic(a, "exat") {
                n.checked_mul(1000)
            } else {
                Some(n)
            };
            let Some(at) = at else {
                return ctx.out.error("ERR invalid expire time in 'set' command");
            };
            expire = at;
            i += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 1;
    }
    let key = args.get(1);
    let (db, out) = ctx.db_out();
    let existing = db.get(key);
    if get_old {
        match existing {
            None => out.null(),
            Some(e) => match &e.val {
                Value::Str(s) => out.bulk(s),
                Value::Int(n) => out.bulk_int(*n),
                _ => return out.error(WRONGTYPE),
            },
        }
    }
    let exists = existing.is_some();
    if (nx && exists) || (xx && !exists) {
        if !get_old {
            out.null();
        }
        return;
    }
    db.set(key, Value::from_bytes(args.get(2)), expire, keep_ttl);
    if !get_old {
        out.ok();
    }
    ctx.modified(key);
    crate::notify::set_events(ctx, key, !exists, expire != NO_EXPIRE);
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) {
    let (db, out) = ctx.db_out();
    let new = match db.get_mut(key) {
        None => {
            db.set(key, Value::Int(by), NO_EXPIRE, false);
            by
        }
        Some(e) => {
            let cur = match &e.val {
                Value::Int(n) => *n,
                Value::Str(s) => match parse_i64(s) {
                    Some(n) => n,
                    None => return out.error(NOT_INT),
                },
                _ => return out.error(WRONGTYPE),
            };
            let Some(n) = cur.checked_add(by) else {
                return out.error("ERR increment or decrement would overflow");
            };
            e.val = Value::Int(n);
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

fn mget(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    out.array(args.len() - 1);
    for k in args.iter().skip(1) {
        match db.get(k).map(|e| &e.val) {
            Some(Value::Str(s)) => out.bulk(s),
            Some(Value::Int(n)) => out.bulk_int(*n),
            _ => out.null(),
        }
    }
}

fn mset(ctx: &mut Ctx, args: Args) {
    if args.len() % 2 != 1 {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'mset' command");
    }
    for i in (1..args.len()).step_by(2) {
        ctx.dbm().set(
            args.get(i),
            Value::from_bytes(args.get(i + 1)),
            NO_EXPIRE,
            false,
        );
        ctx.modified(args.get(i));
        crate::notify::notify(ctx, crate::notify::STRING, "set", args.get(i));
    }
    ctx.out.ok();
}

fn append(ctx: &mut Ctx, args: Args) {
    let (key, add) = (args.get(1), args.get(2));
    let max = ctx.srv.cfg.proto_max_bulk_len as usize;
    let (db, out) = ctx.db_out();
    let len = match db.get_mut(key) {
        None => {
            db.set(key, Value::Str(add.to_vec()), NO_EXPIRE, false);
            add.len()
        }
        Some(e) => {
            let mut tmp = itoa::Buffer::new();
            let Some(cur) = e.val.str_bytes(&mut tmp) else {
                return out.error(WRONGTYPE);
            };
            if cur.len() + add.len() > max {
                return out.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
            }
            if let Value::Int(_) = e.val {
                let s = cur.to_vec();
                e.val = Value::Str(s);
            }
            let Value::Str(s) = &mut e.val else {
                unreachable!("converted to Str above")
            };
            s.extend_from_slice(add);
            s.len()
        }
    };
    out.int(len as i64);
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::STRING, "append", key);
}

fn strlen(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)).map(|e| &e.val) {
        None => out.int(0),
        Some(Value::Str(s)) => out.int(s.len() as i64),
        Some(Value::Int(n)) => out.int(itoa::Buffer::new().format(*n).len() as i64),
        Some(_) => out.error(WRONGTYPE),
    }
}
