//! Randomized robustness runs (issue 13): the RESP parser against arbitrary and mutated
//! input, and the whole command table against a running server with random arities and
//! hostile values. Neither may panic or hang. The seed is printed; FUZZ_SEED replays a
//! run and FUZZ_COMMANDS / FUZZ_INPUTS make it longer than CI's.
use crate::common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

fn seed() -> u64 {
    let s = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("fuzz seed {s} (FUZZ_SEED={s} replays it)");
    s
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Values that have broken parsers before: numbers at and past every limit, special
/// floats, option words, glob and range syntax, binary and long strings.
const HOSTILE: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "2",
    "10",
    "100",
    "-100",
    "0.5",
    "-0.0",
    "1e400",
    "-1e400",
    "1e-400",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "-nan",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "2147483648",
    "-2147483649",
    "0x10",
    "1e30",
    "3.4e38",
    "00",
    "+1",
    " 1",
    "1 ",
    "k1",
    "k2",
    "k3",
    "k4",
    "k5",
    "{k}1",
    "{k}2",
    "*",
    "?",
    "[",
    "[a",
    "(",
    "(1",
    "-",
    "+",
    "$",
    ">",
    "~",
    "=",
    "0-0",
    "0-1",
    "1-0",
    "18446744073709551615-18446744073709551615",
    "1-*",
    "*-1",
    "LIMIT",
    "COUNT",
    "WITHSCORES",
    "BY",
    "STORE",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "KEEPTTL",
    "GET",
    "MATCH",
    "TYPE",
    "BLOCK",
    "STREAMS",
    "MAXLEN",
    "MINID",
    "ID",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "FORCE",
    "JUSTID",
    "ENTRIESREAD",
    "MKSTREAM",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "ALPHA",
    "ASC",
    "DESC",
    "REV",
    "BYSCORE",
    "BYLEX",
    "RANK",
    "MAXLEN",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "WEIGHTS",
    "FROMMEMBER",
    "FROMLONLAT",
    "BYRADIUS",
    "BYBOX",
    "m",
    "km",
    "WITHCOORD",
    "WITHDIST",
    "WITHHASH",
    "ANY",
    "STOREDIST",
    "OVERFLOW",
    "WRAP",
    "SAT",
    "FAIL",
    "INCRBY",
    "SET",
    "u8",
    "i64",
    "u63",
    "i65",
    "u0",
    "#1",
    "#-1",
    "REPLACE",
    "ABSTTL",
    "FREQ",
    "KEYS",
    "AUTH",
    "COPY",
    "DB",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "BIT",
    "BYTE",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "ENCODING",
    "REFCOUNT",
    "IDLETIME",
    "USAGE",
    "SAMPLES",
    "STATS",
    "HELP",
    "RESET",
    "FLUSH",
    "ASYNC",
    "SYNC",
    "LOAD",
    "LIST",
    "WITHCODE",
    "LIBRARYNAME",
    "TOPN",
    "NUMSUB",
    "CHANNELS",
    "NUMPAT",
    "SHARDCHANNELS",
    "GETNAME",
    "SETNAME",
    "INFO",
    "ID",
    "FULL",
    "CONSUMERS",
    "GROUPS",
    "STREAM",
    "CREATE",
    "SETID",
    "DESTROY",
    "CREATECONSUMER",
    "DELCONSUMER",
    "return 1",
    "return redis.call('get', KEYS[1])",
    "return {1,2,{3,'x'}}",
];

fn value(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..20) {
        0 => (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect(),
        1 => vec![b'x'; rng.gen_range(100..5000)],
        2 => rng
            .gen_range(-1_000_000i64..1_000_000)
            .to_string()
            .into_bytes(),
        3 => format!("{}", rng.gen::<f64>() * 1e6 - 5e5).into_bytes(),
        _ => HOSTILE[rng.gen_range(0..HOSTILE.len())].as_bytes().to_vec(),
    }
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Read one RESP2/RESP3 reply (its bytes are discarded); Err on a closed connection.
fn read_reply(r: &mut BufReader<std::net::TcpStream>) -> std::io::Result<()> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let n: i64 = std::str::from_utf8(&line[1..line.len().saturating_sub(2)])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    match line[0] {
        b'$' | b'=' | b'!' if n >= 0 => {
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf)
        }
        b'*' | b'~' | b'>' => (0..n.max(0)).try_for_each(|_| read_reply(r)),
        b'%' | b'|' => (0..2 * n.max(0)).try_for_each(|_| read_reply(r)),
        _ => Ok(()),
    }
}

/// Commands whose effect would stop the run rather than test it: they end, block or
/// change the connection (its protocol, reply mode, pub/sub or MULTI state), sleep or
/// pause the server, rebind it, lock the test user out, or reach the network.
const SKIP: &[&str] = &[
    "shutdown",
    "debug",
    "monitor",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "multi",
    "blpop",
    "brpop",
    "blmove",
    "brpoplpush",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
    "xread",
    "xreadgroup",
    "wait",
    "hello",
    "quit",
    "reset",
    "migrate",
    "sync",
    "psync",
    "client|pause",
    // A debugging session converses with its client (tests/it/ldb.rs).
    "script|debug",
    "client|kill",
    "client|reply",
    "config|set",
    "config|rewrite",
    "acl|setuser",
    "acl|deluser",
    "acl|load",
    "acl|save",
    "auth",
    "replicaof",
    "slaveof",
    "failover",
    "save",
    "bgsave",
    "bgrewriteaof",
];

