//! Tests of the string command family: replies and error texts as Redis 7.0 gives them.
use crate::common::*;
use redis::FromRedisValue;

/// Run a command given as words and convert its reply.
pub fn q<T: FromRedisValue>(c: &mut redis::Connection, words: &[&str]) -> T {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{words:?} failed: {e}"))
}

/// Run a command given as words and return its error text.
pub fn qerr(c: &mut redis::Connection, words: &[&str]) -> String {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    err_of(c, &mut cmd)
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";

#[test]
fn set_options_and_errors() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    assert_eq!(q::<String>(c, &["SET", "k", "v"]), "OK");
    assert_eq!(q::<Option<String>>(c, &["SET", "k", "w", "NX"]), None);
    assert_eq!(q::<String>(c, &["GET", "k"]), "v");
    assert_eq!(q::<Option<String>>(c, &["SET", "nokey", "w", "XX"]), None);
    assert_eq!(q::<i64>(c, &["EXISTS", "nokey"]), 0);
    assert_eq!(q::<String>(c, &["SET", "k", "w", "XX", "GET"]), "v");
    assert_eq!(q::<Option<String>>(c, &["SET", "new", "1", "GET"]), None);
    // NX + GET on an existing key: old value back, nothing written.
    assert_eq!(q::<String>(c, &["SET", "k", "z", "NX", "GET"]), "w");
    assert_eq!(q::<String>(c, &["GET", "k"]), "w");
    assert_eq!(qerr(c, &["SET", "k", "v", "NX", "XX"]), "ERR syntax error");
    assert_eq!(
        qerr(c, &["SET", "k", "v", "EX", "10", "PX", "100"]),
        "ERR syntax error"
    );
    assert_eq!(qerr(c, &["SET", "k", "v", "EX"]), "ERR syntax error");
    assert_eq!(
        qerr(c, &["SET", "k", "v", "KEEPTTL", "EX", "1"]),
        "ERR syntax error"
    );
    assert_eq!(qerr(c, &["SET", "k", "v", "EX", "x"]), NOT_INT);
    assert_eq!(
        qerr(c, &["SET", "k", "v", "EX", "0"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        qerr(c, &["SET", "k", "v", "EX", "9223372036854775807"]),
        "ERR invalid expire time in 'set' command"
    );
    q::<()>(c, &["RPUSH", "list", "a"]);
    assert_eq!(qerr(c, &["SET", "list", "v", "GET"]), WRONGTYPE);
    assert_eq!(
        q::<String>(c, &["TYPE", "list"]),
        "list",
        "failed SET GET wrote nothing"
    );
    assert_eq!(qerr(c, &["GET", "list"]), WRONGTYPE);
    // Plain SET overwrites any type.
    assert_eq!(q::<String>(c, &["SET", "list", "s"]), "OK");
    assert_eq!(q::<String>(c, &["GET", "list"]), "s");
}

#[test]
fn set_expiry_options_and_keepttl() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "k", "v", "EX", "100"]);
    let t: i64 = q(c, &["TTL", "k"]);
    assert!((99..=100).contains(&t), "{t}");
    q::<()>(c, &["SET", "k", "v2", "KEEPTTL"]);
    assert!(q::<i64>(c, &["TTL", "k"]) > 0, "KEEPTTL keeps the TTL");
    q::<()>(c, &["SET", "k", "v3"]);
    assert_eq!(q::<i64>(c, &["TTL", "k"]), -1, "plain SET clears the TTL");
    q::<()>(c, &["SET", "k", "v", "PX", "100000"]);
    assert!(q::<i64>(c, &["PTTL", "k"]) > 99_000);
    q::<()>(c, &["SET", "k", "v", "EXAT", "4000000000"]);
    assert_eq!(q::<i64>(c, &["EXPIRETIME", "k"]), 4_000_000_000);
    q::<()>(c, &["SET", "k", "v", "PXAT", "4000000000123"]);
    assert_eq!(q::<i64>(c, &["PEXPIRETIME", "k"]), 4_000_000_000_123);
    // An absolute time in the past: the key is gone at once.
    q::<()>(c, &["SET", "k", "v", "PXAT", "1"]);
    assert_eq!(q::<Option<String>>(c, &["GET", "k"]), None);
}

