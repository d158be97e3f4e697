//! Replication: this server as a master of replicas ([`master`]) and as a replica of a
//! master ([`replica`]), over plain TCP or TLS (`tls-replication`), speaking Redis 7.0's
//! protocol so that either side can be a redis-server.
//!
//! **The stream.** What a write becomes for the replicas is built by the one propagation
//! funnel (`crate::propagate`, its replicas' sink [`crate::propagate::ReplFeed`]); a
//! replica proxies its own master's stream into the same sink instead. Once per event-loop
//! iteration (and before anything that needs the current offset) [`feed`] moves what the
//! sink holds into the backlog and into every replica's output: the master replication
//! offset is the number of bytes ever fed.
//!
//! **The backlog** ([`backlog::Backlog`], `repl-backlog-size`) keeps the stream's last
//! bytes so a replica that lost its link continues from its offset (`+CONTINUE`) instead of
//! syncing the whole dataset again. It exists from the first replica on (and on every
//! replica, for its own replicas and for PSYNC after a promotion), and is freed after
//! `repl-backlog-ttl` seconds without replicas on a master.
//!
//! **Replication IDs.** `replid` names the history the offset counts in; after a
//! promotion the old one is kept as `replid2` up to `second_offset`, so the other replicas
//! of the old master continue partially with the new one (PSYNC2).
//!
//! The I/O is the reactor's: replicas are clients, the link to a master is a
//! `crate::link` connection until the sync is done, then a client whose commands are
//! applied (not answered). Nothing here blocks on a socket.
pub mod backlog;
pub mod failover;
pub mod master;
pub mod replica;

pub use master::ReplicaConn;

use crate::server::{Client, Server};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// What the replication layer needs from above (commands sit above it): running a
/// command of the master's stream, and loading a received snapshot.
/// Whether a CLIENT PAUSE holds a command of the master's client (its bytes and spans).
pub type HeldFn = fn(&Server, usize, &[u8], &[(u32, u32)]) -> bool;

#[derive(Clone, Copy)]
pub struct Hooks {
    /// Runs one command as the master client (Err: unknown, or of a wrong arity).
    pub replay: crate::persist::aof::ReplayFn,
    /// Whether a CLIENT PAUSE holds the master's next command (it then waits in the
    /// read buffer: read, not applied).
    pub held: HeldFn,
    /// Empties the dataset and loads the RDB file at the path (a full sync).
    pub load: fn(&mut Server, &str) -> Result<(), String>,
    /// Puts a snapshot loaded while it streamed in (a diskless load) in place of the
    /// dataset and function libraries.
    pub swap_in: fn(&mut Server, crate::persist::snapshot::StreamLoad) -> Result<(), String>,
}

/// The ID of no history (replid2 when there is none).
pub const NO_ID: &str = "0000000000000000000000000000000000000000";

pub struct Repl {
    /// The history the offset counts in, and the previous one (after a promotion) with
    /// the first offset that is not in it.
    pub replid: String,
    pub replid2: String,
    pub second_offset: i64,
    /// The master replication offset: bytes of the stream fed so far.
    pub offset: i64,
    pub backlog: Option<backlog::Backlog>,
    /// Clients that are replicas (from their SYNC/PSYNC on), in arrival order.
    pub replicas: Vec<usize>,
    /// The BGSAVE child writing the snapshot replicas wait for.
    pub rdb_child: Option<libc::pid_t>,
    /// Replicas whose snapshot transfer goes on at the next iteration.
    pub sending: Vec<usize>,
    /// A diskless load (this server a replica) yielded with bytes to parse: it goes on
    /// at the loop's next turn.
    pub load_pending: bool,
    /// A diskless sync's pipe from the BGSAVE child.
    pub pipe: Option<master::RdbPipe>,
    /// The diskless child was collected (with this outcome) while its pipe still held
    /// bytes: the sync finishes when they are relayed.
    pub pipe_child_ok: Option<bool>,
    /// A FAILOVER under way.
    pub failover: Option<failover::Failover>,
    /// The stream's database from a snapshot loaded at startup (a replica's).
    pub restored_db: Option<usize>,
    /// Keys written with a TTL on this writable replica, which it expires itself.
    pub writable_keys: std::collections::HashSet<(usize, Vec<u8>)>,
    /// On a replica: its master and the link to it.
    pub master: Option<replica::Master>,
    pub hooks: Option<Hooks>,
    /// Clients in WAIT: (client, replicas wanted).
    pub waiters: Vec<(usize, i64)>,
    /// A GETACK is to be sent to the replicas before the loop sleeps (a WAIT began).
    pub getack: bool,
    /// Acknowledgements arrived: WAITs are to be checked.
    pub acked: bool,
    /// When the last keepalive PING went to the replicas, and when the last one left.
    pub last_ping: Instant,
    pub no_replicas_since: Option<Instant>,
    last_cron: Instant,
    /// INFO stats.
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
}

