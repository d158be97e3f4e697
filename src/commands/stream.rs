//! Stream commands: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID XREAD XREADGROUP XGROUP
//! XACK XPENDING XCLAIM XAUTOCLAIM XINFO.
use super::*;
use crate::blocking::{self, TimeoutReply};
use crate::keyspace::clock;
use crate::keyspace::{ValMut, ValRef, Value};
use crate::resp::Reply;
use crate::types::stream::{
    EntryRef, Group, IdSpec, Nack, Stream, StreamId, Trim, ENTRIES_READ_INVALID,
};
use crate::util::{eq_ic, parse_i64};

const XW: u32 = WRITE | FAST;
pub static COMMANDS: &[Command] = &[
    cmd("xadd", -5, WRITE | DENYOOM | FAST, STREAM, xadd),
    cmd("xlen", 2, READONLY | FAST, STREAM, xlen),
    cmd("xrange", -4, READONLY, STREAM, xrange),
    cmd("xrevrange", -4, READONLY, STREAM, xrevrange),
    cmd("xdel", -3, XW, STREAM, xdel),
    cmd("xtrim", -4, WRITE, STREAM, xtrim),
    cmd("xsetid", -3, XW | DENYOOM, STREAM, xsetid),
    cmd(
        "xread",
        -4,
        READONLY | BLOCKING | MOVABLE_KEYS,
        STREAM,
        xread,
    ),
    cmd(
        "xreadgroup",
        -7,
        WRITE | BLOCKING | MOVABLE_KEYS,
        STREAM,
        xread,
    ),
    cmd("xack", -4, XW, STREAM, xack),
    cmd("xpending", -3, READONLY, STREAM, xpending),
    cmd("xclaim", -6, XW, STREAM, xclaim),
    cmd("xautoclaim", -6, XW, STREAM, xautoclaim),
    cmd("xgroup", -2, 0, 0, container).subs(XGROUP),
    cmd("xinfo", -2, 0, 0, container).subs(XINFO),
];

static XGROUP: &[Command] = &[
    cmd("create", -5, WRITE | DENYOOM, STREAM, xgroup_create),
    cmd("setid", -5, WRITE, STREAM, xgroup_setid),
    cmd("destroy", 4, WRITE, STREAM, xgroup_destroy),
    cmd(
        "createconsumer",
        5,
        WRITE | DENYOOM,
        STREAM,
        xgroup_createconsumer,
    ),
    cmd("delconsumer", 5, WRITE, STREAM, xgroup_delconsumer),
    cmd("help", 2, LOADING | STALE, STREAM, xgroup_help),
];

static XINFO: &[Command] = &[
    cmd("stream", -3, READONLY, STREAM, xinfo_stream),
    cmd("groups", 3, READONLY, STREAM, xinfo_groups),
    cmd("consumers", 4, READONLY, STREAM, xinfo_consumers),
    cmd("help", 2, LOADING | STALE, STREAM, xinfo_help),
];

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const XADD_TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

// ---------------- parsing and reply helpers ----------------

/// Parse "ms-seq", "ms" (seq = `missing_seq`), or, unless `strict`, "-" and "+".
fn parse_id(a: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
    match a {
        b"-" if !strict => return Some(StreamId::MIN),
        b"+" if !strict => return Some(StreamId::MAX),
        _ => {}
    }
    if a.len() > 127 {
        return None;
    }
    let (ms, seq) = match memchr::memchr(b'-', a) {
        Some(i) => (&a[..i], Some(&a[i + 1..])),
        None => (a, None),
    };
    let ms = parse_u64(ms)?;
    let seq = match seq {
        Some(s) => parse_u64(s)?,
        None => missing_seq,
    };
    Some(StreamId::new(ms, seq))
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// An ID or reply the invalid-ID error.
fn id_arg(ctx: &mut Ctx, a: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
    let id = parse_id(a, missing_seq, strict);
    if id.is_none() {
        ctx.out.error(INVALID_ID);
    }
    id
}

/// A range bound: "(" makes it exclusive (then "-"/"+" are invalid).
fn bound_arg(ctx: &mut Ctx, a: &[u8], start: bool) -> Option<StreamId> {
    let missing = if start { 0 } else { u64::MAX };
    if a.len() > 1 && a[0] == b'(' {
        let id = id_arg(ctx, &a[1..], missing, true)?;
        let moved = if start { id.incr() } else { id.decr() };
        if moved.is_none() {
            ctx.out.error(if start {
                "ERR invalid start ID for the interval"
            } else {
                "ERR invalid end ID for the interval"
            });
        }
        return moved;
    }
    id_arg(ctx, a, missing, false)
}

fn reply_id(out: &mut Reply, id: StreamId) {
    let mut buf = [0u8; 48];
    out.bulk(id.fmt(&mut buf));
}

fn reply_entry(out: &mut Reply, id: StreamId, f: EntryRef<'_>) {
    out.array(2);
    reply_id(out, id);
    out.array(f.len());
    for x in f.iter() {
        out.bulk(x);
    }
}

fn nogroup(ctx: &mut Ctx, key: &[u8], group: &[u8], suffix: &str) {
    ctx.out.error(&format!(
        "NOGROUP No such key '{}' or consumer group '{}'{}",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group),
        suffix
    ));
}

/// A consumer was created implicitly (XREADGROUP, XCLAIM, XAUTOCLAIM).
fn consumer_created(ctx: &mut Ctx, key: &[u8]) {
    crate::notify::notify(ctx, crate::notify::STREAM, "xgroup-createconsumer", key);
}

/// A write to the stream at `key`: dirty counter, WATCH, blocked readers, and its keyspace event.
fn written(ctx: &mut Ctx, key: &[u8], event: &str) {
    ctx.modified(key);
    crate::notify::notify(ctx, crate::notify::STREAM, event, key);
}

// ---------------- XADD / XTRIM ----------------

struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// XADD: position of the ID argument.
    id_pos: usize,
    /// Positions of the `~` (0: none) and of the trim value, for propagation.
    approx_pos: usize,
    value_pos: usize,
}

