//! Lua scripting: EVAL/EVALSHA round trips, conversions both ways, errors as Redis 7.0
//! words them, the script cache, read-only scripts, the sandbox and the time limit.
use crate::common::*;
use redis::{cmd, Connection, Value};

fn eval(c: &mut Connection, script: &str, keys: &[&str], args: &[&str]) -> Value {
    cmd("EVAL")
        .arg(script)
        .arg(keys.len())
        .arg(keys)
        .arg(args)
        .query(c)
        .unwrap()
}

fn eval_err(c: &mut Connection, script: &str) -> String {
    err_of(c, cmd("EVAL").arg(script).arg(0))
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn keys_argv_and_redis_call_round_trip() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let v = eval(
        &mut c,
        "redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])",
        &["k"],
        &["hello"],
    );
    assert_eq!(v, bulk("hello"));
    let got: String = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(got, "hello");
    let v = eval(&mut c, "return redis.call('incrby', 'n', 5)", &[], &[]);
    assert_eq!(v, Value::Int(5));
    // Numbers as arguments keep every digit ("%.17g"), unlike Lua's tostring ("%.14g").
    let v = eval(
        &mut c,
        "redis.call('set', 'big', 9007199254740991); return {redis.call('get', 'big'), tostring(9007199254740991)}",
        &[],
        &[],
    );
    assert_eq!(
        v,
        Value::Array(vec![bulk("9007199254740991"), bulk("9.007199254741e+15")])
    );
}

#[test]
fn redis_to_lua_and_back_conversions() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    // Lua number -> integer (truncated), string -> bulk, true -> 1, false -> nil.
    assert_eq!(eval(&mut c, "return 3.99", &[], &[]), Value::Int(3));
    assert_eq!(eval(&mut c, "return true", &[], &[]), Value::Int(1));
    assert_eq!(eval(&mut c, "return false", &[], &[]), Value::Nil);
    // Arrays stop at the first nil.
    assert_eq!(
        eval(&mut c, "return {1,'a',{2},nil,4}", &[], &[]),
        Value::Array(vec![
            Value::Int(1),
            bulk("a"),
            Value::Array(vec![Value::Int(2)])
        ])
    );
    // Status and error tables.
    assert_eq!(
        eval(&mut c, "return {ok='fine'}", &[], &[]),
        Value::SimpleString("fine".into())
    );
    assert_eq!(
        eval(&mut c, "return redis.status_reply('PONG')", &[], &[]),
        Value::SimpleString("PONG".into())
    );
    // Replies into Lua: nil bulk -> false, status -> {ok=}, integer -> number.
    let v = eval(
        &mut c,
        "local a = redis.call('get', 'missing'); local s = redis.call('set', 'x', '1'); \
         return {type(a), tostring(a), s.ok, type(redis.call('incr', 'x'))}",
        &[],
        &[],
    );
    assert_eq!(
        v,
        Value::Array(vec![
            bulk("boolean"),
            bulk("false"),
            bulk("OK"),
            bulk("number")
        ])
    );
}

#[test]
fn resp3_replies_inside_the_script() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let v = eval(
        &mut c,
        "redis.setresp(3); local m = redis.call('hgetall', 'h'); \
         local n = redis.call('get', 'nokey'); return {m.map.f, type(n)}",
        &[],
        &[],
    );
    assert_eq!(v, Value::Array(vec![bulk("v"), bulk("nil")]));
    let e = eval_err(&mut c, "redis.setresp(4)");
    assert!(e.contains("RESP version must be 2 or 3."), "{e}");
}

#[test]
fn pcall_returns_error_tables_and_call_raises() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = cmd("SET").arg("foo").arg("bar").query(&mut c).unwrap();
    let v = eval(
        &mut c,
        "local e = redis.pcall('incr', 'foo'); return e.err",
        &[],
        &[],
    );
    assert_eq!(v, bulk("ERR value is not an integer or out of range"));
    let e = eval_err(&mut c, "return redis.call('incr', 'foo')");
    assert!(
        e.contains("value is not an integer or out of range script: ")
            && e.ends_with("on @user_script:1."),
        "{e}"
    );
    let e = eval_err(&mut c, "return redis.call('nosuchcommand')");
    assert!(
        e.contains("Unknown Redis command called from script"),
        "{e}"
    );
    let e = eval_err(&mut c, "return redis.call('get')");
    assert!(
        e.contains("Wrong number of args calling Redis command from script"),
        "{e}"
    );
    let e = eval_err(&mut c, "return redis.call('get', {})");
    assert!(e.contains("must be strings or integers"), "{e}");
    // redis.error_reply keeps the message as the error, with no ERR added.
    let e = eval_err(&mut c, "return redis.error_reply('MYCODE went wrong')");
    assert_eq!(e, "MYCODE went wrong");
    let e = eval_err(&mut c, "error('boom')");
    assert!(e.starts_with("ERR user_script:1: boom script: "), "{e}");
}

