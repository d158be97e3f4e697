//! This server as a master: replicas connect as clients, say who they are (REPLCONF),
//! ask for the stream (PSYNC, or SYNC from old ones) and either continue from the backlog
//! or get a snapshot first (a full sync: a BGSAVE, its file sent as one bulk, then the
//! stream held for them since the fork), then acknowledge their offset every second
//! (REPLCONF ACK), which WAIT counts.
//!
//! The snapshot goes to disk first (Redis's disk-backed sync); its transfer is written
//! in chunks as the replica's socket takes them, a chunk per loop iteration, so other
//! clients are served meanwhile.
use super::{feed, reselect, Repl};
use crate::resp::Args;
use crate::server::{Client, Ctx, Server};
use crate::util::eq_ic;
use std::io::Read;
use std::time::Instant;

/// How much of the snapshot file goes into a replica's output at a time.
const CHUNK: usize = 256 * 1024;

/// Where a replica is in its sync.
pub enum Sync {
    /// It asked for a full sync and waits for a BGSAVE to start for it.
    WaitStart,
    /// The BGSAVE for it runs; the stream since the fork is held for it.
    WaitEnd,
    /// The snapshot file is being written to it (`left` bytes still to read).
    Sending { file: std::fs::File, left: u64 },
    /// A diskless sync: the snapshot comes through the BGSAVE child's pipe.
    Diskless,
    /// All the pipe held was relayed to it: whether that was the whole snapshot is
    /// known once the child's exit is collected (a killed child leaves it cut).
    PipeDone,
    /// Its diskless snapshot is sent; it is online from its first REPLCONF ACK (until
    /// then it could not tell the stream from the snapshot's end).
    WaitAck,
    /// It gets the stream as it is made.
    Online,
}

/// A replica's state on its client (from its first REPLCONF on).
pub struct ReplicaConn {
    /// None until SYNC/PSYNC: until then it is a client that said REPLCONF.
    pub state: Option<Sync>,
    pub listening_port: u16,
    pub announce_ip: String,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// SYNC (no PSYNC): no +FULLRESYNC line, no acknowledgements.
    pub pre_psync: bool,
    /// Its place in the replication buffer: the stream's offset it has been given up to
    /// (None until its snapshot is forked: the stream before is in the snapshot). The
    /// stream that comes while its snapshot is made and sent waits there for it.
    pub pos: Option<i64>,
    /// Its full sync's start offset.
    pub initial_offset: i64,
    /// The offset it acknowledged last, and when.
    pub ack_off: i64,
    pub ack_time: Instant,
    /// When it started waiting for a BGSAVE (repl-diskless-sync-delay).
    pub since: Instant,
}

impl ReplicaConn {
    fn new() -> Self {
        ReplicaConn {
            state: None,
            listening_port: 0,
            announce_ip: String::new(),
            capa_eof: false,
            capa_psync2: false,
            pre_psync: false,
            pos: None,
            initial_offset: 0,
            ack_off: 0,
            ack_time: Instant::now(),
            since: Instant::now(),
        }
    }
    /// It asked for the stream (SYNC/PSYNC).
    pub fn is_replica(&self) -> bool {
        self.state.is_some()
    }
    pub fn online(&self) -> bool {
        matches!(self.state, Some(Sync::Online))
    }
    /// It waits for a BGSAVE to start (the stream before it is in the snapshot).
    pub fn waits_for_fork(&self) -> bool {
        matches!(self.state, Some(Sync::WaitStart))
    }
    pub fn sending(&self) -> bool {
        matches!(self.state, Some(Sync::Sending { .. }))
    }
    fn state_name(&self) -> &'static str {
        match self.state {
            Some(Sync::WaitStart)
            | Some(Sync::WaitEnd)
            | Some(Sync::Diskless)
            | Some(Sync::PipeDone) => "wait_bgsave",
            Some(Sync::Sending { .. }) => "send_bulk",
            Some(Sync::WaitAck) => "online",
            Some(Sync::Online) => "online",
            None => "none",
        }
    }
}

