//! Hash commands: replies, edge cases and error texts as Redis 7.0.
use crate::common::*;
use redis::{cmd, Value};
use std::collections::HashMap;

#[test]
fn set_get_del_len() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let n: i64 = cmd("HSET")
        .arg("h")
        .arg(&["a", "1", "b", "2"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = cmd("HSET")
        .arg("h")
        .arg(&["a", "10", "c", "3"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1, "only new fields count");
    let _: () = cmd("HMSET")
        .arg("h")
        .arg(&["d", "4"])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        err_of(&mut c, cmd("HSET").arg("h").arg(&["a", "1", "b"])),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err_of(&mut c, cmd("HMSET").arg("h").arg(&["a", "1", "b"])),
        "ERR wrong number of arguments for 'hmset' command"
    );
    let n: i64 = cmd("HSETNX")
        .arg("h")
        .arg("a")
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = cmd("HSETNX")
        .arg("h")
        .arg("e")
        .arg("5")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let v: Option<String> = cmd("HGET").arg("h").arg("a").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("10"));
    let v: Vec<Option<String>> = cmd("HMGET")
        .arg("h")
        .arg(&["a", "zz", "e"])
        .query(&mut c)
        .unwrap();
    assert_eq!(v, [Some("10".into()), None, Some("5".into())]);
    let v: Vec<Option<String>> = cmd("HMGET")
        .arg("nokey")
        .arg(&["a", "b"])
        .query(&mut c)
        .unwrap();
    assert_eq!(v, [None, None]);
    let n: i64 = cmd("HLEN").arg("h").query(&mut c).unwrap();
    assert_eq!(n, 5);
    let n: i64 = cmd("HSTRLEN").arg("h").arg("a").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let n: i64 = cmd("HEXISTS").arg("h").arg("zz").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let all: HashMap<String, String> = cmd("HGETALL").arg("h").query(&mut c).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all["d"], "4");
    let mut keys: Vec<String> = cmd("HKEYS").arg("h").query(&mut c).unwrap();
    keys.sort();
    assert_eq!(keys, ["a", "b", "c", "d", "e"]);
    let vals: Vec<String> = cmd("HVALS").arg("h").query(&mut c).unwrap();
    assert_eq!(vals.len(), 5);
    let n: i64 = cmd("HDEL")
        .arg("h")
        .arg(&["a", "b", "zz"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = cmd("HDEL")
        .arg("h")
        .arg(&["c", "d", "e"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 3);
    let n: i64 = cmd("EXISTS").arg("h").query(&mut c).unwrap();
    assert_eq!(n, 0, "an emptied hash is deleted");
}

#[test]
fn incr_and_float() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let n: i64 = cmd("HINCRBY")
        .arg("h")
        .arg("n")
        .arg(5)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 5);
    let n: i64 = cmd("HINCRBY")
        .arg("h")
        .arg("n")
        .arg(-7)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, -2);
    let _: () = cmd("HSET")
        .arg("h")
        .arg("s")
        .arg("abc")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        err_of(&mut c, cmd("HINCRBY").arg("h").arg("s").arg(1)),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err_of(&mut c, cmd("HINCRBY").arg("h").arg("n").arg("x")),
        "ERR value is not an integer or out of range"
    );
    let _: () = cmd("HSET")
        .arg("h")
        .arg("max")
        .arg(i64::MAX)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        err_of(&mut c, cmd("HINCRBY").arg("h").arg("max").arg(1)),
        "ERR increment or decrement would overflow"
    );
    let f: String = cmd("HINCRBYFLOAT")
        .arg("h")
        .arg("f")
        .arg("10.5")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "10.5");
    let f: String = cmd("HINCRBYFLOAT")
        .arg("h")
        .arg("f")
        .arg("0.1")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "10.6");
    let f: String = cmd("HINCRBYFLOAT")
        .arg("h")
        .arg("f")
        .arg("-10.6")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "0");
    // Decimal sums print as Redis's long double arithmetic does (not f64's 0.30000000000000004),
    // the same as INCRBYFLOAT.
    for (start, by, want) in [
        ("0.1", "0.2", "0.3"),
        ("1.1", "2.2", "3.3"),
        ("-0.7", "0.1", "-0.6"),
    ] {
        let _: () = cmd("HSET")
            .arg("d")
            .arg("f")
            .arg(start)
            .query(&mut c)
            .unwrap();
        let f: String = cmd("HINCRBYFLOAT")
            .arg("d")
            .arg("f")
            .arg(by)
            .query(&mut c)
            .unwrap();
        assert_eq!(f, want, "HINCRBYFLOAT {start} + {by}");
        let _: () = cmd("SET").arg("ds").arg(start).query(&mut c).unwrap();
        let f: String = cmd("INCRBYFLOAT").arg("ds").arg(by).query(&mut c).unwrap();
        assert_eq!(f, want, "INCRBYFLOAT {start} + {by}");
    }
    assert_eq!(
        err_of(&mut c, cmd("HINCRBYFLOAT").arg("h").arg("s").arg(1)),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err_of(&mut c, cmd("HINCRBYFLOAT").arg("h").arg("f").arg("x")),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err_of(&mut c, cmd("HINCRBYFLOAT").arg("h").arg("f").arg("inf")),
        "ERR value is NaN or Infinity"
    );
    let _: () = cmd("SET").arg("str").arg("x").query(&mut c).unwrap();
    assert!(err_of(&mut c, cmd("HINCRBY").arg("str").arg("n").arg(1)).starts_with("WRONGTYPE"));
    assert!(err_of(&mut c, cmd("HGET").arg("str").arg("n")).starts_with("WRONGTYPE"));
    assert!(err_of(&mut c, cmd("HSET").arg("str").arg("n").arg(1)).starts_with("WRONGTYPE"));
}