impl Default for Repl {
    fn default() -> Self {
        Self::new()
    }
}

impl Repl {
    pub fn new() -> Self {
        let now = Instant::now();
        Repl {
            replid: crate::server::random_hex(40),
            replid2: NO_ID.into(),
            second_offset: -1,
            offset: 0,
            backlog: None,
            replicas: Vec::new(),
            rdb_child: None,
            sending: Vec::new(),
            load_pending: false,
            pipe_child_ok: None,
            pipe: None,
            failover: None,
            restored_db: None,
            writable_keys: Default::default(),
            master: None,
            hooks: None,
            waiters: Vec::new(),
            getack: false,
            acked: false,
            last_ping: now,
            no_replicas_since: Some(now),
            last_cron: now,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
        }
    }

    /// The slab index of the master's client, on a replica whose link is up.
    #[inline]
    pub fn master_client(&self) -> Option<usize> {
        self.master.as_ref().and_then(|m| m.client)
    }

    /// Whether this server follows a master (REPLICAOF host port).
    #[inline]
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// A new history: a new ID, the old one kept as the second up to this offset
    /// (Redis's shiftReplicationId).
    pub fn shift_id(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, crate::server::random_hex(40));
        self.second_offset = self.offset + 1;
    }

    /// Forget both IDs' continuity (a new dataset).
    pub fn new_id(&mut self) {
        self.replid = crate::server::random_hex(40);
        self.clear_id2();
    }

    pub fn clear_id2(&mut self) {
        self.replid2 = NO_ID.into();
        self.second_offset = -1;
    }
}

/// Create the backlog (and the replicas' feed) if there is none. `commands`: the writes
/// run here feed the stream (a master), else only the proxied master stream does.
pub fn ensure_backlog(srv: &mut Server) {
    if srv.repl.backlog.is_none() {
        srv.repl.backlog = Some(backlog::Backlog::new(
            srv.cfg.repl_backlog_size.max(1) as usize,
            srv.repl.offset,
        ));
    }
    set_feed(srv);
}

/// The replicas' sink as the role wants it: commands feed it on a master with a backlog.
pub fn set_feed(srv: &mut Server) {
    if srv.repl.backlog.is_none() {
        srv.data.prop.feed_repl(None);
        return;
    }
    let commands = !srv.repl.is_replica();
    match srv.data.prop.repl_mut() {
        Some(f) if f.commands == commands => {}
        Some(_) | None => {
            let old = srv.data.prop.feed_repl(None);
            let buf = old.map(|f| f.buf).unwrap_or_default();
            srv.data.prop.feed_repl(Some(crate::propagate::ReplFeed {
                buf,
                selected: None,
                commands,
            }));
        }
    }
}

/// The replicas' next command starts with a SELECT (a new replica's stream starts here).
pub fn reselect(srv: &mut Server) {
    if let Some(f) = srv.data.prop.repl_mut() {
        f.selected = None;
    }
}

/// Move what the stream's sink holds into the replication buffer (the backlog, shared
/// by the replicas): the online replicas are written from it, the ones still waiting for
/// their snapshot keep their place in it. A replica whose place is too far behind
/// (client-output-buffer-limit replica) is dropped; the blocks no one needs are freed.
pub fn feed(srv: &mut Server) {
    let Some(f) = srv.data.prop.repl_mut() else {
        return;
    };
    if f.buf.is_empty() {
        return;
    }
    let bytes = std::mem::take(&mut f.buf);
    srv.repl.offset += bytes.len() as i64;
    if let Some(b) = srv.repl.backlog.as_mut() {
        b.append(&bytes);
    }
    for i in 0..srv.repl.replicas.len() {
        let idx = srv.repl.replicas[i];
        if srv
            .net
            .clients
            .get(idx)
            .and_then(|c| c.repl.as_ref())
            .is_some_and(|r| r.online())
        {
            srv.net.pending_write.push(idx);
        }
    }
    master::check_stream_limits(srv);
    trim(srv, backlog::TRIM_PER_CALL);
    // The buffer goes back to the sink for the next writes.
    let mut bytes = bytes;
    bytes.clear();
    if let Some(f) = srv.data.prop.repl_mut() {
        if f.buf.is_empty() && bytes.capacity() <= 1 << 20 {
            f.buf = bytes;
        }
    }
}

