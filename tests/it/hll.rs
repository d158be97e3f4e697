//! HyperLogLog: sketches byte-compatible with redis-server 7.0.15 (the expected bytes and
//! estimates below are what it answers), encodings, caching, merging and corruption.
use crate::common::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn sketches_are_redis_strings() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["PFADD", "h", "a", "b", "c"]), 1);
    assert_eq!(
        q::<i64>(&mut c, &["PFADD", "h", "a", "b", "c"]),
        0,
        "no register changed"
    );
    let raw: Vec<u8> = q(&mut c, &["GET", "h"]);
    assert_eq!(
        hex(&raw),
        "48594c4c01000000000000000000008060f38050b1844bfb80425a",
        "header, stale cache, sparse runs as Redis writes them"
    );
    assert_eq!(
        q::<String>(&mut c, &["PFDEBUG", "DECODE", "h"]),
        "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
    );
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "string");
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]), "raw");
    // PFCOUNT caches the estimate in the header; a PFADD that changes nothing keeps it.
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "h"]), 3);
    let cache: Vec<u8> = q(&mut c, &["GETRANGE", "h", "8", "15"]);
    assert_eq!(cache, [3, 0, 0, 0, 0, 0, 0, 0]);
    q::<i64>(&mut c, &["PFADD", "h", "a"]);
    assert_eq!(q::<Vec<u8>>(&mut c, &["GETRANGE", "h", "15", "15"]), [0]);
    q::<i64>(&mut c, &["PFADD", "h", "1", "2", "3"]);
    assert_eq!(q::<Vec<u8>>(&mut c, &["GETRANGE", "h", "15", "15"]), [0x80]);
    // A sketch copied as a plain string is still a sketch.
    let _: () = redis::cmd("SET")
        .arg("copy")
        .arg(&raw[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "copy"]), 3);
    // An empty PFADD creates an empty sketch.
    assert_eq!(q::<i64>(&mut c, &["PFADD", "empty"]), 1);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "empty"]), 0);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "missing"]), 0);
}

#[test]
fn estimates_unions_and_dense_promotion() {
    let srv = Server::start(&["--hll-sparse-max-bytes", "3000"]);
    let mut c = srv.client();
    let ones: Vec<String> = (1..=5).map(|i| i.to_string()).collect();
    let mut args = vec!["PFADD", "h"];
    args.extend(ones.iter().map(|s| s.as_str()));
    q::<i64>(&mut c, &args);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "h"]), 5);
    q::<i64>(&mut c, &["PFADD", "h", "6", "7", "8", "8", "9", "10"]);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "h"]), 10);
    assert_eq!(q::<String>(&mut c, &["PFDEBUG", "ENCODING", "h"]), "sparse");
    // Past hll-sparse-max-bytes the sketch turns dense (12304 bytes).
    for chunk in 0..40 {
        let elements: Vec<String> = (0..100).map(|i| format!("e{chunk}-{i}")).collect();
        let mut args = vec!["PFADD", "big"];
        args.extend(elements.iter().map(|s| s.as_str()));
        q::<i64>(&mut c, &args);
    }
    assert_eq!(
        q::<String>(&mut c, &["PFDEBUG", "ENCODING", "big"]),
        "dense"
    );
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "big"]), 12304);
    let card: i64 = q(&mut c, &["PFCOUNT", "big"]);
    assert!(
        (card - 4000).abs() < 4000 * 5 / 100,
        "estimate {card} of 4000"
    );
    // Unions: PFMERGE and PFCOUNT of several keys.
    q::<i64>(&mut c, &["PFADD", "x1", "a", "b", "c"]);
    q::<i64>(&mut c, &["PFADD", "x2", "b", "c", "d"]);
    q::<i64>(&mut c, &["PFADD", "x3", "c", "d", "e"]);
    assert_eq!(
        q::<i64>(&mut c, &["PFCOUNT", "x1", "x2", "x3", "missing"]),
        5
    );
    q::<()>(&mut c, &["PFMERGE", "u", "x1", "x2", "x3"]);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "u"]), 5);
    assert_eq!(q::<String>(&mut c, &["PFDEBUG", "ENCODING", "u"]), "sparse");
    // A dense input makes the destination dense.
    q::<()>(&mut c, &["PFMERGE", "u", "big"]);
    assert_eq!(q::<String>(&mut c, &["PFDEBUG", "ENCODING", "u"]), "dense");
    let union: i64 = q(&mut c, &["PFCOUNT", "u"]);
    assert!(
        (union - 4005).abs() < 4005 * 5 / 100,
        "estimate {union} of 4005"
    );
    // TODENSE / GETREG show the same registers either way.
    let before: Vec<i64> = q(&mut c, &["PFDEBUG", "GETREG", "x1"]);
    assert_eq!(before.len(), 16384);
    assert_eq!(before.iter().filter(|&&r| r > 0).count(), 3);
    assert_eq!(
        q::<i64>(&mut c, &["PFDEBUG", "TODENSE", "x1"]),
        0,
        "GETREG made it dense"
    );
    assert_eq!(q::<Vec<i64>>(&mut c, &["PFDEBUG", "GETREG", "x1"]), before);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "x1"]), 3);
}

