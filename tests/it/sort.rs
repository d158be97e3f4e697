//! SORT / SORT_RO: numeric and ALPHA order, BY (pattern, hash field, nosort), GET, LIMIT,
//! STORE, errors, and COMMAND GETKEYS for the STORE destination.
use crate::common::*;
use redis::{cmd, Connection};

fn strs(c: &mut Connection, r: &mut redis::Cmd) -> Vec<String> {
    r.query(c).unwrap()
}

fn setup(c: &mut Connection) {
    let _: () = cmd("RPUSH")
        .arg("l")
        .arg(&["3", "1", "2", "10"])
        .query(c)
        .unwrap();
    let _: () = cmd("SADD").arg("s").arg(&["c", "a", "b"]).query(c).unwrap();
    let _: () = cmd("ZADD")
        .arg("z")
        .arg(&["3", "x", "1", "y", "2", "w"])
        .query(c)
        .unwrap();
    let _: () = cmd("MSET")
        .arg(&["w_1", "30", "w_2", "10", "w_3", "20", "w_10", "5"])
        .arg(&["o_1", "one", "o_2", "two", "o_3", "three"])
        .query(c)
        .unwrap();
    let _: () = cmd("HSET").arg(&["h_1", "f", "9"]).query(c).unwrap();
    let _: () = cmd("HSET").arg(&["h_2", "f", "8"]).query(c).unwrap();
}

#[test]
fn order_direction_limit() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    setup(&mut c);
    assert_eq!(strs(&mut c, cmd("SORT").arg("l")), ["1", "2", "3", "10"]);
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "DESC"])),
        ["10", "3", "2", "1"]
    );
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "ALPHA"])),
        ["1", "10", "2", "3"]
    );
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "alpha", "desc"])),
        ["3", "2", "10", "1"]
    );
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "LIMIT", "1", "2"])),
        ["2", "3"]
    );
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "LIMIT", "-5", "2"])),
        ["1", "2"]
    );
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "LIMIT", "2", "-1"])),
        ["3", "10"]
    );
    assert!(strs(&mut c, cmd("SORT").arg(&["l", "LIMIT", "9", "1"])).is_empty());
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["s", "ALPHA"])),
        ["a", "b", "c"]
    );
    // A sorted set without BY is sorted by its members, not its scores.
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["z", "ALPHA"])),
        ["w", "x", "y"]
    );
    assert_eq!(
        strs(&mut c, cmd("SORT_RO").arg(&["l", "DESC"])),
        ["10", "3", "2", "1"]
    );
    assert!(strs(&mut c, cmd("SORT").arg("missing")).is_empty());
}

fn opt_strs(c: &mut Connection, r: &mut redis::Cmd) -> Vec<Option<String>> {
    r.query(c).unwrap()
}

fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter()
        .map(|s| (*s != "nil").then(|| s.to_string()))
        .collect()
}

#[test]
fn by_and_get_patterns() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    setup(&mut c);
    // Weights: w_10=5, w_2=10, w_3=20, w_1=30.
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "BY", "w_*"])),
        ["10", "2", "3", "1"]
    );
    assert_eq!(
        opt_strs(
            &mut c,
            cmd("SORT").arg(&["l", "BY", "w_*", "GET", "o_*", "GET", "#"])
        ),
        some(&["nil", "10", "two", "2", "three", "3", "one", "1"])
    );
    // Hash fields: h_1.f=9, h_2.f=8, others missing (weight 0, then by element).
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "BY", "h_*->f"])),
        ["10", "3", "2", "1"]
    );
    assert_eq!(
        opt_strs(&mut c, cmd("SORT").arg(&["l", "GET", "h_*->f"])),
        some(&["9", "8", "nil", "nil"])
    );
    // "->" with no field name is part of the key name; a pattern without "*" finds nothing.
    assert_eq!(
        opt_strs(&mut c, cmd("SORT").arg(&["l", "GET", "h_*->"])),
        some(&["nil", "nil", "nil", "nil"])
    );
    assert_eq!(
        opt_strs(&mut c, cmd("SORT").arg(&["l", "GET", "o_1"])),
        some(&["nil", "nil", "nil", "nil"])
    );
    // GET of a key of the wrong type is nil, not an error.
    assert_eq!(
        opt_strs(
            &mut c,
            cmd("SORT").arg(&["l", "LIMIT", "0", "1", "GET", "h_*"])
        ),
        some(&["nil"])
    );
    // ALPHA BY: missing weights sort first.
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "BY", "o_*", "ALPHA"])),
        ["10", "1", "3", "2"]
    );
}

#[test]
fn nosort_keeps_native_order() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    setup(&mut c);
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["l", "BY", "nosort"])),
        ["3", "1", "2", "10"]
    );
    assert_eq!(
        strs(
            &mut c,
            cmd("SORT").arg(&["l", "BY", "nosort", "DESC", "LIMIT", "1", "2"])
        ),
        ["2", "1"]
    );
    assert_eq!(
        strs(&mut c, cmd("SORT").arg(&["z", "BY", "nosort"])),
        ["y", "w", "x"]
    );
    assert_eq!(
        strs(
            &mut c,
            cmd("SORT").arg(&["z", "BY", "nosort", "DESC", "LIMIT", "1", "5"])
        ),
        ["w", "y"]
    );
    // A set stored with nosort is sorted (ALPHA) so the result is reproducible.
    let n: i64 = cmd("SORT")
        .arg(&["s", "BY", "nosort", "STORE", "dst"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        strs(&mut c, cmd("LRANGE").arg(&["dst", "0", "-1"])),
        ["a", "b", "c"]
    );
}

