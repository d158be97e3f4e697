//! Streams: XADD/XRANGE/XREAD, trimming, consumer groups, pending entries and claims.
use crate::common::*;
use redis::Value as V;

/// IDs of an XRANGE-shaped reply.
fn ids(v: &V) -> Vec<String> {
    let V::Array(items) = v else {
        panic!("not an array: {v:?}")
    };
    items
        .iter()
        .map(|e| match e {
            V::Array(pair) => match &pair[0] {
                V::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                other => panic!("bad id {other:?}"),
            },
            other => panic!("bad entry {other:?}"),
        })
        .collect()
}

#[test]
fn xadd_ids_ranges_and_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let id: String = q(&mut c, &["XADD", "s", "5-1", "f", "v"]);
    assert_eq!(id, "5-1");
    let id: String = q(&mut c, &["XADD", "s", "5-*", "f", "v"]);
    assert_eq!(id, "5-2", "<ms>-* continues the sequence");
    let id: String = q(&mut c, &["XADD", "s", "*", "f", "v"]);
    let ms: u64 = id.split('-').next().unwrap().parse().unwrap();
    assert!(ms > 1_600_000_000_000, "auto IDs use the clock: {id}");
    assert_eq!(
        err(&mut c, &["XADD", "s", "5-0", "f", "v"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(
        err(&mut c, &["XADD", "t", "0-0", "f", "v"]),
        "ERR The ID specified in XADD must be greater than 0-0"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "abc", "f", "v"]),
        "ERR Invalid stream ID specified as stream command argument"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "*", "f"]),
        "ERR wrong number of arguments for 'xadd' command"
    );
    let _: () = q(&mut c, &["SET", "str", "x"]);
    assert!(err(&mut c, &["XADD", "str", "*", "f", "v"]).starts_with("WRONGTYPE"));
    let none: Option<String> = q(&mut c, &["XADD", "nokey", "NOMKSTREAM", "*", "f", "v"]);
    assert_eq!(none, None);
    let n: i64 = q(&mut c, &["EXISTS", "nokey"]);
    assert_eq!(n, 0, "NOMKSTREAM creates nothing");

    let r: V = q(&mut c, &["XRANGE", "s", "-", "+"]);
    assert_eq!(ids(&r).len(), 3);
    let r: V = q(&mut c, &["XRANGE", "s", "(5-1", "+", "COUNT", "1"]);
    assert_eq!(ids(&r), vec!["5-2"], "exclusive start, COUNT");
    let r: V = q(&mut c, &["XREVRANGE", "s", "5", "-"]);
    assert_eq!(
        ids(&r),
        vec!["5-2", "5-1"],
        "incomplete end ID means any sequence"
    );
    let r: V = q(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "0"]);
    assert_eq!(r, V::Nil);
    let n: i64 = q(&mut c, &["XLEN", "s"]);
    assert_eq!(n, 3);
    let t: String = q(&mut c, &["TYPE", "s"]);
    assert_eq!(t, "stream");
}

#[test]
fn trimming_exact_and_approximate() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = q(&mut c, &["CONFIG", "SET", "stream-node-max-entries", "100"]);
    for i in 1..=1000 {
        let id = format!("{i}-0");
        let _: String = q(&mut c, &["XADD", "s", "MAXLEN", "~", "555", &id, "i", "v"]);
    }
    let n: i64 = q(&mut c, &["XLEN", "s"]);
    assert_eq!(n, 600, "~ trims whole nodes of 100 entries, as Redis");
    let d: i64 = q(&mut c, &["XTRIM", "s", "MAXLEN", "555"]);
    assert_eq!(d, 45);
    let d: i64 = q(&mut c, &["XTRIM", "s", "MINID", "500"]);
    assert_eq!(d, 54);
    let r: V = q(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "1"]);
    assert_eq!(ids(&r), vec!["500-0"]);
    assert_eq!(
        err(&mut c, &["XTRIM", "s", "MAXLEN", "10", "LIMIT", "5"]),
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
    );
    assert_eq!(
        err(&mut c, &["XTRIM", "s"]),
        "ERR wrong number of arguments for 'xtrim' command"
    );
    let d: i64 = q(&mut c, &["XDEL", "s", "500-0", "501-0", "9999-0"]);
    assert_eq!(d, 2);
}

#[test]
fn xread_reads_after_ids_in_resp2_and_resp3() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    for i in 1..=3 {
        let _: String = q(&mut c, &["XADD", "a", &format!("{i}-0"), "k", "v"]);
    }
    let r: V = q(
        &mut c,
        &["XREAD", "COUNT", "1", "STREAMS", "a", "nokey", "1", "0"],
    );
    let V::Array(streams) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(streams.len(), 1, "only streams with data appear");
    let V::Array(pair) = &streams[0] else {
        panic!()
    };
    assert_eq!(pair[0], V::BulkString(b"a".to_vec()));
    assert_eq!(ids(&pair[1]), vec!["2-0"]);
    let r: V = q(&mut c, &["XREAD", "STREAMS", "a", "$"]);
    assert_eq!(r, V::Nil, "nothing after $");
    assert!(err(&mut c, &["XREAD", "STREAMS", "a", "b", "0"]).starts_with("ERR Unbalanced XREAD"));
    assert!(err(&mut c, &["XREAD", "STREAMS", "a", ">"]).starts_with("ERR The > ID"));

    let mut s = srv.raw();
    let r = raw_roundtrip(&mut s, b"HELLO 3\r\n", 10);
    assert!(r.starts_with(b"%"));
    std::thread::sleep(std::time::Duration::from_millis(50));
    let r = raw_roundtrip(&mut s, b"XREAD COUNT 1 STREAMS a 2\r\n", 10);
    assert!(
        r.starts_with(b"%1\r\n$1\r\na\r\n*1\r\n"),
        "RESP3 answers a map: {}",
        String::from_utf8_lossy(&r)
    );
}

