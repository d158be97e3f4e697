//! Blocking commands: clients parked on keys until data arrives, a deadline passes, or
//! CLIENT UNBLOCK / a disconnect releases them. List pops use it now; sorted-set pops
//! (BZPOPMIN/BZPOPMAX/BZMPOP) and XREAD BLOCK plug into the same API.
//!
//! API for a command family:
//! - `parse_timeout(ctx, arg)`: Redis's seconds timeout (fractional, 0 = forever) as an
//!   absolute deadline in unix ms (0 = none), or the error already replied.
//! - `may_block(ctx)`: false inside MULTI/EXEC or a script (`Registry::deny` > 0); the
//!   command must then answer as if the timeout had expired.
//! - `block(ctx, args, keys, deadline, retry, on_timeout)`: called by a command that found
//!   nothing to serve. Nothing is replied; the client is parked on `keys` of its database
//!   and its further input is not processed. The command's arguments are kept.
//! - `Retry = fn(&mut Ctx, Args, ready_key) -> bool`: run again with the saved arguments
//!   when `ready_key` may have data. It writes the reply and returns true when it served
//!   the client, or returns false (writing nothing) to keep it waiting: the key is absent,
//!   empty or of another type.
//! - `signal_key_ready(srv, db, key)`: a write touched `key`; `Ctx::modified` calls it, so
//!   every write path signals (`Ctx::modified_in(db, key)` for a key of another database:
//!   MOVE, COPY ... DB; `signal_db` for SWAPDB). Cheap when nobody is blocked (one compare).
//! - MULTI/EXEC: EXEC should do `srv.blocking.deny += 1` around the queued commands (and
//!   `-= 1` after), so a blocking command inside answers at once; the keys its commands
//!   signal are served right after EXEC, so waiters see the transaction's final state.
//!
//! For the reactor: `has_work` tells whether ready keys or released clients wait;
//! `serve_ready` serves ready keys (clients of a key in arrival order, FIFO) and
//! `expire` answers clients whose deadline passed; both leave the released clients in
//! `Registry::resumed` so the reactor can flush them and process the input they sent
//! while blocked. `next_deadline` bounds the poll timeout. `client_unblock` implements
//! CLIENT UNBLOCK; `on_client_closed` forgets a client that went away.
use crate::keyspace::Key;
use crate::resp::{Args, Reply};
use crate::server::{Ctx, Server};
use hashbrown::{HashMap, HashSet};
use std::collections::VecDeque;

/// Re-run of a blocked command when one of its keys may have data (see the module docs).
pub type Retry = fn(&mut Ctx, Args, &[u8]) -> bool;

/// What a blocked client gets when its timeout expires (or CLIENT UNBLOCK ... TIMEOUT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// `*-1` (RESP3 null): BLPOP, BLMPOP, BZPOPMIN, XREAD.
    NullArray,
    /// `$-1` (RESP3 null): BLMOVE, BRPOPLPUSH.
    NullBulk,
    /// `:0`: WAIT (no replica acknowledged).
    Zero,
    /// WAIT: the number of replicas that acknowledged the client's writes by then.
    Wait,
    /// None: the client waits for an outgoing link (MIGRATE), which answers it (with an
    /// error on the link's own timeout); CLIENT UNBLOCK does not release it.
    Link,
}

