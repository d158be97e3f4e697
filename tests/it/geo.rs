//! GEO commands. Expected values (scores, coordinates, distances, hashes, orders) are
//! what redis-server 7.0.15 answers for the same commands.
use crate::common::*;
use redis::Value;

fn sicily(c: &mut redis::Connection) {
    let added: i64 = q(
        c,
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
    );
    assert_eq!(added, 2);
}

#[test]
fn geoadd_stores_redis_scores_and_decodes_them() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    sicily(&mut c);
    let z: Vec<String> = q(&mut c, &["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"]);
    assert_eq!(
        z,
        ["Palermo", "3479099956230698", "Catania", "3479447370796909"]
    );
    let pos: Vec<Option<Vec<String>>> = q(&mut c, &["GEOPOS", "Sicily", "Palermo", "nope"]);
    assert_eq!(
        pos,
        [
            Some(vec![
                "13.36138933897018433".to_string(),
                "38.11555639549629859".to_string()
            ]),
            None
        ]
    );
    let d: String = q(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania"]);
    assert_eq!(d, "166274.1516");
    let d: String = q(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "km"]);
    assert_eq!(d, "166.2742");
    let d: String = q(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "MI"]);
    assert_eq!(d, "103.3182");
    let d: Option<String> = q(&mut c, &["GEODIST", "Sicily", "Palermo", "nope"]);
    assert_eq!(d, None);
    let d: Option<String> = q(&mut c, &["GEODIST", "nokey", "a", "b"]);
    assert_eq!(d, None);
    let h: Vec<Option<String>> = q(&mut c, &["GEOHASH", "Sicily", "Palermo", "Catania", "x"]);
    assert_eq!(
        h,
        [
            Some("sqc8b49rny0".to_string()),
            Some("sqdtr74hyu0".to_string()),
            None
        ]
    );
    // NX / XX / CH as ZADD.
    let n: i64 = q(&mut c, &["GEOADD", "Sicily", "NX", "1", "1", "Palermo"]);
    assert_eq!(n, 0);
    let d: String = q(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania"]);
    assert_eq!(d, "166274.1516", "NX left Palermo where it was");
    let n: i64 = q(
        &mut c,
        &[
            "GEOADD", "Sicily", "XX", "CH", "1", "1", "Palermo", "2", "2", "x",
        ],
    );
    assert_eq!(n, 1, "XX changed Palermo and added nothing");
    assert_eq!(q::<i64>(&mut c, &["ZCARD", "Sicily"]), 2);
}

#[test]
fn geo_argument_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    sicily(&mut c);
    assert_eq!(
        err(&mut c, &["GEOADD", "k", "200", "100", "x"]),
        "ERR invalid longitude,latitude pair 200.000000,100.000000"
    );
    assert_eq!(
        err(&mut c, &["GEOADD", "k", "1", "1", "x", "2"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["GEOADD", "k", "NX", "XX", "1", "1", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["GEOADD", "k", "a", "1", "x"]),
        "ERR value is not a valid float"
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]), 0, "nothing added");
    assert_eq!(
        err(
            &mut c,
            &["GEODIST", "Sicily", "Palermo", "Catania", "parsec"]
        ),
        "ERR unsupported unit provided. please use M, KM, FT, MI"
    );
    assert_eq!(
        err(&mut c, &["GEODIST", "Sicily", "a", "b", "km", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["GEORADIUS", "Sicily", "15", "37", "-1", "km"]),
        "ERR radius cannot be negative"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYBOX",
                "-1",
                "1",
                "km"
            ]
        ),
        "ERR height or width cannot be negative"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "abc",
                "km"
            ]
        ),
        "ERR need numeric radius"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "km",
                "COUNT",
                "0"
            ]
        ),
        "ERR COUNT must be > 0"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "km",
                "ANY"
            ]
        ),
        "ERR the ANY argument requires COUNT argument"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "BYRADIUS",
                "1",
                "km",
                "ASC",
                "WITHDIST"
            ]
        ),
        "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "1",
                "1",
                "ASC",
                "WITHDIST"
            ]
        ),
        "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH"
    );
    // Both FROM forms, or both BY forms, are a syntax error.
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMMEMBER",
                "Palermo",
                "FROMLONLAT",
                "1",
                "1",
                "BYRADIUS",
                "1",
                "km"
            ]
        ),
        "ERR syntax error"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMMEMBER",
                "nope",
                "BYRADIUS",
                "1",
                "km"
            ]
        ),
        "ERR could not decode requested zset member"
    );
    assert_eq!(
        err(&mut c, &["GEORADIUSBYMEMBER", "Sicily", "nope", "1", "km"]),
        "ERR could not decode requested zset member"
    );
    // STORE is not for the _RO forms nor GEOSEARCH; it excludes the WITH* options.
    assert_eq!(
        err(
            &mut c,
            &[
                "GEORADIUS_RO",
                "Sicily",
                "15",
                "37",
                "200",
                "km",
                "STORE",
                "x"
            ]
        ),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "STORE", "x"]),
        "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCHSTORE",
                "d",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "km",
                "WITHHASH"
            ]
        ),
        "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    );
    q::<()>(&mut c, &["SET", "s", "x"]);
    assert!(err(&mut c, &["GEOADD", "s", "1", "1", "a"]).starts_with("WRONGTYPE"));
    assert!(err(&mut c, &["GEOPOS", "s", "a"]).starts_with("WRONGTYPE"));
    assert!(err(
        &mut c,
        &[
            "GEOSEARCH",
            "s",
            "FROMLONLAT",
            "1",
            "1",
            "BYRADIUS",
            "1",
            "km"
        ]
    )
    .starts_with("WRONGTYPE"));
}