#[test]
fn setnx_setex_psetex_getset_getdel() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    assert_eq!(q::<i64>(c, &["SETNX", "k", "a"]), 1);
    assert_eq!(q::<i64>(c, &["SETNX", "k", "b"]), 0);
    assert_eq!(q::<String>(c, &["SETEX", "k", "100", "c"]), "OK");
    assert_eq!(q::<String>(c, &["GET", "k"]), "c");
    assert!(q::<i64>(c, &["TTL", "k"]) > 0);
    assert_eq!(
        qerr(c, &["SETEX", "k", "0", "c"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        qerr(c, &["PSETEX", "k", "-5", "c"]),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(q::<String>(c, &["PSETEX", "p", "100000", "x"]), "OK");
    assert!(q::<i64>(c, &["PTTL", "p"]) > 0);
    assert_eq!(q::<String>(c, &["GETSET", "p", "y"]), "x");
    assert_eq!(q::<i64>(c, &["TTL", "p"]), -1, "GETSET clears the TTL");
    assert_eq!(q::<Option<String>>(c, &["GETSET", "fresh", "1"]), None);
    assert_eq!(q::<String>(c, &["GETDEL", "p"]), "y");
    assert_eq!(q::<i64>(c, &["EXISTS", "p"]), 0);
    assert_eq!(q::<Option<String>>(c, &["GETDEL", "p"]), None);
    q::<()>(c, &["RPUSH", "l", "a"]);
    assert_eq!(qerr(c, &["GETDEL", "l"]), WRONGTYPE);
    assert_eq!(qerr(c, &["GETSET", "l", "x"]), WRONGTYPE);
    assert_eq!(q::<i64>(c, &["SETNX", "l", "x"]), 0);
}

#[test]
fn getex_options() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "k", "v"]);
    assert_eq!(q::<String>(c, &["GETEX", "k"]), "v");
    assert_eq!(q::<i64>(c, &["TTL", "k"]), -1);
    assert_eq!(q::<String>(c, &["GETEX", "k", "EX", "100"]), "v");
    assert!(q::<i64>(c, &["TTL", "k"]) > 0);
    assert_eq!(q::<String>(c, &["GETEX", "k", "PERSIST"]), "v");
    assert_eq!(q::<i64>(c, &["TTL", "k"]), -1);
    assert_eq!(q::<String>(c, &["GETEX", "k", "PXAT", "1"]), "v");
    assert_eq!(
        q::<i64>(c, &["EXISTS", "k"]),
        0,
        "a past time deletes the key"
    );
    assert_eq!(q::<Option<String>>(c, &["GETEX", "k", "EX", "10"]), None);
    assert_eq!(
        qerr(c, &["GETEX", "k", "EX", "10", "PERSIST"]),
        "ERR syntax error"
    );
    assert_eq!(qerr(c, &["GETEX", "k", "NX"]), "ERR syntax error");
    assert_eq!(
        qerr(c, &["GETEX", "k", "EX", "-1"]),
        "ERR invalid expire time in 'getex' command"
    );
    q::<()>(c, &["RPUSH", "l", "a"]);
    assert_eq!(qerr(c, &["GETEX", "l"]), WRONGTYPE);
}

