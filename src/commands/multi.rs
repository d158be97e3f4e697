//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH. A client in MULTI gets its commands
//! queued by `execute` (see `queues`); WATCH registers (db, key) -> clients so that a write
//! seen by `Ctx::modified`, FLUSHDB/FLUSHALL/SWAPDB or expiry marks the watchers dirty.
use super::*;
use crate::keyspace::{Key, NO_EXPIRE};

pub static COMMANDS: &[Command] = &[
    cmd(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | TX_CONTROL,
        TRANSACTION,
        multi,
    )
    .doc("Mark the start of a transaction block", "1.2.0"),
    cmd(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | TX_CONTROL | TX_EXEC,
        TRANSACTION,
        exec,
    )
    .doc("Execute all commands issued after MULTI", "1.2.0"),
    cmd(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | TX_CONTROL | TX_LEAVE,
        TRANSACTION,
        discard,
    )
    .doc("Discard all commands issued after MULTI", "2.0.0"),
    cmd(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | TX_CONTROL,
        TRANSACTION,
        watch,
    )
    .doc(
        "Watch the given keys to determine execution of the MULTI/EXEC block",
        "2.2.0",
    ),
    cmd(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        TRANSACTION,
        unwatch,
    )
    .doc("Forget about all watched keys", "2.2.0"),
];

