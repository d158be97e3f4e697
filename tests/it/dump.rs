//! DUMP / RESTORE: every type round-trips (ferrokv's own payload format), TTL handling
//! (relative, ABSTTL, already expired), REPLACE / BUSYKEY, option and payload errors.
use crate::common::*;
use redis::{cmd, Connection, Value};

fn dump(c: &mut Connection, key: &str) -> Vec<u8> {
    cmd("DUMP").arg(key).query(c).unwrap()
}

fn restore(c: &mut Connection, key: &str, ttl: i64, payload: &[u8], opts: &[&str]) {
    let _: () = cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(payload)
        .arg(opts)
        .query(c)
        .unwrap();
}

/// Dump `key`, restore it as `key:copy`, and check `read` gives the same on both.
fn roundtrip(c: &mut Connection, key: &str, read: &[&str]) {
    let p = dump(c, key);
    let copy = format!("{key}:copy");
    restore(c, &copy, 0, &p, &["REPLACE"]);
    for k in [key, copy.as_str()] {
        let t: String = cmd("TYPE").arg(k).query(c).unwrap();
        assert_ne!(t, "none");
    }
    let a: Value = cmd(read[0]).arg(key).arg(&read[1..]).query(c).unwrap();
    let b: Value = cmd(read[0]).arg(&copy).arg(&read[1..]).query(c).unwrap();
    assert_eq!(a, b, "{key} round trip");
    assert_ne!(a, Value::Nil);
}

#[test]
fn every_type_round_trips() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = cmd("SET")
        .arg(&["str", "hello\0world"])
        .query(&mut c)
        .unwrap();
    let _: () = cmd("SET").arg(&["int", "-12345"]).query(&mut c).unwrap();
    let _: () = cmd("RPUSH")
        .arg(&["list", "a", "", "c"])
        .query(&mut c)
        .unwrap();
    let _: () = cmd("HSET")
        .arg(&["hash", "f1", "v1", "f2", "v2"])
        .query(&mut c)
        .unwrap();
    let _: () = cmd("SADD")
        .arg(&["intset", "1", "2", "3"])
        .query(&mut c)
        .unwrap();
    let _: () = cmd("SADD")
        .arg(&["set", "x", "y", "2"])
        .query(&mut c)
        .unwrap();
    let _: () = cmd("ZADD")
        .arg(&["zset", "1.5", "a", "-inf", "b", "3", "c"])
        .query(&mut c)
        .unwrap();
    roundtrip(&mut c, "str", &["GET"]);
    roundtrip(&mut c, "int", &["GET"]);
    roundtrip(&mut c, "list", &["LRANGE", "0", "-1"]);
    roundtrip(&mut c, "hash", &["HGETALL"]);
    roundtrip(&mut c, "intset", &["SORT", "ALPHA"]);
    roundtrip(&mut c, "set", &["SORT", "ALPHA"]);
    roundtrip(&mut c, "zset", &["ZRANGE", "0", "-1", "WITHSCORES"]);
    let enc: String = cmd("OBJECT")
        .arg(&["ENCODING", "int:copy"])
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "int");
    let enc: String = cmd("OBJECT")
        .arg(&["ENCODING", "intset:copy"])
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "intset");
}

