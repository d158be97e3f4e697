//! Server state shared by every command: configuration, keyspace, clients, counters.
//! The reactor owns the sockets' readiness; everything else lives here.
use crate::commands::{CmdStats, Table};
use crate::config::{file::Extras, Config};
use crate::keyspace::{Db, Keyspace};
use crate::net::Conn;
use crate::resp::Reply;
use crate::stats::Stats;
use slab::Slab;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientKind {
    Tcp,
    Tls,
    Unix,
    /// No socket: commands the server runs for itself (an AOF being loaded, tests).
    Internal,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    Skip,
}

/// Generation bits of a client token (30: the two bits above tell clients from outgoing
/// links, `link::LINK_TOKEN`, and listeners, `listen::LISTENER_BASE`).
const TOKEN_GEN_MASK: u64 = 0x3fff_ffff;

/// The slab index a client token names.
#[inline]
pub fn token_index(token: usize) -> usize {
    token & 0xffff_ffff
}

pub struct Client {
    pub id: u64,
    /// The socket; None for an internal client (`Client::internal`), whose replies are
    /// dropped.
    pub conn: Option<Conn>,
    pub kind: ClientKind,
    /// Bytes read and not yet consumed as commands.
    pub rbuf: Vec<u8>,
    /// While `rbuf` is taken out for executing: its unconsumed length (CLIENT LIST qbuf=).
    pub qbuf_in_flight: usize,
    /// Argument spans of the command being parsed, and inline-command scratch.
    pub spans: Vec<(u32, u32)>,
    /// How far an incomplete multibulk at the start of `rbuf` was parsed.
    pub partial: crate::resp::Partial,
    /// Largest `rbuf.len()` since the last cron pass (cron shrinks `rbuf` towards it).
    pub qbuf_peak: usize,
    pub scratch: Vec<u8>,
    pub out: Reply,
    /// How much of `out.buf` was already written to the socket.
    pub out_pos: usize,
    pub db: usize,
    pub name: Option<Vec<u8>>,
    pub peer: String,
    /// The socket path of a Unix-socket client (empty for TCP: see `local_addr`).
    pub unix_path: String,
    pub created: Instant,
    pub last_interaction: Instant,
    pub last_cmd: &'static str,
    pub user: String,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    pub no_evict: bool,
    pub monitor: bool,
    /// Close once the pending output is written (QUIT, protocol error).
    pub close_after_reply: bool,
    /// Close at the next opportunity without writing more (CLIENT KILL, limits).
    pub close_asap: bool,
    /// Handed over to a forked child (a Lua debugging session): closed without a word,
    /// not even a TLS close_notify, since the child goes on with the connection.
    pub detached: bool,
    /// SCRIPT DEBUG: how this client's EVALs run (Redis's CLIENT_LUA_DEBUG flags).
    pub ldb: crate::scripting::LdbMode,
    /// Whether the socket is registered for WRITABLE as well.
    pub want_write: bool,
    /// Total bytes of commands processed / replies produced, for CLIENT LIST.
    pub tot_net_in: u64,
    pub tot_net_out: u64,
    pub tot_cmds: u64,
    /// When the output buffer first exceeded the soft limit (client-output-buffer-limit).
    pub obuf_soft_since: Option<Instant>,
    /// Set while the client waits in a blocking command (BLPOP & co.).
    pub blocked: Option<Box<crate::blocking::Blocked>>,
    /// Common Name of the verified TLS client certificate (for tls-auth-clients-user CN).
    pub tls_cn: Option<String>,
    /// MULTI queue and WATCHed keys.
    pub tx: crate::commands::multi::Tx,
    /// Pub/Sub subscriptions.
    pub subs: crate::commands::pubsub::Subs,
    /// CLIENT TRACKING state.
    pub trk: crate::tracking::ClientTracking,
    /// A replica's connection to this master (from its first REPLCONF or SYNC).
    pub repl: Option<Box<crate::replication::ReplicaConn>>,
    /// The replication offset just past this client's last write (WAIT waits for it).
    pub woff: i64,
    /// This server's master (on a replica): its stream is applied, not answered.
    pub is_master: bool,
    /// Cluster: READONLY (reads served by a replica of the slot's master), and ASKING
    /// (the next command may use a slot being imported).
    pub cluster_readonly: bool,
    pub asking: bool,
}