/// A replica's link made a command reply (a replica only sends acknowledgements): the
/// reply is not sent, an error is logged as CRITICAL, and the replica is dropped, as
/// Redis does (what it would read could not be told from the stream).
pub fn rogue_reply(srv: &mut Server, idx: usize, out: &mut Vec<u8>, mark: usize) {
    let c = &mut srv.net.clients[idx];
    let cmd = c.last_cmd;
    if out[mark] == b'-' {
        let end = out[mark..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(out.len(), |p| mark + p);
        crate::warn!(
            "== CRITICAL == This master is sending an error to its replica: '{}' after processing the command '{}'",
            String::from_utf8_lossy(&out[mark + 1..end]),
            cmd
        );
    }
    out.truncate(mark);
    let info = crate::commands::connection::client_line(srv, idx, None);
    crate::warn!(
        "Replica generated a reply to command '{}', disconnecting it: {}",
        cmd,
        info
    );
    let c = &mut srv.net.clients[idx];
    c.close_asap = true;
    srv.net.pending_write.push(idx);
}

/// The address a replica is known by: its announced IP (REPLCONF ip-address) or the
/// one it connects from.
pub fn replica_ip(c: &Client) -> String {
    if let Some(r) = c.repl.as_ref().filter(|r| !r.announce_ip.is_empty()) {
        return r.announce_ip.clone();
    }
    match c.peer.rsplit_once(':') {
        Some((ip, _)) => ip.trim_start_matches('[').trim_end_matches(']').to_string(),
        None => c.peer.clone(),
    }
}

/// "ip:port" of a replica, as Redis's log lines name it.
pub fn replica_name(c: &Client) -> String {
    let port = c.repl.as_ref().map_or(0, |r| r.listening_port);
    format!("{}:{}", replica_ip(c), port)
}

/// REPLCONF <option> <value> ...: a replica describing itself and acknowledging; GETACK
/// from this server's master.
pub fn replconf(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.out.error("ERR syntax error");
    }
    let mut i = 1;
    while i < args.len() {
        let (opt, val) = (args.get(i), args.get(i + 1));
        if eq_ic(opt, "listening-port") {
            let Some(p) = crate::util::parse_i64(val).filter(|p| (0..=65535).contains(p)) else {
                return ctx.out.error("ERR value is not an integer or out of range");
            };
            conn(ctx.client()).listening_port = p as u16;
        } else if eq_ic(opt, "ip-address") {
            if val.len() >= 46 {
                return ctx.out.error("ERR REPLCONF ip-address provided by replica instance is too long: 46 bytes are allowed.");
            }
            conn(ctx.client()).announce_ip = String::from_utf8_lossy(val).into_owned();
        } else if eq_ic(opt, "capa") {
            let r = conn(ctx.client());
            if eq_ic(val, "eof") {
                r.capa_eof = true;
            } else if eq_ic(val, "psync2") {
                r.capa_psync2 = true;
            }
            // Unknown capabilities are ignored, as Redis does.
        } else if eq_ic(opt, "ack") || eq_ic(opt, "fack") {
            // From a replica only, and never answered.
            if !eq_ic(opt, "ack") {
                i += 2;
                continue;
            }
            let Some(off) = crate::util::parse_i64(val) else {
                return;
            };
            let c = &mut ctx.srv.net.clients[ctx.id];
            let name = replica_name(c);
            let mut acked = false;
            if let Some(r) = c.repl.as_mut().filter(|r| r.is_replica()) {
                if off > r.ack_off {
                    r.ack_off = off;
                }
                r.ack_time = Instant::now();
                acked = true;
                // An ACK tells the snapshot was loaded whole (the replica saw its end
                // mark): also before the pipe's end is read or the child collected.
                if matches!(
                    r.state,
                    Some(Sync::WaitAck) | Some(Sync::PipeDone) | Some(Sync::Diskless)
                ) {
                    // Its snapshot is loaded: the stream kept for it follows.
                    r.state = Some(Sync::Online);
                    ctx.srv.net.pending_write.push(ctx.id);
                    crate::notice!("Synchronization with replica {} succeeded", name);
                }
            }
            ctx.srv.repl.acked |= acked;
            return;
        } else if eq_ic(opt, "getack") {
            // From our master: answered with our offset once its input is applied.
            if let Some(m) = ctx.srv.repl.master.as_mut() {
                if m.client == Some(ctx.id) {
                    m.ack_asked = true;
                }
            }
            return;
        } else if eq_ic(opt, "rdb-only") || eq_ic(opt, "rdb-filter-only") {
            // redis-cli --rdb's options: accepted; the snapshot comes whole.
        } else {
            let msg = format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            );
            return ctx.out.error(&msg);
        }
        i += 2;
    }
    ctx.out.ok();
}

fn conn(c: &mut Client) -> &mut ReplicaConn {
    c.repl.get_or_insert_with(|| Box::new(ReplicaConn::new()))
}

