//! SLOWLOG, LATENCY, INFO latencystats / loopstats.
use crate::common::*;
use redis::Value;

fn info(c: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).unwrap()
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
}

#[test]
fn slowlog_records_trims_and_resets() {
    let srv = Server::start(&["--slowlog-log-slower-than", "0", "--slowlog-max-len", "3"]);
    let mut c = srv.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut c).unwrap();
    let long = "x".repeat(130);
    let _: () = redis::cmd("SET").arg("k").arg(&long).query(&mut c).unwrap();
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let _: i64 = redis::cmd("SADD")
        .arg("s")
        .arg(&many)
        .query(&mut c)
        .unwrap();
    let _ = err_of(&mut c, redis::cmd("AUTH").arg("user").arg("secret"));
    let log: Vec<Value> = redis::cmd("SLOWLOG").arg("GET").query(&mut c).unwrap();
    assert_eq!(log.len(), 3, "slowlog-max-len keeps 3: {log:?}");
    let entry = |i: usize| -> (i64, Vec<String>, String, String) {
        let Value::Array(e) = &log[i] else {
            panic!("{:?}", log[i])
        };
        assert_eq!(e.len(), 6);
        let id: i64 = redis::from_redis_value(&e[0]).unwrap();
        let args: Vec<String> = redis::from_redis_value(&e[3]).unwrap();
        let peer: String = redis::from_redis_value(&e[4]).unwrap();
        let name: String = redis::from_redis_value(&e[5]).unwrap();
        (id, args, peer, name)
    };
    // Newest first: AUTH (redacted), SADD (trimmed to 32 args), SET (trimmed value).
    let (id0, auth, peer, name) = entry(0);
    assert_eq!(auth, vec!["AUTH", "(redacted)", "(redacted)"]);
    assert!(peer.starts_with("127.0.0.1:"), "{peer}");
    assert_eq!(name, "tester");
    let (id1, sadd, _, _) = entry(1);
    assert_eq!(id1 + 1, id0);
    assert_eq!(sadd.len(), 32);
    assert_eq!(sadd[31], "... (11 more arguments)");
    let (_, set, _, _) = entry(2);
    assert_eq!(set[2], format!("{}... (2 more bytes)", "x".repeat(128)));

    let one: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(one.len(), 1);
    let none: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(
        err_of(&mut c, redis::cmd("SLOWLOG").arg("GET").arg(-2)),
        "ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        err_of(&mut c, redis::cmd("SLOWLOG").arg("GET").arg("x")),
        "ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        err_of(&mut c, redis::cmd("SLOWLOG").arg("LEN").arg("x")),
        "ERR wrong number of arguments for 'slowlog|len' command"
    );
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut c).unwrap();
    // SLOWLOG RESET itself runs after the reset and is logged.
    let n: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(-1)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut c).unwrap();
    let n: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert_eq!(n, 0, "disabled slow log records nothing");
}

#[test]
fn slowlog_redacts_config_set_passwords() {
    let srv = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = srv.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("masterauth")
        .arg("hunter2")
        .arg("maxclients")
        .arg("100")
        .query(&mut c)
        .unwrap();
    let log: Vec<Vec<Value>> = redis::cmd("SLOWLOG").arg("GET").query(&mut c).unwrap();
    let args: Vec<String> = redis::from_redis_value(&log[0][3]).unwrap();
    assert_eq!(
        args,
        vec![
            "CONFIG",
            "SET",
            "masterauth",
            "(redacted)",
            "maxclients",
            "100"
        ]
    );
}

/// The argument vectors of the slow log, newest first.
fn slowlog_args(c: &mut redis::Connection) -> Vec<Vec<String>> {
    let log: Vec<Vec<Value>> = redis::cmd("SLOWLOG").arg("GET").query(c).unwrap();
    log.iter()
        .map(|e| redis::from_redis_value(&e[3]).unwrap())
        .collect()
}

#[test]
fn slowlog_reset_inside_multi_is_queued() {
    // A subcommand named "reset" is not the RESET command: it runs at EXEC, in order.
    let srv = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = srv.client();
    q::<()>(&mut c, &["MULTI"]);
    q::<()>(&mut c, &["INCR", "n"]);
    q::<()>(&mut c, &["SLOWLOG", "RESET"]);
    let replies: Vec<Value> = q(&mut c, &["EXEC"]);
    assert_eq!(replies, [Value::Int(1), Value::Okay]);
    // INCR ran first and was cleared by the RESET after it, which then logged itself.
    assert_eq!(slowlog_args(&mut c), [["SLOWLOG", "RESET"]]);
}

