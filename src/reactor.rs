//! The event loop: one thread, one `mio::Poll`, every socket in one slab.
//! Per readiness event a client is read (all available bytes), every complete command in
//! its buffer is executed, and the replies are written with as few syscalls as possible.
use crate::listen::{Sock, LISTENER_BASE};
use crate::net::{Conn, ReadResult, Stream};
use crate::resp::{parse_request_resume, Args, Partial, Request};
use crate::server::{Client, ClientKind, Ctx, Server};
use crate::{commands, notice, verbose, warn};
use mio::{Events, Interest, Poll};
use std::cell::RefCell;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

thread_local! {
    /// The event loop's poller. It lives here, not on `run`'s stack, so that a script past
    /// busy-reply-threshold can poll it from its hook ([`events_while_blocked`]).
    static POLL: RefCell<Option<Poll>> = const { RefCell::new(None) };
}

/// Wait for events (`timeout` None: forever); false if no poller is installed.
fn poll_events(events: &mut Events, timeout: Option<Duration>) -> std::io::Result<bool> {
    POLL.with(|p| match p.borrow_mut().as_mut() {
        Some(poll) => poll.poll(events, timeout).map(|_| true),
        None => Ok(false),
    })
}

/// The last termination signal received (0 = none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// SIGHUPs received since the loop last looked (they are logged and ignored, as Redis
/// ignores SIGHUP: terminals and some supervisors send it to daemons).
static HANGUPS: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGHUP {
        HANGUPS.fetch_add(1, Ordering::SeqCst);
    } else {
        SIGNAL.store(sig, Ordering::SeqCst);
    }
}

fn install_signal_handlers() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// A query buffer emptied with more capacity than this is freed at once.
const QBUF_KEEP_MAX: usize = 256 * 1024;
/// A bulk longer than this gets an exact-size buffer (Redis's PROTO_MBULK_BIG_ARG).
const QBUF_BIG_ARG: usize = 32 * 1024;

/// How long a TLS client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time budget of one active-expiry step.
const EXPIRE_BUDGET: Duration = Duration::from_millis(1);

/// Make the event loop servable before it runs: signals, the poll, and the hook that
/// serves it from inside a long operation (a busy script, the startup load).
pub fn prepare(srv: &mut Server, poll: Poll) {
    install_signal_handlers();
    POLL.with(|p| *p.borrow_mut() = Some(poll));
    srv.net.events_while_blocked = Some(events_while_blocked);
}

/// Serve the loop until shutdown (after `prepare`).
pub fn run(srv: &mut Server) -> std::io::Result<()> {
    let mut events = Events::with_capacity(1024);
    let mut next_cron = Instant::now();
    srv.admin.stats.used_memory_startup = crate::evict::used_memory();
    let mut expire_backlog = false;
    loop {
        let now = Instant::now();
        // Work queued by the last iteration's end (a WAIT released before sleeping, its
        // client's pipelined commands) is served at once, not at the next cron.
        let mut timeout = if expire_backlog
            || !srv.net.pending_write.is_empty()
            || !srv.repl.sending.is_empty()
            || srv.repl.load_pending
            || srv.data.blocking.has_work()
        {
            Duration::ZERO
        } else {
            next_cron.saturating_duration_since(now)
        };
        if let Some(d) = crate::blocking::next_deadline(srv) {
            let left = (d - crate::util::now_ms()).max(0) as u64;
            timeout = timeout.min(Duration::from_millis(left));
        }
        if let Some(d) = crate::link::next_deadline(srv) {
            timeout = timeout.min(d.saturating_duration_since(now));
        }
        if let Err(e) = poll_events(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        srv.net.loop_iterations += 1;
        srv.net.loop_now = Instant::now();
        crate::latency::loop_begin(srv);
        queue(srv, &events);
        dispatch(srv, None);
        // Events of a client whose script served the loop while it ran.
        while let Some(idx) = srv.net.deferred_events.pop() {
            if srv.net.clients.contains(idx) {
                handle_readable(srv, idx);
            }
            if srv.net.clients.contains(idx) {
                flush(srv, idx);
            }
        }
        crate::blocking::expire(srv);
        link_timeouts(srv);
        serve_blocked(srv);
        crate::tracking::broadcast(srv);
        // A replica's diskless load: its next slice.
        if srv.repl.load_pending {
            crate::replication::replica::resume_load(srv);
        }
        // Snapshot transfers to replicas: a chunk each per iteration.
        if !srv.repl.sending.is_empty() {
            for idx in std::mem::take(&mut srv.repl.sending) {
                if srv.net.clients.contains(idx) {
                    flush(srv, idx);
                }
            }
        }
        flush_pending(srv);
        if HANGUPS.swap(0, Ordering::SeqCst) != 0 {
            notice!("Received SIGHUP, ignoring it (as Redis does)");
        }
        let sig = SIGNAL.swap(0, Ordering::SeqCst);
        if sig != 0 {
            let name = if sig == libc::SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            warn!("Received {} scheduling shutdown...", name);
            // shutdown-on-sigterm / -sigint: save, nosave, now, force (bits 0..3).
            let flags = if sig == libc::SIGINT {
                srv.cfg.shutdown_on_sigint.0
            } else {
                srv.cfg.shutdown_on_sigterm.0
            };
            let (save, nosave, force) = (flags & 1 != 0, flags & 2 != 0, flags & 8 != 0);
            if crate::persist::snapshot::prepare_shutdown(srv, save, nosave, force) {
                srv.admin.shutdown = Some(crate::server::Shutdown { from_signal: true });
            } else {
                warn!("{name} received but errors trying to shut down the server, check the logs for more information");
            }
        }
        if srv.admin.shutdown.is_some() {
            finish_shutdown(srv);
            return Ok(());
        }
        if srv.net.loop_now >= next_cron {
            expire_backlog = cron(srv);
            let hz = srv.cfg.hz.clamp(1, 500) as u64;
            next_cron = Instant::now() + Duration::from_micros(1_000_000 / hz);
        } else if expire_backlog {
            expire_backlog = active_expire(srv);
        }
        crate::latency::loop_end(srv);
    }
}

/// A read of at least this many bytes that leaves a command incomplete re-arms
/// TCP_QUICKACK.
const QUICKACK_FROM: usize = 8 * 1024;

/// Readiness flags of a queued event.
const READ: u8 = 1;
const WRITE: u8 = 2;
/// The peer shut its side down (read to the end-of-file).
const HUP: u8 = 4;

/// Queue a batch of events: [`dispatch`] serves them in order. They are queued (not
/// served straight from `Events`) so that a script serving the loop while it runs serves
/// the rest of the batch it was called from too: epoll reports an edge once.
fn queue(srv: &mut Server, events: &Events) {
    for ev in events.iter() {
        let mut flags = 0;
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            flags |= READ;
        }
        if ev.is_read_closed() {
            flags |= HUP;
        }
        if ev.is_writable() {
            flags |= WRITE;
        }
        srv.net.ready.push((ev.token().0, flags));
    }
}