/// SYNC and PSYNC replid offset: the replica continues from the backlog when it can,
/// else gets a full sync.
pub fn sync(ctx: &mut Ctx, args: Args, psync: bool) {
    let idx = ctx.id;
    if ctx
        .srv
        .net
        .clients
        .get(idx)
        .and_then(|c| c.repl.as_ref())
        .is_some_and(|r| r.is_replica())
    {
        // Already a replica: ignored, as Redis does.
        return;
    }
    // PSYNC replid offset FAILOVER: our master hands over to us (FAILOVER).
    if psync && args.len() >= 4 && eq_ic(args.get(3), "failover") {
        if args.get(1) != ctx.srv.repl.replid.as_bytes() {
            return ctx
                .out
                .error("ERR PSYNC FAILOVER replid must match my replid.");
        }
        let by = {
            let c = ctx.client();
            format!("id={} addr={}", c.id, c.peer)
        };
        let _ = super::replica::replicaof(ctx.srv, None, &by);
        crate::notice!("MASTER MODE enabled (failover request from '{}')", by);
    }
    if let Some(m) = ctx.srv.repl.master.as_ref() {
        if m.client.is_none() {
            return ctx
                .out
                .error("NOMASTERLINK Can't SYNC while not connected with my master");
        }
    }
    if ctx.srv.net.clients[idx].pending_output() > 0 {
        return ctx
            .out
            .error("ERR SYNC and PSYNC are invalid with pending output");
    }
    let name = {
        let c = ctx.client();
        conn(c);
        replica_name(c)
    };
    crate::notice!("Replica {} asks for synchronization", name);
    if psync {
        let replid = String::from_utf8_lossy(args.get(1)).into_owned();
        let Some(off) = crate::util::parse_i64(args.get(2)) else {
            crate::warn!(
                "Replica {} asks for synchronization but with a wrong offset",
                name
            );
            return ctx.out.error("ERR value is not an integer or out of range");
        };
        if partial(ctx, &replid, off) {
            ctx.srv.repl.sync_partial_ok += 1;
            return;
        }
        if replid != "?" {
            ctx.srv.repl.sync_partial_err += 1;
        }
    } else {
        conn(ctx.client()).pre_psync = true;
    }
    ctx.srv.repl.sync_full += 1;
    // The first replica of a master without a backlog starts a new history.
    if ctx.srv.repl.backlog.is_none() {
        if !ctx.srv.repl.is_replica() {
            ctx.srv.repl.new_id();
        }
        super::ensure_backlog(ctx.srv);
        crate::notice!(
            "Replication backlog created, my new replication IDs are '{}' and '{}'",
            ctx.srv.repl.replid,
            ctx.srv.repl.replid2
        );
    }
    become_replica(ctx.srv, idx, Sync::WaitStart);
    // Everything written so far is in what the snapshot will hold.
    feed(ctx.srv);
    // A BGSAVE for other replicas under way: this one shares it, with their held stream.
    let waiting = ctx.srv.repl.rdb_child.and_then(|_| {
        replicas_where(ctx.srv, |s| matches!(s, Sync::WaitEnd))
            .into_iter()
            .find(|&i| i != idx)
    });
    if let Some(other) = waiting {
        // The stream since that fork is still in the replication buffer: it shares it.
        let initial = {
            let r = ctx.srv.net.clients[other].repl.as_ref().expect("a replica");
            r.initial_offset
        };
        full_resync_reply(ctx.srv, idx, initial, ctx.out);
        crate::notice!("Waiting for end of BGSAVE for SYNC");
        return;
    }
    if crate::child::writer_running(ctx.srv) {
        crate::notice!(
            "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC"
        );
        return;
    }
    let eof = ctx.srv.net.clients[idx]
        .repl
        .as_ref()
        .is_some_and(|r| r.capa_eof);
    if ctx.srv.cfg.repl_diskless_sync && eof && ctx.srv.cfg.repl_diskless_sync_delay > 0 {
        // More replicas may come for the same snapshot (repl-diskless-sync-delay).
        crate::notice!("Delay next BGSAVE for diskless SYNC");
        return;
    }
    // The reply goes out through this command's own output (it runs now).
    start_bgsave(ctx.srv, Some((idx, ctx.out)));
}

/// From the cron: start the BGSAVE replicas wait for, once no other child runs and, for
/// a diskless sync, the first of them waited repl-diskless-sync-delay seconds (or
/// repl-diskless-sync-max-replicas came).
pub fn start_pending(srv: &mut Server) {
    if srv.repl.rdb_child.is_some() || crate::child::writer_running(srv) {
        return;
    }
    let mut waiting = 0;
    let mut longest = std::time::Duration::ZERO;
    let mut all_eof = true;
    for &i in &srv.repl.replicas {
        let Some(r) = srv.net.clients.get(i).and_then(|c| c.repl.as_ref()) else {
            continue;
        };
        if matches!(r.state, Some(Sync::WaitStart)) {
            waiting += 1;
            longest = longest.max(r.since.elapsed());
            all_eof &= r.capa_eof;
        }
    }
    if waiting == 0 {
        return;
    }
    if srv.cfg.repl_diskless_sync && all_eof {
        let delay = srv.cfg.repl_diskless_sync_delay.max(0) as u64;
        let max = srv.cfg.repl_diskless_sync_max_replicas;
        if longest.as_secs() < delay && !(max > 0 && waiting >= max) {
            return;
        }
    }
    start_bgsave(srv, None);
}