/// The state of a blocked client.
pub struct Blocked {
    pub db: usize,
    pub keys: Vec<Key>,
    /// Absolute unix ms; 0 means no timeout.
    pub deadline: i64,
    retry: Retry,
    on_timeout: TimeoutReply,
    /// The command's arguments, owned: `buf` holds them back to back, `spans` delimit them.
    buf: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

#[derive(Default)]
pub struct Registry {
    /// Per database: key -> clients (slab indexes) blocked on it, in arrival order.
    waiting: Vec<HashMap<Key, VecDeque<usize>>>,
    /// Keys signalled since the last `serve_ready`, in signal order, deduplicated.
    ready: Vec<(usize, Key)>,
    ready_set: HashSet<(usize, Key)>,
    /// Every blocked client, for timeouts and INFO blocked_clients.
    clients: Vec<usize>,
    /// Clients released (served, timed out, unblocked) whose output and pending input the
    /// reactor must handle.
    pub resumed: Vec<usize>,
    /// While > 0 blocking commands must not block (MULTI/EXEC, scripts).
    pub deny: u32,
    /// Set while the reactor serves blocked clients (no re-entry).
    pub serving: bool,
}

impl Registry {
    /// INFO blocked_clients.
    pub fn blocked_count(&self) -> usize {
        self.clients.len()
    }
    pub fn has_work(&self) -> bool {
        !self.ready.is_empty() || !self.resumed.is_empty()
    }
    fn queue_mut(&mut self, db: usize) -> &mut HashMap<Key, VecDeque<usize>> {
        if self.waiting.len() <= db {
            self.waiting.resize_with(db + 1, HashMap::new);
        }
        &mut self.waiting[db]
    }
    /// Whether any client waits on `key` in `db`.
    pub fn is_waited(&self, db: usize, key: &[u8]) -> bool {
        self.waiting.get(db).is_some_and(|m| m.contains_key(key))
    }
}

/// Parse a blocking timeout in seconds; `None` means the error was replied.
pub fn parse_timeout(ctx: &mut Ctx, arg: &[u8]) -> Option<i64> {
    let Some(secs) = crate::util::parse_f64(arg) else {
        ctx.out.error("ERR timeout is not a float or out of range");
        return None;
    };
    let ms = (secs * 1000.0).ceil();
    // Beyond i64 Redis's conversion yields a negative number of ms (x86 semantics).
    if ms < 0.0 || ms >= i64::MAX as f64 {
        ctx.out.error("ERR timeout is negative");
        return None;
    }
    if ms == 0.0 {
        return Some(0);
    }
    Some(crate::keyspace::clock::now().saturating_add(ms as i64))
}

pub fn may_block(ctx: &Ctx) -> bool {
    ctx.srv.data.blocking.deny == 0
}

/// Write the timeout reply for a command that cannot (or no longer) wait.
pub fn timeout_reply(out: &mut Reply, kind: TimeoutReply) {
    match kind {
        TimeoutReply::NullArray => out.null_array(),
        TimeoutReply::NullBulk => out.null(),
        TimeoutReply::Zero => out.int(0),
        // Answered by `unblock_with`, which can count the acknowledgements.
        TimeoutReply::Wait => out.int(0),
        TimeoutReply::Link => out.error("IOERR error or timeout reading to target instance"),
    }
}

/// Park the current client on `keys` (see the module docs).
pub fn block<'k>(
    ctx: &mut Ctx,
    args: Args,
    keys: impl IntoIterator<Item = &'k [u8]>,
    deadline: i64,
    retry: Retry,
    on_timeout: TimeoutReply,
) {
    let mut buf = Vec::new();
    let mut spans = Vec::with_capacity(args.len());
    for a in args.iter() {
        let s = buf.len() as u32;
        buf.extend_from_slice(a);
        spans.push((s, buf.len() as u32));
    }
    let (db, idx) = (ctx.db, ctx.id);
    let mut owned: Vec<Key> = Vec::new();
    let reg = &mut ctx.srv.data.blocking;
    for k in keys {
        // The same key twice (BLPOP k k 0) waits once.
        if owned.iter().any(|o| &**o == k) {
            continue;
        }
        owned.push(k.into());
        reg.queue_mut(db)
            .entry(k.into())
            .or_default()
            .push_back(idx);
    }
    reg.clients.push(idx);
    ctx.srv.net.clients[idx].blocked = Some(Box::new(Blocked {
        db,
        keys: owned,
        deadline,
        retry,
        on_timeout,
        buf,
        spans,
    }));
}