/// Serve the queued events. Those of `protected` (the client whose script is running and
/// serving the loop) are set aside for after the script.
fn dispatch(srv: &mut Server, protected: Option<usize>) {
    while let Some(&(t, flags)) = srv.net.ready.get(srv.net.ready_pos) {
        if srv.admin.shutdown.is_some() {
            // SHUTDOWN ran: serve nothing more (its client already saw its connection
            // close, and may be connecting again).
            break;
        }
        srv.net.ready_pos += 1;
        if t >= LISTENER_BASE {
            accept_all(srv, t - LISTENER_BASE);
            continue;
        }
        if t == crate::replication::master::PIPE_TOKEN {
            crate::replication::master::pipe_readable(srv);
            continue;
        }
        if t & crate::link::LINK_TOKEN != 0 {
            link_event(srv, t, flags);
            continue;
        }
        let t = match srv.net.clients.get(crate::server::token_index(t)) {
            Some(c) if c.owns(t) => crate::server::token_index(t),
            // A closed client's leftover event, or its slab index's new occupant's stale one.
            _ => continue,
        };
        if Some(t) == protected {
            if !srv.net.deferred_events.contains(&t) {
                srv.net.deferred_events.push(t);
            }
            continue;
        }
        if flags & HUP != 0 {
            if let Some(conn) = srv.net.clients[t].conn.as_mut() {
                conn.hup = true;
            }
        }
        if flags & READ != 0 {
            handle_readable(srv, t);
        }
        if flags & WRITE != 0 && srv.net.clients.contains(t) {
            flush(srv, t);
        }
    }
    srv.net.ready.clear();
    srv.net.ready_pos = 0;
}

/// An outgoing link's readiness: its I/O, then its owner's turn.
fn link_event(srv: &mut Server, t: usize, flags: u8) {
    let idx = crate::server::token_index(t);
    let Some(link) = srv.net.links.get_mut(idx).filter(|l| l.owns(t)) else {
        return;
    };
    let p = crate::link::drive(
        link,
        &srv.net.registry,
        flags & READ != 0,
        flags & WRITE != 0,
    );
    link_progress(srv, idx, p);
}

/// Hand a link's progress to its owner.
fn link_progress(srv: &mut Server, idx: usize, p: crate::link::Progress) {
    use crate::link::Owner;
    match srv.net.links[idx].owner {
        Owner::Idle => commands::migrate::on_idle_link(srv, idx, p),
        Owner::Migrate => commands::migrate::on_link(srv, idx, p),
        Owner::Master => crate::replication::replica::on_link(srv, idx, p),
        Owner::Bus => crate::cluster::bus::on_link(srv, idx, p),
    }
}

/// Fail the links whose current step outlived its timeout.
fn link_timeouts(srv: &mut Server) {
    if srv.net.links.is_empty() {
        return;
    }
    for idx in crate::link::expired(srv, Instant::now()) {
        if srv.net.links.contains(idx) {
            link_progress(srv, idx, crate::link::Progress::Failed("timeout".into()));
        }
    }
}

