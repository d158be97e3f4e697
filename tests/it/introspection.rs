//! Introspection as Redis 7.0 shows it: INFO sections and fields, errorstats, commandstats,
//! latencystats, CLIENT LIST/INFO, CLIENT REPLY, CLIENT KILL errors, MONITOR, command-line
//! option parsing.
use crate::common::*;
use std::io::Read;
use std::process::Command;
use std::time::Duration;

fn info(c: &mut redis::Connection, sections: &[&str]) -> String {
    let mut cmd = redis::cmd("INFO");
    for s in sections {
        cmd.arg(*s);
    }
    cmd.query(c).unwrap()
}

/// The `# Title` lines of an INFO reply, in order.
fn titles(info: &str) -> Vec<&str> {
    info.lines()
        .filter_map(|l| l.strip_prefix("# "))
        .map(str::trim)
        .collect()
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

#[test]
fn info_sections_follow_redis_7() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let default = info(&mut c, &[]);
    assert_eq!(
        titles(&default),
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "CPU",
            "Modules",
            "Errorstats",
            "Cluster",
            "Keyspace"
        ]
    );
    let all = info(&mut c, &["all"]);
    assert!(titles(&all).contains(&"Commandstats") && titles(&all).contains(&"Latencystats"));
    assert_eq!(titles(&info(&mut c, &["everything"])), titles(&all));
    // Several sections at once, in Redis's order whatever the order asked.
    assert_eq!(
        titles(&info(&mut c, &["keyspace", "CPU", "server"])),
        ["Server", "CPU", "Keyspace"]
    );
    assert_eq!(info(&mut c, &["nosuchsection"]), "");
    for f in [
        "used_memory_peak_perc",
        "used_memory_overhead",
        "used_memory_dataset",
        "total_system_memory",
        "mem_fragmentation_bytes",
        "rdb_last_bgsave_time_sec",
        "aof_rewrites",
        "instantaneous_input_kbps",
        "total_reads_processed",
        "unexpected_error_replies",
        "used_cpu_user_main_thread",
        "master_replid",
    ] {
        assert!(field(&all, f).is_some(), "INFO all lacks {f}");
    }
    // Redis's fields come before ferrokv's own extras in the stats section.
    let pos = |s: &str| all.find(s).unwrap();
    assert!(pos("reply_buffer_expands:") < pos("eventloop_cycles:"));
}

#[test]
fn errorstats_count_by_prefix_and_reset() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    // The client library's connection handshake (CLIENT SETINFO, which Redis 7.0 does
    // not have) already counted errors: start from zero.
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("s").arg("x").query(&mut c).unwrap();
    err_of(&mut c, redis::cmd("INCR").arg("s"));
    err_of(&mut c, redis::cmd("INCR").arg("s"));
    err_of(&mut c, redis::cmd("NOSUCHCMD").arg("s"));
    err_of(&mut c, redis::cmd("AUTH").arg("pw"));
    let e = info(&mut c, &["errorstats"]);
    assert_eq!(field(&e, "errorstat_ERR"), Some("count=4"), "{e}");
    let st = info(&mut c, &["stats"]);
    assert_eq!(field(&st, "total_error_replies"), Some("4"));
    err_of(&mut c, redis::cmd("LPUSH").arg("s").arg("x"));
    let e = info(&mut c, &["errorstats"]);
    assert_eq!(field(&e, "errorstat_WRONGTYPE"), Some("count=1"), "{e}");

    let cs = info(&mut c, &["commandstats"]);
    // Failed calls ran (calls counts them); rejected ones (unknown/arity) did not.
    let incr = field(&cs, "cmdstat_incr").unwrap();
    assert!(incr.starts_with("calls=2,usec="), "{incr}");
    assert!(incr.ends_with(",rejected_calls=0,failed_calls=2"), "{incr}");
    assert!(incr.contains(",usec_per_call="), "{incr}");
    err_of(&mut c, &mut redis::cmd("GET"));
    let cs = info(&mut c, &["commandstats"]);
    assert_eq!(
        field(&cs, "cmdstat_get"),
        Some("calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0")
    );
    // An unknown subcommand is rejected like an unknown command: no stats line for it.
    err_of(&mut c, redis::cmd("CONFIG").arg("NOSUCH"));
    let cs = info(&mut c, &["commandstats"]);
    assert_eq!(field(&cs, "cmdstat_config"), None, "{cs}");
    // Subcommands are counted under their full name.
    let _: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    let cs = info(&mut c, &["commandstats"]);
    assert!(field(&cs, "cmdstat_client|id").is_some(), "{cs}");

    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let e = info(&mut c, &["errorstats"]);
    assert_eq!(field(&e, "errorstat_ERR"), None, "{e}");
    let cs = info(&mut c, &["commandstats"]);
    assert_eq!(field(&cs, "cmdstat_incr"), None);
    let st = info(&mut c, &["stats"]);
    assert_eq!(field(&st, "total_error_replies"), Some("0"));
}

