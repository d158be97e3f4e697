//! The Lua debugger (SCRIPT DEBUG YES|SYNC|NO, issue 14): a debugged EVAL stops at its
//! first line and converses with its client, in the server itself (SYNC: its writes stay)
//! or in a forked child (YES: the server goes on serving, the child's writes vanish).
//! Sessions run over TLS here as well as in plaintext: the forked child carries on the
//! parent's TLS session.
use crate::common::*;
use crate::tls::{make_pki, start_tls, tls_client};
use std::io::Write;
use std::time::{Duration, Instant};

/// Send one debugger command (or any command) and read the array of log lines.
fn say(c: &mut redis::Connection, words: &[&str]) -> Vec<String> {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{words:?}: {e}"))
}

const SCRIPT: &str = "local a = redis.call('SET', KEYS[1], ARGV[1])
local t = {1, 'two', x = 3}
redis.debug('t is', t)
redis.breakpoint()
local n = redis.call('INCR', 'counter')
return {a, n}";

/// Walk through SCRIPT with most debugger commands; returns the EVAL's own reply.
fn walk_through(c: &mut redis::Connection, key: &str) -> redis::Value {
    assert_eq!(
        say(c, &["EVAL", SCRIPT, "1", key, "v"]),
        [
            "* Stopped at 1, stop reason = step over",
            "-> 1   local a = redis.call('SET', KEYS[1], ARGV[1])"
        ]
    );
    assert_eq!(
        say(c, &["s"]),
        [
            &format!("<redis> SET {key} v"),
            "<reply> \"+OK\"",
            "* Stopped at 2, stop reason = step over",
            "-> 2   local t = {1, 'two', x = 3}"
        ]
    );
    assert_eq!(say(c, &["p"]), ["<value> a = {[\"ok\"]=\"OK\"}"]);
    assert_eq!(
        say(c, &["print", "KEYS"]),
        [format!("<value> {{\"{key}\"}}")]
    );
    assert_eq!(say(c, &["p", "nope"]), ["No such variable."]);
    assert_eq!(say(c, &["e", "1", "+", "41"]), ["<retval> 42"]);
    let e = say(c, &["eval", "x("]);
    assert!(e[0].starts_with("<error> "), "{e:?}");
    // Eval'd code runs in the script's sandbox.
    let e = say(c, &["eval", "os.exit(1)"]);
    assert!(e[0].contains("nonexistent global variable 'os'"), "{e:?}");
    assert_eq!(
        say(c, &["b", "6"]),
        [
            "   5   local n = redis.call('INCR', 'counter')",
            "  #6   return {a, n}"
        ]
    );
    assert_eq!(
        say(c, &["list", "1", "0"]),
        ["   1   local a = redis.call('SET', KEYS[1], ARGV[1])"]
    );
    assert_eq!(say(c, &["whole"]).len(), 6);
    assert_eq!(
        say(c, &["c"]),
        [
            "<debug> line 3: \"t is\", {[1]=1; [2]=\"two\"; [\"x\"]=3}",
            "* Stopped at 5, stop reason = redis.breakpoint() called",
            "-> 5   local n = redis.call('INCR', 'counter')"
        ]
    );
    assert_eq!(
        say(c, &["r", "SET", "other", "x\"y"]),
        ["<redis> SET other x\"y", "<reply> \"+OK\""]
    );
    assert_eq!(
        say(c, &["t"]),
        [
            "In top level:",
            "-> 5   local n = redis.call('INCR', 'counter')"
        ]
    );
    assert_eq!(
        say(c, &["bogus"]),
        ["<error> Unknown Redis Lua debugger command or wrong number of arguments."]
    );
    assert_eq!(
        say(c, &["maxlen", "10"]),
        ["<value> replies are truncated at 60 bytes."]
    );
    assert_eq!(
        say(c, &["c"]),
        [
            "* Stopped at 6, stop reason = break point",
            "->#6   return {a, n}"
        ]
    );
    assert_eq!(say(c, &["c"]), ["<endsession>"]);
    let reply = c.recv_response().unwrap();
    // The session is over: the server closed the connection.
    assert!(redis::cmd("PING").query::<String>(c).is_err());
    reply
}

fn bulk_ok_and(n: i64) -> redis::Value {
    redis::Value::Array(vec![redis::Value::Okay, redis::Value::Int(n)])
}

