//! MIGRATE: move keys to another server with RESTORE, over an outgoing link
//! (`crate::link`), TLS when `tls-cluster` is yes.
//!
//! Redis stops the whole server while it waits for the target. Here the calling client
//! alone waits (blocked, as BLPOP is) while the event loop serves every other client; the
//! link answers it when the target has replied to every RESTORE, or fails it when a step
//! (connect, write, each reply) takes longer than the timeout. Inside MULTI/EXEC or a
//! script, where a client cannot block, MIGRATE waits on the link's socket as Redis does.
//!
//! Since other clients run during the transfer, a key may be written here after it was
//! sent: the target then holds an older value. Such a key is kept (a key is deleted only
//! while its value and TTL are still those sent), and the reply says so: nothing is lost.
//!
//! The payloads are ferrokv's DUMP format, so the target must be a ferrokv server.
//! Connections are kept per target for 10 s and reused, as Redis's are; a cached one that
//! fails before any reply (the target closed it meanwhile) is retried once on a new one.
use super::*;
use crate::keyspace::clock;
use crate::keyspace::NO_EXPIRE;
use crate::link::{self, Owner, Progress};
use crate::notify::{self, notify};
use crate::resp::client::{encode_command, Value};
use crate::util::eq_ic;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub static COMMANDS: &[Command] = &[cmd(
    "migrate",
    -6,
    WRITE | MOVABLE_KEYS,
    KEYSPACE | DANGEROUS,
    migrate,
)
.doc(
    "Atomically transfer a key from a Redis instance to another one.",
    "2.6.0",
)];

const CONNECT_ERR: &str = "IOERR error or timeout connecting to the client";
const WRITE_ERR: &str = "IOERR error or timeout writing to target instance";
const READ_ERR: &str = "IOERR error or timeout reading to target instance";

/// MIGRATE's connections and transfers.
#[derive(Default)]
pub struct State {
    /// Idle connections by "host:port" (link slab indexes).
    cache: HashMap<String, usize>,
    /// Transfers in flight, by link.
    inflight: HashMap<usize, Transfer>,
}

