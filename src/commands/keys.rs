//! Generic key commands.
use super::*;
use crate::keyspace::Value;

pub static COMMANDS: &[Command] = &[
    cmd("del", -2, WRITE, KEYSPACE, (1, -1, 1), del),
    cmd("exists", -2, READONLY | FAST, KEYSPACE, (1, -1, 1), exists),
    cmd("type", 2, READONLY | FAST, KEYSPACE, (1, 1, 1), type_cmd),
];

fn del(ctx: &mut Ctx, args: Args) {
    let mut n = 0;
    for k in args.iter().skip(1) {
        if ctx.dbm().find(k).is_some() && ctx.dbm().remove(k).is_some() {
            n += 1;
            ctx.modified(k);
            crate::notify::notify(ctx, crate::notify::GENERIC, "del", k);
        }
    }
    ctx.out.int(n);
}

fn exists(ctx: &mut Ctx, args: Args) {
    let mut n = 0;
    for k in args.iter().skip(1) {
        if ctx.dbm().exists(k) {
            n += 1;
        }
    }
    ctx.out.int(n);
}

fn type_cmd(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)) {
        Some(e) => out.simple(e.val.type_name()),
        None => out.simple("none"),
    }
}

/// OBJECT ENCODING's name for a value, following Redis's thresholds.
pub fn encoding_name(v: &Value, cfg: &crate::config::Config) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Str(s) if s.len() <= 44 => "embstr",
        Value::Str(_) => "raw",
        Value::List(l) => {
            if (l.len() as i64) < 128 && l.iter().all(|e| e.len() <= 64) {
                "listpack"
            } else {
                "quicklist"
            }
        }
        Value::Hash(h) => {
            if h.len() as i64 <= cfg.hash_max_listpack_entries
                && h.iter().all(|(k, v)| {
                    k.len() as i64 <= cfg.hash_max_listpack_value
                        && v.len() as i64 <= cfg.hash_max_listpack_value
                })
            {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::Set(s) => {
            if s.len() as i64 <= cfg.set_max_intset_entries
                && s.keys().all(|k| crate::util::parse_i64(k).is_some())
            {
                "intset"
            } else if s.len() <= 128 && s.keys().all(|k| k.len() <= 64) {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::ZSet(z) => {
            if z.len() as i64 <= cfg.zset_max_listpack_entries
                && z.max_member_len() as i64 <= cfg.zset_max_listpack_value
            {
                "listpack"
            } else {
                "skiplist"
            }
        }
    }
}
