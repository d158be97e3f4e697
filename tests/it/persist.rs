//! RDB snapshots: what SAVE and BGSAVE write is accepted by redis-check-rdb and loaded by
//! a real redis-server 7.0 with every key, TTL, stream group and function library; a
//! failed save keeps writes out (MISCONF) until one succeeds; SHUTDOWN and SIGTERM save
//! when save points are set.
use crate::common::*;
use redis::Connection;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Every type, small and large, in two databases, with TTLs, a stream with consumer
/// groups and pending entries, and a function library.
pub(crate) fn fill(c: &mut Connection) {
    let big = "x".repeat(5000);
    let cmds: &[&[&str]] = &[
        &["SET", "str", "hello"],
        &["SET", "int", "12345"],
        &["SET", "neg", "-70000"],
        &["SET", "i64", "9000000000"],
        &["SET", "notint", "007"],
        &["SET", "big", &big],
        &["SET", "ttl", "v", "PX", "100000000"],
        &["RPUSH", "list", "a", "b", "1", "-2", &big],
        &["SADD", "set", "a", "b", "c"],
        &["SADD", "intset", "1", "2", "-3"],
        &[
            "ZADD", "zset", "1.5", "a", "2", "b", "-inf", "c", "1e300", "d",
        ],
        &["HSET", "hash", "f", "v", "g", "2", "big", &big],
        &["XADD", "stream", "1-1", "a", "1", "b", "2"],
        &["XADD", "stream", "1-2", "a", "3", "b", "4"],
        &["XADD", "stream", "2-0", "c", "5"],
        &["XGROUP", "CREATE", "stream", "g1", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "stream",
            ">",
        ],
        &["XGROUP", "CREATE", "stream", "g2", "$"],
        &["XGROUP", "CREATECONSUMER", "stream", "g2", "bob"],
        &["XADD", "emptied", "5-5", "f", "v"],
        &["XDEL", "emptied", "5-5"],
    ];
    for args in cmds {
        q::<redis::Value>(c, args);
    }
    for i in 0..300 {
        q::<()>(c, &["HSET", "bighash", &format!("f{i}"), &format!("{i}")]);
        q::<()>(c, &["ZADD", "bigzset", &i.to_string(), &format!("m{i}")]);
        q::<()>(c, &["SADD", "bigset", &format!("m{i}")]);
        q::<()>(c, &["XADD", "bigstream", "*", "n", &i.to_string()]);
    }
    q::<()>(c, &["SELECT", "3"]);
    q::<()>(c, &["SET", "in3", "v3"]);
    q::<()>(c, &["SELECT", "0"]);
    q::<String>(
        c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)",
        ],
    );
}

/// Everything a client can see of a database, as text: each key's type and content, and
/// whether it has a TTL.
pub(crate) fn contents(c: &mut Connection, db: &str) -> Vec<String> {
    q::<()>(c, &["SELECT", db]);
    let mut keys: Vec<String> = q(c, &["KEYS", "*"]);
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        let t: String = q(c, &["TYPE", &k]);
        let body = match t.as_str() {
            "string" => format!("{:?}", q::<String>(c, &["GET", &k])),
            "list" => format!("{:?}", q::<Vec<String>>(c, &["LRANGE", &k, "0", "-1"])),
            "set" => {
                let mut m: Vec<String> = q(c, &["SMEMBERS", &k]);
                m.sort();
                format!("{m:?}")
            }
            "zset" => format!(
                "{:?}",
                q::<Vec<String>>(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])
            ),
            "hash" => {
                let mut m: Vec<(String, String)> = q(c, &["HGETALL", &k]);
                m.sort();
                format!("{m:?}")
            }
            "stream" => {
                // Everything but radix-tree-nodes: the shape of Redis's own radix tree.
                let full = format!(
                    "{:?}",
                    q::<redis::Value>(c, &["XINFO", "STREAM", &k, "FULL"])
                );
                let at = full.find("radix-tree-nodes").expect("radix-tree-nodes");
                let end = at + full[at..].find("), ").expect("its value") + 3;
                let next = end + full[end..].find("), ").expect("its value") + 3;
                format!(
                    "{}{} {:?}",
                    &full[..end],
                    &full[next..],
                    q::<redis::Value>(c, &["XRANGE", &k, "-", "+"])
                )
            }
            other => other.to_string(),
        };
        let ttl: i64 = q(c, &["TTL", &k]);
        out.push(format!("{k} {t} ttl={} {body}", ttl > 0));
    }
    q::<()>(c, &["SELECT", "0"]);
    out
}

