//! The command table: one `Command` row per command (name, arity, flags, ACL categories,
//! handler, subcommands), one file per family; `Table::build` joins Redis's key specs to
//! the rows (keyspec.rs). Dispatch, arity checks, COMMAND INFO/DOCS, ACL categories and
//! (later) cluster key hashing all read this table.
pub mod acl;
pub mod bitmap;
pub mod cluster;
pub mod connection;
pub mod dump;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod keys;
pub mod keyspec;
#[rustfmt::skip]
mod keyspec_table;
pub mod latency;
pub mod list;
pub mod migrate;
pub mod multi;
pub mod names;
pub mod pubsub;
pub mod replication;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod zset;

use crate::keyspace::{Container, Db, Members};
use crate::resp::Args;
use crate::resp::Reply;
use crate::server::{Client, Ctx, ReplyMode, Server};
use hashbrown::HashMap;
use names::NameMap;
use std::time::Instant;

pub type Handler = fn(&mut Ctx, Args);

// Command flags (names as COMMAND INFO prints them).
pub const WRITE: u32 = 1 << 0;
pub const READONLY: u32 = 1 << 1;
pub const DENYOOM: u32 = 1 << 2;
pub const ADMIN: u32 = 1 << 3;
pub const PUBSUB: u32 = 1 << 4;
pub const NOSCRIPT: u32 = 1 << 5;
pub const BLOCKING: u32 = 1 << 6;
pub const LOADING: u32 = 1 << 7;
pub const STALE: u32 = 1 << 8;
pub const SKIP_MONITOR: u32 = 1 << 9;
pub const SKIP_SLOWLOG: u32 = 1 << 10;
pub const FAST: u32 = 1 << 11;
pub const NO_AUTH: u32 = 1 << 12;
pub const MAY_REPLICATE: u32 = 1 << 13;
pub const NO_MULTI: u32 = 1 << 14;
pub const MOVABLE_KEYS: u32 = 1 << 15;
pub const ALLOW_BUSY: u32 = 1 << 16;
pub const NO_MANDATORY_KEYS: u32 = 1 << 17;
pub const PROTECTED: u32 = 1 << 18;
// ferrokv's own flags (not shown by COMMAND), for behaviour Redis ties to particular
// commands: set on the table rows rather than decided by comparing names.
/// Runs at once inside MULTI instead of being queued (MULTI EXEC DISCARD WATCH QUIT RESET).
pub const TX_CONTROL: u32 = 1 << 19;
/// EXEC: its checks see the flags of its queue, and its rejection discards the queue.
pub const TX_EXEC: u32 = 1 << 20;
/// Not refused for memory inside MULTI although queueing uses some (DISCARD QUIT RESET).
pub const TX_LEAVE: u32 = 1 << 21;
/// Runs a script or function (EVAL EVALSHA FCALL and their _RO forms).
pub const SCRIPT_CALL: u32 = 1 << 22;
/// May use a slot being imported without ASKING first (RESTORE-ASKING).
pub const ASKING: u32 = 1 << 23;
/// Refused (-LOADING) while a replica loads its master's snapshot and serves the old
/// data meanwhile (async loading): it would disturb the load or the swap.
pub const NO_ASYNC_LOADING: u32 = 1 << 24;

/// The flags COMMAND shows, in Redis's order (may_replicate is hidden, as Redis hides it).
pub const FLAG_NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (SKIP_MONITOR, "skip_monitor"),
    (SKIP_SLOWLOG, "skip_slowlog"),
    (ASKING, "asking"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (NO_ASYNC_LOADING, "no_async_loading"),
    (NO_MULTI, "no_multi"),
    (MOVABLE_KEYS, "movablekeys"),
    (ALLOW_BUSY, "allow_busy"),
];

// ACL categories (names as ACL CAT prints them).
pub const KEYSPACE: u32 = 1 << 0;
pub const READ: u32 = 1 << 1;
pub const WRITE_CAT: u32 = 1 << 2;
pub const SET: u32 = 1 << 3;
pub const SORTEDSET: u32 = 1 << 4;
pub const LIST: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const STRING: u32 = 1 << 7;
pub const BITMAP: u32 = 1 << 8;
pub const HYPERLOGLOG: u32 = 1 << 9;
pub const GEO: u32 = 1 << 10;
pub const STREAM: u32 = 1 << 11;
pub const PUBSUB_CAT: u32 = 1 << 12;
pub const ADMIN_CAT: u32 = 1 << 13;
pub const FAST_CAT: u32 = 1 << 14;
pub const SLOW: u32 = 1 << 15;
pub const BLOCKING_CAT: u32 = 1 << 16;
pub const DANGEROUS: u32 = 1 << 17;
pub const CONNECTION: u32 = 1 << 18;
pub const TRANSACTION: u32 = 1 << 19;
pub const SCRIPTING: u32 = 1 << 20;