#[test]
fn sync_session_over_tls_keeps_the_scripts_writes() {
    let pki = make_pki("client");
    let srv = start_tls(&pki, &[]);
    let mut c = tls_client(&srv, &pki, Some("client")).unwrap();
    assert_eq!(say_ok(&mut c, &["SCRIPT", "DEBUG", "SYNC"]), "OK");
    assert_eq!(walk_through(&mut c, "k"), bulk_ok_and(1));
    let mut other = tls_client(&srv, &pki, Some("client")).unwrap();
    assert_eq!(q::<String>(&mut other, &["GET", "k"]), "v");
    assert_eq!(q::<String>(&mut other, &["GET", "other"]), "x\"y");
    assert_eq!(q::<i64>(&mut other, &["GET", "counter"]), 1);
    // A new connection is not in debugging mode.
    assert_eq!(q::<i64>(&mut other, &["EVAL", "return 7", "0"]), 7);
}

fn say_ok(c: &mut redis::Connection, words: &[&str]) -> String {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(c).unwrap()
}

#[test]
fn forked_session_over_tls_leaves_the_server_serving_and_its_data_alone() {
    let pki = make_pki("client");
    let srv = start_tls(&pki, &[]);
    let mut c = tls_client(&srv, &pki, Some("client")).unwrap();
    let mut other = tls_client(&srv, &pki, Some("client")).unwrap();
    assert_eq!(say_ok(&mut c, &["SCRIPT", "DEBUG", "YES"]), "OK");
    assert_eq!(
        say(&mut c, &["EVAL", "return 1", "0"])[0],
        "* Stopped at 1, stop reason = step over"
    );
    // While the child waits for its client, the server answers others.
    assert_eq!(q::<String>(&mut other, &["PING"]), "PONG");
    assert_eq!(srv.children().len(), 1);
    // The server let go of the debugging client: the child has it now.
    let list = q::<String>(&mut other, &["CLIENT", "LIST"]);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert_eq!(say(&mut c, &["c"]), ["<endsession>"]);
    assert_eq!(c.recv_response().unwrap(), redis::Value::Int(1));
    assert!(redis::cmd("PING").query::<String>(&mut c).is_err());

    let mut c = tls_client(&srv, &pki, Some("client")).unwrap();
    assert_eq!(say_ok(&mut c, &["SCRIPT", "DEBUG", "YES"]), "OK");
    q::<()>(&mut other, &["SET", "k", "parent"]);
    assert_eq!(walk_through(&mut c, "k"), bulk_ok_and(1));
    // The child's writes died with it.
    assert_eq!(q::<String>(&mut other, &["GET", "k"]), "parent");
    assert_eq!(q::<Option<String>>(&mut other, &["GET", "counter"]), None);
    assert_eq!(q::<Option<String>>(&mut other, &["GET", "other"]), None);
    // And the child was reaped (the cron collects it).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !srv.children().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(srv.children(), Vec::<u32>::new());
    // Other clients' TLS sessions are untouched by the fork and the child's exit.
    assert_eq!(q::<String>(&mut other, &["PING"]), "PONG");
}

#[test]
fn abort_ends_the_script_with_an_error_and_keeps_earlier_writes_in_sync_mode() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    say_ok(&mut c, &["SCRIPT", "DEBUG", "SYNC"]);
    say(
        &mut c,
        &[
            "EVAL",
            "redis.call('SET', 'a', '1')\nredis.call('SET', 'b', '2')",
            "0",
        ],
    );
    assert_eq!(say(&mut c, &["n"])[0], "<redis> SET a 1");
    assert_eq!(say(&mut c, &["a"]), ["<endsession>"]);
    let e = format!("{:?}", c.recv_response());
    assert!(e.contains("script aborted for user request"), "{e}");
    let mut other = srv.client();
    assert_eq!(q::<String>(&mut other, &["GET", "a"]), "1");
    assert_eq!(q::<Option<String>>(&mut other, &["GET", "b"]), None);
}

#[test]
fn a_client_that_leaves_mid_session_lets_the_script_finish() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    say_ok(&mut c, &["SCRIPT", "DEBUG", "SYNC"]);
    let script = "redis.call('SET', 'd', '1')\nredis.call('SET', 'd', '2')";
    say(&mut c, &["EVAL", script, "0"]);
    drop(c);
    let mut other = srv.client();
    assert_eq!(q::<String>(&mut other, &["GET", "d"]), "2");
}

