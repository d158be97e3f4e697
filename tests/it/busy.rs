//! A script past busy-reply-threshold serves the event loop (issue 14.4), as Redis 7.0's
//! scriptInterrupt does: other clients get -BUSY, SCRIPT KILL / FUNCTION KILL stop a
//! script that wrote nothing, SHUTDOWN NOSAVE stops the server, new clients (TLS too)
//! are accepted, and the script's own pipelined commands run after it.
use crate::common::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Wait until PING from `c` is refused as busy.
fn wait_busy(c: &mut redis::Connection) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match redis::cmd("PING").query::<String>(c) {
            Err(_) => return err(c, &["PING"]),
            Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(_) => panic!("the script never became busy"),
        }
    }
}

#[test]
fn a_busy_script_answers_busy_and_script_kill_stops_it() {
    let srv = Server::start(&["--busy-reply-threshold", "50"]);
    let mut c = srv.client();
    // The script's connection pipelines a PING after the EVAL: it runs after the script.
    let mut runner = srv.raw();
    let mut req = resp_cmd(&["EVAL", "while true do end", "0"]);
    req.extend(resp_cmd(&["PING"]));
    runner.write_all(&req).unwrap();
    let e = wait_busy(&mut c);
    assert!(e.contains(BUSY_EVAL), "{e}");
    // A client that connects now is accepted and answered.
    let mut late = srv.client();
    assert!(err(&mut late, &["GET", "k"]).contains("BUSY"));
    assert_eq!(err(&mut late, &["FUNCTION", "KILL"]), BUSY_EVAL);
    assert_eq!(err(&mut late, &["FUNCTION", "STATS"]), BUSY_EVAL);
    assert_eq!(err(&mut late, &["SHUTDOWN"]), BUSY_EVAL);
    // Allow-busy commands run: a transaction is refused as a whole, never half-run.
    assert_eq!(q::<String>(&mut late, &["MULTI"]), "OK");
    assert!(err(&mut late, &["INCR", "x"]).contains("BUSY"));
    assert_eq!(q::<String>(&mut c, &["SCRIPT", "KILL"]), "OK");
    let out = read_until(&mut runner, "+PONG");
    assert!(out.contains("killed by user"), "{out}");
    assert!(out.ends_with("+PONG\r\n"), "{out}");
    assert!(err(&mut late, &["EXEC"]).starts_with("EXECABORT"));
    assert_eq!(q::<Option<String>>(&mut late, &["GET", "x"]), None);
    assert_eq!(q::<String>(&mut c, &["PING"]), "PONG");
    assert!(srv.log().contains("Slow script detected"));
    // Nothing runs: SCRIPT KILL says so.
    assert_eq!(
        err(&mut c, &["SCRIPT", "KILL"]),
        "NOTBUSY No scripts in execution right now."
    );
}

#[test]
fn pcall_cannot_catch_script_kill() {
    let srv = Server::start(&["--busy-reply-threshold", "20"]);
    let mut c = srv.client();
    let mut runner = srv.raw();
    runner
        .write_all(&resp_cmd(&[
            "EVAL",
            "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end",
            "0",
        ]))
        .unwrap();
    wait_busy(&mut c);
    assert_eq!(q::<String>(&mut c, &["SCRIPT", "KILL"]), "OK");
    let out = read_until(&mut runner, "\r\n");
    assert!(
        out.starts_with("-ERR") && out.contains("killed by user"),
        "{out}"
    );
    assert_eq!(q::<String>(&mut c, &["PING"]), "PONG");
}

#[test]
fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_stops_the_server() {
    let mut srv = Server::start(&["--busy-reply-threshold", "20"]);
    let mut c = srv.client();
    let mut runner = srv.raw();
    runner
        .write_all(&resp_cmd(&[
            "EVAL",
            "redis.call('set', KEYS[1], 'y') while true do end",
            "1",
            "x",
        ]))
        .unwrap();
    wait_busy(&mut c);
    assert!(err(&mut c, &["SCRIPT", "KILL"])
        .starts_with("UNKILLABLE Sorry the script already executed write commands"));
    assert!(wait_busy(&mut c).contains("BUSY"));
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
    // The connection closes only once the server stopped listening: reconnecting at
    // once is refused (Redis 7.0's "SHUTDOWN NOSAVE can kill a timedout script anyway").
    assert!(
        TcpStream::connect(("127.0.0.1", srv.port)).is_err(),
        "a client connecting after SHUTDOWN is refused"
    );
    assert!(
        srv.wait_exit(Duration::from_secs(5)).is_some(),
        "the server exits"
    );
}

#[test]
fn function_kill_and_function_stats_while_a_function_runs() {
    let srv = Server::start(&["--busy-reply-threshold", "20"]);
    let mut c = srv.client();
    q::<String>(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=spin\nredis.register_function('spin', function() local a = 1 while true do a = a + 1 end end)",
        ],
    );
    let mut runner = srv.raw();
    runner
        .write_all(&resp_cmd(&["FCALL", "spin", "0"]))
        .unwrap();
    let e = wait_busy(&mut c);
    assert!(e.contains(BUSY_FUNCTION), "{e}");
    assert_eq!(err(&mut c, &["SCRIPT", "KILL"]), BUSY_FUNCTION);
    let stats: redis::Value = q(&mut c, &["FUNCTION", "STATS"]);
    let text = format!("{stats:?}");
    for part in ["running_script", "spin", "FCALL", "duration_ms", "engines"] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert_eq!(q::<String>(&mut c, &["FUNCTION", "KILL"]), "OK");
    let out = read_until(&mut runner, "\r\n");
    assert!(out.contains("killed by user"), "{out}");
    let stats: redis::Value = q(&mut c, &["FUNCTION", "STATS"]);
    assert!(
        format!("{stats:?}").contains("\"running_script\"'), nil"),
        "{stats:?}"
    );
}