/// Free the replication buffer's blocks that neither the backlog nor a replica needs
/// (`max` blocks at most). True when more could be freed.
pub fn trim(srv: &mut Server, max: usize) -> bool {
    let Some(b) = srv.repl.backlog.as_ref() else {
        return false;
    };
    let mut keep = b.end();
    for (_, _, r) in master::replica_conns(srv) {
        if let Some(p) = r.pos {
            keep = keep.min(p);
        }
    }
    srv.repl.backlog.as_mut().is_some_and(|b| b.trim(keep, max))
}

/// The stream a replica still has to be given, in bytes (its share of the replication
/// buffer: what its output would hold).
pub fn stream_pending(srv: &Server, c: &Client) -> usize {
    match (
        srv.repl.backlog.as_ref(),
        c.repl.as_ref().and_then(|r| r.pos),
    ) {
        (Some(b), Some(p)) => (b.end() - p).max(0) as usize,
        _ => 0,
    }
}

/// The replication buffer's memory beyond the backlog's size: the replicas' own (Redis
/// counts it apart from the backlog, and not for maxmemory).
pub fn replicas_extra_mem(srv: &Server) -> usize {
    match srv.repl.backlog.as_ref() {
        Some(b) => {
            // The backlog's size plus the blocks' headers it takes (Redis's formula).
            let counted = b.size() + (b.size() / backlog::BLOCK + 1) * 24;
            b.mem().saturating_sub(counted)
        }
        None => 0,
    }
}

/// The replication memory maxmemory does not count (Redis's freeMemoryGetNotCountedMemory,
/// less the AOF buffer): the replication buffer beyond the backlog's size (with or
/// without replicas: a buffer still being trimmed is theirs), and the stream staged for
/// the next feed (its capacity is kept between event-loop iterations).
pub fn not_counted_mem(srv: &Server) -> usize {
    replicas_extra_mem(srv) + srv.data.prop.repl().map_or(0, |f| f.buf.capacity())
}

/// This server's offset as a replica reports it (Redis's replicationGetSlaveOffset): 0
/// from a full resync's start until its snapshot is loaded, and after a failed one (no
/// history to continue), so the cluster shows it as loading.
pub fn replica_offset(srv: &Server) -> i64 {
    match srv.repl.master.as_ref() {
        Some(m) if m.syncing_full() => 0,
        _ => srv.repl.offset.max(0),
    }
}

/// The offset the stream will have once what the sink holds is fed.
pub fn current_offset(srv: &Server) -> i64 {
    srv.repl.offset + srv.data.prop.repl().map_or(0, |f| f.buf.len() as i64)
}

