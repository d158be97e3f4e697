//! Sets: encodings, membership, pops and random members, algebra and STORE forms, SSCAN.
use crate::common::*;
use std::collections::HashSet;

fn members(c: &mut redis::Connection, key: &str) -> HashSet<String> {
    q(c, &["SMEMBERS", key])
}

fn set_of(items: &[&str]) -> HashSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn intset_until_a_string_or_too_many_members() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["SADD", "s", "3", "1", "2", "1"]), 3);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]), "intset");
    // An intset lists its members in ascending order.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SMEMBERS", "s"]),
        ["1", "2", "3"]
    );
    assert_eq!(q::<i64>(&mut c, &["SADD", "s", "a"]), 1);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]),
        "hashtable"
    );
    assert_eq!(q::<i64>(&mut c, &["SREM", "s", "a"]), 1);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]),
        "hashtable",
        "conversion is one way"
    );
    // "01" is not an integer as Redis parses them: it makes a hashtable.
    q::<i64>(&mut c, &["SADD", "z", "01"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]),
        "hashtable"
    );
    q::<()>(&mut c, &["CONFIG", "SET", "set-max-intset-entries", "4"]);
    q::<i64>(&mut c, &["SADD", "big", "1", "2", "3", "4"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "big"]),
        "intset"
    );
    q::<i64>(&mut c, &["SADD", "big", "5"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "big"]),
        "hashtable"
    );
    assert_eq!(members(&mut c, "big"), set_of(&["1", "2", "3", "4", "5"]));
}

#[test]
fn membership_removal_and_wrongtype() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(&mut c, &["SADD", "s", "a", "b", "1"]);
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "s", "a"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "s", "x"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "nokey", "x"]), 0);
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["SMISMEMBER", "s", "a", "x", "1"]),
        [1, 0, 1]
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["SMISMEMBER", "nokey", "a", "b"]),
        [0, 0]
    );
    assert_eq!(q::<i64>(&mut c, &["SCARD", "s"]), 3);
    assert_eq!(q::<i64>(&mut c, &["SREM", "s", "a", "x", "b", "1"]), 3);
    assert_eq!(
        q::<i64>(&mut c, &["EXISTS", "s"]),
        0,
        "an emptied set is deleted"
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    for args in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SRANDMEMBER", "str"],
        &["SINTER", "str"],
        &["SUNION", "nokey", "str"],
        &["SDIFF", "str"],
        &["SINTERCARD", "1", "str"],
        &["SSCAN", "str", "0"],
        &["SMOVE", "str", "x", "a"],
    ] {
        assert!(err(&mut c, args).starts_with("WRONGTYPE"), "{args:?}");
    }
    assert_eq!(
        err(&mut c, &["SMISMEMBER", "s"]),
        "ERR wrong number of arguments for 'smismember' command"
    );
}

