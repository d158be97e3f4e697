//! Client-side caching (issue 14.3): CLIENT TRACKING in default, OPTIN/OPTOUT, BCAST and
//! NOLOOP modes, RESP3 pushes and RESP2 redirection, invalidation on writes, expiry,
//! eviction, the table limit and flushes, and the introspection around it.
use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn send(s: &mut TcpStream, args: &[&str]) {
    s.write_all(&resp_cmd(args)).unwrap();
}

/// What arrives within `ms` (nothing expected).
fn read_for(s: &mut TcpStream, ms: u64) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(ms))).unwrap();
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn resp3(srv: &Server) -> TcpStream {
    let mut s = srv.raw();
    send(&mut s, &["HELLO", "3"]);
    read_until(&mut s, "modules");
    s
}

const INV_K: &str = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";

#[test]
fn resp3_client_is_told_once_after_reading_and_after_its_own_reply() {
    let srv = Server::start(&[]);
    let mut w = srv.client();
    let mut t = resp3(&srv);
    send(&mut t, &["CLIENT", "TRACKING", "ON"]);
    assert_eq!(read_until(&mut t, "\r\n"), "+OK\r\n");
    q::<String>(&mut w, &["SET", "k", "1"]);
    q::<String>(&mut w, &["SET", "other", "1"]);
    send(&mut t, &["GET", "k"]);
    read_until(&mut t, "1\r\n");
    q::<String>(&mut w, &["SET", "other", "2"]);
    q::<String>(&mut w, &["SET", "k", "2"]);
    q::<String>(&mut w, &["SET", "k", "3"]);
    // One message for k (it left the table), none for the key never read.
    assert_eq!(read_for(&mut t, 200), INV_K);
    // Its own write: the invalidation follows the reply, in a transaction after EXEC.
    send(&mut t, &["GET", "k"]);
    read_until(&mut t, "3\r\n");
    for c in [&["MULTI"][..], &["INCR", "k"], &["GET", "other"], &["EXEC"]] {
        send(&mut t, c);
    }
    let got = read_until(&mut t, "invalidate");
    let got = got + &read_for(&mut t, 100);
    assert!(
        got.ends_with(&format!("*2\r\n:4\r\n$1\r\n2\r\n{INV_K}")),
        "{got:?}"
    );
    let info: String = q(&mut w, &["INFO", "clients"]);
    assert!(info.contains("tracking_clients:1"), "{info}");
}

