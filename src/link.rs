//! Links: connections this server opens itself (MIGRATE's targets, a replica's link to
//! its master, the cluster bus) and the cluster bus connections other nodes open to it
//! ([`adopt`]).
//!
//! A link is an endpoint of the event loop like a client, in its own slab
//! (`Server::links`) with tokens of its own range ([`LINK_TOKEN`], generation-tagged as
//! clients' are). It goes connecting -> handshaking (TLS, rustls's client side, with the
//! server's client certificate and SNI for a name) -> ready, writes what its owner queued
//! with [`send`] once ready, and parses the replies as they arrive (RESP2/3,
//! `resp::client::ReplyParser`). Every step (connecting, handshaking, writing, awaiting a
//! reply) must progress within the link's step timeout.
//!
//! The reactor hands each readiness event to [`drive`], which does the I/O and says what
//! happened ([`Progress`]); the reactor gives that to the link's [`Owner`], and
//! [`expire`] fails the links whose step timed out. Nothing here waits, but [`wait`]:
//! for a caller that must have the answer before it returns (MIGRATE inside MULTI or a
//! script, as Redis's MIGRATE always does), it waits on the link's socket alone.
use crate::net::{Conn, ReadResult, Stream};
use crate::resp::client::{ReplyParser, Value};
use crate::server::Server;
use mio::Interest;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tokens of links have this bit set (clients' do not; listeners' are above).
pub const LINK_TOKEN: usize = 1 << 62;
/// Generation bits of a link token, as a client token's.
const GEN_MASK: u64 = 0x3fff_ffff;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// The TCP connect is under way.
    Connecting,
    /// Connected; the TLS handshake is under way.
    Handshaking,
    /// Commands can be written.
    Ready,
}

/// Who a link works for: the reactor hands the link's progress to it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Owner {
    /// Nobody (a cached connection waiting for its next use).
    Idle,
    /// A MIGRATE in flight (`commands::migrate`).
    Migrate,
    /// This replica's link to its master while it syncs (`replication::replica`).
    Master,
    /// A cluster bus link, opened by us or by the other node (`cluster::bus`).
    Bus,
}

/// What [`drive`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing the owner needs to see (bytes moved, a handshake step).
    Nothing,
    /// Replies arrived (in `Link::replies`).
    Replies,
    /// Bytes arrived on a raw link (in `Link::rbuf`).
    Data,
    /// The link is dead: the reason, for the log and the owner's error.
    Failed(String),
}

pub struct Link {
    id: u64,
    /// Its slab index (for its token).
    idx: usize,
    pub conn: Conn,
    pub state: State,
    /// "host:port" as the owner named it.
    pub peer: String,
    pub owner: Owner,
    /// Commands queued by the owner, and how much of them is on the wire.
    out: Vec<u8>,
    out_pos: usize,
    pub rbuf: Vec<u8>,
    /// Once the replies awaited are in, what comes is the owner's to read from `rbuf`
    /// (a master's snapshot and stream after PSYNC), not replies.
    pub raw: bool,
    /// The owner reads when it wants more ([`read_held`]): a readable event only tells it
    /// (a replica loading its master's snapshot as fast as it can parse it, so that the
    /// master feels the slowness).
    pub hold_reads: bool,
    parser: ReplyParser,
    /// Replies parsed and not yet taken by the owner.
    pub replies: Vec<Value>,
    /// Replies the owner still waits for (counted down as they arrive).
    awaiting: usize,
    /// How long one step may take, and when the current one must have progressed.
    step: Duration,
    pub deadline: Option<Instant>,
    want_write: bool,
    /// The database last SELECTed on the link (the owner's business).
    pub db: Option<i64>,
    pub last_use: Instant,
}

