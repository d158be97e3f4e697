//! Replication over TLS with mutual authentication, with redis-server 7.0.15 on the other
//! side: a redis-server replica of a ferrokv master, a ferrokv replica of a redis-server
//! master (whose snapshot comes diskless, `$EOF:`), a chain of both, partial resyncs
//! across killed links, promotion (PSYNC2), read-only replicas, WAIT, and a replica whose
//! TLS handshake fails. Data is compared key by key (type, contents, TTL present), as
//! the two servers' DEBUG DIGESTs are not computed alike.
use crate::common::*;
use crate::tls::{make_pki, Pki};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A server with a plain port (the test's own connections) and a TLS port (replication),
/// mutual TLS required, replicating over TLS with the client certificate.
struct Node {
    srv: Server,
    tls_port: u16,
}

fn tls_opts(pki: &Pki, tls_port: u16) -> Vec<String> {
    [
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &pki.path("server.crt"),
        "--tls-key-file",
        &pki.path("server.key"),
        "--tls-client-cert-file",
        &pki.path("client.crt"),
        "--tls-client-key-file",
        &pki.path("client.key"),
        "--tls-ca-cert-file",
        &pki.path("ca.crt"),
        "--tls-auth-clients",
        "yes",
        "--tls-replication",
        "yes",
        "--enable-debug-command",
        "yes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn ferrokv(pki: &Pki, extra: &[&str]) -> Node {
    let (port, tls_port) = (free_port(), free_port());
    let mut opts = tls_opts(pki, tls_port);
    opts.extend(["--save", "", "--bind", "127.0.0.1"].map(String::from));
    opts.extend(extra.iter().map(|s| s.to_string()));
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let p = port.to_string();
    let srv = Server::start_on(port, &["--port", &p], &opts);
    Node { srv, tls_port }
}

fn redis(pki: &Pki, extra: &[&str]) -> Node {
    let tls_port = free_port();
    let mut opts = tls_opts(pki, tls_port);
    opts.extend(["--repl-diskless-sync-delay", "0"].map(String::from));
    opts.extend(extra.iter().map(|s| s.to_string()));
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let srv = start_redis_server_with(None, &opts);
    Node { srv, tls_port }
}

impl Node {
    fn c(&self) -> redis::Connection {
        self.srv.client()
    }
    fn replicaof(&self, master: &Node) {
        let r: String = q(
            &mut self.c(),
            &["REPLICAOF", "127.0.0.1", &master.tls_port.to_string()],
        );
        assert!(r.starts_with("OK"), "{r}");
    }
    fn info(&self, section: &str) -> String {
        q(&mut self.c(), &["INFO", section])
    }
    fn field(&self, section: &str, name: &str) -> String {
        let info = self.info(section);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_default()
            .to_string()
    }
}

/// Wait until `replica`'s link is up and it applied everything `master` has.
fn caught_up(master: &Node, replica: &Node) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = replica.field("replication", "master_link_status") == "up";
        let m = master.field("replication", "master_repl_offset");
        let r = replica.field("replication", "slave_repl_offset");
        if up && m == r {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica not caught up: link up {up}, master offset {m}, replica offset {r}\n{}",
            replica.srv.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every key of every database: type, contents, and whether it has a TTL.
fn contents(c: &mut redis::Connection) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for db in 0..16 {
        let _: () = q(c, &["SELECT", &db.to_string()]);
        let mut cursor = "0".to_string();
        loop {
            let (next, keys): (String, Vec<Vec<u8>>) = q(c, &["SCAN", &cursor, "COUNT", "1000"]);
            for k in keys {
                let t: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
                let read = |cmd: &mut redis::Cmd, c: &mut redis::Connection| {
                    format!("{:?}", cmd.query::<redis::Value>(c).unwrap())
                };
                let mut body = match t.as_str() {
                    "string" => read(redis::cmd("GET").arg(&k), c),
                    "list" => read(redis::cmd("LRANGE").arg(&k).arg(0).arg(-1), c),
                    "set" => {
                        let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(&k).query(c).unwrap();
                        m.sort();
                        format!("{m:?}")
                    }
                    "zset" => read(
                        redis::cmd("ZRANGE")
                            .arg(&k)
                            .arg(0)
                            .arg(-1)
                            .arg("WITHSCORES"),
                        c,
                    ),
                    "hash" => {
                        let mut m: Vec<(Vec<u8>, Vec<u8>)> =
                            redis::cmd("HGETALL").arg(&k).query(c).unwrap();
                        m.sort();
                        format!("{m:?}")
                    }
                    "stream" => {
                        let groups: Vec<BTreeMap<String, redis::Value>> =
                            redis::cmd("XINFO").arg("GROUPS").arg(&k).query(c).unwrap();
                        let groups: Vec<String> = groups
                            .iter()
                            .map(|g| {
                                ["name", "consumers", "pending", "last-delivered-id"]
                                    .map(|f| format!("{:?}", g.get(f)))
                                    .join(",")
                            })
                            .collect();
                        read(redis::cmd("XRANGE").arg(&k).arg("-").arg("+"), c) + &groups.join(";")
                    }
                    other => panic!("unexpected type {other}"),
                };
                let ttl: i64 = redis::cmd("PTTL").arg(&k).query(c).unwrap();
                if ttl > 0 {
                    body.push_str(" +ttl");
                }
                all.insert(
                    format!("{db}:{}", String::from_utf8_lossy(&k)),
                    format!("{t} {body}"),
                );
            }
            if next == "0" {
                break;
            }
            cursor = next;
        }
    }
    let _: () = q(c, &["SELECT", "0"]);
    let f: redis::Value = q(c, &["FUNCTION", "LIST", "WITHCODE"]);
    all.insert("functions".into(), format!("{f:?}"));
    all
}

fn same_data(a: &Node, b: &Node) {
    let (x, y) = (contents(&mut a.c()), contents(&mut b.c()));
    assert_eq!(x.len(), y.len(), "key counts differ");
    for (k, v) in &x {
        assert_eq!(Some(v), y.get(k), "key {k} differs");
    }
}

/// Keys of every type, with TTLs, in two databases; a stream with a group and pending
/// entries; a function library. `tag` keeps rounds apart.
fn fill(c: &mut redis::Connection, tag: &str, n: usize) {
    let mut p = redis::pipe();
    for i in 0..n {
        let k = format!("{tag}:{i}");
        match i % 7 {
            0 => p.cmd("SET").arg(&k).arg(i).ignore(),
            1 => p.cmd("RPUSH").arg(&k).arg("a").arg(i).arg("c").ignore(),
            2 => p
                .cmd("HSET")
                .arg(&k)
                .arg("f")
                .arg(i)
                .arg("g")
                .arg("x")
                .ignore(),
            3 => p.cmd("SADD").arg(&k).arg(i).arg(i + 1).arg("m").ignore(),
            4 => p
                .cmd("ZADD")
                .arg(&k)
                .arg(1.5)
                .arg("a")
                .arg(i)
                .arg("b")
                .ignore(),
            5 => p.cmd("SETEX").arg(&k).arg(1000).arg("ttl").ignore(),
            _ => p.cmd("INCRBYFLOAT").arg(&k).arg("1.25").ignore(),
        };
        if i % 50 == 0 {
            p.cmd("XADD")
                .arg(format!("{tag}:s"))
                .arg("*")
                .arg("n")
                .arg(i)
                .ignore();
            p.cmd("EXPIRE").arg(format!("{tag}:1")).arg(500).ignore();
        }
    }
    p.query::<()>(c).unwrap();
    let _: redis::Value = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(format!("{tag}:s"))
        .arg("g")
        .arg("0")
        .query(c)
        .unwrap_or(redis::Value::Nil);
    let _: redis::Value = q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            &format!("{tag}:s"),
            ">",
        ],
    );
    let _: () = q(c, &["SELECT", "5"]);
    let _: () = q(c, &["SET", &format!("{tag}:db5"), "five"]);
    let _: () = q(c, &["SELECT", "0"]);
    let _: i64 = q(c, &["DEL", &format!("{tag}:0")]);
    // A transaction and a script: wrapped in MULTI/EXEC in the stream.
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg(format!("{tag}:tx"))
        .cmd("LPUSH")
        .arg(format!("{tag}:txl"))
        .arg("x")
        .query(c)
        .unwrap();
    let _: i64 = q(
        c,
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], 'a') return redis.call('INCR', KEYS[2])",
            "2",
            &format!("{tag}:e1"),
            &format!("{tag}:e2"),
        ],
    );
}