impl Client {
    /// The event-loop token of this client at slab index `idx`: the index in the low 32
    /// bits, the low 31 bits of the client's id above them. An event that still carries
    /// the token of a closed client whose slab entry was reused (a forked child kept its socket
    /// registered, say) no longer matches the entry's new occupant and is dropped.
    #[inline]
    pub fn token(&self, idx: usize) -> mio::Token {
        mio::Token((((self.id & TOKEN_GEN_MASK) as usize) << 32) | idx)
    }
    /// Whether `token` (with `idx` its slab index) names this client.
    #[inline]
    pub fn owns(&self, token: usize) -> bool {
        (token >> 32) as u64 == self.id & TOKEN_GEN_MASK
    }

    pub fn new(id: u64, conn: Conn, kind: ClientKind, peer: String, unix_path: String) -> Self {
        Self::with(id, Some(conn), kind, peer, unix_path)
    }

    /// A client without a socket, for commands the server runs itself (an AOF being
    /// loaded, as Redis's fake client): it executes like any other, and what it is
    /// answered is dropped when the reactor would write it.
    pub fn internal(id: u64) -> Self {
        Self::with(id, None, ClientKind::Internal, String::new(), String::new())
    }

    fn with(
        id: u64,
        conn: Option<Conn>,
        kind: ClientKind,
        peer: String,
        unix_path: String,
    ) -> Self {
        let now = Instant::now();
        Client {
            id,
            conn,
            kind,
            rbuf: Vec::with_capacity(16 * 1024),
            qbuf_in_flight: 0,
            spans: Vec::with_capacity(16),
            partial: Default::default(),
            qbuf_peak: 0,
            scratch: Vec::new(),
            out: Reply::default(),
            out_pos: 0,
            db: 0,
            name: None,
            peer,
            unix_path,
            created: now,
            last_interaction: now,
            last_cmd: "NULL",
            user: "default".into(),
            authenticated: true,
            reply_mode: ReplyMode::On,
            no_evict: false,
            monitor: false,
            close_after_reply: false,
            close_asap: false,
            detached: false,
            ldb: crate::scripting::LdbMode::Off,
            want_write: false,
            tot_net_in: 0,
            tot_net_out: 0,
            tot_cmds: 0,
            obuf_soft_since: None,
            blocked: None,
            tls_cn: None,
            tx: Default::default(),
            subs: Default::default(),
            trk: Default::default(),
            repl: None,
            woff: 0,
            is_master: false,
            cluster_readonly: false,
            asking: false,
        }
    }
    /// The TLS handshake is over (or there is none).
    pub fn established(&self) -> bool {
        self.conn.as_ref().is_none_or(|c| c.established)
    }
    pub fn pending_output(&self) -> usize {
        self.out.buf.len() - self.out_pos
    }
    /// The local address (CLIENT LIST laddr), read from the socket when asked rather than
    /// with a getsockname(2) on every accept.
    pub fn local_addr(&self) -> String {
        match self.conn.as_ref().map(|c| &c.stream) {
            Some(crate::net::Stream::Tcp(s)) => {
                s.local_addr().map(|a| a.to_string()).unwrap_or_default()
            }
            Some(crate::net::Stream::Unix(_)) => self.unix_path.clone(),
            None => String::new(),
        }
    }
}

/// A request to stop the server, from SHUTDOWN or a signal.
#[derive(Clone, Copy, Debug)]
pub struct Shutdown {
    pub from_signal: bool,
}