/// The replicas whose sync state `pick` accepts, in arrival order (those being closed
/// left out).
fn replicas_where(srv: &Server, pick: impl Fn(&Sync) -> bool) -> Vec<usize> {
    replica_conns(srv)
        .filter(|(_, c, r)| !c.close_asap && r.state.as_ref().is_some_and(&pick))
        .map(|(i, _, _)| i)
        .collect()
}

fn become_replica(srv: &mut Server, idx: usize, state: Sync) {
    let c = &mut srv.net.clients[idx];
    if srv.cfg.repl_disable_tcp_nodelay {
        // Fewer, larger packets to the replica (more lag, less bandwidth).
        if let Some(crate::net::Stream::Tcp(s)) = c.conn.as_ref().map(|c| &c.stream) {
            let _ = s.set_nodelay(false);
        }
    }
    let r = conn(c);
    r.state = Some(state);
    r.ack_time = Instant::now();
    r.since = Instant::now();
    if !srv.repl.replicas.contains(&idx) {
        srv.repl.replicas.push(idx);
    }
    srv.repl.no_replicas_since = None;
}

/// +CONTINUE when the replica's history is ours (or our previous one up to where it
/// ended) and the backlog still has its offset on.
fn partial(ctx: &mut Ctx, replid: &str, off: i64) -> bool {
    let r: &Repl = &ctx.srv.repl;
    let ours = replid == r.replid || (replid == r.replid2 && off <= r.second_offset);
    feed(ctx.srv);
    let r: &Repl = &ctx.srv.repl;
    let Some(b) = r.backlog.as_ref().filter(|b| ours && b.covers(off)) else {
        if ours {
            crate::notice!("Unable to partial resync with replica {} for lack of backlog (Replica request was: {}).", replica_name(&ctx.srv.net.clients[ctx.id]), off);
        } else if replid != "?" {
            crate::notice!("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{}', my replication IDs are '{}' and '{}')", replid, r.replid, r.replid2);
        }
        return false;
    };
    let psync2 = ctx.srv.net.clients[ctx.id]
        .repl
        .as_ref()
        .is_some_and(|r| r.capa_psync2);
    if psync2 {
        let line = format!("+CONTINUE {}\r\n", r.replid);
        ctx.out.buf.extend_from_slice(line.as_bytes());
    } else {
        ctx.out.buf.extend_from_slice(b"+CONTINUE\r\n");
    }
    let sent = b.end() - off + 1;
    become_replica(ctx.srv, ctx.id, Sync::Online);
    // The backlog's bytes from its offset on are written from the buffer itself.
    if let Some(r) = ctx.srv.net.clients[ctx.id].repl.as_mut() {
        r.pos = Some(off - 1);
    }
    ctx.srv.net.pending_write.push(ctx.id);
    let c = &mut ctx.srv.net.clients[ctx.id];
    crate::notice!(
        "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {}.",
        replica_name(c),
        sent,
        off
    );
    true
}

/// +FULLRESYNC replid offset (none for a SYNC replica), into `out` or the client's own
/// output; the replica's full sync starts at `offset`.
fn full_resync_reply(srv: &mut Server, idx: usize, offset: i64, out: &mut crate::resp::Reply) {
    let line = format!("+FULLRESYNC {} {}\r\n", srv.repl.replid, offset);
    let c = &mut srv.net.clients[idx];
    let r = c.repl.as_mut().expect("a replica");
    r.pos = Some(offset);
    r.initial_offset = offset;
    r.state = Some(Sync::WaitEnd);
    if !r.pre_psync {
        out.buf.extend_from_slice(line.as_bytes());
    }
}