/// Serve the event loop from inside a script that passed busy-reply-threshold (Redis's
/// processEventsWhileBlocked): accept, finish handshakes, read and answer (-BUSY but for
/// allow-busy commands), up to four batches without waiting. The script's own client is
/// left alone (its events wait for the script), and SHUTDOWN NOSAVE exits from here.
fn events_while_blocked(srv: &mut Server) {
    // SIGTERM/SIGINT while the dataset loads: leave at once without saving (the data is
    // half there), as Redis does from its loading cron.
    if srv.admin.rdb.loading && SIGNAL.swap(0, Ordering::SeqCst) != 0 {
        warn!("Received shutdown signal during loading, scheduling shutdown.");
        crate::persist::snapshot::prepare_shutdown(srv, false, true, false);
        finish_shutdown(srv);
        std::process::exit(0);
    }
    // The client whose command serves the loop (a busy script's, DEBUG RELOAD's) is never
    // re-entered: its events wait for the command to end.
    let protected = srv
        .data
        .scripting
        .running
        .as_ref()
        .map(|r| r.client)
        .or(srv.executing);
    // The running client's pushes are collected aside while its command runs.
    let current = srv.data.pubsub.current.take();
    let own = std::mem::take(&mut srv.data.pubsub.own);
    let script_time = crate::keyspace::clock::suspend();
    // First the rest of the batch the script was called from, then new events.
    dispatch(srv, protected);
    let mut events = Events::with_capacity(128);
    for _ in 0..4 {
        if srv.admin.shutdown.is_some() {
            break;
        }
        match poll_events(&mut events, Some(Duration::ZERO)) {
            Ok(true) if !events.is_empty() => {}
            _ => break,
        }
        srv.net.loop_now = Instant::now();
        queue(srv, &events);
        dispatch(srv, protected);
    }
    if srv.data.prop.aof().is_some() {
        crate::persist::aof::flush(srv, false);
    }
    let mut keep = Vec::new();
    while let Some(idx) = srv.net.pending_write.pop() {
        if Some(idx) == protected {
            keep.push(idx);
        } else if srv.net.clients.contains(idx) {
            flush(srv, idx);
        }
    }
    srv.net.pending_write = keep;
    srv.data.pubsub.current = current;
    srv.data.pubsub.own = own;
    crate::keyspace::clock::resume(script_time);
    if srv.admin.shutdown.is_some() {
        // Only SHUTDOWN NOSAVE gets here: the script never returns (as in Redis).
        finish_shutdown(srv);
        std::process::exit(0);
    }
}

fn accept_all(srv: &mut Server, li: usize) {
    loop {
        let Some(l) = srv.net.listeners.get_mut(li) else {
            return;
        };
        let tls = l.tls;
        if l.bus {
            match &mut l.sock {
                Sock::Tcp(s) => match s.accept() {
                    Ok((st, peer)) => {
                        crate::cluster::bus::accept(srv, st, peer.to_string());
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        crate::verbose!("Accepting cluster node connection: {}", e);
                        return;
                    }
                },
                Sock::Unix(_) => return,
            }
        }
        let accepted = match &mut l.sock {
            Sock::Tcp(s) => s.accept().map(|(st, peer)| {
                let _ = st.set_nodelay(true);
                (
                    Stream::Tcp(st),
                    peer.to_string(),
                    String::new(),
                    if tls {
                        ClientKind::Tls
                    } else {
                        ClientKind::Tcp
                    },
                )
            }),
            Sock::Unix(s) => s.accept().map(|(st, _)| {
                (
                    Stream::Unix(st),
                    "/unixsocket:0".to_string(),
                    l.addr.clone(),
                    ClientKind::Unix,
                )
            }),
        };
        match accepted {
            Ok((stream, peer, unix_path, kind)) => new_client(srv, stream, peer, unix_path, kind),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if crate::fdlimit::out_of_fds(&e) && srv.net.spare_fd.is_some() => {
                // Listeners are edge-triggered: a connection left in the backlog now would
                // never be reported again. Free the spare descriptor, take the client,
                // tell it why (TLS clients are only closed) and close it.
                srv.net.spare_fd = None;
                let turned = turn_away(srv, li);
                srv.net.spare_fd = crate::fdlimit::spare();
                if let Some(skipped) = srv.net.log_limit.allow("accept-emfile") {
                    warn!(
                        "Error accepting a client connection: {} (maxclients {}, clients {}): rejecting new clients{}",
                        e,
                        srv.cfg.maxclients,
                        srv.net.clients.len(),
                        crate::log::skipped_note(skipped)
                    );
                }
                if !turned {
                    return;
                }
            }
            Err(e) => {
                if let Some(skipped) = srv.net.log_limit.allow("accept") {
                    warn!(
                        "Accepting client connection: {}{}",
                        e,
                        crate::log::skipped_note(skipped)
                    );
                }
                return;
            }
        }
    }
}

/// Accept one connection on listener `li` and close it at once, after Redis's
/// max-clients error when it speaks plain RESP.
fn turn_away(srv: &mut Server, li: usize) -> bool {
    use std::io::Write;
    let Some(l) = srv.net.listeners.get_mut(li) else {
        return false;
    };
    const MSG: &[u8] = b"-ERR max number of clients reached\r\n";
    let tls = l.tls;
    let ok = match &mut l.sock {
        Sock::Tcp(s) => s.accept().map(|(mut st, _)| {
            if !tls {
                let _ = st.write(MSG);
            }
        }),
        Sock::Unix(s) => s.accept().map(|(mut st, _)| {
            let _ = st.write(MSG);
        }),
    };
    if ok.is_ok() {
        srv.admin.stats.rejected_connections += 1;
    }
    ok.is_ok()
}