impl Link {
    pub fn token(&self) -> mio::Token {
        mio::Token(LINK_TOKEN | (((self.id & GEN_MASK) as usize) << 32) | self.idx)
    }
    pub fn owns(&self, token: usize) -> bool {
        (token & !LINK_TOKEN) >> 32 == (self.id & GEN_MASK) as usize
    }
    /// Whether the owner has everything it asked for: all written, every reply in.
    pub fn settled(&self) -> bool {
        self.out.is_empty() && self.awaiting == 0
    }
    /// Whether everything queued is on the wire.
    pub fn written(&self) -> bool {
        self.out.is_empty()
    }
    /// Bytes queued and not yet on the wire.
    pub fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }
    /// The send buffer's allocation (CLUSTER LINKS send-buffer-allocated).
    pub fn out_capacity(&self) -> usize {
        self.out.capacity()
    }
    /// Whether a step is under way (so a deadline applies).
    fn busy(&self) -> bool {
        self.state != State::Ready || !self.settled()
    }
}

/// Where `host` is: an IP literal as is, a name through the resolver (which blocks, as
/// Redis's own resolution for MIGRATE and replication does).
fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "no address for the host"))
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, e.to_string())
}

/// Start connecting to `host:port` (TLS with `tls`, sending `host` as SNI when it is a
/// name and checking the certificate as that config's verifier says). Returns the link's
/// slab index; the connect goes on in the event loop.
pub fn open(
    srv: &mut Server,
    host: &str,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    step: Duration,
    owner: Owner,
) -> io::Result<usize> {
    let addr = resolve(host, port)?;
    // bind-source-addr: the replica's link and the cluster bus leave from that address
    // (as Redis's; MIGRATE does not).
    let source = match owner {
        Owner::Migrate => None,
        _ => srv.cfg.bind_source_addr.parse::<std::net::IpAddr>().ok(),
    };
    let sock = connect_from(addr, source)?;
    let _ = sock.set_nodelay(true);
    let conn = match tls {
        None => Conn::plain(Stream::Tcp(sock)),
        Some(cfg) => {
            let name =
                rustls::pki_types::ServerName::try_from(host.to_string()).map_err(invalid)?;
            let session = rustls::ClientConnection::new(cfg, name).map_err(invalid)?;
            Conn::tls(Stream::Tcp(sock), session)
        }
    };
    insert(
        srv,
        conn,
        State::Connecting,
        format!("{host}:{port}"),
        owner,
        false,
        step,
        Interest::READABLE | Interest::WRITABLE,
    )
}

/// A nonblocking connect to `addr`, bound first to `source` when given. As Redis's best
/// effort bind: a source address that cannot be bound (absent, another family) is
/// logged and the connect goes on from the default address.
fn connect_from(
    addr: std::net::SocketAddr,
    source: Option<std::net::IpAddr>,
) -> io::Result<mio::net::TcpStream> {
    let Some(src) = source else {
        return mio::net::TcpStream::connect(addr);
    };
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    sock.set_cloexec(true)?;
    if let Err(e) = sock.bind(&std::net::SocketAddr::new(src, 0).into()) {
        crate::verbose!("Could not bind to the source address {src}: {e}; connecting without");
        return mio::net::TcpStream::connect(addr);
    }
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(mio::net::TcpStream::from_std(sock.into()))
}

/// Put a link in the slab and register its socket; returns its slab index.
#[allow(clippy::too_many_arguments)]
fn insert(
    srv: &mut Server,
    conn: Conn,
    state: State,
    peer: String,
    owner: Owner,
    raw: bool,
    step: Duration,
    interest: Interest,
) -> io::Result<usize> {
    let id = srv.net.next_link_id;
    srv.net.next_link_id += 1;
    let entry = srv.net.links.vacant_entry();
    let idx = entry.key();
    let mut link = Link {
        id,
        idx,
        conn,
        state,
        peer,
        owner,
        out: Vec::new(),
        out_pos: 0,
        rbuf: Vec::new(),
        raw,
        hold_reads: false,
        parser: ReplyParser::default(),
        replies: Vec::new(),
        awaiting: 0,
        step,
        deadline: (state != State::Ready).then(|| Instant::now() + step),
        want_write: interest.is_writable(),
        db: None,
        last_use: Instant::now(),
    };
    let token = link.token();
    srv.net
        .registry
        .register(&mut link.conn.stream, token, interest)?;
    entry.insert(link);
    Ok(idx)
}

