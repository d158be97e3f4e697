//! Redis 7 functions: FUNCTION LOAD/LIST/DELETE/FLUSH/STATS, FCALL and FCALL_RO, with
//! the error texts redis-server 7.0.15 gives.
use crate::common::*;
use redis::Value;

const LIB: &str = "#!lua name=mylib
redis.register_function('setit', function(keys, args) return redis.call('SET', keys[1], args[1]) end)
redis.register_function{function_name='getit', callback=function(keys, args)
  return redis.call('GET', keys[1]) end, flags={'no-writes'}, description='reads a key'}";

#[test]
fn load_call_list_delete() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["FUNCTION", "LOAD", LIB]), "mylib");
    assert_eq!(
        q::<String>(&mut c, &["FCALL", "setit", "1", "k", "v"]),
        "OK"
    );
    assert_eq!(q::<String>(&mut c, &["FCALL_RO", "getit", "1", "k"]), "v");
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "v");
    // Functions get KEYS and ARGV as arguments.
    q::<String>(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=args\nredis.register_function('f', function(k, a) return {k[1], a[1], #k, #a} end)",
        ],
    );
    let v: Vec<Value> = q(&mut c, &["FCALL", "f", "1", "a", "b", "c"]);
    assert_eq!(
        v,
        [
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"b".to_vec()),
            Value::Int(1),
            Value::Int(2)
        ]
    );
    // LIST: libraries by name, their functions, flags and descriptions; code on request.
    let list: Vec<Vec<Value>> = q(
        &mut c,
        &["FUNCTION", "LIST", "LIBRARYNAME", "my*", "WITHCODE"],
    );
    assert_eq!(list.len(), 1);
    let lib = &list[0];
    assert_eq!(lib[0], Value::BulkString(b"library_name".to_vec()));
    assert_eq!(lib[1], Value::BulkString(b"mylib".to_vec()));
    assert_eq!(lib[3], Value::BulkString(b"LUA".to_vec()));
    let Value::Array(funcs) = &lib[5] else {
        panic!("functions: {:?}", lib[5])
    };
    assert_eq!(funcs.len(), 2);
    let getit = funcs
        .iter()
        .find(|f| matches!(f, Value::Array(a) if a[1] == Value::BulkString(b"getit".to_vec())))
        .expect("getit listed");
    let Value::Array(getit) = getit else {
        unreachable!()
    };
    assert_eq!(getit[3], Value::BulkString(b"reads a key".to_vec()));
    assert_eq!(
        getit[5],
        Value::Array(vec![Value::BulkString(b"no-writes".to_vec())])
    );
    assert_eq!(lib[7], Value::BulkString(LIB.as_bytes().to_vec()));
    // SCRIPT FLUSH does not touch functions; FUNCTION DELETE and FLUSH do.
    q::<()>(&mut c, &["SCRIPT", "FLUSH"]);
    assert_eq!(q::<String>(&mut c, &["FCALL_RO", "getit", "1", "k"]), "v");
    q::<()>(&mut c, &["FUNCTION", "DELETE", "mylib"]);
    assert_eq!(
        err(&mut c, &["FCALL", "setit", "1", "k", "v"]),
        "ERR Function not found"
    );
    assert_eq!(
        err(&mut c, &["FUNCTION", "DELETE", "mylib"]),
        "ERR Library not found"
    );
    let stats: Vec<Value> = q(&mut c, &["FUNCTION", "STATS"]);
    assert_eq!(stats[1], Value::Nil, "nothing running");
    q::<()>(&mut c, &["FUNCTION", "FLUSH"]);
    assert!(q::<Vec<Value>>(&mut c, &["FUNCTION", "LIST"]).is_empty());
}