/// A CLIENT PAUSE in effect.
#[derive(Clone, Copy)]
pub struct Pause {
    pub until: Instant,
    /// true: only write commands are paused (PAUSE ... WRITE).
    pub write_only: bool,
}

/// The server's state in parts, so a handler borrows only what it touches: the
/// configuration and command table, the network (sockets, clients, links), the data
/// (keyspace and what hangs on keys: watches, blocked clients, pub/sub, tracking,
/// propagation, scripts and functions) and the administration (stats, ACL, latency,
/// children, pause, shutdown).
pub struct Server {
    pub cfg: Config,
    pub cmds: Table,
    /// The client whose command runs now (its reply buffer is out of its `Client`).
    pub executing: Option<usize>,
    pub net: Net,
    pub data: Data,
    pub admin: Admin,
    /// Replication: this server's replicas and, on a replica, its master.
    pub repl: crate::replication::Repl,
    /// Cluster mode (cluster-enabled yes): this node's view of the cluster.
    pub cluster: Option<Box<crate::cluster::Cluster>>,
}

/// Sockets and the clients and links on them, and the event loop's own state.
pub struct Net {
    pub clients: Slab<Client>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub tls_info: crate::tls::TlsInfo,
    /// Rate limit of repetitive warnings (handshake failures, accept errors).
    pub log_limit: crate::log::Limiter,
    /// A descriptor given up to accept (and turn away) a client when none is left.
    pub spare_fd: Option<std::fs::File>,
    /// Monotonic time read once when the poll returned (client idle times, cron).
    pub loop_now: Instant,
    pub next_client_id: u64,
    /// Serves the event loop once without blocking: set by the reactor, called by a
    /// script that passed busy-reply-threshold (Redis's processEventsWhileBlocked).
    pub events_while_blocked: Option<fn(&mut Server)>,
    /// Clients whose events came while their own script served the loop.
    pub deferred_events: Vec<usize>,
    /// The event batch being served (token, readiness), and how far: the reactor's, kept
    /// here so that a script serving the loop can serve the rest of it.
    pub ready: Vec<(usize, u8)>,
    pub ready_pos: usize,
    /// Clients that got output from another client's command (to flush this iteration).
    pub pending_write: Vec<usize>,
    /// A config change asked for the listeners to be rebuilt.
    pub listeners_dirty: bool,
    /// Connections this server opened (`crate::link`), and the next link's id.
    pub links: Slab<crate::link::Link>,
    pub next_link_id: u64,
    /// MIGRATE's cached connections and transfers in flight.
    pub migrate: crate::commands::migrate::State,
    pub loop_iterations: u64,
    pub registry: mio::Registry,
    pub listeners: Vec<crate::listen::Listener>,
}

/// The dataset and what hangs on its keys.
pub struct Data {
    pub ks: Keyspace,
    /// Writes since start (INFO rdb_changes_since_last_save).
    pub dirty: u64,
    /// What writes become for the AOF and replicas.
    pub prop: crate::propagate::Propagation,
    pub active_expire_enabled: bool,
    /// CONFIG SET lowered maxmemory: keys are evicted from the event loop, outside any
    /// command (Redis's eviction time event), so a transaction that lowered it runs whole
    /// and the evictions' DELs propagate on their own.
    pub evict_pending: bool,
    /// The database the next active expiry run starts in.
    pub expire_next_db: usize,
    /// Clients blocked on keys, keys ready to serve them.
    pub blocking: crate::blocking::Registry,
    /// WATCHed keys of all clients.
    pub watches: crate::commands::multi::Watches,
    /// Client-side caching: the tracking table and BCAST prefixes.
    pub tracking: crate::tracking::Tracking,
    /// Pub/Sub channels and patterns.
    pub pubsub: crate::commands::pubsub::PubSub,
    /// Lua scripts cache and state (EVAL, SCRIPT).
    pub scripting: crate::scripting::Scripting,
}