#[test]
fn script_cache_and_noscript() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let sha: String = cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 'cached'")
        .query(&mut c)
        .unwrap();
    assert_eq!(sha.len(), 40);
    let v: String = cmd("EVALSHA").arg(&sha).arg(0).query(&mut c).unwrap();
    assert_eq!(v, "cached");
    let v: String = cmd("EVALSHA")
        .arg(sha.to_uppercase())
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "cached");
    // EVAL caches too: its SHA1 is the body's.
    let _ = eval(&mut c, "return 1", &[], &[]);
    let one: String = cmd("EVAL")
        .arg("return redis.sha1hex('return 1')")
        .arg(0)
        .query(&mut c)
        .unwrap();
    let exists: Vec<i64> = cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .arg(&one)
        .arg("ffffffffffffffffffffffffffffffffffffffff")
        .query(&mut c)
        .unwrap();
    assert_eq!(exists, [1, 1, 0]);
    let _: () = cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    let e = err_of(&mut c, cmd("EVALSHA").arg(&sha).arg(0));
    assert_eq!(e, "NOSCRIPT No matching script. Please use EVAL.");
    let e = err_of(&mut c, cmd("EVALSHA").arg("short").arg(0));
    assert_eq!(e, "NOSCRIPT No matching script. Please use EVAL.");
    let e = err_of(&mut c, cmd("SCRIPT").arg("FLUSH").arg("now"));
    assert!(e.contains("only support SYNC|ASYNC"), "{e}");
    let e = err_of(&mut c, cmd("SCRIPT").arg("KILL"));
    assert!(e.starts_with("NOTBUSY"), "{e}");
    let e = err_of(&mut c, cmd("SCRIPT").arg("LOAD").arg("return 'x"));
    assert!(
        e.starts_with("ERR Error compiling script (new function): user_script:1:"),
        "{e}"
    );
}

#[test]
fn numkeys_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let e = err_of(&mut c, cmd("EVAL").arg("return 1").arg(2).arg("a"));
    assert_eq!(e, "ERR Number of keys can't be greater than number of args");
    let e = err_of(&mut c, cmd("EVAL").arg("return 1").arg(-1));
    assert_eq!(e, "ERR Number of keys can't be negative");
    let e = err_of(&mut c, cmd("EVAL").arg("return 1").arg("x"));
    assert_eq!(e, "ERR value is not an integer or out of range");
}

#[test]
fn read_only_scripts_and_noscript_commands() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let e = err_of(
        &mut c,
        cmd("EVAL_RO")
            .arg("return redis.call('set', 'a', 'b')")
            .arg(0),
    );
    assert!(
        e.contains("Write commands are not allowed from read-only scripts."),
        "{e}"
    );
    let v: Option<String> = cmd("EVAL_RO")
        .arg("return redis.call('get', 'a')")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, None);
    let e = eval_err(
        &mut c,
        "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')",
    );
    assert!(
        e.contains("read-only scripts") && e.ends_with("@user_script:2."),
        "{e}"
    );
    let e = err_of(&mut c, cmd("EVAL_RO").arg("#!lua\nreturn 1").arg(0));
    assert_eq!(
        e,
        "ERR Can not execute a script with write flag using *_ro command."
    );
    let e = eval_err(&mut c, "#!lua flags=bogus\nreturn 1");
    assert_eq!(e, "ERR Unexpected flag in script shebang: bogus");
    let e = eval_err(&mut c, "return redis.call('eval', 'return 1', 0)");
    assert!(
        e.contains("This Redis command is not allowed from script"),
        "{e}"
    );
    // Blocking commands do not block inside a script.
    let v = eval(
        &mut c,
        "return redis.call('blmpop', 0, 1, 'nolist', 'LEFT')",
        &[],
        &[],
    );
    assert_eq!(v, Value::Nil);
}