#[test]
fn load_errors_and_replace() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let load = |c: &mut redis::Connection, code: &str| err(c, &["FUNCTION", "LOAD", code]);
    assert_eq!(load(&mut c, "return 1"), "ERR Missing library metadata");
    assert_eq!(
        load(&mut c, "#! name=test\nreturn 1"),
        "ERR Engine '' not found"
    );
    assert_eq!(
        load(&mut c, "#!lua name=a foo=bar\nreturn 1"),
        "ERR Invalid metadata value given: foo=bar"
    );
    assert_eq!(
        load(&mut c, "#!lua\nreturn 1"),
        "ERR Library name was not given"
    );
    assert_eq!(
        load(&mut c, "#!lua name=x\nreturn 1"),
        "ERR No functions registered"
    );
    assert_eq!(
        load(&mut c, "#!lua name=x\nredis.register_function('f', 1)"),
        "ERR Error registering functions: ERR second argument to redis.register_function must be a function"
    );
    // Only the load API exists while a library loads.
    assert_eq!(
        load(&mut c, "#!lua name=y\nredis.call('ping')"),
        "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"
    );
    assert!(load(&mut c, "#!lua name=c\nthis is not lua")
        .starts_with("ERR Error compiling function: user_function:2:"));
    // A library that never returns is stopped.
    assert!(load(&mut c, "#!lua name=loop\nwhile true do end").contains("FUNCTION LOAD timeout"));
    let v1 = "#!lua name=lib\nredis.register_function('f', function() return 1 end)";
    let v2 = "#!lua name=lib\nredis.register_function('f', function() return 2 end)";
    q::<String>(&mut c, &["FUNCTION", "LOAD", v1]);
    assert_eq!(load(&mut c, v2), "ERR Library 'lib' already exists");
    q::<String>(&mut c, &["FUNCTION", "LOAD", "REPLACE", v2]);
    assert_eq!(q::<i64>(&mut c, &["FCALL", "f", "0"]), 2);
    // A function name is unique across libraries; a failed REPLACE keeps the old version.
    assert_eq!(
        load(
            &mut c,
            "#!lua name=other\nredis.register_function('f', function() return 3 end)"
        ),
        "ERR Function f already exists"
    );
    assert!(err(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=lib\nredis.register_function('f', function() return 3 end) error('x')"
        ]
    )
    .starts_with("ERR Error registering functions"));
    assert_eq!(q::<i64>(&mut c, &["FCALL", "f", "0"]), 2);
    assert_eq!(
        err(&mut c, &["FUNCTION", "LOAD", "FOO", v1]),
        "ERR Unknown option given: FOO"
    );
}

#[test]
fn fcall_rules() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<String>(&mut c, &["FUNCTION", "LOAD", LIB]);
    assert_eq!(
        err(&mut c, &["FCALL_RO", "setit", "1", "k", "v"]),
        "ERR Can not execute a script with write flag using *_ro command."
    );
    assert_eq!(
        err(&mut c, &["FCALL", "setit", "x", "k"]),
        "ERR Bad number of keys provided"
    );
    assert_eq!(
        err(&mut c, &["FCALL", "setit", "3", "k"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err(&mut c, &["FCALL", "setit", "-1", "k"]),
        "ERR Number of keys can't be negative"
    );
    // A no-writes function cannot write even through FCALL.
    q::<String>(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=w\nredis.register_function{function_name='w', callback=function() return redis.call('SET', 'a', 'b') end, flags={'no-writes'}}",
        ],
    );
    assert!(err(&mut c, &["FCALL", "w", "0"])
        .contains("Write commands are not allowed from read-only scripts"));
    // register_function kept past the load cannot be used at run time.
    q::<String>(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=late\nlocal lib = redis\nlib.register_function('late', function() lib.register_function('x', function() end) end)",
        ],
    );
    assert!(err(&mut c, &["FCALL", "late", "0"])
        .starts_with("ERR redis.register_function can only be called on FUNCTION LOAD command"));
}

#[test]
fn dump_and_restore_libraries() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<String>(&mut c, &["FUNCTION", "LOAD", LIB]);
    let payload: Vec<u8> = q(&mut c, &["FUNCTION", "DUMP"]);
    let restore = |c: &mut redis::Connection, policy: Option<&str>| {
        let mut cmd = redis::cmd("FUNCTION");
        cmd.arg("RESTORE").arg(&payload[..]);
        if let Some(p) = policy {
            cmd.arg(p);
        }
        cmd.query::<()>(c)
    };
    // APPEND (the default) refuses a library that exists, and changes nothing.
    let e = restore(&mut c, None).unwrap_err();
    assert_eq!(e.detail(), Some("Library mylib already exists"));
    assert!(restore(&mut c, Some("REPLACE")).is_ok());
    q::<()>(&mut c, &["FUNCTION", "FLUSH"]);
    assert_eq!(
        err(&mut c, &["FCALL", "setit", "1", "k", "v"]),
        "ERR Function not found"
    );
    restore(&mut c, None).unwrap();
    assert_eq!(
        q::<String>(&mut c, &["FCALL", "setit", "1", "k", "v"]),
        "OK"
    );
    // FLUSH replaces everything; a bad payload leaves the functions as they were.
    q::<String>(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=extra\nredis.register_function('extra', function() return 1 end)",
        ],
    );
    restore(&mut c, Some("FLUSH")).unwrap();
    assert_eq!(
        err(&mut c, &["FCALL", "extra", "0"]),
        "ERR Function not found"
    );
    let e = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg("bad payload")
        .query::<()>(&mut c)
        .unwrap_err();
    assert_eq!(
        e.detail(),
        Some("DUMP payload version or checksum are wrong")
    );
    assert_eq!(
        err(&mut c, &["FUNCTION", "RESTORE", "x", "MERGE"]),
        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
    );
    assert_eq!(q::<String>(&mut c, &["FCALL_RO", "getit", "1", "k"]), "v");
}