#[test]
fn randfield() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = cmd("HSET")
        .arg("h")
        .arg(&["a", "1", "b", "2", "c", "3"])
        .query(&mut c)
        .unwrap();
    let f: String = cmd("HRANDFIELD").arg("h").query(&mut c).unwrap();
    assert!(["a", "b", "c"].contains(&f.as_str()));
    let mut all: Vec<String> = cmd("HRANDFIELD").arg("h").arg(10).query(&mut c).unwrap();
    all.sort();
    assert_eq!(
        all,
        ["a", "b", "c"],
        "positive count: distinct, capped at the size"
    );
    let two: Vec<String> = cmd("HRANDFIELD").arg("h").arg(2).query(&mut c).unwrap();
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    let many: Vec<String> = cmd("HRANDFIELD").arg("h").arg(-20).query(&mut c).unwrap();
    assert_eq!(many.len(), 20, "negative count: repetitions allowed");
    let wv: Vec<String> = cmd("HRANDFIELD")
        .arg("h")
        .arg(-4)
        .arg("WITHVALUES")
        .query(&mut c)
        .unwrap();
    assert_eq!(wv.len(), 8);
    for p in wv.chunks(2) {
        let expect = match p[0].as_str() {
            "a" => "1",
            "b" => "2",
            _ => "3",
        };
        assert_eq!(p[1], expect);
    }
    // Few distinct fields out of many (sampled rather than shuffled).
    let fields: Vec<String> = (0..300)
        .flat_map(|i| [format!("f{i}"), "v".into()])
        .collect();
    let _: () = cmd("HSET").arg("big").arg(&fields).query(&mut c).unwrap();
    for _ in 0..20 {
        let mut got: Vec<String> = cmd("HRANDFIELD").arg("big").arg(7).query(&mut c).unwrap();
        assert_eq!(got.len(), 7);
        assert!(got.iter().all(|f| f.starts_with('f')));
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 7, "distinct fields");
    }
    let v: Value = cmd("HRANDFIELD").arg("nokey").query(&mut c).unwrap();
    assert_eq!(v, Value::Nil);
    let v: Value = cmd("HRANDFIELD").arg("nokey").arg(3).query(&mut c).unwrap();
    assert_eq!(v, Value::Array(vec![]));
    let v: Value = cmd("HRANDFIELD").arg("h").arg(0).query(&mut c).unwrap();
    assert_eq!(v, Value::Array(vec![]));
    assert_eq!(
        err_of(&mut c, cmd("HRANDFIELD").arg("h").arg(1).arg("WITHSCORES")),
        "ERR syntax error"
    );
    assert_eq!(
        err_of(&mut c, cmd("HRANDFIELD").arg("h").arg("x")),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn hscan_full_iteration_and_match() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let fields: Vec<String> = (0..500)
        .flat_map(|i| [format!("f{i}"), i.to_string()])
        .collect();
    let _: () = cmd("HSET").arg("big").arg(&fields).query(&mut c).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) = cmd("HSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut c)
            .unwrap();
        for p in items.chunks(2) {
            assert_eq!(p[0], format!("f{}", p[1]));
            seen.insert(p[0].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
    let _: () = cmd("HSET")
        .arg("small")
        .arg(&["aa", "1", "ab", "2", "b", "3"])
        .query(&mut c)
        .unwrap();
    let (next, items): (String, Vec<String>) = cmd("HSCAN")
        .arg("small")
        .arg(0)
        .arg("MATCH")
        .arg("a*")
        .query(&mut c)
        .unwrap();
    assert_eq!(next, "0", "a small hash comes back whole");
    assert_eq!(items.len(), 4);
    let (next, items): (String, Vec<String>) =
        cmd("HSCAN").arg("nokey").arg(0).query(&mut c).unwrap();
    assert_eq!((next.as_str(), items.len()), ("0", 0));
    assert_eq!(
        err_of(&mut c, cmd("HSCAN").arg("small").arg("x")),
        "ERR invalid cursor"
    );
    assert_eq!(
        err_of(&mut c, cmd("HSCAN").arg("small").arg(0).arg("COUNT").arg(0)),
        "ERR syntax error"
    );
    assert_eq!(
        err_of(
            &mut c,
            cmd("HSCAN").arg("small").arg(0).arg("TYPE").arg("hash")
        ),
        "ERR syntax error"
    );
}

#[test]
fn compact_encoding_order_and_one_way_conversion() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = q(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "4"]);
    let _: () = q(&mut c, &["CONFIG", "SET", "hash-max-listpack-value", "8"]);
    let enc = |c: &mut redis::Connection, k: &str| -> String { q(c, &["OBJECT", "ENCODING", k]) };

    // Small: insertion order kept, overwrites stay in place, deletes close the gap.
    let _: i64 = q(&mut c, &["HSET", "h", "z", "1", "a", "2", "m", "3"]);
    let _: i64 = q(&mut c, &["HSET", "h", "a", "22"]);
    let _: i64 = q(&mut c, &["HDEL", "h", "z"]);
    let _: i64 = q(&mut c, &["HSET", "h", "b", "4"]);
    assert_eq!(enc(&mut c, "h"), "listpack");
    let all: Vec<String> = q(&mut c, &["HGETALL", "h"]);
    assert_eq!(all, ["a", "22", "m", "3", "b", "4"]);
    let n: i64 = q(&mut c, &["HINCRBY", "h", "m", "5"]);
    assert_eq!(n, 8);
    let keys: Vec<String> = q(&mut c, &["HKEYS", "h"]);
    assert_eq!(keys, ["a", "m", "b"]);
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h"]), 3);
    assert_eq!(q::<i64>(&mut c, &["HSTRLEN", "h", "a"]), 2);

    // One field past the entry limit converts; shrinking does not convert back.
    let _: i64 = q(&mut c, &["HSET", "h", "c", "5", "d", "6"]);
    assert_eq!(enc(&mut c, "h"), "hashtable");
    let _: i64 = q(&mut c, &["HDEL", "h", "a", "m", "b", "c"]);
    assert_eq!(enc(&mut c, "h"), "hashtable");
    assert_eq!(q::<Vec<String>>(&mut c, &["HGETALL", "h"]), ["d", "6"]);

    // A long value or a long field converts, whatever the count; so does HINCRBYFLOAT's result.
    let _: i64 = q(&mut c, &["HSET", "v", "f", "123456789"]);
    assert_eq!(enc(&mut c, "v"), "hashtable");
    let _: i64 = q(&mut c, &["HSETNX", "k", "longfield", "1"]);
    assert_eq!(enc(&mut c, "k"), "hashtable");
    let _: String = q(&mut c, &["HINCRBYFLOAT", "fl", "f", "1.0000001"]);
    assert_eq!(enc(&mut c, "fl"), "hashtable");
    let _: String = q(&mut c, &["HINCRBYFLOAT", "fs", "f", "1.5"]);
    assert_eq!(enc(&mut c, "fs"), "listpack");

    // Both forms behave the same for reads, random fields and scans.
    for k in ["h", "fs"] {
        let f: String = q(&mut c, &["HRANDFIELD", k]);
        assert!(q::<i64>(&mut c, &["HEXISTS", k, &f]) == 1);
        let (cur, items): (String, Vec<String>) = q(&mut c, &["HSCAN", k, "0"]);
        assert_eq!((cur.as_str(), items.len()), ("0", 2));
    }
    let picks: Vec<String> = q(&mut c, &["HRANDFIELD", "fs", "-5"]);
    assert_eq!(picks, ["f"; 5]);

    // DUMP/RESTORE re-applies the limits; COPY keeps the form and order.
    let _: i64 = q(&mut c, &["HSET", "s", "x", "1", "y", "2"]);
    let _: i64 = q(&mut c, &["COPY", "s", "s2"]);
    assert_eq!(enc(&mut c, "s2"), "listpack");
    assert_eq!(q::<Vec<String>>(&mut c, &["HKEYS", "s2"]), ["x", "y"]);
    let dump: Vec<u8> = cmd("DUMP").arg("s").query(&mut c).unwrap();
    let _: () = cmd("RESTORE")
        .arg("s3")
        .arg(0)
        .arg(dump)
        .query(&mut c)
        .unwrap();
    assert_eq!(enc(&mut c, "s3"), "listpack");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["HGETALL", "s3"]),
        ["x", "1", "y", "2"]
    );
    let _: () = q(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "1"]);
    let dump: Vec<u8> = cmd("DUMP").arg("s").query(&mut c).unwrap();
    let _: () = cmd("RESTORE")
        .arg("s4")
        .arg(0)
        .arg(dump)
        .query(&mut c)
        .unwrap();
    assert_eq!(enc(&mut c, "s4"), "hashtable");
}

#[test]
fn resp3_map_and_pairs() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    std::io::Write::write_all(&mut c, b"HELLO 3\r\n").unwrap();
    let r = read_until(&mut c, b"modules\r\n*0\r\n");
    assert!(r.starts_with(b"%"));
    let _ = raw_roundtrip(&mut c, b"HSET h a 1\r\n", 4);
    let r = raw_roundtrip(&mut c, b"HGETALL h\r\n", 18);
    assert_eq!(r, b"%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    let r = raw_roundtrip(&mut c, b"HRANDFIELD h -1 WITHVALUES\r\n", 22);
    assert_eq!(r, b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
}

fn read_until(s: &mut std::net::TcpStream, suffix: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(suffix) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}