#[test]
fn global_protection() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let e = eval_err(&mut c, "a = 10");
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
    let e = eval_err(&mut c, "return undefined_thing");
    assert!(
        e.contains("Script attempted to access nonexistent global variable 'undefined_thing'"),
        "{e}"
    );
    let e = eval_err(&mut c, "redis.call = nil");
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
    // The library still works afterwards, and locals are fine.
    assert_eq!(
        eval(&mut c, "local x = 2; return x * 21", &[], &[]),
        Value::Int(42)
    );
}

#[test]
fn libraries_bit_cjson_sha1() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let v = eval(
        &mut c,
        "return {bit.band(0xff, 0x0f), bit.bxor(5, 3), bit.tohex(65535, -4), bit.lshift(1, 4), bit.tobit(0xffffffff)}",
        &[],
        &[],
    );
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Int(15),
            Value::Int(6),
            bulk("FFFF"),
            Value::Int(16),
            Value::Int(-1)
        ])
    );
    let v = eval(&mut c, "return cjson.encode({1,2,{a='b'}})", &[], &[]);
    assert_eq!(v, bulk("[1,2,{\"a\":\"b\"}]"));
    let v = eval(
        &mut c,
        "return cjson.decode('{\"x\":[5,6]}').x[2]",
        &[],
        &[],
    );
    assert_eq!(v, Value::Int(6));
    let v = eval(&mut c, "return redis.sha1hex('')", &[], &[]);
    assert_eq!(v, bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
}

#[test]
fn select_inside_script_does_not_change_the_client_db() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _ = eval(
        &mut c,
        "redis.call('select', 1); redis.call('set', 'k', 'in1'); return 1",
        &[],
        &[],
    );
    let v: Option<String> = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, None);
    let _: () = cmd("SELECT").arg(1).query(&mut c).unwrap();
    let v: Option<String> = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("in1"));
}

#[test]
fn acl_check_cmd_blocking_reads_and_cached_script_count() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<()>(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            ">123",
            "+@scripting",
            "+set",
            "~x*",
        ],
    );
    q::<()>(&mut c, &["AUTH", "bob", "123"]);
    let check = |c: &mut Connection, s: &str| eval(c, s, &[], &[]);
    assert_eq!(
        check(&mut c, "return redis.acl_check_cmd('set','xx',1)"),
        Value::Int(1)
    );
    assert_eq!(
        check(&mut c, "return redis.acl_check_cmd('hset','xx','f',1)"),
        Value::Nil
    );
    assert_eq!(
        check(&mut c, "return redis.acl_check_cmd('set','yy',1)"),
        Value::Nil
    );
    assert!(
        eval_err(&mut c, "return redis.acl_check_cmd('invalid-cmd','arg')")
            .starts_with("ERR Invalid command passed to redis.acl_check_cmd()")
    );
    q::<()>(&mut c, &["AUTH", "default", "x"]);
    // Asking is not trying: the refusals above are not in the ACL log.
    assert!(q::<Vec<Value>>(&mut c, &["ACL", "LOG"]).is_empty());
    // XREAD BLOCK has no meaning inside a script: an error, not a wait.
    assert!(eval_err(
        &mut c,
        "return redis.call('xread','BLOCK',0,'STREAMS','s','$')"
    )
    .starts_with("ERR xread command is not allowed with BLOCK option from scripts"));
    let info: String = q(&mut c, &["INFO", "memory"]);
    let cached = |info: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix("number_of_cached_scripts:"))
            .map(|v| v.trim().to_string())
    };
    let before = cached(&info).expect("field present");
    q::<String>(&mut c, &["SCRIPT", "LOAD", "return 'new one'"]);
    let after = cached(&q::<String>(&mut c, &["INFO", "memory"])).unwrap();
    assert_eq!(
        after.parse::<i64>().unwrap(),
        before.parse::<i64>().unwrap() + 1
    );
}

#[test]
fn cjson_depth_and_invalid_number_settings() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let v = eval(
        &mut c,
        "local t = {a={b=1}}
         cjson.encode_max_depth(1)
         local deep_ok = pcall(cjson.encode, t)
         local flat_ok = pcall(cjson.encode, {a=1})
         cjson.encode_max_depth(1000)
         cjson.decode_max_depth(1)
         local dec_ok = pcall(cjson.decode, '{\"a\":{\"b\":1}}')
         cjson.decode_max_depth(1000)
         local nan_ok = pcall(cjson.encode, {n=0/0})
         cjson.encode_invalid_numbers(true)
         local nan_allowed = pcall(cjson.encode, {n=0/0})
         cjson.encode_invalid_numbers(false)
         return {deep_ok and 1 or 0, flat_ok and 1 or 0, dec_ok and 1 or 0, nan_ok and 1 or 0, nan_allowed and 1 or 0}",
        &[],
        &[],
    );
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Int(0),
            Value::Int(1),
            Value::Int(0),
            Value::Int(0),
            Value::Int(1)
        ])
    );
}