/// A write touched `key` in `db`: remember it if someone waits on it.
#[inline]
pub fn signal_key_ready(srv: &mut Server, db: usize, key: &[u8]) {
    let reg = &mut srv.data.blocking;
    if reg.clients.is_empty() || !reg.is_waited(db, key) {
        return;
    }
    if reg.ready_set.insert((db, key.into())) {
        reg.ready.push((db, key.into()));
    }
}

/// Signal every waited key of `db` (SWAPDB, or any change of a whole database).
pub fn signal_db(srv: &mut Server, db: usize) {
    let keys: Vec<Key> = match srv.data.blocking.waiting.get(db) {
        Some(m) => m.keys().cloned().collect(),
        None => return,
    };
    for k in keys {
        signal_key_ready(srv, db, &k);
    }
}

/// Forget a client's registrations (its `Blocked` was taken out of the client).
fn forget(reg: &mut Registry, idx: usize, b: &Blocked) {
    if let Some(m) = reg.waiting.get_mut(b.db) {
        for k in &b.keys {
            if let Some(q) = m.get_mut(&**k) {
                q.retain(|&i| i != idx);
                if q.is_empty() {
                    m.remove(&**k);
                }
            }
        }
    }
    reg.clients.retain(|&i| i != idx);
}

/// The blocked command's table entry (cold paths only: a name lookup).
fn command_id(srv: &Server, b: &Blocked) -> Option<usize> {
    srv.cmds.lookup(Args::new(&b.buf, &b.spans).get(0))
}

/// Release a blocked client after its reply was written; the reactor flushes it. The
/// command (served after `ns` of retry, or timed out / unblocked: 0) is logged now, as
/// Redis does, since it was not when it blocked.
fn release(srv: &mut Server, idx: usize, b: &Blocked, ns: u64) {
    forget(&mut srv.data.blocking, idx, b);
    srv.data.blocking.resumed.push(idx);
    if let Some(id) = command_id(srv, b) {
        crate::latency::after_unblock(srv, id, idx, Args::new(&b.buf, &b.spans), ns);
    }
}

/// Run a blocked client's retry for `key`. Returns true if it was served and released.
fn try_serve(srv: &mut Server, idx: usize, key: &[u8]) -> bool {
    serve_with(srv, idx, |ctx, b| (b.retry)(ctx, b.args(), key))
}

/// Answer a client waiting on an outgoing link (blocked with `TimeoutReply::Link`): `f`
/// writes its reply and effects as its command would have, and the client is released.
/// False when the client is not (or no longer) waiting.
pub fn complete(srv: &mut Server, idx: usize, f: impl FnOnce(&mut Ctx, Args)) -> bool {
    let waits = srv.net.clients.get(idx).and_then(|c| c.blocked.as_ref());
    if !waits.is_some_and(|b| b.on_timeout == TimeoutReply::Link) {
        return false;
    }
    serve_with(srv, idx, |ctx, b| {
        f(ctx, b.args());
        true
    })
}

/// Release a client in WAIT that enough replicas acknowledged: it is answered `n`.
pub fn complete_wait(srv: &mut Server, idx: usize, n: i64) -> bool {
    let waits = srv.net.clients.get(idx).and_then(|c| c.blocked.as_ref());
    if !waits.is_some_and(|b| b.on_timeout == TimeoutReply::Wait) {
        return false;
    }
    serve_with(srv, idx, |ctx, _| {
        ctx.out.int(n);
        true
    })
}

impl Blocked {
    fn args(&self) -> Args<'_> {
        Args::new(&self.buf, &self.spans)
    }
}