fn new_client(srv: &mut Server, stream: Stream, peer: String, unix_path: String, kind: ClientKind) {
    srv.admin.stats.total_connections_received += 1;
    if let Stream::Tcp(s) = &stream {
        if srv.cfg.tcp_keepalive > 0 {
            let ka = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(srv.cfg.tcp_keepalive as u64));
            let _ = socket2::SockRef::from(s).set_tcp_keepalive(&ka);
        }
    }
    let conn = if kind == ClientKind::Tls {
        let Some(cfg) = srv.net.tls.clone() else {
            warn!(
                "Error accepting a TLS connection from {}: TLS is not configured",
                peer
            );
            return;
        };
        match rustls::ServerConnection::new(cfg) {
            Ok(s) => Conn::tls(stream, s),
            Err(e) => {
                warn!("Error accepting a TLS connection from {}: {}", peer, e);
                return;
            }
        }
    } else {
        Conn::plain(stream)
    };
    let id = srv.net.next_client_id;
    srv.net.next_client_id += 1;
    let entry = srv.net.clients.vacant_entry();
    let idx = entry.key();
    let client = entry.insert(Client::new(id, conn, kind, peer, unix_path));
    let token = client.token(idx);
    let registered = client.conn.as_mut().is_some_and(|c| {
        srv.net
            .registry
            .register(&mut c.stream, token, Interest::READABLE)
            .is_ok()
    });
    if !registered {
        srv.net.clients.remove(idx);
        return;
    }
    if srv.net.clients.len() as i64 > srv.cfg.maxclients {
        srv.admin.stats.rejected_connections += 1;
        let c = &mut srv.net.clients[idx];
        c.out.error("ERR max number of clients reached");
        c.close_after_reply = true;
        if c.kind != ClientKind::Tls {
            flush(srv, idx);
        }
        return;
    }
    if kind != ClientKind::Tls {
        verbose!("Accepted {}", srv.net.clients[idx].peer);
        crate::acl::on_connect(srv, idx);
        if srv.net.clients[idx].close_after_reply {
            // Refused (protected mode): say so now; nothing will be read from it.
            flush(srv, idx);
        }
    }
}

fn handle_readable(srv: &mut Server, idx: usize) {
    let c = &mut srv.net.clients[idx];
    let Some(conn) = c.conn.as_mut() else {
        return;
    };
    let was_handshaking = !conn.established;
    let t0 = was_handshaking.then(quanta::Instant::now);
    let r = conn.read_into(&mut c.rbuf);
    let from_master = c.is_master;
    if let Some(t0) = t0 {
        crate::latency::note(srv, crate::latency::Cause::Handshake, t0.elapsed());
    }
    let mut big_read = false;
    let closed = match r {
        Ok(ReadResult::Data(n)) => {
            if from_master {
                srv.admin.stats.net_repl_input_bytes += n as u64;
            } else {
                srv.admin.stats.net_input_bytes += n as u64;
            }
            srv.admin.stats.total_reads_processed += 1;
            big_read = n >= QUICKACK_FROM;
            false
        }
        Ok(ReadResult::Closed(n)) => {
            if from_master {
                srv.admin.stats.net_repl_input_bytes += n as u64;
            } else {
                srv.admin.stats.net_input_bytes += n as u64;
            }
            true
        }
        Err(e) => {
            if was_handshaking {
                tls_handshake_failed(srv, idx, &e);
            } else {
                verbose!(
                    "Client {} closed the connection: {}",
                    srv.net.clients[idx].peer,
                    e
                );
            }
            close_client(srv, idx);
            return;
        }
    };
    let c = &mut srv.net.clients[idx];
    if was_handshaking && c.established() {
        tls_handshake_done(srv, idx);
    }
    let c = &mut srv.net.clients[idx];
    c.last_interaction = srv.net.loop_now;
    c.qbuf_peak = c.qbuf_peak.max(c.rbuf.len());
    if c.rbuf.len() as i64 > srv.cfg.client_query_buffer_limit {
        warn!(
            "Closing client that reached max query buffer length: addr={} qbuf={}",
            c.peer,
            c.rbuf.len()
        );
        srv.admin.stats.client_qbuf_limit_disconnections += 1;
        close_client(srv, idx);
        return;
    }
    process_input(srv, idx);
    // A large request still coming in: have its next segments acknowledged at once (see
    // `Stream::quickack`). Only after big reads that leave a command incomplete: one
    // syscall per large transfer step, none for ordinary traffic.
    if big_read {
        if let Some(c) = srv.net.clients.get(idx) {
            if !c.rbuf.is_empty() {
                if let Some(conn) = c.conn.as_ref() {
                    conn.stream.quickack();
                }
            }
        }
    }
    if closed {
        // Reply to what was sent before the close if the peer half-closed, then go (the
        // AOF first: its buffer holds the replies).
        if srv.data.prop.aof_hold() {
            crate::persist::aof::flush(srv, false);
        }
        flush(srv, idx);
        if srv.net.clients.contains(idx) {
            close_client(srv, idx);
        }
        return;
    }
    flush(srv, idx);
}

fn tls_handshake_done(srv: &mut Server, idx: usize) {
    let c = &srv.net.clients[idx];
    let tls = c.conn.as_ref().and_then(|c| c.tls.as_deref());
    let resumed = tls.and_then(|t| t.handshake_kind()) == Some(rustls::HandshakeKind::Resumed);
    let cn = tls.and_then(|t| crate::tls::peer_cn(t));
    srv.admin.stats.tls_handshakes_ok += 1;
    srv.admin
        .latency
        .handshake_hist
        .record(c.created.elapsed().as_nanos() as u64);
    if resumed {
        srv.admin.stats.tls_handshakes_resumed += 1;
    }
    verbose!(
        "Accepted TLS {} ({})",
        c.peer,
        if resumed { "resumed" } else { "full handshake" }
    );
    if srv.cfg.tls_auth_clients_user == crate::config::TLS_AUTH_USER_CN {
        if let Some(cn) = &cn {
            // The ACL layer maps this name to a user (tls-auth-clients-user CN).
            verbose!(
                "TLS client addr={} presented a verified certificate with CN={}",
                srv.net.clients[idx].peer,
                cn
            );
        }
    }
    srv.net.clients[idx].tls_cn = cn;
    crate::acl::on_tls_established(srv, idx);
}

