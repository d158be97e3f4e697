//! Generic key commands: DEL EXISTS TYPE KEYS SCAN RENAME RANDOMKEY, the EXPIRE/TTL
//! family, COPY MOVE TOUCH OBJECT; plus the SCAN option parser shared by HSCAN/SSCAN/ZSCAN.
use super::*;
use crate::keyspace::clock;
use crate::keyspace::{Entry, Key, Table, ValRef, NO_EXPIRE};
use crate::resp::Reply;
use crate::util::{eq_ic, glob_match};

const WF: u32 = WRITE | FAST;
const RF: u32 = READONLY | FAST;

pub static COMMANDS: &[Command] = &[
    cmd("del", -2, WRITE, KEYSPACE, del),
    cmd("unlink", -2, WF, KEYSPACE, del),
    cmd("exists", -2, RF, KEYSPACE, exists),
    cmd("type", 2, RF, KEYSPACE, type_cmd),
    cmd("keys", 2, READONLY, KEYSPACE | DANGEROUS, keys),
    cmd("scan", -2, READONLY, KEYSPACE, scan),
    cmd("rename", 3, WRITE, KEYSPACE, rename),
    cmd("renamenx", 3, WF, KEYSPACE, renamenx),
    cmd("randomkey", 1, READONLY, KEYSPACE, randomkey),
    cmd("expire", -3, WF, KEYSPACE, expire),
    cmd("pexpire", -3, WF, KEYSPACE, pexpire),
    cmd("expireat", -3, WF, KEYSPACE, expireat),
    cmd("pexpireat", -3, WF, KEYSPACE, pexpireat),
    cmd("ttl", 2, RF, KEYSPACE, ttl),
    cmd("pttl", 2, RF, KEYSPACE, pttl),
    cmd("expiretime", 2, RF, KEYSPACE, expiretime),
    cmd("pexpiretime", 2, RF, KEYSPACE, pexpiretime),
    cmd("persist", 2, WF, KEYSPACE, persist),
    cmd("copy", -3, WRITE | DENYOOM, KEYSPACE, copy),
    cmd("move", 3, WF, KEYSPACE, move_cmd),
    cmd("touch", -2, RF, KEYSPACE, touch),
    cmd("object", -2, 0, 0, container).subs(OBJECT),
];

static OBJECT: &[Command] = &[
    cmd("encoding", 3, READONLY, KEYSPACE, object_encoding),
    cmd("freq", 3, READONLY, KEYSPACE, object_freq),
    cmd("idletime", 3, READONLY, KEYSPACE, object_idletime),
    cmd("refcount", 3, READONLY, KEYSPACE, object_refcount),
    cmd("help", 2, LOADING | STALE, KEYSPACE, object_help),
];

const SAME_OBJECT: &str = "ERR source and destination objects are the same";
const DB_RANGE: &str = "ERR DB index is out of range";

fn del(ctx: &mut Ctx, args: Args) {
    let mut n = 0;
    for k in args.iter().skip(1) {
        let db = ctx.dbm();
        if let Some(pos) = db.find(k) {
            db.remove_pos(pos);
            n += 1;
            ctx.modified(k);
            crate::notify::notify(ctx, crate::notify::GENERIC, "del", k);
        }
    }
    ctx.out.int(n);
}

fn exists(ctx: &mut Ctx, args: Args) {
    let db = &mut ctx.srv.data.ks.dbs[ctx.db];
    let n = args.iter().skip(1).filter(|k| db.exists(k)).count();
    ctx.out.int(n as i64);
}

