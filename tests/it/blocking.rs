//! Blocking list commands: woken by another client, timeouts, FIFO order, CLIENT UNBLOCK,
//! CLIENT KILL and disconnects while blocked, input held back while blocked.
use crate::common::*;
use redis::{cmd, Connection, Value};
use std::io::{Read, Write};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

fn blocked_clients(c: &mut Connection) -> i64 {
    let info: String = cmd("INFO").arg("clients").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO clients has blocked_clients")
}

/// Wait (up to 10 s) until exactly `n` clients are blocked.
fn wait_blocked(c: &mut Connection, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked_clients(c) != n {
        assert!(
            Instant::now() < deadline,
            "never reached {n} blocked clients"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Run a command on a fresh connection in a thread; returns its reply when joined.
fn spawn_cmd(srv: &Server, args: &[&str]) -> JoinHandle<redis::RedisResult<Value>> {
    let mut con = srv.client();
    let mut r = cmd(args[0]);
    for a in &args[1..] {
        r.arg(*a);
    }
    thread::spawn(move || r.query::<Value>(&mut con))
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn blpop_woken_by_push_from_another_client() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let h = spawn_cmd(&srv, &["BLPOP", "k1", "k2", "0"]);
    wait_blocked(&mut c, 1);
    let _: () = cmd("RPUSH")
        .arg("k2")
        .arg(&["a", "b"])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        h.join().unwrap().unwrap(),
        Value::Array(vec![bulk("k2"), bulk("a")])
    );
    assert_eq!(blocked_clients(&mut c), 0);
    let rest: Vec<String> = cmd("LRANGE")
        .arg("k2")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(rest, ["b"]);
    // Data already there: no blocking at all.
    let v: Vec<String> = cmd("BRPOP").arg("k2").arg(0).query(&mut c).unwrap();
    assert_eq!(v, ["k2", "b"]);
}

#[test]
fn fifo_order_per_key() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut hs = Vec::new();
    for i in 1..=3 {
        hs.push(spawn_cmd(&srv, &["BLPOP", "q", "0"]));
        wait_blocked(&mut c, i);
    }
    let _: () = cmd("RPUSH")
        .arg("q")
        .arg(&["first", "second", "third"])
        .query(&mut c)
        .unwrap();
    let got: Vec<Value> = hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    assert_eq!(
        got,
        ["first", "second", "third"].map(|v| Value::Array(vec![bulk("q"), bulk(v)]))
    );
    let n: i64 = cmd("EXISTS").arg("q").query(&mut c).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn blmove_and_brpoplpush_chain() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    // c2 waits on "mid", c1 moves src -> mid when src gets data: the move wakes c2.
    let waiter = spawn_cmd(&srv, &["BLPOP", "mid", "0"]);
    wait_blocked(&mut c, 1);
    let mover = spawn_cmd(&srv, &["BLMOVE", "src", "mid", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut c, 2);
    let _: () = cmd("LPUSH").arg("src").arg("x").query(&mut c).unwrap();
    assert_eq!(mover.join().unwrap().unwrap(), bulk("x"));
    assert_eq!(
        waiter.join().unwrap().unwrap(),
        Value::Array(vec![bulk("mid"), bulk("x")])
    );
    let h = spawn_cmd(&srv, &["BRPOPLPUSH", "s2", "d2", "0"]);
    wait_blocked(&mut c, 1);
    let _: () = cmd("RPUSH")
        .arg("s2")
        .arg(&["a", "b"])
        .query(&mut c)
        .unwrap();
    assert_eq!(h.join().unwrap().unwrap(), bulk("b"));
    let d: Vec<String> = cmd("LRANGE")
        .arg("d2")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(d, ["b"]);
}

#[test]
fn blmpop_pops_count_from_the_ready_key() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let h = spawn_cmd(&srv, &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    let _: () = cmd("RPUSH")
        .arg("b")
        .arg(&["1", "2", "3"])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        h.join().unwrap().unwrap(),
        Value::Array(vec![bulk("b"), Value::Array(vec![bulk("3"), bulk("2")])])
    );
}

#[test]
fn timeouts_and_timeout_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let v: Value = cmd("BLPOP").arg("none").arg("0.05").query(&mut c).unwrap();
    assert_eq!(v, Value::Nil);
    let v: Value = cmd("BLMOVE")
        .arg("none")
        .arg("d")
        .arg("LEFT")
        .arg("LEFT")
        .arg("0.05")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil);
    let v: Value = cmd("BLMPOP")
        .arg("0.05")
        .arg(1)
        .arg("none")
        .arg("LEFT")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil);
    assert_eq!(blocked_clients(&mut c), 0);
    assert_eq!(
        err_of(&mut c, cmd("BLPOP").arg("k").arg(-1)),
        "ERR timeout is negative"
    );
    assert_eq!(
        err_of(&mut c, cmd("BLPOP").arg("k").arg("abc")),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(
        err_of(&mut c, cmd("BRPOPLPUSH").arg("k").arg("d").arg("-0.5")),
        "ERR timeout is negative"
    );
    assert_eq!(
        err_of(
            &mut c,
            cmd("BLMOVE").arg("k").arg("d").arg("UP").arg("LEFT").arg(0)
        ),
        "ERR syntax error"
    );
    assert_eq!(
        err_of(&mut c, cmd("BLMPOP").arg(0).arg(0).arg("k").arg("LEFT")),
        "ERR numkeys should be greater than 0"
    );
    // The connection still works afterwards (nothing left blocked).
    let pong: String = cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn client_unblock_timeout_and_error() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut b = srv.client();
    let id: i64 = cmd("CLIENT").arg("ID").query(&mut b).unwrap();
    let h = thread::spawn(move || {
        let r1 = cmd("BLPOP").arg("k").arg(0).query::<Value>(&mut b);
        let r2 = cmd("BRPOPLPUSH")
            .arg("k")
            .arg("d")
            .arg(0)
            .query::<Value>(&mut b);
        (r1, r2)
    });
    wait_blocked(&mut c, 1);
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(id)
        .arg("TIMEOUT")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    wait_blocked(&mut c, 1);
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(id)
        .arg("ERROR")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let (r1, r2) = h.join().unwrap();
    assert_eq!(r1.unwrap(), Value::Nil);
    let e = r2.unwrap_err();
    assert_eq!(e.code(), Some("UNBLOCKED"));
    let stats: String = cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    let line = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_brpoplpush:"))
        .unwrap();
    assert!(line.ends_with("failed_calls=1"), "{line}");
    let errs: String = cmd("INFO").arg("errorstats").query(&mut c).unwrap();
    assert!(errs.contains("errorstat_UNBLOCKED:count=1"), "{errs}");
    let n: i64 = cmd("CLIENT").arg("UNBLOCK").arg(id).query(&mut c).unwrap();
    assert_eq!(n, 0, "not blocked any more");
    assert_eq!(
        err_of(&mut c, cmd("CLIENT").arg("UNBLOCK").arg(id).arg("LATER")),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
}

#[test]
fn kill_and_disconnect_while_blocked() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut b = srv.client();
    let id: i64 = cmd("CLIENT").arg("ID").query(&mut b).unwrap();
    let h = thread::spawn(move || cmd("BLPOP").arg("k").arg(0).query::<Value>(&mut b));
    wait_blocked(&mut c, 1);
    let list: String = cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains(&format!("id={id} ")) && l.contains("flags=b")),
        "{list}"
    );
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        h.join().unwrap().is_err(),
        "the killed client gets no reply"
    );
    wait_blocked(&mut c, 0);
    // A raw client that blocks and then hangs up is forgotten too.
    let mut raw = srv.raw();
    raw.write_all(b"BLPOP k 0\r\n").unwrap();
    wait_blocked(&mut c, 1);
    drop(raw);
    wait_blocked(&mut c, 0);
    // Nobody steals the pushed element.
    let _: () = cmd("RPUSH").arg("k").arg("v").query(&mut c).unwrap();
    let n: i64 = cmd("LLEN").arg("k").query(&mut c).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn input_waits_while_blocked() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut raw = srv.raw();
    raw.write_all(b"BLPOP k 0\r\nRPUSH k mine\r\nPING\r\n")
        .unwrap();
    wait_blocked(&mut c, 1);
    // The pipelined RPUSH must not run while its client is blocked.
    let n: i64 = cmd("EXISTS").arg("k").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let _: () = cmd("RPUSH").arg("k").arg("theirs").query(&mut c).unwrap();
    let expect = b"*2\r\n$1\r\nk\r\n$6\r\ntheirs\r\n:1\r\n+PONG\r\n";
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < expect.len() {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(&got[..], &expect[..]);
}

#[test]
fn wrong_type_push_does_not_wake_and_swapdb_does() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let h = spawn_cmd(&srv, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    let _: () = cmd("SET").arg("k").arg("string").query(&mut c).unwrap();
    let _: () = cmd("DEL").arg("k").query(&mut c).unwrap();
    assert_eq!(
        blocked_clients(&mut c),
        1,
        "a string under the key serves nobody"
    );
    // A list appears in db 0 through SWAPDB.
    let _: () = cmd("SELECT").arg(1).query(&mut c).unwrap();
    let _: () = cmd("RPUSH").arg("k").arg("from1").query(&mut c).unwrap();
    let _: () = cmd("SWAPDB").arg(0).arg(1).query(&mut c).unwrap();
    assert_eq!(
        h.join().unwrap().unwrap(),
        Value::Array(vec![bulk("k"), bulk("from1")])
    );
}