fn tls_handshake_failed(srv: &mut Server, idx: usize, err: &std::io::Error) {
    let reason = crate::tls::failure_reason(err);
    *srv.admin
        .stats
        .tls_handshake_failures
        .entry(reason.to_string())
        .or_insert(0) += 1;
    let cause = if reason == "plaintext" {
        "tls-plaintext"
    } else {
        "tls-handshake"
    };
    let Some(skipped) = srv.net.log_limit.allow(cause) else {
        return;
    };
    let c = &srv.net.clients[idx];
    if reason == "plaintext" {
        warn!(
            "Error accepting a client connection: plaintext (non-TLS) data sent to the TLS port, connection rejected (addr={} laddr={}){}",
            c.peer,
            c.local_addr(),
            crate::log::skipped_note(skipped)
        );
    } else {
        warn!(
            "Error accepting a client connection: {} (addr={} laddr={}){}",
            err,
            c.peer,
            c.local_addr(),
            crate::log::skipped_note(skipped)
        );
    }
}

/// Execute every complete command in the client's read buffer.
pub fn process_input(srv: &mut Server, idx: usize) {
    let c = &mut srv.net.clients[idx];
    if c.is_master {
        // This replica's master: its stream is applied, not answered.
        if !c.close_asap {
            crate::replication::replica::master_input(srv, idx);
        }
        return;
    }
    if c.close_after_reply || c.close_asap {
        c.rbuf.clear();
        c.partial = Partial::default();
        return;
    }
    if c.blocked.is_some() {
        // Like Redis: a blocked client's further input waits until it is released.
        return;
    }
    let mut rbuf = std::mem::take(&mut c.rbuf);
    let mut spans = std::mem::take(&mut c.spans);
    let mut scratch = std::mem::take(&mut c.scratch);
    let mut out = std::mem::take(&mut c.out);
    let mut db = c.db;
    let mut partial = c.partial;
    let lim = output_class(srv, idx).map(|k| srv.cfg.client_output_buffer_limit.0[k]);
    out.limit = lim.map_or(0, |l| l.hard.max(0) as usize);
    // Whether this client's output is limited at all (the default for normal clients is
    // not): only then is it checked after each command.
    let limited = lim.is_some_and(|l| l.hard > 0 || l.soft > 0);
    let max_bulk = srv.cfg.proto_max_bulk_len;
    let outer = srv.executing.replace(idx);
    let mut pos = 0;
    // Bytes the incomplete request at `pos` needs in all (0: not known).
    let mut want = 0;
    while pos < rbuf.len() {
        let parsed = match crate::acl::unauthenticated_limit(srv, idx, &rbuf[pos..]) {
            Some(e) => Err(e),
            None => parse_request_resume(
                &rbuf[pos..],
                &mut spans,
                &mut scratch,
                max_bulk,
                &mut partial,
            ),
        };
        match parsed {
            Ok(Request::Command { consumed, inline }) => {
                srv.net.clients[idx].qbuf_in_flight = rbuf.len() - pos;
                let args = if inline {
                    Args::new(&scratch, &spans)
                } else {
                    Args::new(&rbuf[pos..], &spans)
                };
                let replica = srv.net.clients[idx]
                    .repl
                    .as_ref()
                    .is_some_and(|r| r.is_replica());
                let mark = out.buf.len();
                let mut ctx = Ctx {
                    srv,
                    out: &mut out,
                    id: idx,
                    db,
                };
                let flow = commands::execute(&mut ctx, args);
                db = ctx.db;
                if replica && out.buf.len() > mark {
                    crate::replication::master::rogue_reply(srv, idx, &mut out.buf, mark);
                }
                if flow == commands::Flow::Paused {
                    srv.admin.paused_clients.push(idx);
                    break;
                }
                // Output limits are checked as the reply grows (Redis checks at every
                // append): a client past its hard limit is dropped with its reply unsent,
                // and the rest of its pipeline is not run.
                let sent = srv.net.clients[idx].out_pos;
                if limited
                    && out.buf.len() - sent > REPLY_CHUNK
                    && output_limit_hit(srv, idx, out.buf.len() - sent)
                {
                    out.buf.truncate(sent);
                    let c = &mut srv.net.clients[idx];
                    c.close_asap = true;
                    srv.net.pending_write.push(idx);
                    pos = rbuf.len();
                    break;
                }
                pos += consumed;
                if srv.data.blocking.has_work() {
                    serve_blocked(srv);
                }
                let c = &mut srv.net.clients[idx];
                c.tot_net_in += consumed as u64;
                if c.close_asap || c.close_after_reply || c.blocked.is_some() {
                    break;
                }
            }
            Ok(Request::Skip { consumed }) => pos += consumed,
            Ok(Request::Incomplete { want: w }) => {
                want = w;
                break;
            }
            Err(e) => {
                verbose!(
                    "Protocol error ({}) from client: addr={}",
                    e.0,
                    srv.net.clients[idx].peer
                );
                out.error(&e.0);
                srv.admin.stats.record_errors(&mut out.errors);
                srv.net.clients[idx].close_after_reply = true;
                partial = Partial::default();
                pos = rbuf.len();
                break;
            }
        }
    }
    srv.executing = outer;
    rbuf.drain(..pos);
    if rbuf.is_empty() && rbuf.capacity() > QBUF_KEEP_MAX {
        // A big request was served: give its buffer back now rather than keep it for
        // ever (the next read starts a small one).
        rbuf = Vec::new();
    } else if want > QBUF_BIG_ARG && want > rbuf.len() {
        // A big bulk is on its way: room for exactly it (plus a read's worth), so that
        // the buffer does not double past it while it arrives.
        rbuf.reserve_exact(want - rbuf.len() + 16 * 1024);
    }
    let c = &mut srv.net.clients[idx];
    c.partial = partial;
    c.qbuf_in_flight = 0;
    c.rbuf = rbuf;
    c.spans = spans;
    c.scratch = scratch;
    c.out = out;
    c.db = db;
}

