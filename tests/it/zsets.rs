//! Sorted sets: ZADD flags, score formatting, ranges, rank, STORE forms, pops (blocking
//! too), set algebra with WEIGHTS/AGGREGATE, random members, ZSCAN, encodings.
use crate::common::*;
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

fn strs(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    q(c, args)
}

#[test]
fn zadd_flags_and_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["ZADD", "z", "1", "a", "2", "b"]), 2);
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "NX", "5", "a", "3", "c"]),
        1
    );
    assert_eq!(
        q::<String>(&mut c, &["ZSCORE", "z", "a"]),
        "1",
        "NX keeps scores"
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "XX", "5", "a", "4", "d"]),
        0
    );
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z", "a"]), "5");
    assert_eq!(
        q::<Option<String>>(&mut c, &["ZSCORE", "z", "d"]),
        None,
        "XX adds nothing"
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "CH", "5", "a", "9", "b", "1", "e"]),
        2
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "GT", "CH", "1", "a", "10", "b"]),
        1
    );
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z", "a"]), "5");
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "LT", "CH", "1", "a", "20", "b"]),
        1
    );
    assert_eq!(strs(&mut c, &["ZMSCORE", "z", "a", "b"]), ["1", "10"]);
    assert_eq!(
        q::<String>(&mut c, &["ZADD", "z", "INCR", "2.5", "a"]),
        "3.5"
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["ZADD", "z", "GT", "INCR", "-1", "a"]),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["ZADD", "nokey", "XX", "INCR", "1", "a"]),
        None
    );
    assert_eq!(q::<i64>(&mut c, &["ZADD", "nokey", "XX", "1", "a"]), 0);
    assert_eq!(
        q::<i64>(&mut c, &["EXISTS", "nokey"]),
        0,
        "XX never creates the key"
    );

    assert_eq!(
        err(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    for flags in [["GT", "LT"], ["NX", "GT"], ["LT", "NX"]] {
        assert_eq!(
            err(&mut c, &["ZADD", "z", flags[0], flags[1], "1", "a"]),
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        );
    }
    assert_eq!(
        err(&mut c, &["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "1", "a", "2"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "nan", "a"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "x", "a"]),
        "ERR value is not a valid float"
    );
    // Scores are all parsed before anything is added.
    assert_eq!(
        err(&mut c, &["ZADD", "z", "1", "new", "x", "b"]),
        "ERR value is not a valid float"
    );
    assert_eq!(q::<Option<String>>(&mut c, &["ZSCORE", "z", "new"]), None);
    q::<i64>(&mut c, &["ZADD", "z", "inf", "i"]);
    assert_eq!(
        err(&mut c, &["ZINCRBY", "z", "-inf", "i"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(
        err(&mut c, &["ZINCRBY", "z", "x", "i"]),
        "ERR value is not a valid float"
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert!(err(&mut c, &["ZADD", "str", "1", "a"]).starts_with("WRONGTYPE"));
}

#[test]
fn scores_are_formatted_like_redis() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(
        &mut c,
        &[
            "ZADD", "z", "-inf", "lo", "+inf", "hi", "0.1", "p", "1e20", "big", "3", "n",
        ],
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        [
            "lo",
            "-inf",
            "p",
            "0.10000000000000001",
            "n",
            "3",
            "big",
            "1e+20",
            "hi",
            "inf"
        ]
    );
    assert_eq!(
        q::<String>(&mut c, &["ZINCRBY", "z", "1.1", "n"]),
        "4.0999999999999996"
    );
    assert_eq!(q::<String>(&mut c, &["ZINCRBY", "z", "1", "new"]), "1");
}

#[test]
fn ranges_by_rank_score_and_lex() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(
        &mut c,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
    );
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "1", "-2"]), ["b", "c", "d"]);
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "-100", "100"]).len(), 5);
    assert!(strs(&mut c, &["ZRANGE", "z", "3", "1"]).is_empty());
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "0", "1", "REV"]), ["e", "d"]);
    assert_eq!(
        strs(&mut c, &["ZREVRANGE", "z", "0", "0", "WITHSCORES"]),
        ["e", "5"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "(1", "3", "BYSCORE"]),
        ["b", "c"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZRANGE", "z", "+inf", "(2", "BYSCORE", "REV", "LIMIT", "1", "2"]
        ),
        ["d", "c"]
    );
    assert_eq!(
        strs(
            &mut c,
            &[
                "ZRANGEBYSCORE",
                "z",
                "-inf",
                "+inf",
                "WITHSCORES",
                "LIMIT",
                "3",
                "-1"
            ]
        ),
        ["d", "4", "e", "5"]
    );
    assert!(strs(
        &mut c,
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"]
    )
    .is_empty());
    assert_eq!(
        strs(&mut c, &["ZREVRANGEBYSCORE", "z", "4", "2"]),
        ["d", "c", "b"]
    );
    assert_eq!(q::<i64>(&mut c, &["ZCOUNT", "z", "(1", "(5"]), 3);
    assert_eq!(q::<i64>(&mut c, &["ZCOUNT", "z", "5", "1"]), 0);

    q::<i64>(
        &mut c,
        &[
            "ZADD", "l", "0", "alpha", "0", "bar", "0", "cool", "0", "down",
        ],
    );
    assert_eq!(
        strs(&mut c, &["ZRANGEBYLEX", "l", "[bar", "(down"]),
        ["bar", "cool"]
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "l", "+", "[c", "BYLEX", "REV"]),
        ["down", "cool"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "1", "1"]
        ),
        ["cool"]
    );
    assert_eq!(q::<i64>(&mut c, &["ZLEXCOUNT", "l", "-", "+"]), 4);
    assert_eq!(q::<i64>(&mut c, &["ZLEXCOUNT", "l", "(alpha", "[cool"]), 2);

    assert_eq!(
        err(&mut c, &["ZRANGE", "z", "a", "1", "BYSCORE"]),
        "ERR min or max is not a float"
    );
    assert_eq!(
        err(&mut c, &["ZCOUNT", "z", "(nan", "1"]),
        "ERR min or max is not a float"
    );
    assert_eq!(
        err(&mut c, &["ZRANGEBYLEX", "l", "a", "+"]),
        "ERR min or max not valid string range item"
    );
    assert_eq!(
        err(&mut c, &["ZLEXCOUNT", "l", "-x", "+"]),
        "ERR min or max not valid string range item"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"]),
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZRANGEBYSCORE", "z", "0", "1", "BYSCORE"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "z", "x", "1"]),
        "ERR value is not an integer or out of range"
    );

    assert_eq!(
        q::<i64>(&mut c, &["ZRANGESTORE", "dst", "z", "(1", "4", "BYSCORE"]),
        3
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        ["b", "2", "c", "3", "d", "4"]
    );
    assert_eq!(
        err(&mut c, &["ZRANGESTORE", "dst", "z", "0", "1", "WITHSCORES"]),
        "ERR syntax error"
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZRANGESTORE", "dst", "nokey", "0", "-1"]),
        0
    );
    assert_eq!(
        q::<i64>(&mut c, &["EXISTS", "dst"]),
        0,
        "an empty result deletes the destination"
    );
}