#[test]
fn spop_and_srandmember_counts() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let all = ["a", "b", "c", "d", "e"];
    let mut args = vec!["SADD", "s"];
    args.extend(all);
    q::<i64>(&mut c, &args);
    // Negative counts repeat members and return exactly |count| of them.
    let many: Vec<String> = q(&mut c, &["SRANDMEMBER", "s", "-20"]);
    assert_eq!(many.len(), 20);
    assert!(many.iter().all(|m| all.contains(&m.as_str())));
    let distinct: Vec<String> = q(&mut c, &["SRANDMEMBER", "s", "3"]);
    assert_eq!(distinct.iter().collect::<HashSet<_>>().len(), 3);
    let capped: Vec<String> = q(&mut c, &["SRANDMEMBER", "s", "100"]);
    assert_eq!(capped.len(), 5);
    assert!(q::<Vec<String>>(&mut c, &["SRANDMEMBER", "s", "0"]).is_empty());
    assert!(q::<Vec<String>>(&mut c, &["SRANDMEMBER", "nokey", "-3"]).is_empty());
    assert_eq!(q::<Option<String>>(&mut c, &["SRANDMEMBER", "nokey"]), None);
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["SPOP", "s", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(err(&mut c, &["SPOP", "s", "1", "2"]), "ERR syntax error");
    assert!(q::<Vec<String>>(&mut c, &["SPOP", "s", "0"]).is_empty());
    let popped: Vec<String> = q(&mut c, &["SPOP", "s", "2"]);
    assert_eq!(popped.len(), 2);
    assert_eq!(q::<i64>(&mut c, &["SCARD", "s"]), 3);
    let one: String = q(&mut c, &["SPOP", "s"]);
    let rest: Vec<String> = q(&mut c, &["SPOP", "s", "10"]);
    let mut seen: HashSet<String> = popped.into_iter().chain(rest).collect();
    seen.insert(one);
    assert_eq!(seen, set_of(&all), "every member popped exactly once");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "s"]), 0);
    assert_eq!(q::<Option<String>>(&mut c, &["SPOP", "s"]), None);
    assert!(q::<Vec<String>>(&mut c, &["SPOP", "s", "3"]).is_empty());
}

#[test]
fn smove_cases() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(&mut c, &["SADD", "src", "a", "b"]);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "src", "dst", "a"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "src", "dst", "a"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "nokey", "dst", "a"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "src", "src", "b"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "src", "src", "zz"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "src", "dst", "b"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "src"]), 0);
    assert_eq!(members(&mut c, "dst"), set_of(&["a", "b"]));
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert!(err(&mut c, &["SMOVE", "dst", "str", "a"]).starts_with("WRONGTYPE"));
    assert_eq!(
        q::<i64>(&mut c, &["SCARD", "dst"]),
        2,
        "nothing moved on error"
    );
}

