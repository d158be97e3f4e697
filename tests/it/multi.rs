//! Transactions: MULTI/EXEC/DISCARD, queue-time errors, WATCH and what breaks it.
use crate::common::*;
use redis::Value;
use std::time::Duration;

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap()
}

fn ok(v: Value) {
    assert_eq!(v, Value::Okay);
}

fn queued(v: Value) {
    assert_eq!(v, Value::SimpleString("QUEUED".into()));
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn exec_runs_the_queue_in_order() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    ok(q(&mut c, &["MULTI"]));
    queued(q(&mut c, &["SET", "a", "1"]));
    queued(q(&mut c, &["INCR", "a"]));
    queued(q(&mut c, &["GET", "a"]));
    let r = q(&mut c, &["EXEC"]);
    assert_eq!(r, Value::Array(vec![Value::Okay, Value::Int(2), bulk("2")]));
    // The client is out of MULTI: commands run at once.
    assert_eq!(q(&mut c, &["INCR", "a"]), Value::Int(3));
    // A runtime error inside EXEC does not stop the other commands.
    let mut s = srv.raw();
    let r = raw_roundtrip(
        &mut s,
        b"MULTI\r\nLPUSH a x\r\nINCRBY a 10\r\nEXEC\r\n",
        5 + 9 + 9 + 4 + 68 + 5,
    );
    assert_eq!(
        String::from_utf8_lossy(&r),
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:13\r\n"
    );
    // An empty transaction is an empty array.
    ok(q(&mut c, &["MULTI"]));
    assert_eq!(q(&mut c, &["EXEC"]), Value::Array(vec![]));
}

#[test]
fn state_errors_have_redis_texts() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(
        err_of(&mut c, &mut redis::cmd("EXEC")),
        "ERR EXEC without MULTI"
    );
    assert_eq!(
        err_of(&mut c, &mut redis::cmd("DISCARD")),
        "ERR DISCARD without MULTI"
    );
    ok(q(&mut c, &["MULTI"]));
    assert_eq!(
        err_of(&mut c, &mut redis::cmd("MULTI")),
        "ERR MULTI calls can not be nested"
    );
    assert_eq!(
        err_of(&mut c, redis::cmd("WATCH").arg("k")),
        "ERR WATCH inside MULTI is not allowed"
    );
    queued(q(&mut c, &["SET", "k", "v"]));
    ok(q(&mut c, &["DISCARD"]));
    assert_eq!(
        q(&mut c, &["GET", "k"]),
        Value::Nil,
        "DISCARD dropped the SET"
    );
}

#[test]
fn queue_time_errors_abort_exec() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    for bad in [&["NOSUCHCMD", "x"][..], &["GET"][..], &["SHUTDOWN"][..]] {
        ok(q(&mut c, &["MULTI"]));
        queued(q(&mut c, &["SET", "k", "v"]));
        let mut cmd = redis::cmd(bad[0]);
        for a in &bad[1..] {
            cmd.arg(*a);
        }
        let e = err_of(&mut c, &mut cmd);
        if bad[0] == "SHUTDOWN" {
            assert_eq!(e, "ERR Command not allowed inside a transaction");
        } else {
            assert!(e.starts_with("ERR "), "{e}");
        }
        assert_eq!(
            err_of(&mut c, &mut redis::cmd("EXEC")),
            "EXECABORT Transaction discarded because of previous errors."
        );
        assert_eq!(q(&mut c, &["GET", "k"]), Value::Nil, "nothing ran");
        // The aborted transaction is over.
        assert_eq!(
            err_of(&mut c, &mut redis::cmd("EXEC")),
            "ERR EXEC without MULTI"
        );
    }
    // A rejected EXEC itself discards the transaction.
    ok(q(&mut c, &["MULTI"]));
    assert_eq!(
        err_of(&mut c, redis::cmd("EXEC").arg("extra")),
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    );
    assert_eq!(q(&mut c, &["PING"]), Value::SimpleString("PONG".into()));
}