#[test]
fn blocked_command_is_logged_when_served() {
    let srv = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = srv.client();
    let mut waiter = srv.client();
    let t = std::thread::spawn(move || {
        let r: Vec<String> = redis::cmd("BLPOP")
            .arg("l")
            .arg(0)
            .query(&mut waiter)
            .unwrap();
        r
    });
    while !info(&mut c, "clients").contains("blocked_clients:1") {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    q::<()>(&mut c, &["SLOWLOG", "RESET"]);
    q::<i64>(&mut c, &["LPUSH", "l", "foo"]);
    assert_eq!(t.join().unwrap(), ["l", "foo"]);
    let log = slowlog_args(&mut c);
    // Newest first: BLPOP (logged once, when served), after the LPUSH that served it.
    assert_eq!(log[0], ["BLPOP", "l", "0"]);
    assert_eq!(log[1], ["LPUSH", "l", "foo"]);
    assert!(
        !log.iter().skip(2).any(|a| a[0] == "BLPOP"),
        "not logged when it blocked: {log:?}"
    );
}

#[test]
fn latency_monitor_events_and_reset() {
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = srv.client();
    let latest: Vec<Value> = redis::cmd("LATENCY").arg("LATEST").query(&mut c).unwrap();
    assert!(latest.is_empty(), "threshold 0 records nothing");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-monitor-threshold")
        .arg(10)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg("0.03")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("PING").query(&mut c).unwrap();
    let latest: Vec<(String, i64, i64, i64)> =
        redis::cmd("LATENCY").arg("LATEST").query(&mut c).unwrap();
    assert_eq!(latest.len(), 1, "{latest:?}");
    let (event, time, ms, max) = &latest[0];
    assert_eq!(event, "command");
    assert!(*time > 1_600_000_000);
    assert!(*ms >= 30 && max >= ms, "{latest:?}");
    let hist: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut c)
        .unwrap();
    assert_eq!(hist.len(), 1);
    let graph: String = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("command")
        .query(&mut c)
        .unwrap();
    assert!(graph.starts_with("command - high "), "{graph}");
    let doctor: String = redis::cmd("LATENCY").arg("DOCTOR").query(&mut c).unwrap();
    assert!(doctor.contains("command"), "{doctor}");
    assert_eq!(
        err_of(&mut c, redis::cmd("LATENCY").arg("GRAPH").arg("nope")),
        "ERR No samples available for event 'nope'"
    );
    let n: i64 = redis::cmd("LATENCY")
        .arg("RESET")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("LATENCY").arg("RESET").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let latest: Vec<Value> = redis::cmd("LATENCY").arg("LATEST").query(&mut c).unwrap();
    assert!(latest.is_empty());
    assert_eq!(
        err_of(&mut c, redis::cmd("LATENCY").arg("HELP").arg("x")),
        "ERR wrong number of arguments for 'latency|help' command"
    );
    // The loop stall caused by the sleep is attributed to the command.
    let loops = info(&mut c, "loopstats");
    assert!(
        loops.contains("cause=command,detail=debug"),
        "stall not attributed: {loops}"
    );
}

#[test]
fn latency_histogram_follows_config_resetstat() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let h: Vec<Value> = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .query(&mut c)
        .unwrap();
    assert_eq!(h.len(), 2, "only config|resetstat: {h:?}");
    assert_eq!(h[0], Value::BulkString(b"config|resetstat".to_vec()));
    for _ in 0..3 {
        let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut c).unwrap();
    }
    let _: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    let h: Vec<Value> = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .arg("client")
        .arg("nosuch")
        .query(&mut c)
        .unwrap();
    assert_eq!(h.len(), 4, "{h:?}");
    assert_eq!(h[0], Value::BulkString(b"set".to_vec()));
    let Value::Array(body) = &h[1] else {
        panic!("{h:?}")
    };
    assert_eq!(body[0], Value::BulkString(b"calls".to_vec()));
    assert_eq!(body[1], Value::Int(3));
    let Value::Array(buckets) = &body[3] else {
        panic!("{body:?}")
    };
    assert_eq!(
        buckets.last(),
        Some(&Value::Int(3)),
        "cumulative count ends at calls"
    );
    assert_eq!(h[2], Value::BulkString(b"client|id".to_vec()));

    let stats = info(&mut c, "latencystats");
    let line = field(&stats, "latency_percentiles_usec_set").expect("set line");
    assert!(line.starts_with("p50=") && line.contains(",p99=") && line.contains(",p99.9="));
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking-info-percentiles")
        .arg("0 100")
        .query(&mut c)
        .unwrap();
    let stats = info(&mut c, "latencystats");
    let line = field(&stats, "latency_percentiles_usec_set").unwrap();
    assert!(line.starts_with("p0=") && line.contains(",p100="), "{line}");
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let stats = info(&mut c, "latencystats");
    assert_eq!(field(&stats, "latency_percentiles_usec_set"), None);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking")
        .arg("no")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut c).unwrap();
    let stats = info(&mut c, "latencystats");
    assert_eq!(field(&stats, "latency_percentiles_usec_set"), None);
}

#[test]
fn loopstats_counts_iterations() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    for _ in 0..5 {
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
    }
    let s = info(&mut c, "loopstats");
    let n: u64 = field(&s, "eventloop_iterations").unwrap().parse().unwrap();
    assert!(n >= 5, "{s}");
    assert!(field(&s, "eventloop_busy_usec_percentiles")
        .unwrap()
        .starts_with("p50="));
    let all = info(&mut c, "everything");
    assert!(all.contains("# Loopstats\r\n"));
    let default = info(&mut c, "default");
    assert!(!default.contains("# Loopstats"));
}