pub const CATEGORY_NAMES: &[(u32, &str)] = &[
    (KEYSPACE, "keyspace"),
    (READ, "read"),
    (WRITE_CAT, "write"),
    (SET, "set"),
    (SORTEDSET, "sortedset"),
    (LIST, "list"),
    (HASH, "hash"),
    (STRING, "string"),
    (BITMAP, "bitmap"),
    (HYPERLOGLOG, "hyperloglog"),
    (GEO, "geo"),
    (STREAM, "stream"),
    (PUBSUB_CAT, "pubsub"),
    (ADMIN_CAT, "admin"),
    (FAST_CAT, "fast"),
    (SLOW, "slow"),
    (BLOCKING_CAT, "blocking"),
    (DANGEROUS, "dangerous"),
    (CONNECTION, "connection"),
    (TRANSACTION, "transaction"),
    (SCRIPTING, "scripting"),
];

pub struct Command {
    pub name: &'static str,
    /// Exact argument count including the name when positive; minimum when negative.
    pub arity: i32,
    pub flags: u32,
    /// ACL categories beyond those derived from the flags.
    pub acl: u32,
    pub run: Handler,
    pub subs: &'static [Command],
    pub summary: &'static str,
    pub since: &'static str,
}

/// A table row: `cmd(name, arity, flags, acl, handler)`. Its keys are Redis's key specs,
/// attached by `Table::build` (keyspec.rs).
pub const fn cmd(name: &'static str, arity: i32, flags: u32, acl: u32, run: Handler) -> Command {
    Command {
        name,
        arity,
        flags,
        acl,
        run,
        subs: &[],
        summary: "",
        since: "",
    }
}

impl Command {
    pub const fn subs(mut self, subs: &'static [Command]) -> Self {
        self.subs = subs;
        self
    }
    pub const fn doc(mut self, summary: &'static str, since: &'static str) -> Self {
        self.summary = summary;
        self.since = since;
        self
    }
}

/// A container command's handler: never called, dispatch goes to the subcommand.
pub fn container(_: &mut Ctx, _: Args) {}

/// The families, each with its COMMAND DOCS group name.
pub fn families() -> Vec<(&'static str, &'static [Command])> {
    vec![
        ("connection", connection::COMMANDS),
        ("generic", keys::COMMANDS),
        ("generic", sort::COMMANDS),
        ("generic", dump::COMMANDS),
        ("generic", migrate::COMMANDS),
        ("string", string::COMMANDS),
        ("bitmap", bitmap::COMMANDS),
        ("server", server::COMMANDS),
        ("list", list::COMMANDS),
        ("hash", hash::COMMANDS),
        ("set", set::COMMANDS),
        ("sorted_set", zset::COMMANDS),
        ("geo", geo::COMMANDS),
        ("hyperloglog", hyperloglog::COMMANDS),
        ("stream", stream::COMMANDS),
        ("scripting", crate::scripting::functions::COMMANDS),
        ("transactions", multi::COMMANDS),
        ("pubsub", pubsub::COMMANDS),
        ("server", acl::COMMANDS),
        ("server", latency::COMMANDS),
        ("server", replication::COMMANDS),
        ("cluster", cluster::COMMANDS),
        ("scripting", crate::scripting::COMMANDS),
    ]
}

pub struct Entry {
    pub cmd: &'static Command,
    /// "get", or "config|get" for a subcommand.
    pub full_name: String,
    pub parent: Option<usize>,
    pub subs: NameMap,
    /// All ACL categories: explicit plus those derived from the flags.
    pub acl: u32,
    pub group: &'static str,
    /// `full_name` with a static lifetime, for a client's last command (CLIENT LIST cmd=).
    pub static_name: &'static str,
    /// Its key specs and key finder (Redis's), found once here.
    pub keys: keyspec::KeyInfo,
}

pub struct Table {
    pub entries: Vec<Entry>,
    by_name: NameMap,
}

/// Per-command counters for INFO commandstats.
#[derive(Clone, Copy, Default)]
pub struct CmdStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

fn derived_acl(c: &Command) -> u32 {
    let mut a = c.acl;
    if c.flags & WRITE != 0 {
        a |= WRITE_CAT;
    }
    if c.flags & READONLY != 0 && c.acl & SCRIPTING == 0 {
        a |= READ;
    }
    if c.flags & ADMIN != 0 {
        a |= ADMIN_CAT | DANGEROUS;
    }
    if c.flags & PUBSUB != 0 {
        a |= PUBSUB_CAT;
    }
    if c.flags & FAST != 0 {
        a |= FAST_CAT;
    }
    if c.flags & BLOCKING != 0 {
        a |= BLOCKING_CAT;
    }
    if a & FAST_CAT == 0 {
        a |= SLOW;
    }
    a
}