fn touch(ctx: &mut Ctx, args: Args) {
    let db = &mut ctx.srv.data.ks.dbs[ctx.db];
    let mut n = 0;
    for k in args.iter().skip(1) {
        // The lookup is the access that TOUCH is for.
        if db.find(k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
}

fn type_cmd(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    match db.peek(args.get(1)) {
        Some(e) => out.simple(e.val().type_name()),
        None => out.simple("none"),
    }
}

#[inline]
fn expired(e: &Entry, now: i64) -> bool {
    let exp = e.expire();
    exp != NO_EXPIRE && exp <= now
}

fn keys(ctx: &mut Ctx, args: Args) {
    let pat = args.get(1);
    let all = pat == b"*";
    let now = clock::now();
    let (db, out) = ctx.db_out();
    let hits: Vec<&[u8]> = db
        .dict
        .items()
        .map(|(_, e)| e)
        .filter(|e| !expired(e, now) && (all || glob_match(pat, e.key(), false)))
        .map(|e| e.key())
        .collect();
    out.array(hits.len());
    for k in hits {
        out.bulk(k);
    }
}

// ---- SCAN, shared with HSCAN / SSCAN / ZSCAN ----

/// Parsed `cursor [MATCH pattern] [COUNT count] [TYPE type]` of a SCAN-family command.
pub struct ScanOpts<'a> {
    pub cursor: usize,
    pub count: usize,
    /// None when absent or "*" (matches everything).
    pub pattern: Option<&'a [u8]>,
    /// SCAN only: the type name to keep.
    pub type_name: Option<&'a [u8]>,
}

impl ScanOpts<'_> {
    /// Whether an element name passes MATCH.
    #[inline]
    pub fn matches(&self, name: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, name, false))
    }
}