/// Databases 0 and 3 of two servers hold the same keys, types, contents and TTL flags;
/// a difference is shown cut short, named by each side's label.
pub(crate) fn same_contents(a: &mut Connection, b: &mut Connection, a_is: &str, b_is: &str) {
    same_contents_but(a, b, a_is, b_is, &[]);
}

/// `same_contents`, with the integer fields named in `ignore` (XINFO's "seen-time") not
/// compared.
pub(crate) fn same_contents_but(
    a: &mut Connection,
    b: &mut Connection,
    a_is: &str,
    b_is: &str,
    ignore: &[&str],
) {
    let cut = |s: &str| s.chars().take(400).collect::<String>();
    let mask = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|mut s| {
                for f in ignore {
                    let tag = format!("'\"{f}\"'), int(");
                    let mut from = 0;
                    while let Some(i) = s[from..].find(&tag) {
                        let start = from + i + tag.len();
                        let end = start + s[start..].find(')').unwrap_or(0);
                        s.replace_range(start..end, "_");
                        from = start;
                    }
                }
                s
            })
            .collect()
    };
    for db in ["0", "3"] {
        let (want, got) = (mask(contents(a, db)), mask(contents(b, db)));
        assert_eq!(want.len(), got.len(), "db {db}: key counts");
        for (w, g) in want.iter().zip(&got) {
            assert!(w == g, "db {db}\n {a_is}: {}\n {b_is}: {}", cut(w), cut(g));
        }
    }
}

pub(crate) fn check_rdb(path: &Path) -> String {
    let out = Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("redis-check-rdb (redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb: {text}"
    );
    text
}