#[test]
fn watch_race_between_two_clients() {
    let srv = Server::start(&[]);
    let mut a = srv.client();
    let mut b = srv.client();
    ok(q(&mut a, &["SET", "balance", "10"]));
    // Untouched watch: EXEC runs.
    ok(q(&mut a, &["WATCH", "balance", "other"]));
    ok(q(&mut a, &["MULTI"]));
    queued(q(&mut a, &["INCRBY", "balance", "5"]));
    assert_eq!(q(&mut a, &["EXEC"]), Value::Array(vec![Value::Int(15)]));
    // Another client writes the watched key: EXEC answers a null array.
    ok(q(&mut a, &["WATCH", "balance"]));
    ok(q(&mut b, &["SET", "balance", "100"]));
    ok(q(&mut a, &["MULTI"]));
    queued(q(&mut a, &["INCRBY", "balance", "5"]));
    assert_eq!(q(&mut a, &["EXEC"]), Value::Nil);
    assert_eq!(q(&mut a, &["GET", "balance"]), bulk("100"));
    // After EXEC nothing is watched any more.
    ok(q(&mut b, &["SET", "balance", "1"]));
    ok(q(&mut a, &["MULTI"]));
    queued(q(&mut a, &["GET", "balance"]));
    assert_eq!(q(&mut a, &["EXEC"]), Value::Array(vec![bulk("1")]));
    // UNWATCH forgets a touched key.
    ok(q(&mut a, &["WATCH", "balance"]));
    assert_eq!(q(&mut b, &["DEL", "balance"]), Value::Int(1));
    ok(q(&mut a, &["UNWATCH"]));
    ok(q(&mut a, &["MULTI"]));
    queued(q(&mut a, &["PING"]));
    assert_eq!(
        q(&mut a, &["EXEC"]),
        Value::Array(vec![Value::SimpleString("PONG".into())])
    );
    // A key of another database with the same name is a different key.
    ok(q(&mut a, &["WATCH", "balance"]));
    ok(q(&mut b, &["SELECT", "1"]));
    ok(q(&mut b, &["SET", "balance", "7"]));
    ok(q(&mut a, &["MULTI"]));
    queued(q(&mut a, &["PING"]));
    assert!(matches!(q(&mut a, &["EXEC"]), Value::Array(_)));
    // DISCARD unwatches too.
    ok(q(&mut a, &["WATCH", "balance"]));
    ok(q(&mut b, &["SELECT", "0"]));
    ok(q(&mut b, &["SET", "balance", "8"]));
    ok(q(&mut a, &["MULTI"]));
    ok(q(&mut a, &["DISCARD"]));
    ok(q(&mut a, &["MULTI"]));
    queued(q(&mut a, &["INCR", "balance"]));
    assert_eq!(q(&mut a, &["EXEC"]), Value::Array(vec![Value::Int(9)]));
}

fn watch_then(a: &mut redis::Connection, key: &str, write: impl FnOnce()) -> Value {
    ok(q(a, &["WATCH", key]));
    write();
    ok(q(a, &["MULTI"]));
    queued(q(a, &["PING"]));
    q(a, &["EXEC"])
}

#[test]
fn flushdb_flushall_swapdb_and_expiry_touch_watched_keys() {
    let srv = Server::start(&[]);
    let mut a = srv.client();
    let mut b = srv.client();
    let pong = Value::Array(vec![Value::SimpleString("PONG".into())]);

    ok(q(&mut a, &["SET", "x", "1"]));
    let r = watch_then(&mut a, "x", || ok(q(&mut b, &["FLUSHDB"])));
    assert_eq!(r, Value::Nil, "FLUSHDB deleted a watched key");
    let r = watch_then(&mut a, "x", || ok(q(&mut b, &["FLUSHDB"])));
    assert_eq!(r, pong, "FLUSHDB of a missing key changes nothing");

    ok(q(&mut a, &["SET", "x", "1"]));
    let r = watch_then(&mut a, "x", || ok(q(&mut b, &["FLUSHALL"])));
    assert_eq!(r, Value::Nil);

    // SWAPDB: a key that appears by the swap counts as a change.
    ok(q(&mut b, &["SELECT", "1"]));
    ok(q(&mut b, &["SET", "x", "in-db1"]));
    let r = watch_then(&mut a, "x", || ok(q(&mut b, &["SWAPDB", "0", "1"])));
    assert_eq!(r, Value::Nil);
    ok(q(&mut a, &["FLUSHALL"]));

    // A watched key that expires makes EXEC fail...
    ok(q(&mut a, &["SET", "t", "1", "PX", "50"]));
    let r = watch_then(&mut a, "t", || {
        std::thread::sleep(Duration::from_millis(120))
    });
    assert_eq!(r, Value::Nil);
    // ...but watching an already expired key and seeing it deleted does not.
    ok(q(&mut a, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]));
    ok(q(&mut a, &["SET", "s", "1", "PX", "1"]));
    std::thread::sleep(Duration::from_millis(10));
    let r = watch_then(&mut a, "s", || {
        assert_eq!(q(&mut b, &["SELECT", "0"]), Value::Okay);
        assert_eq!(q(&mut b, &["EXISTS", "s"]), Value::Int(0));
    });
    assert_eq!(r, pong);
    ok(q(&mut a, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]));
}

#[test]
fn resp3_failed_exec_is_null_and_client_list_shows_multi() {
    let srv = Server::start(&[]);
    let mut b = srv.client();
    let mut s = srv.raw();
    let r = raw_roundtrip(&mut s, b"HELLO 3\r\n", 10);
    assert!(r.starts_with(b"%7"));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(raw_roundtrip(&mut s, b"WATCH k\r\n", 5), b"+OK\r\n");
    assert_eq!(raw_roundtrip(&mut s, b"MULTI\r\n", 5), b"+OK\r\n");
    assert_eq!(raw_roundtrip(&mut s, b"GET k\r\n", 9), b"+QUEUED\r\n");
    ok(q(&mut b, &["SET", "k", "v"]));
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut b).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains("flags=xd ") && l.contains(" multi=1 ")),
        "{list}"
    );
    assert_eq!(raw_roundtrip(&mut s, b"EXEC\r\n", 3), b"_\r\n");
}

