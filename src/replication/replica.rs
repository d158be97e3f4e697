//! This server as a replica: REPLICAOF, the link to the master (a `crate::link`
//! connection, TLS with `tls-replication`), the handshake (PING, AUTH, REPLCONF
//! listening-port and capa, PSYNC), the snapshot of a full sync (a `$<len>` bulk or a
//! diskless `$EOF:<mark>` one) written to a temporary file and loaded, then the master's
//! stream applied as the master client's commands (not answered, but REPLCONF GETACK)
//! and proxied to this server's own backlog and replicas, with REPLCONF ACK every second.
//!
//! When the link breaks the replica keeps its replication ID and offset and asks to
//! continue from there (PSYNC), retrying every second.
use crate::link::{self, Owner, Progress};
use crate::resp::client::Value;
use crate::resp::{parse::Request, Partial};
use crate::server::{Client, ClientKind, Server};
use std::io::Write;
use std::time::{Duration, Instant};

/// Where the link to the master is (Redis's repl_state, in ROLE's words).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// To connect (at the next cron after `retry_at`).
    Connect,
    /// The TCP connect and TLS handshake are under way.
    Connecting,
    /// PING, AUTH, REPLCONF, PSYNC exchanged.
    Handshake,
    /// The snapshot of a full sync is coming.
    Transfer,
    /// The stream is being applied.
    Connected,
}

/// Handshake steps: the reply awaited.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    Pong,
    /// AUTH (when masterauth is set) and the REPLCONFs: how many replies are still due,
    /// and whether the first one is AUTH's.
    Conf {
        left: usize,
        auth: bool,
    },
    Psync,
}

/// The snapshot being received.
struct Transfer {
    /// To disk (repl-diskless-load disabled, or on-empty-db with data): the temporary
    /// file, loaded once complete.
    disk: Option<(String, std::fs::File)>,
    /// A diskless load: the snapshot parsed as it comes, into a dataset of its own.
    load: Option<Box<crate::persist::snapshot::StreamLoad>>,
    /// The diskless load serves the old dataset meanwhile (swapdb, same history).
    async_load: bool,
    /// The diskless load has parsed the whole RDB (its EOF mark may be due).
    rdb_done: bool,
    /// `$<len>`: bytes still due; None: diskless, ended by `mark`.
    left: Option<u64>,
    mark: Vec<u8>,
    /// The last bytes written (to find `mark` at the end).
    tail: Vec<u8>,
    read: u64,
    total: Option<u64>,
}

pub struct Master {
    pub host: String,
    pub port: u16,
    pub state: State,
    step: Step,
    /// The link while connecting and syncing; the master's client once connected.
    pub link: Option<usize>,
    pub client: Option<usize>,
    transfer: Option<Transfer>,
    /// The master's ID and offset from +FULLRESYNC.
    full_replid: String,
    full_offset: i64,
    /// No history to continue (a full sync failed half way): PSYNC ? -1.
    no_psync: bool,
    pub last_io: Instant,
    pub down_since: Option<Instant>,
    /// When CLIENT KILL asked for the master's client to close (it closes later).
    pub killed_at: Option<Instant>,
    retry_at: Instant,
    pub sync_started: Option<Instant>,
    /// Bytes of the stream read (slave_read_repl_offset), beyond the applied ones.
    pub read_ahead: i64,
    /// REPLCONF GETACK came: an ACK goes back once the input is applied.
    pub ack_asked: bool,
    last_ack: Instant,
    /// The database the master's stream has selected: kept across a broken link, since a
    /// partial resync continues the stream where it was (Redis keeps its cached master).
    db: usize,
    /// PSYNC carries FAILOVER (this master hands over to the replica it now follows), and
    /// whether the target refused it.
    pub psync_failover: bool,
    pub failover_refused: bool,
    /// A transaction of the stream under way: its bytes count (offset, backlog, our
    /// replicas) only once its EXEC is applied; a link lost before drops it and the
    /// master sends it again.
    tx_bytes: Vec<u8>,
}

impl Master {
    fn new(host: String, port: u16) -> Self {
        let now = Instant::now();
        Master {
            host,
            port,
            state: State::Connect,
            step: Step::Pong,
            link: None,
            client: None,
            transfer: None,
            full_replid: String::new(),
            full_offset: 0,
            no_psync: false,
            last_io: now,
            down_since: None,
            killed_at: None,
            retry_at: now,
            sync_started: None,
            read_ahead: 0,
            ack_asked: false,
            last_ack: now,
            db: 0,
            psync_failover: false,
            failover_refused: false,
            tx_bytes: Vec::new(),
        }
    }

    /// The stream's database as of its last applied command outside a transaction.
    pub fn db_committed(&self) -> usize {
        self.db
    }

    /// A full sync is under way (or failed, leaving nothing to continue from).
    pub fn syncing_full(&self) -> bool {
        self.state == State::Transfer || self.no_psync
    }

    /// ROLE's name of the state.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Connect => "connect",
            State::Connecting => "connecting",
            State::Handshake => "handshake",
            State::Transfer => "sync",
            State::Connected => "connected",
        }
    }
}