/// Statistics, ACL, latency and slow log, children, pause and shutdown.
pub struct Admin {
    pub extras: Extras,
    pub config_file: Option<String>,
    pub cmd_stats: Vec<CmdStats>,
    pub stats: Stats,
    pub run_id: String,
    pub started: Instant,
    pub started_unix: i64,
    pub shutdown: Option<Shutdown>,
    pub monitors: Vec<usize>,
    /// Forked children not yet reaped.
    pub children: Vec<crate::child::Child>,
    /// Children killed and collected at once (FLUSHALL, a BGREWRITEAOF over a BGSAVE):
    /// the next reap tells the ones that waited on them.
    pub killed_children: Vec<libc::pid_t>,
    pub pause: Option<Pause>,
    pub cron_runs: u64,
    /// When the cluster's cron last ran (ms): every 100 ms whatever hz is.
    pub cluster_cron_at: i64,
    pub peak_memory: u64,
    /// Clients whose input waits for a CLIENT PAUSE to end.
    pub paused_clients: Vec<usize>,
    /// Users, the ACL log (src/acl).
    pub acl: crate::acl::Acl,
    /// Slow log, latency histograms and events, event-loop stats.
    pub latency: crate::latency::Latency,
    /// RDB snapshots: last save, the BGSAVE child, INFO persistence.
    pub rdb: crate::persist::snapshot::Rdb,
    /// The append-only file: its files, the rewrite child, INFO persistence.
    pub aof: crate::persist::aof::Aof,
}

/// client-output-buffer-limit for a client whose output holds `pending` bytes: whether it
/// is to be closed (past the hard limit, or past the soft one for its seconds); logged.
pub fn output_limit_reached(c: &mut Client, lim: crate::config::ObufLimit, pending: i64) -> bool {
    let over_hard = lim.hard > 0 && pending >= lim.hard;
    let over_soft = lim.soft > 0 && pending >= lim.soft;
    let soft_expired = match (over_soft, c.obuf_soft_since) {
        (true, Some(t)) => t.elapsed().as_secs() as i64 >= lim.soft_secs,
        (true, None) => {
            c.obuf_soft_since = Some(Instant::now());
            lim.soft_secs == 0
        }
        (false, _) => {
            c.obuf_soft_since = None;
            false
        }
    };
    if over_hard || soft_expired {
        crate::warn!("Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.", c.id, c.peer);
        return true;
    }
    false
}

impl Admin {
    /// A CLIENT PAUSE begins or changes (None: it ends). While one is in effect the
    /// dataset stands still, as in Redis: no key is expired, lazily or actively, and
    /// none evicted.
    pub fn set_pause(&mut self, p: Option<Pause>) {
        self.pause = p;
        crate::keyspace::clock::set_held(p.is_some());
    }
}