#[test]
fn counters() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    assert_eq!(q::<i64>(c, &["INCR", "n"]), 1);
    assert_eq!(q::<i64>(c, &["INCRBY", "n", "41"]), 42);
    assert_eq!(q::<i64>(c, &["DECR", "n"]), 41);
    assert_eq!(q::<i64>(c, &["DECRBY", "n", "-9"]), 50);
    assert_eq!(q::<String>(c, &["OBJECT", "ENCODING", "n"]), "int");
    q::<()>(c, &["SET", "n", "9223372036854775807"]);
    assert_eq!(
        qerr(c, &["INCR", "n"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        qerr(c, &["DECRBY", "n", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    q::<()>(c, &["SET", "s", " 11"]);
    assert_eq!(qerr(c, &["INCR", "s"]), NOT_INT);
    assert_eq!(qerr(c, &["INCRBY", "n", "1.5"]), NOT_INT);
    q::<()>(c, &["SET", "t", "5", "EX", "100"]);
    q::<()>(c, &["INCR", "t"]);
    assert!(q::<i64>(c, &["TTL", "t"]) > 0, "INCR keeps the TTL");
    q::<()>(c, &["SADD", "set", "a"]);
    assert_eq!(qerr(c, &["INCR", "set"]), WRONGTYPE);
    assert_eq!(qerr(c, &["INCRBYFLOAT", "set", "1"]), WRONGTYPE);
}

#[test]
fn incrbyfloat_formats_like_redis() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    assert_eq!(q::<String>(c, &["INCRBYFLOAT", "f", "10.5"]), "10.5");
    assert_eq!(q::<String>(c, &["INCRBYFLOAT", "f", "0.5"]), "11");
    assert_eq!(q::<String>(c, &["INCRBYFLOAT", "f", "5.0e3"]), "5011");
    assert_eq!(q::<String>(c, &["INCRBYFLOAT", "f", "-5011"]), "0");
    assert_eq!(q::<String>(c, &["GET", "f"]), "0");
    assert_eq!(q::<String>(c, &["INCRBYFLOAT", "g", "0.1"]), "0.1");
    assert_eq!(
        q::<String>(c, &["INCRBYFLOAT", "g", "0.2"]),
        "0.3",
        "no f64 noise"
    );
    assert_eq!(q::<String>(c, &["INCRBYFLOAT", "h", "1e-5"]), "0.00001");
    assert_eq!(
        q::<String>(c, &["INCRBYFLOAT", "h", "3.0e20"]),
        "300000000000000000000"
    );
    q::<()>(c, &["SET", "big", "17179869184"]);
    assert_eq!(
        q::<String>(c, &["INCRBYFLOAT", "big", "1.5"]),
        "17179869185.5"
    );
    assert_eq!(
        qerr(c, &["INCRBYFLOAT", "f", "abc"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        qerr(c, &["INCRBYFLOAT", "f", "nan"]),
        "ERR value is not a valid float"
    );
    q::<()>(c, &["SET", "m", "1e308"]);
    assert_eq!(
        qerr(c, &["INCRBYFLOAT", "m", "1e308"]),
        "ERR increment would produce NaN or Infinity"
    );
    q::<()>(c, &["SET", "sp", "1 "]);
    assert_eq!(
        qerr(c, &["INCRBYFLOAT", "sp", "1"]),
        "ERR value is not a valid float"
    );
}

#[test]
fn mget_mset_msetnx() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    assert_eq!(q::<String>(c, &["MSET", "a", "1", "b", "2"]), "OK");
    q::<()>(c, &["RPUSH", "l", "x"]);
    let v: Vec<Option<String>> = q(c, &["MGET", "a", "nokey", "b", "l"]);
    assert_eq!(v, vec![Some("1".into()), None, Some("2".into()), None]);
    assert_eq!(
        qerr(c, &["MSET", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(q::<i64>(c, &["MSETNX", "a", "9", "z", "9"]), 0);
    assert_eq!(q::<i64>(c, &["EXISTS", "z"]), 0, "MSETNX is all or nothing");
    assert_eq!(q::<i64>(c, &["MSETNX", "y", "9", "z", "9"]), 1);
    assert_eq!(q::<String>(c, &["GET", "z"]), "9");
}

#[test]
fn append_strlen_ranges() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    assert_eq!(q::<i64>(c, &["APPEND", "s", "hello"]), 5);
    assert_eq!(q::<i64>(c, &["APPEND", "s", " world"]), 11);
    assert_eq!(q::<i64>(c, &["STRLEN", "s"]), 11);
    assert_eq!(q::<i64>(c, &["STRLEN", "nokey"]), 0);
    assert_eq!(q::<String>(c, &["GETRANGE", "s", "0", "4"]), "hello");
    assert_eq!(q::<String>(c, &["GETRANGE", "s", "-5", "-1"]), "world");
    assert_eq!(q::<String>(c, &["GETRANGE", "s", "5", "2"]), "");
    assert_eq!(q::<String>(c, &["GETRANGE", "s", "-1", "-5"]), "");
    assert_eq!(
        q::<String>(c, &["GETRANGE", "s", "0", "1000"]),
        "hello world"
    );
    assert_eq!(q::<String>(c, &["SUBSTR", "s", "6", "-1"]), "world");
    assert_eq!(q::<String>(c, &["GETRANGE", "nokey", "0", "-1"]), "");
    assert_eq!(qerr(c, &["GETRANGE", "s", "a", "1"]), NOT_INT);
    q::<()>(c, &["SET", "n", "1234"]);
    assert_eq!(q::<i64>(c, &["STRLEN", "n"]), 4);
    assert_eq!(q::<String>(c, &["GETRANGE", "n", "1", "2"]), "23");
    assert_eq!(q::<i64>(c, &["APPEND", "n", "5"]), 5);
    assert_eq!(q::<String>(c, &["GET", "n"]), "12345");
    assert_eq!(q::<i64>(c, &["SETRANGE", "s", "6", "WORLD"]), 11);
    assert_eq!(q::<String>(c, &["GET", "s"]), "hello WORLD");
    assert_eq!(q::<i64>(c, &["SETRANGE", "pad", "3", "x"]), 4);
    assert_eq!(q::<Vec<u8>>(c, &["GET", "pad"]), b"\0\0\0x");
    assert_eq!(q::<i64>(c, &["SETRANGE", "empty", "5", ""]), 0);
    assert_eq!(q::<i64>(c, &["EXISTS", "empty"]), 0);
    assert_eq!(q::<i64>(c, &["SETRANGE", "s", "100", ""]), 11);
    assert_eq!(
        qerr(c, &["SETRANGE", "s", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        qerr(c, &["SETRANGE", "s", "536870911", "xx"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    q::<()>(c, &["RPUSH", "l", "x"]);
    assert_eq!(qerr(c, &["APPEND", "l", "x"]), WRONGTYPE);
    assert_eq!(qerr(c, &["STRLEN", "l"]), WRONGTYPE);
    assert_eq!(qerr(c, &["SETRANGE", "l", "0", "x"]), WRONGTYPE);
    assert_eq!(qerr(c, &["GETRANGE", "l", "0", "1"]), WRONGTYPE);
}

#[test]
fn lcs_variants() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["MSET", "a", "ohmytext", "b", "mynewtext"]);
    assert_eq!(q::<String>(c, &["LCS", "a", "b"]), "mytext");
    assert_eq!(q::<i64>(c, &["LCS", "a", "b", "LEN"]), 6);
    let v: redis::Value = q(
        c,
        &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    );
    // [matches, [[[4,7],[5,8],4]], len, 6]
    let expect = redis::Value::Array(vec![
        redis::Value::BulkString(b"matches".to_vec()),
        redis::Value::Array(vec![redis::Value::Array(vec![
            redis::Value::Array(vec![redis::Value::Int(4), redis::Value::Int(7)]),
            redis::Value::Array(vec![redis::Value::Int(5), redis::Value::Int(8)]),
            redis::Value::Int(4),
        ])]),
        redis::Value::BulkString(b"len".to_vec()),
        redis::Value::Int(6),
    ]);
    assert_eq!(v, expect);
    let v: redis::Value = q(c, &["LCS", "a", "b", "IDX"]);
    let redis::Value::Array(parts) = v else {
        panic!("array expected")
    };
    let redis::Value::Array(matches) = &parts[1] else {
        panic!("array expected")
    };
    assert_eq!(matches.len(), 2, "ranges 'text' and 'my'");
    assert_eq!(
        qerr(c, &["LCS", "a", "b", "LEN", "IDX"]),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(qerr(c, &["LCS", "a", "b", "FOO"]), "ERR syntax error");
    assert_eq!(q::<String>(c, &["LCS", "a", "nokey"]), "");
    q::<()>(c, &["RPUSH", "l", "x"]);
    assert_eq!(
        qerr(c, &["LCS", "a", "l"]),
        "ERR The specified keys must contain string values"
    );
}

#[test]
fn bitmaps() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    assert_eq!(q::<i64>(c, &["SETBIT", "b", "7", "1"]), 0);
    assert_eq!(q::<i64>(c, &["SETBIT", "b", "7", "1"]), 1);
    assert_eq!(q::<Vec<u8>>(c, &["GET", "b"]), vec![1u8]);
    assert_eq!(q::<i64>(c, &["GETBIT", "b", "7"]), 1);
    assert_eq!(q::<i64>(c, &["GETBIT", "b", "100"]), 0);
    assert_eq!(q::<i64>(c, &["BITCOUNT", "b"]), 1);
    q::<()>(c, &["SET", "s", "foobar"]);
    assert_eq!(q::<i64>(c, &["BITCOUNT", "s"]), 26);
    assert_eq!(q::<i64>(c, &["BITCOUNT", "s", "1", "1"]), 6);
    assert_eq!(q::<i64>(c, &["BITCOUNT", "s", "5", "30", "BIT"]), 17);
    assert_eq!(q::<i64>(c, &["BITPOS", "s", "1"]), 1);
    q::<()>(c, &["SET", "ff", "\u{7f}"]);
    assert_eq!(q::<i64>(c, &["BITPOS", "ff", "0"]), 0);
    q::<()>(c, &["SETBIT", "full", "0", "1"]);
    for i in 1..8 {
        q::<()>(c, &["SETBIT", "full", &i.to_string(), "1"]);
    }
    assert_eq!(
        q::<i64>(c, &["BITPOS", "full", "0"]),
        8,
        "padding with zeros"
    );
    assert_eq!(q::<i64>(c, &["BITPOS", "full", "0", "0", "0"]), -1);
    assert_eq!(
        qerr(c, &["SETBIT", "b", "-1", "1"]),
        "ERR bit offset is not an integer or out of range"
    );
    assert_eq!(
        qerr(c, &["SETBIT", "b", "1", "2"]),
        "ERR bit is not an integer or out of range"
    );
    assert_eq!(qerr(c, &["BITCOUNT", "s", "1"]), "ERR syntax error");
}