/// REPLICAOF host port: follow that master (None: NO ONE, become a master). The reply is
/// Redis's.
pub fn replicaof(
    srv: &mut Server,
    target: Option<(String, u16)>,
    by: &str,
) -> Result<&'static str, String> {
    match target {
        None => {
            if srv.repl.master.is_none() {
                return Ok("OK");
            }
            drop_link(srv);
            srv.repl.master = None;
            srv.cfg.replicaof.clear();
            // A new history that continues the old one: the master's other replicas can
            // continue with this server (PSYNC2).
            srv.repl.shift_id();
            crate::keyspace::clock::set_following(false);
            crate::log::set_role(b'M');
            super::set_feed(srv);
            super::reselect(srv);
            // Our replicas learn the new ID by reconnecting (they continue partially).
            disconnect_replicas(srv);
            crate::notice!("Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}", srv.repl.replid2, srv.repl.second_offset, srv.repl.replid);
            crate::notice!("MASTER MODE enabled (user request from '{}')", by);
            Ok("OK")
        }
        Some((host, port)) => {
            if let Some(m) = srv.repl.master.as_ref() {
                if m.host.eq_ignore_ascii_case(&host) && m.port == port {
                    crate::notice!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
                    return Ok("OK Already connected to specified master");
                }
            }
            drop_link(srv);
            let was_master = srv.repl.master.is_none();
            // The stream's selected database goes with the cached history: a new master
            // that continues it (PSYNC) sends no SELECT.
            let db = srv.repl.master.as_ref().map_or(0, |m| m.db);
            srv.cfg.replicaof = format!("{host} {port}");
            let mut m = Master::new(host.clone(), port);
            m.db = db;
            srv.repl.master = Some(m);
            if was_master {
                // Clients blocked on keys wait for writes that will now come from the
                // master, if ever: released, as Redis does.
                crate::blocking::unblock_all(
                    srv,
                    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
                );
            }
            crate::keyspace::clock::set_following(true);
            crate::log::set_role(b'S');
            super::set_feed(srv);
            crate::notice!("Connecting to MASTER {}:{}", host, port);
            crate::notice!(
                "REPLICAOF {}:{} enabled (user request from '{}')",
                host,
                port,
                by
            );
            connect(srv);
            Ok("OK")
        }
    }
}

/// Close the link or the master's client, whichever there is (the state is kept for a
/// PSYNC).
fn drop_link(srv: &mut Server) {
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    let link = m.link.take();
    let client = m.client.take();
    m.state = State::Connect;
    abort_transfer(srv);
    if let Some(l) = link {
        link::close(srv, l);
    }
    if let Some(c) = client {
        if let Some(cl) = srv.net.clients.get_mut(c) {
            // The database the stream had selected, kept for a PSYNC that continues it
            // (an unfinished transaction's is not: the transaction comes again).
            let keep = (!cl.tx.active).then_some(cl.db);
            cl.is_master = false;
            cl.close_asap = true;
            srv.net.pending_write.push(c);
            if let Some(m) = srv.repl.master.as_mut() {
                m.db = keep.unwrap_or(m.db);
                m.tx_bytes.clear();
            }
        }
    }
}

/// A transfer given up: the temporary file removed, or the half-loaded dataset dropped
/// (the old one stays).
fn abort_transfer(srv: &mut Server) {
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    m.sync_started = None;
    let Some(t) = m.transfer.take() else {
        return;
    };
    if let Some((path, _)) = &t.disk {
        let _ = std::fs::remove_file(path);
    }
    if t.load.is_some() {
        end_stream_load(srv, t.async_load);
        srv.repl.load_pending = false;
        if srv.cfg.repl_diskless_load.0 == 2 {
            crate::notice!("MASTER <-> REPLICA sync: Discarding temporary DB in background");
        }
    }
}

/// The loading state of a diskless load ends.
fn end_stream_load(srv: &mut Server, async_load: bool) {
    if async_load {
        srv.admin.rdb.async_loading = false;
    } else {
        crate::persist::snapshot::end_loading(srv);
    }
}

/// The link failed or timed out: log why, close it, retry in a second.
fn fail(srv: &mut Server, why: &str) {
    crate::warn!("{}", why);
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    let link = m.link.take();
    let transferring = m.state == State::Transfer;
    m.state = State::Connect;
    m.retry_at = Instant::now() + Duration::from_secs(1);
    if m.down_since.is_none() {
        m.down_since = Some(Instant::now());
    }
    if transferring {
        abort_transfer(srv);
    }
    if let Some(l) = link {
        link::close(srv, l);
    }
}

/// Open the link to the master and queue the PING.
fn connect(srv: &mut Server) {
    let Some(m) = srv.repl.master.as_ref() else {
        return;
    };
    let (host, port) = (m.host.clone(), m.port);
    let tls = if srv.cfg.tls_replication {
        match srv.net.tls_info.client_config.clone() {
            Some(c) => Some(c),
            None => {
                return fail(
                    srv,
                    "Unable to connect to MASTER: tls-replication needs tls-ca-cert-file or tls-ca-cert-dir",
                )
            }
        }
    } else {
        None
    };
    let step = Duration::from_secs(srv.cfg.repl_timeout.max(1) as u64);
    match link::open(srv, &host, port, tls, step, Owner::Master) {
        Ok(idx) => {
            crate::notice!("MASTER <-> REPLICA sync started");
            let m = srv.repl.master.as_mut().expect("a master");
            m.link = Some(idx);
            m.state = State::Connecting;
            m.step = Step::Pong;
            m.last_io = Instant::now();
            let p = link::send(srv, idx, b"*1\r\n$4\r\nPING\r\n", 1, step);
            if let Progress::Failed(e) = p {
                fail(srv, &format!("Error condition on socket for SYNC: {e}"));
            }
        }
        Err(e) => fail(srv, &format!("Unable to connect to MASTER: {e}")),
    }
}

