//! Tests of the generic key commands: DEL EXISTS TYPE KEYS SCAN RENAME RANDOMKEY COPY MOVE
//! TOUCH OBJECT and the EXPIRE/TTL family, with Redis 7.0's replies and error texts.
use crate::common::*;

use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn del_exists_type_touch() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["MSET", "a", "1", "b", "2"]);
    q::<()>(c, &["RPUSH", "l", "x"]);
    assert_eq!(
        q::<i64>(c, &["EXISTS", "a", "a", "nokey", "l"]),
        3,
        "duplicates count"
    );
    assert_eq!(q::<String>(c, &["TYPE", "a"]), "string");
    assert_eq!(q::<String>(c, &["TYPE", "l"]), "list");
    assert_eq!(q::<String>(c, &["TYPE", "nokey"]), "none");
    assert_eq!(q::<i64>(c, &["TOUCH", "a", "nokey", "l"]), 2);
    assert_eq!(q::<i64>(c, &["DEL", "a", "a", "nokey"]), 1);
    assert_eq!(q::<i64>(c, &["UNLINK", "b", "l"]), 2);
    assert_eq!(q::<i64>(c, &["DBSIZE"]), 0);
    assert_eq!(
        err(c, &["DEL"]),
        "ERR wrong number of arguments for 'del' command"
    );
}

#[test]
fn keys_patterns_skip_expired() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(
        c,
        &["MSET", "foo_a", "1", "foo_b", "2", "bar", "3", "f*x", "4"],
    );
    q::<()>(c, &["SET", "foo_gone", "1", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    let mut k: Vec<String> = q(c, &["KEYS", "foo*"]);
    k.sort();
    assert_eq!(k, vec!["foo_a", "foo_b"]);
    let k: Vec<String> = q(c, &["KEYS", "f\\*x"]);
    assert_eq!(k, vec!["f*x"]);
    let k: Vec<String> = q(c, &["KEYS", "*"]);
    assert_eq!(k.len(), 4);
    let long = "a*".repeat(30) + "b";
    let k: Vec<String> = q(c, &["KEYS", &long]);
    assert!(k.is_empty(), "nested stars do not hang");
}

/// Run a whole SCAN iteration with extra options; returns every key seen.
fn scan_all(c: &mut redis::Connection, opts: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let mut words = vec!["SCAN", cursor.as_str()];
        words.extend_from_slice(opts);
        let (next, keys): (String, Vec<String>) = q(c, &words);
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            return seen;
        }
    }
}