fn load_library(c: &mut redis::Connection) {
    let _: String = q(
        c,
        &[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=replib\nredis.register_function('rf', function(keys, args) return 7 end)",
        ],
    );
}

#[test]
fn redis_replica_of_a_ferrokv_master_over_mtls() {
    let pki = make_pki("replica");
    let master = ferrokv(&pki, &[]);
    let mut m = master.c();
    load_library(&mut m);
    fill(&mut m, "before", 3000);
    let replica = redis(&pki, &[]);
    replica.replicaof(&master);
    // Writes while the sync runs and after it.
    fill(&mut m, "during", 2000);
    caught_up(&master, &replica);
    fill(&mut m, "after", 2000);
    let acked: i64 = q(&mut m, &["WAIT", "1", "5000"]);
    assert_eq!(acked, 1);
    caught_up(&master, &replica);
    same_data(&master, &replica);
    // The replica's link is TLS with our client certificate, and is named in INFO.
    let info = master.info("replication");
    assert!(info.contains("connected_slaves:1\r"), "{info}");
    assert!(info.contains("state=online"), "{info}");
    let clients: String = q(&mut m, &["CLIENT", "LIST", "TYPE", "replica"]);
    assert!(clients.contains("flags=S"), "{clients}");
    assert_eq!(master.field("stats", "sync_full"), "1");

    // A killed link continues from the backlog: no second full sync.
    let killed: i64 = q(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, 1);
    fill(&mut m, "gap", 500);
    caught_up(&master, &replica);
    same_data(&master, &replica);
    assert_eq!(master.field("stats", "sync_full"), "1");
    assert_eq!(master.field("stats", "sync_partial_ok"), "1");
    assert!(master
        .srv
        .log()
        .contains("Partial resynchronization request from"));

    // Expiry comes from the master as DEL: the replica hides, then loses, the key.
    let _: () = q(&mut m, &["SET", "short", "v", "PX", "100"]);
    std::thread::sleep(Duration::from_millis(300));
    let gone: Option<String> = q(&mut m, &["GET", "short"]);
    assert_eq!(gone, None);
    caught_up(&master, &replica);
    let exists: i64 = q(&mut replica.c(), &["EXISTS", "short"]);
    assert_eq!(exists, 0);
}