#[test]
fn timeout_stops_a_runaway_script_for_the_debugger() {
    let srv = Server::start(&["--busy-reply-threshold", "100"]);
    let mut c = srv.client();
    say_ok(&mut c, &["SCRIPT", "DEBUG", "SYNC"]);
    say(
        &mut c,
        &["EVAL", "local i = 0\nwhile true do i = i + 1 end", "0"],
    );
    assert_eq!(
        say(&mut c, &["c"]),
        [
            "* Stopped at 2, stop reason = timeout reached, infinite loop?",
            "-> 2   while true do i = i + 1 end"
        ]
    );
    let v = say(&mut c, &["p", "i"]);
    assert!(v[0].starts_with("<value> ") && v[0] != "<value> 0", "{v:?}");
    assert_eq!(say(&mut c, &["abort"]), ["<endsession>"]);
    let e = format!("{:?}", c.recv_response());
    assert!(e.contains("script aborted for user request"), "{e}");
    assert_eq!(q::<String>(&mut srv.client(), &["PING"]), "PONG");
}

/// A raw connection whose sync debugging session is stopped at the first line.
fn stopped_session(srv: &Server) -> std::net::TcpStream {
    let mut s = srv.raw();
    s.write_all(&resp_cmd(&["SCRIPT", "DEBUG", "SYNC"]))
        .unwrap();
    read_until(&mut s, "+OK\r\n");
    s.write_all(&resp_cmd(&["EVAL", "return 1", "0"])).unwrap();
    read_until(&mut s, "step over");
    s
}

#[test]
fn bad_debugger_input_gets_errors_not_a_wedged_server() {
    let srv = Server::start(&[]);
    // Commands the Tcl suite sends: NUL bytes in names, and a 100-argument redis call.
    let mut c = srv.client();
    say_ok(&mut c, &["SCRIPT", "DEBUG", "SYNC"]);
    say(&mut c, &["EVAL", "return 'hello'", "0"]);
    for name in ["hello\0world", "\0hello\0"] {
        assert_eq!(
            say(&mut c, &[name]),
            ["<error> Unknown Redis Lua debugger command or wrong number of arguments."]
        );
    }
    let mut args = vec!["redis"];
    args.extend(std::iter::repeat_n("test", 100));
    let log = say(&mut c, &args);
    assert!(log[0].starts_with("<redis> test test"), "{log:?}");
    assert!(log[0].ends_with(" ... (90 more)"), "{log:?}");
    assert!(
        log[1].contains("Unknown Redis command called from script"),
        "{log:?}"
    );
    drop(c);
    assert_eq!(q::<String>(&mut srv.client(), &["PING"]), "PONG");

    // Input that is not a RESP array stops the script with a protocol error.
    let mut s = stopped_session(&srv);
    s.write_all(b"garbage\r\n").unwrap();
    let got = read_until(&mut s, "protocol error");
    assert!(
        got.contains("<endsession>") && got.contains("-ERR protocol error"),
        "{got}"
    );
    // An oversized argument is refused the same way.
    let mut s = stopped_session(&srv);
    s.write_all(&resp_cmd(&["e", &"x".repeat(2000)])).unwrap();
    assert!(read_until(&mut s, "protocol error").contains("-ERR protocol error"));
    assert_eq!(q::<String>(&mut srv.client(), &["PING"]), "PONG");
}

#[test]
fn script_debug_rules() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(
        err(&mut c, &["SCRIPT", "DEBUG", "maybe"]),
        "ERR Use SCRIPT DEBUG YES/SYNC/NO"
    );
    // Outside a session the debugger's functions do nothing.
    assert_eq!(
        q::<Option<i64>>(
            &mut c,
            &["EVAL", "redis.debug('x') return redis.breakpoint()", "0"]
        ),
        None
    );
    say_ok(&mut c, &["SCRIPT", "DEBUG", "SYNC"]);
    assert_eq!(
        err(&mut c, &["EVALSHA", &"a".repeat(40), "0"]),
        "ERR Please use EVAL instead of EVALSHA for debugging"
    );
    say_ok(&mut c, &["SCRIPT", "DEBUG", "NO"]);
    assert_eq!(q::<i64>(&mut c, &["EVAL", "return 3", "0"]), 3);
    // Not after other commands whose replies are still to be written.
    let mut s = srv.raw();
    let mut req = resp_cmd(&["PING"]);
    req.extend(resp_cmd(&["SCRIPT", "DEBUG", "SYNC"]));
    s.write_all(&req).unwrap();
    let got = read_until(&mut s, "pipeline");
    assert!(
        got.contains("-ERR SCRIPT DEBUG must be called outside a pipeline"),
        "{got}"
    );
}