impl Server {
    pub fn new(
        cfg: Config,
        extras: Extras,
        config_file: Option<String>,
        cmds: Table,
        registry: mio::Registry,
    ) -> Self {
        let n = cmds.len();
        // Calibrate quanta's TSC clock (command timing) now, not during the first command.
        let _ = quanta::Instant::now();
        let ks = Keyspace::for_server(cfg.databases as usize, cfg.cluster_enabled);
        Server {
            cfg,
            cmds,
            executing: None,
            net: Net {
                clients: Slab::with_capacity(1024),
                next_client_id: 1,
                registry,
                listeners: Vec::new(),
                listeners_dirty: false,
                links: Slab::new(),
                next_link_id: 1,
                migrate: Default::default(),
                spare_fd: None,
                tls: None,
                tls_info: Default::default(),
                log_limit: Default::default(),
                ready: Vec::with_capacity(1024),
                ready_pos: 0,
                deferred_events: Vec::new(),
                events_while_blocked: None,
                pending_write: Vec::new(),
                loop_now: Instant::now(),
                loop_iterations: 0,
            },
            data: Data {
                ks,
                watches: Default::default(),
                blocking: Default::default(),
                pubsub: Default::default(),
                tracking: Default::default(),
                dirty: 0,
                prop: Default::default(),
                expire_next_db: 0,
                active_expire_enabled: true,
                evict_pending: false,
                scripting: Default::default(),
            },
            admin: Admin {
                extras,
                config_file,
                cmd_stats: vec![CmdStats::default(); n],
                stats: Stats::default(),
                run_id: random_hex(40),
                started: Instant::now(),
                started_unix: crate::util::now_ms() / 1000,
                shutdown: None,
                children: Vec::new(),
                killed_children: Vec::new(),
                pause: None,
                paused_clients: Vec::new(),
                acl: Default::default(),
                latency: crate::latency::Latency::new(n),
                rdb: crate::persist::snapshot::Rdb::new(),
                aof: crate::persist::aof::Aof::new(),
                monitors: Vec::new(),
                cron_runs: 0,
                cluster_cron_at: 0,
                peak_memory: 0,
            },
            repl: crate::replication::Repl::new(),
            cluster: None,
        }
    }
    pub fn db(&mut self, i: usize) -> &mut Db {
        &mut self.data.ks.dbs[i]
    }
    /// (Re)open listeners from the current config. On failure the old ones stay.
    pub fn rebind(&mut self) -> Result<(), String> {
        let mut fresh = crate::listen::open_all(&self.cfg)?;
        crate::listen::deregister(&self.net.registry, &mut self.net.listeners);
        crate::listen::register(&self.net.registry, &mut fresh).map_err(|e| e.to_string())?;
        self.net.listeners = fresh;
        Ok(())
    }
    /// (Re)build the TLS configuration when a TLS port is set. On failure the old one stays.
    pub fn reload_tls(&mut self) -> Result<(), String> {
        if self.cfg.tls_port == 0 && self.cfg.tls_cert_file.is_empty() {
            return Ok(());
        }
        let (sc, info) = crate::tls::build_server_config(&self.cfg)?;
        self.net.tls = Some(sc);
        self.net.tls_info = info;
        crate::tls::warn_expiry(&mut self.net.tls_info, crate::util::now_ms() / 1000);
        Ok(())
    }
    /// Queue output for another client (pub/sub, unblocking): flushed after this iteration.
    pub fn mark_pending(&mut self, idx: usize) {
        self.net.pending_write.push(idx);
    }

    /// Add a client without a socket (an AOF being replayed, the unit-test kit); returns
    /// its slab index.
    pub fn add_internal_client(&mut self) -> usize {
        let id = self.net.next_client_id;
        self.net.next_client_id += 1;
        self.net.clients.insert(Client::internal(id))
    }
}

pub fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// What a command handler works with: the server, its own reply buffer (taken out of the
/// client while the batch runs), and which client and database it is.
pub struct Ctx<'a> {
    pub srv: &'a mut Server,
    pub out: &'a mut Reply,
    pub id: usize,
    pub db: usize,
}