/// Take a connection another node opened to us (the cluster bus) as a raw link: TLS
/// (the server side) when `tls` is given. Returns its slab index.
pub fn adopt(
    srv: &mut Server,
    sock: mio::net::TcpStream,
    tls: Option<rustls::ServerConnection>,
    peer: String,
    step: Duration,
    owner: Owner,
) -> io::Result<usize> {
    let _ = sock.set_nodelay(true);
    let (conn, state) = match tls {
        None => (Conn::plain(Stream::Tcp(sock)), State::Ready),
        Some(s) => (Conn::tls(Stream::Tcp(sock), s), State::Handshaking),
    };
    insert(
        srv,
        conn,
        state,
        peer,
        owner,
        true,
        step,
        Interest::READABLE,
    )
}

/// Queue `bytes` (commands, RESP-encoded) whose `replies` replies the owner waits for;
/// written at once if the link is ready. The step timeout starts now.
pub fn send(
    srv: &mut Server,
    idx: usize,
    bytes: &[u8],
    replies: usize,
    step: Duration,
) -> Progress {
    let link = &mut srv.net.links[idx];
    link.out.extend_from_slice(bytes);
    link.awaiting += replies;
    link.step = step;
    link.deadline = Some(Instant::now() + step);
    link.last_use = Instant::now();
    drive(link, &srv.net.registry, false, true)
}

/// Do the I/O a readiness event allows, and say what happened.
pub fn drive(
    link: &mut Link,
    registry: &mio::Registry,
    readable: bool,
    writable: bool,
) -> Progress {
    match step(link, readable, writable) {
        Ok(p) => {
            interest(link, registry);
            p
        }
        Err(e) => Progress::Failed(e.to_string()),
    }
}

fn step(link: &mut Link, readable: bool, writable: bool) -> io::Result<Progress> {
    let mut moved = false;
    if link.state == State::Connecting {
        let Stream::Tcp(s) = &link.conn.stream else {
            unreachable!("links are TCP")
        };
        if let Some(e) = s.take_error()? {
            return Err(e);
        }
        match s.peer_addr() {
            Ok(_) => {}
            // Not yet: the next writable event tells.
            Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(Progress::Nothing),
            Err(e) => return Err(e),
        }
        link.state = if link.conn.tls.is_some() {
            State::Handshaking
        } else {
            State::Ready
        };
        moved = true;
    }
    let mut closed = false;
    let mut data = false;
    if readable && link.hold_reads && link.state == State::Ready {
        // The owner reads when it is ready for more.
        return Ok(Progress::Data);
    }
    if readable || link.state == State::Handshaking {
        match link.conn.read_into(&mut link.rbuf)? {
            ReadResult::Data(n) => {
                moved |= n > 0;
                data = n > 0;
            }
            ReadResult::Closed(_) => closed = true,
        }
    }
    if link.state == State::Handshaking {
        link.conn.flush_tls()?;
        if !link.conn.is_handshaking() {
            link.state = State::Ready;
            moved = true;
        }
    }
    if link.state == State::Ready && (writable || !link.out.is_empty()) {
        let before = link.out_pos;
        let done = if link.out.is_empty() {
            link.conn.flush_tls()?
        } else {
            link.conn.write_from(&link.out, &mut link.out_pos)?
        };
        moved |= link.out_pos > before;
        if done {
            link.out.clear();
            link.out_pos = 0;
        }
    }
    // Replies: parsed as they come, whole ones handed over.
    let mut got = false;
    while !(link.rbuf.is_empty() || link.raw && link.awaiting == 0) {
        if link.raw && link.rbuf[0] == b'\n' {
            // A master's keepalive while it prepares to answer PSYNC.
            let n = link.rbuf.iter().take_while(|&&b| b == b'\n').count();
            link.rbuf.drain(..n);
            moved = true;
            continue;
        }
        let fed = link
            .parser
            .feed(&link.rbuf)
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e.0))?;
        link.rbuf.drain(..fed.consumed);
        match fed.reply {
            Some(v) => {
                link.replies.push(v);
                link.awaiting = link.awaiting.saturating_sub(1);
                got = true;
            }
            None => break,
        }
    }
    if moved || got {
        link.deadline = link.busy().then(|| Instant::now() + link.step);
    }
    if got {
        return Ok(Progress::Replies);
    }
    if data && link.raw && !link.rbuf.is_empty() {
        return Ok(Progress::Data);
    }
    if closed {
        return Err(io::Error::new(
            ErrorKind::ConnectionAborted,
            "connection closed by the peer",
        ));
    }
    Ok(Progress::Nothing)
}