impl Table {
    pub fn build(families: &[(&'static str, &'static [Command])]) -> Table {
        let mut t = Table {
            entries: Vec::new(),
            by_name: NameMap::default(),
        };
        for &(group, cmds) in families {
            for c in cmds {
                let id = t.entries.len();
                t.entries.push(Entry {
                    cmd: c,
                    full_name: c.name.to_string(),
                    parent: None,
                    subs: NameMap::default(),
                    acl: derived_acl(c),
                    group,
                    static_name: c.name,
                    keys: keyspec::KeyInfo::of(c.name),
                });
                t.by_name.insert(c.name.as_bytes(), id);
                for s in c.subs {
                    let sid = t.entries.len();
                    // Built once per process: leaking the few subcommand names is fine.
                    let full: &'static str =
                        Box::leak(format!("{}|{}", c.name, s.name).into_boxed_str());
                    t.entries.push(Entry {
                        cmd: s,
                        full_name: format!("{}|{}", c.name, s.name),
                        parent: Some(id),
                        subs: NameMap::default(),
                        acl: derived_acl(s),
                        group,
                        static_name: full,
                        keys: keyspec::KeyInfo::of(full),
                    });
                    t.entries[id].subs.insert(s.name.as_bytes(), sid);
                }
            }
        }
        t
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Case-insensitive lookup with no allocation.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        self.by_name.get(name)
    }
    pub fn lookup_sub(&self, parent: usize, name: &[u8]) -> Option<usize> {
        self.entries[parent].subs.get(name)
    }
    /// Top-level commands, in table order.
    pub fn top_level(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.parent.is_none())
    }
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), String> {
        let id = self
            .lookup(old.as_bytes())
            .ok_or_else(|| format!("No such command in rename-command: {old}"))?;
        self.by_name.remove(old.as_bytes());
        if !new.is_empty() {
            self.by_name.insert(new.as_bytes(), id);
        }
        Ok(())
    }
}

/// The table entry a command line runs (its subcommand's when it has one), if any.
pub fn lookup_full(table: &Table, args: Args) -> Option<usize> {
    let id = table.lookup(args.get(0))?;
    if table.entries[id].subs.is_empty() {
        return Some(id);
    }
    if args.len() < 2 {
        return None;
    }
    table.lookup_sub(id, args.get(1))
}

/// What the reactor should do after a command.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flow {
    Done,
    /// Not executed: the client waits for CLIENT PAUSE to end; keep the input.
    Paused,
}

fn arity_ok(arity: i32, n: usize) -> bool {
    (arity > 0 && n == arity as usize) || (arity < 0 && n >= (-arity) as usize)
}

/// Redis's reply for an unknown command, quoting up to the first arguments.
fn unknown_command(ctx: &mut Ctx, args: Args) {
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        trunc(args.get(0))
    );
    for a in args.iter().skip(1) {
        msg.push_str(&format!("'{}' ", trunc(a)));
        if msg.len() > 512 {
            break;
        }
    }
    ctx.out.error(&msg);
}

fn trunc(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned()
}