/// Parse XADD/XTRIM options starting at argument 2. Replies the error on failure.
fn parse_trim(ctx: &mut Ctx, args: Args, xadd: bool) -> Option<TrimArgs> {
    let mut t = TrimArgs {
        how: None,
        approx: false,
        limit: 0,
        nomkstream: false,
        id_pos: args.len(),
        approx_pos: 0,
        value_pos: 0,
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = args.get(i);
        if xadd && a == b"*" {
            t.id_pos = i;
            break;
        } else if (eq_ic(a, "maxlen") || eq_ic(a, "minid")) && more > 0 {
            if t.how.is_some() {
                ctx.out.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return None;
            }
            t.approx = false;
            t.approx_pos = 0;
            let next = args.get(i + 1);
            if more >= 2 && (next == b"~" || next == b"=") {
                t.approx = next == b"~";
                i += 1;
                if t.approx {
                    t.approx_pos = i;
                }
            }
            t.value_pos = i + 1;
            let v = args.get(i + 1);
            if eq_ic(a, "maxlen") {
                let n = int_arg(ctx, v)?;
                if n < 0 {
                    ctx.out.error("ERR The MAXLEN argument must be >= 0.");
                    return None;
                }
                t.how = Some(Trim::MaxLen(n as u64));
            } else {
                t.how = Some(Trim::MinId(id_arg(ctx, v, 0, true)?));
            }
            i += 1;
        } else if eq_ic(a, "limit") && more > 0 {
            let n = int_arg(ctx, args.get(i + 1))?;
            if n < 0 {
                ctx.out.error("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            t.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(a, "nomkstream") {
            t.nomkstream = true;
        } else if xadd {
            t.id_pos = i;
            break;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
        i += 1;
    }
    if t.limit > 0 && t.how.is_none() {
        ctx.out
            .error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && t.how.is_none() {
        ctx.out
            .error("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if ctx.must_obey() {
        // As Redis: what the AOF (or a master) sends is trimmed exactly as written, with no
        // LIMIT (XADD ... MAXLEN = 71 LIMIT 30 is how an approximate trim propagates).
        t.limit = 0;
    } else if limit_given {
        if !t.approx {
            ctx.out
                .error("ERR syntax error, LIMIT cannot be used without the special ~ option");
            return None;
        }
    } else if t.approx {
        let n = 100 * ctx.srv.cfg.stream_node_max_entries;
        t.limit = if n <= 0 {
            10000
        } else {
            n.min(1_000_000) as u64
        };
    }
    Some(t)
}

fn xadd(ctx: &mut Ctx, args: Args) {
    let Some(t) = parse_trim(ctx, args, true) else {
        return;
    };
    let field_pos = t.id_pos + 1;
    if field_pos > args.len() || (args.len() - field_pos) < 2 || (args.len() - field_pos) % 2 == 1 {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'xadd' command");
    }
    let id_arg_bytes = args.get(t.id_pos);
    let spec = if id_arg_bytes == b"*" {
        IdSpec::Auto
    } else if let Some(ms) = id_arg_bytes.strip_suffix(b"-*") {
        match parse_u64(ms) {
            Some(ms) => IdSpec::Ms(ms),
            None => return ctx.out.error(INVALID_ID),
        }
    } else {
        let Some(id) = id_arg(ctx, id_arg_bytes, 0, true) else {
            return;
        };
        if id.is_zero() {
            return ctx
                .out
                .error("ERR The ID specified in XADD must be greater than 0-0");
        }
        IdSpec::Exact(id)
    };
    let key = args.get(1);
    let on = ctx.srv.data.prop.on();
    let (max_entries, max_bytes) = (
        ctx.srv.cfg.stream_node_max_entries.max(0) as u64,
        ctx.srv.cfg.stream_node_max_bytes.max(0) as u64,
    );
    let (db, out) = ctx.db_out();
    let pos = match db.find(key) {
        Some(s) => s,
        None if t.nomkstream => return out.null(),
        None => db.insert_new(key, Value::Stream(Box::default())),
    };
    let Some(e) = db.at_mut(pos) else {
        return;
    };
    let ValMut::Stream(s) = e.val_mut() else {
        return out.error(WRONGTYPE);
    };
    if s.last_id == StreamId::MAX {
        return out
            .error("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let id = match s.next_id(spec, clock::now() as u64) {
        Some(id) => id,
        None => return out.error(XADD_TOO_SMALL),
    };
    let fields: smallvec::SmallVec<[&[u8]; 8]> = args.iter().skip(field_pos).collect();
    s.append(id, &fields, max_entries, max_bytes);
    reply_id(out, id);
    let trimmed = t.how.is_some_and(|how| s.trim(how, t.approx, t.limit) > 0);
    let trim = if on { trim_result(s, &t) } else { None };
    if on {
        let generated = !matches!(spec, IdSpec::Exact(_));
        propagate_deterministic(ctx, args, &t, generated.then_some(id), trim);
    }
    written(ctx, key, "xadd");
    if trimmed {
        crate::notify::notify(ctx, crate::notify::STREAM, "xtrim", key);
    }
}

/// After an approximate trim (`~`): the exact result, MAXLEN's length or MINID's first
/// ID, which replicas and replays must trim to (they may cut nodes elsewhere).
fn trim_result(s: &Stream, t: &TrimArgs) -> Option<Vec<u8>> {
    if !t.approx {
        return None;
    }
    Some(match t.how? {
        Trim::MaxLen(_) => s.len().to_string().into_bytes(),
        Trim::MinId(_) => {
            let first = s.entries.first().map(|(k, _)| k).unwrap_or_default();
            let mut buf = [0u8; 48];
            first.fmt(&mut buf).to_vec()
        }
    })
}

/// XADD/XTRIM propagate deterministically: the generated ID in place of `*` / `ms-*`,
/// and `= <exact result>` in place of `~ <bound>`.
fn propagate_deterministic(
    ctx: &mut Ctx,
    args: Args,
    t: &TrimArgs,
    id: Option<StreamId>,
    trim: Option<Vec<u8>>,
) {
    if id.is_none() && trim.is_none() {
        return;
    }
    let mut idbuf = [0u8; 48];
    let id_text = id.map(|id| id.fmt(&mut idbuf).to_vec());
    let words: Vec<&[u8]> = args
        .iter()
        .enumerate()
        .map(|(i, a)| match (&id_text, &trim) {
            (Some(idt), _) if i == t.id_pos => idt.as_slice(),
            (_, Some(_)) if i == t.approx_pos && i > 0 => b"=",
            (_, Some(v)) if i == t.value_pos && i > 0 => v.as_slice(),
            _ => a,
        })
        .collect();
    ctx.propagate_as(&words);
}

fn xtrim(ctx: &mut Ctx, args: Args) {
    let Some(t) = parse_trim(ctx, args, false) else {
        return;
    };
    let on = ctx.srv.data.prop.on();
    let (db, out) = ctx.db_out();
    let Ok(s) = typed_mut::<Stream>(db, out, args.get(1)) else {
        return;
    };
    let Some(s) = s else { return out.int(0) };
    let n = match t.how {
        Some(how) => s.trim(how, t.approx, t.limit),
        None => 0,
    };
    out.int(n as i64);
    let trim = if on { trim_result(s, &t) } else { None };
    if on {
        propagate_deterministic(ctx, args, &t, None, trim);
    }
    if n > 0 {
        written(ctx, args.get(1), "xtrim");
    }
}

// ---------------- reading ----------------

fn xlen(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    if let Ok(s) = typed_mut::<Stream>(db, out, args.get(1)) {
        out.int(s.map_or(0, |s| s.len() as i64));
    }
}

fn xrange(ctx: &mut Ctx, args: Args) {
    range_generic(ctx, args, false)
}
fn xrevrange(ctx: &mut Ctx, args: Args) {
    range_generic(ctx, args, true)
}

fn range_generic(ctx: &mut Ctx, args: Args, rev: bool) {
    let (a, b) = if rev { (3, 2) } else { (2, 3) };
    let Some(start) = bound_arg(ctx, args.get(a), true) else {
        return;
    };
    let Some(end) = bound_arg(ctx, args.get(b), false) else {
        return;
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if eq_ic(args.get(j), "count") && j + 1 < args.len() {
            let Some(n) = int_arg(ctx, args.get(j + 1)) else {
                return;
            };
            count = n.max(0);
            j += 2;
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let (db, out) = ctx.db_out();
    let Ok(s) = typed_mut::<Stream>(db, out, args.get(1)) else {
        return;
    };
    let Some(s) = s else { return out.array(0) };
    if count == 0 {
        return out.null_array();
    }
    reply_range(out, s, start, end, rev, count.max(0) as usize);
}

/// Reply the entries in [start, end] (newest first when `rev`), at most `count` (0: all).
fn reply_range(
    out: &mut Reply,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    rev: bool,
    count: usize,
) {
    if start > end {
        return out.array(0);
    }
    let limit = if count == 0 { usize::MAX } else { count };
    let range = s.entries.range(start, end);
    let n = range.clone().take(limit).count();
    out.array(n);
    if rev {
        for (id, f) in range.rev().take(n) {
            reply_entry(out, id, f);
        }
    } else {
        for (id, f) in range.take(n) {
            reply_entry(out, id, f);
        }
    }
}

/// What XREAD / XREADGROUP asked for, parsed once.
struct ReadReq<'a> {
    count: usize,
    block_ms: Option<i64>,
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
    keys: Vec<&'a [u8]>,
    /// Read after these IDs; MAX means ">" (new entries of the group).
    ids: Vec<StreamId>,
}

fn xread(ctx: &mut Ctx, args: Args) {
    let xreadgroup = args.get(0).len() == 10;
    let Some(req) = parse_read(ctx, args, xreadgroup) else {
        return;
    };
    if serve_read(ctx, &req) > 0 {
        return;
    }
    match req.block_ms {
        Some(ms) if blocking::may_block(ctx) => {
            let deadline = if ms == 0 {
                0
            } else {
                clock::now().saturating_add(ms)
            };
            let (buf, spans) = blocked_args(&req, xreadgroup);
            blocking::block(
                ctx,
                Args::new(&buf, &spans),
                req.keys.iter().copied(),
                deadline,
                xread_retry,
                TimeoutReply::NullArray,
            );
        }
        _ => ctx.out.null_array(),
    }
}

/// The arguments a blocked XREAD is re-run with: `$` resolved to the ID it stood for
/// when the client blocked, and COUNT defaulting to 1000 (as Redis, so a wake-up never
/// streams a huge backlog).
fn blocked_args(req: &ReadReq, xreadgroup: bool) -> (Vec<u8>, Vec<(u32, u32)>) {
    let mut buf = Vec::new();
    let mut spans = Vec::new();
    let mut push = |a: &[u8]| {
        let s = buf.len() as u32;
        buf.extend_from_slice(a);
        spans.push((s, buf.len() as u32));
    };
    push(if xreadgroup { b"xreadgroup" } else { b"xread" });
    if let Some((g, c)) = req.group {
        push(b"GROUP");
        push(g);
        push(c);
    }
    if req.noack {
        push(b"NOACK");
    }
    push(b"COUNT");
    let count = if req.count == 0 { 1000 } else { req.count };
    push(itoa::Buffer::new().format(count).as_bytes());
    push(b"STREAMS");
    for k in &req.keys {
        push(k);
    }
    for id in &req.ids {
        let mut b = [0u8; 48];
        push(if *id == StreamId::MAX {
            b">"
        } else {
            id.fmt(&mut b)
        });
    }
    (buf, spans)
}

/// A key a blocked XREAD waits on was written: serve that stream if it has new entries.
fn xread_retry(ctx: &mut Ctx, args: Args, ready: &[u8]) -> bool {
    let xreadgroup = args.get(0).len() == 10;
    if let (true, Some(i)) = (xreadgroup, args.iter().position(|a| eq_ic(a, "group"))) {
        let group = args.get(i + 1);
        match ctx.dbm().get(ready).map(|e| e.val()) {
            Some(ValRef::Stream(s)) if s.groups.contains_key(group) => {}
            Some(ValRef::Stream(_)) => {
                ctx.out.error(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                );
                return true;
            }
            _ => {
                ctx.out.error("UNBLOCKED the stream key no longer exists");
                return true;
            }
        }
    }
    // A plain XREAD keeps waiting while its key is absent or of another type.
    if !xreadgroup
        && !matches!(
            ctx.dbm().get(ready).map(|e| e.val()),
            Some(ValRef::Stream(_))
        )
    {
        return false;
    }
    let Some(mut req) = parse_read(ctx, args, xreadgroup) else {
        return true;
    };
    // Serve only the stream that became ready, once, as Redis does.
    let Some(i) = req.keys.iter().position(|k| *k == ready) else {
        return false;
    };
    req.keys = vec![req.keys[i]];
    req.ids = vec![req.ids[i]];
    serve_read(ctx, &req) > 0
}

fn parse_read<'a>(ctx: &mut Ctx, args: Args<'a>, xreadgroup: bool) -> Option<ReadReq<'a>> {
    let mut req = ReadReq {
        count: 0,
        block_ms: None,
        group: None,
        noack: false,
        keys: Vec::new(),
        ids: Vec::new(),
    };
    let mut streams_at = 0;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args.get(i);
        if eq_ic(o, "block") && more > 0 {
            if ctx.srv.data.scripting.calling {
                // MULTI treats BLOCK as a timeout; scripts get an error, as in Redis.
                ctx.out.error(&format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(args.get(0))
                ));
                return None;
            }
            i += 1;
            let ms = match parse_i64(args.get(i)) {
                Some(n) if n < 0 => {
                    ctx.out.error("ERR timeout is negative");
                    return None;
                }
                Some(n) => n,
                None => {
                    ctx.out
                        .error("ERR timeout is not an integer or out of range");
                    return None;
                }
            };
            req.block_ms = Some(ms);
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            req.count = int_arg(ctx, args.get(i))?.max(0) as usize;
        } else if eq_ic(o, "streams") && more > 0 {
            streams_at = i + 1;
            let n = args.len() - streams_at;
            if !n.is_multiple_of(2) {
                ctx.out.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
                return None;
            }
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !xreadgroup {
                ctx.out.error(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                );
                return None;
            }
            req.group = Some((args.get(i + 1), args.get(i + 2)));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !xreadgroup {
                ctx.out.error(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                );
                return None;
            }
            req.noack = true;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
        i += 1;
    }
    if streams_at == 0 {
        ctx.out.error(SYNTAX);
        return None;
    }
    if xreadgroup && req.group.is_none() {
        ctx.out.error("ERR Missing GROUP option for XREADGROUP");
        return None;
    }
    let n = (args.len() - streams_at) / 2;
    for k in 0..n {
        let key = args.get(streams_at + k);
        let ida = args.get(streams_at + n + k);
        let (db, out) = ctx.db_out();
        let s = typed_mut::<Stream>(db, out, key).ok()?;
        let last = s.as_ref().map(|s| s.last_id).unwrap_or_default();
        if let Some((g, _)) = req.group {
            if !s.is_some_and(|s| s.groups.contains_key(g)) {
                nogroup(ctx, key, g, " in XREADGROUP with GROUP option");
                return None;
            }
        }
        let id = if ida == b"$" {
            if xreadgroup {
                ctx.out.error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
                return None;
            }
            last
        } else if ida == b">" {
            if !xreadgroup {
                ctx.out.error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
                return None;
            }
            StreamId::MAX
        } else {
            id_arg(ctx, ida, 0, true)?
        };
        req.keys.push(key);
        req.ids.push(id);
    }
    Some(req)
}

/// Commands a group read or claim propagates instead of itself (collected while the
/// stream is borrowed, pushed after): only built while the stream is on.
type GroupOps = Option<Vec<Vec<Vec<u8>>>>;

/// The XCLAIM that sets pending entry `id` on a replica as it is here (Redis's form,
/// FORCE JUSTID LASTID: no entry is read there, and the group's last ID follows).
fn xclaim_op(key: &[u8], group: &[u8], g: &Group, id: StreamId, n: &Nack) -> Vec<Vec<u8>> {
    let mut b1 = [0u8; 48];
    let mut b2 = [0u8; 48];
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        n.consumer.to_vec(),
        b"0".to_vec(),
        id.fmt(&mut b1).to_vec(),
        b"TIME".to_vec(),
        n.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        n.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        g.last_id.fmt(&mut b2).to_vec(),
    ]
}

/// XGROUP SETID key group <last id> ENTRIESREAD <n>.
fn setid_op(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    let mut b = [0u8; 48];
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.fmt(&mut b).to_vec(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// Push the collected commands, and propagate nothing of the running command itself.
fn push_group_ops(ctx: &mut Ctx, ops: GroupOps) {
    let Some(ops) = ops else { return };
    for op in &ops {
        let words: Vec<&[u8]> = op.iter().map(Vec::as_slice).collect();
        ctx.also_propagate(&words);
    }
    ctx.prevent_propagation();
}

/// Serve what can be served now; returns the number of streams replied (0: nothing
/// was written and the caller decides between blocking and a null reply).
fn serve_read(ctx: &mut Ctx, req: &ReadReq) -> usize {
    let now = clock::now();
    let db = ctx.db;
    let ready: Vec<usize> = (0..req.keys.len())
        .filter(|&i| {
            let Some(ValRef::Stream(s)) = ctx.srv.data.ks.dbs[db].get(req.keys[i]).map(|e| e.val())
            else {
                return false;
            };
            match req.group {
                Some((g, _)) if req.ids[i] == StreamId::MAX => s
                    .groups
                    .get(g)
                    .is_some_and(|grp| !s.is_empty() && s.last_live_id() > grp.last_id),
                Some(_) => true,
                None => !s.is_empty() && s.last_live_id() > req.ids[i],
            }
        })
        .collect();
    if ready.is_empty() {
        return 0;
    }
    let on = ctx.srv.data.prop.on() && req.group.is_some();
    let (dbm, out) = ctx.db_out();
    if out.resp3 {
        out.map(ready.len());
    } else {
        out.array(ready.len());
    }
    // Streams whose group got a new consumer from this read (keyspace event).
    let mut new_consumer = Vec::new();
    let mut ops: GroupOps = on.then(Vec::new);
    for &i in &ready {
        let key = req.keys[i];
        if !out.resp3 {
            out.array(2);
        }
        out.bulk(key);
        let Some(ValMut::Stream(s)) = dbm.get_mut(key).map(|e| e.val_mut()) else {
            out.array(0);
            continue;
        };
        if let Some((g, c)) = req.group {
            if s.groups
                .get(g)
                .is_some_and(|grp| !grp.consumers.contains_key(c))
            {
                new_consumer.push(key);
                // With NOACK no XCLAIM will create the consumer on the other side.
                if let (Some(ops), true) = (ops.as_mut(), req.noack) {
                    ops.push(
                        [&b"XGROUP"[..], b"CREATECONSUMER", key, g, c]
                            .map(<[u8]>::to_vec)
                            .to_vec(),
                    );
                }
            }
        }
        match req.group {
            None => {
                let start = req.ids[i].incr().unwrap_or(StreamId::MAX);
                reply_range(out, s, start, StreamId::MAX, false, req.count);
            }
            Some((g, c)) if req.ids[i] == StreamId::MAX => {
                deliver_new(out, s, (key, g, c), req.count, req.noack, now, &mut ops)
            }
            Some((g, c)) => {
                let start = req.ids[i].incr().unwrap_or(StreamId::MAX);
                deliver_history(out, s, g, c, start, req.count, now)
            }
        }
    }
    if req.group.is_some() {
        for &i in &ready {
            ctx.modified(req.keys[i]);
        }
    }
    for key in new_consumer {
        consumer_created(ctx, key);
    }
    push_group_ops(ctx, ops);
    ready.len()
}

/// XREADGROUP ">": entries after the group's last ID, added to the PEL unless NOACK.
/// Propagated as an XCLAIM per entry, or with NOACK one XGROUP SETID.
fn deliver_new(
    out: &mut Reply,
    s: &mut Stream,
    (key, g, c): (&[u8], &[u8], &[u8]),
    count: usize,
    noack: bool,
    now: i64,
    ops: &mut GroupOps,
) {
    let Some(grp) = s.groups.get_mut(g) else {
        return out.array(0);
    };
    grp.consumer(c, now);
    let start = grp.last_id.incr().unwrap_or(StreamId::MAX);
    let limit = if count == 0 { usize::MAX } else { count };
    let ids: Vec<StreamId> = s
        .entries
        .range_from(start)
        .take(limit)
        .map(|(k, _)| k)
        .collect();
    out.array(ids.len());
    let delivered = ids.len();
    for id in ids {
        if let Some(f) = s.entries.get(id) {
            reply_entry(out, id, f);
        }
        s.advance_group(g, id);
        if !noack {
            if let Some(grp) = s.groups.get_mut(g) {
                grp.assign(id, c, now, 1);
                if let (Some(ops), Some(n)) = (ops.as_mut(), grp.pel.get(&id)) {
                    ops.push(xclaim_op(key, g, grp, id, n));
                }
            }
        }
    }
    if let (Some(ops), true, Some(grp)) = (ops.as_mut(), noack, s.groups.get(g)) {
        if delivered > 0 {
            ops.push(setid_op(key, g, grp));
        }
    }
}

/// XREADGROUP with an ID: the consumer's own pending entries from `start`.
fn deliver_history(
    out: &mut Reply,
    s: &mut Stream,
    g: &[u8],
    c: &[u8],
    start: StreamId,
    count: usize,
    now: i64,
) {
    let Some(grp) = s.groups.get_mut(g) else {
        return out.array(0);
    };
    let cons = grp.consumer(c, now);
    let limit = if count == 0 { usize::MAX } else { count };
    let ids: Vec<StreamId> = cons.pel.range(start..).take(limit).copied().collect();
    out.array(ids.len());
    for id in ids {
        match s.entries.get(id) {
            Some(f) => {
                reply_entry(out, id, f);
                if let Some(n) = grp.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
            None => {
                out.array(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
}

// ---------------- deleting, XSETID ----------------

fn xdel(ctx: &mut Ctx, args: Args) {
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in args.iter().skip(2) {
        let Some(id) = id_arg(ctx, a, 0, true) else {
            return;
        };
        ids.push(id);
    }
    let (db, out) = ctx.db_out();
    let Ok(s) = typed_mut::<Stream>(db, out, args.get(1)) else {
        return;
    };
    let Some(s) = s else { return out.int(0) };
    let n = ids.into_iter().filter(|id| s.delete(*id)).count();
    out.int(n as i64);
    if n > 0 {
        written(ctx, args.get(1), "xdel");
    }
}

fn xsetid(ctx: &mut Ctx, args: Args) {
    let Some(id) = id_arg(ctx, args.get(2), 0, true) else {
        return;
    };
    let (mut added, mut max_del) = (-1i64, StreamId::MIN);
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let o = args.get(i);
        if eq_ic(o, "entriesadded") && more > 0 {
            let Some(n) = int_arg(ctx, args.get(i + 1)) else {
                return;
            };
            if n < 0 {
                return ctx.out.error("ERR entries_added must be positive");
            }
            added = n;
        } else if eq_ic(o, "maxdeletedid") && more > 0 {
            let Some(m) = id_arg(ctx, args.get(i + 1), 0, true) else {
                return;
            };
            if id < m {
                return ctx.out.error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
            }
            max_del = m;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 2;
    }
    let (db, out) = ctx.db_out();
    let Ok(s) = typed_mut::<Stream>(db, out, args.get(1)) else {
        return;
    };
    let Some(s) = s else {
        return out.error("ERR no such key");
    };
    if !s.is_empty() {
        if id < s.last_live_id() {
            return out.error(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if added != -1 && s.len() as i64 > added {
            return out.error("ERR The entries_added specified in XSETID is smaller than the target stream length");
        }
    }
    s.last_id = id;
    if added != -1 {
        s.entries_added = added as u64;
    }
    if !max_del.is_zero() {
        s.max_deleted = max_del;
    }
    out.ok();
    written(ctx, args.get(1), "xsetid");
}

// ---------------- consumer groups ----------------

/// The stream for an XGROUP subcommand; replies the error when it does not exist.
fn group_stream<'a>(
    db: &'a mut crate::keyspace::Db,
    out: &mut Reply,
    key: &[u8],
) -> Option<&'a mut Stream> {
    match typed_mut::<Stream>(db, out, key) {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            out.error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
            None
        }
        Err(()) => None,
    }
}

/// The group `name` of the stream at `key` for an XGROUP subcommand; replies the error
/// (no key, wrong type, no such group) when it is not there.
fn existing_group<'a>(
    db: &'a mut crate::keyspace::Db,
    out: &mut Reply,
    key: &[u8],
    name: &[u8],
) -> Option<&'a mut Group> {
    let s = group_stream(db, out, key)?;
    let g = s.groups.get_mut(name);
    if g.is_none() {
        no_such_group(out, name, key);
    }
    g
}

fn no_such_group(out: &mut Reply, group: &[u8], key: &[u8]) {
    out.error(&format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ));
}

/// Options after XGROUP CREATE/SETID's ID: MKSTREAM (CREATE only), ENTRIESREAD n.
fn group_opts(ctx: &mut Ctx, args: Args, create: bool) -> Option<(bool, i64)> {
    let (mut mkstream, mut entries_read) = (false, ENTRIES_READ_INVALID);
    let mut i = 5;
    while i < args.len() {
        if create && eq_ic(args.get(i), "mkstream") {
            mkstream = true;
            i += 1;
        } else if eq_ic(args.get(i), "entriesread") && i + 1 < args.len() {
            let n = int_arg(ctx, args.get(i + 1))?;
            if n < 0 && n != ENTRIES_READ_INVALID {
                ctx.out
                    .error("ERR value for ENTRIESREAD must be positive or -1");
                return None;
            }
            entries_read = n;
            i += 2;
        } else {
            subcommand_syntax(ctx, args);
            return None;
        }
    }
    Some((mkstream, entries_read))
}

fn subcommand_syntax(ctx: &mut Ctx, args: Args) {
    ctx.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(args.get(1)),
        String::from_utf8_lossy(args.get(0)).to_ascii_uppercase()
    ));
}

fn xgroup_create(ctx: &mut Ctx, args: Args) {
    if args.len() > 8 {
        return subcommand_syntax(ctx, args);
    }
    let Some((mkstream, entries_read)) = group_opts(ctx, args, true) else {
        return;
    };
    let (key, name, ida) = (args.get(2), args.get(3), args.get(4));
    let (db, out) = ctx.db_out();
    let exists = match typed_mut::<Stream>(db, out, key) {
        Err(()) => return,
        Ok(s) => s.is_some(),
    };
    if !exists && !mkstream {
        group_stream(db, out, key);
        return;
    }
    let id = if ida == b"$" {
        None
    } else {
        match parse_id(ida, 0, true) {
            Some(id) => Some(id),
            None => return out.error(INVALID_ID),
        }
    };
    if !exists {
        db.insert_new(key, Value::Stream(Box::default()));
    }
    let Ok(Some(s)) = typed_mut::<Stream>(db, out, key) else {
        return;
    };
    if s.groups.contains_key(name) {
        return out.error("BUSYGROUP Consumer Group name already exists");
    }
    let last_id = id.unwrap_or(s.last_id);
    s.groups.insert(
        name.into(),
        Group {
            last_id,
            entries_read,
            pel: Default::default(),
            consumers: Default::default(),
        },
    );
    out.ok();
    written(ctx, key, "xgroup-create");
}

fn xgroup_setid(ctx: &mut Ctx, args: Args) {
    if args.len() != 5 && args.len() != 7 {
        return subcommand_syntax(ctx, args);
    }
    let Some((_, entries_read)) = group_opts(ctx, args, false) else {
        return;
    };
    let (key, name, ida) = (args.get(2), args.get(3), args.get(4));
    let (db, out) = ctx.db_out();
    let Some(s) = group_stream(db, out, key) else {
        return;
    };
    let last = s.last_id;
    let Some(g) = s.groups.get_mut(name) else {
        return no_such_group(out, name, key);
    };
    let id = if ida == b"$" {
        last
    } else {
        match parse_id(ida, 0, false) {
            Some(id) => id,
            None => return out.error(INVALID_ID),
        }
    };
    g.last_id = id;
    g.entries_read = entries_read;
    out.ok();
    written(ctx, key, "xgroup-setid");
}

fn xgroup_destroy(ctx: &mut Ctx, args: Args) {
    let (key, name) = (args.get(2), args.get(3));
    let (db, out) = ctx.db_out();
    let Some(s) = group_stream(db, out, key) else {
        return;
    };
    let removed = s.groups.remove(name).is_some();
    out.int(removed as i64);
    if removed {
        written(ctx, key, "xgroup-destroy");
    }
}

fn xgroup_createconsumer(ctx: &mut Ctx, args: Args) {
    let (key, name, cons) = (args.get(2), args.get(3), args.get(4));
    let (db, out) = ctx.db_out();
    let Some(g) = existing_group(db, out, key, name) else {
        return;
    };
    let created = !g.consumers.contains_key(cons);
    if created {
        g.consumer(cons, clock::now());
    }
    out.int(created as i64);
    if created {
        written(ctx, key, "xgroup-createconsumer");
    }
}

fn xgroup_delconsumer(ctx: &mut Ctx, args: Args) {
    let (key, name, cons) = (args.get(2), args.get(3), args.get(4));
    let (db, out) = ctx.db_out();
    let Some(g) = existing_group(db, out, key, name) else {
        return;
    };
    let pending = match g.consumers.remove(cons) {
        Some(c) => {
            for id in &c.pel {
                g.pel.remove(id);
            }
            c.pel.len() as i64
        }
        None => return out.int(0),
    };
    out.int(pending);
    written(ctx, key, "xgroup-delconsumer");
}

fn xgroup_help(ctx: &mut Ctx, _: Args) {
    super::server::help(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
}

// ---------------- XACK XPENDING XCLAIM XAUTOCLAIM ----------------

fn xack(ctx: &mut Ctx, args: Args) {
    let mut ids = Vec::with_capacity(args.len() - 3);
    let (key, name) = (args.get(1), args.get(2));
    {
        let (db, out) = ctx.db_out();
        match typed_mut::<Stream>(db, out, key) {
            Err(()) => return,
            Ok(Some(s)) if s.groups.contains_key(name) => {}
            Ok(_) => return out.int(0),
        }
    }
    for a in args.iter().skip(3) {
        let Some(id) = id_arg(ctx, a, 0, true) else {
            return;
        };
        ids.push(id);
    }
    let (db, out) = ctx.db_out();
    let Ok(Some(s)) = typed_mut::<Stream>(db, out, key) else {
        return;
    };
    let Some(g) = s.groups.get_mut(name) else {
        return out.int(0);
    };
    let n = ids.into_iter().filter(|id| g.ack(*id)).count();
    out.int(n as i64);
    if n > 0 {
        ctx.modified(key);
    }
}

fn xpending(ctx: &mut Ctx, args: Args) {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return ctx.out.error(SYNTAX);
    }
    let (key, name) = (args.get(1), args.get(2));
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if eq_ic(args.get(3), "idle") {
            let Some(n) = int_arg(ctx, args.get(4)) else {
                return;
            };
            if argc < 8 {
                return ctx.out.error(SYNTAX);
            }
            min_idle = n;
            at += 2;
        }
        let Some(count) = int_arg(ctx, args.get(at + 2)) else {
            return;
        };
        let Some(start) = bound_arg(ctx, args.get(at), true) else {
            return;
        };
        let Some(end) = bound_arg(ctx, args.get(at + 1), false) else {
            return;
        };
        let consumer = (at + 3 < argc).then(|| args.get(at + 3));
        range = Some((start, end, count.max(0) as usize, min_idle, consumer));
    }
    let (db, out) = ctx.db_out();
    let s = match typed_mut::<Stream>(db, out, key) {
        Err(()) => return,
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.groups.get(name)) else {
        return nogroup(ctx, key, name, "");
    };
    let Some((start, end, count, min_idle, consumer)) = range else {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.first_key_value(), g.pel.last_key_value()) {
            (Some((a, _)), Some((b, _))) => {
                reply_id(out, *a);
                reply_id(out, *b);
                let owners: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array(owners.len());
                for (n, c) in owners {
                    out.array(2);
                    out.bulk(n);
                    out.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return;
    };
    let now = clock::now();
    let ids: Vec<StreamId> = match consumer {
        Some(c) => match g.consumers.get(c) {
            Some(c) => c.pel.range(start..=end.max(start)).copied().collect(),
            None => return out.array(0),
        },
        None => g
            .pel
            .range(start..=end.max(start))
            .map(|(k, _)| *k)
            .collect(),
    };
    let rows: Vec<_> = ids
        .into_iter()
        .filter(|id| *id <= end)
        .filter_map(|id| g.pel.get(&id).map(|n| (id, n)))
        .filter(|(_, n)| min_idle == 0 || now - n.delivery_time >= min_idle)
        .take(count)
        .collect();
    out.array(rows.len());
    for (id, n) in rows {
        out.array(4);
        reply_id(out, id);
        out.bulk(&n.consumer);
        out.int((now - n.delivery_time).max(0));
        out.int(n.delivery_count as i64);
    }
}

fn idle_arg(ctx: &mut Ctx, a: &[u8], what: &str) -> Option<i64> {
    let n = parse_i64(a);
    if n.is_none() {
        ctx.out.error(&format!("ERR Invalid {what}"));
    }
    n
}

fn xclaim(ctx: &mut Ctx, args: Args) {
    let (key, name, cons) = (args.get(1), args.get(2), args.get(3));
    {
        let (db, out) = ctx.db_out();
        match typed_mut::<Stream>(db, out, key) {
            Err(()) => return,
            Ok(Some(s)) if s.groups.contains_key(name) => {}
            Ok(_) => return nogroup(ctx, key, name, ""),
        }
    }
    let Some(min_idle) = idle_arg(ctx, args.get(4), "min-idle-time argument for XCLAIM") else {
        return;
    };
    let min_idle = min_idle.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(args.get(j), 0, true) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let now = clock::now();
    let (mut force, mut justid) = (false, false);
    let (mut delivery, mut retry, mut last_id) = (None::<i64>, None::<i64>, StreamId::MIN);
    while j < args.len() {
        let more = args.len() - 1 - j;
        let o = args.get(j);
        if eq_ic(o, "force") {
            force = true;
        } else if eq_ic(o, "justid") {
            justid = true;
        } else if eq_ic(o, "idle") && more > 0 {
            j += 1;
            let Some(n) = idle_arg(ctx, args.get(j), "IDLE option argument for XCLAIM") else {
                return;
            };
            delivery = Some(now - n);
        } else if eq_ic(o, "time") && more > 0 {
            j += 1;
            let Some(n) = idle_arg(ctx, args.get(j), "TIME option argument for XCLAIM") else {
                return;
            };
            delivery = Some(n);
        } else if eq_ic(o, "retrycount") && more > 0 {
            j += 1;
            let Some(n) = idle_arg(ctx, args.get(j), "RETRYCOUNT option argument for XCLAIM")
            else {
                return;
            };
            retry = Some(n);
        } else if eq_ic(o, "lastid") && more > 0 {
            j += 1;
            let Some(id) = id_arg(ctx, args.get(j), 0, true) else {
                return;
            };
            last_id = id;
        } else {
            return ctx.out.error(&format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(o)
            ));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(t) if t >= 0 && t <= now => t,
        _ => now,
    };
    let mut ops: GroupOps = ctx.srv.data.prop.on().then(Vec::new);
    let (db, out) = ctx.db_out();
    let Ok(Some(s)) = typed_mut::<Stream>(db, out, key) else {
        return;
    };
    let Stream {
        entries, groups, ..
    } = s;
    let Some(g) = groups.get_mut(name) else {
        return;
    };
    let had_consumer = g.consumers.contains_key(cons);
    let new_last_id = last_id > g.last_id;
    if new_last_id {
        g.last_id = last_id;
    }
    let mut claimed: Vec<StreamId> = Vec::new();
    for id in ids {
        let pending = g.pel.get(&id).cloned();
        if !entries.contains(id) {
            if let Some(n) = pending {
                // The other side drops it too (its entry is gone there as well).
                if let Some(ops) = ops.as_mut() {
                    ops.push(xclaim_op(key, name, g, id, &n));
                }
                g.ack(id);
            }
            continue;
        }
        let pending = match pending {
            Some(p) => Some(p),
            // FORCE creates the pending entry, as delivered once to nobody yet.
            None if force => Some(crate::types::stream::Nack {
                consumer: Box::default(),
                delivery_time: now,
                delivery_count: 1,
            }),
            None => None,
        };
        let Some(n) = pending else { continue };
        if !n.consumer.is_empty() && min_idle > 0 && now - n.delivery_time < min_idle {
            continue;
        }
        g.consumer(cons, now);
        let count = match retry {
            Some(r) if r >= 0 => r as u64,
            _ if !justid => n.delivery_count + 1,
            _ => n.delivery_count,
        };
        g.assign(id, cons, delivery, count);
        if let (Some(ops), Some(n)) = (ops.as_mut(), g.pel.get(&id)) {
            ops.push(xclaim_op(key, name, g, id, n));
        }
        claimed.push(id);
    }
    // A new LASTID alone travels as XGROUP SETID (XCLAIM's LASTID carries it otherwise).
    if let Some(ops) = ops.as_mut() {
        if new_last_id && ops.is_empty() {
            ops.push(setid_op(key, name, g));
        }
    }
    out.array(claimed.len());
    for id in claimed {
        match (justid, entries.get(id)) {
            (false, Some(f)) => reply_entry(out, id, f),
            _ => reply_id(out, id),
        }
    }
    if !had_consumer && g.consumers.contains_key(cons) {
        consumer_created(ctx, key);
    }
    ctx.modified(key);
    push_group_ops(ctx, ops);
}

fn xautoclaim(ctx: &mut Ctx, args: Args) {
    let (key, name, cons) = (args.get(1), args.get(2), args.get(3));
    let Some(min_idle) = idle_arg(ctx, args.get(4), "min-idle-time argument for XAUTOCLAIM") else {
        return;
    };
    let min_idle = min_idle.max(0);
    let Some(start) = bound_arg(ctx, args.get(5), true) else {
        return;
    };
    let (mut count, mut justid) = (100i64, false);
    let mut j = 6;
    while j < args.len() {
        let o = args.get(j);
        if eq_ic(o, "count") && j + 1 < args.len() {
            match parse_i64(args.get(j + 1)) {
                Some(n) if (1..=i64::MAX / 16).contains(&n) => count = n,
                _ => return ctx.out.error("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if eq_ic(o, "justid") {
            justid = true;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let mut ops: GroupOps = ctx.srv.data.prop.on().then(Vec::new);
    let (db, out) = ctx.db_out();
    let s = match typed_mut::<Stream>(db, out, key) {
        Err(()) => return,
        Ok(s) => s,
    };
    let Some(s) = s.filter(|s| s.groups.contains_key(name)) else {
        return nogroup(ctx, key, name, "");
    };
    let Stream {
        entries, groups, ..
    } = s;
    let Some(g) = groups.get_mut(name) else {
        return;
    };
    let had_consumer = g.consumers.contains_key(cons);
    let now = clock::now();
    let mut attempts = count.saturating_mul(10);
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    let mut cursor = start;
    let mut next = StreamId::MIN;
    while let Some((&id, n)) = g.pel.range(cursor..).next() {
        if attempts == 0 || count == 0 {
            next = id;
            break;
        }
        attempts -= 1;
        cursor = match id.incr() {
            Some(c) => c,
            None => StreamId::MAX,
        };
        if !entries.contains(id) {
            if let Some(ops) = ops.as_mut() {
                ops.push(xclaim_op(key, name, g, id, n));
            }
            g.ack(id);
            deleted.push(id);
            count -= 1;
        } else if min_idle == 0 || now - n.delivery_time >= min_idle {
            let dc = n.delivery_count + u64::from(!justid);
            g.consumer(cons, now);
            g.assign(id, cons, now, dc);
            if let (Some(ops), Some(n)) = (ops.as_mut(), g.pel.get(&id)) {
                ops.push(xclaim_op(key, name, g, id, n));
            }
            claimed.push(id);
            count -= 1;
        }
        if id == StreamId::MAX {
            break;
        }
    }
    out.array(3);
    reply_id(out, next);
    out.array(claimed.len());
    for id in claimed {
        match (justid, entries.get(id)) {
            (false, Some(f)) => reply_entry(out, id, f),
            _ => reply_id(out, id),
        }
    }
    out.array(deleted.len());
    for id in deleted {
        reply_id(out, id);
    }
    if !had_consumer && g.consumers.contains_key(cons) {
        consumer_created(ctx, key);
    }
    ctx.modified(key);
    push_group_ops(ctx, ops);
}

// ---------------- XINFO ----------------

fn existing_stream<'a>(
    db: &'a mut crate::keyspace::Db,
    out: &mut Reply,
    key: &[u8],
) -> Option<&'a mut Stream> {
    match typed_mut::<Stream>(db, out, key) {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            out.error("ERR no such key");
            None
        }
        Err(()) => None,
    }
}

fn reply_lag(out: &mut Reply, s: &Stream, g: &Group) {
    match s.lag(g) {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

fn reply_entries_read(out: &mut Reply, g: &Group) {
    if g.entries_read == ENTRIES_READ_INVALID {
        out.null()
    } else {
        out.int(g.entries_read)
    }
}

fn xinfo_stream(ctx: &mut Ctx, args: Args) {
    let opts = args.len() - 3;
    let mut full = false;
    let mut count = 10usize;
    if opts > 0 {
        if (opts != 1 && opts != 3) || !eq_ic(args.get(3), "full") {
            return subcommand_syntax(ctx, args);
        }
        full = true;
        if opts == 3 {
            if !eq_ic(args.get(4), "count") {
                return subcommand_syntax(ctx, args);
            }
            let Some(n) = int_arg(ctx, args.get(5)) else {
                return;
            };
            count = if n < 0 { 10 } else { n as usize };
        }
    }
    let (db, out) = ctx.db_out();
    let Some(s) = existing_stream(db, out, args.get(2)) else {
        return;
    };
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.node_count() as i64 + 1);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        out.bulk(b"first-entry");
        match s.entries.first() {
            Some((id, f)) => reply_entry(out, id, f),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.entries.last() {
            Some((id, f)) => reply_entry(out, id, f),
            None => out.null(),
        }
        return;
    }
    let limit = if count == 0 { usize::MAX } else { count };
    out.bulk(b"entries");
    reply_range(out, s, StreamId::MIN, StreamId::MAX, false, count);
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g);
        out.bulk(b"lag");
        reply_lag(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let n = g.pel.len().min(limit);
        out.array(n);
        for (id, nack) in g.pel.iter().take(n) {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let n = c.pel.len().min(limit);
            out.array(n);
            for id in c.pel.iter().take(n) {
                let nack = g.pel.get(id);
                out.array(3);
                reply_id(out, *id);
                out.int(nack.map_or(0, |x| x.delivery_time));
                out.int(nack.map_or(0, |x| x.delivery_count as i64));
            }
        }
    }
}

fn xinfo_groups(ctx: &mut Ctx, args: Args) {
    let (db, out) = ctx.db_out();
    let Some(s) = existing_stream(db, out, args.get(2)) else {
        return;
    };
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g);
        out.bulk(b"lag");
        reply_lag(out, s, g);
    }
}

fn xinfo_consumers(ctx: &mut Ctx, args: Args) {
    let (key, name) = (args.get(2), args.get(3));
    let (db, out) = ctx.db_out();
    let Some(s) = existing_stream(db, out, key) else {
        return;
    };
    let Some(g) = s.groups.get(name) else {
        return no_such_group(out, name, key);
    };
    let now = clock::now();
    out.array(g.consumers.len());
    for (cname, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(cname);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int((now - c.seen_time).max(0));
    }
}

fn xinfo_help(ctx: &mut Ctx, _: Args) {
    super::server::help(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
}