#[test]
fn rank_and_counts_on_a_large_set_match_a_model() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    // Pseudo-random scores with many ties, so the member breaks them.
    let mut model = BTreeSet::new();
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    let mut x: u64 = 12345;
    for i in 0..2000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let score = (x >> 33) % 100;
        let m = format!("m{i:04}");
        model.insert((score, m.clone()));
        args.push(score.to_string());
        args.push(m);
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(q::<i64>(&mut c, &refs), 2000);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]),
        "skiplist"
    );
    let order: Vec<&String> = model.iter().map(|(_, m)| m).collect();
    for r in [0usize, 1, 777, 1500, 1999] {
        let m = order[r];
        assert_eq!(q::<i64>(&mut c, &["ZRANK", "z", m]), r as i64);
        assert_eq!(q::<i64>(&mut c, &["ZREVRANK", "z", m]), 1999 - r as i64);
        assert_eq!(
            strs(&mut c, &["ZRANGE", "z", &r.to_string(), &r.to_string()]),
            [m.as_str()]
        );
    }
    assert_eq!(q::<Option<i64>>(&mut c, &["ZRANK", "z", "nope"]), None);
    let in_range = model.iter().filter(|(s, _)| *s > 10 && *s <= 40).count();
    assert_eq!(
        q::<i64>(&mut c, &["ZCOUNT", "z", "(10", "40"]),
        in_range as i64
    );
    let got = strs(&mut c, &["ZRANGE", "z", "(10", "40", "BYSCORE"]);
    let want: Vec<String> = model
        .iter()
        .filter(|(s, _)| *s > 10 && *s <= 40)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        q::<i64>(&mut c, &["ZREMRANGEBYSCORE", "z", "(10", "40"]),
        in_range as i64
    );
    assert_eq!(q::<i64>(&mut c, &["ZCARD", "z"]), (2000 - in_range) as i64);
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYRANK", "z", "0", "9"]), 10);
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYRANK", "z", "-5", "-1"]), 5);
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYRANK", "z", "5", "1"]), 0);
    assert_eq!(
        q::<i64>(&mut c, &["ZCARD", "z"]),
        (2000 - in_range - 15) as i64
    );
    let kept = model
        .iter()
        .filter(|(s, _)| !(*s > 10 && *s <= 40))
        .map(|(_, m)| m.clone())
        .collect::<Vec<_>>();
    let n = kept.len();
    assert_eq!(
        strs(&mut c, &["ZRANGE", "z", "0", "-1"]),
        kept[10..n - 5].to_vec()
    );
}