#[test]
fn searches_reply_like_redis() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    sicily(&mut c);
    let v: Value = q(
        &mut c,
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "WITHCOORD",
            "WITHDIST",
            "WITHHASH",
        ],
    );
    let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    // Member, distance, hash, coordinates, whatever order the options came in; unsorted
    // results come in the order the cells were scanned.
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Array(vec![
                bulk("Palermo"),
                bulk("190.4424"),
                Value::Int(3479099956230698),
                Value::Array(vec![
                    bulk("13.36138933897018433"),
                    bulk("38.11555639549629859")
                ]),
            ]),
            Value::Array(vec![
                bulk("Catania"),
                bulk("56.4413"),
                Value::Int(3479447370796909),
                Value::Array(vec![
                    bulk("15.08726745843887329"),
                    bulk("37.50266842333162032")
                ]),
            ]),
        ])
    );
    let asc: Vec<String> = q(
        &mut c,
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "ASC",
        ],
    );
    assert_eq!(asc, ["Catania", "Palermo"]);
    let by_member: Vec<String> = q(
        &mut c,
        &["GEORADIUSBYMEMBER", "Sicily", "Palermo", "100", "km"],
    );
    assert_eq!(by_member, ["Palermo"]);
    let two_edges: i64 = q(
        &mut c,
        &[
            "GEOADD",
            "Sicily",
            "12.758489",
            "38.788135",
            "edge1",
            "17.241510",
            "38.788135",
            "edge2",
        ],
    );
    assert_eq!(two_edges, 2);
    // COUNT keeps the nearest (or, DESC, the farthest) after sorting.
    let v: Value = q(
        &mut c,
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "DESC",
            "COUNT",
            "2",
            "WITHDIST",
        ],
    );
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Array(vec![bulk("edge1"), bulk("279.7405")]),
            Value::Array(vec![bulk("edge2"), bulk("279.7403")]),
        ])
    );
    let nearest: Vec<String> = q(
        &mut c,
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "500",
            "km",
            "COUNT",
            "1",
        ],
    );
    assert_eq!(
        nearest,
        ["Catania"],
        "COUNT without ASC/DESC sorts ascending"
    );
    let any: Vec<String> = q(
        &mut c,
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "500",
            "km",
            "COUNT",
            "1",
            "ANY",
        ],
    );
    assert_eq!(any.len(), 1);
    let none: Vec<String> = q(
        &mut c,
        &[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km",
        ],
    );
    assert!(none.is_empty());
}

#[test]
fn store_forms_write_a_sorted_set() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    sicily(&mut c);
    let n: i64 = q(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "STOREDIST",
        ],
    );
    assert_eq!(n, 2);
    let z: Vec<String> = q(&mut c, &["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    assert_eq!(
        z,
        [
            "Catania",
            "56.441257870158204",
            "Palermo",
            "190.44242984775784"
        ]
    );
    let n: i64 = q(
        &mut c,
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "dst2",
        ],
    );
    assert_eq!(n, 2);
    let z: Vec<String> = q(&mut c, &["ZRANGE", "dst2", "0", "-1", "WITHSCORES"]);
    assert_eq!(
        z,
        ["Palermo", "3479099956230698", "Catania", "3479447370796909"],
        "STORE keeps the geohash scores: the result is a GEO set too"
    );
    // Nothing found (or no source key): the destination is deleted, the reply is 0.
    let n: i64 = q(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
    );
    assert_eq!(n, 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "dst"]), 0);
    let n: i64 = q(
        &mut c,
        &[
            "GEORADIUSBYMEMBER",
            "nokey",
            "x",
            "1",
            "km",
            "STORE",
            "dst2",
        ],
    );
    assert_eq!(n, 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "dst2"]), 0);
}

#[test]
fn geo_commands_in_resp3_reply_doubles() {
    use std::io::{Read, Write};
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    s.write_all(b"HELLO 3\r\nGEOADD k 13.361389 38.115556 Palermo\r\nGEOPOS k Palermo\r\n")
        .unwrap();
    let want: &[u8] = b":1\r\n*1\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n";
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(want) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
}