/// Run `serve` for a blocked client as its command would run (propagation frame, output,
/// error counts, tracking); release the client when it returns true.
fn serve_with(
    srv: &mut Server,
    idx: usize,
    serve: impl FnOnce(&mut Ctx, &Blocked) -> bool,
) -> bool {
    let Some(c) = srv.net.clients.get_mut(idx) else {
        return false;
    };
    if c.close_asap {
        // Killed (CLIENT KILL) but not yet closed: it must not consume data.
        return false;
    }
    let Some(b) = c.blocked.take() else {
        return false;
    };
    let mut out = std::mem::take(&mut c.out);
    let start = quanta::Instant::now();
    let outer = srv.executing.replace(idx);
    let served = {
        let mut ctx = Ctx {
            srv,
            out: &mut out,
            id: idx,
            db: b.db,
        };
        let args = b.args();
        // A served command propagates like any other (as the plain pop its retry chose).
        let propagating = ctx.srv.data.prop.on();
        if propagating {
            ctx.srv.data.prop.enter(ctx.srv.data.dirty);
        }
        crate::keyspace::clock::enter();
        let served = serve(&mut ctx, &b);
        // Keys the retry found expired: their DELs join the stream now (as after any
        // command), not with whatever command runs next.
        crate::notify::lazy_expired(ctx.srv, ctx.db);
        crate::keyspace::clock::leave();
        if propagating {
            ctx.srv
                .data
                .prop
                .leave(ctx.db, ctx.srv.data.dirty, served, args.iter());
        }
        served
    };
    srv.executing = outer;
    if !out.errors.is_empty() {
        count_failure(srv, &b, &mut out.errors);
    }
    // Invalidations for this client come after the reply it was just given.
    if srv.data.tracking.has_held() {
        crate::tracking::flush_held(srv, idx, &mut out);
    }
    let c = &mut srv.net.clients[idx];
    c.out = out;
    if !served {
        c.blocked = Some(b);
        return false;
    }
    c.last_interaction = std::time::Instant::now();
    release(srv, idx, &b, start.elapsed().as_nanos() as u64);
    true
}

/// Serve clients blocked on the keys signalled so far (and on keys their serving signals).
pub fn serve_ready(srv: &mut Server) {
    while !srv.data.blocking.ready.is_empty() {
        let batch = std::mem::take(&mut srv.data.blocking.ready);
        srv.data.blocking.ready_set.clear();
        for (db, key) in batch {
            // A snapshot of the queue in arrival order: serving may change the queue.
            let queue: Vec<usize> =
                match srv.data.blocking.waiting.get(db).and_then(|m| m.get(&key)) {
                    Some(q) => q.iter().copied().collect(),
                    None => continue,
                };
            // Retries run even when the key is gone: a blocked XREADGROUP must then
            // be told its stream no longer exists. List and zset retries answer false.
            for idx in queue {
                try_serve(srv, idx, &key);
            }
        }
    }
}

/// Answer clients whose deadline passed.
pub fn expire(srv: &mut Server) {
    if srv.data.blocking.clients.is_empty() {
        return;
    }
    let now = crate::util::now_ms();
    let due: Vec<usize> = srv
        .data
        .blocking
        .clients
        .iter()
        .copied()
        .filter(|&i| {
            srv.net
                .clients
                .get(i)
                .and_then(|c| c.blocked.as_ref())
                .is_some_and(|b| b.deadline != 0 && b.deadline <= now)
        })
        .collect();
    for idx in due {
        unblock_with(srv, idx, None);
    }
}

/// The earliest deadline of a blocked client (unix ms), to bound the poll timeout.
pub fn next_deadline(srv: &Server) -> Option<i64> {
    srv.data
        .blocking
        .clients
        .iter()
        .filter_map(|&i| srv.net.clients.get(i)?.blocked.as_ref())
        .filter(|b| b.deadline != 0)
        .map(|b| b.deadline)
        .min()
}

/// An error replied to a blocked client counts in INFO errorstats and as a failed call of
/// its command (commandstats), as if the command had failed when it ran.
fn count_failure(srv: &mut Server, b: &Blocked, errors: &mut Vec<String>) {
    srv.admin.stats.record_errors(errors);
    if let Some(id) = command_id(srv, b) {
        srv.admin.cmd_stats[id].failed_calls += 1;
    }
}