#[test]
fn algebra_and_store_forms() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(&mut c, &["SADD", "a", "1", "2", "3", "x"]);
    q::<i64>(&mut c, &["SADD", "b", "2", "3", "4"]);
    q::<i64>(&mut c, &["SADD", "c", "3", "x"]);
    let inter: HashSet<String> = q(&mut c, &["SINTER", "a", "b"]);
    assert_eq!(inter, set_of(&["2", "3"]));
    let union: HashSet<String> = q(&mut c, &["SUNION", "a", "b", "nokey"]);
    assert_eq!(union, set_of(&["1", "2", "3", "4", "x"]));
    let diff: HashSet<String> = q(&mut c, &["SDIFF", "a", "b", "c"]);
    assert_eq!(diff, set_of(&["1"]));
    assert!(q::<Vec<String>>(&mut c, &["SINTER", "a", "nokey"]).is_empty());
    assert!(q::<Vec<String>>(&mut c, &["SDIFF", "nokey", "a"]).is_empty());

    assert_eq!(q::<i64>(&mut c, &["SINTERSTORE", "d", "a", "b"]), 2);
    assert_eq!(members(&mut c, "d"), set_of(&["2", "3"]));
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "d"]), "intset");
    assert_eq!(q::<i64>(&mut c, &["SUNIONSTORE", "d", "a", "c"]), 4);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "d"]),
        "hashtable"
    );
    // The destination may be one of the sources.
    assert_eq!(q::<i64>(&mut c, &["SDIFFSTORE", "a", "a", "c"]), 2);
    assert_eq!(members(&mut c, "a"), set_of(&["1", "2"]));
    // An empty result deletes the destination, whatever it held.
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_eq!(q::<i64>(&mut c, &["SINTERSTORE", "str", "a", "nokey"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "str"]), 0);
    // A non-set destination is replaced.
    q::<()>(&mut c, &["SET", "str", "v"]);
    q::<()>(&mut c, &["EXPIRE", "str", "100"]);
    assert_eq!(q::<i64>(&mut c, &["SUNIONSTORE", "str", "b"]), 3);
    assert_eq!(
        q::<i64>(&mut c, &["TTL", "str"]),
        -1,
        "STORE drops the old TTL"
    );

    assert_eq!(q::<i64>(&mut c, &["SINTERCARD", "2", "b", "c"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SINTERCARD", "1", "b", "LIMIT", "2"]), 2);
    assert_eq!(q::<i64>(&mut c, &["SINTERCARD", "1", "b", "LIMIT", "0"]), 3);
    assert_eq!(
        err(&mut c, &["SINTERCARD", "0", "b"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "x", "b"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "3", "b"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1", "b", "LIMIT", "-1"]),
        "ERR LIMIT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1", "b", "FOO"]),
        "ERR syntax error"
    );
}

#[test]
fn sscan_visits_every_member() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut expected = HashSet::new();
    for chunk in 0..10 {
        let mut args = vec!["SADD".to_string(), "s".to_string()];
        for i in 0..100 {
            let m = format!("m{}", chunk * 100 + i);
            expected.insert(m.clone());
            args.push(m);
        }
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        q::<i64>(&mut c, &refs);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) =
            q(&mut c, &["SSCAN", "s", &cursor, "COUNT", "50"]);
        seen.extend(items);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen, expected);
    // MATCH filters; an intset comes back whole with cursor 0.
    q::<i64>(&mut c, &["SADD", "ints", "1", "2", "10", "11"]);
    let (next, items): (String, Vec<String>) = q(&mut c, &["SSCAN", "ints", "0", "MATCH", "1*"]);
    assert_eq!(next, "0");
    assert_eq!(items, ["1", "10", "11"]);
    let (next, items): (String, Vec<String>) = q(&mut c, &["SSCAN", "nokey", "0"]);
    assert_eq!((next.as_str(), items.len()), ("0", 0));
    assert_eq!(err(&mut c, &["SSCAN", "s", "x"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["SSCAN", "s", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SSCAN", "s", "0", "FOO", "1"]),
        "ERR syntax error"
    );
}

/// Integer sets are offsets from their smallest member: clustered ids, negative and
/// extreme values, a new smallest member, widening, and DUMP/RESTORE in Redis's intset
/// layout (redis-server reads the same bytes in the interop tests).
#[test]
fn intsets_of_any_range_round_trip_and_dump_as_redis_intsets() {
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = srv.client();
    let vals = [
        "1000050",
        "1000000",
        "1000099",
        "999999",
        "-5",
        "9223372036854775807",
        "-9223372036854775808",
        "70000",
        "0",
    ];
    let mut want = HashSet::new();
    for v in vals {
        assert_eq!(q::<i64>(&mut c, &["SADD", "s", v]), 1);
        want.insert(v.to_string());
        assert_eq!(members(&mut c, "s"), want, "after {v}");
        assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "s", v]), 1);
    }
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]), "intset");
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "s", "1000001"]), 0);
    let sorted: Vec<String> = q(&mut c, &["SORT", "s"]);
    assert_eq!(
        sorted.first().map(String::as_str),
        Some("-9223372036854775808")
    );
    // An intset DUMP holds Redis's 8-byte width for these members: 8 + 9 * 8 bytes of body.
    let dump: Vec<u8> = q(&mut c, &["DUMP", "s"]);
    let _: () = q(&mut c, &["DEL", "s"]);
    let _: () = redis::cmd("RESTORE")
        .arg("s")
        .arg(0)
        .arg(&dump)
        .query(&mut c)
        .unwrap();
    assert_eq!(members(&mut c, "s"), want);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]), "intset");
    let e = err(&mut c, &["DEBUG", "HTSTATS-KEY", "s"]);
    assert!(e.contains("not represented using an hash table"), "{e}");
    let _: i64 = q(&mut c, &["SADD", "s", "x"]);
    let st: String = q(&mut c, &["DEBUG", "HTSTATS-KEY", "s"]);
    assert!(st.contains("number of elements: 10"), "{st}");
}