/// Scripts and functions inside MULTI/EXEC run their calls (issue 14.1: their writes were
/// queued into the finished transaction and lost: EXEC answered QUEUED for them).
#[test]
fn scripts_and_functions_inside_exec_run_their_writes() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("redis.call('SET', KEYS[1], 'y') return redis.call('INCR', KEYS[2])")
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=tx\nredis.register_function('bump', function(keys) redis.call('SET', keys[1], 'z') return redis.call('INCR', keys[2]) end)")
        .query(&mut c)
        .unwrap();
    let (r,): (Vec<redis::Value>,) = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("redis.call('SET','b','x') return redis.call('INCR','c')")
        .arg(0)
        .cmd("EVALSHA")
        .arg(&sha)
        .arg(2)
        .arg("b2")
        .arg("c")
        .cmd("FCALL")
        .arg("bump")
        .arg(2)
        .arg("b3")
        .arg("c")
        .cmd("GET")
        .arg("c")
        .query(&mut c)
        .map(|v: Vec<redis::Value>| (v,))
        .unwrap();
    assert_eq!(
        r,
        vec![
            redis::Value::Int(1),
            redis::Value::Int(2),
            redis::Value::Int(3),
            redis::Value::BulkString(b"3".to_vec())
        ]
    );
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg("b")
        .arg("b2")
        .arg("b3")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        got,
        vec![Some("x".into()), Some("y".into()), Some("z".into())]
    );
    // The connection is out of MULTI afterwards and commands run at once.
    let n: i64 = redis::cmd("INCR").arg("c").query(&mut c).unwrap();
    assert_eq!(n, 4);
    // A script's error inside EXEC is that command's reply; the rest still runs.
    let mut raw = srv.raw();
    let req = b"MULTI\r\nEVAL \"return redis.call('INCR', 'b')\" 0\r\nINCR c\r\nEXEC\r\n";
    let want_head =
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-ERR value is not an integer or out of range script:";
    let got = raw_roundtrip(&mut raw, req, want_head.len() + 60);
    let got = String::from_utf8_lossy(&got).into_owned();
    assert!(got.starts_with(want_head), "{got}");
    assert!(got.ends_with(".\r\n:5\r\n"), "{got}");
}

/// min-replicas-to-write with no good replica (there is no replication yet): writes,
/// write scripts and an EXEC holding writes are refused with NOREPLICAS, reads are not
/// (Redis 7.0 unit/multi and unit/scripting cases). ferrokv ignored the option.
#[test]
fn min_replicas_to_write_refuses_writes() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut r1 = srv.client();
    let _: () = redis::cmd("SET").arg("x").arg("v").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("xx").arg(1).query(&mut c).unwrap();
    let mut raw = srv.raw();
    let got = raw_roundtrip(&mut raw, b"MULTI\r\nINCR xx\r\n", 14);
    assert_eq!(got, b"+OK\r\n+QUEUED\r\n");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-to-write")
        .arg(1)
        .query(&mut r1)
        .unwrap();
    let want = "-EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write.\r\n";
    let got = raw_roundtrip(&mut raw, b"EXEC\r\n", want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    let e = err_of(&mut c, redis::cmd("SET").arg("x").arg(1));
    assert_eq!(e, "NOREPLICAS Not enough good replicas to write.");
    let v: String = redis::cmd("GET").arg("x").query(&mut c).unwrap();
    assert_eq!(v, "v");
    let eval = |c: &mut redis::Connection, s: &str| {
        redis::cmd("EVAL").arg(s).arg(1).arg("x").query::<String>(c)
    };
    assert_eq!(
        eval(
            &mut c,
            "#!lua flags=no-writes\nreturn redis.call('get','x')"
        )
        .unwrap(),
        "v"
    );
    assert_eq!(eval(&mut c, "return redis.call('get','x')").unwrap(), "v");
    let e = eval(&mut c, "#!lua\nreturn redis.call('get','x')").unwrap_err();
    assert_eq!(e.code(), Some("NOREPLICAS"));
    let e = eval(&mut c, "return redis.call('set','x', 1)").unwrap_err();
    assert!(e.to_string().contains("NOREPLICAS"), "{e}");
    // min-replicas-max-lag 0 turns the check off, as in Redis.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-max-lag")
        .arg(0)
        .query(&mut r1)
        .unwrap();
    let _: () = redis::cmd("SET").arg("x").arg(2).query(&mut c).unwrap();
    let xx: i64 = redis::cmd("GET").arg("xx").query(&mut c).unwrap();
    assert_eq!(xx, 1);
}
