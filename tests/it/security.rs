//! The audit's findings (issue 13): a sealed Lua sandbox, no crash from any argument or
//! signal, linear parsing of trickled requests, query buffers that give memory back, the
//! fd limit, the TLS handshake deadline.
use crate::common::*;
use redis::{cmd, Connection, Value};

fn eval_err(c: &mut Connection, script: &str) -> String {
    err_of(c, cmd("EVAL").arg(script).arg(0))
}

fn eval_ok(c: &mut Connection, script: &str) -> Value {
    cmd("EVAL")
        .arg(script)
        .arg(0)
        .query(c)
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

const READONLY: &str = "Attempt to modify a readonly table";

/// Every way a script could write to state it shares with other scripts fails with Redis's
/// error, and none of them leaves a trace for the next script.
#[test]
fn scripts_cannot_write_shared_tables() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let attempts = [
        // rawset bypasses __newindex: the tables themselves are sealed.
        "rawset(redis, 'call', function() return 1 end)",
        "rawset(_G, 'x', 1)",
        "rawset(getfenv(0), 'redis', {})",
        "rawset(getfenv(0).redis, 'call', tostring)",
        "rawset(string, 'rep', function() return 'pwned' end)",
        "rawset(table, 'concat', function() return 'pwned' end)",
        "rawset(math, 'floor', function() return 42 end)",
        "rawset(cjson, 'encode', function() return 'x' end)",
        "rawset(cmsgpack, 'pack', function() return 'x' end)",
        "rawset(bit, 'band', function() return 0 end)",
        "rawset(getmetatable(''), '__index', {})",
        "rawset(getmetatable('').__index, 'len', function() return 0 end)",
        "getmetatable('').__index = {}",
        "getmetatable('').__index.upper = function() return 'x' end",
        "string.upper = function() return 'x' end",
        "table.insert(string, 'x')",
        "table.insert(getfenv(0), 'x')",
        "table.insert(getfenv(0).redis, 1)",
        "getfenv(0).redis = {}",
        "getfenv(0).KEYS = {}",
        "coroutine.create = nil",
        // metatables: of the globals, of a library, of a library's metatable
        "setmetatable(_G, {})",
        "setmetatable(getfenv(0), {})",
        "setmetatable(redis, {})",
        "setmetatable(string, {__index = function() return 1 end})",
        "setmetatable(getmetatable(redis), {})",
        "local g = getmetatable(_G) g.__index = {}",
        "local m = getmetatable(redis) rawset(m, '__index', {call = function() end})",
        // environments: of the running thread, of a shared function, of a library function
        "setfenv(0, {})",
        "setfenv(1, {})",
        "setfenv(redis.sha1hex, {})",
        "setfenv(redis.error_reply, {tostring = function() return 'x' end})",
        "setfenv(2, {})",
        "local f = function() end setfenv(f, {})",
        // loadstring'ed code runs against the same sealed globals
        "loadstring('x = 1')()",
        "loadstring('rawset(getfenv(0), \"x\", 1)')()",
        "local co = coroutine.create(function() rawset(getfenv(0), 'x', 1) end) \
         local ok, e = coroutine.resume(co) error(e)",
    ];
    for a in attempts {
        let e = eval_err(&mut c, a);
        assert!(e.contains(READONLY), "{a}: {e}");
    }
    // Nothing changed for the next script.
    let v = eval_ok(
        &mut c,
        "return {redis.call('ping'), string.upper('a'), table.concat({'a','b'}), \
         tostring(math.floor(1.5)), cjson.encode({1}), bit.tohex(bit.band(3, 1)), \
         tostring(rawget(getfenv(0), 'x')), tostring(#string.rep('a', 3))}",
    );
    let want: Vec<Value> = ["PONG", "A", "ab", "1", "[1]", "00000001", "nil", "3"]
        .iter()
        .map(|s| {
            if *s == "PONG" {
                Value::SimpleString(s.to_string())
            } else {
                Value::BulkString(s.as_bytes().to_vec())
            }
        })
        .collect();
    assert_eq!(v, Value::Array(want));
}