pub(crate) fn info_field(c: &mut Connection, section: &str, field: &str) -> String {
    let info: String = q(c, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_string()
}

#[test]
fn a_saved_file_is_redis_check_rdb_ok_and_redis_server_loads_every_key() {
    for compression in ["yes", "no"] {
        let ours = Server::start(&["--rdbcompression", compression]);
        let c = &mut ours.client();
        fill(c);
        assert_eq!(q::<String>(c, &["SAVE"]), "OK");
        let file = ours.dir.join("dump.rdb");
        let report = check_rdb(&file);
        assert!(report.contains("keys read"), "{report}");
        let theirs = start_redis_server(Some(&ours.dir));
        let r = &mut theirs.client();
        same_contents(c, r, "ferrokv", "redis");
        assert_eq!(
            q::<redis::Value>(r, &["FUNCTION", "LIST"]),
            q::<redis::Value>(c, &["FUNCTION", "LIST"])
        );
        assert_eq!(q::<i64>(r, &["DBSIZE"]), q::<i64>(c, &["DBSIZE"]));
    }
}

#[test]
fn bgsave_writes_in_a_child_while_the_server_serves() {
    let ours = Server::start(&[]);
    let c = &mut ours.client();
    fill(c);
    let before: i64 = q(c, &["LASTSAVE"]);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(q::<String>(c, &["BGSAVE"]), "Background saving started");
    // Served meanwhile.
    q::<()>(c, &["SET", "during", "1"]);
    wait_until("the background save ends", || {
        info_field(c, "persistence", "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(c, "persistence", "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(c, "persistence", "rdb_saves"), "1");
    assert!(q::<i64>(c, &["LASTSAVE"]) > before);
    assert_eq!(info_field(c, "stats", "total_forks"), "1");
    check_rdb(&ours.dir.join("dump.rdb"));
    assert!(ours
        .log()
        .contains("Background saving terminated with success"));
    // The write made after the fork is not in this snapshot: one change pending.
    assert_eq!(
        info_field(c, "persistence", "rdb_changes_since_last_save"),
        "1"
    );
    assert!(err(c, &["BGSAVE", "NOW"]).contains("syntax error"));
}

#[test]
fn a_failed_bgsave_refuses_writes_until_a_save_succeeds() {
    let ours = Server::start(&["--save", "3600 1000000"]);
    let c = &mut ours.client();
    q::<()>(c, &["SET", "k", "v"]);
    // A directory where the file goes: the rename fails.
    let target = ours.dir.join("dump.rdb");
    std::fs::create_dir(&target).unwrap();
    assert_eq!(q::<String>(c, &["BGSAVE"]), "Background saving started");
    wait_until("the background save fails", || {
        info_field(c, "persistence", "rdb_last_bgsave_status") == "err"
    });
    assert!(err(c, &["SET", "k", "w"]).starts_with("MISCONF "));
    assert!(err(c, &["PING"]).starts_with("MISCONF "));
    assert_eq!(q::<String>(c, &["GET", "k"]), "v", "reads still served");
    // No temp file left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&ours.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Writes are accepted again once a save succeeds.
    std::fs::remove_dir(&target).unwrap();
    assert_eq!(q::<String>(c, &["SAVE"]), "OK");
    q::<()>(c, &["SET", "k", "w"]);
    check_rdb(&target);
    // CONFIG SET stop-writes-on-bgsave-error no lifts the refusal too.
    std::fs::remove_file(&target).unwrap();
    std::fs::create_dir(&target).unwrap();
    assert!(err(c, &["SAVE"]).starts_with("ERR"));
    assert!(err(c, &["SET", "k", "x"]).starts_with("MISCONF "));
    q::<()>(c, &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    q::<()>(c, &["SET", "k", "x"]);
}

#[test]
fn shutdown_and_sigterm_save_when_save_points_are_set() {
    // SHUTDOWN: saves with save points, not with NOSAVE, always with SAVE.
    for (save, args, saved) in [
        ("3600 1", &["SHUTDOWN"][..], true),
        ("3600 1", &["SHUTDOWN", "NOSAVE"][..], false),
        ("", &["SHUTDOWN"][..], false),
        ("", &["SHUTDOWN", "SAVE"][..], true),
    ] {
        let mut ours = Server::start(&["--save", save]);
        let c = &mut ours.client();
        q::<()>(c, &["SET", "k", "v"]);
        let _ = redis::cmd(args[0]).arg(&args[1..]).query::<()>(c);
        assert_eq!(ours.wait_exit(Duration::from_secs(10)), Some(0), "{args:?}");
        let file = ours.dir.join("dump.rdb");
        assert_eq!(file.exists(), saved, "save {save:?} {args:?}");
        if saved {
            assert!(check_rdb(&file).contains("1 keys read"));
        }
    }
    // SIGTERM with save points.
    let mut ours = Server::start(&["--save", "3600 1"]);
    let c = &mut ours.client();
    q::<()>(c, &["SET", "k", "v"]);
    // SAFETY: signalling the server process this test started.
    unsafe { libc::kill(ours.pid() as i32, libc::SIGTERM) };
    assert_eq!(ours.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(check_rdb(&ours.dir.join("dump.rdb")).contains("1 keys read"));
}

/// A file written by ferrokv, and one written by redis-server 7.0.15, load back at startup
/// with every key, TTL, stream group and library (Redis's loading log lines included).
#[test]
fn rdb_files_load_at_startup_from_ferrokv_and_from_redis_server() {
    // Ours: SAVE, then a new server started in the same directory.
    let first = Server::start(&[]);
    let c = &mut first.client();
    fill(c);
    q::<()>(c, &["SAVE"]);
    let dir = first.dir.to_string_lossy().to_string();
    let second = Server::start(&["--dir", &dir]);
    let s = &mut second.client();
    same_contents(c, s, "saved", "loaded");
    assert_eq!(
        q::<redis::Value>(s, &["FUNCTION", "LIST"]),
        q::<redis::Value>(c, &["FUNCTION", "LIST"])
    );
    assert_eq!(q::<i64>(s, &["FCALL", "f1", "0"]), 1);
    let log = second.log();
    assert!(log.contains("Done loading RDB, keys loaded: "), "{log}");
    assert!(log.contains("DB loaded from disk"), "{log}");
    let loaded: u64 = info_field(s, "persistence", "rdb_last_load_keys_loaded")
        .parse()
        .unwrap();
    assert_eq!(loaded, q::<u64>(c, &["DBSIZE"]) + 1, "db 0 and db 3");

    // Theirs: the same data written by redis-server.
    let theirs = start_redis_server(None);
    let r = &mut theirs.client();
    fill(r);
    q::<()>(r, &["SAVE"]);
    let rdir = theirs.dir.to_string_lossy().to_string();
    let ours = Server::start(&["--dir", &rdir]);
    let o = &mut ours.client();
    same_contents(r, o, "redis", "ferrokv");
    assert_eq!(q::<i64>(o, &["FCALL", "f1", "0"]), 1);
}

/// Keys whose TTL passed while the server was down are dropped at load and counted.
#[test]
fn keys_expired_on_disk_are_dropped_at_load() {
    let first = Server::start(&[]);
    let c = &mut first.client();
    q::<()>(c, &["SET", "short", "v", "PX", "300"]);
    q::<()>(c, &["SET", "long", "v", "EX", "1000"]);
    q::<()>(c, &["SET", "plain", "v"]);
    q::<()>(c, &["SAVE"]);
    std::thread::sleep(Duration::from_millis(400));
    let dir = first.dir.to_string_lossy().to_string();
    let second = Server::start(&["--dir", &dir]);
    let s = &mut second.client();
    assert_eq!(q::<i64>(s, &["DBSIZE"]), 2);
    assert_eq!(
        info_field(s, "persistence", "rdb_last_load_keys_expired"),
        "1"
    );
    assert!(q::<i64>(s, &["TTL", "long"]) > 990);
}

/// A replica (replicaof in its config) keeps the keys that expired while it was down:
/// its master's DELs will come and a partial resync continues from this data, as Redis
/// loads them when it is not a master. They are hidden from reads meanwhile.
#[test]
fn a_replica_keeps_expired_keys_at_load() {
    let first = Server::start(&[]);
    let c = &mut first.client();
    q::<()>(c, &["SET", "short", "v", "PX", "300"]);
    q::<()>(c, &["SET", "plain", "v"]);
    q::<()>(c, &["SAVE"]);
    std::thread::sleep(Duration::from_millis(400));
    let dir = first.dir.to_string_lossy().to_string();
    let nowhere = free_port().to_string();
    let second = Server::start(&["--dir", &dir, "--replicaof", "127.0.0.1", &nowhere]);
    let s = &mut second.client();
    assert_eq!(q::<i64>(s, &["DBSIZE"]), 2);
    assert_eq!(
        info_field(s, "persistence", "rdb_last_load_keys_expired"),
        "0"
    );
    assert_eq!(q::<Option<String>>(s, &["GET", "short"]), None);
}

/// A damaged file stops the start with the offset and what is wrong, never a panic; the
/// file is left as it was.
#[test]
fn a_corrupt_rdb_stops_the_start_with_a_clear_error() {
    let first = Server::start(&[]);
    let c = &mut first.client();
    fill(c);
    q::<()>(c, &["SAVE"]);
    let file = first.dir.join("dump.rdb");
    let good = std::fs::read(&file).unwrap();
    let dir = first.dir.to_string_lossy().to_string();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x5a;
    for (what, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("flipped", flipped),
        ("not an rdb", b"hello world, not a file of ours".to_vec()),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        let out = std::process::Command::new(bin())
            .args([
                "--port",
                &free_port().to_string(),
                "--save",
                "",
                "--dir",
                &dir,
            ])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {log}");
        assert!(!log.contains("panicked"), "{what}: {log}");
        assert!(
            log.contains("Internal error in RDB reading offset"),
            "{what}: {log}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "{what}: file kept");
    }
}

/// DEBUG RELOAD saves, empties and loads back: the same data; MERGE and NOSAVE as Redis.
#[test]
fn debug_reload_round_trips_the_dataset() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    fill(c);
    let before = (contents(c, "0"), contents(c, "3"));
    assert_eq!(q::<String>(c, &["DEBUG", "RELOAD"]), "OK");
    assert_eq!((contents(c, "0"), contents(c, "3")), before);
    assert_eq!(q::<i64>(c, &["FCALL", "f1", "0"]), 1);
    // NOSAVE loads the file as it is: a key written since is gone.
    q::<()>(c, &["SET", "after", "1"]);
    assert_eq!(q::<String>(c, &["DEBUG", "RELOAD", "NOSAVE"]), "OK");
    assert_eq!(q::<i64>(c, &["EXISTS", "after"]), 0);
    assert!(err(c, &["DEBUG", "RELOAD", "BOGUS"]).contains("only supports"));
}

/// DUMP payloads are Redis's: every key DUMPed by redis-server RESTOREs in ferrokv and the
/// reverse, FUNCTION DUMP/RESTORE cross over too, and MIGRATE moves keys both ways.
#[test]
fn dump_restore_and_migrate_interoperate_with_redis_server() {
    let ours = Server::start(&[]);
    let theirs = start_redis_server(None);
    let (o, r) = (&mut ours.client(), &mut theirs.client());
    fill(o);
    fill(r);
    let keys: Vec<String> = q(r, &["KEYS", "*"]);
    let copy_all = |from: &mut Connection, to: &mut Connection, way: &str| {
        for k in &keys {
            let payload: Vec<u8> = redis::cmd("DUMP").arg(k).query(from).unwrap();
            let restored: redis::RedisResult<String> = redis::cmd("RESTORE")
                .arg(format!("copy:{k}"))
                .arg(0)
                .arg(&payload)
                .query(to);
            assert_eq!(restored.as_deref(), Ok("OK"), "{way}: {k}");
        }
        let libs: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(from).unwrap();
        let ok: String = redis::cmd("FUNCTION")
            .arg("RESTORE")
            .arg(&libs)
            .arg("REPLACE")
            .query(to)
            .unwrap();
        assert_eq!(ok, "OK", "{way}: functions");
    };
    copy_all(r, o, "redis -> ferrokv");
    copy_all(o, r, "ferrokv -> redis");
    // Each side's copies read back as the other side's originals.
    let (mine, other) = (contents(o, "0"), contents(r, "0"));
    let copies = |all: &[String]| -> Vec<String> {
        all.iter()
            .filter_map(|l| l.strip_prefix("copy:").map(str::to_string))
            .map(|l| l.replace("ttl=true", "ttl=false"))
            .collect()
    };
    let originals = |all: &[String]| -> Vec<String> {
        all.iter()
            .filter(|l| !l.starts_with("copy:"))
            .map(|l| l.replace("ttl=true", "ttl=false"))
            .collect()
    };
    let cut = |s: &str| s.chars().take(300).collect::<String>();
    assert_eq!(copies(&mine).len(), originals(&other).len());
    assert_eq!(copies(&other).len(), originals(&mine).len());
    for (a, b) in copies(&mine).iter().zip(originals(&other).iter()) {
        assert!(a == b, "restored in ferrokv\n {}\n {}", cut(a), cut(b));
    }
    for (a, b) in copies(&other).iter().zip(originals(&mine).iter()) {
        assert!(a == b, "restored in redis\n {}\n {}", cut(a), cut(b));
    }
    // MIGRATE both ways.
    q::<()>(o, &["SET", "to-redis", "1"]);
    let port = theirs.port.to_string();
    assert_eq!(
        q::<String>(o, &["MIGRATE", "127.0.0.1", &port, "to-redis", "0", "5000"]),
        "OK"
    );
    assert_eq!(q::<String>(r, &["GET", "to-redis"]), "1");
    q::<()>(r, &["RPUSH", "to-ferrokv", "a", "b"]);
    let port = ours.port.to_string();
    assert_eq!(
        q::<String>(
            r,
            &["MIGRATE", "127.0.0.1", &port, "to-ferrokv", "0", "5000"]
        ),
        "OK"
    );
    assert_eq!(
        q::<Vec<String>>(o, &["LRANGE", "to-ferrokv", "0", "-1"]),
        ["a", "b"]
    );
    // A corrupt payload is refused with Redis's words.
    let mut bad: Vec<u8> = redis::cmd("DUMP").arg("list").query(o).unwrap();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let e = err_of(o, redis::cmd("RESTORE").arg("x").arg(0).arg(&bad));
    assert_eq!(e, "ERR DUMP payload version or checksum are wrong");
}

/// Under an LFU policy a key's counter survives a save and load (the FREQ opcode), and
/// FLUSHALL with save points set saves the emptied dataset at once, as Redis does.
#[test]
fn lfu_counters_survive_a_reload_and_flushall_saves() {
    let srv = Server::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "hot", "v"]);
    q::<()>(c, &["SET", "cold", "v"]);
    for _ in 0..2000 {
        q::<String>(c, &["GET", "hot"]);
    }
    let hot: i64 = q(c, &["OBJECT", "FREQ", "hot"]);
    let cold: i64 = q(c, &["OBJECT", "FREQ", "cold"]);
    assert!(hot > cold + 5, "{hot} {cold}");
    assert_eq!(q::<String>(c, &["DEBUG", "RELOAD"]), "OK");
    assert_eq!(q::<i64>(c, &["OBJECT", "FREQ", "hot"]), hot);
    assert_eq!(q::<i64>(c, &["OBJECT", "FREQ", "cold"]), cold);

    let srv = Server::start(&["--save", "3600 1000"]);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "k", "v"]);
    q::<()>(c, &["SAVE"]);
    assert!(check_rdb(&srv.dir.join("dump.rdb")).contains("1 keys read"));
    q::<()>(c, &["FLUSHALL"]);
    assert!(check_rdb(&srv.dir.join("dump.rdb")).contains("0 keys read"));
    assert_eq!(
        info_field(c, "persistence", "rdb_changes_since_last_save"),
        "0"
    );
}

/// Clients are served while the dataset loads: INFO says loading:1, other commands get
/// -LOADING, and a SIGTERM meanwhile exits without saving over the file being loaded.
#[test]
fn clients_get_loading_while_the_dataset_loads_and_the_file_is_never_overwritten() {
    let first = Server::start(&["--enable-debug-command", "yes"]);
    let c = &mut first.client();
    q::<()>(c, &["DEBUG", "POPULATE", "20000", "key", "100"]);
    q::<()>(c, &["SAVE"]);
    let file = first.dir.join("dump.rdb");
    let before = std::fs::read(&file).unwrap();
    let port = free_port();
    let dir = first.dir.to_string_lossy().to_string();
    let mut child = std::process::Command::new(bin())
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir,
        ])
        .args(["--save", "3600 1", "--key-load-delay", "200"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}/");
    let mut conn = None;
    wait_until("the loading server accepts", || {
        conn = redis::Client::open(url.as_str())
            .and_then(|cl| cl.get_connection_with_timeout(Duration::from_secs(2)))
            .ok();
        conn.is_some()
    });
    let l = conn.as_mut().unwrap();
    assert_eq!(info_field(l, "persistence", "loading"), "1");
    let e = err(l, &["GET", "key:1"]);
    assert_eq!(e, "LOADING Redis is loading the dataset in memory");
    // SIGTERM with save points while loading: exits, the file untouched.
    // SAFETY: signalling the server process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the file being loaded was kept"
    );
}