#[test]
fn latencystats_percentiles_follow_config() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut c).unwrap();
    let l = info(&mut c, &["latencystats"]);
    let set = field(&l, "latency_percentiles_usec_set").unwrap();
    assert!(
        set.starts_with("p50=") && set.contains(",p99=") && set.contains(",p99.9="),
        "{set}"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking-info-percentiles")
        .arg("0.0 50.0 100.0")
        .query(&mut c)
        .unwrap();
    let l = info(&mut c, &["latencystats"]);
    let set = field(&l, "latency_percentiles_usec_set").unwrap();
    assert!(set.starts_with("p0=") && set.contains(",p100="), "{set}");
    let e = err_of(
        &mut c,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("latency-tracking-info-percentiles")
            .arg("10 101"),
    );
    assert!(e.contains("should sit between [0.0,100.0]"), "{e}");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking")
        .arg("no")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut c).unwrap();
    let l = info(&mut c, &["latencystats"]);
    assert_eq!(field(&l, "latency_percentiles_usec_set"), None, "{l}");
}

#[test]
fn client_list_fields_match_redis_7_0() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    let names: Vec<&str> = list
        .trim_end()
        .split(' ')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp"
        ]
    );
    // The running command shows itself, and its query buffer is counted (26 bytes).
    assert!(list.contains(" cmd=client|list "), "{list}");
    assert!(list.contains(" qbuf=26 "), "{list}");
    assert!(list.contains(" flags=N "), "{list}");
    let me: String = redis::cmd("CLIENT").arg("INFO").query(&mut c).unwrap();
    assert!(me.contains(" cmd=client|info "), "{me}");
}

#[test]
fn client_kill_argument_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let kill = |c: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd("CLIENT");
        cmd.arg("KILL");
        for a in args {
            cmd.arg(*a);
        }
        err_of(c, &mut cmd)
    };
    assert_eq!(
        kill(&mut c, &[]),
        "ERR wrong number of arguments for 'client|kill' command"
    );
    assert_eq!(kill(&mut c, &["id", "10", "x"]), "ERR syntax error");
    assert!(kill(&mut c, &["id", "0"]).contains("greater than 0"));
    assert!(kill(&mut c, &["type", "bad"]).starts_with("ERR Unknown client type"));
    assert_eq!(
        kill(&mut c, &["user", "nobody"]),
        "ERR No such user 'nobody'"
    );
    assert_eq!(kill(&mut c, &["skipme", "maybe"]), "ERR syntax error");
}