#[test]
fn cmsgpack_packs_like_redis() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let hex = "local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h";
    // The bytes redis-server 7.0.15 gives for the same call.
    let v = eval(
        &mut c,
        &format!("local e = cmsgpack.pack({{1,2,{{a='b',c={{true,false}}}},0.1,-5,300,-1099511627776,2^40,'x'}}) {hex}"),
        &[],
        &[],
    );
    assert_eq!(
        v,
        bulk("99010282a161a162a16392c3c2cb3fb999999999999afbcd012cd3ffffff0000000000cf0000010000000000a178")
    );
    // A table holding itself is packed 16 levels deep, then nil.
    let v = eval(
        &mut c,
        &format!("local a = {{y=5}} local b = {{x=a}} a.x = b local e = cmsgpack.pack(a) {hex}"),
        &[],
        &[],
    );
    let Value::BulkString(h) = v else {
        panic!("{v:?}")
    };
    assert!(h.ends_with(b"a178c0"), "innermost x is nil");
    let v = eval(
        &mut c,
        "local e = cmsgpack.pack('one', {2, 3}, 'three')
         local off, first = cmsgpack.unpack_one(e, 0)
         local off2, second = cmsgpack.unpack_limit(e, 1, off)
         local off3, third = cmsgpack.unpack_one(e, off2)
         local all = {cmsgpack.unpack(e)}
         return {first, second[2], third, off3, #all}",
        &[],
        &[],
    );
    assert_eq!(
        v,
        Value::Array(vec![
            bulk("one"),
            Value::Int(3),
            bulk("three"),
            Value::Int(-1),
            Value::Int(3)
        ])
    );
    assert!(eval_err(&mut c, "return cmsgpack.unpack('\\205')").contains("Missing bytes in input."));
    assert!(eval_err(&mut c, "cmsgpack.pack = nil").contains("Attempt to modify a readonly table"));
}

/// Lua booleans convert by the script's own protocol (redis.setresp), not the client's, as
/// Redis 7.0 does; and line breaks in a big number cannot break the reply (they become
/// spaces). Over raw sockets, to see the exact RESP types.
#[test]
fn lua_booleans_follow_the_scripts_protocol() {
    let srv = Server::start(&[]);
    let ev = |s: &mut std::net::TcpStream, script: &str, want: &[u8]| {
        let req = format!(
            "*3\r\n$4\r\nEVAL\r\n${}\r\n{}\r\n$1\r\n0\r\n",
            script.len(),
            script
        );
        let got = raw_roundtrip(s, req.as_bytes(), want.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "{script}"
        );
    };
    let mut r2 = srv.raw();
    ev(&mut r2, "return true", b":1\r\n");
    ev(&mut r2, "return false", b"$-1\r\n");
    ev(&mut r2, "redis.setresp(3) return true", b":1\r\n");
    ev(&mut r2, "redis.setresp(3) return false", b":0\r\n");
    ev(
        &mut r2,
        "return {big_number='123\\r\\n123'}",
        b"$8\r\n123  123\r\n",
    );
    let mut r3 = srv.raw();
    let hello = raw_roundtrip(&mut r3, b"HELLO 3\r\n", 1);
    assert_eq!(hello[0], b'%');
    // Drain the rest of HELLO's map.
    r3.set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let mut sink = [0u8; 4096];
    let _ = std::io::Read::read(&mut r3, &mut sink);
    r3.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    ev(&mut r3, "return true", b":1\r\n");
    ev(&mut r3, "return false", b"_\r\n");
    ev(&mut r3, "redis.setresp(3) return true", b"#t\r\n");
    ev(&mut r3, "redis.setresp(3) return false", b"#f\r\n");
    ev(
        &mut r3,
        "redis.setresp(3) return {big_number='1\\n2'}",
        b"(1 2\r\n",
    );
}

