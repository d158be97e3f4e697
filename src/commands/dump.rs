//! DUMP and RESTORE. The payload is the value codec's (`persist::codec`: ferrokv's own
//! self-describing form, not RDB-compatible yet: payloads round-trip between ferrokv servers).
use super::*;
use crate::keyspace::clock;
use crate::keyspace::{Entry, NO_EXPIRE};
use crate::persist::codec::{deserialize, serialize, verify, BAD_FORMAT, BAD_PAYLOAD};
use crate::util::eq_ic;

pub static COMMANDS: &[Command] = &[
    cmd("dump", 2, READONLY, KEYSPACE, dump),
    cmd(
        "restore",
        -4,
        WRITE | DENYOOM,
        KEYSPACE | DANGEROUS,
        restore,
    ),
    // What a slot migration sends: RESTORE, taken for a slot being imported.
    cmd(
        "restore-asking",
        -4,
        WRITE | DENYOOM | ASKING,
        KEYSPACE | DANGEROUS,
        restore,
    ),
];

fn dump(ctx: &mut Ctx, args: Args) {
    let compress = ctx.srv.cfg.rdbcompression;
    let (db, out) = ctx.db_out();
    match db.get(args.get(1)) {
        Some(e) => out.bulk(&serialize(e.val(), compress)),
        None => out.null(),
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
fn restore(ctx: &mut Ctx, args: Args) {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None::<i64>, None::<i64>);
    let mut j = 4;
    while j < args.len() {
        let a = args.get(j);
        let more = j + 1 < args.len();
        if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "absttl") {
            absttl = true;
        } else if eq_ic(a, "idletime") && more && freq.is_none() {
            let Some(n) = int_arg(ctx, args.get(j + 1)) else {
                return;
            };
            if n < 0 {
                return ctx.out.error("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(n);
            j += 1;
        } else if eq_ic(a, "freq") && more && idle.is_none() {
            let Some(n) = int_arg(ctx, args.get(j + 1)) else {
                return;
            };
            if !(0..=255).contains(&n) {
                return ctx
                    .out
                    .error("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(n);
            j += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let key = args.get(1);
    if !replace && ctx.dbm().exists(key) {
        return ctx.out.error("BUSYKEY Target key name already exists.");
    }
    let Some(mut ttl) = int_arg(ctx, args.get(2)) else {
        return;
    };
    if ttl < 0 {
        return ctx.out.error("ERR Invalid TTL value, must be >= 0");
    }
    let Some(body) = verify(args.get(3)) else {
        return ctx.out.error(BAD_PAYLOAD);
    };
    let cfg = &ctx.srv.cfg;
    let opts = crate::persist::rdb_load::opts_of(cfg);
    let lfu = cfg.maxmemory_policy_name().contains("lfu");
    let val = match deserialize(body, &opts) {
        Ok(v) => v,
        Err(why) => {
            // Logged as Redis does for a payload its loader refuses.
            crate::warn!("Internal error in RDB reading offset 0, function at rdb.c:0 -> {why}");
            return ctx.out.error(BAD_FORMAT);
        }
    };
    let db = ctx.dbm();
    let deleted = replace && db.remove(key).is_some();
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(clock::now());
    }
    if ttl != 0 && clock::already_expired(ttl) {
        // Already expired: the key ends up absent.
        if deleted {
            ctx.propagate_as(&[b"DEL", key]);
            ctx.modified(key);
        }
        return ctx.out.ok();
    }
    // A relative TTL propagates as the absolute time it came to.
    if ttl != 0 && !absttl && ctx.srv.data.prop.on() {
        let at = ttl.to_string();
        let mut words: Vec<&[u8]> = args.iter().collect();
        words[2] = at.as_bytes();
        words.push(b"ABSTTL");
        ctx.propagate_as(&words);
    }
    let db = ctx.dbm();
    let mut e = Entry::new(key, val, if ttl != 0 { ttl } else { NO_EXPIRE });
    match (lfu, freq, idle) {
        (true, Some(f), _) => e.set_lru((e.lru() & !0xff) | f as u32),
        (false, _, Some(secs)) => e.set_lru(e.lru().wrapping_sub(secs as u32)),
        _ => {}
    }
    db.insert_entry(e);
    ctx.modified(key);
    ctx.out.ok();
}