/// Read what the socket holds on a link whose reads are held (Progress::Data when bytes
/// came, Nothing when it had none).
pub fn read_held(srv: &mut Server, idx: usize) -> Progress {
    let link = &mut srv.net.links[idx];
    link.hold_reads = false;
    let p = drive(link, &srv.net.registry, true, false);
    link.hold_reads = true;
    p
}

/// Ask for WRITABLE only while something waits to go out (or the connect to finish).
fn interest(link: &mut Link, registry: &mio::Registry) {
    let want = link.state == State::Connecting
        || !link.out.is_empty()
        || link.conn.tls.as_ref().is_some_and(|t| t.wants_write());
    if want != link.want_write {
        link.want_write = want;
        let token = link.token();
        let i = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let _ = registry.reregister(&mut link.conn.stream, token, i);
    }
}

/// Wait (blocking the event loop: only for a caller that must answer before it returns)
/// until the link has everything its owner asked for, fails, or a step times out.
pub fn wait(srv: &mut Server, idx: usize) -> Progress {
    let mut got = false;
    loop {
        let link = &mut srv.net.links[idx];
        match drive(link, &srv.net.registry, true, true) {
            Progress::Failed(e) => return Progress::Failed(e),
            Progress::Replies => got = true,
            Progress::Nothing | Progress::Data => {}
        }
        if link.state == State::Ready && link.settled() {
            return if got {
                Progress::Replies
            } else {
                Progress::Nothing
            };
        }
        let left = link.deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if left.is_zero() {
            return Progress::Failed("timeout".into());
        }
        let events = if link.want_write {
            libc::POLLIN | libc::POLLOUT
        } else {
            libc::POLLIN
        };
        match link
            .conn
            .stream
            .wait(events, left.as_millis().max(1) as i32)
        {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::TimedOut => return Progress::Failed("timeout".into()),
            Err(e) => return Progress::Failed(e.to_string()),
        }
    }
}

/// The links whose current step passed its deadline.
pub fn expired(srv: &Server, now: Instant) -> Vec<usize> {
    srv.net
        .links
        .iter()
        .filter(|(_, l)| l.deadline.is_some_and(|d| d <= now))
        .map(|(i, _)| i)
        .collect()
}

/// The earliest step deadline, to bound the poll timeout.
pub fn next_deadline(srv: &Server) -> Option<Instant> {
    srv.net.links.iter().filter_map(|(_, l)| l.deadline).min()
}

/// Take the replies that arrived.
pub fn take_replies(srv: &mut Server, idx: usize) -> Vec<Value> {
    std::mem::take(&mut srv.net.links[idx].replies)
}

/// Close a link (a TLS close_notify first when the session is up).
pub fn close(srv: &mut Server, idx: usize) {
    if !srv.net.links.contains(idx) {
        return;
    }
    let mut link = srv.net.links.remove(idx);
    let _ = srv.net.registry.deregister(&mut link.conn.stream);
    if link.state == State::Ready {
        if let Some(tls) = link.conn.tls.as_mut() {
            tls.send_close_notify();
            let _ = link.conn.flush_tls();
        }
    }
}