/// Look up, check and run one command; account for it in the stats.
pub fn execute(ctx: &mut Ctx, args: Args) -> Flow {
    let Some(mut id) = ctx.srv.cmds.lookup(args.get(0)) else {
        let mark = ctx.out.buf.len();
        multi::flag_error(ctx.srv, ctx.id);
        unknown_command(ctx, args);
        ctx.srv.admin.stats.record_errors(&mut ctx.out.errors);
        apply_reply_mode(ctx, mark);
        return Flow::Done;
    };
    if !ctx.srv.cmds.entries[id].subs.is_empty() && args.len() >= 2 {
        match ctx.srv.cmds.lookup_sub(id, args.get(1)) {
            Some(sid) => id = sid,
            None => {
                let e = &ctx.srv.cmds.entries[id];
                let msg = format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    trunc(args.get(1)),
                    e.cmd.name.to_ascii_uppercase()
                );
                // Like an unknown command: no command's stats are charged.
                return reject(ctx, None, &msg);
            }
        }
    }
    let entry = &ctx.srv.cmds.entries[id];
    let cmd: &'static Command = entry.cmd;
    let entry_name = entry.static_name;
    // Set before running, as Redis does: CLIENT LIST shows itself as cmd=client|list.
    ctx.srv.net.clients[ctx.id].last_cmd = entry_name;
    if !arity_ok(cmd.arity, args.len()) {
        let msg = format!(
            "ERR wrong number of arguments for '{}' command",
            entry.full_name
        );
        return reject(ctx, Some(id), &msg);
    }
    if let Err(msg) = crate::acl::check(ctx.srv, ctx.id, id, args) {
        return reject(ctx, Some(id), &msg);
    }
    // Cluster mode: a command whose keys another node serves is redirected there (not
    // our master's stream, not a script's own calls).
    if ctx.srv.cluster.is_some() {
        if let Some(flow) = cluster_redirect(ctx, id, args) {
            return flow;
        }
    }
    // A command that a script or function runs (redis.call) acts for its client but is not
    // the client's own input: the client's MULTI never queues it (a script run by EXEC
    // used to have every write queued into the finished transaction and lost), a pause
    // does not stop it half-way and the client's pub/sub context does not restrict it.
    // (Read last in each test below: the common case decides without it.)
    let nested = |srv: &Server| srv.data.scripting.calling;
    // A replica's link (after its SYNC) carries acknowledgements, not keyspace commands.
    if cmd.flags & (READONLY | WRITE | MAY_REPLICATE) != 0
        && !nested(ctx.srv)
        && ctx.srv.net.clients[ctx.id]
            .repl
            .as_ref()
            .is_some_and(|r| r.is_replica())
    {
        return reject(
            ctx,
            Some(id),
            "ERR Replica can't interact with the keyspace",
        );
    }
    if ctx.srv.net.clients[ctx.id].tx.active && cmd.flags & NO_MULTI != 0 && !nested(ctx.srv) {
        return reject(
            ctx,
            Some(id),
            "ERR Command not allowed inside a transaction",
        );
    }
    // While the dataset loads only loading-allowed commands run (INFO, CONFIG, SHUTDOWN...),
    // and the calls of a script the AOF being loaded runs.
    if ctx.srv.admin.rdb.loading && cmd.flags & LOADING == 0 && !nested(ctx.srv) {
        return reject(
            ctx,
            Some(id),
            "LOADING Redis is loading the dataset in memory",
        );
    }
    // During an async load the old data is served, but not what would disturb the load.
    if ctx.srv.admin.rdb.async_loading && !nested(ctx.srv) {
        let flags = multi::effective_flags(&ctx.srv.net.clients[ctx.id], cmd);
        if flags & NO_ASYNC_LOADING != 0 {
            return reject(
                ctx,
                Some(id),
                "LOADING Redis is loading the dataset in memory",
            );
        }
    }
    // A script that passed busy-reply-threshold serves the event loop from its hook:
    // only allow-busy commands run meanwhile (not the script's own calls).
    if ctx.srv.data.scripting.busy && cmd.flags & ALLOW_BUSY == 0 && !nested(ctx.srv) {
        let msg = crate::scripting::current_busy_error(ctx.srv);
        return reject(ctx, Some(id), msg);
    }
    if ctx.srv.admin.pause.is_some()
        && !nested(ctx.srv)
        && held_by_pause(ctx.srv, ctx.id, cmd, args)
    {
        return Flow::Paused;
    }
    // Evictions run before every command (as Redis's performEvictions), read-only ones
    // included; only the commands that may grow memory are refused when they fail. Not
    // while a timed-out script serves the loop: no key may vanish under it (Redis skips
    // them then too).
    if ctx.srv.cfg.maxmemory > 0
        && !ctx.srv.data.scripting.busy
        && (if nested(ctx.srv) {
            crate::scripting::script_command_oom(ctx.srv, cmd.flags)
        } else {
            !crate::commands::server::free_memory_if_needed(ctx.srv)
                && multi::oom_checked(&ctx.srv.net.clients[ctx.id], cmd)
        })
    {
        return reject(
            ctx,
            Some(id),
            "OOM command not allowed when used memory > 'maxmemory'.",
        );
    }
    if ctx.srv.data.tracking.clients != 0 && !nested(ctx.srv) {
        // The table's size limit is kept before each command (Redis's processCommand);
        // invalidations the command has not caused (its evictions, the limit) come
        // before its reply.
        crate::tracking::limit_table(ctx.srv);
        if ctx.srv.data.tracking.has_held() {
            crate::tracking::flush_held(ctx.srv, ctx.id, ctx.out);
        }
    }
    // After a failed background save, writes (and PING, as in Redis) are refused while
    // stop-writes-on-bgsave-error says so.
    let rdb_refuses = crate::persist::snapshot::writes_refused(ctx.srv);
    if (rdb_refuses || ctx.srv.admin.aof.refusing())
        && (multi::effective_flags(&ctx.srv.net.clients[ctx.id], cmd) & WRITE != 0
            || cmd.name == "ping")
    {
        let msg = if rdb_refuses {
            crate::persist::snapshot::MISCONF.to_string()
        } else {
            crate::persist::aof::write_refusal(ctx.srv).unwrap_or_default()
        };
        return reject(ctx, Some(id), &msg);
    }
    // A script is judged before its first write only (Redis's SCRIPT_WRITE_DIRTY): once
    // it wrote, it must finish.
    if no_good_replicas(ctx.srv)
        && multi::effective_flags(&ctx.srv.net.clients[ctx.id], cmd) & WRITE != 0
        && !(nested(ctx.srv) && ctx.srv.data.dirty != ctx.srv.data.scripting.oom.dirty_at_start)
    {
        return reject(ctx, Some(id), NOREPLICAS);
    }
    // A write on a writable replica deletes the expired keys it meets (Redis's
    // EXPIRE_FORCE_DELETE_EXPIRED): INCR of an expired key starts from nothing.
    let mut replica_write = false;
    if ctx.srv.repl.master.is_some() {
        if let Some(msg) = replica_refuses(ctx, cmd) {
            return reject(ctx, Some(id), msg);
        }
        replica_write = multi::effective_flags(&ctx.srv.net.clients[ctx.id], cmd) & WRITE != 0;
    }
    let client = &ctx.srv.net.clients[ctx.id];
    if client.subs.any()
        && !ctx.out.resp3
        && !pubsub::allowed_when_subscribed(cmd)
        && !nested(ctx.srv)
    {
        let msg = format!("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", ctx.srv.cmds.entries[id].full_name);
        return reject(ctx, Some(id), &msg);
    }
    if multi::queues(client, cmd) && !nested(ctx.srv) {
        multi::queue(ctx, id, args);
        return Flow::Done;
    }
    let mark = ctx.out.buf.len();
    if replica_write {
        crate::keyspace::clock::set_following(false);
        call(ctx, id, args, false);
        crate::keyspace::clock::set_following(ctx.srv.repl.master.is_some());
        // Keys it gave a TTL to expire here: the master knows nothing of them.
        let argv: smallvec::SmallVec<[&[u8]; 16]> = args.iter().collect();
        let mut keys = keyspec::KeyList::new();
        keyspec::keys_of(&ctx.srv.cmds.entries[id].keys, &argv, &mut keys);
        let db = ctx.db;
        for &(p, _) in keys.iter() {
            crate::replication::replica::track_writable_key(ctx.srv, db, argv[p]);
        }
    } else {
        call(ctx, id, args, false);
    }
    // last_interaction is set per read, as Redis does: no clock read per command.
    if let Some(c) = ctx.srv.net.clients.get_mut(ctx.id) {
        c.tot_cmds += 1;
    }
    apply_reply_mode(ctx, mark);
    // Pushes to this client survive CLIENT REPLY OFF/SKIP and come before the reply.
    pubsub::splice_own(ctx.srv, ctx.out, mark);
    ctx.srv.data.pubsub.current = None;
    if ctx.srv.data.tracking.clients != 0 || ctx.srv.data.tracking.has_held() {
        after_tracked(ctx, entry_name);
    }
    Flow::Done
}

