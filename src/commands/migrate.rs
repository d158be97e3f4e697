//! MIGRATE: move keys to another server with RESTORE over a plain connection.
//!
//! As in Redis, the transfer is synchronous: the event loop waits for the target (each
//! step bounded by the timeout), so a MIGRATE of big keys is a pause for every client.
//! The payloads are ferrokv's DUMP format, so the target must be a ferrokv server.
use super::*;
use crate::keyspace::NO_EXPIRE;
use crate::notify::{self, notify};
use crate::util::{eq_ic, now_ms};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

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

/// One RESP command, appended to `out`.
fn push_command(out: &mut Vec<u8>, words: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for w in words {
        out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
        out.extend_from_slice(w);
        out.extend_from_slice(b"\r\n");
    }
}

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
    let mut request = Vec::new();
    if !auth.is_empty() {
        let mut words: Vec<&[u8]> = vec![b"AUTH"];
        words.extend(&auth);
        push_command(&mut request, &words);
    }
    push_command(&mut request, &[b"SELECT", dbid.to_string().as_bytes()]);
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
        push_command(&mut request, &words);
        keys.push(k);
    }
    if keys.is_empty() {
        return ctx.out.simple("NOKEY");
    }
    let host = String::from_utf8_lossy(args.get(1)).into_owned();
    let port = String::from_utf8_lossy(args.get(2)).into_owned();
    let Some(mut conn) = connect(&host, &port, timeout) else {
        return ctx
            .out
            .error("IOERR error or timeout connecting to the client");
    };
    if conn.write_all(&request).is_err() {
        return ctx
            .out
            .error("IOERR error or timeout writing to target instance");
    }
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    let mut read_reply = |line: &mut String| {
        line.clear();
        matches!(reader.read_line(line), Ok(n) if n > 0)
    };
    const READ_ERR: &str = "IOERR error or timeout reading to target instance";
    let target_said = |line: &str| {
        format!(
            "ERR Target instance replied with error: {}",
            line.trim_end().trim_start_matches('-')
        )
    };
    // AUTH and SELECT replies: an error there fails every RESTORE. `failure` is the first
    // error, which is the reply.
    let mut failure: Option<String> = None;
    for _ in 0..(1 + !auth.is_empty() as usize) {
        if !read_reply(&mut line) {
            return ctx.out.error(READ_ERR);
        }
        if line.starts_with('-') && failure.is_none() {
            failure = Some(target_said(&line));
        }
    }
    let setup_failed = failure.is_some();
    for k in keys {
        if !read_reply(&mut line) {
            failure.get_or_insert_with(|| READ_ERR.to_string());
            break;
        }
        // Each key the target took is gone from here (unless COPY), whatever the others did.
        if line.starts_with('-') {
            failure.get_or_insert_with(|| target_said(&line));
        } else if !setup_failed && !copy {
            ctx.dbm().remove(k);
            ctx.modified(k);
            notify(ctx, notify::GENERIC, "del", k);
        }
    }
    match failure {
        None => ctx.out.ok(),
        Some(e) => ctx.out.error(&e),
    }
}

fn connect(host: &str, port: &str, timeout: Duration) -> Option<TcpStream> {
    let port: u16 = port.parse().ok()?;
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let conn = TcpStream::connect_timeout(&addr, timeout).ok()?;
    conn.set_read_timeout(Some(timeout)).ok()?;
    conn.set_write_timeout(Some(timeout)).ok()?;
    let _ = conn.set_nodelay(true);
    Some(conn)
}
