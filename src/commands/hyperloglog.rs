//! HyperLogLog commands: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST over sketches stored
//! as string values in Redis's format (see `types::hll`).
use super::*;
use crate::keyspace::{Entry, Str, ValRef, Value};
use crate::notify::{self, notify};
use crate::types::hll::{self, Corrupt};
use crate::util::eq_ic;

pub static COMMANDS: &[Command] = &[
    cmd("pfadd", -2, WRITE | DENYOOM | FAST, HYPERLOGLOG, pfadd),
    cmd(
        "pfcount",
        -2,
        READONLY | MAY_REPLICATE,
        HYPERLOGLOG,
        pfcount,
    ),
    cmd("pfmerge", -2, WRITE | DENYOOM, HYPERLOGLOG, pfmerge),
    cmd("pfdebug", 3, WRITE | DENYOOM | ADMIN, HYPERLOGLOG, pfdebug),
    cmd("pfselftest", 1, ADMIN, HYPERLOGLOG, pfselftest),
];

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The sketch at `key`: Ok(None) if missing, Err(()) after replying that it is not one.
fn sketch<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut Entry>, ()> {
    let (db, out) = ctx.db_out();
    let Some(e) = db.get_mut(key) else {
        return Ok(None);
    };
    match e.val() {
        ValRef::Str(s) if hll::is_hll(s) => Ok(Some(e)),
        // A string that is not a sketch has its own message; other types the usual one.
        ValRef::Str(_) | ValRef::Int(_) => {
            out.error(NOT_HLL);
            Err(())
        }
        _ => {
            out.error(WRONGTYPE);
            Err(())
        }
    }
}

/// A sketch's bytes (the entry was checked to hold one).
fn sk(e: &Entry) -> &[u8] {
    match e.val() {
        ValRef::Str(b) => b,
        _ => b"",
    }
}

/// The sketch at `key`, created empty (second value true) when missing; Err(()) after
/// replying that the key holds something else.
fn sketch_or_new<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<(&'a mut Entry, bool), ()> {
    let created = sketch(ctx, key)?.is_none();
    let db = ctx.dbm();
    let pos = match created {
        true => db.insert_new(key, Value::Str(Str::raw(hll::new_sparse()))),
        false => db.find(key).expect("the sketch was just read"),
    };
    Ok((db.at_mut(pos).expect("slot holds the sketch"), created))
}

fn sparse_max(ctx: &Ctx) -> usize {
    ctx.srv.cfg.hll_sparse_max_bytes.max(0) as usize
}

fn pfadd(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let max = sparse_max(ctx);
    let Ok((s, created)) = sketch_or_new(ctx, key) else {
        return;
    };
    // A dense sketch keeps its size: its registers change in place, without a copy.
    let added = if hll::encoding(sk(s)) == hll::DENSE {
        let bytes = s.str_mut().expect("a sketch is a string");
        Ok(hll::add_dense(bytes, args.iter().skip(2)))
    } else {
        s.modify_str(|b| hll::add(b, args.iter().skip(2), max))
    };
    match added {
        Err(Corrupt) => ctx.out.error(CORRUPT),
        Ok(changed) => {
            let updated = created || changed;
            ctx.out.int(updated as i64);
            if updated {
                ctx.modified(key);
                notify(ctx, notify::STRING, "pfadd", key);
            }
        }
    }
}

fn pfcount(ctx: &mut Ctx, args: Args) {
    if args.len() == 2 {
        return pfcount_one(ctx, args.get(1));
    }
    // Several keys: the estimate of their union; no cache is read or written.
    let mut raw = Box::new([0u8; hll::REGISTERS]);
    for key in args.iter().skip(1) {
        match sketch(ctx, key) {
            Err(()) => return,
            Ok(None) => {}
            Ok(Some(s)) => {
                if hll::max_into(&mut raw, sk(s)).is_err() {
                    return ctx.out.error(CORRUPT);
                }
            }
        }
    }
    ctx.out.int(hll::count_raw(&raw) as i64);
}

fn pfcount_one(ctx: &mut Ctx, key: &[u8]) {
    let s = match sketch(ctx, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.int(0),
        Ok(Some(s)) => s,
    };
    if let Some(card) = hll::cached(sk(s)) {
        return ctx.out.int(card as i64);
    }
    let card = match hll::count(sk(s)) {
        Ok(c) => c,
        Err(Corrupt) => return ctx.out.error(CORRUPT),
    };
    hll::set_cached(s.str_mut().expect("a sketch is a string"), card);
    ctx.out.int(card as i64);
    // The cache is part of the string: a write as far as WATCH and the dirty count go.
    ctx.modified(key);
}

fn pfmerge(ctx: &mut Ctx, args: Args) {
    let dst = args.get(1);
    let mut raw = Box::new([0u8; hll::REGISTERS]);
    let mut dense = false;
    // The destination is one of the inputs.
    for key in args.iter().skip(1) {
        match sketch(ctx, key) {
            Err(()) => return,
            Ok(None) => {}
            Ok(Some(s)) => {
                dense |= hll::encoding(sk(s)) == hll::DENSE;
                if hll::max_into(&mut raw, sk(s)).is_err() {
                    return ctx.out.error(CORRUPT);
                }
            }
        }
    }
    let max = sparse_max(ctx);
    // The destination was checked with the inputs.
    if let Ok((s, _)) = sketch_or_new(ctx, dst) {
        s.modify_str(|b| hll::store(b, &raw, !dense, max));
    }
    ctx.out.ok();
    ctx.modified(dst);
    notify(ctx, notify::STRING, "pfadd", dst);
}

fn pfdebug(ctx: &mut Ctx, args: Args) {
    let (sub, key) = (args.get(1), args.get(2));
    let s = match sketch(ctx, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.error("ERR The specified key does not exist"),
        Ok(Some(s)) => s,
    };
    if eq_ic(sub, "getreg") || eq_ic(sub, "todense") {
        let converted = hll::encoding(sk(s)) == hll::SPARSE;
        if converted && s.modify_str(hll::to_dense).is_err() {
            return ctx.out.error(CORRUPT);
        }
        if eq_ic(sub, "getreg") {
            let regs = hll::registers(sk(s)).unwrap_or_else(|_| Box::new([0; hll::REGISTERS]));
            ctx.out.array(hll::REGISTERS);
            for r in regs.iter() {
                ctx.out.int(*r as i64);
            }
        } else {
            ctx.out.int(converted as i64);
        }
        if converted {
            ctx.srv.data.dirty += 1;
        }
    } else if eq_ic(sub, "decode") {
        if hll::encoding(sk(s)) != hll::SPARSE {
            return ctx.out.error("ERR HLL encoding is not sparse");
        }
        let text = hll::decode_text(sk(s));
        ctx.out.bulk(text.as_bytes());
    } else if eq_ic(sub, "encoding") {
        let enc = if hll::encoding(sk(s)) == hll::DENSE {
            "dense"
        } else {
            "sparse"
        };
        ctx.out.simple(enc);
    } else {
        ctx.out.error(&format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        ));
    }
}

fn pfselftest(ctx: &mut Ctx, _: Args) {
    match hll::self_test() {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.out.error(&e),
    }
}
