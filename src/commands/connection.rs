//! Connection commands: PING ECHO QUIT SELECT SWAPDB HELLO RESET AUTH CLIENT.
use super::*;
use crate::server::{Pause, ReplyMode};
use crate::util::eq_ic;
use std::time::{Duration, Instant};

pub static COMMANDS: &[Command] = &[
    cmd("ping", -1, FAST, CONNECTION, ping),
    cmd("echo", 2, LOADING | STALE | FAST, CONNECTION, echo),
    cmd(
        "quit",
        -1,
        ALLOW_BUSY | NOSCRIPT | NO_AUTH | FAST | LOADING | STALE | TX_CONTROL | TX_LEAVE,
        CONNECTION,
        quit,
    ),
    cmd("select", 2, LOADING | STALE | FAST, CONNECTION, select),
    cmd("swapdb", 3, WRITE | FAST, KEYSPACE | DANGEROUS, swapdb),
    cmd(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        CONNECTION,
        hello,
    ),
    cmd(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | TX_CONTROL | TX_LEAVE,
        CONNECTION,
        reset,
    ),
    cmd(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        CONNECTION,
        auth,
    ),
    cmd("client", -2, SKIP_SLOWLOG, CONNECTION, container).subs(CLIENT),
];

static CLIENT: &[Command] = &[
    cmd("id", 2, NOSCRIPT | LOADING | STALE, CONNECTION, client_id),
    cmd(
        "setname",
        3,
        NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_setname,
    ),
    cmd(
        "getname",
        2,
        NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_getname,
    ),
    cmd(
        "list",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_list,
    ),
    cmd(
        "info",
        2,
        NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_info,
    ),
    cmd(
        "kill",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_kill,
    ),
    cmd(
        "no-evict",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_no_evict,
    ),
    cmd(
        "pause",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_pause,
    ),
    cmd(
        "unblock",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        CONNECTION,
        crate::blocking::client_unblock_command,
    ),
    cmd(
        "unpause",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_unpause,
    ),
    cmd(
        "reply",
        3,
        NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_reply,
    ),
    cmd("help", 2, LOADING | STALE, CONNECTION, client_help),
    cmd(
        "tracking",
        -3,
        NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_tracking,
    ),
    cmd(
        "caching",
        3,
        NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_caching,
    ),
    cmd(
        "getredir",
        2,
        NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_getredir,
    ),
    cmd(
        "trackinginfo",
        2,
        NOSCRIPT | LOADING | STALE,
        CONNECTION,
        client_trackinginfo,
    ),
];

fn ping(ctx: &mut Ctx, args: Args) {
    if args.len() <= 2 && !ctx.out.resp3 && ctx.client().subs.any() {
        // RESP2 Pub/Sub mode: PING answers in the message shape.
        ctx.out.bulks([
            &b"pong"[..],
            if args.len() == 2 { args.get(1) } else { b"" },
        ]);
        return;
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => ctx
            .out
            .error("ERR wrong number of arguments for 'ping' command"),
    }
}

fn echo(ctx: &mut Ctx, args: Args) {
    ctx.out.bulk(args.get(1));
}

fn quit(ctx: &mut Ctx, _: Args) {
    ctx.out.ok();
    ctx.client().close_after_reply = true;
}

fn select(ctx: &mut Ctx, args: Args) {
    let Some(n) = crate::util::parse_i64(args.get(1)) else {
        return ctx.out.error("ERR value is not an integer or out of range");
    };
    if ctx.srv.cluster.is_some() && n != 0 {
        return ctx.out.error("ERR SELECT is not allowed in cluster mode");
    }
    if n < 0 || n >= ctx.srv.data.ks.dbs.len() as i64 {
        return ctx.out.error("ERR DB index is out of range");
    }
    ctx.db = n as usize;
    ctx.client().db = n as usize;
    ctx.out.ok();
}

fn swapdb(ctx: &mut Ctx, args: Args) {
    if ctx.srv.cluster.is_some() {
        return ctx.out.error("ERR SWAPDB is not allowed in cluster mode");
    }
    let n = ctx.srv.data.ks.dbs.len() as i64;
    let (Some(a), Some(b)) = (
        crate::util::parse_i64(args.get(1)),
        crate::util::parse_i64(args.get(2)),
    ) else {
        return ctx.out.error("ERR invalid first DB index");
    };
    if a < 0 || a >= n || b < 0 || b >= n {
        return ctx.out.error("ERR DB index is out of range");
    }
    crate::commands::multi::touch_swap(ctx.srv, a as usize, b as usize);
    ctx.srv.data.ks.dbs.swap(a as usize, b as usize);
    crate::blocking::signal_db(ctx.srv, a as usize);
    crate::blocking::signal_db(ctx.srv, b as usize);
    ctx.srv.data.dirty += 1;
    ctx.out.ok();
}