/// Redis's script OOM rule: over maxmemory, a script without flags may read but not start
/// writing; allow-oom scripts and functions may write; no-writes implies allow-oom.
/// (ferrokv refused every write of allow-oom scripts and functions.)
#[test]
fn allow_oom_scripts_and_functions_write_over_maxmemory() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = q(&mut c, &["SET", "x", "123"]);
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=oom\nredis.register_function{function_name='w', callback=function() return redis.call('set','x','f') end, flags={'allow-oom'}}")
        .query(&mut c)
        .unwrap();
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    let e = err(
        &mut c,
        &["EVAL", "redis.call('set','x',1) return 1", "1", "x"],
    );
    assert!(
        e.starts_with("OOM command not allowed when used memory"),
        "{e}"
    );
    let v: String = q(&mut c, &["EVAL", "return redis.call('get','x')", "1", "x"]);
    assert_eq!(v, "123");
    let e = err(&mut c, &["EVAL", "#!lua flags=\nreturn 1", "1", "x"]);
    assert!(e.starts_with("OOM allow-oom flag is not set"), "{e}");
    let v: i64 = q(
        &mut c,
        &[
            "EVAL",
            "#!lua flags=allow-oom\nredis.call('set','x',1) return 1",
            "1",
            "x",
        ],
    );
    assert_eq!(v, 1);
    let v: i64 = q(
        &mut c,
        &[
            "EVAL_RO",
            "#!lua flags=no-writes\nredis.call('get','x') return 1",
            "1",
            "x",
        ],
    );
    assert_eq!(v, 1);
    let v: String = q(&mut c, &["FCALL", "w", "0"]);
    assert_eq!(v, "OK");
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    let v: String = q(&mut c, &["GET", "x"]);
    assert_eq!(v, "f");
}