impl Ctx<'_> {
    #[inline]
    pub fn client(&mut self) -> &mut Client {
        &mut self.srv.net.clients[self.id]
    }
    /// Whether the command comes from a source that must be obeyed as it is (an AOF being
    /// loaded; a master's stream later): Redis's mustObeyClient, which relaxes some
    /// argument checks so what was accepted once replays the same.
    pub fn must_obey(&mut self) -> bool {
        crate::keyspace::clock::replaying()
            && (self.client().kind == ClientKind::Internal
                || self.srv.repl.master_client() == Some(self.id))
    }
    /// The current database and the reply buffer, borrowed together.
    #[inline]
    pub fn db_out(&mut self) -> (&mut Db, &mut Reply) {
        (&mut self.srv.data.ks.dbs[self.db], self.out)
    }
    #[inline]
    pub fn dbm(&mut self) -> &mut Db {
        &mut self.srv.data.ks.dbs[self.db]
    }
    /// Record that a key was written (dirty counter; hook point for WATCH and notifications).
    #[inline]
    pub fn modified(&mut self, key: &[u8]) {
        self.srv.data.dirty += 1;
        // A lazy expiry of this key during the write comes first, as in Redis.
        crate::notify::lazy_expired(self.srv, self.db);
        crate::commands::multi::touch_key(self.srv, self.db, key);
        crate::tracking::invalidate_key(self.srv, key, Some(self.id));
        crate::blocking::signal_key_ready(self.srv, self.db, key);
    }
    /// `modified` for a key of another database (MOVE, COPY ... DB n): breaks its
    /// WATCHes and wakes its waiters.
    #[inline]
    pub fn modified_in(&mut self, db: usize, key: &[u8]) {
        self.srv.data.dirty += 1;
        crate::commands::multi::touch_key(self.srv, db, key);
        crate::tracking::invalidate_key(self.srv, key, Some(self.id));
        crate::blocking::signal_key_ready(self.srv, db, key);
    }
    /// Propagate the running command as `words` instead of its own arguments (callers
    /// test `srv.prop.on()` before building costly words).
    #[inline]
    pub fn propagate_as(&mut self, words: &[&[u8]]) {
        self.srv.data.prop.replace(words.iter().copied());
    }
    /// Add a command to the propagated stream, before the running command's own.
    #[inline]
    pub fn also_propagate(&mut self, words: &[&[u8]]) {
        self.srv.data.prop.push(self.db, words.iter().copied());
    }
    /// The running command propagates nothing of its own (it used also_propagate).
    #[inline]
    pub fn prevent_propagation(&mut self) {
        self.srv.data.prop.prevent();
    }
    /// Record a keyspace hit or miss (INFO keyspace_hits / keyspace_misses).
    #[inline]
    pub fn hit(&mut self, found: bool) {
        if found {
            self.srv.admin.stats.keyspace_hits += 1;
        } else {
            self.srv.admin.stats.keyspace_misses += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::Kit;

    #[test]
    fn a_reused_slot_does_not_answer_to_its_old_token() {
        let mut k = Kit::new();
        let a = k.client();
        let old = k.srv.net.clients[a].token(a).0;
        assert!(k.srv.net.clients[a].owns(old));
        assert_eq!(super::token_index(old), a);
        k.srv.net.clients.remove(a);
        let b = k.client();
        assert_eq!(b, a, "the slab reuses the slot");
        assert!(!k.srv.net.clients[b].owns(old));
        let new = k.srv.net.clients[b].token(b).0;
        assert!(k.srv.net.clients[b].owns(new) && new != old);
        // Client tokens never reach the links' or the listeners' range.
        assert!(new < crate::link::LINK_TOKEN);
        const { assert!(crate::link::LINK_TOKEN < crate::listen::LISTENER_BASE) };
    }

    #[test]
    fn an_internal_client_runs_commands_without_a_socket() {
        let mut k = Kit::new();
        let a = k.client();
        assert!(k.srv.net.clients[a].conn.is_none());
        assert_eq!(k.run(a, &["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(k.run(a, &["GET", "k"]), "$1\r\nv\r\n");
        // What the reactor would write goes nowhere, and the client stays.
        k.srv.net.clients[a]
            .out
            .buf
            .extend_from_slice(b"+pending\r\n");
        crate::reactor::flush(&mut k.srv, a);
        assert_eq!(k.srv.net.clients[a].pending_output(), 0);
        assert!(k.srv.net.clients.contains(a));
        // Not a connection: CLIENT LIST leaves it out, as Redis its fake clients.
        let id = k.srv.net.clients[a].id;
        assert!(!k.run(a, &["CLIENT", "LIST"]).contains(&format!("id={id} ")));
        crate::reactor::close_client(&mut k.srv, a);
        assert!(!k.srv.net.clients.contains(a));
    }
}