/// Start a BGSAVE for the replicas waiting for one; they are told +FULLRESYNC at the
/// offset the snapshot is taken at. `running`: the replica whose command runs now, and
/// its output.
fn start_bgsave(srv: &mut Server, running: Option<(usize, &mut crate::resp::Reply)>) {
    let waiting = replicas_where(srv, |s| matches!(s, Sync::WaitStart));
    if waiting.is_empty() {
        return;
    }
    feed(srv);
    // The replicas' stream starts with a SELECT after the snapshot.
    reselect(srv);
    // To the replicas' sockets when all of them can take a diskless snapshot.
    let socket = srv.cfg.repl_diskless_sync
        && waiting
            .iter()
            .all(|&i| srv.net.clients[i].repl.as_ref().is_some_and(|r| r.capa_eof));
    crate::notice!(
        "Starting BGSAVE for SYNC with target: {}",
        if socket { "replicas sockets" } else { "disk" }
    );
    let mut running = running;
    let started = if socket {
        start_pipe(srv)
    } else {
        crate::persist::snapshot::bgsave(srv)
    };
    if let Err(e) = started {
        crate::warn!("BGSAVE for replication failed: {e}");
        const FAILED: &str = "ERR BGSAVE failed, replication can't continue";
        for idx in waiting {
            match running.as_mut() {
                Some((i, out)) if *i == idx => out.error(FAILED),
                _ => {
                    srv.net.clients[idx].out.error(FAILED);
                    srv.net.pending_write.push(idx);
                }
            }
            let c = &mut srv.net.clients[idx];
            c.repl = None;
            c.close_after_reply = true;
            srv.repl.replicas.retain(|&i| i != idx);
        }
        return;
    }
    srv.repl.rdb_child = srv.admin.rdb.child.map(|c| c.0);
    let offset = srv.repl.offset;
    for idx in waiting {
        match running.as_mut() {
            Some((i, out)) if *i == idx => full_resync_reply(srv, idx, offset, out),
            _ => {
                let mut out = std::mem::take(&mut srv.net.clients[idx].out);
                full_resync_reply(srv, idx, offset, &mut out);
                srv.net.clients[idx].out = out;
                srv.net.pending_write.push(idx);
            }
        }
        if socket {
            let r = srv.net.clients[idx].repl.as_mut().expect("a replica");
            r.state = Some(Sync::Diskless);
        }
    }
}

/// The read end of a diskless sync's pipe (the child writes the framed snapshot into it).
pub struct RdbPipe {
    file: std::fs::File,
    /// Reading waits for the replicas to drain their output.
    pub paused: bool,
}

/// The event-loop token of the diskless sync's pipe.
pub const PIPE_TOKEN: usize = crate::link::LINK_TOKEN - 1;

/// Fork a child that writes the snapshot into a pipe whose read end the loop watches.
fn start_pipe(srv: &mut Server) -> Result<(), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: `rd` is the pipe's read end we own; made nonblocking for the event loop.
    unsafe {
        let fl = libc::fcntl(rd, libc::F_GETFL);
        libc::fcntl(rd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    // SAFETY: `rd` is open and owned by nothing else; the File closes it.
    let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(rd) };
    let mark = crate::server::random_hex(40);
    crate::persist::snapshot::bgsave_to_fd(srv, wr, mark.as_bytes())?;
    srv.net
        .registry
        .register(
            &mut mio::unix::SourceFd(&rd),
            mio::Token(PIPE_TOKEN),
            mio::Interest::READABLE,
        )
        .map_err(|e| format!("watching the snapshot pipe: {e}"))?;
    srv.repl.pipe = Some(RdbPipe {
        file,
        paused: false,
    });
    Ok(())
}

/// A replica's output this large pauses the pipe (the child then waits on it).
const PIPE_PAUSE_AT: usize = 8 << 20;

/// The pipe is readable (or a replica drained its output): relay what the child wrote
/// to the replicas taking the diskless snapshot; at its end the pipe closes.
pub fn pipe_readable(srv: &mut Server) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if srv.repl.pipe.is_none() {
            return;
        }
        let targets = replicas_where(srv, |s| matches!(s, Sync::Diskless));
        let full = targets
            .iter()
            .any(|&i| srv.net.clients[i].pending_output() >= PIPE_PAUSE_AT);
        let p = srv.repl.pipe.as_mut().expect("checked above");
        p.paused = full;
        if full {
            return;
        }
        match p.file.read(&mut buf) {
            Ok(0) => {
                close_pipe(srv);
                crate::notice!(
                    "Diskless rdb transfer, done reading from pipe, {} replicas still up.",
                    targets.len()
                );
                for idx in targets {
                    let r = srv.net.clients[idx].repl.as_mut().expect("a replica");
                    r.state = Some(Sync::PipeDone);
                }
                // The child may have been collected while its last bytes waited here.
                if let Some(ok) = srv.repl.pipe_child_ok.take() {
                    child_finished(srv, ok);
                    start_pending(srv);
                }
                return;
            }
            Ok(n) => {
                if targets.is_empty() {
                    continue;
                }
                let now = Instant::now();
                for idx in targets {
                    let c = &mut srv.net.clients[idx];
                    c.out.buf.extend_from_slice(&buf[..n]);
                    // It takes data: not timed out (repl-timeout, full sync).
                    if let Some(r) = c.repl.as_mut() {
                        r.ack_time = now;
                    }
                    srv.net.pending_write.push(idx);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                crate::warn!("Diskless rdb transfer, read error: {e}");
                close_pipe(srv);
                for idx in targets {
                    srv.net.clients[idx].close_asap = true;
                    srv.net.pending_write.push(idx);
                }
                return;
            }
        }
    }
}

fn close_pipe(srv: &mut Server) {
    if let Some(p) = srv.repl.pipe.take() {
        use std::os::fd::AsRawFd;
        let fd = p.file.as_raw_fd();
        let _ = srv.net.registry.deregister(&mut mio::unix::SourceFd(&fd));
    }
}