/// Serve clients blocked on keys that became ready (or released otherwise): queue their
/// replies for writing and run the input they sent while blocked.
pub fn serve_blocked(srv: &mut Server) {
    // Not while a script serves the loop: its writes are served once it returns.
    if srv.data.blocking.serving || srv.data.scripting.busy {
        return;
    }
    srv.data.blocking.serving = true;
    while srv.data.blocking.has_work() {
        crate::blocking::serve_ready(srv);
        let resumed = std::mem::take(&mut srv.data.blocking.resumed);
        for idx in resumed {
            if !srv.net.clients.contains(idx) {
                continue;
            }
            srv.mark_pending(idx);
            if !srv.net.clients[idx].rbuf.is_empty() {
                process_input(srv, idx);
            }
        }
    }
    srv.data.blocking.serving = false;
}

/// Write what is pending for a client; register for WRITABLE if the socket is full.
pub fn flush(srv: &mut Server, idx: usize) {
    // No reply leaves before the AOF has what it answers for: held until the loop
    // writes the AOF buffer (`flush_pending`), for every client of the iteration at once.
    if srv.data.prop.aof_hold() {
        srv.mark_pending(idx);
        return;
    }
    let c = &mut srv.net.clients[idx];
    if c.close_asap {
        close_client(srv, idx);
        return;
    }
    let before = c.out_pos;
    let res = match c.conn.as_mut() {
        Some(conn) if c.out_pos < c.out.buf.len() => conn.write_from(&c.out.buf, &mut c.out_pos),
        Some(conn) => conn.flush_tls(),
        // An internal client: its replies go nowhere.
        None => {
            c.out_pos = c.out.buf.len();
            Ok(true)
        }
    };
    let replica = c.repl.as_ref().is_some_and(|r| r.is_replica());
    if replica {
        srv.admin.stats.net_repl_output_bytes += (c.out_pos - before) as u64;
    } else {
        srv.admin.stats.net_output_bytes += (c.out_pos - before) as u64;
    }
    if c.out_pos > before {
        srv.admin.stats.total_writes_processed += 1;
    }
    c.tot_net_out += (c.out_pos - before) as u64;
    let mut res = res;
    if replica && matches!(res, Ok(true)) {
        // Its output is written: then the stream it has still to be given, from the
        // replication buffer the backlog and every replica share.
        c.out.buf.clear();
        c.out_pos = 0;
        res = crate::replication::master::write_stream(srv, idx);
    }
    let c = &mut srv.net.clients[idx];
    match res {
        Ok(true) => {
            c.out.buf.clear();
            c.out_pos = 0;
            if c.repl.as_ref().is_some_and(|r| r.sending()) {
                // A replica's snapshot: the next chunk, written at the next iteration.
                if crate::replication::master::refill(c) {
                    srv.repl.sending.push(idx);
                    return;
                }
                if c.close_asap {
                    close_client(srv, idx);
                    return;
                }
                // Sent whole: the stream kept for it comes next.
                srv.net.pending_write.push(idx);
            }
            if replica && !c.repl.as_ref().is_some_and(|r| r.sending()) {
                // A replica's stream is written from the shared replication buffer: its
                // own output (a snapshot's chunks, keepalives) is not kept once written.
                if c.out.buf.capacity() > 0 {
                    c.out.buf = Vec::new();
                }
            } else if c.out.buf.capacity() > 1 << 20 {
                c.out.buf = Vec::with_capacity(16 * 1024);
            }
            c.obuf_soft_since = None;
            if srv.repl.pipe.is_some() {
                crate::replication::master::drained(srv);
                if !srv.net.clients.contains(idx) {
                    return;
                }
            }
            let c = &mut srv.net.clients[idx];
            if c.close_after_reply {
                close_client(srv, idx);
                return;
            }
            if c.want_write {
                c.want_write = false;
                let token = c.token(idx);
                if let Some(conn) = c.conn.as_mut() {
                    let _ =
                        srv.net
                            .registry
                            .reregister(&mut conn.stream, token, Interest::READABLE);
                }
            }
        }
        Ok(false) => {
            if !c.want_write {
                c.want_write = true;
                let token = c.token(idx);
                if let Some(conn) = c.conn.as_mut() {
                    let _ = srv.net.registry.reregister(
                        &mut conn.stream,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    );
                }
            }
            check_output_limits(srv, idx);
        }
        Err(e) => {
            verbose!("Error writing to client {}: {}", c.peer, e);
            close_client(srv, idx);
        }
    }
}