/// Redis refuses precompiled chunks: loadstring returns nil for them, load likewise.
#[test]
fn bytecode_is_refused_and_debug_newproxy_are_gone() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let e = eval_err(
        &mut c,
        "return loadstring(string.dump(function() return 1 end))()",
    );
    assert!(e.contains("attempt to call a nil value"), "{e}");
    let v = eval_ok(
        &mut c,
        "local d = string.dump(function() return 1 end) \
         local f, e = load(function() local s = d d = nil return s end) \
         return {tostring(f), tostring(e)}",
    );
    let Value::Array(parts) = v else {
        panic!("{v:?}")
    };
    assert_eq!(parts[0], Value::BulkString(b"nil".to_vec()));
    for name in ["debug", "newproxy", "print", "loadfile", "dofile"] {
        let e = eval_err(&mut c, &format!("return {name}"));
        assert!(
            e.contains(&format!("nonexistent global variable '{name}'")),
            "{name}: {e}"
        );
    }
}

/// The audit's scenario: mallory may only EVAL on her own keys; she tries to plant a hook
/// in the shared `redis` table so that the admin's next script works for her. Nothing she
/// runs can read the admin's key, copy it into hers or flush anything.
#[test]
fn restricted_user_cannot_hijack_another_users_scripts() {
    let srv = Server::start(&[]);
    let mut admin = srv.client();
    let _: () = q(&mut admin, &["SET", "secret", "s3cr3t"]);
    let _: () = q(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "mallory",
            "on",
            ">pw",
            "+eval",
            "+evalsha",
            "~mallory:*",
        ],
    );
    let mut m = srv.client();
    let _: () = q(&mut m, &["AUTH", "mallory", "pw"]);
    let hooks = [
        "rawset(redis, 'call', function(...) return 'hooked' end)",
        "local real = redis.call rawset(getfenv(0), 'redis', {call = function(...) \
           pcall(real, 'set', 'mallory:loot', real('get', 'secret')) return real(...) end})",
        "rawset(getmetatable(redis), '__index', {call = function() return 'hooked' end})",
        "setmetatable(getfenv(0), {__index = function() return function() return 'hooked' end end})",
        "rawset(string, 'format', function() redis.call('flushall') end)",
        "setfenv(redis.error_reply, {select = function() redis.call('flushall') end})",
    ];
    for h in hooks {
        let e = err_of(&mut m, cmd("EVAL").arg(h).arg(0));
        assert!(e.contains(READONLY), "{h}: {e}");
    }
    // The admin's scripts behave as before.
    let v: String = cmd("EVAL")
        .arg(
            "local s = string.format('%s', redis.call('get', KEYS[1])) \
              redis.error_reply('x') return s",
        )
        .arg(1)
        .arg("secret")
        .query(&mut admin)
        .unwrap();
    assert_eq!(v, "s3cr3t");
    let loot: Option<String> = q(&mut admin, &["GET", "mallory:loot"]);
    assert_eq!(loot, None);
    let n: i64 = q(&mut admin, &["DBSIZE"]);
    assert_eq!(n, 1);
}

/// Function libraries run in the same sealed sandbox, while they load and when called.
#[test]
fn function_libraries_cannot_write_shared_tables() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    // While a library loads it sees only the load API, and cannot change that either.
    for body in [
        "redis.register_function = nil",
        "redis.log = function() end",
        "redis = {}",
    ] {
        let e = err_of(
            &mut c,
            cmd("FUNCTION").arg("LOAD").arg(format!(
                "#!lua name=evil\n{body}\nredis.register_function('f', function() return 1 end)"
            )),
        );
        assert!(e.contains(READONLY), "{body}: {e}");
    }
    let _: String = cmd("FUNCTION")
        .arg("LOAD")
        .arg(
            "#!lua name=lib\nredis.register_function('tamper', function(keys, args) \
             for _, f in ipairs({function() rawset(redis, 'call', tostring) end, \
               function() rawset(getfenv(0), 'x', 1) end, function() rawset(string, 'rep', nil) end, \
               function() setfenv(0, {}) end, function() setmetatable(_G, nil) end}) do \
               local ok, e = pcall(f) if ok then return 'modified' end \
               if not string.find(e, 'readonly') then return e end end \
             return 'Attempt to modify a readonly table' end)\n\
             redis.register_function('ping', function() return redis.call('ping') end)",
        )
        .query(&mut c)
        .unwrap();
    let v: String = cmd("FCALL").arg("tamper").arg(0).query(&mut c).unwrap();
    assert!(v.contains(READONLY), "{v}");
    let v: String = cmd("FCALL").arg("ping").arg(0).query(&mut c).unwrap();
    assert_eq!(v, "PONG");
}