#[test]
fn stream_with_groups_round_trips() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    for i in 1..=3 {
        let _: String = cmd("XADD")
            .arg(&["st", &format!("{i}-1"), "f", &i.to_string()])
            .query(&mut c)
            .unwrap();
    }
    let _: i64 = cmd("XDEL").arg(&["st", "2-1"]).query(&mut c).unwrap();
    let _: () = cmd("XGROUP")
        .arg(&["CREATE", "st", "g", "0"])
        .query(&mut c)
        .unwrap();
    let _: Value = cmd("XREADGROUP")
        .arg(&["GROUP", "g", "alice", "COUNT", "1", "STREAMS", "st", ">"])
        .query(&mut c)
        .unwrap();
    roundtrip(&mut c, "st", &["XRANGE", "-", "+"]);
    // The summary form: the extended one shows idle times, which move between reads.
    roundtrip(&mut c, "st", &["XPENDING", "g"]);
    let a: Value = cmd("XINFO").arg(&["STREAM", "st"]).query(&mut c).unwrap();
    let b: Value = cmd("XINFO")
        .arg(&["STREAM", "st:copy"])
        .query(&mut c)
        .unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn ttl_and_absttl() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = cmd("SET").arg(&["k", "v"]).query(&mut c).unwrap();
    let p = dump(&mut c, "k");
    restore(&mut c, "a", 100_000, &p, &[]);
    let pttl: i64 = cmd("PTTL").arg("a").query(&mut c).unwrap();
    assert!(pttl > 90_000 && pttl <= 100_000, "pttl {pttl}");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    restore(&mut c, "b", now_ms + 200_000, &p, &["ABSTTL"]);
    let pttl: i64 = cmd("PTTL").arg("b").query(&mut c).unwrap();
    assert!(pttl > 190_000 && pttl <= 200_000, "pttl {pttl}");
    // An absolute time in the past: OK, and the key is not created (REPLACE deletes it).
    restore(&mut c, "b", 1, &p, &["ABSTTL", "REPLACE"]);
    let n: i64 = cmd("EXISTS").arg("b").query(&mut c).unwrap();
    assert_eq!(n, 0);
    restore(&mut c, "c", 0, &p, &[]);
    let ttl: i64 = cmd("TTL").arg("c").query(&mut c).unwrap();
    assert_eq!(ttl, -1);
    assert_eq!(
        err_of(&mut c, cmd("RESTORE").arg("d").arg(-1).arg(&p)),
        "ERR Invalid TTL value, must be >= 0"
    );
    assert_eq!(
        err_of(&mut c, cmd("RESTORE").arg("d").arg("x").arg(&p)),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn replace_busykey_and_options() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = cmd("SET").arg(&["k", "v1"]).query(&mut c).unwrap();
    let p = dump(&mut c, "k");
    let _: () = cmd("SET").arg(&["k", "v2"]).query(&mut c).unwrap();
    assert_eq!(
        err_of(&mut c, cmd("RESTORE").arg("k").arg(0).arg(&p)),
        "BUSYKEY Target key name already exists."
    );
    restore(&mut c, "k", 0, &p, &["REPLACE"]);
    let v: String = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v1");
    restore(&mut c, "idle", 0, &p, &["IDLETIME", "1000"]);
    let idle: i64 = cmd("OBJECT")
        .arg(&["IDLETIME", "idle"])
        .query(&mut c)
        .unwrap();
    assert!(idle >= 1000, "idle {idle}");
    assert_eq!(
        err_of(
            &mut c,
            cmd("RESTORE")
                .arg("x")
                .arg(0)
                .arg(&p)
                .arg(&["IDLETIME", "-1"])
        ),
        "ERR Invalid IDLETIME value, must be >= 0"
    );
    assert_eq!(
        err_of(
            &mut c,
            cmd("RESTORE").arg("x").arg(0).arg(&p).arg(&["FREQ", "256"])
        ),
        "ERR Invalid FREQ value, must be >= 0 and <= 255"
    );
    assert_eq!(
        err_of(
            &mut c,
            cmd("RESTORE")
                .arg("x")
                .arg(0)
                .arg(&p)
                .arg(&["IDLETIME", "1", "FREQ", "1"])
        ),
        "ERR syntax error"
    );
    assert_eq!(
        err_of(&mut c, cmd("RESTORE").arg("x").arg(0).arg(&p).arg("bogus")),
        "ERR syntax error"
    );
    let none: Option<Vec<u8>> = cmd("DUMP").arg("nokey").query(&mut c).unwrap();
    assert_eq!(none, None);
}

#[test]
fn corrupted_payload_rejected() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = cmd("RPUSH").arg(&["l", "a", "b"]).query(&mut c).unwrap();
    let p = dump(&mut c, "l");
    let bad = "ERR DUMP payload version or checksum are wrong";
    let mut flipped = p.clone();
    flipped[2] ^= 0x40;
    assert_eq!(
        err_of(&mut c, cmd("RESTORE").arg("x").arg(0).arg(&flipped)),
        bad
    );
    assert_eq!(
        err_of(
            &mut c,
            cmd("RESTORE").arg("x").arg(0).arg(&p[..p.len() - 1])
        ),
        bad
    );
    assert_eq!(
        err_of(&mut c, cmd("RESTORE").arg("x").arg(0).arg("garbage")),
        bad
    );
    let n: i64 = cmd("EXISTS").arg("x").query(&mut c).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn freq_under_lfu_policy() {
    let srv = Server::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = srv.client();
    let _: () = cmd("SET").arg(&["k", "v"]).query(&mut c).unwrap();
    let p = dump(&mut c, "k");
    restore(&mut c, "f", 0, &p, &["FREQ", "100"]);
    let f: i64 = cmd("OBJECT").arg(&["FREQ", "f"]).query(&mut c).unwrap();
    assert_eq!(f, 100);
}