/// A replica left: with a snapshot under way for replicas and nobody left to take it,
/// the child is stopped; else a pipe paused for it goes on.
pub fn replica_gone(srv: &mut Server) {
    if srv.repl.pipe.is_none() {
        // A BGSAVE to disk that only replicas waited for (no save points) is of no use
        // once none waits: stopped, as Redis does.
        let ours = srv.repl.rdb_child.is_some()
            && !srv.admin.rdb.child_to_socket
            && srv.admin.rdb.child.map(|c| c.0) == srv.repl.rdb_child;
        if ours
            && srv.cfg.save.0.is_empty()
            && replicas_where(srv, |s| matches!(s, Sync::WaitEnd)).is_empty()
        {
            crate::persist::snapshot::kill_child(srv);
        }
        return;
    }
    let left = !replicas_where(srv, |s| matches!(s, Sync::Diskless)).is_empty();
    if left {
        drained(srv);
        return;
    }
    crate::warn!("Diskless rdb transfer, last replica dropped, killing fork child.");
    close_pipe(srv);
    if let Some(ok) = srv.repl.pipe_child_ok.take() {
        // Already collected: nothing to kill.
        child_finished(srv, ok);
        start_pending(srv);
        return;
    }
    if let Some(pid) = srv.repl.rdb_child {
        // SAFETY: signalling our own child process (reaped by the cron).
        unsafe { libc::kill(pid, libc::SIGUSR1) };
    }
}

/// A replica taking a diskless snapshot drained its output: the paused pipe goes on.
pub fn drained(srv: &mut Server) {
    if srv.repl.pipe.as_ref().is_some_and(|p| p.paused) {
        pipe_readable(srv);
    }
}

/// A forked child ended (from the reaper): the replicas waiting for its snapshot get it
/// (or are dropped when it failed), and those waiting for a BGSAVE get one.
pub fn after_child(srv: &mut Server, pid: libc::pid_t, ok: bool) {
    if srv.repl.rdb_child == Some(pid) && srv.repl.pipe.is_some() {
        // What it wrote before it ended is relayed first; a pipe paused for a slow
        // replica finishes the sync at its end.
        srv.repl.pipe_child_ok = Some(ok);
        pipe_readable(srv);
        return;
    }
    if srv.repl.rdb_child == Some(pid) {
        child_finished(srv, ok);
    }
    start_pending(srv);
}

/// The replication child's exit is collected and its pipe (if any) read to the end.
fn child_finished(srv: &mut Server, ok: bool) {
    srv.repl.rdb_child = None;
    srv.repl.pipe_child_ok = None;
    for idx in replicas_where(srv, |s| matches!(s, Sync::PipeDone)) {
        let c = &mut srv.net.clients[idx];
        if ok {
            let r = c.repl.as_mut().expect("a replica");
            r.state = Some(Sync::WaitAck);
            r.ack_time = Instant::now();
            crate::notice!("Streamed RDB transfer with replica {} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming", replica_name(c));
        } else {
            crate::warn!("Diskless sync to replica ended without a whole snapshot: dropping it");
            c.close_asap = true;
            srv.net.pending_write.push(idx);
        }
    }
    // A pipe that failed left these cut.
    for idx in replicas_where(srv, |s| matches!(s, Sync::Diskless)) {
        crate::warn!("Diskless sync to replica ended without a whole snapshot: dropping it");
        srv.net.clients[idx].close_asap = true;
        srv.net.pending_write.push(idx);
    }
    let waiting = replicas_where(srv, |s| matches!(s, Sync::WaitEnd));
    let file = if waiting.is_empty() {
        None
    } else if ok {
        let path = srv.cfg.dbfilename.clone();
        std::fs::File::open(&path)
            .and_then(|f| f.metadata().map(|m| (f, m.len())))
            .map_err(|e| crate::warn!("SYNC failed. Can't open/stat DB after BGSAVE: {e}"))
            .ok()
    } else {
        crate::warn!("SYNC failed. BGSAVE child returned an error");
        None
    };
    for idx in waiting {
        let c = &mut srv.net.clients[idx];
        let r = c.repl.as_mut().expect("a replica");
        // A descriptor of its own each (a clone would share the read offset).
        let opened = file.as_ref().and_then(|(_, len)| {
            std::fs::File::open(&srv.cfg.dbfilename)
                .ok()
                .map(|f| (f, *len))
        });
        match opened {
            Some((f, len)) => {
                c.out
                    .buf
                    .extend_from_slice(format!("${len}\r\n").as_bytes());
                r.state = Some(Sync::Sending { file: f, left: len });
                srv.net.pending_write.push(idx);
            }
            None => {
                c.close_asap = true;
                srv.net.pending_write.push(idx);
            }
        }
    }
}