/// Replies up to this size never count against output limits (Redis's 16 KB static reply
/// buffer is not counted either).
const REPLY_CHUNK: usize = 16 * 1024;

/// The client-output-buffer-limit class of a client that gets replies (None: a replica,
/// whose output is its place in the replication buffer, or this replica's master).
fn output_class(srv: &Server, idx: usize) -> Option<usize> {
    let c = &srv.net.clients[idx];
    if c.is_master || c.repl.as_ref().is_some_and(|r| r.is_replica()) {
        None
    } else if crate::commands::pubsub_client(c) {
        Some(crate::config::OBUF_PUBSUB)
    } else {
        Some(crate::config::OBUF_NORMAL)
    }
}

/// Whether a client holding `pending` bytes of output passed its limits (counted in the
/// stats and logged when it did).
fn output_limit_hit(srv: &mut Server, idx: usize, pending: usize) -> bool {
    let Some(class) = output_class(srv, idx) else {
        return false;
    };
    let lim = srv.cfg.client_output_buffer_limit.0[class];
    let c = &mut srv.net.clients[idx];
    if crate::server::output_limit_reached(c, lim, pending as i64) {
        srv.admin.stats.client_outbuf_limit_disconnections += 1;
        return true;
    }
    false
}

/// client-output-buffer-limit: hard limit closes at once, soft limit after its seconds.
fn check_output_limits(srv: &mut Server, idx: usize) {
    let c = &srv.net.clients[idx];
    if c.repl.as_ref().is_some_and(|r| r.is_replica()) {
        // A replica's output is mostly its place in the replication buffer.
        crate::replication::master::check_stream_limit(srv, idx);
        return;
    }
    let pending = c.pending_output();
    if output_limit_hit(srv, idx, pending) {
        close_client(srv, idx);
    }
}

fn flush_pending(srv: &mut Server) {
    if srv.cluster.is_some() {
        crate::cluster::bus::before_sleep(srv);
    }
    if srv.data.prop.repl().is_some() || srv.repl.acked {
        crate::replication::before_sleep(srv);
    }
    if srv.data.prop.aof().is_some() {
        crate::persist::aof::flush(srv, false);
    }
    while let Some(idx) = srv.net.pending_write.pop() {
        if srv.net.clients.contains(idx) {
            flush(srv, idx);
        }
    }
}

pub fn close_client(srv: &mut Server, idx: usize) {
    if !srv.net.clients.contains(idx) {
        return;
    }
    let mut c = srv.net.clients.remove(idx);
    // Out of the epoll set before the close: close() removes it only when no other
    // process holds the socket, and a forked child may (its slot would then fire for the
    // next client given this slot).
    if let Some(conn) = c.conn.as_mut() {
        let _ = srv.net.registry.deregister(&mut conn.stream);
        if let Some(tls) = conn.tls.as_mut() {
            if conn.established && !c.detached {
                tls.send_close_notify();
                let _ = conn.flush_tls();
            }
        }
    }
    srv.admin.monitors.retain(|&m| m != idx);
    commands::on_client_closed(srv, idx, &c);
    verbose!("Client closed connection id={} addr={}", c.id, c.peer);
}

/// Periodic work. Returns true if active expiry ran out of time with work left.
/// Give back query-buffer memory a client no longer uses (Redis's
/// clientsCronResizeQueryBuffer): a buffer idle for 2 s is freed when empty or cut to what
/// it holds; a busy one more than twice the size of its peak use since the last pass is
/// cut to that peak.
fn resize_query_buffer(c: &mut Client, idle: Duration) {
    let (len, cap, peak) = (c.rbuf.len(), c.rbuf.capacity(), c.qbuf_peak);
    c.qbuf_peak = len;
    if cap <= 4 * 1024 || c.qbuf_in_flight != 0 {
        return;
    }
    if idle >= Duration::from_secs(2) {
        if len == 0 {
            c.rbuf = Vec::new();
        } else if cap > len + 1024 {
            c.rbuf.shrink_to(len);
        }
    } else if cap > QBUF_BIG_ARG && cap / (peak + 1) > 2 && !c.partial.in_progress() {
        c.rbuf.shrink_to(peak.max(len).max(16 * 1024));
    }
}

