//! MIGRATE: move keys to another server with RESTORE over a plain connection.
//!
//! As in Redis, the transfer is synchronous: the event loop waits for the target (each
//! step bounded by the timeout), so a MIGRATE of big keys is a pause for every client.
//! The payloads are ferrokv's DUMP format, so the target must be a ferrokv server.
//! Connections are kept per target for 10 s and reused, as Redis's are.
use super::*;
use crate::keyspace::NO_EXPIRE;
use crate::notify::{self, notify};
use crate::util::{eq_ic, now_ms};
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub static COMMANDS: &[Command] = &[cmd(
    "migrate",
    -6,
    WRITE | MOVABLE_KEYS,
    KEYSPACE | DANGEROUS,
    (3, 3, 1),
    migrate,
)
.doc(
    "Atomically transfer a key from a Redis instance to another one.",
    "2.6.0",
)];

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
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    // The keys still here, with their payloads and remaining TTLs.
    let now = now_ms();
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut restores = Vec::new();
    for k in args.iter().skip(first_key).take(num_keys) {
        let Some(e) = ctx.dbm().get(k) else { continue };
        let ttl = match e.expire() {
            NO_EXPIRE => 0,
            at => (at - now).max(1),
        };
        let payload = super::dump::serialize(e.val());
        let ttl = ttl.to_string();
        let mut words: Vec<&[u8]> = vec![b"RESTORE", k, ttl.as_bytes(), &payload];
        if replace {
            words.push(b"REPLACE");
        }
        crate::resp::client::encode_command(&mut restores, words.iter().copied());
        keys.push(k);
    }
    if keys.is_empty() {
        return ctx.out.simple("NOKEY");
    }
    let host = String::from_utf8_lossy(args.get(1)).into_owned();
    let port = String::from_utf8_lossy(args.get(2)).into_owned();
    let target = format!("{host}:{port}");
    // A cached connection the target closed meanwhile fails before any reply: one retry
    // on a fresh connection, as Redis does.
    let mut may_retry = true;
    loop {
        let cached = ctx.srv.migrate_cache.remove(&target);
        let from_cache = cached.is_some();
        // Over TLS when the cluster bus is (tls-cluster), as Redis does.
        let tls = match (ctx.srv.cfg.tls_cluster, &ctx.srv.tls_info.client_config) {
            (true, Some(c)) => Some(c.clone()),
            _ => None,
        };
        let mut conn = match cached.or_else(|| connect(&host, &port, timeout, tls)) {
            Some(c) => c,
            None => {
                return ctx
                    .out
                    .error("IOERR error or timeout connecting to the client")
            }
        };
        let _ = conn.stream.socket().set_read_timeout(Some(timeout));
        let _ = conn.stream.socket().set_write_timeout(Some(timeout));
        // AUTH every time; SELECT only when the connection is on another database.
        let mut request = Vec::new();
        if !auth.is_empty() {
            let mut words: Vec<&[u8]> = vec![b"AUTH"];
            words.extend(&auth);
            crate::resp::client::encode_command(&mut request, words.iter().copied());
        }
        let select = conn.db != Some(dbid);
        if select {
            crate::resp::client::encode_command(
                &mut request,
                [&b"SELECT"[..], dbid.to_string().as_bytes()].into_iter(),
            );
        }
        request.extend_from_slice(&restores);
        let setup = !auth.is_empty() as usize + select as usize;
        let sent = conn
            .stream
            .write_all(&request)
            .and_then(|_| conn.stream.flush())
            .is_ok();
        let replies = if sent {
            read_replies(&mut conn.stream, setup + keys.len())
        } else {
            Vec::new()
        };
        if replies.is_empty() && from_cache && may_retry {
            may_retry = false;
            continue;
        }
        if !sent {
            return ctx
                .out
                .error("IOERR error or timeout writing to target instance");
        }
        const READ_ERR: &str = "IOERR error or timeout reading to target instance";
        if replies.len() < setup {
            return ctx.out.error(READ_ERR);
        }
        let target_said = |line: &str| {
            format!(
                "ERR Target instance replied with error: {}",
                line.trim_end().trim_start_matches('-')
            )
        };
        // An AUTH or SELECT error fails every RESTORE; the first error is the reply.
        let mut failure = replies[..setup]
            .iter()
            .find(|r| r.starts_with('-'))
            .map(|r| target_said(r));
        let setup_failed = failure.is_some();
        if select {
            conn.db = (!replies[setup - 1].starts_with('-')).then_some(dbid);
        }
        // MIGRATE propagates as the DEL of the keys that left (nothing when none did).
        let mut gone: Vec<&[u8]> = vec![b"DEL"];
        for (i, k) in keys.iter().enumerate() {
            match replies.get(setup + i) {
                None => {
                    failure.get_or_insert_with(|| READ_ERR.to_string());
                    break;
                }
                Some(r) if r.starts_with('-') => {
                    failure.get_or_insert_with(|| target_said(r));
                }
                // Each key the target took is gone from here (unless COPY).
                Some(_) if !setup_failed && !copy => {
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
        // A connection that answered everything is kept for the next MIGRATE.
        if replies.len() == setup + keys.len() {
            conn.last_use = Instant::now();
            let cache = &mut ctx.srv.migrate_cache;
            if cache.len() >= CACHE_MAX {
                if let Some(k) = cache.keys().next().cloned() {
                    cache.remove(&k);
                }
            }
            cache.insert(target, conn);
        }
        return match failure {
            None => ctx.out.ok(),
            Some(e) => ctx.out.error(&e),
        };
    }
}

/// Up to `n` replies, each as its first line (`+OK`, `-ERR ...`); fewer when the target
/// closes, sends something that is not RESP, or the timeout passes.
fn read_replies(stream: &mut impl std::io::Read, n: usize) -> Vec<String> {
    use crate::resp::client::{Fed, ReplyParser, Value};
    let mut parser = ReplyParser::default();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut replies = Vec::with_capacity(n);
    while replies.len() < n {
        match parser.feed(&buf) {
            Ok(Fed { consumed, reply }) => {
                buf.drain(..consumed);
                if let Some(v) = reply {
                    replies.push(match &v {
                        Value::Simple(s) => format!("+{}", String::from_utf8_lossy(s)),
                        v => match v.error_text() {
                            Some(e) => format!("-{}", String::from_utf8_lossy(e)),
                            None => "+".to_string(),
                        },
                    });
                    continue;
                }
            }
            Err(_) => break,
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    replies
}

/// A connection to a MIGRATE target: plain, or TLS (rustls's client side, driven
/// blocking on the socket's timeouts).
enum Link {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Link {
    fn socket(&self) -> &TcpStream {
        match self {
            Link::Plain(s) => s,
            Link::Tls(t) => &t.sock,
        }
    }
}

impl std::io::Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Link::Plain(s) => s.read(buf),
            Link::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Link::Plain(s) => s.write(buf),
            Link::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Link::Plain(s) => s.flush(),
            Link::Tls(t) => t.flush(),
        }
    }
}

/// Connections MIGRATE keeps to its targets (Redis's migrate_cached_sockets).
pub struct MigrateConn {
    stream: Link,
    /// The database last SELECTed on it.
    db: Option<i64>,
    last_use: Instant,
}

/// At most this many targets are kept; an idle connection is closed after `CACHE_TTL`.
const CACHE_MAX: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);

/// Cron: close the connections idle for longer than `CACHE_TTL`.
pub fn close_idle(cache: &mut std::collections::HashMap<String, MigrateConn>) {
    cache.retain(|_, c| c.last_use.elapsed() <= CACHE_TTL);
}

fn connect(
    host: &str,
    port: &str,
    timeout: Duration,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
) -> Option<MigrateConn> {
    let port: u16 = port.parse().ok()?;
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let socket = TcpStream::connect_timeout(&addr, timeout).ok()?;
    let _ = socket.set_nodelay(true);
    let stream = match tls {
        None => Link::Plain(socket),
        Some(cfg) => {
            // SNI carries the name the target was given by (an IP sends none).
            let name = rustls::pki_types::ServerName::try_from(host.to_string()).ok()?;
            let session = rustls::ClientConnection::new(cfg, name).ok()?;
            Link::Tls(Box::new(rustls::StreamOwned::new(session, socket)))
        }
    };
    Some(MigrateConn {
        stream,
        db: None,
        last_use: Instant::now(),
    })
}
