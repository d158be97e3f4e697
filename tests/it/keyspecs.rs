//! Key specs against the real thing: COMMAND GETKEYS, COMMAND GETKEYSANDFLAGS, COMMAND
//! INFO's key specs and first/last/step, and the ACL key permissions they drive (%R~ and
//! %W~ patterns), each asked of ferrokv and of a live redis-server 7.0 started for the
//! test. The expected answers are redis-server's, not written down here.
use crate::common::*;
use redis::{Connection, Value};

/// A reply or an error, as text to compare.
fn answer(c: &mut Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!(
            "error {} {}",
            e.code().unwrap_or(""),
            e.detail().unwrap_or("")
        ),
    }
}

const ARGVS: &[&[&str]] = &[
    &["SET", "k", "v"],
    &["SET", "k", "v", "GET"],
    &["SET", "k", "v", "EX", "10", "get"],
    &["SET", "k", "v", "NX", "KEEPTTL"],
    &["GET", "k"],
    &["MSET", "a", "1", "b", "2", "c", "3"],
    &["DEL", "a", "b", "c"],
    &["RENAME", "a", "b"],
    &["COPY", "a", "b", "REPLACE"],
    &["SORT", "k"],
    &["SORT", "k", "STORE", "d"],
    &[
        "SORT", "k", "BY", "w_*", "GET", "#", "GET", "h_*->f", "STORE", "d", "LIMIT", "0", "5",
    ],
    &["SORT", "k", "STORE", "d1", "ALPHA", "STORE", "d2"],
    &["SORT", "k", "LIMIT", "0", "1", "STORE"],
    &["SORT_RO", "k", "BY", "x", "GET", "y"],
    &["MIGRATE", "h", "6379", "k", "0", "5000"],
    &[
        "MIGRATE", "h", "6379", "", "0", "5000", "KEYS", "a", "b", "c",
    ],
    &[
        "MIGRATE", "h", "6379", "", "0", "5000", "COPY", "REPLACE", "AUTH", "pw", "KEYS", "a", "b",
    ],
    &[
        "MIGRATE", "h", "6379", "", "0", "5000", "AUTH2", "u", "KEYS", "KEYS", "a",
    ],
    &["MIGRATE", "h", "6379", "k", "0", "5000", "KEYS", "a"],
    &["EVAL", "return 1", "2", "a", "b", "c"],
    &["EVAL", "return 1", "0"],
    &["EVAL", "return 1", "3", "a", "b"],
    &["EVAL", "return 1", "-1", "a"],
    &["EVAL_RO", "return 1", "1", "k"],
    &["EVALSHA", "abc", "1", "k"],
    &["FCALL", "f", "1", "k", "arg"],
    &["FCALL_RO", "f", "2", "a", "b"],
    &["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
    &["XREAD", "STREAMS", "s1"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "s1",
        "s2",
        ">",
        ">",
    ],
    &[
        "XREADGROUP",
        "GROUP",
        "streams",
        "c",
        "NOACK",
        "STREAMS",
        "streams",
        ">",
    ],
    &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
    &["ZUNIONSTORE", "d", "0", "a"],
    &["ZINTER", "2", "a", "b"],
    &["ZDIFFSTORE", "d", "1", "a"],
    &["ZRANGESTORE", "d", "src", "0", "-1"],
    &["GEORADIUS", "k", "0", "0", "1", "km", "STORE", "d"],
    &["GEORADIUS", "k", "0", "0", "1", "km", "STOREDIST", "d2"],
    &[
        "GEORADIUS",
        "k",
        "0",
        "0",
        "1",
        "km",
        "STORE",
        "d",
        "STOREDIST",
        "d2",
    ],
    &["GEORADIUS", "k", "0", "0", "1", "km", "STORE"],
    &["GEORADIUSBYMEMBER", "k", "m", "1", "km", "STORE", "d"],
    &[
        "GEOSEARCHSTORE",
        "d",
        "src",
        "FROMMEMBER",
        "m",
        "BYRADIUS",
        "1",
        "km",
    ],
    &["BITFIELD", "k", "GET", "u8", "0"],
    &["BITFIELD", "k", "SET", "u8", "0", "1"],
    &[
        "BITFIELD", "k", "GET", "u8", "0", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "1",
    ],
    &["BITFIELD", "k", "GET", "u8"],
    &["BITFIELD_RO", "k", "GET", "u8", "0"],
    &["LMOVE", "a", "b", "LEFT", "RIGHT"],
    &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "2"],
    &["LMPOP", "1", "a", "RIGHT"],
    &["ZMPOP", "2", "a", "b", "MIN"],
    &["BZMPOP", "1", "2", "a", "b", "MAX"],
    &["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
    &["BLPOP", "a", "b", "0"],
    &["SMOVE", "a", "b", "m"],
    &["PFCOUNT", "a", "b"],
    &["LCS", "a", "b"],
    &["GETEX", "k", "PERSIST"],
    &["XADD", "s", "*", "f", "v"],
    &["XGROUP", "CREATE", "s", "g", "$"],
    &["XINFO", "STREAM", "s"],
    &["OBJECT", "ENCODING", "k"],
    &["MEMORY", "USAGE", "k"],
    &["TOUCH", "a", "b"],
    &["EXISTS", "a"],
    &["SPUBLISH", "ch", "msg"],
    &["PING"],
    &["NOSUCHCOMMAND", "k"],
    &["GET"],
    &["GET", "a", "b"],
];

#[test]
fn getkeys_and_flags_match_redis() {
    let reference = start_redis_server(None);
    let ours = Server::start(&[]);
    let (r, o) = (&mut reference.client(), &mut ours.client());
    let mut differ = Vec::new();
    for argv in ARGVS {
        for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let mut args = vec!["COMMAND", sub];
            args.extend_from_slice(argv);
            let (want, got) = (answer(r, &args), answer(o, &args));
            if want != got {
                differ.push(format!("{args:?}\n  redis:   {want}\n  ferrokv: {got}"));
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

const INFO_OF: &[&str] = &[
    "get",
    "set",
    "mset",
    "del",
    "blpop",
    "lmove",
    "blmpop",
    "sort",
    "sort_ro",
    "migrate",
    "eval",
    "fcall_ro",
    "xread",
    "xreadgroup",
    "zunionstore",
    "zrangestore",
    "georadius",
    "georadiusbymember",
    "geosearchstore",
    "bitfield",
    "lcs",
    "spublish",
    "object|encoding",
    "memory|usage",
    "xinfo|stream",
    "xgroup|create",
];

/// COMMAND INFO's first key, last key, step, movablekeys and key specs.
fn key_info(c: &mut Connection, name: &str) -> String {
    let v: Value = q(c, &["COMMAND", "INFO", name]);
    let Value::Array(outer) = v else {
        panic!("COMMAND INFO {name}: {v:?}")
    };
    let Some(Value::Array(info)) = outer.into_iter().next() else {
        panic!("COMMAND INFO {name}: no entry");
    };
    let movable = match &info[2] {
        Value::Array(flags) | Value::Set(flags) => flags
            .iter()
            .any(|f| redis::from_redis_value::<String>(f).unwrap() == "movablekeys"),
        other => panic!("flags {other:?}"),
    };
    format!(
        "first {:?} last {:?} step {:?} movablekeys {movable} key_specs {:?}",
        info[3], info[4], info[5], info[8]
    )
}

#[test]
fn command_info_key_specs_match_redis() {
    let reference = start_redis_server(None);
    let ours = Server::start(&[]);
    let (r, o) = (&mut reference.client(), &mut ours.client());
    let mut differ = Vec::new();
    for name in INFO_OF {
        let (want, got) = (key_info(r, name), key_info(o, name));
        if want != got {
            differ.push(format!("{name}\n  redis:   {want}\n  ferrokv: {got}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// %R~ grants reading keys, %W~ writing them; what a command needs of each key comes from
/// its key specs (or its own key finder: SET with GET, BITFIELD, SORT ... STORE).
#[test]
fn read_and_write_key_patterns_match_redis() {
    let reference = start_redis_server(None);
    let ours = Server::start(&[]);
    let setup = [
        &[
            "ACL", "SETUSER", "u", "on", "nopass", "%R~r*", "%W~w*", "+@all",
        ][..],
        &["RPUSH", "r1", "x"],
        &["RPUSH", "w1", "y"],
    ];
    let tries: &[&[&str]] = &[
        &["LMOVE", "r1", "w1", "LEFT", "RIGHT"],
        &["LMOVE", "w1", "r1", "LEFT", "RIGHT"],
        &["LRANGE", "r1", "0", "-1"],
        &["LRANGE", "w1", "0", "-1"],
        &["SET", "w2", "v"],
        &["SET", "r2", "v"],
        &["SET", "w2", "v", "GET"],
        &["GET", "r2"],
        &["GET", "w2"],
        &["COPY", "r2", "w3"],
        &["COPY", "w2", "r3"],
        &["SORT", "r1", "ALPHA", "STORE", "w4"],
        &["SORT", "w1", "ALPHA", "STORE", "w4"],
        &["BITFIELD", "r5", "GET", "u8", "0"],
        &["BITFIELD", "r5", "SET", "u8", "0", "1"],
        &["BITFIELD", "w5", "SET", "u8", "0", "1"],
        &["EXISTS", "r1", "w1"],
        &["EXISTS", "other"],
        &["DEL", "w5"],
        &["DEL", "r5"],
        &["ZUNIONSTORE", "w6", "2", "r6", "r7"],
        &["ZUNIONSTORE", "r6", "1", "r7"],
        &["EVAL", "return 1", "1", "r1"],
        &["EVAL_RO", "return 1", "1", "r1"],
    ];
    let (mut ra, mut oa) = (reference.client(), ours.client());
    for c in [&mut ra, &mut oa] {
        for args in setup {
            q::<Value>(c, args);
        }
    }
    let (mut r, mut o) = (reference.client(), ours.client());
    for c in [&mut r, &mut o] {
        q::<()>(c, &["AUTH", "u", "any"]);
    }
    let mut differ = Vec::new();
    for args in tries {
        let (want, got) = (answer(&mut r, args), answer(&mut o, args));
        if want != got {
            differ.push(format!("{args:?}\n  redis:   {want}\n  ferrokv: {got}"));
        }
        let mut dry = vec!["ACL", "DRYRUN", "u"];
        dry.extend_from_slice(args);
        let (want, got) = (answer(&mut ra, &dry), answer(&mut oa, &dry));
        if want != got {
            differ.push(format!("{dry:?}\n  redis:   {want}\n  ferrokv: {got}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // The pair of the brief: a read from r* into w* passes, the reverse does not.
    assert!(answer(&mut o, &["LMOVE", "w1", "r1", "LEFT", "RIGHT"])
        .contains("NOPERM this user has no permissions to access one of the keys"));
}

/// Every command's and subcommand's flags as COMMAND shows them, by name.
fn command_flags(c: &mut Connection) -> std::collections::BTreeMap<String, Vec<String>> {
    fn text(v: &Value) -> String {
        redis::from_redis_value::<String>(v).unwrap_or_else(|_| format!("{v:?}"))
    }
    fn add(out: &mut std::collections::BTreeMap<String, Vec<String>>, row: &[Value]) {
        let mut flags: Vec<String> = match &row[2] {
            Value::Array(f) | Value::Set(f) => f.iter().map(text).collect(),
            _ => Vec::new(),
        };
        flags.sort();
        out.insert(text(&row[0]), flags);
        if let Some(Value::Array(subs)) = row.get(9) {
            for s in subs {
                if let Value::Array(sub) = s {
                    add(out, sub);
                }
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    let table: Vec<Value> = redis::cmd("COMMAND").query(c).unwrap();
    for row in &table {
        if let Value::Array(row) = row {
            add(&mut out, row);
        }
    }
    out
}

/// COMMAND's flags of every command redis-server has are Redis's (may_replicate hidden
/// as Redis hides it), so clients and tools that read them (redis-cli, cluster clients,
/// script flag checks) see the same server.
#[test]
fn command_flags_match_redis() {
    let reference = start_redis_server(None);
    let ours = Server::start(&[]);
    let want = command_flags(&mut reference.client());
    let got = command_flags(&mut ours.client());
    let mut differ = Vec::new();
    for (name, flags) in &want {
        // The CLIENT container (not a command one runs) marks its subcommands' slowlog
        // handling here.
        if name == "client" {
            continue;
        }
        match got.get(name) {
            Some(f) if f == flags => {}
            other => differ.push(format!("{name}: redis {flags:?}, ferrokv {other:?}")),
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