impl State {
    /// INFO migrate_cached_sockets.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// One MIGRATE: what to send, and what to do with the answers.
struct Transfer {
    /// The waiting client (slab index and id: the position may be reused if it goes away).
    client: usize,
    client_id: u64,
    host: String,
    port: u16,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    step: Duration,
    auth: Vec<Vec<u8>>,
    dbid: i64,
    /// The RESTORE commands, back to back.
    restores: Vec<u8>,
    /// Per key: the key, where its payload is in `restores`, its expiry when sent.
    keys: Vec<(Vec<u8>, std::ops::Range<usize>, i64)>,
    copy: bool,
    /// AUTH and SELECT sent before the RESTOREs on the current link (their replies first).
    setup: usize,
    select: bool,
    /// The current link came from the cache, and no retry was made yet.
    may_retry: bool,
}

impl Transfer {
    fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
///         [AUTH password | AUTH2 username password] [KEYS key [key ...]]
fn migrate(ctx: &mut Ctx, args: Args) {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Vec<&[u8]> = Vec::new();
    let (mut first_key, mut num_keys) = (3, 1);
    let mut j = 6;
    while j < args.len() {
        let a = args.get(j);
        let more = args.len() - 1 - j;
        if eq_ic(a, "copy") {
            copy = true;
        } else if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "auth") && more >= 1 {
            auth = vec![args.get(j + 1)];
            j += 1;
        } else if eq_ic(a, "auth2") && more >= 2 {
            auth = vec![args.get(j + 1), args.get(j + 2)];
            j += 2;
        } else if eq_ic(a, "keys") {
            if !args.get(3).is_empty() {
                return ctx.out.error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
            }
            first_key = j + 1;
            num_keys = args.len() - j - 1;
            break;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let Some(timeout) = int_arg(ctx, args.get(5)) else {
        return;
    };
    let Some(dbid) = int_arg(ctx, args.get(4)) else {
        return;
    };
    let step = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    // The keys still here, with their payloads and expiry times.
    let mut restores = Vec::new();
    let mut keys = Vec::new();
    let now = clock::now();
    let compress = ctx.srv.cfg.rdbcompression;
    // A cluster's target takes them for a slot it imports (Redis sends RESTORE-ASKING).
    let restore: &[u8] = if ctx.srv.cluster.is_some() {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    for k in args.iter().skip(first_key).take(num_keys) {
        let Some(e) = ctx.dbm().get(k) else { continue };
        let expire = e.expire();
        let ttl = match expire {
            NO_EXPIRE => 0,
            at => (at - now).max(1),
        };
        let payload = crate::persist::codec::serialize(e.val(), compress);
        let ttl = ttl.to_string();
        let mut words: Vec<&[u8]> = vec![restore, k, ttl.as_bytes(), &payload];
        if replace {
            words.push(b"REPLACE");
        }
        encode_command(&mut restores, words.iter().copied());
        // The payload is the last word but REPLACE: "$len\r\n<payload>\r\n[$7\r\nREPLACE\r\n]".
        let end = restores.len() - 2 - if replace { 13 } else { 0 };
        let span = end - payload.len()..end;
        debug_assert_eq!(&restores[span.clone()], &payload[..]);
        keys.push((k.to_vec(), span, expire));
    }
    if keys.is_empty() {
        return ctx.out.simple("NOKEY");
    }
    let Ok(port) = std::str::from_utf8(args.get(2))
        .unwrap_or("")
        .parse::<u16>()
    else {
        return ctx.out.error(CONNECT_ERR);
    };
    let transfer = Transfer {
        client: ctx.id,
        client_id: ctx.srv.net.clients[ctx.id].id,
        host: String::from_utf8_lossy(args.get(1)).into_owned(),
        port,
        // Over TLS when the cluster bus is (tls-cluster), as Redis does.
        tls: match (ctx.srv.cfg.tls_cluster, &ctx.srv.net.tls_info.client_config) {
            (true, Some(c)) => Some(c.clone()),
            _ => None,
        },
        step,
        auth: auth.iter().map(|a| a.to_vec()).collect(),
        dbid,
        restores,
        keys,
        copy,
        setup: 0,
        select: false,
        may_retry: false,
    };
    if crate::blocking::may_block(ctx) {
        start(ctx, args, transfer);
    } else {
        run_waiting(ctx, transfer);
    }
}

/// A link to the target: a cached one, else a new one. None when the connect failed at once.
fn link_for(srv: &mut Server, t: &mut Transfer) -> Option<usize> {
    if let Some(idx) = srv.net.migrate.cache.remove(&t.target()) {
        if srv.net.links.contains(idx) {
            t.may_retry = true;
            srv.net.links[idx].owner = Owner::Migrate;
            return Some(idx);
        }
    }
    t.may_retry = false;
    let tls = t.tls.clone();
    link::open(srv, &t.host, t.port, tls, t.step, Owner::Migrate).ok()
}

/// Queue AUTH (every time), SELECT (when the link is on another database) and the
/// RESTOREs on link `idx`.
fn send(srv: &mut Server, idx: usize, t: &mut Transfer) -> Progress {
    let mut request = Vec::new();
    if !t.auth.is_empty() {
        let mut words: Vec<&[u8]> = vec![b"AUTH"];
        words.extend(t.auth.iter().map(|a| &a[..]));
        encode_command(&mut request, words.iter().copied());
    }
    t.select = srv.net.links[idx].db != Some(t.dbid);
    if t.select {
        let db = t.dbid.to_string();
        encode_command(&mut request, [&b"SELECT"[..], db.as_bytes()].into_iter());
    }
    t.setup = !t.auth.is_empty() as usize + t.select as usize;
    request.extend_from_slice(&t.restores);
    let n = t.setup + t.keys.len();
    link::send(srv, idx, &request, n, t.step)
}

/// The error a link that failed before answering everything means for MIGRATE.
fn link_error(srv: &Server, idx: usize) -> &'static str {
    match srv.net.links.get(idx) {
        Some(l) if l.state != link::State::Ready => CONNECT_ERR,
        Some(l) if !l.written() => WRITE_ERR,
        _ => READ_ERR,
    }
}

/// Start the transfer with the client blocked until the link answers (`on_link`).
fn start(ctx: &mut Ctx, args: Args, mut t: Transfer) {
    loop {
        let Some(idx) = link_for(ctx.srv, &mut t) else {
            return ctx.out.error(CONNECT_ERR);
        };
        if let Progress::Failed(_) = send(ctx.srv, idx, &mut t) {
            let err = link_error(ctx.srv, idx);
            link::close(ctx.srv, idx);
            if t.may_retry {
                continue;
            }
            return ctx.out.error(err);
        }
        crate::blocking::block(
            ctx,
            args,
            std::iter::empty(),
            0,
            |_, _, _| false,
            crate::blocking::TimeoutReply::Link,
        );
        ctx.srv.net.migrate.inflight.insert(idx, t);
        return;
    }
}

/// MIGRATE where the client cannot block (MULTI/EXEC, a script): wait for the target on
/// the link's socket, as Redis does.
fn run_waiting(ctx: &mut Ctx, mut t: Transfer) {
    loop {
        let Some(idx) = link_for(ctx.srv, &mut t) else {
            return ctx.out.error(CONNECT_ERR);
        };
        let mut failed = matches!(send(ctx.srv, idx, &mut t), Progress::Failed(_));
        if !failed {
            failed = matches!(link::wait(ctx.srv, idx), Progress::Failed(_));
        }
        let replies = link::take_replies(ctx.srv, idx);
        if failed && replies.is_empty() && t.may_retry {
            link::close(ctx.srv, idx);
            continue;
        }
        let err = failed.then(|| link_error(ctx.srv, idx));
        let db = finish(ctx, &t, &replies, err);
        done_with_link(ctx.srv, idx, &t, db, failed);
        return;
    }
}

/// The reactor: link `idx` (owned by MIGRATE) progressed.
pub fn on_link(srv: &mut Server, idx: usize, p: Progress) {
    let failed = match p {
        // MIGRATE's links are never raw.
        Progress::Nothing | Progress::Data => return,
        Progress::Replies if !srv.net.links[idx].settled() => return,
        Progress::Replies => false,
        Progress::Failed(e) => {
            crate::verbose!("MIGRATE to {}: {}", srv.net.links[idx].peer, e);
            true
        }
    };
    let Some(mut t) = srv.net.migrate.inflight.remove(&idx) else {
        link::close(srv, idx);
        return;
    };
    let replies = link::take_replies(srv, idx);
    let err = failed.then(|| link_error(srv, idx));
    if failed && replies.is_empty() && t.may_retry {
        // The cached connection was closed by the target: once more on a new one.
        link::close(srv, idx);
        retry(srv, t);
        return;
    }
    let mut db = None;
    let answered = crate::blocking::complete(srv, t.client, |ctx, _| {
        if ctx.srv.net.clients[ctx.id].id == t.client_id {
            db = finish(ctx, &t, &replies, err);
        }
    });
    if !answered {
        crate::warn!(
            "MIGRATE to {}: the client went away before the target answered; its keys are kept here",
            t.target()
        );
    }
    t.may_retry = false;
    done_with_link(srv, idx, &t, db, failed);
}

/// Send a transfer again on a new link (its client still waiting).
fn retry(srv: &mut Server, mut t: Transfer) {
    t.may_retry = false;
    let tls = t.tls.clone();
    let idx = match link::open(srv, &t.host, t.port, tls, t.step, Owner::Migrate) {
        Ok(idx) => idx,
        Err(_) => {
            crate::blocking::complete(srv, t.client, |ctx, _| ctx.out.error(CONNECT_ERR));
            return;
        }
    };
    match send(srv, idx, &mut t) {
        Progress::Failed(_) => {
            let err = link_error(srv, idx);
            link::close(srv, idx);
            crate::blocking::complete(srv, t.client, |ctx, _| ctx.out.error(err));
        }
        _ => {
            srv.net.migrate.inflight.insert(idx, t);
        }
    }
}

/// After a transfer: a link that answered everything is kept for the next MIGRATE to
/// the same target (on database `db` if a SELECT succeeded); any other is closed.
fn done_with_link(
    srv: &mut Server,
    idx: usize,
    t: &Transfer,
    db: Option<Option<i64>>,
    failed: bool,
) {
    if failed || !srv.net.links.contains(idx) || !srv.net.links[idx].settled() {
        link::close(srv, idx);
        return;
    }
    let l = &mut srv.net.links[idx];
    if let Some(db) = db {
        l.db = db;
    }
    l.owner = Owner::Idle;
    l.last_use = Instant::now();
    let target = t.target();
    if srv.net.migrate.cache.contains_key(&target) || srv.net.migrate.cache.len() >= CACHE_MAX {
        // One per target (another transfer cached its own meanwhile), and at most CACHE_MAX.
        link::close(srv, idx);
        return;
    }
    srv.net.migrate.cache.insert(target, idx);
}

/// Answer MIGRATE from the target's replies (`err`: the link failed before all came):
/// delete the keys the target took (unless COPY) and still as sent. Returns the link's
/// database after the SELECT (None: no SELECT was sent).
fn finish(
    ctx: &mut Ctx,
    t: &Transfer,
    replies: &[Value],
    err: Option<&str>,
) -> Option<Option<i64>> {
    if replies.len() < t.setup {
        ctx.out.error(err.unwrap_or(READ_ERR));
        return t.select.then_some(None);
    }
    let target_said = |v: &Value| {
        format!(
            "ERR Target instance replied with error: {}",
            String::from_utf8_lossy(v.error_text().unwrap_or_default()).trim_end()
        )
    };
    // An AUTH or SELECT error fails every RESTORE; the first error is the reply.
    let mut failure = replies[..t.setup]
        .iter()
        .find(|r| r.is_error())
        .map(target_said);
    let setup_failed = failure.is_some();
    let db = t
        .select
        .then(|| (!replies[t.setup - 1].is_error()).then_some(t.dbid));
    // MIGRATE propagates as the DEL of the keys that left (nothing when none did).
    let mut gone: Vec<&[u8]> = vec![b"DEL"];
    let mut changed = 0;
    for (i, (k, span, expire)) in t.keys.iter().enumerate() {
        match replies.get(t.setup + i) {
            None => {
                failure.get_or_insert_with(|| err.unwrap_or(READ_ERR).to_string());
                break;
            }
            Some(r) if r.is_error() => {
                failure.get_or_insert_with(|| target_said(r));
            }
            // Each key the target took is gone from here (unless COPY), if it is still
            // what was sent.
            Some(_) if !setup_failed && !t.copy => {
                let compress = ctx.srv.cfg.rdbcompression;
                let same = ctx.dbm().get(k).is_some_and(|e| {
                    e.expire() == *expire
                        && crate::persist::codec::serialize(e.val(), compress)
                            == t.restores[span.clone()]
                });
                if !same {
                    changed += 1;
                    continue;
                }
                ctx.dbm().remove(k);
                ctx.modified(k);
                notify(ctx, notify::GENERIC, "del", k);
                gone.push(k);
            }
            Some(_) => {}
        }
    }
    if gone.len() > 1 {
        ctx.propagate_as(&gone);
    }
    match failure {
        Some(e) => ctx.out.error(&e),
        None if changed > 0 => ctx.out.error(&format!(
            "ERR {changed} key(s) were written here while being migrated: the target has the value sent, this instance kept the newer one"
        )),
        None => ctx.out.ok(),
    }
    db
}

/// At most this many targets are kept; an idle connection is closed after `CACHE_TTL`.
const CACHE_MAX: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);

/// Cron: close the connections idle for longer than `CACHE_TTL`, and those gone.
pub fn close_idle(srv: &mut Server) {
    let stale: Vec<(String, usize)> = srv
        .net
        .migrate
        .cache
        .iter()
        .filter(|(_, &i)| {
            srv.net
                .links
                .get(i)
                .is_none_or(|l| l.last_use.elapsed() > CACHE_TTL)
        })
        .map(|(t, &i)| (t.clone(), i))
        .collect();
    for (target, idx) in stale {
        srv.net.migrate.cache.remove(&target);
        link::close(srv, idx);
    }
}

/// The reactor: an idle cached link had an event (the target closed it, or sent what
/// nobody asked for): it is closed.
pub fn on_idle_link(srv: &mut Server, idx: usize, p: Progress) {
    if p == Progress::Nothing {
        return;
    }
    srv.net.migrate.cache.retain(|_, &mut i| i != idx);
    link::close(srv, idx);
}