#[test]
fn consumer_groups_pending_ack_claim() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert!(err(&mut c, &["XGROUP", "CREATE", "s", "g", "$"])
        .starts_with("ERR The XGROUP subcommand requires the key to exist"));
    let _: () = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    assert_eq!(
        err(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]),
        "BUSYGROUP Consumer Group name already exists"
    );
    for i in 1..=4 {
        let _: String = q(&mut c, &["XADD", "s", &format!("{i}-0"), "k", "v"]);
    }
    let r: V = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let V::Array(streams) = &r else {
        panic!("{r:?}")
    };
    let V::Array(pair) = &streams[0] else {
        panic!()
    };
    assert_eq!(ids(&pair[1]), vec!["1-0", "2-0", "3-0"]);
    // Summary form: count, smallest, greatest, per-consumer counts.
    let p: V = q(&mut c, &["XPENDING", "s", "g"]);
    let V::Array(p) = p else { panic!() };
    assert_eq!(p[0], V::Int(3));
    assert_eq!(p[1], V::BulkString(b"1-0".to_vec()));
    assert_eq!(p[2], V::BulkString(b"3-0".to_vec()));
    let acked: i64 = q(&mut c, &["XACK", "s", "g", "1-0", "1-0", "9-0"]);
    assert_eq!(acked, 1);
    // History: alice's own pending entries, delivery count goes up.
    let _: V = q(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
    );
    let ext: V = q(&mut c, &["XPENDING", "s", "g", "-", "+", "10", "alice"]);
    let V::Array(rows) = ext else { panic!() };
    assert_eq!(rows.len(), 2);
    let V::Array(row) = &rows[0] else { panic!() };
    assert_eq!(row[0], V::BulkString(b"2-0".to_vec()));
    assert_eq!(row[3], V::Int(2), "delivered twice");
    // XCLAIM to bob with JUSTID.
    let cl: Vec<String> = q(&mut c, &["XCLAIM", "s", "g", "bob", "0", "2-0", "JUSTID"]);
    assert_eq!(cl, vec!["2-0"]);
    let cons: V = q(&mut c, &["XINFO", "CONSUMERS", "s", "g"]);
    let V::Array(cons) = cons else { panic!() };
    assert_eq!(cons.len(), 2);
    // XAUTOCLAIM the rest to carol; a deleted entry is reported and dropped.
    let _: i64 = q(&mut c, &["XDEL", "s", "3-0"]);
    let ac: V = q(
        &mut c,
        &["XAUTOCLAIM", "s", "g", "carol", "0", "0", "JUSTID"],
    );
    let V::Array(ac) = ac else { panic!() };
    assert_eq!(ac[0], V::BulkString(b"0-0".to_vec()));
    assert_eq!(ac[2], V::Array(vec![V::BulkString(b"3-0".to_vec())]));
    assert!(err(
        &mut c,
        &["XREADGROUP", "GROUP", "nog", "x", "STREAMS", "s", ">"]
    )
    .starts_with("NOGROUP No such key 's' or consumer group 'nog'"));
    let groups: V = q(&mut c, &["XINFO", "GROUPS", "s"]);
    let V::Array(groups) = groups else { panic!() };
    assert_eq!(groups.len(), 1);
    let info: V = q(&mut c, &["XINFO", "STREAM", "s"]);
    let V::Array(info) = info else { panic!() };
    assert_eq!(info[0], V::BulkString(b"length".to_vec()));
    assert_eq!(info[1], V::Int(3));
    let destroyed: i64 = q(&mut c, &["XGROUP", "DESTROY", "s", "g"]);
    assert_eq!(destroyed, 1);
}

/// XINFO GROUPS lag after XGROUP SETID ... ENTRIESREAD beyond the entries added: Redis
/// 7.0.15 reports entries-added minus entries-read, here -1 (ferrokv reported 0).
#[test]
fn group_lag_can_be_negative_after_setid_entriesread() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("s")
        .arg("g")
        .arg("$")
        .arg("MKSTREAM")
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg("s")
        .arg("1-0")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg("SETID")
        .arg("s")
        .arg("g")
        .arg("0")
        .arg("ENTRIESREAD")
        .arg(2)
        .query(&mut c)
        .unwrap();
    let groups: Vec<Vec<redis::Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg("s")
        .query(&mut c)
        .unwrap();
    let g = &groups[0];
    let lag_at = g
        .iter()
        .position(|v| *v == redis::Value::BulkString(b"lag".to_vec()))
        .unwrap();
    assert_eq!(g[lag_at + 1], redis::Value::Int(-1));
}