#[test]
fn ferrokv_replica_of_a_redis_master_over_mtls() {
    let pki = make_pki("replica");
    let master = redis(&pki, &[]);
    let mut m = master.c();
    load_library(&mut m);
    fill(&mut m, "before", 3000);
    let replica = ferrokv(&pki, &[]);
    replica.replicaof(&master);
    fill(&mut m, "during", 2000);
    caught_up(&master, &replica);
    fill(&mut m, "after", 2000);
    let acked: i64 = q(&mut m, &["WAIT", "1", "5000"]);
    assert_eq!(acked, 1, "ferrokv acknowledges GETACK");
    caught_up(&master, &replica);
    same_data(&master, &replica);
    let log = replica.srv.log();
    assert!(
        log.contains("receiving streamed RDB from master with EOF"),
        "{log}"
    );
    let mut r = replica.c();
    // A read-only replica.
    let e = err(&mut r, &["SET", "x", "1"]);
    assert_eq!(e, "READONLY You can't write against a read only replica.");
    let role: redis::Value = q(&mut r, &["ROLE"]);
    let role = format!("{role:?}");
    assert!(
        role.contains("slave") && role.contains("connected"),
        "{role}"
    );
    let e = err(&mut r, &["WAIT", "1", "0"]);
    assert!(
        e.starts_with("ERR WAIT cannot be used with replica instances"),
        "{e}"
    );

    // The master's link killed from the replica's side: a partial resync.
    let killed: i64 = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    assert_eq!(killed, 1);
    fill(&mut m, "gap", 500);
    caught_up(&master, &replica);
    same_data(&master, &replica);
    assert_eq!(master.field("stats", "sync_partial_ok"), "1");
    assert!(replica
        .srv
        .log()
        .contains("Successful partial resynchronization with master."));

    // Expired keys: hidden on the replica before the master's DEL arrives.
    let _: () = q(&mut m, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let _: () = q(&mut m, &["SET", "short", "v", "PX", "100"]);
    caught_up(&master, &replica);
    std::thread::sleep(Duration::from_millis(300));
    let v: Option<String> = q(&mut r, &["GET", "short"]);
    assert_eq!(v, None, "expired on the replica too");
    let n: i64 = q(&mut r, &["DBSIZE"]);
    let nm: i64 = q(&mut m, &["DBSIZE"]);
    assert_eq!(n, nm, "but kept until the master deletes it");
    let _: () = q(&mut m, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);

    // Promotion: writable, a new ID with the old one kept as the second.
    let old_id = replica.field("replication", "master_replid");
    let _: String = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    let _: () = q(&mut r, &["SET", "x", "1"]);
    assert_eq!(replica.field("replication", "master_replid2"), old_id);
    assert_eq!(replica.field("replication", "role"), "master");
}

#[test]
fn chained_redis_to_ferrokv_to_redis() {
    let pki = make_pki("replica");
    let top = redis(&pki, &[]);
    let mut m = top.c();
    fill(&mut m, "before", 2000);
    let middle = ferrokv(&pki, &[]);
    middle.replicaof(&top);
    caught_up(&top, &middle);
    let bottom = redis(&pki, &[]);
    bottom.replicaof(&middle);
    fill(&mut m, "during", 2000);
    caught_up(&top, &middle);
    caught_up(&middle, &bottom);
    same_data(&top, &bottom);
    same_data(&top, &middle);
    // The stream is proxied as it came: the offsets agree all the way down.
    assert_eq!(
        top.field("replication", "master_repl_offset"),
        bottom.field("replication", "slave_repl_offset")
    );
}

#[test]
fn a_promoted_replica_lets_its_sibling_continue_partially() {
    let pki = make_pki("replica");
    let master = ferrokv(&pki, &[]);
    let mut m = master.c();
    fill(&mut m, "before", 1000);
    let (a, b) = (ferrokv(&pki, &[]), ferrokv(&pki, &[]));
    a.replicaof(&master);
    b.replicaof(&master);
    caught_up(&master, &a);
    caught_up(&master, &b);
    drop(master);
    let _: String = q(&mut a.c(), &["REPLICAOF", "NO", "ONE"]);
    b.replicaof(&a);
    fill(&mut a.c(), "after", 500);
    caught_up(&a, &b);
    same_data(&a, &b);
    assert_eq!(a.field("stats", "sync_partial_ok"), "1", "{}", a.srv.log());
    assert_eq!(a.field("stats", "sync_full"), "0");
}

#[test]
fn a_replica_whose_tls_fails_logs_why_and_retries() {
    let pki = make_pki("replica");
    let other = make_pki("replica");
    let master = ferrokv(&pki, &[]);
    // Trusts another CA: the master's certificate is refused.
    let replica = ferrokv(&other, &[]);
    replica.replicaof(&master);
    wait_until("two failed attempts", || {
        replica
            .srv
            .log()
            .matches("Error condition on socket for SYNC")
            .count()
            >= 2
    });
    assert_eq!(replica.field("replication", "master_link_status"), "down");
    // Still serving its own (stale) data meanwhile.
    let n: i64 = q(&mut replica.c(), &["DBSIZE"]);
    assert_eq!(n, 0);
}

/// A Redis Sentinel (Debian's redis-server in sentinel mode) over TLS, watching the
/// master at `master_tls` (quorum 2). Its plain port answers the test.
fn sentinel(pki: &Pki, master_tls: u16) -> Server {
    let (port, tls_port) = (free_port(), free_port());
    let dir = temp_dir("sentinel");
    let conf = dir.join("sentinel.conf");
    let text = format!(
        "port {port}\nbind 127.0.0.1\ntls-port {tls_port}\n\
         tls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
         tls-client-cert-file {}\ntls-client-key-file {}\n\
         tls-replication yes\ndir {}\nlogfile {}/sentinel.log\n\
         sentinel monitor mymaster 127.0.0.1 {master_tls} 2\n\
         sentinel down-after-milliseconds mymaster 3000\n\
         sentinel failover-timeout mymaster 10000\n",
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.path("ca.crt"),
        pki.path("client.crt"),
        pki.path("client.key"),
        dir.display(),
        dir.display(),
    );
    std::fs::write(&conf, text).unwrap();
    let child = std::process::Command::new(REDIS_SERVER)
        .arg(&conf)
        .arg("--sentinel")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn redis-server --sentinel");
    let s = Server::adopt(child, port, dir);
    wait_until("sentinel up", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    s
}

fn master_addr(s: &Server) -> u16 {
    let a: Vec<String> = q(
        &mut s.client(),
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
    );
    a[1].parse().unwrap()
}

fn wait_long(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sentinel_fails_over_ferrokv_over_tls_without_losing_acknowledged_writes() {
    let pki = make_pki("replica");
    let master = ferrokv(&pki, &[]);
    let replicas = [ferrokv(&pki, &[]), ferrokv(&pki, &[])];
    for r in &replicas {
        r.replicaof(&master);
        caught_up(&master, r);
    }
    let sentinels: Vec<Server> = (0..3).map(|_| sentinel(&pki, master.tls_port)).collect();
    // Discovery: the replicas from INFO, the other sentinels from __sentinel__:hello.
    wait_long("sentinels discover replicas and each other", 30, || {
        let r: Vec<redis::Value> = q(
            &mut sentinels[0].client(),
            &["SENTINEL", "REPLICAS", "mymaster"],
        );
        let s: Vec<redis::Value> = q(
            &mut sentinels[0].client(),
            &["SENTINEL", "SENTINELS", "mymaster"],
        );
        r.len() == 2 && s.len() == 2
    });
    // Writes acknowledged by a replica (WAIT 1) before the master dies.
    let mut m = master.c();
    let mut acked = Vec::new();
    for i in 0..200 {
        let k = format!("w{i}");
        let _: () = q(&mut m, &["SET", &k, &i.to_string()]);
        let n: i64 = q(&mut m, &["WAIT", "1", "1000"]);
        if n >= 1 {
            acked.push(k);
        }
    }
    assert_eq!(acked.len(), 200);
    let old_tls = master.tls_port;
    drop(master); // kill -9
    wait_long("sentinel promotes a replica", 60, || {
        master_addr(&sentinels[0]) != old_tls
    });
    let new_tls = master_addr(&sentinels[0]);
    let (promoted, other) = if replicas[0].tls_port == new_tls {
        (&replicas[0], &replicas[1])
    } else {
        (&replicas[1], &replicas[0])
    };
    assert_eq!(promoted.field("replication", "role"), "master");
    let mut p = promoted.c();
    for k in &acked {
        let v: Option<String> = q(&mut p, &["GET", k]);
        assert!(v.is_some(), "acknowledged write {k} lost");
    }
    // The other replica follows the new master, continuing its stream.
    let _: () = q(&mut p, &["SET", "after", "failover"]);
    wait_long("the other replica follows the new master", 30, || {
        other.field("replication", "master_port") == new_tls.to_string()
            && other.field("replication", "master_link_status") == "up"
    });
    caught_up(promoted, other);
    let v: Option<String> = q(&mut other.c(), &["GET", "after"]);
    assert_eq!(v.as_deref(), Some("failover"));
    assert!(
        other
            .srv
            .log()
            .contains("Successful partial resynchronization with master."),
        "{}",
        other.srv.log()
    );
    // The old master comes back (empty) and is turned into a replica of the new one.
    let port = free_port();
    let mut opts = tls_opts(&pki, old_tls);
    opts.extend(["--save", "", "--bind", "127.0.0.1"].map(String::from));
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let p_ = port.to_string();
    let back = Node {
        srv: Server::start_on(port, &["--port", &p_], &opts),
        tls_port: old_tls,
    };
    // (On a loaded machine the sentinels may have failed over once more meanwhile: the
    // old master must follow whichever replica they now call master.)
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(back.field("replication", "master_port") == master_addr(&sentinels[0]).to_string()
        && back.field("replication", "master_link_status") == "up")
    {
        if Instant::now() > deadline {
            let logs: Vec<String> = sentinels
                .iter()
                .map(|s| std::fs::read_to_string(s.dir.join("sentinel.log")).unwrap_or_default())
                .collect();
            panic!(
                "the old master was not converted to a replica\n{}\n{}\n{}",
                back.srv.log(),
                promoted.srv.log(),
                logs.join("\n----\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let now_master = if master_addr(&sentinels[0]) == new_tls {
        promoted
    } else {
        other
    };
    caught_up(now_master, &back);
    let v: Option<String> = q(&mut back.c(), &["GET", "w199"]);
    assert_eq!(v.as_deref(), Some("199"));
}

/// A plain-TCP pair of ferrokv servers (no TLS), master first.
fn plain_pair(master_extra: &[&str]) -> (Server, Server) {
    let mut args = vec!["--save", "", "--enable-debug-command", "yes"];
    args.extend_from_slice(master_extra);
    let m = Server::start(&args);
    let r = Server::start(&["--save", "", "--enable-debug-command", "yes"]);
    let _: String = q(
        &mut r.client(),
        &["REPLICAOF", "127.0.0.1", &m.port.to_string()],
    );
    (m, r)
}

fn plain_caught_up(m: &Server, r: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mi: String = q(&mut m.client(), &["INFO", "replication"]);
        let ri: String = q(&mut r.client(), &["INFO", "replication"]);
        let get = |info: &str, f: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("{f}:")))
                .unwrap_or_default()
                .to_string()
        };
        if get(&ri, "master_link_status") == "up"
            && get(&mi, "master_repl_offset") == get(&ri, "slave_repl_offset")
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not caught up:\n{mi}\n{ri}\n{}",
            r.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A synced plain pair whose stream has selected database 3 (a key written there), and a
/// connection to the master in database 3.
fn synced_in_db3() -> (Server, Server, redis::Connection) {
    let (m, r) = plain_pair(&[]);
    plain_caught_up(&m, &r);
    let mut mc = m.client();
    let _: () = q(&mut mc, &["SELECT", "3"]);
    let _: () = q(&mut mc, &["SET", "a", "1"]);
    plain_caught_up(&m, &r);
    (m, r, mc)
}

#[test]
fn a_partial_resync_continues_in_the_database_the_stream_had_selected() {
    let (m, r, mut mc) = synced_in_db3();
    let killed: i64 = q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, 1);
    // The stream goes on in database 3 without a new SELECT.
    let _: () = q(&mut mc, &["SET", "b", "2"]);
    plain_caught_up(&m, &r);
    let mut rc = r.client();
    let _: () = q(&mut rc, &["SELECT", "3"]);
    let b: Option<String> = q(&mut rc, &["GET", "b"]);
    assert_eq!(b.as_deref(), Some("2"), "{}", r.log());
    let _: () = q(&mut rc, &["SELECT", "0"]);
    let n: i64 = q(&mut rc, &["DBSIZE"]);
    assert_eq!(n, 0);
    let mi: String = q(&mut mc, &["INFO", "stats"]);
    assert!(mi.contains("sync_partial_ok:1\r"), "{mi}");
}

#[test]
fn diskless_sync_feeds_several_replicas_from_one_child() {
    let m = Server::start(&[
        "--save",
        "",
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "1",
        "--rdb-key-save-delay",
        "50",
    ]);
    let mut mc = m.client();
    let _: String = q(&mut mc, &["DEBUG", "POPULATE", "20000", "k", "100"]);
    let a = Server::start(&["--save", ""]);
    let b = start_redis_server(None);
    for s in [&a, &b] {
        let _: String = q(
            &mut s.client(),
            &["REPLICAOF", "127.0.0.1", &m.port.to_string()],
        );
    }
    // Writes before and while the child runs (1 s of delay, then 20000 keys at 50 µs)
    // end up after the snapshot: held for each replica until its first ACK.
    let t0 = std::time::Instant::now();
    let mut i = 0;
    while t0.elapsed() < Duration::from_millis(1800) {
        let _: () = q(&mut mc, &["SET", &format!("w{i}"), "x"]);
        i += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    plain_caught_up(&m, &a);
    plain_caught_up(&m, &b);
    for s in [&a, &b] {
        let n: i64 = q(&mut s.client(), &["DBSIZE"]);
        assert_eq!(n, 20000 + i);
    }
    let log = m.log();
    // The held stream written with the first ACK is not a reply to it.
    assert!(!log.contains("Replica generated a reply"), "{log}");
    assert_eq!(
        log.matches("Starting BGSAVE for SYNC with target: replicas sockets")
            .count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("done reading from pipe, 2 replicas still up"),
        "{log}"
    );
}

#[test]
fn failover_hands_the_master_role_to_a_replica() {
    let (m, r) = plain_pair(&[]);
    let mut mc = m.client();
    for i in 0..500 {
        let _: () = q(&mut mc, &["SET", &format!("k{i}"), "v"]);
    }
    plain_caught_up(&m, &r);
    let e = err(&mut mc, &["FAILOVER", "TO", "127.0.0.1", "1"]);
    assert_eq!(e, "ERR FAILOVER target HOST and PORT is not a replica.");
    let e = err(&mut mc, &["FAILOVER", "FORCE"]);
    assert!(
        e.starts_with("ERR FAILOVER with force option requires"),
        "{e}"
    );
    let _: () = q(
        &mut mc,
        &["FAILOVER", "TO", "127.0.0.1", &r.port.to_string()],
    );
    wait_until("failover done", || {
        let i: String = q(&mut m.client(), &["INFO", "replication"]);
        i.contains("master_failover_state:no-failover") && i.contains("role:slave")
    });
    let ri: String = q(&mut r.client(), &["INFO", "replication"]);
    assert!(ri.contains("role:master\r"), "{ri}");
    let _: () = q(&mut r.client(), &["SET", "after", "1"]);
    plain_caught_up(&r, &m);
    let v: Option<String> = q(&mut m.client(), &["GET", "after"]);
    assert_eq!(v.as_deref(), Some("1"));
    let st: String = q(&mut r.client(), &["INFO", "stats"]);
    assert!(
        st.contains("sync_partial_ok:1\r"),
        "the old master continued: {st}"
    );
}

#[test]
fn a_master_restarted_from_its_snapshot_lets_replicas_continue() {
    let dir = temp_dir("restart");
    let port = free_port();
    let p = port.to_string();
    let d = dir.display().to_string();
    let start = || Server::start_on(port, &["--port", &p], &["--dir", &d, "--save", "3600 1"]);
    let m = start();
    let r = Server::start(&["--save", ""]);
    let _: String = q(&mut r.client(), &["REPLICAOF", "127.0.0.1", &p]);
    for i in 0..300 {
        let _: () = q(&mut m.client(), &["SET", &format!("k{i}"), "v"]);
    }
    plain_caught_up(&m, &r);
    let offset: String = {
        let i: String = q(&mut m.client(), &["INFO", "replication"]);
        i.lines()
            .find_map(|l| l.strip_prefix("master_repl_offset:"))
            .unwrap()
            .to_string()
    };
    let _ = redis::cmd("SHUTDOWN").query::<()>(&mut m.client());
    let mut m = m;
    m.wait_exit(Duration::from_secs(10));
    let m2 = start();
    plain_caught_up(&m2, &r);
    let i: String = q(&mut m2.client(), &["INFO", "replication"]);
    assert!(i.contains(&format!("master_repl_offset:{offset}\r")), "{i}");
    let st: String = q(&mut m2.client(), &["INFO", "stats"]);
    assert!(
        st.contains("sync_partial_ok:1\r") && st.contains("sync_full:0\r"),
        "{st}"
    );
}

/// A fake master on a plain socket: answers the handshake, then sends `payload`.
fn fake_master(payload: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().take(3) {
            let Ok(mut s) = s else { return };
            let mut buf = vec![0u8; 4096];
            let mut seen = Vec::new();
            // PING, the REPLCONFs, then PSYNC.
            while !String::from_utf8_lossy(&seen).contains("PSYNC") {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                for _ in 0..text.matches("PING").count() {
                    let _ = s.write_all(b"+PONG\r\n");
                }
                for _ in 0..text.matches("REPLCONF").count() {
                    let _ = s.write_all(b"+OK\r\n");
                }
                seen.extend_from_slice(&buf[..n]);
            }
            let _ = s.write_all(b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n");
            let _ = s.write_all(payload);
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    port
}

#[test]
fn garbage_from_a_master_is_logged_and_the_old_data_kept() {
    for (payload, why) in [
        (
            &b"$12\r\nREDIS0009xyz"[..],
            "Failed trying to load the MASTER synchronization DB",
        ),
        (&b"hello\r\n"[..], "Bad protocol from MASTER"),
        (
            &b"-ERR nope\r\n"[..],
            "MASTER aborted replication with an error",
        ),
    ] {
        let r = Server::start(&["--save", ""]);
        let _: () = q(&mut r.client(), &["SET", "mine", "1"]);
        let port = fake_master(payload);
        let _: String = q(
            &mut r.client(),
            &["REPLICAOF", "127.0.0.1", &port.to_string()],
        );
        wait_until(why, || r.log().contains(why));
        let v: Option<String> = q(&mut r.client(), &["GET", "mine"]);
        if why.starts_with("Failed trying to load") {
            // The dataset was replaced by what the load left (as Redis's disk load).
            let _ = v;
        } else {
            assert_eq!(v.as_deref(), Some("1"), "{why}");
        }
        let pong: String = q(&mut r.client(), &["PING"]);
        assert_eq!(pong, "PONG");
    }
}

#[test]
fn a_replica_authenticates_by_its_certificate_cn() {
    let pki = make_pki("replica");
    let master = ferrokv(
        &pki,
        &["--tls-auth-clients-user", "CN", "--requirepass", "secret"],
    );
    let mut m = master.c();
    let _: () = q(&mut m, &["AUTH", "secret"]);
    let _: String = q(
        &mut m,
        &[
            "ACL",
            "SETUSER",
            "replica",
            "on",
            "nopass",
            "+psync",
            "+replconf",
            "+ping",
        ],
    );
    let _: () = q(&mut m, &["SET", "k", "v"]);
    // No masterauth/masteruser: the client certificate's CN names the ACL user.
    let replica = ferrokv(&pki, &[]);
    replica.replicaof(&master);
    wait_long("the replica syncs as user 'replica'", 30, || {
        replica.field("replication", "master_link_status") == "up"
    });
    let v: Option<String> = q(&mut replica.c(), &["GET", "k"]);
    assert_eq!(v.as_deref(), Some("v"));
    let list: String = q(&mut m, &["CLIENT", "LIST", "TYPE", "replica"]);
    assert!(list.contains("user=replica"), "{list}");
}

#[test]
fn a_writable_replica_expires_its_own_keys_and_writes_over_expired_ones() {
    let (m, r) = plain_pair(&[]);
    plain_caught_up(&m, &r);
    let mut rc = r.client();
    let _: () = q(&mut rc, &["CONFIG", "SET", "replica-read-only", "no"]);
    let _: () = q(&mut rc, &["SET", "mine", "1", "PX", "200"]);
    let _: () = q(&mut m.client(), &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let _: () = q(&mut m.client(), &["SET", "theirs", "5", "PX", "50"]);
    plain_caught_up(&m, &r);
    std::thread::sleep(Duration::from_millis(1500));
    // Its own key is gone (no DEL would ever come from the master)...
    let n: i64 = q(&mut rc, &["EXISTS", "mine"]);
    assert_eq!(n, 0);
    let size: i64 = q(&mut rc, &["DBSIZE"]);
    assert_eq!(size, 1, "the master's expired key stays until its DEL");
    // ...and a write over the master's expired key starts from nothing.
    let v: i64 = q(&mut rc, &["INCR", "theirs"]);
    assert_eq!(v, 1);
    let ttl: i64 = q(&mut rc, &["TTL", "theirs"]);
    assert_eq!(ttl, -1);
}

#[test]
fn min_replicas_to_write_and_stale_data_refusals() {
    let m = Server::start(&[
        "--save",
        "",
        "--min-replicas-to-write",
        "1",
        "--min-replicas-max-lag",
        "10",
    ]);
    let mut mc = m.client();
    let e = err(&mut mc, &["SET", "k", "v"]);
    assert_eq!(e, "NOREPLICAS Not enough good replicas to write.");
    let r = Server::start(&["--save", "", "--replica-serve-stale-data", "no"]);
    let mut rc = r.client();
    // A replica whose master is unreachable: only STALE commands are served.
    let _: String = q(
        &mut rc,
        &["REPLICAOF", "127.0.0.1", &free_port().to_string()],
    );
    let e = err(&mut rc, &["GET", "k"]);
    assert_eq!(
        e,
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    );
    let info: String = q(&mut rc, &["INFO", "replication"]);
    assert!(info.contains("master_link_status:down"), "{info}");
    let _: String = q(&mut rc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    plain_caught_up(&m, &r);
    // One replica acknowledging within the lag: writes are taken.
    wait_until("a good replica", || {
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut m.client())
            .is_ok()
    });
    plain_caught_up(&m, &r);
    let v: Option<String> = q(&mut rc, &["GET", "k"]);
    assert_eq!(v.as_deref(), Some("v"));
}

/// WAIT returns as soon as the replica's acknowledgement is in, not at the next cron
/// tick: with hz 1 (a tick a second) twenty SET + WAIT 1 rounds take far less than the
/// twenty ticks they took when the released client was only written at the next loop
/// wake-up.
#[test]
fn wait_is_released_when_the_ack_arrives_not_at_the_next_tick() {
    let master = Server::start(&["--hz", "1"]);
    let replica = Server::start(&["--hz", "1"]);
    let mut r = replica.client();
    let _: String = q(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    let mut m = master.client();
    // The sync itself is driven by the (slow) cron here.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !q::<String>(&mut m, &["INFO", "replication"]).contains("state=online") {
        assert!(Instant::now() < deadline, "the replica never came online");
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Instant::now();
    for i in 0..20 {
        let _: String = q(&mut m, &["SET", "k", &i.to_string()]);
        let n: i64 = q(&mut m, &["WAIT", "1", "5000"]);
        assert_eq!(n, 1);
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "20 WAITs took {:?}",
        t.elapsed()
    );
}

/// repl-diskless-load swapdb and on-empty-db, a ferrokv replica of a redis-server master
/// over mTLS: the snapshot is parsed as it streams in (no file), the functions come with
/// it, and the data equals the master's.
#[test]
fn diskless_load_from_a_redis_master_over_mtls() {
    let pki = make_pki("replica");
    let master = redis(&pki, &["--repl-diskless-sync", "yes"]);
    let mut m = master.c();
    load_library(&mut m);
    fill(&mut m, "before", 3000);
    for mode in ["swapdb", "on-empty-db"] {
        let replica = ferrokv(&pki, &["--repl-diskless-load", mode]);
        replica.replicaof(&master);
        fill(&mut m, mode, 1000);
        caught_up(&master, &replica);
        same_data(&master, &replica);
        let log = replica.srv.log();
        assert!(
            log.contains("receiving streamed RDB from master with EOF to parser"),
            "{mode}: {log}"
        );
        assert!(!log.contains("temp-"), "{mode}: no temporary file");
        let libs: redis::Value = q(&mut replica.c(), &["FUNCTION", "LIST"]);
        assert!(format!("{libs:?}").contains("replib"), "{libs:?}");
    }
}

/// A plain master that syncs diskless at once, uncompressed (so a slowed child streams
/// key by key), with `extra` options.
fn diskless_master(extra: &[&str]) -> Server {
    let mut args = vec![
        "--save",
        "",
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--rdbcompression",
        "no",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A plain master and a swapdb replica whose next full sync is slowed down by
/// rdb-key-save-delay: the replica is caught in the middle of loading.
fn slow_swapdb_pair(same_history: bool) -> (Server, Server) {
    let m = diskless_master(&[]);
    let r = Server::start(&[
        "--save",
        "",
        "--enable-debug-command",
        "yes",
        "--repl-diskless-load",
        "swapdb",
        "--replica-read-only",
        "no",
    ]);
    let mut mc = m.client();
    let mut rc = r.client();
    let port = m.port.to_string();
    if same_history {
        let _: String = q(&mut rc, &["REPLICAOF", "127.0.0.1", &port]);
        plain_caught_up(&m, &r);
    }
    let _: () = q(&mut rc, &["DEBUG", "POPULATE", "200", "replica", "10"]);
    let _: () = q(&mut rc, &["SET", "mykey", "myvalue"]);
    let _: () = q(&mut mc, &["DEBUG", "POPULATE", "1000", "master", "1000"]);
    let _: () = q(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "5000"]);
    if same_history {
        // The link dropped and the backlog outrun: a full sync of the same history.
        let _: () = q(&mut mc, &["CONFIG", "SET", "repl-backlog-size", "16384"]);
        let _: i64 = q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]);
        for i in 0..10 {
            let _: () = q(&mut mc, &["SET", &format!("fill{i}"), &"A".repeat(16384)]);
        }
    } else {
        let _: String = q(&mut rc, &["REPLICAOF", "127.0.0.1", &port]);
    }
    (m, r)
}

fn info_field(s: &Server, name: &str) -> String {
    let info: String = q(&mut s.client(), &["INFO", "all"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_default()
        .to_string()
}

/// Async loading (swapdb, the same history): the old data, functions included, is
/// served while the snapshot streams in, the commands that would disturb the load are
/// refused with -LOADING, a transfer that fails keeps the old data, and a complete one
/// replaces it.
#[test]
fn async_loading_serves_the_old_data_and_keeps_it_when_the_transfer_fails() {
    let (m, r) = slow_swapdb_pair(true);
    let mut rc = r.client();
    let _: String = q(
        &mut rc,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=t\nredis.register_function{function_name='t', callback=function() return 'old' end, flags={'no-writes'}}",
        ],
    );
    wait_until("async loading", || info_field(&r, "async_loading") == "1");
    assert_eq!(info_field(&r, "loading"), "0");
    let v: Option<String> = q(&mut rc, &["GET", "mykey"]);
    assert_eq!(v.as_deref(), Some("myvalue"));
    let f: String = q(&mut rc, &["FCALL", "t", "0"]);
    assert_eq!(f, "old");
    let before: i64 = q(&mut rc, &["DBSIZE"]);
    let loading = "LOADING Redis is loading the dataset in memory";
    assert_eq!(
        err(&mut rc, &["CONFIG", "SET", "appendonly", "no"]),
        loading
    );
    assert_eq!(err(&mut rc, &["REPLICAOF", "NO", "ONE"]), loading);
    assert_eq!(err(&mut rc, &["BGSAVE"]), loading);
    wait_until("bytes parsed", || {
        info_field(&r, "loading_loaded_bytes")
            .parse::<u64>()
            .unwrap_or(0)
            > 0
    });
    assert_eq!(info_field(&r, "async_loading"), "1", "still loading");

    // The transfer cut: the old data stays.
    let mut mc = m.client();
    let _: () = q(&mut mc, &["CONFIG", "SET", "repl-diskless-sync-delay", "5"]);
    let _: i64 = q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]);
    wait_until("load aborted", || info_field(&r, "async_loading") == "0");
    let v: Option<String> = q(&mut rc, &["GET", "mykey"]);
    assert_eq!(v.as_deref(), Some("myvalue"), "{}", r.log());
    let after: i64 = q(&mut rc, &["DBSIZE"]);
    assert_eq!(after, before);
    let f: String = q(&mut rc, &["FCALL", "t", "0"]);
    assert_eq!(f, "old");
    let log = r.log();
    assert!(log.contains("Unexpected EOF reading RDB file"), "{log}");
    assert!(
        log.contains("Discarding temporary DB in background"),
        "{log}"
    );

    // A complete transfer replaces everything.
    let _: () = q(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    let _: () = q(&mut mc, &["CONFIG", "SET", "repl-diskless-sync-delay", "0"]);
    plain_caught_up(&m, &r);
    let v: Option<String> = q(&mut rc, &["GET", "mykey"]);
    assert_eq!(v, None);
    let (nm, nr): (i64, i64) = (q(&mut mc, &["DBSIZE"]), q(&mut rc, &["DBSIZE"]));
    assert_eq!(nm, nr);
    let e = err(&mut rc, &["FCALL", "t", "0"]);
    assert!(e.starts_with("ERR Function not found"), "{e}");
}

/// swapdb from another history: clients get -LOADING while it loads (the old data is no
/// earlier point of the new one), and a failed transfer gives the old data back.
#[test]
fn swapdb_from_another_history_loads_blocking_and_restores_on_failure() {
    let (m, r) = slow_swapdb_pair(false);
    let mut rc = r.client();
    wait_until("loading", || info_field(&r, "loading") == "1");
    assert_eq!(info_field(&r, "async_loading"), "0");
    assert_eq!(
        err(&mut rc, &["GET", "mykey"]),
        "LOADING Redis is loading the dataset in memory"
    );
    let mut mc = m.client();
    let _: () = q(&mut mc, &["CONFIG", "SET", "repl-diskless-sync-delay", "5"]);
    let _: i64 = q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]);
    wait_until("load aborted", || info_field(&r, "loading") == "0");
    let v: Option<String> = q(&mut rc, &["GET", "mykey"]);
    assert_eq!(v.as_deref(), Some("myvalue"));
    let n: i64 = q(&mut rc, &["DBSIZE"]);
    assert_eq!(n, 201);
}

/// A replica slow to load (key-load-delay) reads its master's socket only as fast as it
/// parses, so the master's rdb pipe waits for it (rather than the replica buffering the
/// whole stream).
#[test]
fn a_slow_diskless_load_reads_no_faster_than_it_parses() {
    let m = diskless_master(&[]);
    let mut mc = m.client();
    // 40 MB of values: more than the socket buffers hold.
    let _: () = q(&mut mc, &["DEBUG", "POPULATE", "4000", "k", "10000"]);
    let r = Server::start(&[
        "--save",
        "",
        "--repl-diskless-load",
        "swapdb",
        "--key-load-delay",
        "1000",
    ]);
    let _: String = q(
        &mut r.client(),
        &["REPLICAOF", "127.0.0.1", &m.port.to_string()],
    );
    wait_until("loading", || {
        info_field(&r, "loading_loaded_bytes")
            .parse::<u64>()
            .unwrap_or(0)
            > 100_000
    });
    std::thread::sleep(Duration::from_millis(500));
    // 1 ms a key of 10 kB: about 10 MB/s parsed. The master is still streaming (a
    // replica reading all it is sent takes the 40 MB in a few milliseconds).
    assert_eq!(info_field(&m, "rdb_bgsave_in_progress"), "1");
    let loaded: u64 = info_field(&r, "loading_loaded_bytes").parse().unwrap();
    assert!(loaded < 30 << 20, "{loaded}");
    let _: () = q(&mut r.client(), &["CONFIG", "SET", "key-load-delay", "0"]);
    plain_caught_up(&m, &r);
    let (a, b): (i64, i64) = (q(&mut mc, &["DBSIZE"]), q(&mut r.client(), &["DBSIZE"]));
    assert_eq!(a, b);
}

/// A master whose diskless child is killed half way (FLUSHALL kills it, as Redis does)
/// tells its replica the transfer failed, rather than leaving it waiting for an end mark
/// that never comes: the replica is dropped, asks again, and syncs.
#[test]
fn a_killed_diskless_child_makes_its_replicas_sync_again() {
    let m = diskless_master(&["--rdb-key-save-delay", "2000"]);
    let mut mc = m.client();
    let _: () = q(&mut mc, &["DEBUG", "POPULATE", "2000", "k", "1000"]);
    let r = Server::start(&["--save", "", "--repl-diskless-load", "swapdb"]);
    let _: String = q(
        &mut r.client(),
        &["REPLICAOF", "127.0.0.1", &m.port.to_string()],
    );
    wait_until("the replica loads", || {
        r.log()
            .contains("MASTER <-> REPLICA sync: Loading DB in memory")
    });
    let _: () = q(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    let _: () = q(&mut mc, &["FLUSHALL"]);
    let _: () = q(&mut mc, &["SET", "after", "1"]);
    plain_caught_up(&m, &r);
    let v: Option<String> = q(&mut r.client(), &["GET", "after"]);
    assert_eq!(v.as_deref(), Some("1"));
    let log = m.log();
    assert!(log.contains("ended without a whole snapshot"), "{log}");
    assert_eq!(
        log.matches("Background RDB transfer started by pid")
            .count(),
        2
    );
}

/// A disk BGSAVE started only for replicas (no save points) stops when the last
/// replica waiting for it leaves; and a forked child whose parent was killed leaves too.
#[test]
fn a_snapshot_nobody_waits_for_is_stopped_and_an_orphan_child_leaves() {
    let mut m = Server::start(&[
        "--save",
        "",
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync",
        "no",
        "--rdb-key-save-delay",
        "1000000",
    ]);
    let mut mc = m.client();
    let _: () = q(&mut mc, &["DEBUG", "POPULATE", "10"]);
    let r = Server::start(&["--save", ""]);
    let port = m.port.to_string();
    let _: String = q(&mut r.client(), &["REPLICAOF", "127.0.0.1", &port]);
    wait_until("the child", || {
        info_field(&m, "rdb_bgsave_in_progress") == "1"
    });
    let _: String = q(&mut r.client(), &["REPLICAOF", "NO", "ONE"]);
    wait_until("the child stopped", || {
        info_field(&m, "rdb_bgsave_in_progress") == "0"
    });

    // A BGSAVE's child outlives a kill -9 of its server only until its next report.
    let _: String = q(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    let _: () = q(&mut mc, &["DEBUG", "POPULATE", "10000"]);
    let _: String = q(&mut mc, &["BGSAVE"]);
    let child = m.children()[0];
    // SAFETY: signalling the test's own server process.
    unsafe { libc::kill(m.pid() as i32, libc::SIGKILL) };
    let _ = m.wait_exit(Duration::from_secs(5));
    wait_until("the orphan leaves", || {
        !std::path::Path::new(&format!("/proc/{child}")).exists()
            || std::fs::read_to_string(format!("/proc/{child}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
}

/// A replica's link carries acknowledgements only: a command that makes a reply on it
/// (a keyspace command is refused, which is a reply too) drops it, logged as Redis does;
/// PSYNC with an offset that is not a number is an error.
#[test]
fn a_replica_link_that_makes_replies_is_dropped() {
    use std::io::{Read, Write};
    let m = Server::start(&["--save", ""]);
    let mut s = m.raw();
    s.write_all(&resp_cmd(&["PSYNC", "?", "-1"])).unwrap();
    read_until(&mut s, "FULLRESYNC");
    s.write_all(&resp_cmd(&["GET", "foo"])).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 65536];
    let mut got = Vec::new();
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        !String::from_utf8_lossy(&got).contains("Replica can't"),
        "no reply reaches the replica"
    );
    let log = m.log();
    assert!(
        log.contains("Replica generated a reply to command 'get', disconnecting it"),
        "{log}"
    );
    assert!(log.contains("This master is sending an error to its replica: 'ERR Replica can't interact with the keyspace'"), "{log}");
    let e = err(&mut m.client(), &["PSYNC", "replid", "offset"]);
    assert_eq!(e, "ERR value is not an integer or out of range");
    assert!(m
        .log()
        .contains("asks for synchronization but with a wrong offset"));
}

/// DEBUG POPULATE adds keys to this server only (Redis does not propagate it).
#[test]
fn debug_populate_is_not_replicated() {
    let (m, r) = plain_pair(&[]);
    plain_caught_up(&m, &r);
    let _: () = q(&mut m.client(), &["DEBUG", "POPULATE", "100"]);
    let _: () = q(&mut m.client(), &["SET", "x", "1"]);
    plain_caught_up(&m, &r);
    let n: i64 = q(&mut r.client(), &["DBSIZE"]);
    assert_eq!(n, 1);
}

/// Scripts on a replica as Redis judges them: a queued script that declares writes fails
/// its EXEC on a read-only replica (EXECABORT READONLY), and with
/// replica-serve-stale-data no a script without a shebang does not run at all on a
/// stale replica (plain MASTERDOWN, no script error).
#[test]
fn scripts_on_a_replica_are_judged_by_their_flags() {
    let (m, r) = plain_pair(&[]);
    plain_caught_up(&m, &r);
    let mut rc = r.client();
    let _: String = q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    let mut tx = r.client();
    let _: () = q(&mut tx, &["MULTI"]);
    let queued: String = q(&mut tx, &["EVAL", "#!lua\nreturn 1", "0"]);
    assert_eq!(queued, "QUEUED");
    let _: String = q(&mut rc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    let e = err(&mut tx, &["EXEC"]);
    assert!(
        e.starts_with("EXECABORT Transaction discarded because of: READONLY"),
        "{e}"
    );

    let _: () = q(
        &mut rc,
        &["CONFIG", "SET", "replica-serve-stale-data", "no"],
    );
    let _: String = q(
        &mut rc,
        &["REPLICAOF", "127.0.0.1", &free_port().to_string()],
    );
    let e = err(&mut rc, &["EVAL", "return redis.call('get','x')", "1", "x"]);
    assert_eq!(
        e,
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    );
    // An allow-stale script runs, but its calls of commands that are not allowed on a
    // stale replica fail.
    let e = err(
        &mut rc,
        &[
            "EVAL",
            "#!lua flags=allow-stale,no-writes\nreturn redis.call('get','x')",
            "1",
            "x",
        ],
    );
    assert!(
        e.starts_with("ERR Can not execute the command on a stale replica"),
        "{e}"
    );
    let v: String = q(
        &mut rc,
        &[
            "EVAL",
            "#!lua flags=allow-stale,no-writes\nreturn redis.call('echo','ok')",
            "0",
        ],
    );
    assert_eq!(v, "ok");
}

/// A replica under CLIENT PAUSE WRITE reads its master's stream but applies none of its
/// writes (its applied offset stands, the read offset moves), and applies them at
/// UNPAUSE, as Redis postpones its master client.
#[test]
fn a_paused_replica_reads_but_does_not_apply_the_stream() {
    let (m, r) = plain_pair(&["--repl-ping-replica-period", "3600"]);
    let mut mc = m.client();
    plain_caught_up(&m, &r);
    // (The stream's first write brings its SELECT, which a pause would not hold.)
    let _: () = q(&mut mc, &["SET", "foo", "bar"]);
    plain_caught_up(&m, &r);
    let applied = info_field(&r, "slave_repl_offset");
    let mut rc = r.client();
    let _: () = q(&mut rc, &["CLIENT", "PAUSE", "100000", "WRITE"]);
    let _: () = q(&mut mc, &["SET", "foo2", "bar2"]);
    let target = info_field(&m, "master_repl_offset");
    wait_until("the replica read the write", || {
        info_field(&r, "slave_read_repl_offset") == target
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(info_field(&r, "slave_repl_offset"), applied);
    let v: Option<String> = q(&mut rc, &["GET", "foo2"]);
    assert_eq!(v, None, "not applied during the pause");
    let _: () = q(&mut rc, &["CLIENT", "UNPAUSE"]);
    plain_caught_up(&m, &r);
    let v: Option<String> = q(&mut rc, &["GET", "foo2"]);
    assert_eq!(v.as_deref(), Some("bar2"));
}

/// A replica pointed at another master and back continues the stream partially in the
/// database the stream had selected (the cached master keeps it): the master sends no
/// new SELECT, so a replica that forgot it wrote the rest into database 0.
#[test]
fn a_replica_that_switches_masters_and_back_keeps_the_selected_database() {
    let (m, r, mut mc) = synced_in_db3();
    let mut rc = r.client();
    let nowhere = free_port().to_string();
    let _: String = q(&mut rc, &["REPLICAOF", "127.0.0.1", &nowhere]);
    let _: () = q(&mut mc, &["SET", "b", "2"]);
    let _: String = q(&mut rc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    plain_caught_up(&m, &r);
    assert_eq!(info_field(&m, "sync_partial_ok"), "1", "{}", r.log());
    let _: () = q(&mut rc, &["SELECT", "3"]);
    let v: Option<String> = q(&mut rc, &["GET", "b"]);
    assert_eq!(v.as_deref(), Some("2"));
    let _: () = q(&mut rc, &["SELECT", "0"]);
    let n: i64 = q(&mut rc, &["DBSIZE"]);
    assert_eq!(n, 0, "nothing written into database 0");
}

fn num(s: &Server, name: &str) -> i64 {
    info_field(s, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name}"))
}

fn fill_sized(c: &mut redis::Connection, n: usize, size: usize) {
    let v = "A".repeat(size);
    let mut p = redis::pipe();
    for i in 0..n {
        p.cmd("SET").arg(format!("k{i}")).arg(&v).ignore();
    }
    let _: () = p.query(c).unwrap();
}

/// Redis 7's shared replication buffer: the stream is held once for the backlog and
/// every replica. A replica waiting for its snapshot keeps the stream since its fork, so
/// the backlog outgrows repl-backlog-size meanwhile (one copy, not one per replica), and
/// another replica that loses its link in that time continues partially from it with
/// equal data. When the waiting replica goes, the buffer shrinks back. Replicas' traffic
/// is counted in total_net_repl_output_bytes.
#[test]
fn replicas_share_one_replication_buffer() {
    let (m, a) = plain_pair(&[
        "--repl-backlog-size",
        "16384",
        "--repl-diskless-sync",
        "no",
        "--client-output-buffer-limit",
        "replica 0 0 0",
    ]);
    plain_caught_up(&m, &a);
    let mut mc = m.client();
    fill_sized(&mut mc, 100, 16);
    plain_caught_up(&m, &a);
    // A second replica whose snapshot takes long: it waits, holding its place.
    let _: () = q(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "1000000"]);
    let b = Server::start(&["--save", ""]);
    let _: String = q(
        &mut b.client(),
        &["REPLICAOF", "127.0.0.1", &m.port.to_string()],
    );
    wait_until("a BGSAVE for the second replica", || {
        num(&m, "rdb_bgsave_in_progress") == 1
    });
    let before = num(&m, "mem_total_replication_buffers");
    fill_sized(&mut mc, 200, 10_000);
    plain_caught_up(&m, &a);
    let hist = num(&m, "repl_backlog_histlen");
    let bufs = num(&m, "mem_total_replication_buffers");
    assert!(hist > 2_000_000, "the backlog outgrew its size: {hist}");
    assert!(
        bufs - before < hist + hist / 5,
        "one copy of the stream for two replicas: {bufs} for {hist} bytes"
    );
    assert!(num(&m, "total_net_repl_output_bytes") > 2_000_000);
    assert!(num(&m, "total_net_output_bytes") < 1_000_000);
    // The first replica loses its link while the buffer holds more than the backlog's
    // size: it continues from the buffer.
    let mut ac = a.client();
    let nowhere = free_port().to_string();
    let _: String = q(&mut ac, &["REPLICAOF", "127.0.0.1", &nowhere]);
    fill_sized(&mut mc, 100, 10_000);
    let _: () = q(&mut mc, &["DEL", "k7"]);
    let _: String = q(&mut ac, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    plain_caught_up(&m, &a);
    assert_eq!(num(&m, "sync_partial_ok"), 1, "{}", m.log());
    let dm: String = q(&mut mc, &["DEBUG", "DIGEST"]);
    let da: String = q(&mut ac, &["DEBUG", "DIGEST"]);
    assert_eq!(dm, da);
    // The waiting replica goes: the buffer goes back to about the backlog's size.
    drop(b);
    wait_until("the buffer shrinks", || {
        num(&m, "mem_total_replication_buffers") < 200_000
            && num(&m, "repl_backlog_histlen") < 100_000
    });
}

/// A replica whose place in the shared buffer falls too far behind (it stopped reading)
/// is dropped at client-output-buffer-limit replica, and the buffer it held is freed.
#[test]
fn a_replica_too_far_behind_is_dropped_and_its_buffer_freed() {
    let (m, a) = plain_pair(&[
        "--repl-backlog-size",
        "16384",
        "--client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    plain_caught_up(&m, &a);
    let pid: i64 = num(&a, "process_id");
    // SAFETY: stopping and resuming our own child process.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let mut mc = m.client();
    fill_sized(&mut mc, 400, 10_000);
    wait_until("the stopped replica dropped", || {
        num(&m, "connected_slaves") == 0
    });
    assert_eq!(num(&m, "client_output_buffer_limit_disconnections"), 1);
    wait_until("its buffer freed", || {
        num(&m, "mem_total_replication_buffers") < 100_000
    });
    // SAFETY: resuming the child process stopped above.
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    plain_caught_up(&m, &a);
}

/// bind-source-addr: a replica's link to its master leaves from that address (the
/// master sees the replica connect from it; 127.0.0.2 is not "local" to protected mode,
/// as in Redis).
#[test]
fn a_replica_connects_from_bind_source_addr() {
    let m = Server::start(&["--save", "", "--protected-mode", "no"]);
    let r = Server::start(&["--save", "", "--bind-source-addr", "127.0.0.2"]);
    let _: String = q(
        &mut r.client(),
        &["REPLICAOF", "127.0.0.1", &m.port.to_string()],
    );
    plain_caught_up(&m, &r);
    let list: String = q(&mut m.client(), &["CLIENT", "LIST", "TYPE", "replica"]);
    assert!(list.contains("addr=127.0.0.2:"), "{list}");
}