/// Before the event loop sleeps: a GETACK when a WAIT asked for one, the stream fed, the
/// WAITs that acknowledgements satisfied released.
pub fn before_sleep(srv: &mut Server) {
    if srv.repl.getack {
        srv.repl.getack = false;
        if !srv.repl.replicas.is_empty() {
            srv.data
                .prop
                .repl_raw(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
        }
    }
    feed(srv);
    if srv.repl.acked {
        srv.repl.acked = false;
        master::release_waiters(srv);
        failover::progress(srv);
    }
}

/// Periodic work (from the server cron): the replicas' keepalives and timeouts, the
/// backlog's time to live, and on a replica the link to its master.
pub fn cron(srv: &mut Server) {
    replica::cron(srv);
    if srv.repl.is_replica() {
        replica::expire_writable_keys(srv);
    } else if !srv.repl.writable_keys.is_empty() {
        // Promoted: the active expiry of a master covers them.
        srv.repl.writable_keys.clear();
    }
    failover::progress(srv);
    if !srv.repl.replicas.is_empty() {
        master::start_pending(srv);
    }
    // Blocks a replica let go of (it caught up, or left) are freed a few at a time.
    trim(srv, 10 * backlog::TRIM_PER_CALL);
    let now = Instant::now();
    if now.duration_since(srv.repl.last_cron) < Duration::from_secs(1) {
        return;
    }
    srv.repl.last_cron = now;
    master::cron(srv, now);
    // A master without replicas for repl-backlog-ttl frees its backlog (a replica keeps
    // its own: it may be promoted).
    if srv.repl.replicas.is_empty() && !srv.repl.is_replica() && srv.repl.backlog.is_some() {
        let since = *srv.repl.no_replicas_since.get_or_insert(now);
        let ttl = srv.cfg.repl_backlog_ttl;
        if ttl > 0 && now.duration_since(since).as_secs() as i64 >= ttl {
            // A new ID: no replica may continue an old history with this server.
            srv.repl.new_id();
            srv.repl.backlog = None;
            set_feed(srv);
            crate::notice!(
                "Replication backlog freed after {} seconds without connected replicas.",
                ttl
            );
        }
    }
}

/// A client went away: a replica leaves the list, the master's link is down.
pub fn on_client_closed(srv: &mut Server, idx: usize, c: &Client) {
    if c.repl.as_ref().is_some_and(|r| r.is_replica()) {
        srv.repl.replicas.retain(|&i| i != idx);
        srv.repl.sending.retain(|&i| i != idx);
        crate::notice!("Connection with replica {} lost.", master::replica_name(c));
        // The blocks it alone held go (more in the next crons).
        trim(srv, 10 * backlog::TRIM_PER_CALL);
        if srv.repl.replicas.is_empty() {
            srv.repl.no_replicas_since = Some(Instant::now());
        }
        master::replica_gone(srv);
    }
    srv.repl.waiters.retain(|&(i, _)| i != idx);
    if c.is_master {
        // The database as of the last whole command outside a transaction.
        let db = if c.tx.active {
            srv.repl.master.as_ref().map_or(0, |m| m.db_committed())
        } else {
            c.db
        };
        replica::master_lost(srv, idx, db);
    }
}

/// repl-backlog-size changed (CONFIG SET): the backlog keeps its newest bytes.
pub fn resize_backlog(srv: &mut Server) {
    let size = srv.cfg.repl_backlog_size.max(1) as usize;
    if let Some(b) = srv.repl.backlog.as_mut() {
        b.resize(size);
    }
}

/// INFO replication.
pub fn info(srv: &Server, o: &mut String) {
    macro_rules! f {
        ($k:expr, $v:expr) => {
            let _ = write!(o, "{}:{}\r\n", $k, $v);
        };
    }
    let r = &srv.repl;
    match r.master.as_ref() {
        None => {
            f!("role", "master");
        }
        Some(m) => {
            f!("role", "slave");
            replica::info(srv, m, o);
        }
    }
    f!("connected_slaves", srv.repl.replicas.len());
    master::info_replicas(srv, o);
    f!("master_failover_state", failover::state_name(srv));
    f!("master_replid", r.replid);
    f!("master_replid2", r.replid2);
    f!("master_repl_offset", current_offset(srv));
    f!("second_repl_offset", r.second_offset);
    let (active, first, hist) = match r.backlog.as_ref() {
        Some(b) => (1, b.first_offset(), b.histlen()),
        None => (0, 0, 0),
    };
    f!("repl_backlog_active", active);
    f!("repl_backlog_size", srv.cfg.repl_backlog_size);
    f!("repl_backlog_first_byte_offset", first);
    f!("repl_backlog_histlen", hist);
}

/// ROLE.
pub fn role(srv: &Server, out: &mut crate::resp::Reply) {
    match srv.repl.master.as_ref() {
        None => {
            out.array(3);
            out.bulk(b"master");
            out.int(current_offset(srv));
            let online: Vec<(&Client, &ReplicaConn)> = master::replica_conns(srv)
                .filter(|(_, _, r)| r.online())
                .map(|(_, c, r)| (c, r))
                .collect();
            out.array(online.len());
            for (c, r) in online {
                out.array(3);
                out.bulk(master::replica_ip(c).as_bytes());
                out.bulk(r.listening_port.to_string().as_bytes());
                out.bulk(r.ack_off.to_string().as_bytes());
            }
        }
        Some(m) => {
            out.array(5);
            out.bulk(b"slave");
            out.bulk(m.host.as_bytes());
            out.int(m.port as i64);
            out.bulk(m.state_name().as_bytes());
            out.int(if m.client.is_some() {
                srv.repl.offset
            } else {
                -1
            });
        }
    }
}

/// At startup, from the replication aux fields of the snapshot just loaded: a replica
/// takes the ID and offset as its own (to PSYNC its master from there); a master keeps
/// them as its previous history (replid2), so its replicas continue partially.
pub fn restore_history(srv: &mut Server, loaded: Option<(String, i64, usize)>, replica: bool) {
    let expired = srv.admin.rdb.expired_at_load.take().unwrap_or_default();
    let Some((id, offset, db)) = loaded.filter(|l| l.0.len() == 40) else {
        return;
    };
    if replica {
        srv.repl.replid = id;
        srv.repl.offset = offset;
        srv.repl.restored_db = Some(db);
        return;
    }
    srv.repl.replid2 = id;
    srv.repl.second_offset = offset + 1;
    srv.repl.offset = offset;
    srv.repl.backlog = None;
    ensure_backlog(srv);
    srv.repl.no_replicas_since = Some(Instant::now());
    // The keys that expired while the server was down: deleted on the replicas too.
    let lazy = srv.cfg.lazyfree_lazy_expire;
    for (db, key) in expired {
        let cmd: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        srv.data.prop.repl_command(db, [cmd, &key[..]].into_iter());
    }
    feed(srv);
    crate::notice!(
        "Restored the replication ID {} and offset {} from the RDB file as the secondary ID",
        srv.repl.replid2,
        offset
    );
}