/// The cluster's verdict on a command: Some(reply sent) when it is redirected.
fn cluster_redirect(ctx: &mut Ctx, id: usize, args: Args) -> Option<Flow> {
    let c = &ctx.srv.net.clients[ctx.id];
    if c.is_master
        || ctx.srv.data.scripting.calling
        || c.kind == crate::server::ClientKind::Internal
    {
        return None;
    }
    let is_asking = ctx.srv.cmds.entries[id].cmd.name == "asking";
    let msg = if crate::cluster::route::applies(ctx.srv, id) {
        crate::cluster::route::check(ctx.srv, ctx.id, id, args)
    } else {
        None
    };
    // ASKING lasts one command (a transaction's, to its end).
    let c = &mut ctx.srv.net.clients[ctx.id];
    if c.asking && !c.tx.active && !is_asking {
        c.asking = false;
    }
    let msg = msg?;
    let mark = ctx.out.buf.len();
    if ctx.srv.cmds.entries[id].cmd.flags & TX_EXEC != 0 {
        multi::discard_tx(ctx.srv, ctx.id);
    } else {
        multi::flag_error(ctx.srv, ctx.id);
    }
    ctx.out.error(&msg);
    ctx.srv.admin.cmd_stats[id].rejected_calls += 1;
    ctx.srv.admin.stats.record_errors(&mut ctx.out.errors);
    apply_reply_mode(ctx, mark);
    Some(Flow::Done)
}

/// After a client's own command while some client tracks: invalidations it caused for
/// itself follow its reply (not in a script's inner calls: after the whole script, as
/// after a whole EXEC), and CLIENT CACHING lasts one command.
#[cold]
fn after_tracked(ctx: &mut Ctx, name: &str) {
    if ctx.srv.data.scripting.calling {
        return;
    }
    if ctx.srv.data.tracking.has_held() {
        crate::tracking::flush_held(ctx.srv, ctx.id, ctx.out);
    }
    crate::tracking::after_command(ctx.srv, ctx.id, name.starts_with("client|"));
}

/// After a read-only command of a client that tracks keys: remember what it read. A
/// script's read remembers the keys the script declared (EVAL's own READONLY forms
/// remember nothing by themselves), as Redis 7.0 does.
#[cold]
fn remember_tracked(ctx: &mut Ctx, id: usize, args: Args) {
    let Some(c) = ctx.srv.net.clients.get(ctx.id) else {
        return;
    };
    if c.trk.flags & crate::tracking::ON == 0 || c.trk.flags & crate::tracking::BCAST != 0 {
        return;
    }
    let e = &ctx.srv.cmds.entries[id];
    if e.cmd.flags & PUBSUB != 0 {
        return;
    }
    if ctx.srv.data.scripting.calling {
        if let Some(keys) = crate::scripting::declared_keys(ctx.srv) {
            crate::tracking::remember(ctx.srv, ctx.id, keys.iter().map(Vec::as_slice));
        }
        return;
    }
    if e.cmd.flags & SCRIPT_CALL != 0 {
        // EVAL_RO, EVALSHA_RO, FCALL_RO (the only read-only ones).
        return;
    }
    let argv: smallvec::SmallVec<[&[u8]; 16]> = args.iter().collect();
    let mut keys = keyspec::KeyList::new();
    keyspec::keys_of(&e.keys, &argv, &mut keys);
    crate::tracking::remember(ctx.srv, ctx.id, keys.iter().map(|&(p, _)| argv[p]));
}