#[test]
fn migrate_moves_keys_between_servers() {
    let src = Server::start(&[]);
    let dst = Server::start(&["--requirepass", "pw"]);
    let port = dst.port.to_string();
    let mut a = src.client();
    q::<()>(&mut a, &["SET", "k1", "v1"]);
    q::<i64>(&mut a, &["RPUSH", "l", "1", "2", "3"]);
    q::<()>(&mut a, &["SET", "k2", "v2", "EX", "100"]);
    // The target's refusal comes back with its text; nothing moved.
    assert_eq!(
        err(&mut a, &["MIGRATE", "127.0.0.1", &port, "k1", "0", "1000"]),
        "ERR Target instance replied with error: NOAUTH Authentication required."
    );
    assert_eq!(q::<i64>(&mut a, &["EXISTS", "k1"]), 1);
    let ok: String = q(
        &mut a,
        &[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "k1",
            "0",
            "1000",
            "AUTH",
            "pw",
        ],
    );
    assert_eq!(ok, "OK");
    assert_eq!(q::<i64>(&mut a, &["EXISTS", "k1"]), 0, "moved, not copied");
    let mut b = dst.client();
    q::<()>(&mut b, &["AUTH", "pw"]);
    assert_eq!(q::<String>(&mut b, &["GET", "k1"]), "v1");
    // KEYS, COPY, another database, TTLs kept.
    let ok: String = q(
        &mut a,
        &[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "3",
            "1000",
            "COPY",
            "AUTH",
            "pw",
            "KEYS",
            "l",
            "k2",
            "nokey",
        ],
    );
    assert_eq!(ok, "OK");
    assert_eq!(
        q::<i64>(&mut a, &["EXISTS", "l", "k2"]),
        2,
        "COPY keeps them"
    );
    q::<()>(&mut b, &["SELECT", "3"]);
    assert_eq!(
        q::<Vec<String>>(&mut b, &["LRANGE", "l", "0", "-1"]),
        ["1", "2", "3"]
    );
    let ttl: i64 = q(&mut b, &["TTL", "k2"]);
    assert!((90..=100).contains(&ttl), "ttl {ttl}");
    assert!(err(
        &mut a,
        &[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "3",
            "1000",
            "AUTH",
            "pw",
            "KEYS",
            "l"
        ]
    )
    .contains("BUSYKEY"));
    let ok: String = q(
        &mut a,
        &[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "3",
            "1000",
            "REPLACE",
            "AUTH",
            "pw",
            "KEYS",
            "l",
        ],
    );
    assert_eq!(ok, "OK");
    // One connection to the target is kept and reused (Redis's migrate_cached_sockets);
    // when the target has closed it, the next MIGRATE reconnects.
    let cached = |a: &mut redis::Connection| {
        q::<String>(a, &["INFO", "stats"])
            .lines()
            .find_map(|l| l.strip_prefix("migrate_cached_sockets:").map(str::to_owned))
    };
    assert_eq!(cached(&mut a).as_deref(), Some("1"));
    assert_eq!(
        q::<i64>(
            &mut b,
            &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]
        ),
        1,
        "the cached MIGRATE connection"
    );
    q::<()>(&mut a, &["SET", "k3", "v3"]);
    let ok: String = q(
        &mut a,
        &[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "k3",
            "3",
            "1000",
            "AUTH",
            "pw",
        ],
    );
    assert_eq!(ok, "OK");
    assert_eq!(q::<String>(&mut b, &["GET", "k3"]), "v3");
    assert_eq!(cached(&mut a).as_deref(), Some("1"));
    assert_eq!(
        q::<String>(
            &mut a,
            &["MIGRATE", "127.0.0.1", &port, "nokey", "0", "1000"]
        ),
        "NOKEY"
    );
    assert_eq!(
        err(
            &mut a,
            &["MIGRATE", "127.0.0.1", &port, "k2", "0", "100", "KEYS", "l"]
        ),
        "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
    );
    // Nobody listening: an IOERR, and the server goes on.
    let closed = free_port().to_string();
    assert_eq!(
        err(&mut a, &["MIGRATE", "127.0.0.1", &closed, "k2", "0", "100"]),
        "IOERR error or timeout connecting to the client"
    );
    assert_eq!(q::<String>(&mut a, &["PING"]), "PONG");
}

/// A list is written with its own node fill, as Redis writes its in-memory quicklist:
/// with `list-max-listpack-size` at -1, -7 (clamped to -5) or 5, DUMP is byte for byte
/// redis-server 7.0.15's (uncompressed, so LZF's choices do not enter).
#[test]
fn list_dump_follows_the_lists_fill_byte_for_byte() {
    let redis = start_redis_server_with(None, &["--rdbcompression", "no"]);
    let ours = Server::start(&["--rdbcompression", "no"]);
    let items: Vec<String> = (0..6000).map(|i| format!("element-{i:06}")).collect();
    for fill in ["-1", "-7", "5", "-2"] {
        let mut dumps = Vec::new();
        for s in [&redis, &ours] {
            let mut c = s.client();
            let _: () = cmd("CONFIG")
                .arg(&["SET", "list-max-listpack-size", fill])
                .query(&mut c)
                .unwrap();
            let _: i64 = cmd("DEL").arg("l").query(&mut c).unwrap();
            let _: i64 = cmd("RPUSH").arg("l").arg(&items).query(&mut c).unwrap();
            let d: Vec<u8> = cmd("DUMP").arg("l").query(&mut c).unwrap();
            dumps.push(d);
        }
        assert!(
            dumps[0] == dumps[1],
            "fill {fill}: DUMP differs from redis-server's"
        );
    }
}