/// A restricted user's script or function touching a forbidden key, running a forbidden
/// command or publishing to a forbidden channel gets Redis 7.0's script wording.
#[test]
fn script_acl_denials_use_redis_wording() {
    let srv = Server::start(&[]);
    let mut admin = srv.client();
    let _: String = cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=l\nredis.register_function('getk', function(keys, args) return redis.call('get', args[1]) end)")
        .query(&mut admin)
        .unwrap();
    let _: () = q(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "u",
            "on",
            ">pw",
            "+@all",
            "-flushall",
            "~mine:*",
            "&chan",
        ],
    );
    let mut u = srv.client();
    let _: () = q(&mut u, &["AUTH", "u", "pw"]);
    let keys = "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments";
    // (Keys passed as script arguments, not declared: declared ones are checked before.)
    let e = err(
        &mut u,
        &["EVAL", "return redis.call('get', ARGV[1])", "0", "other"],
    );
    assert!(e.starts_with(keys), "{e}");
    let e = err(&mut u, &["FCALL", "getk", "0", "other"]);
    assert!(e.starts_with(keys), "{e}");
    let e = err(&mut u, &["EVAL", "return redis.call('flushall')", "0"]);
    assert!(
        e.starts_with("ERR The user executing the script can't run this command or subcommand"),
        "{e}"
    );
    let e = err(
        &mut u,
        &["EVAL", "return redis.call('publish', 'other', 'x')", "0"],
    );
    assert!(
        e.starts_with("ERR The user executing the script can't publish to the channel mentioned in the command"),
        "{e}"
    );
    // Outside scripts the NOPERM texts stay.
    assert!(err(&mut u, &["GET", "other"]).starts_with("NOPERM"));
}

/// Arguments that do not fit a duration made DEBUG SLEEP and CLIENT PAUSE panic, and the
/// process exit 101. Redis sleeps not at all for DEBUG SLEEP inf/nan/1e30 and refuses a
/// pause that overflows the clock.
#[test]
fn out_of_range_durations_do_not_crash() {
    let mut srv = Server::start(&[]);
    let mut c = srv.client();
    for v in ["inf", "-inf", "1e30", "1e400", "nan", "-1", "1e-300", "0"] {
        let r: String = q(&mut c, &["DEBUG", "SLEEP", v]);
        assert_eq!(r, "OK", "DEBUG SLEEP {v}");
    }
    let e = err(&mut c, &["CLIENT", "PAUSE", "9223372036854775807"]);
    assert!(e.contains("timeout is out of range"), "{e}");
    let e = err(&mut c, &["CLIENT", "PAUSE", "99999999999999999999"]);
    assert!(
        e.contains("timeout is not an integer or out of range"),
        "{e}"
    );
    for v in ["inf", "nan", "1e400", "9223372036854775807"] {
        let _ = cmd("BLPOP").arg("nolist").arg(v).query::<Value>(&mut c);
        let _ = cmd("WAIT").arg("0").arg(v).query::<Value>(&mut c);
    }
    let r: String = q(&mut c, &["PING"]);
    assert_eq!(r, "PONG");
    assert!(srv.alive());
}

/// SIGHUP (terminal hangup, some supervisors) is logged and ignored, as Redis ignores it;
/// it used to end the process silently.
#[test]
fn sighup_is_logged_and_ignored() {
    let mut srv = Server::start(&[]);
    let mut c = srv.client();
    let pid: i64 = q::<String>(&mut c, &["INFO", "server"])
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signalling the server process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !srv.log().contains("Received SIGHUP") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(srv.log().contains("Received SIGHUP"), "{}", srv.log());
    assert!(srv.alive());
    let r: String = q(&mut c, &["PING"]);
    assert_eq!(r, "PONG");
}