#[test]
fn scan_options_and_errors() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    for i in 0..300 {
        q::<()>(c, &["SET", &format!("key:{i}"), "v"]);
    }
    q::<()>(c, &["SADD", "aset", "m"]);
    let all: HashSet<String> = scan_all(c, &["COUNT", "7"]).into_iter().collect();
    assert_eq!(all.len(), 301);
    let m = scan_all(c, &["MATCH", "key:1?", "COUNT", "50"]);
    assert_eq!(m.len(), 10);
    let t = scan_all(c, &["TYPE", "set"]);
    assert_eq!(t, vec!["aset"]);
    assert!(scan_all(c, &["TYPE", "hash"]).is_empty());
    assert_eq!(err(c, &["SCAN", "x"]), "ERR invalid cursor");
    assert_eq!(err(c, &["SCAN", " 1"]), "ERR invalid cursor");
    assert_eq!(
        err(c, &["SCAN", "18446744073709551616"]),
        "ERR invalid cursor"
    );
    let (_, _): (String, Vec<String>) = q(c, &["SCAN", "+0"]);
    assert_eq!(err(c, &["SCAN", "0", "COUNT", "0"]), "ERR syntax error");
    assert_eq!(
        err(c, &["SCAN", "0", "COUNT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err(c, &["SCAN", "0", "MATCH"]), "ERR syntax error");
    assert_eq!(err(c, &["SCAN", "0", "FOO", "bar"]), "ERR syntax error");
    // A cursor past the end is simply finished.
    let (next, keys): (String, Vec<String>) = q(c, &["SCAN", "18446744073709551615"]);
    assert_eq!((next.as_str(), keys.len()), ("0", 0));
}

#[test]
fn scan_returns_every_key_present_throughout() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    for i in 0..1000 {
        q::<()>(c, &["SET", &format!("stable:{i}"), "v"]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut n = 0;
    loop {
        let (next, keys): (String, Vec<String>) = q(c, &["SCAN", &cursor, "COUNT", "20"]);
        seen.extend(keys);
        // Churn between calls: add new keys and delete some of the added ones.
        for j in 0..15 {
            q::<()>(c, &["SET", &format!("churn:{n}:{j}"), "v"]);
        }
        if n > 0 {
            q::<()>(
                c,
                &[
                    "DEL",
                    &format!("churn:{}:3", n - 1),
                    &format!("churn:{}:7", n - 1),
                ],
            );
        }
        n += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    for i in 0..1000 {
        assert!(seen.contains(&format!("stable:{i}")), "stable:{i} missing");
    }
}

#[test]
fn rename_renamenx() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "a", "1", "EX", "100"]);
    assert_eq!(q::<String>(c, &["RENAME", "a", "b"]), "OK");
    assert_eq!(q::<i64>(c, &["EXISTS", "a"]), 0);
    assert_eq!(q::<String>(c, &["GET", "b"]), "1");
    assert!(q::<i64>(c, &["TTL", "b"]) > 0, "RENAME keeps the TTL");
    assert_eq!(err(c, &["RENAME", "nokey", "x"]), "ERR no such key");
    assert_eq!(err(c, &["RENAMENX", "nokey", "x"]), "ERR no such key");
    assert_eq!(q::<String>(c, &["RENAME", "b", "b"]), "OK");
    assert_eq!(q::<i64>(c, &["RENAMENX", "b", "b"]), 0);
    q::<()>(c, &["SET", "c", "3"]);
    assert_eq!(q::<i64>(c, &["RENAMENX", "b", "c"]), 0);
    assert_eq!(q::<i64>(c, &["RENAMENX", "b", "d"]), 1);
    q::<()>(c, &["RPUSH", "l", "x"]);
    assert_eq!(q::<String>(c, &["RENAME", "l", "c"]), "OK");
    assert_eq!(q::<String>(c, &["TYPE", "c"]), "list", "RENAME overwrites");
    assert_eq!(q::<i64>(c, &["TTL", "c"]), -1);
}

#[test]
fn randomkey_skips_expired() {
    let srv = Server::start(&["--hz", "1"]);
    let c = &mut srv.client();
    assert_eq!(q::<Option<String>>(c, &["RANDOMKEY"]), None);
    for i in 0..20 {
        q::<()>(c, &["SET", &format!("gone{i}"), "v", "PX", "1"]);
    }
    q::<()>(c, &["SET", "live", "v"]);
    q::<()>(c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    std::thread::sleep(Duration::from_millis(20));
    for _ in 0..10 {
        assert_eq!(q::<String>(c, &["RANDOMKEY"]), "live");
    }
    // Each expired key RANDOMKEY met was deleted as an expiry, and counted as one.
    let left = q::<i64>(c, &["DBSIZE"]) - 1;
    let stats = q::<String>(c, &["INFO", "stats"]);
    assert!(left < 20, "RANDOMKEY deleted none");
    assert!(
        stats.contains(&format!("expired_keys:{}\r\n", 20 - left)),
        "{left} left: {stats}"
    );
}

#[test]
fn expire_family_and_ttl() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(c, &["TTL", "k"]), -1);
    assert_eq!(q::<i64>(c, &["PTTL", "k"]), -1);
    assert_eq!(q::<i64>(c, &["EXPIRETIME", "k"]), -1);
    assert_eq!(q::<i64>(c, &["TTL", "nokey"]), -2);
    assert_eq!(q::<i64>(c, &["PEXPIRETIME", "nokey"]), -2);
    assert_eq!(q::<i64>(c, &["EXPIRE", "nokey", "10"]), 0);
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "100"]), 1);
    assert_eq!(q::<i64>(c, &["TTL", "k"]), 100);
    assert_eq!(q::<i64>(c, &["PEXPIRE", "k", "50000"]), 1);
    assert_eq!(q::<i64>(c, &["TTL", "k"]), 50);
    assert_eq!(q::<i64>(c, &["EXPIREAT", "k", "4000000000"]), 1);
    assert_eq!(q::<i64>(c, &["EXPIRETIME", "k"]), 4_000_000_000);
    assert_eq!(q::<i64>(c, &["PEXPIREAT", "k", "4000000000500"]), 1);
    assert_eq!(q::<i64>(c, &["PEXPIRETIME", "k"]), 4_000_000_000_500);
    assert_eq!(
        q::<i64>(c, &["EXPIRETIME", "k"]),
        4_000_000_001,
        "rounded as Redis does"
    );
    // NX / XX / GT / LT
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "100", "NX"]), 0);
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "100", "XX"]), 1);
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "50", "GT"]), 0);
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "200", "GT"]), 1);
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "300", "LT"]), 0);
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "150", "LT", "XX"]), 1);
    assert_eq!(q::<i64>(c, &["PERSIST", "k"]), 1);
    assert_eq!(q::<i64>(c, &["PERSIST", "k"]), 0);
    assert_eq!(q::<i64>(c, &["PERSIST", "nokey"]), 0);
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "100", "XX"]), 0);
    assert_eq!(
        q::<i64>(c, &["EXPIRE", "k", "100", "GT"]),
        0,
        "no TTL counts as infinite"
    );
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "100", "LT"]), 1);
    assert_eq!(q::<i64>(c, &["PERSIST", "k"]), 1);
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "100", "NX"]), 1);
    // Errors
    assert_eq!(
        err(c, &["EXPIRE", "k", "10", "NX", "XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        err(c, &["EXPIRE", "k", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(
        err(c, &["EXPIRE", "k", "10", "AB"]),
        "ERR Unsupported option AB"
    );
    assert_eq!(
        err(c, &["EXPIRE", "k", ""]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(c, &["EXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err(c, &["PEXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'pexpire' command"
    );
    // A time in the past deletes the key and still answers 1.
    assert_eq!(q::<i64>(c, &["EXPIRE", "k", "-10"]), 1);
    assert_eq!(q::<i64>(c, &["EXISTS", "k"]), 0);
    q::<()>(c, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(c, &["PEXPIREAT", "k", "-9223372036854775808"]), 1);
    assert_eq!(q::<i64>(c, &["EXISTS", "k"]), 0);
}

#[test]
fn lazy_and_active_expiry() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "lazy", "v", "PX", "50"]);
    q::<()>(c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        q::<i64>(c, &["DBSIZE"]),
        1,
        "still stored with active expiry off"
    );
    assert_eq!(
        q::<Option<String>>(c, &["GET", "lazy"]),
        None,
        "but invisible"
    );
    assert_eq!(q::<i64>(c, &["TTL", "lazy"]), -2);
    assert_eq!(q::<i64>(c, &["DBSIZE"]), 0, "the lookup deleted it");
    q::<()>(c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    for i in 0..50 {
        q::<()>(c, &["SET", &format!("a{i}"), "v", "PX", "50"]);
    }
    q::<()>(c, &["SET", "keep", "v"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while q::<i64>(c, &["DBSIZE"]) > 1 {
        assert!(
            Instant::now() < deadline,
            "active expiry did not remove the keys"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(q::<i64>(c, &["EXISTS", "keep"]), 1);
    // The largest possible expiry must not overflow the TTL bookkeeping of active expiry.
    q::<()>(c, &["SET", "far", "v"]);
    assert_eq!(q::<i64>(c, &["PEXPIREAT", "far", "9223372036854775807"]), 1);
    assert_eq!(q::<i64>(c, &["EXPIRETIME", "far"]), 9_223_372_036_854_776);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        q::<i64>(c, &["EXISTS", "far"]),
        1,
        "server survived active expiry cycles"
    );
}

#[test]
fn copy_all_types_and_options() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "s", "v", "EX", "100"]);
    q::<()>(c, &["RPUSH", "l", "a", "b"]);
    q::<()>(c, &["HSET", "h", "f", "v"]);
    q::<()>(c, &["SADD", "set", "x", "y"]);
    q::<()>(c, &["ZADD", "z", "1", "one", "2", "two"]);
    assert_eq!(q::<i64>(c, &["COPY", "s", "s2"]), 1);
    assert!(q::<i64>(c, &["TTL", "s2"]) > 0, "COPY keeps the TTL");
    assert_eq!(q::<i64>(c, &["COPY", "l", "l2"]), 1);
    assert_eq!(q::<i64>(c, &["COPY", "h", "h2"]), 1);
    assert_eq!(q::<i64>(c, &["COPY", "set", "set2"]), 1);
    assert_eq!(q::<i64>(c, &["COPY", "z", "z2"]), 1);
    // Copies are independent of the originals.
    q::<()>(c, &["RPUSH", "l", "c"]);
    q::<()>(c, &["ZADD", "z", "3", "three"]);
    assert_eq!(
        q::<Vec<String>>(c, &["LRANGE", "l2", "0", "-1"]),
        vec!["a", "b"]
    );
    assert_eq!(q::<i64>(c, &["ZCARD", "z2"]), 2);
    assert_eq!(q::<f64>(c, &["ZSCORE", "z2", "two"]), 2.0);
    assert_eq!(q::<String>(c, &["HGET", "h2", "f"]), "v");
    assert_eq!(q::<i64>(c, &["SCARD", "set2"]), 2);
    // DEBUG DIGEST-VALUE: a copy digests like its original, a changed value does not.
    let dv = |c: &mut redis::Connection, k: &str| {
        q::<Vec<String>>(c, &["DEBUG", "DIGEST-VALUE", k]).remove(0)
    };
    assert_eq!(dv(c, "h"), dv(c, "h2"));
    assert_eq!(dv(c, "set"), dv(c, "set2"));
    assert_ne!(dv(c, "z"), dv(c, "z2"), "z got a member after the copy");
    assert_ne!(dv(c, "l"), dv(c, "l2"));
    assert_eq!(dv(c, "nokey"), "0".repeat(40));
    // Existing destination: 0 unless REPLACE.
    assert_eq!(q::<i64>(c, &["COPY", "s", "l2"]), 0);
    assert_eq!(q::<i64>(c, &["COPY", "s", "l2", "REPLACE"]), 1);
    assert_eq!(q::<String>(c, &["TYPE", "l2"]), "string");
    assert_eq!(q::<i64>(c, &["COPY", "nokey", "x"]), 0);
    // Another database.
    assert_eq!(q::<i64>(c, &["COPY", "s", "s", "DB", "1"]), 1);
    q::<()>(c, &["SELECT", "1"]);
    assert_eq!(q::<String>(c, &["GET", "s"]), "v");
    q::<()>(c, &["SELECT", "0"]);
    assert_eq!(
        err(c, &["COPY", "s", "s"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        err(c, &["COPY", "s", "x", "DB", "99"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(c, &["COPY", "s", "x", "DB", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err(c, &["COPY", "s", "x", "FOO"]), "ERR syntax error");
}

#[test]
fn move_between_databases() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "k", "v", "EX", "100"]);
    assert_eq!(q::<i64>(c, &["MOVE", "k", "1"]), 1);
    assert_eq!(q::<i64>(c, &["EXISTS", "k"]), 0);
    assert_eq!(q::<i64>(c, &["MOVE", "k", "1"]), 0);
    q::<()>(c, &["SET", "k", "other"]);
    assert_eq!(q::<i64>(c, &["MOVE", "k", "1"]), 0, "target has the key");
    q::<()>(c, &["SELECT", "1"]);
    assert_eq!(q::<String>(c, &["GET", "k"]), "v");
    assert!(q::<i64>(c, &["TTL", "k"]) > 0, "MOVE keeps the TTL");
    assert_eq!(
        err(c, &["MOVE", "k", "1"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(err(c, &["MOVE", "k", "16"]), "ERR DB index is out of range");
    assert_eq!(
        err(c, &["MOVE", "k", "x"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn object_subcommands() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "i", "12"]);
    q::<()>(c, &["SET", "e", "hello"]);
    q::<()>(c, &["SET", "r", &"x".repeat(50)]);
    q::<()>(c, &["SET", "a", "hello"]);
    q::<()>(c, &["APPEND", "a", "!"]);
    q::<()>(c, &["SADD", "ints", "1", "2"]);
    q::<()>(c, &["SADD", "strs", "a"]);
    let enc = |c: &mut redis::Connection, k: &str| q::<String>(c, &["OBJECT", "ENCODING", k]);
    assert_eq!(enc(c, "i"), "int");
    assert_eq!(enc(c, "e"), "embstr");
    assert_eq!(enc(c, "r"), "raw");
    assert_eq!(enc(c, "a"), "raw", "APPEND makes a raw string");
    assert_eq!(enc(c, "ints"), "intset");
    assert_eq!(enc(c, "strs"), "hashtable");
    assert_eq!(
        q::<Option<String>>(c, &["OBJECT", "ENCODING", "nokey"]),
        None
    );
    assert_eq!(q::<i64>(c, &["OBJECT", "REFCOUNT", "i"]), i32::MAX as i64);
    assert_eq!(q::<i64>(c, &["OBJECT", "REFCOUNT", "e"]), 1);
    assert!(q::<i64>(c, &["OBJECT", "IDLETIME", "e"]) <= 2);
    assert_eq!(
        err(c, &["OBJECT", "FREQ", "e"]),
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
    q::<()>(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    assert!(q::<i64>(c, &["OBJECT", "FREQ", "e"]) >= 0);
    assert!(
        err(c, &["OBJECT", "IDLETIME", "e"]).starts_with("ERR An LFU maxmemory policy is selected")
    );
    let help: Vec<String> = q(c, &["OBJECT", "HELP"]);
    assert!(help[0].starts_with("OBJECT <subcommand>"));
    assert_eq!(
        err(c, &["OBJECT", "FOO", "k"]),
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
}

#[test]
fn wrongtype_and_resp3_shapes() {
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    let r = raw_roundtrip(&mut s, b"HELLO 3\r\n", 10);
    assert!(r.starts_with(b"%"));
    std::thread::sleep(Duration::from_millis(50));
    let r = raw_roundtrip(&mut s, b"MSET a ohmytext b mynewtext\r\n", 5);
    assert_eq!(r, b"+OK\r\n");
    let r = raw_roundtrip(&mut s, b"LCS a b IDX MINMATCHLEN 5\r\n", 30);
    assert_eq!(r, b"%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:6\r\n");
    let r = raw_roundtrip(&mut s, b"OBJECT ENCODING nokey\r\n", 3);
    assert_eq!(r, b"_\r\n");
    let r = raw_roundtrip(&mut s, b"GETDEL nokey\r\n", 3);
    assert_eq!(r, b"_\r\n");
}

/// A key's name, value, expiry and encoding live in one block that EXPIRE/PERSIST, RENAME,
/// COPY and MOVE rebuild: every type, with short and long names, comes through unchanged.
#[test]
fn values_survive_every_entry_rebuild() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let long = "k".repeat(300);
    let hundred = "v".repeat(100);
    let setup: Vec<Vec<&str>> = vec![
        vec!["SET", "int", "12345"],
        vec!["SET", "short", "abc"],
        vec!["SET", "hundred", &hundred],
        vec!["SET", "raw", "ab"],
        vec!["APPEND", "raw", "cd"],
        vec!["SET", &long, "long-named"],
        vec!["RPUSH", "list", "a", "b", "c"],
        vec!["HSET", "hash", "f1", "v1", "f2", "v2"],
        vec!["SADD", "set", "m1", "m2", "3"],
        vec!["ZADD", "zset", "1", "a", "2.5", "b"],
        vec!["XADD", "stream", "1-1", "f", "v"],
    ];
    for cmd in &setup {
        q::<()>(c, cmd);
    }
    let keys = [
        "int", "short", "hundred", "raw", &long, "list", "hash", "set", "zset", "stream",
    ];
    let state = |c: &mut redis::Connection, k: &str| -> (String, String) {
        (
            q::<Vec<String>>(c, &["DEBUG", "DIGEST-VALUE", k]).concat(),
            q::<String>(c, &["OBJECT", "ENCODING", k]),
        )
    };
    for k in keys {
        let before = state(c, k);
        assert_eq!(q::<i64>(c, &["EXPIRE", k, "1000"]), 1);
        assert_eq!(q::<i64>(c, &["PEXPIRE", k, "2000000"]), 1);
        assert_eq!(state(c, k), before, "{k} after EXPIRE");
        assert!(q::<i64>(c, &["PTTL", k]) > 1_000_000);
        assert_eq!(q::<i64>(c, &["PERSIST", k]), 1);
        assert_eq!(q::<i64>(c, &["TTL", k]), -1);
        assert_eq!(state(c, k), before, "{k} after PERSIST");
        q::<()>(c, &["EXPIRE", k, "1000"]);
        let renamed = format!("{k}-renamed-to-a-name-longer-than-before");
        q::<()>(c, &["RENAME", k, &renamed]);
        assert_eq!(state(c, &renamed), before, "{k} after RENAME");
        assert!(
            q::<i64>(c, &["TTL", &renamed]) > 0,
            "{k}: RENAME keeps the TTL"
        );
        assert_eq!(q::<i64>(c, &["COPY", &renamed, "copy"]), 1);
        assert_eq!(state(c, "copy").0, before.0, "{k} COPY");
        assert!(q::<i64>(c, &["TTL", "copy"]) > 0, "{k}: COPY keeps the TTL");
        assert_eq!(q::<i64>(c, &["MOVE", &renamed, "1"]), 1);
        q::<()>(c, &["SELECT", "1"]);
        assert_eq!(state(c, &renamed), before, "{k} after MOVE");
        assert_eq!(q::<i64>(c, &["DEL", &renamed]), 1);
        q::<()>(c, &["SELECT", "0"]);
        assert_eq!(q::<i64>(c, &["DEL", "copy"]), 1);
    }
    assert_eq!(q::<i64>(c, &["DBSIZE"]), 0);
}

/// Reads and writes count as accesses for eviction and OBJECT IDLETIME/FREQ; EXISTS, TYPE,
/// TTL and OBJECT do not (Redis's LOOKUP_NOTOUCH). Figures from redis-server 7.0.15.
#[test]
fn lookups_update_the_lru_clock_and_lfu_counter() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "src", "hello"]);
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(c).unwrap();
    let idle = |c: &mut redis::Connection, k: &str| q::<i64>(c, &["OBJECT", "IDLETIME", k]);
    let restore_idle = |c: &mut redis::Connection, k: &str| {
        let _: () = redis::cmd("RESTORE")
            .arg(k)
            .arg(0)
            .arg(&payload)
            .arg("IDLETIME")
            .arg(1000)
            .query(c)
            .unwrap();
    };
    restore_idle(c, "k");
    q::<()>(c, &["TYPE", "k"]);
    q::<i64>(c, &["EXISTS", "k"]);
    q::<i64>(c, &["TTL", "k"]);
    q::<String>(c, &["OBJECT", "ENCODING", "k"]);
    assert!(idle(c, "k") >= 1000, "no-touch lookups keep the idle time");
    q::<String>(c, &["GET", "k"]);
    assert!(idle(c, "k") <= 1, "GET is an access");
    for (k, cmd) in [
        ("t", vec!["TOUCH", "t"]),
        ("s", vec!["SET", "s", "v"]),
        ("a", vec!["APPEND", "a", "x"]),
    ] {
        restore_idle(c, k);
        q::<()>(c, &cmd);
        assert!(idle(c, k) <= 1, "{cmd:?} is an access");
    }

    q::<()>(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    q::<()>(c, &["CONFIG", "SET", "lfu-log-factor", "0"]);
    let freq = |c: &mut redis::Connection| q::<i64>(c, &["OBJECT", "FREQ", "f"]);
    q::<()>(c, &["SET", "f", "hello"]);
    assert_eq!(freq(c), 5, "a new key starts at LFU_INIT_VAL");
    q::<String>(c, &["GET", "f"]);
    q::<String>(c, &["GET", "f"]);
    q::<()>(c, &["TYPE", "f"]);
    q::<i64>(c, &["EXISTS", "f"]);
    q::<i64>(c, &["TTL", "f"]);
    assert_eq!(freq(c), 7);
    q::<()>(c, &["SET", "f", "world"]);
    assert_eq!(
        freq(c),
        8,
        "an overwrite is an access and keeps the counter"
    );
    q::<i64>(c, &["APPEND", "f", "x"]);
    q::<i64>(c, &["TOUCH", "f"]);
    assert_eq!(freq(c), 10);
}

/// Load `n` keys `p:<i>` of `size` bytes, pipelined.
fn load(c: &mut redis::Connection, prefix: &str, n: usize, size: usize, px: Option<u64>) {
    let val = "v".repeat(size);
    for chunk in (0..n).collect::<Vec<_>>().chunks(5000) {
        let mut p = redis::pipe();
        for i in chunk {
            let cmd = p.cmd("SET").arg(format!("{prefix}:{i}")).arg(&val);
            if let Some(ms) = px {
                cmd.arg("PX").arg(ms);
            }
            cmd.ignore();
        }
        let _: () = p.query(c).unwrap();
    }
}

/// End to end: with a big keyspace and one far TTL, keys that do expire are still removed
/// by active expiry without being touched (the cycle's work per run is a unit test:
/// keyspace::tests::active_expiry_work_follows_the_keys_with_a_ttl).
#[test]
fn active_expiry_removes_keys_among_many_without_a_ttl() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    load(c, "plain", 1_000_000, 8, None);
    q::<()>(c, &["SET", "far", "v", "EX", "100000"]);
    load(c, "short", 20_000, 8, Some(200));
    let deadline = Instant::now() + Duration::from_secs(10);
    while q::<i64>(c, &["DBSIZE"]) > 1_000_001 {
        assert!(Instant::now() < deadline, "active expiry left keys behind");
        std::thread::sleep(Duration::from_millis(100));
    }
    let info = q::<String>(c, &["INFO", "keyspace"]);
    assert!(info.contains("db0:keys=1000001,expires=1,"), "{info}");
}

/// volatile-* policies evict among the keys with a TTL, however few they are among the
/// keys without one (sampling the whole keyspace would almost never find them, and the
/// write would fail with OOM while evictable keys remain).
#[test]
fn volatile_policies_find_the_few_keys_with_a_ttl() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    load(c, "plain", 100_000, 8, None);
    load(c, "vol", 10, 100_000, Some(1_000_000));
    let used: i64 = q::<String>(c, &["INFO", "memory"])
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    q::<()>(c, &["CONFIG", "SET", "maxmemory-policy", "volatile-lru"]);
    q::<()>(c, &["CONFIG", "SET", "maxmemory", &used.to_string()]);
    for i in 0..5 {
        q::<()>(c, &["SET", &format!("new:{i}"), &"n".repeat(50_000)]);
    }
    let expires = q::<String>(c, &["INFO", "keyspace"]);
    assert!(
        !expires.contains("expires=10,"),
        "nothing evicted: {expires}"
    );
    assert_eq!(q::<i64>(c, &["EXISTS", "plain:0", "plain:99999"]), 2);
    assert!(q::<String>(c, &["INFO", "stats"]).contains("evicted_keys:"));
}