#[test]
fn store_results() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    setup(&mut c);
    let _: () = cmd("SET").arg(&["dst", "old"]).query(&mut c).unwrap();
    let _: () = cmd("EXPIRE").arg(&["dst", "100"]).query(&mut c).unwrap();
    let n: i64 = cmd("SORT")
        .arg(&["l", "DESC", "STORE", "dst"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        strs(&mut c, cmd("LRANGE").arg(&["dst", "0", "-1"])),
        ["10", "3", "2", "1"]
    );
    let ttl: i64 = cmd("TTL").arg("dst").query(&mut c).unwrap();
    assert_eq!(ttl, -1, "STORE replaces the key and its TTL");
    // Missing GET values are stored as empty strings; the count is elements x GETs.
    let n: i64 = cmd("SORT")
        .arg(&["l", "GET", "#", "GET", "o_*", "STORE", "dst"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 8);
    assert_eq!(
        strs(&mut c, cmd("LRANGE").arg(&["dst", "0", "-1"])),
        ["1", "one", "2", "two", "3", "three", "10", ""]
    );
    // An empty result deletes the destination.
    let n: i64 = cmd("SORT")
        .arg(&["missing", "STORE", "dst"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    let e: i64 = cmd("EXISTS").arg("dst").query(&mut c).unwrap();
    assert_eq!(e, 0);
}

#[test]
fn errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    setup(&mut c);
    let _: () = cmd("RPUSH").arg(&["bad", "1", "x"]).query(&mut c).unwrap();
    let score_err = "ERR One or more scores can't be converted into double";
    assert_eq!(err_of(&mut c, cmd("SORT").arg("bad")), score_err);
    assert_eq!(
        err_of(&mut c, cmd("SORT").arg(&["l", "BY", "o_*"])),
        score_err
    );
    assert_eq!(
        err_of(&mut c, cmd("SORT").arg(&["bad", "STORE", "d"])),
        score_err
    );
    let e: i64 = cmd("EXISTS").arg("d").query(&mut c).unwrap();
    assert_eq!(e, 0, "nothing stored on error");
    assert_eq!(strs(&mut c, cmd("SORT").arg(&["bad", "ALPHA"])), ["1", "x"]);
    assert_eq!(
        err_of(&mut c, cmd("SORT").arg(&["l", "foo"])),
        "ERR syntax error"
    );
    assert_eq!(
        err_of(&mut c, cmd("SORT").arg(&["l", "LIMIT", "1"])),
        "ERR syntax error"
    );
    assert_eq!(
        err_of(&mut c, cmd("SORT").arg(&["l", "LIMIT", "a", "1"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err_of(&mut c, cmd("SORT_RO").arg(&["l", "STORE", "d"])),
        "ERR syntax error"
    );
    assert!(err_of(&mut c, cmd("SORT").arg("o_1")).starts_with("WRONGTYPE"));
    assert!(err_of(&mut c, cmd("SORT").arg("h_1")).starts_with("WRONGTYPE"));
}

#[test]
fn getkeys_includes_store() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let keys = strs(
        &mut c,
        cmd("COMMAND").arg(&[
            "GETKEYS", "SORT", "l", "STORE", "a", "LIMIT", "0", "1", "STORE", "b",
        ]),
    );
    assert_eq!(keys, ["l", "b"]);
    let keys = strs(
        &mut c,
        cmd("COMMAND").arg(&["GETKEYS", "SORT", "l", "GET", "store"]),
    );
    assert_eq!(keys, ["l"]);
    let keys = strs(
        &mut c,
        cmd("COMMAND").arg(&["GETKEYS", "SORT_RO", "l", "ALPHA"]),
    );
    assert_eq!(keys, ["l"]);
}

/// SORT of a set BY a constant from a script comes out in ALPHA order (a set has no
/// order of its own; Redis sorts it so scripts are deterministic), GET patterns applied.
#[test]
fn sort_by_constant_in_scripts_is_ordered() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let members = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "l", "m", "n", "o", "p", "q", "r", "s", "t",
        "u", "v", "z", "aa", "aaa", "azz",
    ];
    let mut sadd = redis::cmd("SADD");
    sadd.arg("myset").arg(&members[..]);
    let _: i64 = sadd.query(&mut c).unwrap();
    let got: Vec<String> = redis::cmd("EVAL")
        .arg("return redis.call('sort',KEYS[1],'by','_')")
        .arg(1)
        .arg("myset")
        .query(&mut c)
        .unwrap();
    let mut want: Vec<String> = members.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    let got: Vec<Option<String>> = redis::cmd("EVAL")
        .arg("return redis.call('sort',KEYS[1],'by','_','get','#','get','_:*')")
        .arg(1)
        .arg("myset")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        &got[..4],
        &[Some("a".into()), None, Some("aa".into()), None]
    );
}