#[test]
fn client_subcommands_of_redis_7_0() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(
        err_of(&mut c, redis::cmd("CLIENT").arg("PAUSE").arg(10).arg("foo")),
        "ERR CLIENT PAUSE mode must be WRITE or ALL"
    );
    let n: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(12345)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0, "no such blocked client");
    assert_eq!(
        err_of(
            &mut c,
            redis::cmd("CLIENT").arg("UNBLOCK").arg(1).arg("maybe")
        ),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    let r: i64 = redis::cmd("CLIENT").arg("GETREDIR").query(&mut c).unwrap();
    assert_eq!(r, -1);
    let info: Vec<redis::Value> = redis::cmd("CLIENT")
        .arg("TRACKINGINFO")
        .query(&mut c)
        .unwrap();
    assert_eq!(info.len(), 6, "{info:?}");
    assert_eq!(
        err_of(&mut c, redis::cmd("COMMAND").arg("GETKEYS").arg("get")),
        "ERR wrong number of arguments for 'command|getkeys' command"
    );
}

/// Send commands on a raw socket and return everything read until the server is quiet.
fn raw_exchange(srv: &Server, req: &[u8]) -> String {
    let mut s = srv.raw();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    std::io::Write::write_all(&mut s, req).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn client_reply_off_on_skip() {
    let srv = Server::start(&[]);
    assert_eq!(
        raw_exchange(
            &srv,
            b"CLIENT REPLY OFF\r\nPING a\r\nPING b\r\nCLIENT REPLY ON\r\nPING c\r\n"
        ),
        "+OK\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        raw_exchange(&srv, b"CLIENT REPLY SKIP\r\nPING a\r\nPING b\r\n"),
        "$1\r\nb\r\n"
    );
    // ON right after SKIP answers (and clears the skip): the suite's hang case.
    assert_eq!(
        raw_exchange(&srv, b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n"),
        "+OK\r\n+PONG\r\n"
    );
    // Rejected commands (unknown, wrong arity) are silenced too.
    assert_eq!(
        raw_exchange(
            &srv,
            b"CLIENT REPLY OFF\r\nNOSUCH\r\nGET\r\nCLIENT REPLY ON\r\n"
        ),
        "+OK\r\n"
    );
    // SKIP while OFF keeps replies off.
    assert_eq!(
        raw_exchange(
            &srv,
            b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING a\r\nPING b\r\n"
        ),
        ""
    );
}

#[test]
fn monitor_shows_commands_in_redis_format() {
    let srv = Server::start(&[]);
    let mut m = srv.raw();
    m.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let ok = raw_roundtrip(&mut m, b"MONITOR\r\n", 5);
    assert_eq!(ok, b"+OK\r\n");
    let mut c = srv.client();
    let _: () = redis::cmd("SELECT").arg(2).query(&mut c).unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("a \"b\"\n")
        .query(&mut c)
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The redis crate sends command names in capitals; MONITOR shows them as sent.
    while !String::from_utf8_lossy(&got).contains("\"SET\"") {
        let n = m.read(&mut buf).unwrap();
        assert!(n > 0, "monitor closed");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    let line = text.lines().find(|l| l.contains("\"SET\"")).unwrap();
    // +<secs>.<micros> [<db> <addr>] "set" "k" "a \"b\"\n"
    assert!(line.starts_with('+'), "{line}");
    let (ts, rest) = line[1..].split_once(' ').unwrap();
    let (secs, micros) = ts.split_once('.').unwrap();
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
    assert!(rest.starts_with("[2 127.0.0.1:"), "{line}");
    assert!(
        rest.ends_with("] \"SET\" \"k\" \"a \\\"b\\\"\\n\""),
        "{line}"
    );
}

/// MONITOR and scripts, functions, transactions, as Redis 7.0's unit/introspection shows
/// them: EVAL/EVALSHA/FCALL before their commands (EVALSHA even when NOSCRIPT), the
/// commands a script runs as `[db lua]`, EXEC after the commands it ran, and an aborted
/// EXEC still closing its MULTI. (ferrokv showed no EVAL line, logged inner calls with
/// the client's address, and EXEC before its commands.)
#[test]
fn monitor_shows_scripts_functions_and_transactions_in_order() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=m\nredis.register_function('f', function() return redis.call('set', 'foo', 'bar') end)")
        .query(&mut c)
        .unwrap();
    let mut m = srv.raw();
    assert_eq!(raw_roundtrip(&mut m, b"MONITOR\r\n", 5), b"+OK\r\n");
    let mut r = srv.raw();
    let script = "redis.call('set',KEYS[1],ARGV[1])";
    let req = format!(
        "*5\r\n$4\r\neval\r\n${}\r\n{}\r\n$1\r\n1\r\n$3\r\nfoo\r\n$3\r\nbar\r\n",
        script.len(),
        script
    );
    let mut want = raw_roundtrip(&mut r, req.as_bytes(), 5);
    want.extend(raw_roundtrip(&mut r, b"fcall f 0\r\n", 5));
    want.extend(raw_roundtrip(
        &mut r,
        b"evalsha ffffffffffffffffffffffffffffffffffffffff 0\r\n",
        20,
    ));
    want.extend(raw_roundtrip(&mut r, b"multi\r\nset a 1\r\nexec\r\n", 23));
    want.extend(raw_roundtrip(
        &mut r,
        b"multi\r\nsyntax error\r\nexec\r\nping\r\n",
        30,
    ));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&got).lines().count() < 11 {
        let n = m.read(&mut buf).unwrap();
        assert!(n > 0, "monitor closed");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    // Each line without its timestamp and origin, "LUA " marking the [db lua] origin.
    let tails: Vec<String> = text
        .lines()
        .map(|l| {
            let (head, tail) = l.split_once("] ").unwrap();
            let mark = if head.ends_with(" lua") { "LUA " } else { "" };
            format!("{mark}{tail}")
        })
        .collect();
    assert_eq!(
        tails,
        vec![
            "\"eval\" \"redis.call('set',KEYS[1],ARGV[1])\" \"1\" \"foo\" \"bar\"",
            "LUA \"set\" \"foo\" \"bar\"",
            "\"fcall\" \"f\" \"0\"",
            "LUA \"set\" \"foo\" \"bar\"",
            "\"evalsha\" \"ffffffffffffffffffffffffffffffffffffffff\" \"0\"",
            "\"multi\"",
            "\"set\" \"a\" \"1\"",
            "\"exec\"",
            "\"multi\"",
            "\"exec\"",
            "\"ping\"",
        ],
        "{text}"
    );
}

/// Run the binary with command-line words and return its stdout + stderr (it must exit).
fn startup_output(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(!out.status.success(), "ferrokv {args:?} should fail");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn command_line_options_parse_like_redis_server() {
    let e = startup_output(&["--port"]);
    assert!(
        e.contains(">>> 'port'") && e.contains("wrong number of arguments"),
        "{e}"
    );
    let e = startup_output(&["--port", "6379", "6380"]);
    assert!(e.contains(r#">>> 'port "6379" "6380"'"#), "{e}");
    // An option given alone takes the next `--word` as its value.
    let e = startup_output(&["--port", "--bla", "--loglevel", "verbose"]);
    assert!(
        e.contains(r#">>> 'port "--bla"'"#) && e.contains("couldn't be parsed into an integer"),
        "{e}"
    );
    let e = startup_output(&["--shutdown-on-sigint"]);
    assert!(
        e.contains("argument(s) must be one of the following"),
        "{e}"
    );
    let e = startup_output(&["--replicaof", "127.0.0.1", "abc"]);
    assert!(e.contains("Invalid master port"), "{e}");

    // `--save` alone means no save points; multi-word flags come back in canonical order.
    let port = free_port().to_string();
    let srv = Server::start_on(
        port.parse().unwrap(),
        &["--port", &port],
        &[
            "--save",
            "--shutdown-on-sigint",
            "nosave",
            "force",
            "now",
            "--maxmemory-clients",
            "10%",
        ],
    );
    let mut c = srv.client();
    let get = |c: &mut redis::Connection, k: &str| -> String {
        let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(k).query(c).unwrap();
        v[1].clone()
    };
    assert_eq!(get(&mut c, "save"), "");
    assert_eq!(get(&mut c, "shutdown-on-sigint"), "nosave now force");
    assert_eq!(get(&mut c, "maxmemory-clients"), "10%");
    let e = err_of(
        &mut c,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-clients")
            .arg("200%"),
    );
    assert!(
        e.ends_with("percentage argument must be less or equal to 100"),
        "{e}"
    );
}

#[test]
fn debug_populate_creates_missing_keys_only() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = redis::cmd("SET")
        .arg("key:1")
        .arg("mine")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 100);
    let v: String = redis::cmd("GET").arg("key:1").query(&mut c).unwrap();
    assert_eq!(v, "mine", "existing keys are kept");
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(2)
        .arg("p")
        .arg(9)
        .query(&mut c)
        .unwrap();
    let v: Vec<u8> = redis::cmd("GET").arg("p:0").query(&mut c).unwrap();
    assert_eq!(v, b"value:0\0\0");
    let e = err_of(&mut c, redis::cmd("DEBUG").arg("POPULATE").arg(-1));
    assert!(e.starts_with("ERR"), "{e}");
}

#[test]
fn monitor_redacts_secrets() {
    let srv = Server::start(&[]);
    let mut m = srv.raw();
    m.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(raw_roundtrip(&mut m, b"MONITOR\r\n", 5), b"+OK\r\n");
    let mut c = srv.client();
    err_of(&mut c, redis::cmd("AUTH").arg("u1").arg("secret1"));
    err_of(
        &mut c,
        redis::cmd("HELLO")
            .arg(2)
            .arg("AUTH")
            .arg("u2")
            .arg("secret2"),
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("masterauth")
        .arg("secret3")
        .arg("maxmemory-samples")
        .arg("6")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("done")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\"done\"") {
        let n = m.read(&mut buf).unwrap();
        assert!(n > 0, "monitor closed");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(!text.contains("secret"), "{text}");
    assert!(
        text.contains(r#""AUTH" "(redacted)" "(redacted)""#),
        "{text}"
    );
    assert!(
        text.contains(r#""HELLO" "2" "AUTH" "(redacted)" "(redacted)""#),
        "{text}"
    );
    // Admin commands such as CONFIG are never shown.
    assert!(!text.contains("masterauth"), "{text}");
}

#[test]
fn key_spec_flags_in_getkeysandflags_and_command_info() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let v: Vec<(String, Vec<String>)> = redis::cmd("COMMAND")
        .arg("GETKEYSANDFLAGS")
        .arg("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut c)
        .unwrap();
    let ow = vec!["OW".to_string(), "update".to_string()];
    assert_eq!(v, vec![("a".into(), ow.clone()), ("b".into(), ow.clone())]);
    let v: Vec<(String, Vec<String>)> = redis::cmd("COMMAND")
        .arg("GETKEYSANDFLAGS")
        .arg("SET")
        .arg("k")
        .arg("v")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(v[0].1, ["RW", "access", "update"]);
    let info: Vec<Vec<redis::Value>> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    let specs = format!("{:?}", info[0][8]);
    assert!(specs.contains("RO") && specs.contains("access"), "{specs}");
}

/// COMMAND GETKEYS finds movable keys through the key specs, as the ACL check does.
#[test]
fn getkeys_follows_key_specs_for_movable_keys() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let keys = |c: &mut redis::Connection, args: &[&str]| -> Vec<String> {
        let mut all = vec!["GETKEYS"];
        all.extend_from_slice(args);
        q(c, &[&["COMMAND"][..], &all].concat())
    };
    assert_eq!(
        keys(c, &["EVAL", "return 1", "2", "a", "b", "arg"]),
        ["a", "b"]
    );
    assert!(
        keys(c, &["EVAL", "return 1", "0"]).is_empty(),
        "EVAL needs no keys"
    );
    assert!(
        keys(c, &["EVAL", "return 1", "3", "a"]).is_empty(),
        "numkeys past the end"
    );
    assert_eq!(
        keys(c, &["ZUNIONSTORE", "t", "2", "a", "b", "WEIGHTS", "1", "2"]),
        ["t", "a", "b"]
    );
    assert_eq!(
        keys(c, &["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"]),
        ["s1", "s2"]
    );
    assert_eq!(
        keys(c, &["SORT", "k", "BY", "x", "STORE", "d", "STORE", "d2"]),
        ["k", "d2"]
    );
    assert_eq!(keys(c, &["MEMORY", "USAGE", "k"]), ["k"]);
    assert_eq!(keys(c, &["OBJECT", "ENCODING", "k"]), ["k"]);
    assert_eq!(keys(c, &["BLMPOP", "0", "2", "a", "b", "LEFT"]), ["a", "b"]);
    assert_eq!(
        err(c, &["COMMAND", "GETKEYS", "SPUBLISH", "ch", "m"]),
        "ERR The command has no key arguments"
    );
    assert_eq!(
        err(c, &["COMMAND", "GETKEYS", "ZUNIONSTORE", "t", "x", "a"]),
        "ERR Invalid arguments specified for command"
    );
    // Variable key flags follow what the call does, as the ACL check sees it.
    for (args, want) in [
        (&["BITFIELD", "k", "GET", "u8", "0"][..], "RO"),
        (
            &["BITFIELD", "k", "GET", "u8", "0", "SET", "u8", "0", "1"],
            "RW",
        ),
        (&["SET", "k", "v"], "OW"),
        (&["SET", "k", "v", "GET"], "RW"),
    ] {
        let flags: redis::Value = q(c, &[&["COMMAND", "GETKEYSANDFLAGS"][..], args].concat());
        assert!(format!("{flags:?}").contains(want), "{args:?}: {flags:?}");
    }
    let flags: redis::Value = q(
        c,
        &["COMMAND", "GETKEYSANDFLAGS", "SORT", "k1", "STORE", "k2"],
    );
    assert_eq!(
        format!("{flags:?}").matches("OW").count(),
        1,
        "STORE's key is OW update: {flags:?}"
    );
}

/// CLIENT PAUSE WRITE holds the scripts that may write, not those that declare
/// no-writes (EVAL with a shebang, FCALL of a no-writes function, inside MULTI too), as
/// Redis judges a script call by its script's flags.
#[test]
fn pause_write_lets_no_writes_scripts_run() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let _: String = q(
        c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=f1\nredis.register_function{function_name='f1', callback=function() return 'hello' end, flags={'no-writes'}}",
        ],
    );
    let _: () = q(c, &["CLIENT", "PAUSE", "100000", "WRITE"]);
    let mut rr = srv.client();
    rr.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let v: String = q(&mut rr, &["EVAL", "#!lua flags=no-writes\nreturn 'u'", "0"]);
    assert_eq!(v, "u");
    let v: String = q(&mut rr, &["FCALL", "f1", "0"]);
    assert_eq!(v, "hello");
    let _: () = q(&mut rr, &["MULTI"]);
    let _: String = q(&mut rr, &["EVAL", "#!lua flags=no-writes\nreturn 12", "0"]);
    let v: Vec<i64> = q(&mut rr, &["EXEC"]);
    assert_eq!(v, vec![12]);
    // A script without a shebang may write: held.
    let mut held = srv.raw();
    use std::io::Write;
    held.write_all(&resp_cmd(&["EVAL", "return 1", "0"]))
        .unwrap();
    wait_until("held", || {
        let info: String = q(c, &["INFO", "clients"]);
        info.contains("blocked_clients:1\r")
    });
    let _: () = q(c, &["CLIENT", "UNPAUSE"]);
    read_until(&mut held, ":1\r\n");
}

/// During a CLIENT PAUSE the dataset stands still, as in Redis: keys whose TTL passes
/// are hidden from reads but neither actively nor lazily expired (expired_keys does not
/// grow, nothing is propagated); after UNPAUSE they expire.
#[test]
fn no_key_expires_during_a_client_pause() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let expired = |c: &mut redis::Connection| -> i64 {
        let info: String = q(c, &["INFO", "stats"]);
        field(&info, "expired_keys").unwrap().parse().unwrap()
    };
    let before = expired(c);
    let _: () = q(c, &["MULTI"]);
    let _: () = q(c, &["SET", "foo", "bar", "PX", "10"]);
    let _: () = q(c, &["SET", "bar", "foo", "PX", "10"]);
    let _: () = q(c, &["CLIENT", "PAUSE", "50000", "WRITE"]);
    let _: Vec<redis::Value> = q(c, &["EXEC"]);
    // Past the TTL and through several active expiry cycles (hz 10).
    std::thread::sleep(Duration::from_millis(300));
    let v: Option<String> = q(c, &["GET", "foo"]);
    assert_eq!(v, None, "logically expired");
    let v: Option<String> = q(c, &["GET", "bar"]);
    assert_eq!(v, None);
    assert_eq!(expired(c), before, "nothing expired during the pause");
    let n: i64 = q(c, &["DBSIZE"]);
    assert_eq!(n, 2, "both keys still stored");
    let _: () = q(c, &["CLIENT", "UNPAUSE"]);
    let _: Option<String> = q(c, &["GET", "foo"]);
    let _: Option<String> = q(c, &["GET", "bar"]);
    assert_eq!(expired(c), before + 2, "expired once unpaused");
}

/// CONFIG SET maxmemory evicts from the event loop, not inside the command: a
/// transaction that lowers it runs whole (its second INCR sees the first's key), and the
/// keys go right after, as Redis's eviction time event does.
#[test]
fn lowering_maxmemory_in_a_transaction_evicts_after_it() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let _: () = q(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    let _: () = q(c, &["MULTI"]);
    let _: () = q(c, &["INCR", "x"]);
    let _: () = q(c, &["CONFIG", "SET", "maxmemory", "1"]);
    let _: () = q(c, &["INCR", "x"]);
    let r: (i64, String, i64) = q(c, &["EXEC"]);
    assert_eq!(r, (1, "OK".to_string(), 2));
    wait_until("the key evicted after the transaction", || {
        let n: i64 = q(c, &["DBSIZE"]);
        n == 0
    });
    let _: () = q(c, &["CONFIG", "SET", "maxmemory", "0"]);
}

/// INFO memory's allocator fields are jemalloc's own (refreshed when asked), DEBUG MALLCTL
/// reads a control, and `activedefrag yes` is refused as by a Redis built without its own
/// jemalloc (Debian's): there is no active defragmentation, so it is not accepted and ignored.
#[test]
fn allocator_stats_mallctl_and_activedefrag_as_a_system_jemalloc_build() {
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = srv.client();
    let _: () = q(&mut c, &["DEBUG", "POPULATE", "20000", "k", "100"]);
    let info: String = q(&mut c, &["INFO", "memory"]);
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {info}"))
    };
    let (alloc, active, resident) = (
        field("allocator_allocated"),
        field("allocator_active"),
        field("allocator_resident"),
    );
    assert!(
        alloc > 2_000_000.0 && active >= alloc && resident >= active,
        "{info}"
    );
    let frag = field("allocator_frag_ratio");
    assert!((frag - active / alloc).abs() < 0.01, "{info}");
    assert_eq!(field("allocator_frag_bytes"), active - alloc);
    let page: i64 = q(&mut c, &["DEBUG", "MALLCTL", "arenas.page"]);
    assert!(page >= 4096 && page.count_ones() == 1);
    assert_eq!(
        err(&mut c, &["DEBUG", "MALLCTL", "no.such.control"]),
        "ERR No such file or directory"
    );
    let e = err(&mut c, &["CONFIG", "SET", "activedefrag", "yes"]);
    assert!(
        e.contains("Active defragmentation cannot be enabled"),
        "{e}"
    );
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "activedefrag"]);
    assert_eq!(v, ["activedefrag", "no"]);
}