/// A crash in the middle of a BGSAVE (the server and its child killed with SIGKILL) leaves
/// the previous dump.rdb whole: it passes redis-check-rdb and loads with its keys.
#[test]
fn a_crash_during_bgsave_leaves_the_previous_file_loadable() {
    let mut srv = Server::start(&[]);
    let c = &mut srv.client();
    for i in 0..10 {
        q::<()>(c, &["SET", &format!("old:{i}"), "v"]);
    }
    q::<()>(c, &["SAVE"]);
    let file = srv.dir.join("dump.rdb");
    let before = std::fs::read(&file).unwrap();
    // Values big enough that each one reaches the file as it is written.
    let big = "n".repeat(200_000);
    for i in 0..50 {
        q::<()>(c, &["SET", &format!("new:{i}"), &big]);
    }
    q::<()>(c, &["CONFIG", "SET", "rdbcompression", "no"]);
    // Slow the child down: 50 ms per key.
    q::<()>(c, &["CONFIG", "SET", "rdb-key-save-delay", "50000"]);
    assert_eq!(q::<String>(c, &["BGSAVE"]), "Background saving started");
    let pid = srv.pid();
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let child: i32 = children
        .split_whitespace()
        .next()
        .expect("a child")
        .parse()
        .unwrap();
    // Let it write part of the file, then crash everything.
    wait_until("the child writes its temp file", || {
        std::fs::read_dir(&srv.dir).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with("temp-")
                && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
        })
    });
    // SAFETY: killing the processes this test started.
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
        libc::kill(child, libc::SIGKILL);
    }
    srv.wait_exit(Duration::from_secs(5));
    assert_eq!(std::fs::read(&file).unwrap(), before, "dump.rdb untouched");
    assert!(check_rdb(&file).contains("10 keys read"));
    let dir = srv.dir.to_string_lossy().to_string();
    let again = Server::start(&["--dir", &dir]);
    let a = &mut again.client();
    assert_eq!(q::<i64>(a, &["DBSIZE"]), 10);
    assert_eq!(q::<i64>(a, &["EXISTS", "new:0"]), 0);
}

