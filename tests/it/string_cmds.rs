//! Tests of the string command family: replies and error texts as Redis 7.0 gives them.
use crate::common::*;

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
    assert_eq!(err(c, &["SET", "k", "v", "NX", "XX"]), "ERR syntax error");
    assert_eq!(
        err(c, &["SET", "k", "v", "EX", "10", "PX", "100"]),
        "ERR syntax error"
    );
    assert_eq!(err(c, &["SET", "k", "v", "EX"]), "ERR syntax error");
    assert_eq!(
        err(c, &["SET", "k", "v", "KEEPTTL", "EX", "1"]),
        "ERR syntax error"
    );
    assert_eq!(err(c, &["SET", "k", "v", "EX", "x"]), NOT_INT);
    assert_eq!(
        err(c, &["SET", "k", "v", "EX", "0"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(c, &["SET", "k", "v", "EX", "9223372036854775807"]),
        "ERR invalid expire time in 'set' command"
    );
    q::<()>(c, &["RPUSH", "list", "a"]);
    assert_eq!(err(c, &["SET", "list", "v", "GET"]), WRONGTYPE);
    assert_eq!(
        q::<String>(c, &["TYPE", "list"]),
        "list",
        "failed SET GET wrote nothing"
    );
    assert_eq!(err(c, &["GET", "list"]), WRONGTYPE);
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
        err(c, &["SETEX", "k", "0", "c"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err(c, &["PSETEX", "k", "-5", "c"]),
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
    assert_eq!(err(c, &["GETDEL", "l"]), WRONGTYPE);
    assert_eq!(err(c, &["GETSET", "l", "x"]), WRONGTYPE);
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
        err(c, &["GETEX", "k", "EX", "10", "PERSIST"]),
        "ERR syntax error"
    );
    assert_eq!(err(c, &["GETEX", "k", "NX"]), "ERR syntax error");
    assert_eq!(
        err(c, &["GETEX", "k", "EX", "-1"]),
        "ERR invalid expire time in 'getex' command"
    );
    q::<()>(c, &["RPUSH", "l", "a"]);
    assert_eq!(err(c, &["GETEX", "l"]), WRONGTYPE);
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
        err(c, &["INCR", "n"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err(c, &["DECRBY", "n", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    q::<()>(c, &["SET", "s", " 11"]);
    assert_eq!(err(c, &["INCR", "s"]), NOT_INT);
    assert_eq!(err(c, &["INCRBY", "n", "1.5"]), NOT_INT);
    q::<()>(c, &["SET", "t", "5", "EX", "100"]);
    q::<()>(c, &["INCR", "t"]);
    assert!(q::<i64>(c, &["TTL", "t"]) > 0, "INCR keeps the TTL");
    q::<()>(c, &["SADD", "set", "a"]);
    assert_eq!(err(c, &["INCR", "set"]), WRONGTYPE);
    assert_eq!(err(c, &["INCRBYFLOAT", "set", "1"]), WRONGTYPE);
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
        err(c, &["INCRBYFLOAT", "f", "abc"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(c, &["INCRBYFLOAT", "f", "nan"]),
        "ERR value is not a valid float"
    );
    q::<()>(c, &["SET", "m", "1e308"]);
    assert_eq!(
        err(c, &["INCRBYFLOAT", "m", "1e308"]),
        "ERR increment would produce NaN or Infinity"
    );
    q::<()>(c, &["SET", "sp", "1 "]);
    assert_eq!(
        err(c, &["INCRBYFLOAT", "sp", "1"]),
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
        err(c, &["MSET", "a", "1", "b"]),
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
    assert_eq!(err(c, &["GETRANGE", "s", "a", "1"]), NOT_INT);
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
        err(c, &["SETRANGE", "s", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        err(c, &["SETRANGE", "s", "536870911", "xx"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    q::<()>(c, &["RPUSH", "l", "x"]);
    assert_eq!(err(c, &["APPEND", "l", "x"]), WRONGTYPE);
    assert_eq!(err(c, &["STRLEN", "l"]), WRONGTYPE);
    assert_eq!(err(c, &["SETRANGE", "l", "0", "x"]), WRONGTYPE);
    assert_eq!(err(c, &["GETRANGE", "l", "0", "1"]), WRONGTYPE);
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
        err(c, &["LCS", "a", "b", "LEN", "IDX"]),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(err(c, &["LCS", "a", "b", "FOO"]), "ERR syntax error");
    assert_eq!(q::<String>(c, &["LCS", "a", "nokey"]), "");
    q::<()>(c, &["RPUSH", "l", "x"]);
    assert_eq!(
        err(c, &["LCS", "a", "l"]),
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
        err(c, &["SETBIT", "b", "-1", "1"]),
        "ERR bit offset is not an integer or out of range"
    );
    assert_eq!(
        err(c, &["SETBIT", "b", "1", "2"]),
        "ERR bit is not an integer or out of range"
    );
    assert_eq!(err(c, &["BITCOUNT", "s", "1"]), "ERR syntax error");
}

#[test]
fn bitop_combines_pads_and_deletes_on_empty() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "a", "foobar"]);
    q::<()>(c, &["SET", "b", "abcdef12"]);
    // Shorter sources are zero-padded to the longest: AND clears the tail, OR/XOR keep it.
    assert_eq!(q::<i64>(c, &["BITOP", "AND", "d", "a", "b"]), 8);
    assert_eq!(q::<Vec<u8>>(c, &["GET", "d"]), b"`bc`ab\0\0");
    assert_eq!(q::<i64>(c, &["BITOP", "or", "d", "a", "b"]), 8);
    assert_eq!(q::<Vec<u8>>(c, &["GET", "d"]), b"goofev12");
    assert_eq!(q::<i64>(c, &["BITOP", "XOR", "d", "a", "a", "missing"]), 6);
    assert_eq!(q::<Vec<u8>>(c, &["GET", "d"]), vec![0u8; 6]);
    assert_eq!(q::<i64>(c, &["BITOP", "NOT", "d", "a"]), 6);
    let not: Vec<u8> = b"foobar".iter().map(|b| !b).collect();
    assert_eq!(q::<Vec<u8>>(c, &["GET", "d"]), not);
    assert_eq!(q::<String>(c, &["OBJECT", "ENCODING", "d"]), "raw");
    // Integer-encoded sources count as their decimal text.
    q::<()>(c, &["SET", "n", "12"]);
    assert_eq!(q::<i64>(c, &["BITOP", "OR", "d", "n"]), 2);
    assert_eq!(q::<String>(c, &["GET", "d"]), "12");
    // Nothing but missing keys: the destination is deleted, its TTL with it.
    q::<()>(c, &["SET", "d", "x", "EX", "100"]);
    assert_eq!(q::<i64>(c, &["BITOP", "AND", "d", "nope1", "nope2"]), 0);
    assert_eq!(q::<i64>(c, &["EXISTS", "d"]), 0);
    // Errors leave the destination alone.
    q::<()>(c, &["SET", "d", "keep"]);
    q::<()>(c, &["LPUSH", "l", "x"]);
    assert_eq!(err(c, &["BITOP", "AND", "d", "a", "l"]), WRONGTYPE);
    assert_eq!(
        err(c, &["BITOP", "NOT", "d", "a", "b"]),
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(err(c, &["BITOP", "NAND", "d", "a"]), "ERR syntax error");
    assert_eq!(q::<String>(c, &["GET", "d"]), "keep");
}

#[test]
fn bitcount_negative_crossed_range_is_empty() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "s", "xxxx"]);
    // -6 and -7 would both clamp to byte 0; Redis answers 0 for a crossed negative range.
    assert_eq!(q::<i64>(c, &["BITCOUNT", "s", "-6", "-7"]), 0);
    assert_eq!(q::<i64>(c, &["BITCOUNT", "s", "-7", "-6"]), 4);
    assert_eq!(q::<i64>(c, &["BITCOUNT", "s", "0", "-1"]), 16);
}

#[test]
fn short_and_long_values_and_in_place_edits_report_redis_encodings() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let long = "y".repeat(45);
    for (val, enc) in [
        ("abc", "embstr"),
        (&"x".repeat(44)[..], "embstr"),
        (&long[..], "raw"),
    ] {
        q::<()>(c, &["SET", "k", val]);
        assert_eq!(q::<String>(c, &["OBJECT", "ENCODING", "k"]), enc, "{val}");
        assert_eq!(q::<String>(c, &["GET", "k"]), val);
    }
    // Edited in place: raw whatever the length; the bytes are what the edits made.
    q::<()>(c, &["SET", "k", "ab"]);
    assert_eq!(q::<i64>(c, &["APPEND", "k", "cd"]), 4);
    assert_eq!(q::<String>(c, &["OBJECT", "ENCODING", "k"]), "raw");
    assert_eq!(q::<i64>(c, &["SETRANGE", "k", "30", "z"]), 31);
    let mut want = b"abcd".to_vec();
    want.resize(30, 0);
    want.push(b'z');
    assert_eq!(q::<Vec<u8>>(c, &["GET", "k"]), want);
    // 'a' is 0b0110_0001: clear its last bit, set the one before: 'b'.
    assert_eq!(q::<i64>(c, &["SETBIT", "k", "7", "0"]), 1);
    assert_eq!(q::<i64>(c, &["SETBIT", "k", "6", "1"]), 0);
    assert_eq!(q::<String>(c, &["GETRANGE", "k", "0", "3"]), "bbcd");
}

#[test]
fn bitfield_widths_offsets_and_overflow_policies() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let r: Vec<Option<i64>> = q(
        c,
        &[
            "BITFIELD", "k", "SET", "i8", "0", "100", "GET", "i8", "0", "INCRBY", "i8", "0", "100",
            "OVERFLOW", "SAT", "INCRBY", "i8", "0", "100", "OVERFLOW", "FAIL", "INCRBY", "i8", "0",
            "100", "GET", "u4", "4",
        ],
    );
    // SET answers the old value; 100+100 wraps to -56 (default WRAP); -56+100 = 44 fits;
    // under FAIL 44+100 overflows: nil, nothing written; u4 at bit 4 is 44's low nibble.
    assert_eq!(
        r,
        vec![Some(0), Some(100), Some(-56), Some(44), None, Some(12)]
    );
    // #N addresses the N-th field of the type's width; u63 and i64 are the widest.
    let r: Vec<i64> = q(
        c,
        &["BITFIELD", "k", "SET", "u8", "#1", "255", "GET", "u8", "8"],
    );
    assert_eq!(r, vec![0, 255]);
    let r: Vec<i64> = q(
        c,
        &[
            "BITFIELD", "k", "SET", "i64", "64", "-1", "GET", "i64", "64",
        ],
    );
    assert_eq!(r, vec![0, -1]);
    assert_eq!(q::<i64>(c, &["STRLEN", "k"]), 16);
    let r: Vec<i64> = q(
        c,
        &["BITFIELD_RO", "k", "GET", "u8", "#1", "GET", "i8", "200"],
    );
    assert_eq!(r, vec![255, 0], "past the end reads zeros");
    for (args, want) in [
        (&["BITFIELD", "k", "GET", "u64", "0"][..], "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."),
        (&["BITFIELD", "k", "GET", "i8", "-1"], "ERR bit offset is not an integer or out of range"),
        (&["BITFIELD", "k", "SET", "i8", "0", "x"], "ERR value is not an integer or out of range"),
        (&["BITFIELD", "k", "OVERFLOW", "BOUNCE"], "ERR Invalid OVERFLOW type specified"),
        (&["BITFIELD", "k", "GET", "i8"], "ERR syntax error"),
        (&["BITFIELD_RO", "k", "SET", "i8", "0", "1"], "ERR BITFIELD_RO only supports the GET subcommand"),
    ] {
        assert_eq!(err(c, args), want, "{args:?}");
    }
    q::<()>(c, &["LPUSH", "l", "x"]);
    assert_eq!(err(c, &["BITFIELD", "l", "GET", "i8", "0"]), WRONGTYPE);
    // Reads of a missing key do not create it.
    assert_eq!(
        q::<Vec<i64>>(c, &["BITFIELD", "nokey", "GET", "i8", "0"]),
        vec![0]
    );
    assert_eq!(q::<i64>(c, &["EXISTS", "nokey"]), 0);
}

#[test]
fn setbit_and_bitfield_count_only_real_changes() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let dirty = |c: &mut redis::Connection| -> i64 {
        let info: String = q(c, &["INFO", "persistence"]);
        info.lines()
            .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("rdb_changes_since_last_save")
    };
    let d0 = dirty(c);
    // Creating the key is a change even when the bit written is 0.
    assert_eq!(q::<i64>(c, &["SETBIT", "b", "0", "0"]), 0);
    q::<Vec<i64>>(c, &["BITFIELD", "f", "SET", "i5", "0", "0"]);
    assert_eq!(dirty(c), d0 + 2);
    // Writing what is already there changes nothing.
    assert_eq!(q::<i64>(c, &["SETBIT", "b", "0", "0"]), 0);
    q::<Vec<i64>>(c, &["BITFIELD", "f", "SET", "i5", "0", "0"]);
    assert_eq!(dirty(c), d0 + 2);
    assert_eq!(q::<i64>(c, &["SETBIT", "b", "0", "1"]), 0);
    assert_eq!(q::<i64>(c, &["SETBIT", "b", "0", "1"]), 1);
    q::<Vec<i64>>(
        c,
        &[
            "BITFIELD", "f", "SET", "i5", "0", "1", "SET", "i5", "5", "1",
        ],
    );
    assert_eq!(dirty(c), d0 + 5);
    // Growing the string is a change too.
    assert_eq!(q::<i64>(c, &["SETBIT", "b", "100", "0"]), 0);
    assert_eq!(dirty(c), d0 + 6);
}
