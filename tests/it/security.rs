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