/// A cursor as C's strtoul reads it (Redis's rule): optional sign, decimal digits, no
/// spaces; "-n" wraps around; overflow is an error.
pub fn parse_cursor(raw: &[u8]) -> Option<usize> {
    let (neg, digits) = match raw.first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let n = if neg { n.wrapping_neg() } else { n };
    Some(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The cursor of HSCAN/SSCAN/ZSCAN, checked before the key is looked up (Redis's order);
/// replies "invalid cursor" when bad.
pub fn cursor_arg(ctx: &mut Ctx, a: &[u8]) -> Option<usize> {
    let c = parse_cursor(a);
    if c.is_none() {
        ctx.out.error("ERR invalid cursor");
    }
    c
}

/// Parse the cursor at `args[at]` and the options after it, replying Redis's error
/// ("invalid cursor", "value is not an integer...", "syntax error") and returning None
/// on bad input. TYPE is accepted only when `allow_type` (SCAN, not HSCAN/SSCAN/ZSCAN).
pub fn parse_scan<'a>(
    ctx: &mut Ctx,
    args: Args<'a>,
    at: usize,
    allow_type: bool,
) -> Option<ScanOpts<'a>> {
    let Some(cursor) = parse_cursor(args.get(at)) else {
        ctx.out.error("ERR invalid cursor");
        return None;
    };
    let mut o = ScanOpts {
        cursor,
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = at + 1;
    while i < args.len() {
        let (opt, more) = (args.get(i), i + 1 < args.len());
        if eq_ic(opt, "count") && more {
            let n = int_arg(ctx, args.get(i + 1))?;
            if n < 1 {
                ctx.out.error(SYNTAX);
                return None;
            }
            o.count = n as usize;
        } else if eq_ic(opt, "match") && more {
            let p = args.get(i + 1);
            o.pattern = (p != b"*").then_some(p);
        } else if eq_ic(opt, "type") && allow_type && more {
            o.type_name = Some(args.get(i + 1));
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(o)
}

/// One SCAN step over a `Dict`: visits about `o.count` entries from `o.cursor` and returns
/// the next cursor (0 when done) and the entries that pass MATCH and `keep`.
pub fn scan_dict<'d>(
    d: &'d Table<Entry>,
    o: &ScanOpts,
    mut keep: impl FnMut(&Entry) -> bool,
) -> (usize, Vec<&'d Entry>) {
    let mut hits = Vec::new();
    let (cap, budget) = (d.pos_bound(), o.count.max(1));
    let (mut i, mut seen) = (o.cursor, 0);
    // Stop after `budget` entries or `10 * budget` positions, whichever comes first.
    let stop = i.saturating_add(budget.saturating_mul(10)).min(cap);
    while i < stop && seen < budget {
        if let Some(e) = d.item(i) {
            seen += 1;
            if o.matches(e.key()) && keep(e) {
                hits.push(e);
            }
        }
        i += 1;
    }
    let next = if i >= cap { 0 } else { i };
    (next, hits)
}

/// The `[cursor, [...]]` header of a SCAN-family reply; the caller writes `n` elements.
pub fn scan_reply_header(out: &mut Reply, next: usize, n: usize) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(n);
}

fn scan(ctx: &mut Ctx, args: Args) {
    ctx.srv.data.prop.touches_arbitrary_keys();
    let Some(o) = parse_scan(ctx, args, 1, true) else {
        return;
    };
    let now = clock::now();
    let mut stale: Vec<Key> = Vec::new();
    let (db, out) = ctx.db_out();
    let (next, hits) = scan_dict(&db.dict, &o, |e| {
        if expired(e, now) {
            stale.push(e.key().into());
            return false;
        }
        o.type_name
            .is_none_or(|t| t.eq_ignore_ascii_case(e.val().type_name().as_bytes()))
    });
    scan_reply_header(out, next, hits.len());
    for e in hits {
        out.bulk(e.key());
    }
    for k in stale {
        db.find(&k); // lazily deletes it
    }
}

// ---- RENAME / RANDOMKEY / COPY / MOVE ----

fn rename_generic(ctx: &mut Ctx, args: Args, nx: bool) {
    let (src, dst) = (args.get(1), args.get(2));
    let db = ctx.dbm();
    let Some(pos) = db.find(src) else {
        return ctx.out.error("ERR no such key");
    };
    if src == dst {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if let Some(existing) = db.find(dst) {
        if nx {
            return ctx.out.int(0);
        }
        db.remove_pos(existing);
    }
    let e = db.remove_pos(pos).expect("position just found").rekey(dst);
    db.insert_entry(e);
    ctx.modified(src);
    ctx.modified(dst);
    crate::notify::notify(ctx, crate::notify::GENERIC, "rename_from", src);
    crate::notify::notify(ctx, crate::notify::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

fn rename(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, true)
}

fn randomkey(ctx: &mut Ctx, _args: Args) {
    ctx.srv.data.prop.touches_arbitrary_keys();
    let now = clock::now();
    let (db, out) = ctx.db_out();
    while let Some(pos) = db.dict.random_pos() {
        let e = db.at(pos).expect("a random position is occupied");
        if expired(e, now) {
            // Deleted as a lazy expiry: "expired" event, expired_keys, WATCH.
            if let Some(e) = db.remove_pos(pos) {
                db.lazy_expired.push(e.key().into());
            }
            continue;
        }
        return out.bulk(e.key());
    }
    out.null()
}

/// A database index argument (COPY DB, MOVE), or the error reply.
fn db_index(ctx: &mut Ctx, a: &[u8]) -> Option<usize> {
    let n = int_arg(ctx, a)?;
    if i32::try_from(n).is_err() {
        ctx.out.error(NOT_INT);
        return None;
    }
    if n < 0 || n as usize >= ctx.srv.data.ks.dbs.len() {
        ctx.out.error(DB_RANGE);
        return None;
    }
    Some(n as usize)
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, args: Args) {
    let (src, dst) = (args.get(1), args.get(2));
    let (mut dst_db, mut replace) = (ctx.db, false);
    let mut i = 3;
    while i < args.len() {
        if eq_ic(args.get(i), "replace") {
            replace = true;
        } else if eq_ic(args.get(i), "db") && i + 1 < args.len() {
            let Some(n) = db_index(ctx, args.get(i + 1)) else {
                return;
            };
            dst_db = n;
            i += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 1;
    }
    if dst_db == ctx.db && src == dst {
        return ctx.out.error(SAME_OBJECT);
    }
    let Some(e) = ctx.dbm().get(src) else {
        return ctx.out.int(0);
    };
    let copied = e.copy_as(dst);
    let target = &mut ctx.srv.data.ks.dbs[dst_db];
    if let Some(pos) = target.find(dst) {
        if !replace {
            return ctx.out.int(0);
        }
        target.remove_pos(pos);
    }
    target.insert_entry(copied);
    ctx.modified_in(dst_db, dst);
    crate::notify::notify_db(ctx.srv, dst_db, crate::notify::GENERIC, "copy_to", dst);
    ctx.out.int(1);
}

fn move_cmd(ctx: &mut Ctx, args: Args) {
    if ctx.srv.cluster.is_some() {
        return ctx.out.error("ERR MOVE is not allowed in cluster mode");
    }
    let key = args.get(1);
    let Some(dst_db) = db_index(ctx, args.get(2)) else {
        return;
    };
    if dst_db == ctx.db {
        return ctx.out.error(SAME_OBJECT);
    }
    let Some(pos) = ctx.dbm().find(key) else {
        return ctx.out.int(0);
    };
    if ctx.srv.data.ks.dbs[dst_db].exists(key) {
        return ctx.out.int(0);
    }
    let e = ctx.dbm().remove_pos(pos).expect("position just found");
    ctx.srv.data.ks.dbs[dst_db].insert_entry(e);
    ctx.modified(key);
    ctx.modified_in(dst_db, key);
    crate::notify::notify(ctx, crate::notify::GENERIC, "move_from", key);
    crate::notify::notify_db(ctx.srv, dst_db, crate::notify::GENERIC, "move_to", key);
    ctx.out.int(1);
}

// ---- EXPIRE family ----

/// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]: `secs` says the unit of
/// `time`, `relative` whether it counts from now.
fn expire_generic(ctx: &mut Ctx, args: Args, secs: bool, relative: bool, name: &str) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args.iter().skip(3) {
        if eq_ic(opt, "nx") {
            nx = true;
        } else if eq_ic(opt, "xx") {
            xx = true;
        } else if eq_ic(opt, "gt") {
            gt = true;
        } else if eq_ic(opt, "lt") {
            lt = true;
        } else {
            return ctx.out.error(&format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return ctx
            .out
            .error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return ctx
            .out
            .error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(n) = int_arg(ctx, args.get(2)) else {
        return;
    };
    let base = if relative { clock::now() } else { 0 };
    let when =
        (if secs { n.checked_mul(1000) } else { Some(n) }).and_then(|ms| ms.checked_add(base));
    let Some(when) = when else {
        return ctx
            .out
            .error(&format!("ERR invalid expire time in '{name}' command"));
    };
    let key = args.get(1);
    let db = ctx.dbm();
    let Some(pos) = db.find(key) else {
        return ctx.out.int(0);
    };
    let cur = db.at(pos).expect("position just found").expire();
    let persistent = cur == NO_EXPIRE;
    if (nx && !persistent)
        || (xx && persistent)
        || (gt && (persistent || when <= cur))
        || (lt && !persistent && when >= cur)
    {
        return ctx.out.int(0);
    }
    let event = if clock::already_expired(when) {
        db.remove_pos(pos);
        "del"
    } else {
        db.set_expire(pos, when);
        "expire"
    };
    // Propagated with an absolute time (the same instant on every replica and in every
    // replay), or as the deletion it was.
    if ctx.srv.data.prop.on() {
        if event == "del" {
            let lazy = ctx.srv.cfg.lazyfree_lazy_expire;
            ctx.propagate_as(&[del_word(lazy), key]);
        } else {
            let at = when.to_string();
            let mut words: Vec<&[u8]> = vec![b"PEXPIREAT", key, at.as_bytes()];
            words.extend(args.iter().skip(3));
            ctx.propagate_as(&words);
        }
    }
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::GENERIC, event, key);
    ctx.out.int(1);
}

fn expire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, true, true, "expire")
}
fn pexpire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, false, true, "pexpire")
}
fn expireat(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, true, false, "expireat")
}
fn pexpireat(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, false, false, "pexpireat")
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 missing, -1 persistent.
fn ttl_generic(ctx: &mut Ctx, args: Args, ms: bool, absolute: bool) {
    let (db, out) = ctx.db_out();
    let reply = match db.expire_of(args.get(1)) {
        None => -2,
        Some(NO_EXPIRE) => -1,
        Some(at) => {
            let t = if absolute {
                at
            } else {
                (at - clock::now()).max(0)
            };
            if ms {
                t
            } else {
                ((t as i128 + 500) / 1000) as i64
            }
        }
    };
    out.int(reply);
}

fn ttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, false, false)
}
fn pttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, true, false)
}
fn expiretime(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, false, true)
}
fn pexpiretime(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, true, true)
}