/// After a replica's output was all written: the next chunk of its snapshot, or, once
/// the file is all sent, the stream held for it (it is online from then on). True when
/// the transfer goes on (the reactor writes the chunk at its next iteration).
pub fn refill(c: &mut Client) -> bool {
    let name = replica_name(c);
    let Some(r) = c.repl.as_mut() else {
        return false;
    };
    let Some(Sync::Sending { file, left }) = r.state.as_mut() else {
        return false;
    };
    if *left > 0 {
        let want = (*left).min(CHUNK as u64) as usize;
        let start = c.out.buf.len();
        c.out.buf.resize(start + want, 0);
        match file.read(&mut c.out.buf[start..]) {
            Ok(n) if n > 0 => {
                c.out.buf.truncate(start + n);
                *left -= n as u64;
                return true;
            }
            Ok(_) | Err(_) => {
                c.out.buf.truncate(start);
                crate::warn!("Read error sending DB to replica: the file ended early");
                c.close_asap = true;
                return false;
            }
        }
    }
    r.state = Some(Sync::Online);
    r.ack_time = Instant::now();
    crate::notice!("Synchronization with replica {} succeeded", name);
    // The stream kept for it is written next, from the replication buffer.
    false
}

/// Every second: newlines to the replicas waiting for a snapshot (they would time out),
/// a PING in the stream every repl-ping-replica-period, replicas silent for repl-timeout
/// dropped, a BGSAVE for replicas still waiting for one.
pub fn cron(srv: &mut Server, now: Instant) {
    if srv.repl.replicas.is_empty() {
        return;
    }
    let period = srv.cfg.repl_ping_replica_period.max(1) as u64;
    if now.duration_since(srv.repl.last_ping).as_secs() >= period {
        srv.repl.last_ping = now;
        if !srv.repl.is_replica() {
            srv.data.prop.repl_raw(b"*1\r\n$4\r\nPING\r\n");
        }
    }
    let timeout = srv.cfg.repl_timeout.max(1) as u64;
    for i in 0..srv.repl.replicas.len() {
        let idx = srv.repl.replicas[i];
        let Some(c) = srv.net.clients.get_mut(idx) else {
            continue;
        };
        let Some(r) = c.repl.as_ref() else {
            continue;
        };
        match r.state {
            Some(Sync::WaitStart) | Some(Sync::WaitEnd) => {
                c.out.buf.push(b'\n');
                srv.net.pending_write.push(idx);
            }
            // A replica that took all it was given is not late (the pipe may be waiting
            // on another one): only one whose output stays stuck past repl-timeout is.
            Some(Sync::Diskless) if c.pending_output() == 0 => {
                if let Some(r) = c.repl.as_mut() {
                    r.ack_time = now;
                }
            }
            Some(Sync::Diskless) if now.duration_since(r.ack_time).as_secs() > timeout => {
                crate::warn!(
                    "Disconnecting timedout replica (full sync): {}",
                    replica_name(c)
                );
                c.close_asap = true;
                srv.net.pending_write.push(idx);
            }
            Some(Sync::Online) | Some(Sync::WaitAck)
                if !r.pre_psync && now.duration_since(r.ack_time).as_secs() > timeout =>
            {
                crate::warn!(
                    "Disconnecting timedout replica (streaming sync): {}",
                    replica_name(c)
                );
                c.close_asap = true;
                srv.net.pending_write.push(idx);
            }
            _ => {}
        }
    }
}

/// The replicas with their state, in arrival order.
pub fn replica_conns(srv: &Server) -> impl Iterator<Item = (usize, &Client, &ReplicaConn)> {
    srv.repl.replicas.iter().filter_map(|&i| {
        let c = srv.net.clients.get(i)?;
        Some((i, c, c.repl.as_deref()?))
    })
}

/// INFO replication's slaveN lines.
pub fn info_replicas(srv: &Server, o: &mut String) {
    use std::fmt::Write as _;
    for (n, (_, c, r)) in replica_conns(srv).enumerate() {
        let _ = write!(
            o,
            "slave{}:ip={},port={},state={},offset={},lag={}\r\n",
            n,
            replica_ip(c),
            r.listening_port,
            r.state_name(),
            r.ack_off,
            r.ack_time.elapsed().as_secs()
        );
    }
}

/// How many replicas acknowledged the stream up to `offset`.
pub fn acked(srv: &Server, offset: i64) -> i64 {
    replica_conns(srv)
        .filter(|(_, _, r)| r.online() && r.ack_off >= offset)
        .count() as i64
}