/// On a replica: writes are refused while replica-read-only (but its master's, which do
/// not come this way), and with replica-serve-stale-data no everything but the STALE
/// commands while the link to the master is down.
#[cold]
fn replica_refuses(ctx: &mut Ctx, cmd: &Command) -> Option<&'static str> {
    let link_down = ctx.srv.repl.master_client().is_none();
    if link_down
        && !ctx.srv.cfg.replica_serve_stale_data
        && multi::denies_stale(&ctx.srv.net.clients[ctx.id], cmd)
    {
        // A script's own call (its script allowed stale data): Redis's wording.
        if ctx.srv.data.scripting.calling {
            return Some("ERR Can not execute the command on a stale replica");
        }
        return Some(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        );
    }
    if ctx.srv.cfg.replica_read_only
        && multi::effective_flags(&ctx.srv.net.clients[ctx.id], cmd) & WRITE != 0
    {
        return Some("READONLY You can't write against a read only replica.");
    }
    None
}

/// Redis's reply to a write while min-replicas-to-write is not met.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// Whether writes are refused for want of good replicas: fewer than
/// min-replicas-to-write online replicas acknowledged within min-replicas-max-lag
/// seconds (a master only).
#[inline]
pub fn no_good_replicas(srv: &Server) -> bool {
    srv.cfg.min_replicas_to_write > 0
        && srv.cfg.min_replicas_max_lag > 0
        && !srv.repl.is_replica()
        && crate::replication::master::good_replicas(srv) < srv.cfg.min_replicas_to_write
}

/// Run a command read from a file (an AOF being loaded) as internal client `idx`, as
/// Redis's AOF client does: none of `execute`'s checks (ACL, OOM, LOADING...), MULTI
/// queues as usual, the reply is dropped. Err: an unknown command (or a wrong arity,
/// which no handler is written to take).
/// Whether the CLIENT PAUSE in effect holds this command of this client: every command
/// under PAUSE ALL, the ones that write or may replicate (a script by its declared
/// flags, an EXEC by what it queued) under PAUSE WRITE.
fn held_by_pause(srv: &Server, idx: usize, cmd: &Command, args: Args) -> bool {
    let Some(p) = srv.admin.pause else {
        return false;
    };
    Instant::now() < p.until
        && (!p.write_only || {
            let own = declared_flags(srv, cmd, args);
            let queued = multi::effective_flags(&srv.net.clients[idx], cmd) & !cmd.flags;
            (own | queued) & (WRITE | MAY_REPLICATE) != 0
        })
}

/// Whether the master's next command waits for a CLIENT PAUSE to end: a paused replica
/// reads its master's stream but applies none of it that the pause holds (Redis's
/// postponed master client), so its applied offset stands still.
pub fn replay_held(srv: &Server, idx: usize, data: &[u8], spans: &[(u32, u32)]) -> bool {
    if srv.admin.pause.is_none() {
        return false;
    }
    let args = Args::new(data, spans);
    match lookup_full(&srv.cmds, args) {
        Some(id) => held_by_pause(srv, idx, srv.cmds.entries[id].cmd, args),
        None => false,
    }
}

pub fn replay(
    srv: &mut Server,
    idx: usize,
    data: &[u8],
    spans: &[(u32, u32)],
) -> Result<(), crate::persist::aof::Unknown> {
    use crate::persist::aof::Unknown;
    let args = Args::new(data, spans);
    let id = lookup_full(&srv.cmds, args).ok_or(Unknown)?;
    let cmd: &'static Command = srv.cmds.entries[id].cmd;
    if !arity_ok(cmd.arity, args.len()) {
        return Err(Unknown);
    }
    let mut out = std::mem::take(&mut srv.net.clients[idx].out);
    let db = srv.net.clients[idx].db;
    let outer = srv.executing.replace(idx);
    let mut ctx = Ctx {
        srv,
        out: &mut out,
        id: idx,
        db,
    };
    if multi::queues(&ctx.srv.net.clients[idx], cmd) {
        multi::queue(&mut ctx, id, args);
    } else {
        call(&mut ctx, id, args, false);
    }
    let db = ctx.db;
    srv.executing = outer;
    if out.buf.first() == Some(&b'-') && srv.repl.master_client() == Some(idx) {
        // An error this replica would have sent back: its data may now differ.
        let reply = String::from_utf8_lossy(&out.buf);
        let first = reply
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches('-')
            .to_string();
        crate::warn!(
            "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{}'",
            first,
            srv.cmds.entries[id].full_name
        );
    }
    out.buf.clear();
    out.errors.clear();
    let c = &mut srv.net.clients[idx];
    c.out = out;
    c.db = db;
    Ok(())
}