/// The link's progress (from the reactor).
pub fn on_link(srv: &mut Server, idx: usize, p: Progress) {
    let ours = srv
        .repl
        .master
        .as_ref()
        .is_some_and(|m| m.link == Some(idx));
    if !ours {
        link::close(srv, idx);
        return;
    }
    srv.repl.master.as_mut().expect("a master").last_io = Instant::now();
    match p {
        Progress::Failed(e) => {
            let state = srv.repl.master.as_ref().map(|m| m.state);
            let why = if state == Some(State::Transfer) {
                format!("I/O error trying to sync with MASTER: {e}")
            } else if e == "timeout" {
                "Timeout connecting to the MASTER...".to_string()
            } else {
                format!("Error condition on socket for SYNC: {e}")
            };
            fail(srv, &why);
        }
        Progress::Nothing => {
            let m = srv.repl.master.as_mut().expect("a master");
            if m.state == State::Connecting && srv.net.links[idx].state == crate::link::State::Ready
            {
                crate::notice!("Non blocking connect for SYNC fired the event.");
                m.state = State::Handshake;
            }
        }
        Progress::Replies => {
            let m = srv.repl.master.as_mut().expect("a master");
            if m.state == State::Connecting {
                m.state = State::Handshake;
            }
            for v in link::take_replies(srv, idx) {
                if !handshake_reply(srv, idx, v) {
                    return;
                }
            }
            transfer(srv, idx);
        }
        Progress::Data => transfer(srv, idx),
    }
}