/// The BGSAVE child reports its progress and its copy-on-write size (pages the parent
/// wrote after the fork) about once a second, as Redis's child info does.
#[test]
fn the_bgsave_child_reports_progress_and_copy_on_write() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    let v = "A".repeat(500);
    let mut p = redis::pipe();
    for i in 0..3000 {
        p.cmd("SET").arg(format!("key{i}")).arg(&v).ignore();
    }
    let _: () = p.query(c).unwrap();
    assert_eq!(info_field(c, "persistence", "current_save_keys_total"), "0");
    q::<()>(c, &["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    q::<String>(c, &["BGSAVE"]);
    assert_eq!(
        info_field(c, "persistence", "current_save_keys_total"),
        "3000"
    );
    let w = "B".repeat(500);
    let mut i = 0;
    wait_until("a copy-on-write report", || {
        for _ in 0..16 {
            q::<i64>(c, &["SETRANGE", &format!("key{i}"), "0", &w]);
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
        info_field(c, "persistence", "current_cow_size") != "0"
    });
    let processed: u64 = info_field(c, "persistence", "current_save_keys_processed")
        .parse()
        .unwrap();
    assert!(processed > 0 && processed <= 3000, "{processed}");
    q::<()>(c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_until("the save ends", || {
        info_field(c, "persistence", "rdb_bgsave_in_progress") == "0"
    });
    let last: u64 = info_field(c, "persistence", "rdb_last_cow_size")
        .parse()
        .unwrap();
    assert!(last > 0);
    assert_eq!(info_field(c, "persistence", "current_cow_size"), "0");
}

/// A forked Lua debugging session is a child too, but not one that writes the dataset:
/// BGSAVE runs beside it (it used to answer "Another child process is active").
#[test]
fn bgsave_runs_beside_a_forked_debugging_session() {
    use std::io::Write;
    let srv = Server::start(&[]);
    let mut dbg = srv.raw();
    dbg.write_all(&resp_cmd(&["SCRIPT", "DEBUG", "YES"]))
        .unwrap();
    read_until(&mut dbg, "+OK\r\n");
    dbg.write_all(&resp_cmd(&["EVAL", "return 1", "0"]))
        .unwrap();
    read_until(&mut dbg, "step over");
    assert_eq!(srv.children().len(), 1);
    let c = &mut srv.client();
    q::<()>(c, &["SET", "k", "v"]);
    assert_eq!(q::<String>(c, &["BGSAVE"]), "Background saving started");
    wait_until("the background save ends", || {
        info_field(c, "persistence", "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(c, "persistence", "rdb_last_bgsave_status"), "ok");
    assert!(check_rdb(&srv.dir.join("dump.rdb")).contains("1 keys read"));
}

/// During a slow DEBUG RELOAD other clients are served (-LOADING, as Redis answers
/// them), while a command the reloading client sends meanwhile waits its turn and
/// answers after the reload's OK.
#[test]
fn a_slow_debug_reload_serves_others_and_keeps_its_clients_replies_in_order() {
    use std::io::Write;
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let c = &mut srv.client();
    q::<()>(c, &["DEBUG", "POPULATE", "2000", "key", "10"]);
    q::<()>(c, &["CONFIG", "SET", "key-load-delay", "500"]);
    let mut s = srv.raw();
    s.write_all(&resp_cmd(&["DEBUG", "RELOAD"])).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    s.write_all(&resp_cmd(&["PING"])).unwrap();
    let other = &mut srv.client();
    assert_eq!(
        err(other, &["GET", "key:1"]),
        "LOADING Redis is loading the dataset in memory"
    );
    read_until(&mut s, "+OK\r\n+PONG\r\n");
    q::<()>(c, &["CONFIG", "SET", "key-load-delay", "0"]);
    assert_eq!(q::<i64>(c, &["DBSIZE"]), 2000);
}

/// DUMP payloads compress long strings only under rdbcompression yes, as Redis's do; both
/// forms RESTORE in redis-server.
#[test]
fn dump_follows_rdbcompression() {
    let ours = Server::start(&[]);
    let theirs = start_redis_server(None);
    let (o, r) = (&mut ours.client(), &mut theirs.client());
    let v = "ab".repeat(50);
    q::<()>(o, &["SET", "k", &v]);
    let dump = |c: &mut Connection| -> Vec<u8> { redis::cmd("DUMP").arg("k").query(c).unwrap() };
    let packed = dump(o);
    q::<()>(o, &["CONFIG", "SET", "rdbcompression", "no"]);
    let plain = dump(o);
    // Type byte, a 2-byte length, the 100 bytes, version and CRC: byte for byte what
    // redis-server gives under the same setting.
    assert_eq!(plain.len(), 1 + 2 + 100 + 10);
    q::<()>(r, &["SET", "k", &v]);
    q::<()>(r, &["CONFIG", "SET", "rdbcompression", "no"]);
    assert_eq!(plain, dump(r));
    assert!(packed.len() < 60, "{}", packed.len());
    for (name, payload) in [("packed", &packed), ("plain", &plain)] {
        let ok: String = redis::cmd("RESTORE")
            .arg(name)
            .arg(0)
            .arg(payload)
            .query(r)
            .unwrap();
        assert_eq!(ok, "OK");
        assert_eq!(q::<String>(r, &["GET", name]), v);
    }
}

/// Lists are written as Redis 7.0 writes them (QUICKLIST_2, listpack nodes cut at 8 KB),
/// and small hashes and sorted sets as listpacks, integer sets as intsets, under Redis's
/// limits: DUMP payloads are byte for byte redis-server's, and a saved file with them
/// passes redis-check-rdb.
#[test]
fn lists_are_written_as_redis_quicklists() {
    let ours = Server::start(&[]);
    let theirs = start_redis_server(None);
    let (o, r) = (&mut ours.client(), &mut theirs.client());
    let many: Vec<String> = (0..3000).map(|i| format!("{i}")).collect();
    let long = "x".repeat(10_000);
    for c in [&mut *o, &mut *r] {
        q::<()>(
            c,
            &[
                "RPUSH",
                "small",
                "a",
                "b",
                "1",
                "-2",
                "300",
                "hello-world-compressible-maybe",
            ],
        );
        let mut args = vec!["RPUSH", "many"];
        args.extend(many.iter().map(|s| s.as_str()));
        q::<()>(c, &args);
        q::<()>(c, &["RPUSH", "long", "a", &long, "b"]);
        q::<()>(c, &["HSET", "hash", "f", "v", "n", "12", "neg", "-70000"]);
        q::<()>(
            c,
            &[
                "ZADD", "zset", "1", "a", "2.5", "b", "-3", "c", "1e20", "d", "inf", "e",
            ],
        );
        q::<()>(c, &["SADD", "ints16", "1", "2", "-5"]);
        q::<()>(c, &["SADD", "ints32", "1", "70000"]);
        q::<()>(c, &["SADD", "ints64", "1", "9000000000"]);
    }
    for key in [
        "small", "many", "long", "hash", "zset", "ints16", "ints32", "ints64",
    ] {
        let dump =
            |c: &mut Connection| -> Vec<u8> { redis::cmd("DUMP").arg(key).query(c).unwrap() };
        let (a, b) = (dump(o), dump(r));
        assert!(a == b, "{key}: {} vs {} bytes", a.len(), b.len());
    }
    q::<()>(o, &["SAVE"]);
    assert!(check_rdb(&ours.dir.join("dump.rdb")).contains("8 keys read"));
}