#[test]
fn resp2_redirect_to_a_pubsub_client_and_broken_redirect() {
    let srv = Server::start(&[]);
    let mut w = srv.client();
    let mut sub = srv.raw();
    send(&mut sub, &["CLIENT", "ID"]);
    let id = read_until(&mut sub, "\r\n")[1..].trim().to_string();
    send(&mut sub, &["SUBSCRIBE", "__redis__:invalidate"]);
    read_until(&mut sub, ":1\r\n");
    let mut t = srv.client();
    assert_eq!(
        err(&mut t, &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"]),
        "ERR The client ID you want redirect to does not exist"
    );
    q::<String>(&mut t, &["CLIENT", "TRACKING", "ON", "REDIRECT", &id]);
    assert_eq!(
        q::<i64>(&mut t, &["CLIENT", "GETREDIR"]),
        id.parse::<i64>().unwrap()
    );
    let _: Option<String> = q(&mut t, &["GET", "k"]);
    q::<String>(&mut w, &["SET", "k", "1"]);
    assert_eq!(
        read_until(&mut sub, "k\r\n"),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    // FLUSHALL: every key, as a null.
    q::<String>(&mut w, &["FLUSHALL"]);
    assert!(read_until(&mut sub, "$-1\r\n").ends_with("__redis__:invalidate\r\n$-1\r\n"));
    // The redirect client leaves: the tracking client is flagged.
    let _: Option<String> = q(&mut t, &["GET", "k"]);
    drop(sub);
    std::thread::sleep(Duration::from_millis(100));
    q::<String>(&mut w, &["SET", "k", "2"]);
    let list: String = q(&mut w, &["CLIENT", "LIST"]);
    assert!(list.lines().any(|l| l.contains("flags=tR")), "{list}");
    let info: redis::Value = q(&mut t, &["CLIENT", "TRACKINGINFO"]);
    assert!(format!("{info:?}").contains("broken_redirect"), "{info:?}");
}

#[test]
fn optin_optout_and_caching() {
    let srv = Server::start(&[]);
    let mut w = srv.client();
    let mut t = resp3(&srv);
    send(&mut t, &["CLIENT", "CACHING", "YES"]);
    assert!(read_until(&mut t, "\r\n")
        .contains("can be called only when the client is in tracking mode"));
    send(&mut t, &["CLIENT", "TRACKING", "ON", "OPTIN"]);
    read_until(&mut t, "+OK\r\n");
    send(&mut t, &["GET", "k"]);
    read_until(&mut t, "_\r\n");
    q::<String>(&mut w, &["SET", "k", "1"]);
    assert_eq!(
        read_for(&mut t, 150),
        "",
        "OPTIN without CACHING YES: not tracked"
    );
    send(&mut t, &["CLIENT", "CACHING", "YES"]);
    read_until(&mut t, "+OK\r\n");
    send(&mut t, &["GET", "k"]);
    read_until(&mut t, "1\r\n");
    q::<String>(&mut w, &["SET", "k", "2"]);
    assert_eq!(read_until(&mut t, "k\r\n"), INV_K);
    send(&mut t, &["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    assert!(read_until(&mut t, "\r\n").contains("can't switch OPTIN/OPTOUT mode"));
    send(&mut t, &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"]);
    assert!(read_until(&mut t, "\r\n").contains("switch BCAST mode"));
    send(&mut t, &["CLIENT", "TRACKING", "OFF"]);
    read_until(&mut t, "+OK\r\n");
    send(&mut t, &["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    read_until(&mut t, "+OK\r\n");
    send(&mut t, &["CLIENT", "CACHING", "NO"]);
    read_until(&mut t, "+OK\r\n");
    send(&mut t, &["GET", "k"]);
    read_until(&mut t, "2\r\n");
    q::<String>(&mut w, &["SET", "k", "3"]);
    assert_eq!(
        read_for(&mut t, 150),
        "",
        "OPTOUT with CACHING NO: not tracked"
    );
}

#[test]
fn bcast_prefixes_noloop_and_errors() {
    let srv = Server::start(&[]);
    let mut w = srv.client();
    let mut t = resp3(&srv);
    send(&mut t, &["CLIENT", "TRACKING", "ON", "PREFIX", "a"]);
    assert!(read_until(&mut t, "\r\n").contains("PREFIX option requires BCAST"));
    send(
        &mut t,
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "us",
        ],
    );
    assert!(read_until(&mut t, "\r\n").contains("overlaps with another provided prefix"));
    send(
        &mut t,
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP", "PREFIX", "user:",
        ],
    );
    read_until(&mut t, "+OK\r\n");
    // Keys modified in one iteration come as one array; others' prefixes not at all.
    let mut p = redis::pipe();
    p.cmd("SET")
        .arg("user:1")
        .arg("x")
        .cmd("SET")
        .arg("user:2")
        .arg("y")
        .cmd("SET")
        .arg("zz")
        .arg("z");
    let _: () = p.query(&mut w).unwrap();
    let got = read_until(&mut t, "user:2\r\n");
    assert_eq!(
        got,
        ">2\r\n$10\r\ninvalidate\r\n*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n"
    );
    // NOLOOP: its own writes are not reported back.
    send(&mut t, &["SET", "user:3", "me"]);
    assert_eq!(read_for(&mut t, 150), "+OK\r\n");
    let info: String = q(&mut w, &["INFO"]);
    assert!(info.contains("tracking_total_prefixes:1"), "{info}");
    send(&mut t, &["RESET"]);
    read_until(&mut t, "+RESET\r\n");
    let info: String = q(&mut w, &["INFO"]);
    assert!(info.contains("tracking_clients:0") && info.contains("tracking_total_prefixes:0"));
}

#[test]
fn expiry_eviction_and_table_limit_invalidate() {
    let srv = Server::start(&[]);
    let mut w = srv.client();
    let mut t = resp3(&srv);
    send(&mut t, &["CLIENT", "TRACKING", "ON"]);
    read_until(&mut t, "+OK\r\n");
    q::<String>(&mut w, &["SET", "k", "1", "PX", "50"]);
    send(&mut t, &["GET", "k"]);
    read_until(&mut t, "1\r\n");
    // Active expiry deletes it: the tracking client is told.
    assert_eq!(read_until(&mut t, "k\r\n"), INV_K);
    // The table limit: reading 3 keys with room for 1 invalidates 2.
    q::<String>(&mut w, &["CONFIG", "SET", "tracking-table-max-keys", "1"]);
    send(&mut t, &["MGET", "a", "b", "c"]);
    let got = read_until(&mut t, "*3\r\n_\r\n_\r\n_\r\n");
    let got = got + &read_for(&mut t, 300);
    assert_eq!(got.matches("invalidate").count(), 2, "{got:?}");
    q::<String>(&mut w, &["CONFIG", "SET", "tracking-table-max-keys", "0"]);
    // Eviction runs before any command (a read too), and its invalidation comes first.
    send(&mut t, &["CLIENT", "TRACKING", "OFF"]);
    read_until(&mut t, "+OK\r\n");
    send(&mut t, &["CLIENT", "TRACKING", "ON"]);
    read_until(&mut t, "+OK\r\n");
    q::<String>(&mut w, &["SET", "v", "x", "EX", "1000"]);
    send(&mut t, &["GET", "v"]);
    read_until(&mut t, "x\r\n");
    q::<String>(
        &mut w,
        &["CONFIG", "SET", "maxmemory-policy", "volatile-random"],
    );
    q::<String>(&mut w, &["CONFIG", "SET", "maxmemory", "1"]);
    send(&mut t, &["GET", "nothing"]);
    let got = read_until(&mut t, "_\r\n");
    assert_eq!(got, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nv\r\n_\r\n");
}