fn cron(srv: &mut Server) -> bool {
    srv.admin.cron_runs += 1;
    if srv.data.evict_pending {
        srv.data.evict_pending = false;
        crate::commands::server::free_memory_if_needed(srv);
    }
    if srv.data.tracking.clients > 0 {
        crate::tracking::limit_table(srv);
    }
    crate::evict::update_clock();
    crate::commands::migrate::close_idle(srv);
    if !srv.admin.children.is_empty() || !srv.admin.killed_children.is_empty() {
        crate::child::reap(srv);
    }
    crate::persist::snapshot::cron(srv);
    crate::persist::aof::cron(srv);
    crate::replication::cron(srv);
    let now_ms = crate::util::now_ms();
    if srv.cluster.is_some() && now_ms - srv.admin.cluster_cron_at >= 100 {
        srv.admin.cluster_cron_at = now_ms;
        crate::cluster::bus::cron(srv);
    }
    srv.admin.stats.sample_ops(now_ms);
    let mem = crate::evict::used_memory();
    if mem > srv.admin.peak_memory {
        srv.admin.peak_memory = mem;
    }
    if srv.net.tls.is_some() && now_ms / 1000 - srv.net.tls_info.expiry_checked_at >= 86400 {
        crate::tls::warn_expiry(&mut srv.net.tls_info, now_ms / 1000);
    }
    // Finish growing key indexes that no write is moving along (1 ms, as Redis's cron);
    // not while a forked child runs: every page moved would be copied for it
    // (copy-on-write). Writes still move their small batches.
    if srv.admin.children.is_empty() {
        let until = Instant::now() + Duration::from_millis(1);
        for db in srv.data.ks.dbs.iter_mut() {
            while db.dict.rehash_step(1024) && Instant::now() < until {}
        }
    }
    // Client timeouts and stalled TLS handshakes; output limits of clients whose output
    // waits (a soft limit runs out with no traffic too).
    let timeout = srv.cfg.timeout;
    let mut to_close = Vec::new();
    let mut waiting_output = Vec::new();
    for (idx, c) in srv.net.clients.iter_mut() {
        if c.pending_output() > REPLY_CHUNK {
            waiting_output.push(idx);
        }
        let idle = c.last_interaction.elapsed();
        resize_query_buffer(c, idle);
        // The handshake deadline counts from the connection's start: a client trickling
        // a byte every few seconds does not keep it alive.
        if c.conn.is_none() {
            // Internal clients end with the work they do.
        } else if !c.established() && c.created.elapsed() > HANDSHAKE_TIMEOUT {
            if let Some(skipped) = srv.net.log_limit.allow("tls-timeout") {
                warn!(
                    "Closing client addr={}: TLS handshake timed out after {}s{}",
                    c.peer,
                    HANDSHAKE_TIMEOUT.as_secs(),
                    crate::log::skipped_note(skipped)
                );
            }
            to_close.push(idx);
        } else if timeout > 0
            && idle.as_secs() as i64 > timeout
            && !commands::exempt_from_timeout(c)
        {
            verbose!("Closing idle client addr={}", c.peer);
            to_close.push(idx);
        }
    }
    for idx in waiting_output {
        if !to_close.contains(&idx) {
            check_output_limits(srv, idx);
        }
    }
    for idx in to_close {
        if !srv.net.clients.contains(idx) {
            continue;
        }
        if srv.net.clients[idx].established() {
            close_client(srv, idx);
        } else {
            *srv.admin
                .stats
                .tls_handshake_failures
                .entry("timeout".into())
                .or_insert(0) += 1;
            close_client(srv, idx);
        }
    }
    // A CLIENT PAUSE that ended lets the waiting clients run.
    if let Some(p) = srv.admin.pause {
        if Instant::now() >= p.until {
            srv.admin.set_pause(None);
        }
    }
    if srv.admin.pause.is_none() && !srv.admin.paused_clients.is_empty() {
        let waiting = std::mem::take(&mut srv.admin.paused_clients);
        for idx in waiting {
            if srv.net.clients.contains(idx) {
                process_input(srv, idx);
                flush(srv, idx);
            }
        }
    }
    active_expire(srv)
}

fn active_expire(srv: &mut Server) -> bool {
    // A replica's keys expire when its master's DELs come; a paused server's when the
    // pause is over.
    if !srv.data.active_expire_enabled || srv.repl.is_replica() || srv.admin.pause.is_some() {
        return false;
    }
    let t0 = Instant::now();
    let deadline = t0 + EXPIRE_BUDGET;
    let mut expired = Vec::new();
    let mut backlog = false;
    let n = srv.data.ks.dbs.len();
    // Each run starts after the database the last one stopped in (Redis's current_db):
    // a backlog in one database must not starve the others.
    for step in 0..n {
        let i = (srv.data.expire_next_db + step) % n;
        crate::notify::lazy_expired(srv, i);
        if Instant::now() >= deadline {
            srv.data.expire_next_db = i;
            backlog = true;
            break;
        }
        let db = &mut srv.data.ks.dbs[i];
        let (deleted, more) = db.active_expire(deadline, &mut expired);
        srv.admin.stats.expired_keys += deleted as u64;
        crate::notify::keys_expired(srv, i, &mut expired);
        if more {
            srv.data.expire_next_db = (i + 1) % n;
            backlog = true;
            break;
        }
    }
    crate::latency::note(srv, crate::latency::Cause::Expire, t0.elapsed());
    backlog
}

fn finish_shutdown(srv: &mut Server) {
    warn!("User requested shutdown...");
    crate::child::kill_debug_sessions(srv);
    // Stop listening first, as Redis does: a client that connects once the others see
    // their connection close is refused, not accepted and then dropped.
    srv.net.listeners.clear();
    let idxs: Vec<usize> = srv.net.clients.iter().map(|(i, _)| i).collect();
    for idx in idxs {
        close_client(srv, idx);
    }
    if !srv.cfg.unixsocket.is_empty() {
        let _ = std::fs::remove_file(&srv.cfg.unixsocket);
    }
    if !srv.cfg.pidfile.is_empty() {
        let _ = std::fs::remove_file(&srv.cfg.pidfile);
    }
    notice!("ferrokv is now ready to exit, bye bye...");
}