/// WAIT numreplicas timeout: the number of replicas that acknowledged this client's
/// writes, once enough did or the timeout passed.
pub fn wait(ctx: &mut Ctx, args: Args, wanted: i64, deadline: i64) {
    if ctx.srv.repl.is_replica() {
        return ctx.out.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let woff = ctx.client().woff;
    let n = acked(ctx.srv, woff);
    if n >= wanted || !crate::blocking::may_block(ctx) {
        return ctx.out.int(n);
    }
    let no_keys: [&[u8]; 0] = [];
    crate::blocking::block(
        ctx,
        args,
        no_keys,
        deadline,
        |_, _, _| false,
        crate::blocking::TimeoutReply::Wait,
    );
    ctx.srv.repl.waiters.push((ctx.id, wanted));
    ctx.srv.repl.getack = true;
}

/// Release the WAITs that enough acknowledgements satisfy.
pub fn release_waiters(srv: &mut Server) {
    let waiters = std::mem::take(&mut srv.repl.waiters);
    let mut keep = Vec::with_capacity(waiters.len());
    for (idx, wanted) in waiters {
        let Some(c) = srv.net.clients.get(idx) else {
            continue;
        };
        if c.blocked.is_none() {
            continue;
        }
        let n = acked(srv, c.woff);
        if n >= wanted {
            crate::blocking::complete_wait(srv, idx, n);
        } else {
            keep.push((idx, wanted));
        }
    }
    srv.repl.waiters.extend(keep);
}

/// Online replicas that acknowledged within min-replicas-max-lag seconds.
pub fn good_replicas(srv: &Server) -> i64 {
    let lag = srv.cfg.min_replicas_max_lag.max(0) as u64;
    replica_conns(srv)
        .filter(|(_, _, r)| r.online() && r.ack_time.elapsed().as_secs() <= lag)
        .count() as i64
}

/// client-output-buffer-limit for a replica: what its output holds plus the stream it
/// has still to be given (its place in the replication buffer, waiting for its snapshot
/// included). The hard limit is never below repl-backlog-size, as in Redis: the backlog
/// is shared, and a lower limit would drop a replica right after a partial resync.
/// True when it is dropped.
pub fn check_stream_limit(srv: &mut Server, idx: usize) -> bool {
    let Some(c) = srv.net.clients.get(idx) else {
        return false;
    };
    if c.close_asap {
        return false;
    }
    let mut lim = srv.cfg.client_output_buffer_limit.0[crate::config::OBUF_REPLICA];
    if lim.hard > 0 {
        lim.hard = lim.hard.max(srv.cfg.repl_backlog_size);
    }
    let pending = (c.pending_output() + super::stream_pending(srv, c)) as i64;
    let c = &mut srv.net.clients[idx];
    if !crate::server::output_limit_reached(c, lim, pending) {
        return false;
    }
    srv.admin.stats.client_outbuf_limit_disconnections += 1;
    c.close_asap = true;
    srv.net.pending_write.push(idx);
    true
}

/// The output limits of every replica with a place in the replication buffer (after the
/// stream grew).
pub fn check_stream_limits(srv: &mut Server) {
    let lim = srv.cfg.client_output_buffer_limit.0[crate::config::OBUF_REPLICA];
    if lim.hard <= 0 && lim.soft <= 0 {
        return;
    }
    for i in 0..srv.repl.replicas.len() {
        let idx = srv.repl.replicas[i];
        check_stream_limit(srv, idx);
    }
}

/// Write the stream an online replica has still to be given, from the replication
/// buffer, as far as its socket takes it: Ok(true) when it has it all, Ok(false) when the
/// socket is full. A replica whose place left the buffer (it cannot be served) is an
/// error: it is dropped and syncs again.
pub fn write_stream(srv: &mut Server, idx: usize) -> std::io::Result<bool> {
    let Some(b) = srv.repl.backlog.as_ref() else {
        return Ok(true);
    };
    let c = &mut srv.net.clients[idx];
    let Some(r) = c.repl.as_mut().filter(|r| r.online()) else {
        return Ok(true);
    };
    let Some(mut pos) = r.pos else {
        return Ok(true);
    };
    if !b.holds(pos) {
        return Err(std::io::Error::other(format!(
            "its stream offset {pos} is not in the replication buffer"
        )));
    }
    let Some(conn) = c.conn.as_mut() else {
        r.pos = Some(b.end());
        return Ok(true);
    };
    let before = pos;
    let res = loop {
        let chunk = b.chunk(pos);
        if chunk.is_empty() {
            break Ok(true);
        }
        let mut k = 0;
        let done = conn.write_from(chunk, &mut k);
        pos += k as i64;
        match done {
            Ok(true) => {}
            other => break other,
        }
    };
    r.pos = Some(pos);
    let n = (pos - before) as u64;
    c.tot_net_out += n;
    srv.admin.stats.net_repl_output_bytes += n;
    if n > 0 {
        srv.admin.stats.total_writes_processed += 1;
    }
    res
}