#[test]
fn a_blocked_client_is_served_after_the_busy_script_not_during_it() {
    // Redis 7.0 "Timedout scripts and unblocked command": a command allowed while busy
    // must not serve the clients the script's first write unblocked.
    let srv = Server::start(&["--busy-reply-threshold", "20"]);
    let mut c = srv.client();
    q::<String>(&mut c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"]);
    let mut blocked = srv.raw();
    blocked.write_all(&resp_cmd(&["BLPOP", "x", "0"])).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut runner = srv.raw();
    runner
        .write_all(&resp_cmd(&[
            "EVAL",
            "redis.call('lpush', KEYS[1], 'y') \
             while true do \
               if string.find(redis.call('client', 'list'), 'abortscript') then break end \
             end \
             redis.call('lpush', KEYS[1], 'z') return 'done'",
            "1",
            "x",
        ]))
        .unwrap();
    wait_busy(&mut c);
    let mut r3 = srv.client();
    let _: redis::Value = q(&mut r3, &["HELLO", "2", "SETNAME", "abortscript"]);
    let got = read_until(&mut blocked, "z\r\n");
    assert!(got.ends_with("$1\r\nx\r\n$1\r\nz\r\n"), "{got:?}");
    assert!(read_until(&mut runner, "done").contains("done"));
}

#[test]
fn tls_clients_handshake_and_get_busy_while_a_script_runs() {
    let pki = crate::tls::make_pki("busy");
    let srv = crate::tls::start_tls(&pki, &["--busy-reply-threshold", "20"]);
    let mut c = crate::tls::tls_client(&srv, &pki, Some("client")).unwrap();
    let mut runner = crate::tls::tls_client(&srv, &pki, Some("client")).unwrap();
    let t = std::thread::spawn(move || {
        redis::cmd("EVAL")
            .arg("while true do end")
            .arg(0)
            .query::<()>(&mut runner)
            .unwrap_err()
            .to_string()
    });
    let e = wait_busy(&mut c);
    assert!(e.contains("BUSY"), "{e}");
    // A new TLS connection completes its handshake while the script runs.
    let mut fresh = crate::tls::tls_client(&srv, &pki, Some("client")).unwrap();
    assert!(err(&mut fresh, &["PING"]).contains("BUSY"));
    assert_eq!(q::<String>(&mut fresh, &["SCRIPT", "KILL"]), "OK");
    assert!(t.join().unwrap().contains("killed by user"));
    assert_eq!(q::<String>(&mut fresh, &["PING"]), "PONG");
}

#[test]
fn threshold_zero_means_no_limit() {
    // Redis sets no hook when busy-reply-threshold is 0: a long script just runs.
    let srv = Server::start(&["--busy-reply-threshold", "0"]);
    let mut c = srv.client();
    let n: i64 = q(
        &mut c,
        &[
            "EVAL",
            "local t = redis.call('time') local s = t[1] * 1000000 + t[2] local i = 0 \
             while true do i = i + 1 if i % 1000 == 0 then t = redis.call('time') \
             if t[1] * 1000000 + t[2] - s > 300000 then return 1 end end end",
            "0",
        ],
    );
    assert_eq!(n, 1);
}

#[test]
fn clients_ready_in_the_same_batch_as_the_script_are_answered() {
    // While DEBUG SLEEP holds the loop, the script's client and five others send: the
    // next poll reports them together. The ones after the script in that batch must be
    // answered from the script's hook (epoll reports their edge only once).
    let srv = Server::start(&["--busy-reply-threshold", "20"]);
    let mut sleeper = srv.raw();
    sleeper
        .write_all(&resp_cmd(&["DEBUG", "SLEEP", "0.3"]))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut runner = srv.raw();
    runner
        .write_all(&resp_cmd(&["EVAL", "while true do end", "0"]))
        .unwrap();
    let mut others: Vec<TcpStream> = (0..5).map(|_| srv.raw()).collect();
    for o in &mut others {
        o.write_all(&resp_cmd(&["PING"])).unwrap();
    }
    for o in &mut others {
        let got = read_until(o, "\r\n");
        assert!(got == "+PONG\r\n" || got.starts_with("-BUSY"), "{got:?}");
    }
    let mut c = srv.client();
    wait_busy(&mut c);
    assert_eq!(q::<String>(&mut c, &["SCRIPT", "KILL"]), "OK");
    assert!(read_until(&mut runner, "\r\n").contains("killed by user"));
}

#[test]
fn no_eviction_under_a_busy_script() {
    // Memory is over maxmemory while the script runs; a command another client may send
    // meanwhile (HELLO) must not evict the key the script works on.
    let srv = Server::start(&["--busy-reply-threshold", "20"]);
    let mut c = srv.client();
    q::<String>(&mut c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"]);
    q::<String>(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "volatile-random"],
    );
    q::<String>(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    let mut runner = srv.raw();
    runner
        .write_all(&resp_cmd(&[
            "EVAL",
            "#!lua flags=allow-oom\n\
             redis.call('set', KEYS[1], 'v', 'EX', '1000') \
             while true do \
               if string.find(redis.call('client', 'list'), 'evictnow') then break end \
             end \
             return redis.call('exists', KEYS[1])",
            "1",
            "k",
        ]))
        .unwrap();
    wait_busy(&mut c);
    let mut other = srv.client();
    let _: redis::Value = q(&mut other, &["HELLO", "2", "SETNAME", "evictnow"]);
    assert_eq!(read_until(&mut runner, "\r\n"), ":1\r\n");
}