fn reply_text(v: &Value) -> String {
    match v {
        Value::Simple(s) | Value::Error(s) => String::from_utf8_lossy(s).into_owned(),
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

/// One handshake reply; false when the link was given up.
fn handshake_reply(srv: &mut Server, idx: usize, v: Value) -> bool {
    let step = srv.repl.master.as_ref().expect("a master").step;
    let is_err = matches!(v, Value::Error(_));
    let text = reply_text(&v);
    let timeout = Duration::from_secs(srv.cfg.repl_timeout.max(1) as u64);
    match step {
        Step::Pong => {
            if is_err
                && !text.starts_with("NOAUTH")
                && !text.starts_with("NOPERM")
                && !text.starts_with("ERR operation not permitted")
            {
                fail(srv, &format!("Error reply to PING from master: '-{text}'"));
                return false;
            }
            crate::notice!("Master replied to PING, replication can continue...");
            let mut cmds = Vec::new();
            let mut n = 0;
            let auth = !srv.cfg.masterauth.is_empty();
            if auth {
                let mut words: Vec<&[u8]> = vec![b"AUTH"];
                if !srv.cfg.masteruser.is_empty() {
                    words.push(srv.cfg.masteruser.as_bytes());
                }
                words.push(srv.cfg.masterauth.as_bytes());
                crate::resp::client::encode_command(&mut cmds, words.into_iter());
                n += 1;
            }
            let port = if srv.cfg.replica_announce_port != 0 {
                srv.cfg.replica_announce_port
            } else if srv.cfg.tls_replication && srv.cfg.tls_port != 0 {
                srv.cfg.tls_port
            } else {
                srv.cfg.port
            };
            let port = port.to_string();
            crate::resp::client::encode_command(
                &mut cmds,
                [&b"REPLCONF"[..], b"listening-port", port.as_bytes()].into_iter(),
            );
            n += 1;
            if !srv.cfg.replica_announce_ip.is_empty() {
                crate::resp::client::encode_command(
                    &mut cmds,
                    [
                        &b"REPLCONF"[..],
                        b"ip-address",
                        srv.cfg.replica_announce_ip.as_bytes(),
                    ]
                    .into_iter(),
                );
                n += 1;
            }
            crate::resp::client::encode_command(
                &mut cmds,
                [&b"REPLCONF"[..], b"capa", b"eof", b"capa", b"psync2"].into_iter(),
            );
            n += 1;
            srv.repl.master.as_mut().expect("a master").step = Step::Conf { left: n, auth };
            if let Progress::Failed(e) = link::send(srv, idx, &cmds, n, timeout) {
                fail(srv, &format!("Error condition on socket for SYNC: {e}"));
                return false;
            }
        }
        Step::Conf { left, auth } => {
            if auth && is_err {
                fail(srv, &format!("Unable to AUTH to MASTER: -{text}"));
                return false;
            }
            if is_err {
                crate::notice!("(Non critical) Master does not understand REPLCONF: -{text}");
            }
            let left = left - 1;
            if left > 0 {
                srv.repl.master.as_mut().expect("a master").step = Step::Conf { left, auth: false };
                return true;
            }
            // PSYNC: continue our history, or ask for a full sync.
            let m = srv.repl.master.as_mut().expect("a master");
            m.step = Step::Psync;
            let (id, off) = if m.no_psync {
                ("?".to_string(), "-1".to_string())
            } else {
                (srv.repl.replid.clone(), (srv.repl.offset + 1).to_string())
            };
            if id != "?" {
                crate::notice!(
                    "Trying a partial resynchronization (request {}:{}).",
                    id,
                    off
                );
            } else {
                crate::notice!("Partial resynchronization not possible (no cached master)");
            }
            let mut cmd = Vec::new();
            let mut words: Vec<&[u8]> = vec![b"PSYNC", id.as_bytes(), off.as_bytes()];
            if m.psync_failover {
                words.push(b"FAILOVER");
            }
            crate::resp::client::encode_command(&mut cmd, words.into_iter());
            // After PSYNC's reply the link carries the snapshot and the stream: raw bytes.
            srv.net.links[idx].raw = true;
            if let Progress::Failed(e) = link::send(srv, idx, &cmd, 1, timeout) {
                fail(srv, &format!("Error condition on socket for SYNC: {e}"));
                return false;
            }
        }
        Step::Psync => return psync_reply(srv, idx, is_err, &text),
    }
    true
}

fn psync_reply(srv: &mut Server, idx: usize, is_err: bool, text: &str) -> bool {
    if is_err {
        if let Some(m) = srv.repl.master.as_mut().filter(|m| m.psync_failover) {
            m.failover_refused = true;
        }
        if text.starts_with("NOMASTERLINK") || text.starts_with("LOADING") {
            fail(
                srv,
                &format!(
                    "Master is currently unable to PSYNC but should be in the future: -{text}"
                ),
            );
        } else {
            fail(
                srv,
                &format!("Unexpected reply to PSYNC from master: -{text}"),
            );
        }
        return false;
    }
    let mut words = text.split_whitespace();
    match words.next() {
        Some("FULLRESYNC") => {
            let (Some(id), Some(off)) = (
                words.next(),
                words.next().and_then(|o| o.parse::<i64>().ok()),
            ) else {
                fail(srv, "Master replied with wrong +FULLRESYNC syntax.");
                return false;
            };
            crate::notice!("Full resync from master: {}:{}", id, off);
            let m = srv.repl.master.as_mut().expect("a master");
            m.db = 0;
            m.full_replid = id.to_string();
            m.full_offset = off;
            m.state = State::Transfer;
            m.sync_started = Some(Instant::now());
            true
        }
        Some("CONTINUE") => {
            crate::notice!("Successful partial resynchronization with master.");
            if let Some(new) = words.next() {
                if new != srv.repl.replid {
                    srv.repl.shift_id();
                    srv.repl.replid = new.to_string();
                    crate::notice!("Master replication ID changed to {}", new);
                    // Our replicas learn the new ID by reconnecting.
                    disconnect_replicas(srv);
                }
            }
            super::ensure_backlog(srv);
            crate::notice!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
            become_connected(srv, idx);
            false
        }
        _ => {
            fail(
                srv,
                &format!("Unexpected reply to PSYNC from master: {text}"),
            );
            false
        }
    }
}

fn disconnect_replicas(srv: &mut Server) {
    for &idx in &srv.repl.replicas {
        if let Some(c) = srv.net.clients.get_mut(idx) {
            c.close_asap = true;
            srv.net.pending_write.push(idx);
        }
    }
}

/// The snapshot's bytes: to the temporary file and loaded once all in, or (a diskless
/// load) parsed as they come.
fn transfer(srv: &mut Server, idx: usize) {
    let Some(m) = srv.repl.master.as_ref() else {
        return;
    };
    if m.state != State::Transfer {
        return;
    }
    if m.transfer.is_none() {
        let mut rbuf = std::mem::take(&mut srv.net.links[idx].rbuf);
        let r = begin_transfer(srv, &mut rbuf);
        srv.net.links[idx].rbuf = rbuf;
        match r {
            Err(e) => return fail(srv, &e),
            Ok(false) => return,
            Ok(true) => {}
        }
    }
    let streaming = srv
        .repl
        .master
        .as_ref()
        .and_then(|m| m.transfer.as_ref())
        .is_some_and(|t| t.load.is_some());
    if streaming {
        srv.net.links[idx].hold_reads = true;
        return pump(srv, idx);
    }
    let mut rbuf = std::mem::take(&mut srv.net.links[idx].rbuf);
    let r = to_disk(srv, &mut rbuf);
    if srv.net.links.contains(idx) {
        srv.net.links[idx].rbuf = rbuf;
    }
    match r {
        Err(e) => fail(srv, &e),
        Ok(false) => {}
        Ok(true) => finish_sync(srv, idx),
    }
}

/// The snapshot's header (`$<len>` or `$EOF:<mark>`): Ok(true) once it is in and the
/// transfer set up, to a file or to the parser.
fn begin_transfer(srv: &mut Server, rbuf: &mut Vec<u8>) -> Result<bool, String> {
    // Newlines keep the link alive while the master prepares the snapshot.
    let skip = rbuf.iter().take_while(|&&b| b == b'\n').count();
    rbuf.drain(..skip);
    let Some(end) = rbuf.windows(2).position(|w| w == b"\r\n") else {
        if rbuf.len() > 1024 {
            return Err("Bad protocol from MASTER: no bulk header".into());
        }
        return Ok(false);
    };
    let line = String::from_utf8_lossy(&rbuf[..end]).into_owned();
    rbuf.drain(..end + 2);
    if let Some(e) = line.strip_prefix('-') {
        return Err(format!("MASTER aborted replication with an error: {e}"));
    }
    if !line.starts_with('$') {
        return Err(format!("Bad protocol from MASTER, the first byte is not '$' (we received '{line}'), are you sure the host and port are right?"));
    }
    // Redis's useDisklessLoad: swapdb always, on-empty-db when there is no key.
    let diskless = match srv.cfg.repl_diskless_load.0 {
        2 => true,
        1 => srv.data.ks.dbs.iter().all(|d| d.is_empty()),
        _ => false,
    };
    let to = if diskless { "to parser" } else { "to disk" };
    let (left, mark) = match line.strip_prefix("$EOF:") {
        Some(mark) if mark.len() == 40 => {
            crate::notice!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {to}"
            );
            (None, mark.as_bytes().to_vec())
        }
        _ => {
            let n = line[1..]
                .parse::<u64>()
                .map_err(|_| format!("Bad protocol from MASTER: bulk length '{line}'"))?;
            crate::notice!(
                "MASTER <-> REPLICA sync: receiving {} bytes from master {to}",
                n
            );
            (Some(n), Vec::new())
        }
    };
    let mut t = Transfer {
        disk: None,
        load: None,
        async_load: false,
        rdb_done: false,
        left,
        mark,
        tail: Vec::new(),
        read: 0,
        total: left,
    };
    if diskless {
        let swapdb = srv.cfg.repl_diskless_load.0 == 2;
        let m = srv.repl.master.as_ref().expect("a master");
        // Serving the old data meanwhile is right only when it is an earlier point of
        // the same history (Redis's async loading).
        t.async_load = swapdb && m.full_replid == srv.repl.replid;
        if !swapdb {
            crate::notice!("MASTER <-> REPLICA sync: Flushing old data");
        }
        crate::notice!("MASTER <-> REPLICA sync: Loading DB in memory");
        t.load = Some(Box::new(crate::persist::snapshot::StreamLoad::new(srv)));
        if t.async_load {
            let r = &mut srv.admin.rdb;
            r.async_loading = true;
            r.loading_started = crate::util::now_ms() / 1000;
            r.loading_total_bytes = left.unwrap_or(0);
        } else {
            crate::persist::snapshot::begin_loading(srv, left.unwrap_or(0));
        }
        srv.admin.rdb.loading_loaded_bytes = 0;
    } else {
        let path = format!(
            "temp-{}.{}.rdb",
            crate::util::now_ms() / 1000,
            std::process::id()
        );
        let file = std::fs::File::create(&path).map_err(|e| {
            format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}")
        })?;
        t.disk = Some((path, file));
    }
    srv.repl.master.as_mut().expect("a master").transfer = Some(t);
    Ok(true)
}