/// Run a command that passed the checks (directly, or queued by MULTI and run by EXEC)
/// and account for it. `splice` puts this client's pushes in front of this reply (EXEC).
pub fn call(ctx: &mut Ctx, id: usize, args: Args, splice: bool) {
    let cmd: &'static Command = ctx.srv.cmds.entries[id].cmd;
    let mark = ctx.out.buf.len();
    let errors_before = ctx.out.errors.len();
    // What the command does joins the propagation stream when some sink listens.
    let propagating = ctx.srv.data.prop.on();
    let offset_before = if propagating {
        ctx.srv.data.prop.enter(ctx.srv.data.dirty);
        crate::replication::current_offset(ctx.srv)
    } else {
        0
    };
    pubsub::begin(ctx.srv, ctx.id, ctx.out.resp3);
    // The TSC (quanta), not clock_gettime: two reads per command are on the hot path.
    let start = quanta::Instant::now();
    crate::keyspace::clock::enter();
    (cmd.run)(ctx, args);
    let elapsed = start.elapsed();
    if ctx.srv.data.tracking.clients != 0 && cmd.flags & READONLY != 0 {
        remember_tracked(ctx, id, args);
    }
    // MONITOR sees a command once it ran (as Redis 7.0: EXEC after the commands it ran;
    // EVAL and FCALL feed themselves before their script's commands).
    if !ctx.srv.admin.monitors.is_empty()
        && cmd.flags & (SKIP_MONITOR | ADMIN) == 0
        && ctx.srv.net.clients.contains(ctx.id)
    {
        server::feed_monitors(ctx, args);
    }
    let usec = elapsed.as_micros() as u64;
    let st = &mut ctx.srv.admin.cmd_stats[id];
    st.calls += 1;
    st.usec += usec;
    if ctx.out.errors.len() > errors_before {
        st.failed_calls += 1;
    }
    ctx.srv.admin.stats.total_commands_processed += 1;
    crate::latency::after_command(ctx.srv, id, ctx.id, args, elapsed.as_nanos() as u64);
    if !ctx.out.errors.is_empty() {
        ctx.srv.admin.stats.record_errors(&mut ctx.out.errors);
    }
    // Keys a read found expired: "expired" events, WATCH, and their DELs propagated.
    crate::notify::lazy_expired(ctx.srv, ctx.db);
    crate::keyspace::clock::leave();
    // What the command did joins the propagation stream (delivered at the outermost call).
    if propagating {
        ctx.srv
            .data
            .prop
            .leave(ctx.db, ctx.srv.data.dirty, true, args.iter());
        // WAIT counts the replicas that have this client's writes.
        let now = crate::replication::current_offset(ctx.srv);
        if now != offset_before {
            if let Some(c) = ctx.srv.net.clients.get_mut(ctx.id) {
                c.woff = now;
            }
        }
    }
    if splice {
        pubsub::splice_own(ctx.srv, ctx.out, mark);
    }
}

/// CLIENT REPLY: Off and Skip silence the reply written since `mark` (CLIENT REPLY ON
/// clears Skip before replying); a SKIP asked by this command applies to the next one.
fn apply_reply_mode(ctx: &mut Ctx, mark: usize) {
    let Some(c) = ctx.srv.net.clients.get_mut(ctx.id) else {
        return;
    };
    if c.reply_mode != ReplyMode::On {
        ctx.out.buf.truncate(mark);
    }
    c.reply_mode = match c.reply_mode {
        ReplyMode::SkipNext => ReplyMode::Skip,
        ReplyMode::Skip => ReplyMode::On,
        m => m,
    };
}

/// A command's flags as Redis's getCommandFlags sees them: a script call (EVAL, FCALL
/// and their forms) whose script declares its flags writes only without no-writes (and
/// is then no longer "may replicate").
pub fn declared_flags(srv: &Server, cmd: &Command, args: Args) -> u32 {
    if cmd.flags & SCRIPT_CALL == 0 {
        return cmd.flags;
    }
    match crate::scripting::declares_writes(srv, cmd.name, args) {
        Some(true) => (cmd.flags & !MAY_REPLICATE) | WRITE,
        Some(false) => cmd.flags & !(WRITE | MAY_REPLICATE),
        None => cmd.flags,
    }
}

/// Refuse a command before it runs (`id`: None when no command was resolved).
fn reject(ctx: &mut Ctx, id: Option<usize>, msg: &str) -> Flow {
    let mark = ctx.out.buf.len();
    // A rejected command fails the transaction; a rejected EXEC discards it.
    let abort = match id {
        Some(id) if ctx.srv.cmds.entries[id].cmd.flags & TX_EXEC != 0 => {
            multi::exec_abort_message(ctx.srv, ctx.id, msg)
        }
        _ => {
            multi::flag_error(ctx.srv, ctx.id);
            None
        }
    };
    ctx.out.error(abort.as_deref().unwrap_or(msg));
    if let Some(id) = id {
        ctx.srv.admin.cmd_stats[id].rejected_calls += 1;
    }
    ctx.srv.admin.stats.record_errors(&mut ctx.out.errors);
    apply_reply_mode(ctx, mark);
    Flow::Done
}

/// Whether a client counts as a pub/sub client for output limits.
pub fn pubsub_client(c: &Client) -> bool {
    c.subs.any()
}