/// A request trickled in many reads is parsed as it arrives: every split of a pipeline
/// gives the same commands, and a long multibulk sent one element per write is served.
#[test]
fn trickled_requests_are_parsed_whole() {
    use std::io::{Read, Write};
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    s.set_nodelay(true).unwrap();
    // RPUSH with 3000 elements, one element per write.
    let n = 3000;
    s.write_all(format!("*{}\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n", n + 2).as_bytes())
        .unwrap();
    for i in 0..n {
        let e = format!("e{i}");
        s.write_all(format!("${}\r\n{}\r\n", e.len(), e).as_bytes())
            .unwrap();
        if i % 500 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let want = format!(":{n}\r\n");
    let got = raw_roundtrip(&mut s, b"", want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    // A big bulk trickled byte by byte at its edges, split inside its header too.
    let big = "x".repeat(100_000);
    let req = format!(
        "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n{}\r\n",
        big.len(),
        big
    );
    let b = req.as_bytes();
    for (i, chunk) in b.chunks(7).enumerate() {
        s.write_all(chunk).unwrap();
        if i % 1000 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    let got = raw_roundtrip(&mut s, b"", 5);
    assert_eq!(got, b"+OK\r\n");
    let got = raw_roundtrip(&mut s, b"STRLEN big\r\n", 9);
    assert_eq!(got, b":100000\r\n");
    let mut rest = [0u8; 16];
    s.set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    assert!(s.read(&mut rest).is_err(), "no stray reply");
}

fn info_field(c: &mut Connection, section: &str, field: &str) -> i64 {
    let info: String = q(c, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .parse()
        .unwrap()
}

/// Clients that once sent a big value do not keep its buffer: 30 idle clients that each
/// sent 3 MB held ~180 MB of query buffers (Vec doubling, never shrunk), counted in
/// used_memory, so maxmemory could evict the whole dataset because of idle clients.
#[test]
fn idle_query_buffers_give_memory_back() {
    use std::io::Write;
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let base = info_field(&mut c, "memory", "used_memory");
    let value = "v".repeat(3 << 20);
    let mut idle = Vec::new();
    for i in 0..30 {
        let mut s = srv.raw();
        let req = format!(
            "*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n${}\r\n{}\r\n",
            i % 10,
            value.len(),
            value
        );
        // In pieces, as a network delivers it.
        for chunk in req.as_bytes().chunks(64 * 1024) {
            s.write_all(chunk).unwrap();
        }
        assert_eq!(raw_roundtrip(&mut s, b"", 5), b"+OK\r\n");
        idle.push(s);
    }
    // A client stopped in the middle of a 3 MB bulk holds about 3 MB, not a doubled buffer.
    let mut half = srv.raw();
    half.write_all(format!("*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n${}\r\n", value.len()).as_bytes())
        .unwrap();
    half.write_all(&value.as_bytes()[..value.len() / 2])
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let clients = info_field(&mut c, "memory", "mem_clients_normal");
    assert!(
        clients < (4 << 20) + (2 << 20),
        "mem_clients_normal {clients}"
    );
    let used = info_field(&mut c, "memory", "used_memory");
    // The data: 10 keys x 3 MB (in 3.5 MB allocation classes) and the half-sent bulk;
    // the 30 idle clients add nothing (they added ~180 MB).
    assert!(used - base < 60 << 20, "used_memory grew {}", used - base);
    drop(idle);
    drop(half);
}

/// maxclients is fitted to the open-file limit with Redis's log lines, and clients past it
/// are answered `-ERR max number of clients reached` instead of hanging in the backlog.
#[test]
fn maxclients_follows_the_open_file_limit() {
    let srv = Server::start_with_nofile(64, &[]);
    let log = srv.log();
    assert!(
        log.contains(
            "You requested maxclients of 10000 requiring at least 10032 max file descriptors."
        ),
        "{log}"
    );
    assert!(log.contains("maxclients has been reduced to 32"), "{log}");
    let mut c = srv.client();
    let max: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxclients"]);
    assert_eq!(max[1], "32");
    // 100 connections: each is either served or told why not, none waits unanswered.
    let mut served = 0;
    let mut refused = 0;
    let mut socks = Vec::new();
    for _ in 0..100 {
        let mut s = srv.raw();
        let got = raw_roundtrip(&mut s, b"PING\r\n", 7);
        match got.as_slice() {
            b"+PONG\r\n" => {
                served += 1;
                socks.push(s);
            }
            g if g.starts_with(b"-ERR max number of clients reached") => refused += 1,
            g => panic!(
                "neither served nor refused: {:?}",
                String::from_utf8_lossy(g)
            ),
        }
    }
    assert!(served >= 20, "served {served}");
    assert_eq!(served + refused, 100);
    // More clients than descriptors can serve is refused, as Redis refuses it.
    let e = err(&mut c, &["CONFIG", "SET", "maxclients", "1000"]);
    assert!(
        e.contains("The operating system is not able to handle the specified number of clients, try with 32"),
        "{e}"
    );
    let max: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxclients"]);
    assert_eq!(max[1], "32");
    let _: () = q(&mut c, &["CONFIG", "SET", "maxclients", "20"]);
    drop(socks);
}

/// `CLIENT KILL addr` naming one's own connection answers +OK, then closes (Redis does;
/// ferrokv closed without a reply).
#[test]
fn client_kill_of_own_address_replies_then_closes() {
    use std::io::Read;
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    let me = s.local_addr().unwrap().to_string();
    let req = format!(
        "*3\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n${}\r\n{}\r\n",
        me.len(),
        me
    );
    let got = raw_roundtrip(&mut s, req.as_bytes(), 5);
    assert_eq!(got, b"+OK\r\n");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

/// SHUTDOWN SAVE whose save fails (here the file's name is taken by a directory) answers
/// Redis's error and the server keeps running; with FORCE it exits anyway.
#[test]
fn shutdown_save_refuses_when_the_save_fails() {
    let mut srv = Server::start(&[]);
    std::fs::create_dir(srv.dir.join("dump.rdb")).unwrap();
    let mut c = srv.client();
    let e = err(&mut c, &["SHUTDOWN", "SAVE"]);
    assert_eq!(e, "ERR Errors trying to SHUTDOWN. Check logs.");
    assert!(srv
        .log()
        .contains("Error trying to save the DB, can't exit"));
    let r: String = q(&mut c, &["PING"]);
    assert_eq!(r, "PONG");
    assert!(srv.alive());
    let _ = redis::cmd("SHUTDOWN")
        .arg("SAVE")
        .arg("FORCE")
        .query::<()>(&mut c);
    assert_eq!(srv.wait_exit(std::time::Duration::from_secs(10)), Some(0));
}

/// Output limits hold while a reply is built, as Redis checks them at every append: a
/// command whose reply passes the hard limit drops its client with nothing sent (the
/// rest of its pipeline not run), HRANDFIELD / SRANDMEMBER / ZRANDMEMBER with a huge
/// negative count stop there instead of growing without bound (gigabytes, minutes), and
/// a soft limit runs out with no traffic too.
#[test]
fn output_limits_hold_while_a_reply_is_built() {
    use std::io::{Read, Write};
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let _: () = q(
        c,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1000000 0 0",
        ],
    );
    let _: i64 = q(c, &["HSET", "h", "a", "b"]);
    let _: i64 = q(c, &["SADD", "s", "x", "1"]);
    let _: i64 = q(c, &["ZADD", "z", "1", "m"]);
    let before = info_field(c, "stats", "client_output_buffer_limit_disconnections");
    for huge in [
        &["HRANDFIELD", "h", "-999999999"][..],
        &["HRANDFIELD", "h", "-999999999", "WITHVALUES"],
        &["SRANDMEMBER", "s", "-999999999"],
        &["ZRANDMEMBER", "z", "-999999999", "WITHSCORES"],
    ] {
        let t0 = std::time::Instant::now();
        let mut s = srv.raw();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        s.write_all(&resp_cmd(huge)).unwrap();
        // Then a command that must not run: the client is gone before it.
        s.write_all(&resp_cmd(&["SET", "after", "1"])).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert!(
            got.is_empty(),
            "{huge:?}: nothing sent, got {} bytes",
            got.len()
        );
        assert!(t0.elapsed().as_secs() < 10, "{huge:?} stopped early");
    }
    assert!(info_field(c, "memory", "used_memory") < 200_000_000);
    assert_eq!(
        info_field(c, "stats", "client_output_buffer_limit_disconnections"),
        before + 4
    );
    let v: Option<String> = q(c, &["GET", "after"]);
    assert_eq!(v, None, "the rest of the pipeline did not run");
    // A soft limit, then no more traffic: the client is dropped once its seconds pass.
    let _: () = q(
        c,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 100000 1",
        ],
    );
    let mut sub = srv.raw();
    sub.write_all(&resp_cmd(&["SUBSCRIBE", "ch"])).unwrap();
    read_until(&mut sub, "subscribe");
    let big = "x".repeat(1000);
    // The subscriber reads nothing: its output grows past the soft limit once the
    // socket buffers are full.
    wait_until("the subscriber's output passes the soft limit", || {
        for _ in 0..100 {
            let _: i64 = q(c, &["PUBLISH", "ch", &big]);
        }
        let list: String = q(c, &["CLIENT", "LIST", "TYPE", "pubsub"]);
        list.split_whitespace()
            .find_map(|f| f.strip_prefix("omem="))
            .is_some_and(|m| m.parse::<i64>().unwrap() > 100_000)
    });
    wait_until("the idle subscriber dropped at its soft limit", || {
        let list: String = q(c, &["CLIENT", "LIST", "TYPE", "pubsub"]);
        list.is_empty()
    });
}