#[test]
fn zrem_and_zremrangebylex_delete_empty_keys() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(&mut c, &["ZADD", "z", "0", "a", "0", "b", "0", "c"]);
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYLEX", "z", "(a", "+"]), 2);
    assert_eq!(q::<i64>(&mut c, &["ZREM", "z", "x", "a"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "z"]), 0);
    assert_eq!(q::<i64>(&mut c, &["ZREM", "z", "a"]), 0);
    assert_eq!(
        q::<i64>(&mut c, &["ZREMRANGEBYSCORE", "z", "-inf", "inf"]),
        0
    );
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYSCORE", "z", "x", "1"]),
        "ERR min or max is not a float"
    );
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYLEX", "z", "x", "+"]),
        "ERR min or max not valid string range item"
    );
}

#[test]
fn pops_and_zmpop() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(
        &mut c,
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    assert_eq!(strs(&mut c, &["ZPOPMIN", "z"]), ["a", "1"]);
    assert_eq!(strs(&mut c, &["ZPOPMAX", "z", "2"]), ["d", "4", "c", "3"]);
    assert!(strs(&mut c, &["ZPOPMIN", "z", "0"]).is_empty());
    assert!(strs(&mut c, &["ZPOPMIN", "nokey"]).is_empty());
    assert_eq!(
        err(&mut c, &["ZPOPMIN", "z", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(err(&mut c, &["ZPOPMIN", "z", "1", "2"]), "ERR syntax error");
    q::<i64>(&mut c, &["ZADD", "y", "7", "q"]);
    let v: redis::Value = q(
        &mut c,
        &["ZMPOP", "3", "nokey", "y", "z", "MIN", "COUNT", "5"],
    );
    let expected = redis::Value::Array(vec![
        redis::Value::BulkString(b"y".to_vec()),
        redis::Value::Array(vec![redis::Value::Array(vec![
            redis::Value::BulkString(b"q".to_vec()),
            redis::Value::BulkString(b"7".to_vec()),
        ])]),
    ]);
    assert_eq!(v, expected);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "y"]), 0);
    assert_eq!(
        q::<redis::Value>(&mut c, &["ZMPOP", "1", "nokey", "MAX"]),
        redis::Value::Nil
    );
    assert_eq!(
        err(&mut c, &["ZMPOP", "0", "z", "MIN"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(err(&mut c, &["ZMPOP", "1", "z", "UP"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["ZMPOP", "5", "z", "MIN"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["ZMPOP", "1", "z", "MIN", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(
        err(
            &mut c,
            &["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"]
        ),
        "ERR syntax error"
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert!(err(&mut c, &["ZMPOP", "2", "nokey", "str", "MIN"]).starts_with("WRONGTYPE"));
}

#[test]
fn blocking_pops_wait_for_data_or_time_out() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut other = srv.client();
    // Data present: served at once, with the key.
    q::<i64>(&mut c, &["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(
        strs(&mut c, &["BZPOPMAX", "nokey", "z", "0"]),
        ["z", "b", "2"]
    );
    // Nothing there: a timeout yields a null reply.
    assert_eq!(
        q::<redis::Value>(&mut c, &["BZPOPMIN", "empty", "0.05"]),
        redis::Value::Nil
    );
    assert_eq!(
        q::<redis::Value>(&mut c, &["BZMPOP", "0.05", "1", "empty", "MIN"]),
        redis::Value::Nil
    );
    // A client blocked on an empty key is served by another client's ZADD.
    let port = srv.port;
    let waiter = std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let mut w = client.get_connection().unwrap();
        let v: Vec<String> = redis::cmd("BZPOPMIN")
            .arg("w")
            .arg("10")
            .query(&mut w)
            .unwrap();
        v
    });
    // Wait until the waiter is blocked (INFO clients: blocked_clients:1).
    for _ in 0..200 {
        let info: String = q(&mut other, &["INFO", "clients"]);
        if info.contains("blocked_clients:1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    q::<i64>(&mut other, &["ZADD", "w", "5", "x", "3", "y"]);
    assert_eq!(waiter.join().unwrap(), ["w", "y", "3"]);
    assert_eq!(strs(&mut other, &["ZRANGE", "w", "0", "-1"]), ["x"]);
    assert_eq!(
        err(&mut c, &["BZPOPMIN", "z", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut c, &["BZPOPMIN", "z", "x"]),
        "ERR timeout is not a float or out of range"
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert!(err(&mut c, &["BZPOPMIN", "str", "0"]).starts_with("WRONGTYPE"));
}

#[test]
fn union_inter_diff_with_weights_aggregates_and_sets() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(&mut c, &["ZADD", "a", "1", "x", "2", "y", "3", "z"]);
    q::<i64>(&mut c, &["ZADD", "b", "10", "y", "20", "z", "30", "w"]);
    q::<i64>(&mut c, &["SADD", "s", "x", "y"]);
    assert_eq!(
        strs(&mut c, &["ZUNION", "2", "a", "b", "WITHSCORES"]),
        ["x", "1", "y", "12", "z", "23", "w", "30"]
    );
    assert_eq!(
        strs(
            &mut c,
            &[
                "ZINTER",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "2",
                "0.5",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]
        ),
        ["y", "5", "z", "10"]
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZINTER", "2", "a", "s", "AGGREGATE", "MIN", "WITHSCORES"]
        ),
        ["x", "1", "y", "1"],
        "set members score 1"
    );
    assert_eq!(
        strs(&mut c, &["ZDIFF", "2", "a", "s", "WITHSCORES"]),
        ["z", "3"]
    );
    assert_eq!(strs(&mut c, &["ZDIFF", "3", "nokey", "a", "b"]).len(), 0);
    assert_eq!(
        q::<i64>(
            &mut c,
            &[
                "ZUNIONSTORE",
                "out",
                "3",
                "a",
                "b",
                "s",
                "WEIGHTS",
                "1",
                "1",
                "5"
            ]
        ),
        4
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "out", "0", "-1", "WITHSCORES"]),
        ["x", "6", "y", "17", "z", "23", "w", "30"]
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZINTERSTORE", "out", "2", "a", "nokey"]),
        0
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "out"]), 0);
    assert_eq!(q::<i64>(&mut c, &["ZDIFFSTORE", "out", "2", "b", "a"]), 1);
    assert_eq!(
        strs(&mut c, &["ZRANGE", "out", "0", "-1", "WITHSCORES"]),
        ["w", "30"]
    );
    // inf * 0 weights give 0, and inf + -inf sums give 0, as Redis.
    q::<i64>(&mut c, &["ZADD", "i1", "inf", "m"]);
    q::<i64>(&mut c, &["ZADD", "i2", "-inf", "m"]);
    assert_eq!(
        strs(&mut c, &["ZUNION", "2", "i1", "i2", "WITHSCORES"]),
        ["m", "0"]
    );
    assert_eq!(
        strs(&mut c, &["ZUNION", "1", "i1", "WEIGHTS", "0", "WITHSCORES"]),
        ["m", "0"]
    );
    assert_eq!(q::<i64>(&mut c, &["ZINTERCARD", "2", "a", "b"]), 2);
    assert_eq!(
        q::<i64>(&mut c, &["ZINTERCARD", "2", "a", "b", "LIMIT", "1"]),
        1
    );

    assert_eq!(
        err(&mut c, &["ZUNION", "0", "a"]),
        "ERR at least 1 input key is needed for 'zunion' command"
    );
    assert_eq!(
        err(&mut c, &["ZINTERSTORE", "o", "0", "a"]),
        "ERR at least 1 input key is needed for 'zinterstore' command"
    );
    assert_eq!(err(&mut c, &["ZUNION", "3", "a", "b"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"]),
        "ERR weight value is not a float"
    );
    assert_eq!(
        err(&mut c, &["ZUNION", "2", "a", "b", "AGGREGATE", "AVG"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZDIFF", "2", "a", "b", "WEIGHTS", "1", "2"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZUNIONSTORE", "o", "1", "a", "WITHSCORES"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZINTERCARD", "1", "a", "LIMIT", "-1"]),
        "ERR LIMIT can't be negative"
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert!(err(&mut c, &["ZUNION", "2", "a", "str"]).starts_with("WRONGTYPE"));
}

#[test]
fn zrandmember_counts_and_zscan() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let many = strs(&mut c, &["ZRANDMEMBER", "z", "-10"]);
    assert_eq!(many.len(), 10);
    assert!(many.iter().all(|m| ["a", "b", "c"].contains(&m.as_str())));
    let pairs = strs(&mut c, &["ZRANDMEMBER", "z", "-4", "WITHSCORES"]);
    assert_eq!(pairs.len(), 8);
    for p in pairs.chunks(2) {
        let want = match p[0].as_str() {
            "a" => "1",
            "b" => "2",
            _ => "3",
        };
        assert_eq!(p[1], want);
    }
    let two = strs(&mut c, &["ZRANDMEMBER", "z", "2"]);
    assert_eq!(two.iter().collect::<HashSet<_>>().len(), 2);
    assert_eq!(strs(&mut c, &["ZRANDMEMBER", "z", "10"]).len(), 3);
    assert!(strs(&mut c, &["ZRANDMEMBER", "nokey", "3"]).is_empty());
    assert_eq!(q::<Option<String>>(&mut c, &["ZRANDMEMBER", "nokey"]), None);
    assert_eq!(
        err(&mut c, &["ZRANDMEMBER", "z", "1", "FOO"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(
            &mut c,
            &["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"]
        ),
        "ERR value is out of range"
    );

    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..500 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    q::<i64>(&mut c, &refs);
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) = q(&mut c, &["ZSCAN", "big", &cursor]);
        for p in items.chunks(2) {
            assert_eq!(p[0], format!("m{}", p[1]), "score follows its member");
            seen.insert(p[0].clone());
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 500);
    let (next, items): (String, Vec<String>) = q(&mut c, &["ZSCAN", "z", "0", "MATCH", "b"]);
    assert_eq!(
        (next.as_str(), items),
        ("0", vec!["b".to_string(), "2".to_string()])
    );
    assert_eq!(err(&mut c, &["ZSCAN", "z", "x1"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["ZSCAN", "z", "99999999999999999999"]),
        "ERR invalid cursor"
    );
}

#[test]
fn encoding_follows_listpack_limits() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<()>(&mut c, &["CONFIG", "SET", "zset-max-listpack-entries", "3"]);
    q::<()>(&mut c, &["CONFIG", "SET", "zset-max-listpack-value", "8"]);
    q::<i64>(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]),
        "listpack"
    );
    q::<i64>(&mut c, &["ZADD", "z", "4", "d"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]),
        "skiplist"
    );
    q::<i64>(&mut c, &["ZREM", "z", "d", "c"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]),
        "skiplist",
        "one way"
    );
    q::<i64>(&mut c, &["ZADD", "long", "1", "abcdefghi"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "long"]),
        "skiplist"
    );
    // STORE results are sized afresh.
    q::<i64>(&mut c, &["ZUNIONSTORE", "copy", "1", "z"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "copy"]),
        "listpack"
    );
}

#[test]
fn wrongtype_everywhere() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<()>(&mut c, &["SET", "str", "v"]);
    for args in [
        &["ZINCRBY", "str", "1", "a"][..],
        &["ZREM", "str", "a"],
        &["ZCARD", "str"],
        &["ZCOUNT", "str", "0", "1"],
        &["ZLEXCOUNT", "str", "-", "+"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZRANK", "str", "a"],
        &["ZREVRANK", "str", "a"],
        &["ZRANGE", "str", "0", "1"],
        &["ZRANGESTORE", "d", "str", "0", "1"],
        &["ZRANGEBYSCORE", "str", "0", "1"],
        &["ZRANGEBYLEX", "str", "-", "+"],
        &["ZREMRANGEBYRANK", "str", "0", "1"],
        &["ZREMRANGEBYSCORE", "str", "0", "1"],
        &["ZREMRANGEBYLEX", "str", "-", "+"],
        &["ZPOPMIN", "str"],
        &["ZPOPMAX", "str", "2"],
        &["ZRANDMEMBER", "str"],
        &["ZSCAN", "str", "0"],
        &["ZINTERCARD", "1", "str"],
    ] {
        assert!(err(&mut c, args).starts_with("WRONGTYPE"), "{args:?}");
    }
}

#[test]
fn set_and_zset_writes_publish_keyspace_events() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut sub = srv.client();
    q::<()>(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Egsz"]);
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").unwrap();
    ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut next = || {
        let m = ps.get_message().unwrap();
        let payload: String = m.get_payload().unwrap();
        format!("{} {payload}", m.get_channel_name())
    };
    q::<i64>(&mut c, &["SADD", "s", "a"]);
    q::<i64>(&mut c, &["SADD", "s", "a"]); // nothing added: no event
    q::<i64>(&mut c, &["SMOVE", "s", "d", "a"]);
    q::<i64>(&mut c, &["ZADD", "z", "1", "m"]);
    q::<String>(&mut c, &["ZINCRBY", "z", "1", "m"]);
    q::<i64>(&mut c, &["ZUNIONSTORE", "u", "1", "z"]);
    q::<Vec<String>>(&mut c, &["ZPOPMIN", "z"]);
    assert_eq!(next(), "__keyevent@0__:sadd s");
    assert_eq!(next(), "__keyevent@0__:srem s");
    assert_eq!(next(), "__keyevent@0__:del s", "the emptied source goes");
    assert_eq!(next(), "__keyevent@0__:sadd d");
    assert_eq!(next(), "__keyevent@0__:zadd z");
    assert_eq!(next(), "__keyevent@0__:zincr z");
    assert_eq!(next(), "__keyevent@0__:zunionstore u");
    assert_eq!(next(), "__keyevent@0__:zpopmin z");
    assert_eq!(next(), "__keyevent@0__:del z");
}