/// DEBUG SET-DISABLE-DENY-SCRIPTS 1 lets scripts call noscript commands such as DEBUG,
/// as Redis's own test suite does (it answered OK and changed nothing).
#[test]
fn debug_set_disable_deny_scripts() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let e = err(
        &mut c,
        &[
            "EVAL",
            "return redis.call('debug', 'protocol', 'integer')",
            "0",
        ],
    );
    assert!(
        e.contains("This Redis command is not allowed from script"),
        "{e}"
    );
    let _: () = q(&mut c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"]);
    let v: redis::Value = q(
        &mut c,
        &[
            "EVAL",
            "return redis.call('debug', 'protocol', 'integer')",
            "0",
        ],
    );
    assert!(matches!(v, redis::Value::Int(_)), "{v:?}");
    let _: () = q(&mut c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0"]);
    let e = err(
        &mut c,
        &[
            "EVAL",
            "return redis.call('debug', 'protocol', 'integer')",
            "0",
        ],
    );
    assert!(
        e.contains("This Redis command is not allowed from script"),
        "{e}"
    );
}

/// A script is one moment in time for key expiry (Redis 7.0): a key set with PX 1 inside
/// it still exists after the script slept, and is gone afterwards. DEBUG OBJECT sees an
/// expired key that nothing has deleted yet, and a script's lookup deletes it.
#[test]
fn scripts_judge_expiry_by_their_start_time() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = q(&mut c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"]);
    let n: i64 = q(
        &mut c,
        &[
            "EVAL",
            "redis.call('SET', 'key', 'value', 'PX', '1') redis.call('DEBUG', 'SLEEP', 0.01) return redis.call('EXISTS', 'key')",
            "0",
        ],
    );
    assert_eq!(n, 1);
    let n: i64 = q(&mut c, &["EXISTS", "key"]);
    assert_eq!(n, 0);
    let _: () = q(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let _: () = q(&mut c, &["SET", "key", "value", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let _: String = q(&mut c, &["DEBUG", "OBJECT", "key"]);
    let n: i64 = q(&mut c, &["EVAL", "return redis.call('EXISTS', 'key')", "0"]);
    assert_eq!(n, 0);
    assert_eq!(err(&mut c, &["DEBUG", "OBJECT", "key"]), "ERR no such key");
}

/// A command refused inside a script (OOM) is counted once in the error stats, not again
/// for the script's failure it causes or for a pcall'ed error table the script returns
/// (Redis 7.0 unit/scripting "Consistent eval error reporting").
#[test]
fn script_errors_are_counted_once() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let stat = |c: &mut redis::Connection, section: &str, prefix: &str| -> String {
        let info: String = q(c, &["INFO", section]);
        info.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or("")
            .to_string()
    };
    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    let e = err(
        &mut c,
        &["EVAL", "return redis.call('set','x','y')", "1", "x"],
    );
    assert!(e.starts_with("OOM command not allowed"), "{e}");
    assert_eq!(
        stat(&mut c, "errorstats", "errorstat_OOM:"),
        "errorstat_OOM:count=1"
    );
    assert_eq!(
        stat(&mut c, "stats", "total_error_replies:"),
        "total_error_replies:1"
    );
    assert!(
        stat(&mut c, "commandstats", "cmdstat_set:").contains("rejected_calls=1,failed_calls=0")
    );
    assert!(
        stat(&mut c, "commandstats", "cmdstat_eval:").contains("rejected_calls=0,failed_calls=1")
    );
    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
    let e = err(
        &mut c,
        &["EVAL", "return redis.pcall('set','x','y')", "1", "x"],
    );
    assert!(e.starts_with("OOM command not allowed"), "{e}");
    assert_eq!(
        stat(&mut c, "errorstats", "errorstat_OOM:"),
        "errorstat_OOM:count=1"
    );
    assert_eq!(
        stat(&mut c, "stats", "total_error_replies:"),
        "total_error_replies:1"
    );
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    // A refusal by the script's own rules (a write from EVAL_RO) is a rejected call of
    // the command, counted once.
    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
    let e = err(
        &mut c,
        &["EVAL_RO", "return redis.call('set','x','y')", "1", "x"],
    );
    assert!(
        e.starts_with("ERR Write commands are not allowed from read-only scripts"),
        "{e}"
    );
    assert_eq!(
        stat(&mut c, "errorstats", "errorstat_ERR:"),
        "errorstat_ERR:count=1"
    );
    assert_eq!(
        stat(&mut c, "stats", "total_error_replies:"),
        "total_error_replies:1"
    );
    assert!(
        stat(&mut c, "commandstats", "cmdstat_set:").contains("rejected_calls=1,failed_calls=0")
    );
    assert!(stat(&mut c, "commandstats", "cmdstat_eval_ro:")
        .contains("rejected_calls=0,failed_calls=1"));
}

#[test]
fn redis_call_takes_as_many_arguments_as_unpack_gives() {
    // Redis 7.0 "Script check unpack with massive arguments": 7999 values through
    // redis.call (the runner's own frame used to overflow Lua's C stack limit).
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let n: i64 = q(
        &mut c,
        &[
            "EVAL",
            "local a = {} for i=1,7999 do a[i] = 1 end return redis.call('lpush', 'l', unpack(a))",
            "0",
        ],
    );
    assert_eq!(n, 7999);
    // A nil among the arguments is still refused.
    let e = eval_err(&mut c, "return redis.call('get', nil, 'x')");
    assert!(e.contains("must be strings or integers"), "{e}");
}

#[test]
fn resp3_attributes_are_skipped_in_replies_to_scripts() {
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = srv.client();
    // DEBUG is noscript: the suite allows it from scripts this way.
    q::<String>(&mut c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"]);
    let v: String = q(
        &mut c,
        &[
            "EVAL",
            "redis.setresp(3) return redis.call('debug', 'protocol', 'attrib')",
            "0",
        ],
    );
    assert_eq!(v, "Some real reply following the attribute");
}

/// More cached scripts (and functions) than mlua's reference stack holds (8000): each is
/// kept in the Lua registry, so the 8000th SCRIPT LOAD no longer panics the server
/// (Redis's memefficiency unit loads 50,000), and every one still runs.
#[test]
fn ten_thousand_cached_scripts_and_a_library_of_nine_thousand_functions() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("SCRIPT").arg("LOAD").arg(format!("return {i}"));
    }
    let shas: Vec<String> = pipe.query(&mut c).expect("10k SCRIPT LOADs");
    for i in [0usize, 7999, 8000, 9999] {
        let v: i64 = redis::cmd("EVALSHA")
            .arg(&shas[i])
            .arg(0)
            .query(&mut c)
            .expect("a cached script runs");
        assert_eq!(v, i as i64);
    }
    let mut code = String::from("#!lua name=many\n");
    for i in 0..9000 {
        code += &format!("redis.register_function('f{i}', function() return {i} end)\n");
    }
    let _: String = q(&mut c, &["FUNCTION", "LOAD", &code]);
    let v: i64 = q(&mut c, &["FCALL", "f8999", "0"]);
    assert_eq!(v, 8999);
    let _: String = q(&mut c, &["FUNCTION", "LOAD", "REPLACE", &code]);
    let v: i64 = q(&mut c, &["FCALL", "f0", "0"]);
    assert_eq!(v, 0);
    let pong: String = q(&mut c, &["PING"]);
    assert_eq!(pong, "PONG");
}