fn persist(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let db = ctx.dbm();
    match db.find(key) {
        Some(pos) if db.at(pos).is_some_and(|e| e.expire() != NO_EXPIRE) => {
            db.set_expire(pos, NO_EXPIRE);
            ctx.modified(key);
            crate::notify::notify(ctx, crate::notify::GENERIC, "persist", key);
            ctx.out.int(1);
        }
        _ => ctx.out.int(0),
    }
}

// ---- OBJECT ----

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.srv.cfg.maxmemory_policy_name().ends_with("lfu")
}

/// Run `f` on a live key's entry, or reply null.
fn with_entry(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&Entry, &crate::config::Config, &mut Reply),
) {
    let srv = &mut *ctx.srv;
    match srv.data.ks.dbs[ctx.db].peek(key) {
        Some(e) => f(e, &srv.cfg, ctx.out),
        None => ctx.out.null(),
    }
}

fn object_encoding(ctx: &mut Ctx, args: Args) {
    with_entry(ctx, args.get(2), |e, cfg, out| {
        out.bulk_str(encoding_name(e, cfg))
    });
}

fn object_freq(ctx: &mut Ctx, args: Args) {
    if !lfu_policy(ctx) && ctx.dbm().exists(args.get(2)) {
        return ctx.out.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    with_entry(ctx, args.get(2), |e, cfg, out| {
        out.int(crate::evict::lfu_decayed(e.lru(), cfg.lfu_decay_time) as i64)
    });
}

fn object_idletime(ctx: &mut Ctx, args: Args) {
    if lfu_policy(ctx) && ctx.dbm().exists(args.get(2)) {
        return ctx.out.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    with_entry(ctx, args.get(2), |e, _, out| {
        out.int(crate::evict::idle_secs(e.lru()) as i64)
    });
}

fn object_refcount(ctx: &mut Ctx, args: Args) {
    // Redis shares the integers 0..10000 (unless an LRU/LFU maxmemory policy is in force).
    let shared_ints =
        ctx.srv.cfg.maxmemory == 0 || ctx.srv.cfg.maxmemory_policy_name() == "noeviction";
    with_entry(ctx, args.get(2), |e, _, out| match e.val() {
        ValRef::Int(n) if shared_ints && (0..10000).contains(&n) => out.int(i32::MAX as i64),
        _ => out.int(1),
    });
}

fn object_help(ctx: &mut Ctx, _args: Args) {
    super::server::help(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
}

/// OBJECT ENCODING's name for a value, following Redis's thresholds.
pub fn encoding_name(e: &Entry, _cfg: &crate::config::Config) -> &'static str {
    match e.val() {
        // Strings modified in place (APPEND, SETRANGE, SETBIT) carry spare capacity, as
        // Redis's raw strings do; freshly written short ones are exact-size "embstr".
        ValRef::Int(_) | ValRef::Str(_) => e.str_encoding(),
        // Redis 7.0 always stores lists as quicklists (listpack lists came in 7.2).
        ValRef::List(_) => "quicklist",
        // The compact form is left one way, when the hash-max-listpack-* limits are exceeded.
        ValRef::Hash(h) if h.is_small() => "listpack",
        ValRef::Hash(_) => "hashtable",
        // Redis 7.0 has no listpack sets: intset or hashtable.
        ValRef::Set(s) => {
            if s.is_intset() {
                "intset"
            } else {
                "hashtable"
            }
        }
        ValRef::Stream(_) => "stream",
        ValRef::ZSet(z) => {
            if z.is_listpack() {
                "listpack"
            } else {
                "skiplist"
            }
        }
    }
}