#[test]
fn hll_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
    q::<()>(&mut c, &["SET", "s", "123"]);
    assert_eq!(err(&mut c, &["PFADD", "s", "a"]), NOT_HLL);
    assert_eq!(err(&mut c, &["PFCOUNT", "s"]), NOT_HLL);
    assert_eq!(err(&mut c, &["PFMERGE", "d", "s"]), NOT_HLL);
    q::<i64>(&mut c, &["LPUSH", "l", "a"]);
    assert!(err(&mut c, &["PFCOUNT", "l"]).starts_with("WRONGTYPE Operation against a key"));
    // Corruption: a broken magic or encoding byte is not a sketch; runs that do not
    // cover the 16384 registers are a corrupt one.
    q::<i64>(&mut c, &["PFADD", "h", "a", "b", "c"]);
    q::<i64>(&mut c, &["SETRANGE", "h", "4", "x"]);
    assert_eq!(err(&mut c, &["PFCOUNT", "h"]), NOT_HLL);
    q::<i64>(&mut c, &["SETRANGE", "h", "4", "\u{0}"]);
    assert_eq!(
        err(&mut c, &["PFCOUNT", "h"]),
        NOT_HLL,
        "dense of the wrong length"
    );
    q::<i64>(&mut c, &["DEL", "h"]);
    q::<i64>(&mut c, &["PFADD", "h", "a", "b", "c"]);
    q::<i64>(&mut c, &["APPEND", "h", "hello"]);
    assert_eq!(
        err(&mut c, &["PFCOUNT", "h"]),
        "INVALIDOBJ Corrupted HLL object detected"
    );
    assert_eq!(
        err(&mut c, &["PFMERGE", "d", "h"]),
        "INVALIDOBJ Corrupted HLL object detected"
    );
    assert_eq!(
        err(&mut c, &["PFDEBUG", "ENCODING", "nokey"]),
        "ERR The specified key does not exist"
    );
    q::<i64>(&mut c, &["PFADD", "ok", "a"]);
    assert_eq!(
        err(&mut c, &["PFDEBUG", "NOPE", "ok"]),
        "ERR Unknown PFDEBUG subcommand 'NOPE'"
    );
    assert_eq!(
        err(&mut c, &["PFDEBUG", "DECODE", "ok", "x"]),
        "ERR wrong number of arguments for 'pfdebug' command"
    );
    q::<i64>(&mut c, &["PFDEBUG", "TODENSE", "ok"]);
    assert_eq!(
        err(&mut c, &["PFDEBUG", "DECODE", "ok"]),
        "ERR HLL encoding is not sparse"
    );
    assert_eq!(q::<String>(&mut c, &["PFSELFTEST"]), "OK");
}