/// Ok(true): the snapshot is all in the file (what follows it stays in `rbuf`).
fn to_disk(srv: &mut Server, rbuf: &mut Vec<u8>) -> Result<bool, String> {
    let m = srv.repl.master.as_mut().expect("a master");
    let t = m.transfer.as_mut().expect("a transfer");
    let (_, file) = t.disk.as_mut().expect("a file");
    let take = match t.left {
        Some(left) => (rbuf.len() as u64).min(left) as usize,
        None => rbuf.len(),
    };
    if take > 0 {
        file.write_all(&rbuf[..take])
            .map_err(|e| format!("Write error saving the DB from MASTER: {e}"))?;
        t.read += take as u64;
        if t.left.is_none() {
            t.tail.extend_from_slice(&rbuf[..take]);
            let keep = t.tail.len().saturating_sub(t.mark.len());
            t.tail.drain(..keep);
        }
        rbuf.drain(..take);
    }
    let done = match t.left.as_mut() {
        Some(left) => {
            *left -= take as u64;
            *left == 0
        }
        None => t.tail == t.mark,
    };
    if !done {
        return Ok(false);
    }
    if t.left.is_none() {
        // The mark is not part of the snapshot.
        file.set_len(t.read - t.mark.len() as u64)
            .map_err(|e| format!("Error trying to truncate the received RDB: {e}"))?;
    }
    file.sync_all().map_err(|e| {
        format!(
            "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {e}"
        )
    })?;
    Ok(true)
}

/// How long a diskless load parses before it gives the event loop a turn (clients,
/// the cluster bus), besides loading-process-events-interval-bytes.
const LOAD_SLICE: Duration = Duration::from_millis(10);

/// What one step of a diskless load came to.
enum Pumped {
    /// The parser wants more bytes.
    Read,
    /// Its share of this turn is done; more is buffered.
    Yield,
    Finished,
    Failed(String),
}

/// A diskless load: parse what the link holds, read more when the parser wants it, and
/// give the loop back after a slice (the rest goes on at its next turn: `load_pending`).
/// The link's reads are held meanwhile, so a slow load slows the master's sending.
fn pump(srv: &mut Server, idx: usize) {
    let budget = srv.cfg.loading_process_events_interval_bytes.max(1) as usize;
    let deadline = Instant::now() + LOAD_SLICE;
    let mut used = 0;
    loop {
        let Some(mut t) = srv.repl.master.as_mut().and_then(|m| m.transfer.take()) else {
            return;
        };
        let mut rbuf = std::mem::take(&mut srv.net.links[idx].rbuf);
        let step = pump_step(srv, &mut t, &mut rbuf, budget, deadline, &mut used);
        srv.net.links[idx].rbuf = rbuf;
        let m = srv.repl.master.as_mut().expect("a master");
        m.transfer = Some(t);
        m.last_io = Instant::now();
        match step {
            Pumped::Read => {
                srv.repl.load_pending = false;
                match link::read_held(srv, idx) {
                    Progress::Failed(e) => {
                        let at = srv.admin.rdb.loading_loaded_bytes;
                        crate::warn!("Internal error in RDB reading offset {at}, function at rdb.c:0 -> Unexpected EOF reading RDB file");
                        return fail(
                            srv,
                            &format!("Failed trying to load the MASTER synchronization DB from socket: {e}"),
                        );
                    }
                    Progress::Data => continue,
                    // Drained: the next readable event calls back.
                    _ => return,
                }
            }
            Pumped::Yield => {
                srv.repl.load_pending = true;
                return;
            }
            Pumped::Finished => return finish_stream(srv, idx),
            Pumped::Failed(e) => {
                crate::warn!("{e}");
                return fail(
                    srv,
                    "Failed trying to load the MASTER synchronization DB from socket",
                );
            }
        }
    }
}

fn pump_step(
    srv: &mut Server,
    t: &mut Transfer,
    rbuf: &mut Vec<u8>,
    budget: usize,
    deadline: Instant,
    used: &mut usize,
) -> Pumped {
    let Some(load) = t.load.as_mut() else {
        return Pumped::Failed("no load".into());
    };
    if !t.rdb_done {
        let avail = t
            .left
            .map_or(rbuf.len(), |l| (rbuf.len() as u64).min(l) as usize);
        let last = t.left == Some(avail as u64);
        let r = load.feed(
            srv,
            &rbuf[..avail],
            last,
            budget.saturating_sub(*used),
            deadline,
        );
        let (n, fed) = match r {
            Ok(v) => v,
            Err(e) => return Pumped::Failed(e),
        };
        rbuf.drain(..n);
        *used += n;
        t.read += n as u64;
        if let Some(l) = t.left.as_mut() {
            *l -= n as u64;
        }
        srv.admin.rdb.loading_loaded_bytes = load.consumed();
        match fed {
            crate::persist::snapshot::Fed::More => return Pumped::Read,
            crate::persist::snapshot::Fed::Budget => return Pumped::Yield,
            crate::persist::snapshot::Fed::Done => t.rdb_done = true,
        }
    }
    if t.left.is_some_and(|l| l > 0) {
        return Pumped::Failed(format!(
            "The RDB ended {} bytes before the length the master announced",
            t.left.unwrap_or(0)
        ));
    }
    // A diskless master's EOF mark follows the RDB.
    if !t.mark.is_empty() {
        if rbuf.len() < t.mark.len() {
            return Pumped::Read;
        }
        if rbuf[..t.mark.len()] != t.mark[..] {
            return Pumped::Failed("Replication stream EOF marker is broken".into());
        }
        rbuf.drain(..t.mark.len());
    }
    Pumped::Finished
}