/// Release a blocked client with its timeout reply (`error` None) or an error.
fn unblock_with(srv: &mut Server, idx: usize, error: Option<&str>) -> bool {
    let Some(b) = srv.net.clients.get_mut(idx).and_then(|c| c.blocked.take()) else {
        return false;
    };
    let out = &mut srv.net.clients[idx].out;
    match error {
        Some(e) => {
            out.error(e);
            let mut errs = std::mem::take(&mut out.errors);
            count_failure(srv, &b, &mut errs);
        }
        None if b.on_timeout == TimeoutReply::Wait => {
            let c = &srv.net.clients[idx];
            let n = crate::replication::master::acked(srv, c.woff);
            srv.net.clients[idx].out.int(n);
        }
        None => timeout_reply(out, b.on_timeout),
    }
    release(srv, idx, &b, 0);
    true
}

/// Release every client blocked on keys (or in WAIT) with `error` (this server became a
/// replica). Clients waiting on a link are left to it.
pub fn unblock_all(srv: &mut Server, error: &str) {
    let all: Vec<usize> = srv.data.blocking.clients.clone();
    for idx in all {
        let on_link = srv.net.clients[idx]
            .blocked
            .as_ref()
            .is_some_and(|b| b.on_timeout == TimeoutReply::Link);
        if !on_link {
            unblock_with(srv, idx, Some(error));
        }
    }
}

/// Cluster mode: release the clients blocked on keys this node no longer serves (their
/// slot moved: -MOVED, or is unassigned) or every one while the cluster is down, as
/// Redis's clusterRedirectBlockedClientIfNeeded. `verdict` gives the error for a client
/// (its index, the first key it waits on, whether its command writes), or None to keep
/// it waiting.
pub fn redirect_blocked(
    srv: &mut Server,
    verdict: impl Fn(&Server, usize, &[u8], bool) -> Option<String>,
) {
    let all: Vec<usize> = srv.data.blocking.clients.clone();
    for idx in all {
        let Some(b) = srv.net.clients.get(idx).and_then(|c| c.blocked.as_ref()) else {
            continue;
        };
        if matches!(b.on_timeout, TimeoutReply::Link | TimeoutReply::Wait) {
            continue;
        }
        let Some(key) = b.keys.first() else {
            continue;
        };
        let write = command_id(srv, b)
            .is_some_and(|id| srv.cmds.entries[id].cmd.flags & crate::commands::WRITE != 0);
        if let Some(e) = verdict(srv, idx, key, write) {
            unblock_with(srv, idx, Some(&e));
        }
    }
}

/// CLIENT UNBLOCK: release client `id` if it is blocked. Returns whether it was.
pub fn client_unblock(srv: &mut Server, id: u64, error: bool) -> bool {
    let Some(idx) = srv
        .data
        .blocking
        .clients
        .iter()
        .copied()
        .find(|&i| srv.net.clients.get(i).is_some_and(|c| c.id == id))
    else {
        return false;
    };
    let waits_on_link = srv.net.clients[idx]
        .blocked
        .as_ref()
        .is_some_and(|b| b.on_timeout == TimeoutReply::Link);
    if waits_on_link {
        return false;
    }
    let err = error.then_some("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    unblock_with(srv, idx, err)
}

/// A client went away: drop its registrations.
pub fn on_client_closed(srv: &mut Server, idx: usize, blocked: Option<&Blocked>) {
    if let Some(b) = blocked {
        forget(&mut srv.data.blocking, idx, b);
    }
    srv.data.blocking.resumed.retain(|&i| i != idx);
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]` (a row of the CLIENT subcommand table).
pub fn client_unblock_command(ctx: &mut Ctx, args: Args) {
    if args.len() > 4 {
        return ctx.out.error(
            "ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.",
        );
    }
    let mut error = false;
    if args.len() == 4 {
        let how = args.get(3);
        if crate::util::eq_ic(how, "error") {
            error = true;
        } else if !crate::util::eq_ic(how, "timeout") {
            return ctx
                .out
                .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    }
    let Some(id) = crate::commands::int_arg(ctx, args.get(2)) else {
        return;
    };
    let done = id > 0 && client_unblock(ctx.srv, id as u64, error);
    ctx.out.int(done as i64);
}