/// Clients the `timeout` option does not disconnect.
pub fn exempt_from_timeout(c: &Client) -> bool {
    c.monitor || c.blocked.is_some() || c.subs.any() || c.is_master || c.repl.is_some()
}

/// Cleanup of per-client registrations when a client goes away.
pub fn on_client_closed(srv: &mut Server, idx: usize, c: &Client) {
    crate::blocking::on_client_closed(srv, idx, c.blocked.as_deref());
    multi::on_client_closed(srv, idx, c);
    pubsub::on_client_closed(srv, idx, c);
    crate::tracking::forget_client(srv, idx, &c.trk);
    crate::replication::on_client_closed(srv, idx, c);
}

// ---- helpers shared by the families ----

/// How a deletion propagates: UNLINK when the value is freed lazily, else DEL.
pub fn del_word(lazy: bool) -> &'static [u8] {
    if lazy {
        b"UNLINK"
    } else {
        b"DEL"
    }
}

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// `Db::typed_pos` for a handler: on a key of another type WRONGTYPE is replied and Err
/// returned, so the handler just returns.
pub(crate) fn typed_pos<T: Container>(ctx: &mut Ctx, key: &[u8]) -> Result<Option<usize>, ()> {
    let r = ctx.dbm().typed_pos::<T>(key);
    if r.is_err() {
        ctx.out.error(WRONGTYPE);
    }
    r
}

/// `Db::typed_mut` for a handler: on a key of another type WRONGTYPE is replied.
pub(crate) fn typed_mut<'a, T: Container>(
    db: &'a mut Db,
    out: &mut Reply,
    key: &[u8],
) -> Result<Option<&'a mut T>, ()> {
    let r = db.typed_mut::<T>(key);
    if r.is_err() {
        out.error(WRONGTYPE);
    }
    r
}

/// SREM / ZREM / HDEL: remove the members named after the key, delete the key once its
/// collection is empty, reply how many were removed, and notify `event` (then "del" when
/// the key went).
pub(crate) fn remove_members<T: Members>(ctx: &mut Ctx, args: Args, class: u32, event: &str) {
    let key = args.get(1);
    let pos = match typed_pos::<T>(ctx, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.int(0),
        Ok(Some(pos)) => pos,
    };
    let db = ctx.dbm();
    let c = db.at_as_mut::<T>(pos);
    let mut n = 0;
    for m in args.iter().skip(2) {
        n += c.remove_member(m) as i64;
        if c.is_empty() {
            break;
        }
    }
    if c.is_empty() {
        db.remove_pos(pos);
    }
    ctx.out.int(n);
    if n > 0 {
        ctx.modified(key);
        crate::notify::notify_write(ctx, class, event, key);
    }
}
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";

/// Parse an integer argument or reply Redis's error; `None` means the error was sent.
pub fn int_arg(ctx: &mut Ctx, a: &[u8]) -> Option<i64> {
    match crate::util::parse_i64(a) {
        Some(n) => Some(n),
        None => {
            ctx.out.error(NOT_INT);
            None
        }
    }
}

pub fn float_arg(ctx: &mut Ctx, a: &[u8]) -> Option<f64> {
    match crate::util::parse_f64(a) {
        Some(n) => Some(n),
        None => {
            ctx.out.error(NOT_FLOAT);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn behaviour_flags_sit_on_the_right_rows() {
        let t = Table::build(&families());
        let with = |flag: u32| -> Vec<&str> {
            let mut v: Vec<&str> = t
                .entries
                .iter()
                .filter(|e| e.cmd.flags & flag == flag)
                .map(|e| e.static_name)
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(
            with(TX_CONTROL),
            ["discard", "exec", "multi", "quit", "reset", "watch"]
        );
        assert_eq!(with(TX_EXEC), ["exec"]);
        assert_eq!(with(TX_LEAVE), ["discard", "quit", "reset"]);
        assert_eq!(
            with(SCRIPT_CALL),
            [
                "eval",
                "eval_ro",
                "evalsha",
                "evalsha_ro",
                "fcall",
                "fcall_ro"
            ]
        );
        assert_eq!(
            with(SCRIPT_CALL | READONLY),
            ["eval_ro", "evalsha_ro", "fcall_ro"]
        );
    }

    #[test]
    fn table_is_consistent() {
        let t = Table::build(&families());
        let mut seen = std::collections::HashSet::new();
        for e in &t.entries {
            assert!(
                seen.insert(e.full_name.clone()),
                "duplicate command {}",
                e.full_name
            );
            assert_eq!(
                e.cmd.name,
                e.cmd.name.to_ascii_lowercase(),
                "names are lower case"
            );
            assert!(e.cmd.arity != 0, "{} has arity 0", e.full_name);
            assert!(
                !(e.cmd.flags & WRITE != 0 && e.cmd.flags & READONLY != 0),
                "{} both write and readonly",
                e.full_name
            );
        }
        assert!(t.lookup(b"GeT").is_some());
        let cfg = t.lookup(b"config").unwrap();
        assert!(t.lookup_sub(cfg, b"GET").is_some());
    }
}