/// Every command of the table with random arities and hostile values, against a live
/// server over one pipelined connection: the server must answer everything and live.
#[test]
fn command_table_with_random_arguments() {
    let mut srv = Server::start(&["--busy-reply-threshold", "50"]);
    let mut c = srv.client();
    // Keys of every type under the names the values use, so commands meet real data.
    for (cmd, args) in [
        ("SET", vec!["k1", "10"]),
        ("RPUSH", vec!["k2", "a", "b", "1", "2"]),
        ("SADD", vec!["k3", "a", "1", "2"]),
        ("ZADD", vec!["k4", "1", "a", "2", "b", "-inf", "c"]),
        ("HSET", vec!["k5", "f", "1", "g", "x"]),
        ("XADD", vec!["{k}1", "*", "f", "v"]),
        ("GEOADD", vec!["{k}2", "13.3", "38.1", "p"]),
    ] {
        let mut k = redis::cmd(cmd);
        for a in args {
            k.arg(a);
        }
        let _: redis::Value = k.query(&mut c).unwrap();
    }
    let table: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut c).unwrap();
    let mut names: Vec<Vec<Vec<u8>>> = Vec::new();
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        _ => String::new(),
    };
    for entry in &table {
        let redis::Value::Array(e) = entry else {
            continue;
        };
        let name = text(&e[0]);
        let subs = match e.get(9) {
            Some(redis::Value::Array(s)) if !s.is_empty() => s.clone(),
            _ => Vec::new(),
        };
        if subs.is_empty() && !SKIP.contains(&name.as_str()) {
            names.push(vec![name.clone().into_bytes()]);
        }
        for s in subs {
            let redis::Value::Array(se) = s else { continue };
            let full = text(&se[0]);
            if SKIP.contains(&full.as_str()) || SKIP.contains(&name.as_str()) {
                continue;
            }
            let sub = full.split('|').nth(1).unwrap_or("").to_string();
            names.push(vec![name.clone().into_bytes(), sub.into_bytes()]);
        }
    }
    // DEBUG's subcommands that neither stop nor reload the server; SLEEP only with the
    // values that crashed it (inf, nan, 1e30...), which now sleep not at all.
    for sub in [
        "object",
        "digest",
        "digest-value",
        "protocol",
        "stringmatch-len",
        "listpack",
        "quicklist-packed-threshold",
        "set-active-expire",
        "log",
        "error",
        "sleep",
        "jmap",
        "change-repl-id",
        "sdslen",
        "ziplist",
        "replybuffer",
        "dict-resizing",
    ] {
        names.push(vec![b"debug".to_vec(), sub.as_bytes().to_vec()]);
    }
    assert!(names.len() > 200, "{} commands", names.len());
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let total = count("FUZZ_COMMANDS", 30_000);
    let sock = srv.raw();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = sock.try_clone().unwrap();
    let mut r = BufReader::new(sock);
    let started = Instant::now();
    let mut sent = 0;
    while sent < total {
        let batch = 100.min(total - sent);
        let mut buf = Vec::new();
        let mut last = Vec::new();
        for _ in 0..batch {
            let mut args = names[rng.gen_range(0..names.len())].clone();
            for _ in 0..rng.gen_range(0..7) {
                args.push(value(&mut rng));
            }
            if args.len() > 2 && args[0] == b"debug" && args[1] == b"sleep" {
                let no_sleep = ["inf", "-inf", "nan", "1e30", "1e400", "-1", "0", "1e-7"];
                args[2] = no_sleep[rng.gen_range(0..no_sleep.len())]
                    .as_bytes()
                    .to_vec();
            }
            last.push(args.clone());
            buf.extend_from_slice(&encode(&args));
        }
        // A database switch is the one connection state the run keeps: back to 0.
        buf.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n");
        w.write_all(&buf).unwrap();
        for i in 0..=batch {
            if let Err(e) = read_reply(&mut r) {
                let shown: Vec<String> = last
                    .iter()
                    .take(i + 1)
                    .rev()
                    .take(5)
                    .map(|a| {
                        a.iter()
                            .map(|x| String::from_utf8_lossy(&x[..x.len().min(60)]).into_owned())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                panic!(
                    "seed {seed}: no reply to command {} ({e}); last commands, newest first: {shown:#?}\nlog: {}",
                    sent + i,
                    srv.log()
                );
            }
        }
        sent += batch;
    }
    eprintln!("{total} random commands in {:?}", started.elapsed());
    assert!(srv.alive(), "{}", srv.log());
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    assert!(!srv.log().contains("panicked"), "{}", srv.log());
}