fn auth(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let (user, pass) = if args.len() == 3 {
        (args.get(1), args.get(2))
    } else {
        (&b"default"[..], args.get(1))
    };
    if args.len() == 2 && ctx.srv.admin.acl.user(b"default").is_some_and(|u| u.nopass) {
        return ctx.out.error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    if crate::acl::authenticate(ctx.srv, ctx.id, user, pass, args.get(0)) {
        ctx.out.ok();
    } else {
        ctx.out.error(crate::acl::WRONGPASS);
    }
}

fn hello(ctx: &mut Ctx, args: Args) {
    let mut ver = None;
    let mut i = 1;
    if args.len() >= 2 {
        match crate::util::parse_i64(args.get(1)) {
            Some(v) if v == 2 || v == 3 => ver = Some(v),
            Some(_) => return ctx.out.error("NOPROTO unsupported protocol version"),
            None => {
                return ctx
                    .out
                    .error("ERR Protocol version is not an integer or out of range")
            }
        }
        i = 2;
    }
    let mut setname = None;
    while i < args.len() {
        let opt = args.get(i);
        if eq_ic(opt, "auth") && i + 2 < args.len() {
            let (u, p) = (args.get(i + 1), args.get(i + 2));
            if !crate::acl::authenticate(ctx.srv, ctx.id, u, p, args.get(0)) {
                return ctx.out.error(crate::acl::WRONGPASS);
            }
            i += 3;
        } else if eq_ic(opt, "setname") && i + 1 < args.len() {
            let name = args.get(i + 1);
            if let Err(e) = valid_name(name) {
                return ctx.out.error(e);
            }
            setname = Some(name.to_vec());
            i += 2;
        } else {
            return ctx.out.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if !ctx.client().authenticated {
        return ctx.out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = setname {
        ctx.client().name = if n.is_empty() { None } else { Some(n) };
    }
    if let Some(v) = ver {
        ctx.out.resp3 = v == 3;
    }
    let id = ctx.client().id;
    let proto = if ctx.out.resp3 { 3 } else { 2 };
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk_str("server");
    out.bulk_str("redis");
    out.bulk_str("version");
    out.bulk_str(crate::REDIS_VERSION);
    out.bulk_str("proto");
    out.int(proto);
    out.bulk_str("id");
    out.int(id as i64);
    out.bulk_str("mode");
    out.bulk_str("standalone");
    out.bulk_str("role");
    out.bulk_str("master");
    out.bulk_str("modules");
    out.array(0);
}

fn reset(ctx: &mut Ctx, _: Args) {
    crate::commands::multi::discard_tx(ctx.srv, ctx.id);
    crate::tracking::disable(ctx.srv, ctx.id);
    crate::commands::pubsub::reset_client(ctx.srv, ctx.id);
    ctx.db = 0;
    ctx.out.resp3 = false;
    let requirepass = ctx.srv.admin.acl.auth_required();
    let c = ctx.client();
    c.db = 0;
    c.name = None;
    c.reply_mode = ReplyMode::On;
    c.no_evict = false;
    c.user = "default".into();
    c.authenticated = !requirepass;
    let was_monitor = std::mem::replace(&mut c.monitor, false);
    if was_monitor {
        let id = ctx.id;
        ctx.srv.admin.monitors.retain(|&m| m != id);
    }
    ctx.out.simple("RESET");
}

fn valid_name(name: &[u8]) -> Result<(), &'static str> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        Err("ERR Client names cannot contain spaces, newlines or special characters.")
    } else {
        Ok(())
    }
}

fn client_id(ctx: &mut Ctx, _: Args) {
    let id = ctx.client().id;
    ctx.out.int(id as i64);
}

fn client_setname(ctx: &mut Ctx, args: Args) {
    let name = args.get(2);
    if let Err(e) = valid_name(name) {
        return ctx.out.error(e);
    }
    ctx.client().name = if name.is_empty() {
        None
    } else {
        Some(name.to_vec())
    };
    ctx.out.ok();
}

fn client_getname(ctx: &mut Ctx, _: Args) {
    match ctx.client().name.clone() {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
}

/// One CLIENT LIST line for a client (without the trailing newline).
pub fn client_line(
    srv: &crate::server::Server,
    idx: usize,
    cur: Option<(usize, usize, bool)>,
) -> String {
    let c = &srv.net.clients[idx];
    let (db, resp3) = match cur {
        Some((i, db, r3)) if i == idx => (db, r3),
        _ => (c.db, c.out.resp3),
    };
    let now = Instant::now();
    // Flag letters in Redis's order.
    let mut flags = String::new();
    for (on, ch) in [
        (c.monitor, 'O'),
        (c.subs.any(), 'P'),
        (c.repl.as_ref().is_some_and(|r| r.is_replica()), 'S'),
        (c.is_master, 'M'),
        (c.tx.active, 'x'),
        (c.blocked.is_some(), 'b'),
        (c.trk.flags & crate::tracking::ON != 0, 't'),
        (c.trk.flags & crate::tracking::BROKEN_REDIR != 0, 'R'),
        (c.trk.flags & crate::tracking::BCAST != 0, 'B'),
        (c.tx.dirty_cas, 'd'),
        (c.close_after_reply, 'c'),
        (c.close_asap, 'A'),
        (c.kind == crate::server::ClientKind::Unix, 'U'),
        (c.no_evict, 'e'),
    ] {
        if on {
            flags.push(ch);
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let laddr = if c.kind == crate::server::ClientKind::Unix {
        c.unix_path.clone() + ":0"
    } else {
        c.local_addr()
    };
    // Output accounting as Redis's: a 16k reply buffer (obl), the rest as reply list (omem).
    const REPLY_BUF: usize = 16 * 1024;
    // (A replica's output includes the stream it has still to be given.)
    let pending = c.pending_output() + crate::replication::stream_pending(srv, c);
    let qbuf = c.rbuf.len() + c.qbuf_in_flight;
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd={} user={} redir={} resp={}",
        c.id,
        c.peer,
        laddr,
        idx + 8,
        String::from_utf8_lossy(c.name.as_deref().unwrap_or(b"")),
        now.duration_since(c.created).as_secs(),
        now.duration_since(c.last_interaction).as_secs(),
        flags,
        db,
        c.subs.channels(),
        c.subs.patterns(),
        c.subs.shard(),
        c.tx.list_count(),
        qbuf,
        c.rbuf.capacity().saturating_sub(qbuf),
        c.qbuf_in_flight,
        REPLY_BUF,
        pending.min(REPLY_BUF),
        pending.min(REPLY_BUF),
        usize::from(pending > REPLY_BUF),
        pending.saturating_sub(REPLY_BUF),
        c.rbuf.capacity() + c.out.buf.capacity() + pending.saturating_sub(c.pending_output()),
        if c.want_write { "rw" } else { "r" },
        c.last_cmd,
        c.user,
        redirect_of(c),
        if resp3 { 3 } else { 2 },
    )
}

fn client_info(ctx: &mut Ctx, _: Args) {
    let mut line = client_line(ctx.srv, ctx.id, Some((ctx.id, ctx.db, ctx.out.resp3)));
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
}

/// Whether a client is of a CLIENT LIST / KILL type (Redis's getClientType order: the
/// master, replicas, Pub/Sub subscribers, the others).
fn is_type(c: &crate::server::Client, t: &str) -> bool {
    let kind = if c.is_master {
        "master"
    } else if c.repl.as_ref().is_some_and(|r| r.is_replica()) {
        "replica"
    } else if pubsub_client(c) {
        "pubsub"
    } else {
        "normal"
    };
    kind == t || (t == "slave" && kind == "replica")
}

fn client_list(ctx: &mut Ctx, args: Args) {
    let mut filter_ids: Option<Vec<u64>> = None;
    let mut filter_type: Option<String> = None;
    let mut i = 2;
    while i < args.len() {
        if eq_ic(args.get(i), "type") && i + 1 < args.len() {
            let t = String::from_utf8_lossy(args.get(i + 1)).to_ascii_lowercase();
            if !matches!(
                t.as_str(),
                "normal" | "master" | "replica" | "slave" | "pubsub"
            ) {
                return ctx.out.error(&format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(args.get(i + 1))
                ));
            }
            filter_type = Some(t);
            i += 2;
        } else if eq_ic(args.get(i), "id") && i + 1 < args.len() {
            let mut ids = Vec::new();
            for a in args.iter().skip(i + 1) {
                match crate::util::parse_i64(a) {
                    Some(n) if n > 0 => ids.push(n as u64),
                    _ => return ctx.out.error("ERR Invalid client ID"),
                }
            }
            filter_ids = Some(ids);
            i = args.len();
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let mut s = String::new();
    let cur = Some((ctx.id, ctx.db, ctx.out.resp3));
    for (idx, c) in ctx.srv.net.clients.iter() {
        if c.kind == crate::server::ClientKind::Internal {
            // The server's own (an AOF being loaded), as Redis's fake clients.
            continue;
        }
        if let Some(ids) = &filter_ids {
            if !ids.contains(&c.id) {
                continue;
            }
        }
        if let Some(t) = &filter_type {
            if !is_type(c, t) {
                continue;
            }
        }
        s.push_str(&client_line(ctx.srv, idx, cur));
        s.push('\n');
    }
    ctx.out.verbatim(s.as_bytes());
}

fn client_kill(ctx: &mut Ctx, args: Args) {
    // Old form: CLIENT KILL addr:port
    if args.len() == 3 {
        let addr = args.get(2);
        let found = ctx
            .srv
            .net
            .clients
            .iter()
            .find(|(_, c)| c.peer.as_bytes() == addr)
            .map(|(i, _)| i);
        return match found {
            // Killing one's own connection answers +OK first, then closes (as Redis).
            Some(idx) if idx == ctx.id => {
                ctx.srv.net.clients[idx].close_after_reply = true;
                ctx.out.ok()
            }
            Some(idx) => {
                ctx.srv.net.clients[idx].close_asap = true;
                crate::replication::replica::on_client_killed(ctx.srv, idx);
                ctx.srv.mark_pending(idx);
                ctx.out.ok()
            }
            None => ctx.out.error("ERR No such client"),
        };
    }
    if !args.len().is_multiple_of(2) {
        return ctx.out.error(SYNTAX);
    }
    let (mut id, mut addr, mut laddr, mut user, mut ctype) = (None, None, None, None, None);
    let mut skipme = true;
    for p in (2..args.len()).step_by(2) {
        let (k, v) = (args.get(p), args.get(p + 1));
        if eq_ic(k, "id") {
            match crate::util::parse_i64(v) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return ctx.out.error("ERR client-id should be greater than 0"),
            }
        } else if eq_ic(k, "addr") {
            addr = Some(v.to_vec());
        } else if eq_ic(k, "laddr") {
            laddr = Some(v.to_vec());
        } else if eq_ic(k, "user") {
            if ctx.srv.admin.acl.user(v).is_none() {
                return ctx.out.error(&format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(v)
                ));
            }
            user = Some(v.to_vec());
        } else if eq_ic(k, "type") {
            let t = String::from_utf8_lossy(v).to_ascii_lowercase();
            if !matches!(
                t.as_str(),
                "normal" | "master" | "replica" | "slave" | "pubsub"
            ) {
                return ctx.out.error(&format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(v)
                ));
            }
            ctype = Some(t);
        } else if eq_ic(k, "skipme") {
            if eq_ic(v, "yes") {
                skipme = true;
            } else if eq_ic(v, "no") {
                skipme = false;
            } else {
                return ctx.out.error(SYNTAX);
            }
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let mut killed = 0;
    let me = ctx.id;
    let victims: Vec<usize> = ctx
        .srv
        .net
        .clients
        .iter()
        .filter(|(i, c)| {
            id.is_none_or(|x| c.id == x)
                && addr
                    .as_ref()
                    .is_none_or(|a| c.peer.as_bytes() == a.as_slice())
                && laddr
                    .as_ref()
                    .is_none_or(|a| c.local_addr().as_bytes() == a.as_slice())
                && user
                    .as_ref()
                    .is_none_or(|u| c.user.as_bytes() == u.as_slice())
                && ctype.as_ref().is_none_or(|t| is_type(c, t))
                && !(skipme && *i == me)
        })
        .map(|(i, _)| i)
        .collect();
    for v in victims {
        if v == me {
            ctx.srv.net.clients[v].close_after_reply = true;
        } else {
            ctx.srv.net.clients[v].close_asap = true;
            crate::replication::replica::on_client_killed(ctx.srv, v);
            ctx.srv.mark_pending(v);
        }
        killed += 1;
    }
    ctx.out.int(killed);
}

fn client_no_evict(ctx: &mut Ctx, args: Args) {
    let v = args.get(2);
    if eq_ic(v, "on") {
        ctx.client().no_evict = true;
    } else if eq_ic(v, "off") {
        ctx.client().no_evict = false;
    } else {
        return ctx.out.error(SYNTAX);
    }
    ctx.out.ok();
}

fn client_pause(ctx: &mut Ctx, args: Args) {
    let Some(ms) = crate::util::parse_i64(args.get(2)).filter(|&n| n >= 0) else {
        return ctx
            .out
            .error("ERR timeout is not an integer or out of range");
    };
    let write_only = match args.len() {
        3 => false,
        4 if eq_ic(args.get(3), "write") => true,
        4 if eq_ic(args.get(3), "all") => false,
        _ => return ctx.out.error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    // As Redis: the pause's end in unix ms must fit an i64.
    let until = match Instant::now().checked_add(Duration::from_millis(ms as u64)) {
        Some(t) if ms <= i64::MAX - crate::util::now_ms() => t,
        _ => return ctx.out.error("ERR timeout is out of range"),
    };
    // A new pause never shortens an existing one, as in Redis.
    let p = match ctx.srv.admin.pause {
        Some(old) if old.until > until => Pause {
            until: old.until,
            write_only: old.write_only && write_only,
        },
        _ => Pause { until, write_only },
    };
    ctx.srv.admin.set_pause(Some(p));
    ctx.out.ok();
}

fn client_unpause(ctx: &mut Ctx, _: Args) {
    ctx.srv.admin.set_pause(None);
    ctx.out.ok();
}

fn client_reply(ctx: &mut Ctx, args: Args) {
    let v = args.get(2);
    let mode = if eq_ic(v, "on") {
        ReplyMode::On
    } else if eq_ic(v, "off") {
        ReplyMode::Off
    } else if eq_ic(v, "skip") {
        ReplyMode::SkipNext
    } else {
        return ctx.out.error(SYNTAX);
    };
    let c = ctx.client();
    // SKIP while replies are OFF changes nothing, as in Redis.
    if !(mode == ReplyMode::SkipNext && c.reply_mode == ReplyMode::Off) {
        c.reply_mode = mode;
    }
    if mode == ReplyMode::On {
        ctx.out.ok();
    }
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP],
/// with Redis 7.0's checks and errors (see `crate::tracking`).
fn client_tracking(ctx: &mut Ctx, args: Args) {
    use crate::tracking::*;
    let mut redirect: i64 = 0;
    let mut redirect_idx = 0;
    let mut options = 0u8;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let a = args.get(j);
        let more = j + 1 < args.len();
        if eq_ic(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return ctx
                    .out
                    .error("ERR A client can only redirect to a single other client");
            }
            let Some(id) = int_arg(ctx, args.get(j)) else {
                return;
            };
            match ctx.srv.net.clients.iter().find(|(_, c)| c.id as i64 == id) {
                Some((idx, _)) => redirect_idx = idx,
                None => {
                    return ctx
                        .out
                        .error("ERR The client ID you want redirect to does not exist")
                }
            }
            redirect = id;
        } else if eq_ic(a, "bcast") {
            options |= BCAST;
        } else if eq_ic(a, "optin") {
            options |= OPTIN;
        } else if eq_ic(a, "optout") {
            options |= OPTOUT;
        } else if eq_ic(a, "noloop") {
            options |= NOLOOP;
        } else if eq_ic(a, "prefix") && more {
            j += 1;
            prefixes.push(args.get(j));
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let mode = args.get(2);
    if eq_ic(mode, "off") {
        crate::tracking::disable(ctx.srv, ctx.id);
        return ctx.out.ok();
    }
    if !eq_ic(mode, "on") {
        return ctx.out.error(SYNTAX);
    }
    let flags = ctx.client().trk.flags;
    let err = if options & BCAST == 0 && !prefixes.is_empty() {
        Some("ERR PREFIX option requires BCAST mode to be enabled")
    } else if flags & ON != 0 && (flags & BCAST) != (options & BCAST) {
        Some("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
    } else if options & BCAST != 0 && options & (OPTIN | OPTOUT) != 0 {
        Some("ERR OPTIN and OPTOUT are not compatible with BCAST")
    } else if options & OPTIN != 0 && options & OPTOUT != 0 {
        Some("ERR You can't specify both OPTIN mode and OPTOUT mode")
    } else if (options & OPTIN != 0 && flags & OPTOUT != 0)
        || (options & OPTOUT != 0 && flags & OPTIN != 0)
    {
        Some("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
    } else {
        None
    };
    if let Some(e) = err {
        return ctx.out.error(e);
    }
    if options & BCAST != 0 {
        if let Err(e) = crate::tracking::check_prefixes(ctx.srv, ctx.id, &prefixes) {
            return ctx.out.error(&e);
        }
    }
    crate::tracking::enable(
        ctx.srv,
        ctx.id,
        (redirect as u64, redirect_idx),
        options,
        &prefixes,
    );
    ctx.out.ok();
}

/// CLIENT CACHING YES|NO: whether the next command's keys are tracked (OPTIN / OPTOUT).
fn client_caching(ctx: &mut Ctx, args: Args) {
    use crate::tracking::*;
    let flags = ctx.client().trk.flags;
    if flags & ON == 0 {
        return ctx.out.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    let opt = args.get(2);
    if eq_ic(opt, "yes") {
        if flags & OPTIN == 0 {
            return ctx.out.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if eq_ic(opt, "no") {
        if flags & OPTOUT == 0 {
            return ctx.out.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return ctx.out.error(SYNTAX);
    }
    ctx.client().trk.flags |= CACHING;
    ctx.out.ok();
}

/// The redirect of a tracking client (0: none), -1 when tracking is off.
fn redirect_of(c: &crate::server::Client) -> i64 {
    if c.trk.flags & crate::tracking::ON != 0 {
        c.trk.redirect as i64
    } else {
        -1
    }
}

fn client_getredir(ctx: &mut Ctx, _: Args) {
    let r = redirect_of(ctx.client());
    ctx.out.int(r);
}

fn client_trackinginfo(ctx: &mut Ctx, _: Args) {
    use crate::tracking::*;
    let c = &ctx.srv.net.clients[ctx.id];
    let f = c.trk.flags;
    let mut flags = vec![if f & ON != 0 { "on" } else { "off" }];
    for (bit, name) in [(BCAST, "bcast"), (OPTIN, "optin")] {
        if f & bit != 0 {
            flags.push(name);
        }
    }
    if f & OPTIN != 0 && f & CACHING != 0 {
        flags.push("caching-yes");
    }
    if f & OPTOUT != 0 {
        flags.push("optout");
        if f & CACHING != 0 {
            flags.push("caching-no");
        }
    }
    if f & NOLOOP != 0 {
        flags.push("noloop");
    }
    if f & BROKEN_REDIR != 0 {
        flags.push("broken_redirect");
    }
    let redirect = redirect_of(c);
    let prefixes = c.trk.prefixes.clone();
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk_str("flags");
    out.set(flags.len());
    for f in flags {
        out.bulk_str(f);
    }
    out.bulk_str("redirect");
    out.int(redirect);
    out.bulk_str("prefixes");
    out.array(prefixes.len());
    for p in prefixes {
        out.bulk(&p);
    }
}

fn client_help(ctx: &mut Ctx, _: Args) {
    super::server::help(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    With tracking in OPTIN/OPTOUT mode: track (or not) the keys of the next command.",
            "GETNAME",
            "    The name of this connection.",
            "GETREDIR",
            "    The client id tracking invalidations go to (0: none, -1: tracking off).",
            "ID",
            "    The id of this connection.",
            "INFO",
            "    This connection's line of CLIENT LIST.",
            "KILL <ip:port> | KILL <option> <value> [<option> <value> [...]]",
            "    Close connections by address or by filters (ID, TYPE, USER, ADDR, LADDR, SKIPME).",
            "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
            "    One line per connection.",
            "NO-EVICT (ON|OFF)",
            "    Exempt this connection from client eviction.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Hold clients' commands (all, or writes only) for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Turn replies to this connection on or off, or skip the next one.",
            "SETNAME <name>",
            "    Name this connection.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Client-side caching: get invalidations for the keys read, or under prefixes.",
            "TRACKINGINFO",
            "    The tracking state of this connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Release a client blocked in a blocking command.",
            "UNPAUSE",
            "    End a CLIENT PAUSE.",
        ],
    );
}