/// The reactor's next turn: a diskless load that yielded goes on.
pub fn resume_load(srv: &mut Server) {
    srv.repl.load_pending = false;
    let Some(idx) = srv.repl.master.as_ref().and_then(|m| m.link) else {
        return;
    };
    if srv.net.links.contains(idx) {
        transfer(srv, idx);
    }
}

/// A diskless load is complete: its dataset replaces the server's, and the link becomes
/// the master's client.
fn finish_stream(srv: &mut Server, idx: usize) {
    let m = srv.repl.master.as_mut().expect("a master");
    let t = m.transfer.take().expect("a transfer");
    srv.repl.load_pending = false;
    let swapdb = srv.cfg.repl_diskless_load.0 == 2;
    if swapdb {
        crate::notice!("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
    }
    let load = t.load.expect("a load");
    let swap_in = srv.repl.hooks.map(|h| h.swap_in);
    let r = match swap_in {
        Some(f) => f(srv, *load),
        None => Err("no loader".into()),
    };
    end_stream_load(srv, t.async_load);
    if let Err(e) = r {
        return fail(
            srv,
            &format!("Failed trying to load the MASTER synchronization DB from socket: {e}"),
        );
    }
    if swapdb {
        crate::notice!("MASTER <-> REPLICA sync: Discarding old DB in background");
    }
    srv.repl.master.as_mut().expect("a master").link = None;
    let mut l = srv.net.links.remove(idx);
    let _ = srv.net.registry.deregister(&mut l.conn.stream);
    synced(srv, l);
}

/// The snapshot is in: it replaces the dataset, and the link becomes the master's client.
fn finish_sync(srv: &mut Server, idx: usize) {
    let m = srv.repl.master.as_mut().expect("a master");
    let t = m.transfer.take().expect("a transfer");
    let (path, file) = t.disk.expect("a file");
    drop(file);
    let target = srv.cfg.dbfilename.clone();
    if let Err(e) = std::fs::rename(&path, &target) {
        let _ = std::fs::remove_file(&path);
        return fail(
            srv,
            &format!("Failed trying to rename the temp DB into {target} in MASTER <-> REPLICA synchronization: {e}"),
        );
    }
    // The link leaves the loop while the snapshot loads (clients are answered -LOADING
    // meanwhile): its bytes after the snapshot wait in its buffer.
    crate::notice!("MASTER <-> REPLICA sync: Flushing old data");
    crate::notice!("MASTER <-> REPLICA sync: Loading DB in memory");
    srv.repl.master.as_mut().expect("a master").link = None;
    let mut l = srv.net.links.remove(idx);
    let _ = srv.net.registry.deregister(&mut l.conn.stream);
    let load = srv.repl.hooks.map(|h| h.load);
    let loaded = match load {
        Some(load) => load(srv, &target),
        None => Err("no loader".into()),
    };
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    if let Err(e) = loaded {
        // Nothing to continue from: the dataset is what the failed load left.
        m.no_psync = true;
        m.state = State::Connect;
        m.retry_at = Instant::now() + Duration::from_secs(1);
        crate::warn!("Failed trying to load the MASTER synchronization DB from disk: {e}");
        return;
    }
    synced(srv, l);
}

/// A full sync loaded: this server is in the master's history at its offset, and the
/// link (out of the loop) becomes the master's client.
fn synced(srv: &mut Server, mut l: link::Link) {
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    let (id, off) = (m.full_replid.clone(), m.full_offset);
    m.no_psync = false;
    // The dataset is replaced: our replicas must sync again too (they kept their link
    // until now, in case this sync failed and the history went on).
    disconnect_replicas(srv);
    srv.repl.replid = id;
    srv.repl.offset = off;
    srv.repl.clear_id2();
    // A new backlog starting at the master's offset.
    srv.repl.backlog = None;
    super::ensure_backlog(srv);
    if srv.cfg.appendonly {
        // The AOF must start again from the new dataset (Redis restarts it).
        crate::persist::aof::stop(srv);
        if let Err(e) = crate::persist::aof::start(srv, false) {
            crate::warn!("Failed enabling the AOF after successful master synchronization! {e}");
        }
    }
    crate::notice!("MASTER <-> REPLICA sync: Finished with success");
    let rbuf = std::mem::take(&mut l.rbuf);
    attach(srv, l.conn, l.peer.clone(), rbuf);
}

/// +CONTINUE: the link becomes the master's client at once.
fn become_connected(srv: &mut Server, idx: usize) {
    srv.repl.master.as_mut().expect("a master").link = None;
    let mut l = srv.net.links.remove(idx);
    let _ = srv.net.registry.deregister(&mut l.conn.stream);
    let rbuf = std::mem::take(&mut l.rbuf);
    attach(srv, l.conn, l.peer.clone(), rbuf);
}

/// The master's connection as a client of the event loop.
fn attach(srv: &mut Server, mut conn: crate::net::Conn, peer: String, rbuf: Vec<u8>) {
    conn.established = true;
    let kind = if conn.tls.is_some() {
        ClientKind::Tls
    } else {
        ClientKind::Tcp
    };
    let id = srv.net.next_client_id;
    srv.net.next_client_id += 1;
    let mut c = Client::new(id, conn, kind, peer, String::new());
    c.is_master = true;
    c.rbuf = rbuf;
    c.db = srv.repl.master.as_ref().map_or(0, |m| m.db);
    let idx = srv.net.clients.insert(c);
    let token = srv.net.clients[idx].token(idx);
    let reg = srv.net.clients[idx].conn.as_mut().map(|conn| {
        srv.net
            .registry
            .register(&mut conn.stream, token, mio::Interest::READABLE)
    });
    if let Some(Err(e)) = reg {
        crate::warn!("Can't watch the master's connection: {e}");
        srv.net.clients.remove(idx);
        let m = srv.repl.master.as_mut().expect("a master");
        m.state = State::Connect;
        return;
    }
    let m = srv.repl.master.as_mut().expect("a master");
    m.client = Some(idx);
    m.state = State::Connected;
    m.psync_failover = false;
    m.down_since = None;
    m.last_io = Instant::now();
    m.read_ahead = 0;
    if !srv.net.clients[idx].rbuf.is_empty() {
        master_input(srv, idx);
    }
    send_ack(srv);
}

/// The master's client went away: the link is down, to be made again (the history kept
/// for a PSYNC).
pub fn master_lost(srv: &mut Server, idx: usize, db: usize) {
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    if m.client != Some(idx) {
        return;
    }
    // Where the stream was (an unfinished transaction is not: it comes again).
    m.db = db;
    crate::notice!("Connection with master lost.");
    crate::notice!("* Caching the disconnected master state.");
    m.client = None;
    m.tx_bytes.clear();
    m.state = State::Connect;
    m.retry_at = Instant::now();
    m.down_since = Some(m.killed_at.take().unwrap_or_else(Instant::now));
}

/// CLIENT KILL of the master's client: Redis frees it at once, so the link counts as
/// down from now even when the close itself waits (a MULTI still running).
pub fn on_client_killed(srv: &mut Server, idx: usize) {
    if let Some(m) = srv.repl.master.as_mut().filter(|m| m.client == Some(idx)) {
        m.killed_at = Some(Instant::now());
    }
}

/// Apply what the master sent: each command runs as the master's client (no reply, no
/// checks, nothing judged expired), is counted in the offset, and goes on, as it came,
/// to this server's backlog and replicas.
pub fn master_input(srv: &mut Server, idx: usize) {
    let Some((replay, held)) = srv.repl.hooks.map(|h| (h.replay, h.held)) else {
        return;
    };
    let c = &mut srv.net.clients[idx];
    let mut rbuf = std::mem::take(&mut c.rbuf);
    let mut spans = std::mem::take(&mut c.spans);
    let mut scratch = std::mem::take(&mut c.scratch);
    let mut partial: Partial = c.partial;
    let max_bulk = srv.cfg.proto_max_bulk_len.max(512 << 20);
    let mut pos = 0;
    let mut broken = None;
    crate::keyspace::clock::set_replaying(true);
    while pos < rbuf.len() {
        match crate::resp::parse_request_resume(
            &rbuf[pos..],
            &mut spans,
            &mut scratch,
            max_bulk,
            &mut partial,
        ) {
            Ok(Request::Command { consumed, inline }) => {
                let data: &[u8] = if inline { &scratch } else { &rbuf[pos..] };
                if held(srv, idx, data, &spans) {
                    // The rest waits for the pause's end (the reactor then calls back).
                    if !srv.admin.paused_clients.contains(&idx) {
                        srv.admin.paused_clients.push(idx);
                    }
                    break;
                }
                let r = if inline {
                    replay(srv, idx, &scratch, &spans)
                } else {
                    replay(srv, idx, &rbuf[pos..], &spans)
                };
                if r.is_err() {
                    let name = spans
                        .first()
                        .map(|&(s, e)| {
                            let d: &[u8] = if inline { &scratch } else { &rbuf[pos..] };
                            String::from_utf8_lossy(&d[s as usize..e as usize]).into_owned()
                        })
                        .unwrap_or_default();
                    crate::warn!("== CRITICAL == This replica is sending an error to its master: 'ERR unknown command '{}'' after processing the command '<unknown>'", name);
                }
                let Some(c) = srv.net.clients.get(idx) else {
                    break;
                };
                let (in_tx, db) = (c.tx.active, c.db);
                let m = srv.repl.master.as_mut().expect("a master");
                if in_tx {
                    m.tx_bytes.extend_from_slice(&rbuf[pos..pos + consumed]);
                } else {
                    if !m.tx_bytes.is_empty() {
                        let tx = std::mem::take(&mut m.tx_bytes);
                        srv.data.prop.repl_raw(&tx);
                    }
                    srv.data.prop.repl_raw(&rbuf[pos..pos + consumed]);
                    srv.repl.master.as_mut().expect("a master").db = db;
                }
                pos += consumed;
            }
            Ok(Request::Skip { consumed }) => {
                srv.data.prop.repl_raw(&rbuf[pos..pos + consumed]);
                pos += consumed;
            }
            Ok(Request::Incomplete { .. }) => break,
            Err(e) => {
                broken = Some(e.0);
                break;
            }
        }
    }
    crate::keyspace::clock::set_replaying(false);
    super::feed(srv);
    let Some(c) = srv.net.clients.get_mut(idx) else {
        return;
    };
    rbuf.drain(..pos);
    c.rbuf = rbuf;
    c.spans = spans;
    c.scratch = scratch;
    c.partial = partial;
    // Replies to the master's commands are dropped (replay does): only ACKs go back.
    if let Some(m) = srv.repl.master.as_mut() {
        m.read_ahead = c.rbuf.len() as i64;
        m.last_io = Instant::now();
    }
    if let Some(e) = broken {
        crate::warn!("Protocol error from master: {e}; closing the link");
        c.close_asap = true;
        srv.net.pending_write.push(idx);
        return;
    }
    let asked = srv
        .repl
        .master
        .as_mut()
        .is_some_and(|m| std::mem::take(&mut m.ack_asked));
    if asked {
        send_ack(srv);
    }
}

/// REPLCONF ACK <offset> to the master.
fn send_ack(srv: &mut Server) {
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    let Some(idx) = m.client else {
        return;
    };
    m.last_ack = Instant::now();
    let off = srv.repl.offset.to_string();
    let Some(c) = srv.net.clients.get_mut(idx) else {
        return;
    };
    crate::resp::client::encode_command(
        &mut c.out.buf,
        [&b"REPLCONF"[..], b"ACK", off.as_bytes()].into_iter(),
    );
    srv.net.pending_write.push(idx);
}

/// From the server cron: connect when due, time out a silent master or transfer, ACK
/// every second.
pub fn cron(srv: &mut Server) {
    let Some(m) = srv.repl.master.as_ref() else {
        return;
    };
    let now = Instant::now();
    let timeout = Duration::from_secs(srv.cfg.repl_timeout.max(1) as u64);
    match m.state {
        State::Connect if now >= m.retry_at => {
            crate::notice!("Connecting to MASTER {}:{}", m.host, m.port);
            connect(srv);
        }
        State::Transfer if now.duration_since(m.last_io) > timeout => {
            fail(srv, "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.");
        }
        State::Connected => {
            let idx = m.client.expect("connected");
            let idle = srv
                .net
                .clients
                .get(idx)
                .map_or(Duration::ZERO, |c| now.duration_since(c.last_interaction));
            if idle > timeout {
                crate::warn!("MASTER timeout: no data nor PING received...");
                if let Some(c) = srv.net.clients.get_mut(idx) {
                    c.close_asap = true;
                    srv.net.pending_write.push(idx);
                }
            } else if now.duration_since(m.last_ack) >= Duration::from_secs(1) {
                send_ack(srv);
            }
        }
        _ => {}
    }
}

/// INFO replication's replica fields (after role:slave).
pub fn info(srv: &Server, m: &Master, o: &mut String) {
    use std::fmt::Write as _;
    macro_rules! f {
        ($k:expr, $v:expr) => {
            let _ = write!(o, "{}:{}\r\n", $k, $v);
        };
    }
    f!("master_host", m.host);
    f!("master_port", m.port);
    let up = m.state == State::Connected;
    f!("master_link_status", if up { "up" } else { "down" });
    let last_io = match m.client.and_then(|i| srv.net.clients.get(i)) {
        Some(c) => c.last_interaction.elapsed().as_secs() as i64,
        None if m.state == State::Transfer => m.last_io.elapsed().as_secs() as i64,
        None => -1,
    };
    f!("master_last_io_seconds_ago", last_io);
    f!(
        "master_sync_in_progress",
        (m.state == State::Transfer) as u8
    );
    let applied = srv.repl.offset;
    f!("slave_read_repl_offset", applied + m.read_ahead);
    f!("slave_repl_offset", applied);
    if let Some(t) = m.transfer.as_ref() {
        let total = t.total.unwrap_or(0);
        f!("master_sync_total_bytes", t.total.map_or(-1, |t| t as i64));
        f!("master_sync_read_bytes", t.read);
        f!("master_sync_left_bytes", total.saturating_sub(t.read));
        let perc = if total > 0 {
            t.read as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        f!("master_sync_perc", format!("{perc:.2}"));
        f!(
            "master_sync_last_io_seconds_ago",
            m.last_io.elapsed().as_secs()
        );
    }
    if !up {
        f!(
            "master_link_down_since_seconds",
            m.down_since.map_or(-1, |d| d.elapsed().as_secs() as i64)
        );
    }
    f!("slave_priority", srv.cfg.replica_priority);
    f!("slave_read_only", srv.cfg.replica_read_only as u8);
    f!("replica_announced", srv.cfg.replica_announced as u8);
}

/// After REPLICAOF at startup: the stream continues in the database the snapshot said.
pub fn restore_stream_db(srv: &mut Server) {
    if let (Some(db), Some(m)) = (srv.repl.restored_db.take(), srv.repl.master.as_mut()) {
        m.db = db;
    }
}

/// A client of this (writable) replica wrote `key`: if it now has a TTL, this replica
/// expires it itself (Redis's slaveKeysWithExpire), since no DEL will come for it.
pub fn track_writable_key(srv: &mut Server, db: usize, key: &[u8]) {
    let d = &srv.data.ks.dbs[db];
    let has_ttl = d
        .dict
        .pos_of(key)
        .and_then(|p| d.dict.item(p))
        .is_some_and(|e| e.expire() != crate::keyspace::NO_EXPIRE);
    if has_ttl {
        srv.repl.writable_keys.insert((db, key.to_vec()));
    }
}

/// From the cron: expire the keys written on this replica with a TTL.
pub fn expire_writable_keys(srv: &mut Server) {
    if srv.repl.writable_keys.is_empty() {
        return;
    }
    let now = crate::util::now_ms();
    let tracked: Vec<(usize, Vec<u8>)> = srv.repl.writable_keys.iter().cloned().collect();
    for (db, key) in tracked {
        let d = &mut srv.data.ks.dbs[db];
        let exp = d
            .dict
            .pos_of(&key)
            .and_then(|p| d.dict.item(p).map(|e| (p, e.expire())));
        match exp {
            Some((p, at)) if at != crate::keyspace::NO_EXPIRE && at <= now => {
                d.remove_pos(p);
                srv.admin.stats.expired_keys += 1;
                let mut gone = vec![key.as_slice().into()];
                crate::notify::keys_expired(srv, db, &mut gone);
                srv.repl.writable_keys.remove(&(db, key));
            }
            Some((_, at)) if at != crate::keyspace::NO_EXPIRE => {}
            _ => {
                srv.repl.writable_keys.remove(&(db, key));
            }
        }
    }
}