/// One queued command: its table id and an owned copy of its arguments.
struct Queued {
    id: usize,
    buf: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

struct Watched {
    db: usize,
    key: Key,
    /// The key was already logically expired when watched: its deletion is no change.
    expired: bool,
}

/// Per-client transaction state.
#[derive(Default)]
pub struct Tx {
    /// Inside MULTI.
    pub active: bool,
    /// A command was rejected while queueing: EXEC answers EXECABORT.
    pub dirty_exec: bool,
    /// A watched key was touched: EXEC answers a null array.
    pub dirty_cas: bool,
    queued: Vec<Queued>,
    /// Union of the queued commands' flags (EXEC's OOM check), and of their inverses
    /// (EXEC of a queue holding a command without STALE, on a stale replica).
    queued_flags: u32,
    queued_inv_flags: u32,
    watched: Vec<Watched>,
}

impl Tx {
    /// The queued commands: table id and arguments (cluster routing of EXEC).
    pub fn queued(&self) -> impl Iterator<Item = (usize, crate::resp::Args<'_>)> {
        self.queued
            .iter()
            .map(|q| (q.id, crate::resp::Args::new(&q.buf, &q.spans)))
    }
    /// CLIENT LIST "multi=": queued commands, -1 outside MULTI.
    pub fn list_count(&self) -> i64 {
        if self.active {
            self.queued.len() as i64
        } else {
            -1
        }
    }
    pub fn watching(&self) -> usize {
        self.watched.len()
    }
}

/// Server-side WATCH registry: per database, key -> watching clients.
#[derive(Default)]
pub struct Watches {
    by_db: Vec<HashMap<Key, Vec<usize>>>,
    /// EXEC is running its queue (blocking commands must not block).
    pub in_exec: bool,
}

/// Whether `execute` should queue this command instead of running it.
#[inline]
/// `full_name` tells RESET from a subcommand also named "reset" (SLOWLOG RESET is queued).
pub fn queues(c: &Client, cmd: &Command) -> bool {
    c.tx.active && cmd.flags & TX_CONTROL == 0
}

/// Queue a command of a client in MULTI and reply +QUEUED.
pub fn queue(ctx: &mut Ctx, id: usize, args: Args) {
    // A script that declares its flags counts as a write unless it says no-writes (the
    // EXEC of it on a read-only replica is refused, a pause holds it, as Redis's).
    let flags = super::declared_flags(ctx.srv, ctx.srv.cmds.entries[id].cmd, args);
    let tx = &mut ctx.srv.net.clients[ctx.id].tx;
    // An already failed transaction keeps no memory for more commands.
    if !(tx.dirty_cas || tx.dirty_exec) {
        let mut buf = Vec::with_capacity(args.iter().map(|a| a.len()).sum());
        let mut spans = Vec::with_capacity(args.len());
        for a in args.iter() {
            let start = buf.len() as u32;
            buf.extend_from_slice(a);
            spans.push((start, buf.len() as u32));
        }
        tx.queued.push(Queued { id, buf, spans });
        tx.queued_flags |= flags;
        tx.queued_inv_flags |= !flags;
    }
    ctx.out.simple("QUEUED");
}

/// A command was rejected: a transaction in progress will abort at EXEC.
#[inline]
pub fn flag_error(srv: &mut Server, idx: usize) {
    if let Some(c) = srv.net.clients.get_mut(idx) {
        if c.tx.active {
            c.tx.dirty_exec = true;
        }
    }
}

/// A command's flags, for EXEC those of its queue as well (CLIENT PAUSE WRITE holds an
/// EXEC of writes).
pub fn effective_flags(c: &Client, cmd: &Command) -> u32 {
    if c.tx.active && cmd.flags & TX_EXEC != 0 {
        cmd.flags | c.tx.queued_flags
    } else {
        cmd.flags
    }
}

/// Whether a command lacks the STALE flag (EXEC: whether one of the queued commands
/// does), so a stale replica with replica-serve-stale-data no refuses it.
pub fn denies_stale(c: &Client, cmd: &Command) -> bool {
    if c.tx.active && cmd.flags & TX_EXEC != 0 {
        c.tx.queued_inv_flags & STALE != 0
    } else {
        cmd.flags & STALE == 0
    }
}

/// Whether the OOM check applies: denyoom commands, anything queued while in MULTI
/// (queueing itself uses memory) and EXEC of a queue holding a denyoom command.
pub fn oom_checked(c: &Client, cmd: &Command) -> bool {
    if cmd.flags & DENYOOM != 0 {
        return true;
    }
    if !c.tx.active {
        return false;
    }
    if cmd.flags & TX_EXEC != 0 {
        c.tx.queued_flags & DENYOOM != 0
    } else {
        cmd.flags & TX_LEAVE == 0
    }
}

/// The reply for a rejected EXEC (in MULTI or not, as Redis): any transaction is discarded.
pub fn exec_abort_message(srv: &mut Server, idx: usize, msg: &str) -> Option<String> {
    discard_tx(srv, idx);
    let msg = msg.strip_prefix("ERR ").unwrap_or(msg);
    Some(format!("EXECABORT Transaction discarded because of: {msg}"))
}

fn multi(ctx: &mut Ctx, _: Args) {
    let c = ctx.client();
    if c.tx.active {
        return ctx.out.error("ERR MULTI calls can not be nested");
    }
    c.tx.active = true;
    ctx.out.ok();
}

fn discard(ctx: &mut Ctx, _: Args) {
    if !ctx.client().tx.active {
        return ctx.out.error("ERR DISCARD without MULTI");
    }
    discard_tx(ctx.srv, ctx.id);
    ctx.out.ok();
}

fn exec(ctx: &mut Ctx, _: Args) {
    // The queued commands propagate themselves (wrapped in MULTI/EXEC when several).
    ctx.srv.data.prop.prevent();
    let idx = ctx.id;
    if !ctx.client().tx.active {
        return ctx.out.error("ERR EXEC without MULTI");
    }
    if watched_key_expired(ctx.srv, idx) {
        ctx.client().tx.dirty_cas = true;
    }
    let tx = &ctx.srv.net.clients[idx].tx;
    if tx.dirty_exec {
        discard_tx(ctx.srv, idx);
        return ctx
            .out
            .error("EXECABORT Transaction discarded because of previous errors.");
    }
    if tx.dirty_cas {
        discard_tx(ctx.srv, idx);
        return ctx.out.null_array();
    }
    let queued = std::mem::take(&mut ctx.client().tx.queued);
    unwatch_all(ctx.srv, idx);
    ctx.out.array(queued.len());
    ctx.srv.data.watches.in_exec = true;
    // Blocking commands inside EXEC answer at once, as if their timeout expired.
    ctx.srv.data.blocking.deny += 1;
    for q in &queued {
        let args = Args::new(&q.buf, &q.spans);
        // Rules may have changed since the command was queued: checked again, as Redis does.
        if let Err((why, _)) = crate::acl::check_in(ctx.srv, idx, q.id, args, Some("multi")) {
            let reason = match why {
                Some(crate::acl::Denial::Command) => {
                    "no permission to execute the command or subcommand"
                }
                Some(crate::acl::Denial::Key) => "no permission to touch the specified keys",
                Some(crate::acl::Denial::Channel) => {
                    "no permission to access one of the channels used as arguments"
                }
                _ => "no permission",
            };
            ctx.out.error(&format!(
                "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"
            ));
            continue;
        }
        super::call(ctx, q.id, args, true);
        if !ctx.srv.net.clients.contains(idx) {
            break;
        }
    }
    ctx.srv.data.watches.in_exec = false;
    ctx.srv.data.blocking.deny -= 1;
    discard_tx(ctx.srv, idx);
}

fn watch(ctx: &mut Ctx, args: Args) {
    let tx = &ctx.client().tx;
    if tx.active {
        return ctx.out.error("ERR WATCH inside MULTI is not allowed");
    }
    // Already dirty: watching more cannot change the outcome.
    if !tx.dirty_cas {
        for k in args.iter().skip(1) {
            watch_key(ctx.srv, ctx.id, ctx.db, k);
        }
    }
    ctx.out.ok();
}

fn unwatch(ctx: &mut Ctx, _: Args) {
    unwatch_all(ctx.srv, ctx.id);
    ctx.client().tx.dirty_cas = false;
    ctx.out.ok();
}

fn key_is_expired(srv: &Server, db: usize, key: &[u8]) -> bool {
    srv.data.ks.dbs[db]
        .dict
        .pos_of(key)
        .and_then(|s| srv.data.ks.dbs[db].at(s))
        .is_some_and(|e| e.expire() != NO_EXPIRE && e.expire() <= crate::keyspace::clock::now())
}

fn watch_key(srv: &mut Server, idx: usize, db: usize, key: &[u8]) {
    let c = &srv.net.clients[idx];
    if c.tx.watched.iter().any(|w| w.db == db && *w.key == *key) {
        return;
    }
    let expired = key_is_expired(srv, db, key);
    let w = &mut srv.data.watches;
    if w.by_db.len() <= db {
        w.by_db.resize_with(db + 1, HashMap::new);
    }
    w.by_db[db].entry(key.into()).or_default().push(idx);
    srv.net.clients[idx].tx.watched.push(Watched {
        db,
        key: key.into(),
        expired,
    });
}

fn unwatch_all(srv: &mut Server, idx: usize) {
    let Some(c) = srv.net.clients.get_mut(idx) else {
        return;
    };
    let watched = std::mem::take(&mut c.tx.watched);
    for w in watched {
        forget_watcher(&mut srv.data.watches, idx, w.db, &w.key);
    }
}

fn forget_watcher(watches: &mut Watches, idx: usize, db: usize, key: &[u8]) {
    let Some(map) = watches.by_db.get_mut(db) else {
        return;
    };
    if let Some(list) = map.get_mut(key) {
        list.retain(|&i| i != idx);
        if list.is_empty() {
            map.remove(key);
        }
    }
}

/// Leave MULTI: drop the queue, clear the flags, unwatch everything.
pub fn discard_tx(srv: &mut Server, idx: usize) {
    unwatch_all(srv, idx);
    if let Some(c) = srv.net.clients.get_mut(idx) {
        c.tx = Tx::default();
    }
}

/// EXEC of a watched key that became logically expired after WATCH fails.
fn watched_key_expired(srv: &Server, idx: usize) -> bool {
    srv.net.clients[idx]
        .tx
        .watched
        .iter()
        .any(|w| !w.expired && key_is_expired(srv, w.db, &w.key))
}

/// A key of `db` was written or deleted: its watchers' transactions will fail.
#[inline]
pub fn touch_key(srv: &mut Server, db: usize, key: &[u8]) {
    match srv.data.watches.by_db.get(db) {
        Some(map) if !map.is_empty() => {}
        _ => return,
    }
    touch_key_slow(srv, db, key);
}

fn touch_key_slow(srv: &mut Server, db: usize, key: &[u8]) {
    let Some(watchers) = srv.data.watches.by_db[db].get(key).cloned() else {
        return;
    };
    let present = srv.data.ks.dbs[db].dict.contains(key);
    for idx in watchers {
        let Some(c) = srv.net.clients.get_mut(idx) else {
            continue;
        };
        if let Some(w) =
            c.tx.watched
                .iter_mut()
                .find(|w| w.db == db && *w.key == *key)
        {
            if w.expired {
                // A stale key that is now gone is logically unchanged.
                if !present {
                    w.expired = false;
                }
                continue;
            }
        }
        c.tx.dirty_cas = true;
        unwatch_all(srv, idx);
    }
}

/// FLUSHDB/FLUSHALL (`replaced_with` None) or SWAPDB: call before `emptied` changes.
/// Watchers of keys that exist in `emptied`, or will exist after the swap, get dirty.
pub fn touch_db(srv: &mut Server, emptied: usize, replaced_with: Option<usize>) {
    let Some(map) = srv.data.watches.by_db.get(emptied) else {
        return;
    };
    if map.is_empty() {
        return;
    }
    let entries: Vec<(Key, Vec<usize>)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (key, watchers) in entries {
        let in_emptied = srv.data.ks.dbs[emptied].dict.contains(&key);
        let in_other = replaced_with.is_some_and(|o| srv.data.ks.dbs[o].dict.contains(&key));
        if !in_emptied && !in_other {
            continue;
        }
        let other_expired = replaced_with.is_some_and(|o| key_is_expired(srv, o, &key));
        for idx in watchers {
            let Some(c) = srv.net.clients.get_mut(idx) else {
                continue;
            };
            let Some(w) =
                c.tx.watched
                    .iter_mut()
                    .find(|w| w.db == emptied && *w.key == *key)
            else {
                continue;
            };
            if w.expired {
                if !in_other {
                    w.expired = false;
                    continue;
                } else if other_expired {
                    continue;
                }
            } else if !in_emptied && other_expired {
                w.expired = true;
                continue;
            }
            c.tx.dirty_cas = true;
        }
    }
}

/// FLUSHALL: every database is emptied.
pub fn touch_all_dbs(srv: &mut Server) {
    for db in 0..srv.data.ks.dbs.len() {
        touch_db(srv, db, None);
    }
}

/// SWAPDB a b: call before swapping.
pub fn touch_swap(srv: &mut Server, a: usize, b: usize) {
    touch_db(srv, a, Some(b));
    touch_db(srv, b, Some(a));
}

/// A client goes away or RESETs: forget its transaction and watches.
pub fn on_client_closed(srv: &mut Server, idx: usize, c: &Client) {
    for w in &c.tx.watched {
        forget_watcher(&mut srv.data.watches, idx, w.db, &w.key);
    }
}

/// CLIENT LIST flags, in Redis's order: P Pub/Sub, x in MULTI, d watched key touched.
pub fn client_flags(c: &Client, flags: &mut String) {
    if c.subs.any() {
        flags.push('P');
    }
    if c.tx.active {
        flags.push('x');
    }
    if c.tx.dirty_cas {
        flags.push('d');
    }
}
