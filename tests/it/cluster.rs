//! Redis Cluster: ferrokv nodes and redis-server 7.0 nodes in one cluster over a TLS bus
//! (`tls-cluster yes`, mutual TLS), built and operated by `redis-cli --cluster` (create,
//! reshard, rebalance, add-node, del-node, check); client redirections; failure
//! detection and failover (kill -9, SIGSTOP past node-timeout, CLUSTER FAILOVER); a
//! failed master rejoining as a replica; nodes.conf; and bad input on the bus port.
use crate::common::*;
use crate::tls::{make_pki, Pki};
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

/// A cluster node: a plain port for the test's own connections, a TLS port for clients,
/// replication and (tls-cluster yes) the bus, whose port is explicit.
struct Node {
    srv: Server,
    tls_port: u16,
    ferrokv: bool,
}

fn node_opts(pki: &Pki, tls_port: u16, bus_port: u16, timeout_ms: u32) -> Vec<String> {
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
        "--tls-cluster",
        "yes",
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        &bus_port.to_string(),
        "--cluster-node-timeout",
        &timeout_ms.to_string(),
        "--repl-diskless-sync-delay",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn ferrokv_node(pki: &Pki, timeout_ms: u32, extra: &[&str]) -> Node {
    let (port, tls_port, bus) = (free_port(), free_port(), free_port());
    let mut opts = node_opts(pki, tls_port, bus, timeout_ms);
    opts.extend(extra.iter().map(|s| s.to_string()));
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let p = port.to_string();
    Node {
        srv: Server::start_on(port, &["--port", &p], &opts),
        tls_port,
        ferrokv: true,
    }
}

fn redis_node(pki: &Pki, timeout_ms: u32) -> Node {
    let (tls_port, bus) = (free_port(), free_port());
    let opts = node_opts(pki, tls_port, bus, timeout_ms);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    Node {
        srv: start_redis_server_with(None, &opts),
        tls_port,
        ferrokv: false,
    }
}

impl Node {
    fn c(&self) -> redis::Connection {
        self.srv.client()
    }
    fn q<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        q(&mut self.c(), args)
    }
    fn id(&self) -> String {
        self.q(&["CLUSTER", "MYID"])
    }
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.tls_port)
    }
    fn info(&self) -> String {
        self.q(&["CLUSTER", "INFO"])
    }
    fn cluster_ok(&self) -> bool {
        self.info().contains("cluster_state:ok")
    }
    fn nodes(&self) -> String {
        self.q(&["CLUSTER", "NODES"])
    }
    fn role(&self) -> String {
        let r: Vec<redis::Value> = self.q(&["ROLE"]);
        match &r[0] {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }
    fn kind(&self) -> &'static str {
        if self.ferrokv {
            "ferrokv"
        } else {
            "redis-server"
        }
    }
}

/// redis-cli --cluster ... over TLS with the client certificate; its output.
fn cli(pki: &Pki, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args([
            "--tls",
            "--cert",
            &pki.path("client.crt"),
            "--key",
            &pki.path("client.key"),
            "--cacert",
            &pki.path("ca.crt"),
        ])
        .args(args)
        .output()
        .expect("redis-cli (redis-tools) runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "redis-cli {args:?} failed: {text}");
    text
}

fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `wait_for`, showing the ferrokv nodes' logs when it times out.
fn wait_nodes(nodes: &[Node], what: &str, secs: u64, cond: impl FnMut() -> bool) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_for(what, secs, cond)));
    if let Err(e) = r {
        for n in nodes.iter().filter(|n| n.ferrokv) {
            let log = n.srv.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- node on port {} ---", n.srv.port);
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
        std::panic::resume_unwind(e);
    }
}

/// Run a command on the node that serves it, following MOVED and ASK as a
/// cluster-aware client does (the ports in redirections are the plain ones: the test
/// talks plaintext to a TLS cluster).
fn routed<T: redis::FromRedisValue>(nodes: &[Node], args: &[&str]) -> T {
    let mut at = nodes.iter().position(|n| n.srv.port != 0).expect("a node");
    let mut asking = false;
    for _ in 0..8 {
        let mut c = nodes[at].c();
        if asking {
            let _: String = q(&mut c, &["ASKING"]);
        }
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        match cmd.query::<T>(&mut c) {
            Ok(v) => return v,
            Err(e) => {
                let text = format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""));
                let (moved, ask) = (text.starts_with("MOVED"), text.starts_with("ASK"));
                assert!(moved || ask, "{args:?}: {e}");
                let port: u16 = text
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim().parse().ok())
                    .unwrap_or_else(|| panic!("a port in {text}"));
                at = nodes
                    .iter()
                    .position(|n| n.srv.port == port)
                    .unwrap_or_else(|| panic!("no node on port {port}: {text}"));
                asking = ask;
            }
        }
    }
    panic!("{args:?}: too many redirections");
}

/// Write keys of every type (hash-tagged to one slot each) and plain strings.
fn write_dataset(nodes: &[Node]) {
    for i in 0..300 {
        let _: String = routed(nodes, &["SET", &format!("key:{i}"), &format!("v{i}")]);
    }
    let _: i64 = routed(nodes, &["RPUSH", "{t}list", "a", "b", "c"]);
    let _: i64 = routed(nodes, &["HSET", "{t}hash", "f1", "v1", "f2", "v2"]);
    let _: i64 = routed(nodes, &["SADD", "{t}set", "x", "y"]);
    let _: i64 = routed(nodes, &["ZADD", "{t}zset", "1", "a", "2", "b"]);
    let _: String = routed(nodes, &["XADD", "{t}stream", "1-1", "f", "v"]);
    let _: i64 = routed(nodes, &["PFADD", "{t}hll", "a", "b", "c"]);
    let _: i64 = routed(nodes, &["PEXPIRE", "key:7", "600000"]);
}

fn check_dataset(nodes: &[Node]) {
    for i in 0..300 {
        let v: Option<String> = routed(nodes, &["GET", &format!("key:{i}")]);
        assert_eq!(v.as_deref(), Some(format!("v{i}").as_str()), "key:{i}");
    }
    let l: Vec<String> = routed(nodes, &["LRANGE", "{t}list", "0", "-1"]);
    assert_eq!(l, ["a", "b", "c"]);
    let h: Vec<String> = routed(nodes, &["HMGET", "{t}hash", "f1", "f2"]);
    assert_eq!(h, ["v1", "v2"]);
    let s: i64 = routed(nodes, &["SCARD", "{t}set"]);
    assert_eq!(s, 2);
    let z: Vec<String> = routed(nodes, &["ZRANGE", "{t}zset", "0", "-1"]);
    assert_eq!(z, ["a", "b"]);
    let x: i64 = routed(nodes, &["XLEN", "{t}stream"]);
    assert_eq!(x, 1);
    let c: i64 = routed(nodes, &["PFCOUNT", "{t}hll"]);
    assert_eq!(c, 3);
    let ttl: i64 = routed(nodes, &["PTTL", "key:7"]);
    assert!(ttl > 0, "key:7 kept its TTL: {ttl}");
}

fn masters(n: &Node) -> Vec<String> {
    n.nodes()
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(2)
                .is_some_and(|f| f.contains("master") && !f.contains("fail"))
        })
        .filter(|l| l.split(' ').count() > 8)
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// A replica of master `m`, as the master itself and another node see it (waiting for
/// gossip to say so: a manual failover needs the master to know its replica).
fn replica_of(nodes: &[Node], m: usize) -> usize {
    let id = nodes[m].id();
    let mut found = None;
    wait_for("the master's replica is known", 20, || {
        let views = [nodes[m].nodes(), nodes[(m + 1) % nodes.len()].nodes()];
        found = (0..nodes.len()).find(|&r| {
            let rid = nodes[r].id();
            views.iter().all(|v| {
                v.lines()
                    .any(|l| l.starts_with(&rid) && l.contains("slave") && l.contains(&id))
            })
        });
        found.is_some()
    });
    found.unwrap()
}

fn all_agree(nodes: &[Node], live: &[usize]) -> bool {
    live.iter().all(|&i| {
        nodes[i].cluster_ok()
            && nodes[i]
                .info()
                .contains(&format!("cluster_known_nodes:{}", nodes.len()))
    })
}

/// Whether the node behind `c` is the master CLUSTER SLOTS names for `slot`.
fn serves_slot(c: &mut redis::Connection, slot: i64) -> bool {
    let slots: Vec<Vec<redis::Value>> = q(c, &["CLUSTER", "SLOTS"]);
    let id: String = q(c, &["CLUSTER", "MYID"]);
    slots.iter().any(|r| {
        let (a, b): (i64, i64) = (
            redis::from_redis_value(&r[0]).unwrap(),
            redis::from_redis_value(&r[1]).unwrap(),
        );
        let master: Vec<redis::Value> = redis::from_redis_value(&r[2]).unwrap();
        let mid: String = redis::from_redis_value(&master[2]).unwrap();
        a <= slot && slot <= b && mid == id
    })
}

/// ferrokv and redis-server masters, each with a replica of the other kind, over a TLS
/// bus: redis-cli builds it, gossip converges on every node, redirections read as
/// Redis's, slots move both ways with keys of every type, and killing a master of either
/// kind hands its slots to its replica of the other kind with no key lost.
#[test]
fn a_mixed_tls_cluster_forms_reshards_and_fails_over() {
    let pki = make_pki("cluster");
    let timeout = 3000;
    // Masters: ferrokv, redis-server, redis-server; replicas: redis-server, ferrokv,
    // ferrokv (redis-cli picks which replica goes with which master).
    let mut nodes = Vec::new();
    for i in 0..6 {
        let f = matches!(i, 0 | 4 | 5);
        nodes.push(if f {
            ferrokv_node(&pki, timeout, &[])
        } else {
            redis_node(&pki, timeout)
        });
    }
    let addrs: Vec<String> = nodes.iter().map(Node::addr).collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let out = cli(&pki, &args);
    assert!(out.contains("[OK] All 16384 slots covered"), "{out}");
    let all: Vec<usize> = (0..6).collect();
    wait_for("every node sees an OK cluster of 6", 20, || {
        all_agree(&nodes, &all)
    });
    for n in &nodes {
        assert_eq!(
            masters(n).len(),
            3,
            "{} sees 3 masters:\n{}",
            n.kind(),
            n.nodes()
        );
    }
    // redis-cli pairs each master with a replica of the other kind here.
    let pairs: Vec<(usize, usize)> = (0..3).map(|m| (m, replica_of(&nodes, m))).collect();
    assert!(
        pairs
            .iter()
            .any(|&(m, r)| nodes[m].ferrokv != nodes[r].ferrokv),
        "{pairs:?}"
    );

    // Redirections, word for word.
    let slot: i64 = nodes[0].q(&["CLUSTER", "KEYSLOT", "foo"]);
    assert_eq!(slot, 12182);
    let owner = (0..3)
        .find(|&m| serves_slot(&mut nodes[m].srv.client(), slot))
        .unwrap();
    let other = nodes
        .iter()
        .find(|n| n.ferrokv && n.id() != nodes[owner].id() && n.role() == "master")
        .unwrap();
    let e = err(&mut other.c(), &["GET", "foo"]);
    assert_eq!(
        e,
        format!("MOVED 12182 127.0.0.1:{}", nodes[owner].srv.port),
        "plain client, plain port"
    );
    assert_eq!(
        err(&mut other.c(), &["MSET", "a", "1", "b", "2"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );

    write_dataset(&nodes);
    check_dataset(&nodes);

    // Move slots of a redis-server master to the ferrokv master, then some of the
    // ferrokv master's to the other redis-server master (three masters keep slots: a
    // majority of them must be left to elect a replica below).
    let (f_m, r_m) = (0, 1);
    let out = cli(
        &pki,
        &[
            "--cluster",
            "reshard",
            &nodes[f_m].addr(),
            "--cluster-from",
            &nodes[r_m].id(),
            "--cluster-to",
            &nodes[f_m].id(),
            "--cluster-slots",
            "2000",
            "--cluster-yes",
        ],
    );
    assert!(!out.contains("ERR"), "{out}");
    check_dataset(&nodes);
    let out = cli(
        &pki,
        &[
            "--cluster",
            "reshard",
            &nodes[r_m].addr(),
            "--cluster-from",
            &nodes[f_m].id(),
            "--cluster-to",
            &nodes[2].id(),
            "--cluster-slots",
            "3000",
            "--cluster-yes",
        ],
    );
    assert!(!out.contains("ERR"), "{out}");
    wait_for("redis-cli --cluster check passes", 20, || {
        let out = Command::new("redis-cli")
            .args([
                "--tls",
                "--cert",
                &pki.path("client.crt"),
                "--key",
                &pki.path("client.key"),
                "--cacert",
                &pki.path("ca.crt"),
            ])
            .args(["--cluster", "check", &nodes[0].addr()])
            .output()
            .unwrap();
        let t = String::from_utf8_lossy(&out.stdout).to_string();
        t.contains("[OK] All nodes agree about slots configuration")
            && t.contains("[OK] All 16384 slots covered")
            && !t.contains("[WARNING]")
    });
    check_dataset(&nodes);

    // Each master gets a replica of the other kind (CLUSTER REPLICATE moves them): node 3
    // (redis-server) under node 0 (ferrokv), node 4 (ferrokv) under node 1 (redis-server),
    // node 5 (ferrokv) under node 2 (redis-server).
    for (r, m) in [(3, 0), (4, 1), (5, 2)] {
        let id = nodes[m].id();
        let ok: String = nodes[r].q(&["CLUSTER", "REPLICATE", &id]);
        assert_eq!(ok, "OK");
    }
    for (r, m) in [(3, 0), (4, 1), (5, 2)] {
        let id = nodes[m].id();
        wait_nodes(
            &nodes,
            "the replicas sit under their new masters",
            30,
            || {
                let info: String = nodes[r].q(&["INFO", "replication"]);
                info.contains("master_link_status:up")
                    && nodes[m].nodes().lines().any(|l| {
                        l.starts_with(&nodes[r].id()) && l.contains("slave") && l.contains(&id)
                    })
            },
        );
    }
    // kill -9 the ferrokv master: its redis-server replica takes over; then the
    // redis-server master whose replica is ferrokv.
    let mut dead = Vec::new();
    for (victim, heir) in [(0, 3), (1, 4)] {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(nodes[victim].srv.pid() as i32, libc::SIGKILL) };
        dead.push(victim);
        let live: Vec<usize> = (0..6).filter(|i| !dead.contains(i)).collect();
        wait_nodes(
            &nodes,
            &format!(
                "the {} replica of the killed {} master is promoted",
                nodes[heir].kind(),
                nodes[victim].kind()
            ),
            30,
            || nodes[heir].role() == "master" && live.iter().all(|&i| nodes[i].cluster_ok()),
        );
    }
    // Every key is still served, by the survivors.
    let survivors: Vec<Node> = nodes.drain(2..).collect();
    check_dataset(&survivors);
}

/// Six ferrokv nodes: a master killed with SIGKILL is failed over and, restarted on its
/// nodes.conf, rejoins as a replica of its successor; a master stopped with SIGSTOP
/// past node-timeout is failed over too; CLUSTER FAILOVER swaps a master and its replica
/// without losing a write acknowledged by WAIT.
#[test]
fn ferrokv_cluster_failover_rejoin_and_manual_failover() {
    let pki = make_pki("cluster");
    let timeout = 2500;
    let mut nodes: Vec<Node> = (0..6).map(|_| ferrokv_node(&pki, timeout, &[])).collect();
    let addrs: Vec<String> = nodes.iter().map(Node::addr).collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    cli(&pki, &args);
    let all: Vec<usize> = (0..6).collect();
    wait_for("an OK cluster of 6", 20, || all_agree(&nodes, &all));
    write_dataset(&nodes);
    // Manual failover: the replica takes over; a write acknowledged by WAIT survives.
    let m = 0;
    let r = replica_of(&nodes, m);
    let mut c = nodes[m].c();
    let slot_key = (0..)
        .map(|i| format!("mf:{i}"))
        .find(|k| {
            redis::cmd("GET")
                .arg(k)
                .query::<Option<String>>(&mut nodes[m].c())
                .is_ok()
        })
        .unwrap();
    let _: String = q(&mut c, &["SET", &slot_key, "acked"]);
    let acked: i64 = q(&mut c, &["WAIT", "1", "5000"]);
    assert_eq!(acked, 1);
    let ok: String = nodes[r].q(&["CLUSTER", "FAILOVER"]);
    assert_eq!(ok, "OK");
    wait_nodes(&nodes, "the replica becomes master", 15, || {
        nodes[r].role() == "master" && nodes[m].role() == "slave"
    });
    let v: String = nodes[r].q(&["GET", &slot_key]);
    assert_eq!(v, "acked");
    assert!(nodes[m]
        .srv
        .log()
        .contains("Manual failover requested by replica"));
    assert!(nodes[r].srv.log().contains("Failover election won"));

    // kill -9 a master: its replica is elected; the old master, restarted on its own
    // nodes.conf, comes back as a replica of the new one.
    let m = 1;
    let r = replica_of(&nodes, m);
    let old_id = nodes[m].id();
    let conf = std::fs::read_to_string(nodes[m].srv.dir.join("nodes.conf")).unwrap();
    assert!(
        conf.contains(&format!("{old_id} ")) && conf.contains("myself,master"),
        "{conf}"
    );
    assert!(conf.ends_with(&format!(
        "lastVoteEpoch {}\n",
        conf.rsplit(' ').next().unwrap().trim()
    )));
    let keep = temp_dir("nodes-conf");
    std::fs::copy(nodes[m].srv.dir.join("nodes.conf"), keep.join("nodes.conf")).unwrap();
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(nodes[m].srv.pid() as i32, libc::SIGKILL) };
    let live: Vec<usize> = (0..6).filter(|&i| i != m).collect();
    wait_nodes(
        &nodes,
        "the killed master's replica is promoted",
        30,
        || nodes[r].role() == "master" && live.iter().all(|&i| nodes[i].cluster_ok()),
    );
    let tls_port = nodes[m].tls_port;
    let port = free_port();
    let mut opts = node_opts(
        &pki,
        tls_port,
        {
            // The same bus port as before: from its own line in nodes.conf.
            let line = conf.lines().find(|l| l.contains("myself")).unwrap();
            line.split(' ')
                .nth(1)
                .unwrap()
                .split('@')
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        },
        timeout,
    );
    opts.extend(["--dir".to_string(), keep.display().to_string()]);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let p = port.to_string();
    nodes[m] = Node {
        srv: Server::start_on(port, &["--port", &p], &opts),
        tls_port,
        ferrokv: true,
    };
    assert_eq!(nodes[m].id(), old_id, "the same node, from its nodes.conf");
    wait_nodes(
        &nodes,
        "the old master rejoins as a replica of its successor",
        30,
        || {
            nodes[m].role() == "slave"
                && nodes[m]
                    .nodes()
                    .lines()
                    .any(|l| l.starts_with(&old_id) && l.contains(&nodes[r].id()))
        },
    );
    wait_for("everyone sees it back", 20, || all_agree(&nodes, &all));
    check_dataset(&nodes);

    // SIGSTOP a master past node-timeout: failed over; SIGCONT: it becomes a replica.
    let m = (0..6)
        .find(|&i| nodes[i].role() == "master" && i != r)
        .unwrap();
    let r2 = replica_of(&nodes, m);
    let pid = nodes[m].srv.pid() as i32;
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let live: Vec<usize> = (0..6).filter(|&i| i != m).collect();
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("the stopped master is failed over", 30, || {
            nodes[r2].role() == "master" && live.iter().all(|&i| nodes[i].cluster_ok())
        })
    }));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    res.unwrap();
    wait_nodes(&nodes, "the resumed master turns replica", 30, || {
        nodes[m].role() == "slave"
    });
    check_dataset(&nodes);
}

/// One node on its own: the CLUSTER commands' replies and errors, READONLY/ASKING,
/// SELECT, nodes.conf kept across a restart, garbage and unknown senders on the bus.
#[test]
fn a_single_node_answers_as_redis_and_survives_bad_bus_input() {
    let bus = free_port();
    let b = bus.to_string();
    let srv = Server::start(&["--cluster-enabled", "yes", "--cluster-port", &b]);
    let mut c = srv.client();
    let id: String = q(&mut c, &["CLUSTER", "MYID"]);
    assert_eq!(id.len(), 40);
    let nodes: String = q(&mut c, &["CLUSTER", "NODES"]);
    assert!(
        nodes.starts_with(&format!(
            "{id} :{}@{bus} myself,master - 0 0 0 connected",
            srv.port
        )),
        "{nodes}"
    );
    assert!(q::<String>(&mut c, &["CLUSTER", "INFO"])
        .starts_with("cluster_state:fail\r\ncluster_slots_assigned:0\r\n"));
    assert_eq!(
        err(&mut c, &["GET", "x"]),
        "CLUSTERDOWN Hash slot not served"
    );
    let ok: String = q(&mut c, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    assert_eq!(ok, "OK");
    assert_eq!(
        err(&mut c, &["CLUSTER", "ADDSLOTS", "5"]),
        "ERR Slot 5 is already busy"
    );
    assert_eq!(
        err(&mut c, &["CLUSTER", "DELSLOTS", "5", "5"]),
        "ERR Slot 5 specified multiple times"
    );
    assert_eq!(
        err(&mut c, &["CLUSTER", "ADDSLOTS", "16384"]),
        "ERR Invalid or out of range slot"
    );
    assert_eq!(
        err(&mut c, &["CLUSTER", "ADDSLOTSRANGE", "1"]),
        "ERR wrong number of arguments for 'cluster|addslotsrange' command"
    );
    assert_eq!(
        err(&mut c, &["CLUSTER", "SETSLOT", "1", "BOGUS"]),
        "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"
    );
    assert_eq!(
        err(&mut c, &["CLUSTER", "FORGET", &id]),
        "ERR I tried hard but I can't forget myself..."
    );
    assert_eq!(
        err(&mut c, &["CLUSTER", "REPLICATE", &"a".repeat(40)]),
        format!("ERR Unknown node {}", "a".repeat(40))
    );
    assert_eq!(
        err(&mut c, &["CLUSTER", "MEET", "nothost", "1"]),
        "ERR Invalid node address specified: nothost:1"
    );
    assert_eq!(
        err(&mut c, &["SELECT", "1"]),
        "ERR SELECT is not allowed in cluster mode"
    );
    let r: String = q(&mut c, &["CLUSTER", "BUMPEPOCH"]);
    assert_eq!(r, "BUMPED 1");
    wait_for("cluster OK with every slot", 10, || {
        q::<String>(&mut c, &["CLUSTER", "INFO"]).starts_with("cluster_state:ok")
    });
    for i in 0..50 {
        let _: String = q(&mut c, &["SET", &format!("{{s}}{i}"), "v"]);
    }
    let slot: i64 = q(&mut c, &["CLUSTER", "KEYSLOT", "{s}"]);
    let n: i64 = q(&mut c, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
    assert_eq!(n, 50);
    let keys: Vec<String> = q(
        &mut c,
        &["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "10"],
    );
    assert_eq!(keys.len(), 10);
    assert!(keys.iter().all(|k| k.starts_with("{s}")));
    // A slot being imported takes a command only after ASKING, for one command.
    let other = "b".repeat(40);
    let _: String = q(&mut c, &["CLUSTER", "DELSLOTS", "0"]);
    assert_eq!(
        err(&mut c, &["CLUSTER", "SETSLOT", "0", "IMPORTING", &other]),
        format!("ERR I don't know about node {other}")
    );

    // Garbage on the bus port: the link is dropped with a log line, the node lives on.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", bus)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    wait_until("the bad bus message is logged", || {
        srv.log()
            .contains("Bad message length or signature received from Cluster bus.")
    });
    // A well-formed PING from a node nobody knows: answered with a PONG (as Redis),
    // but it joins nothing.
    let mut ping = vec![0u8; 2256];
    ping[..4].copy_from_slice(b"RCmb");
    ping[4..8].copy_from_slice(&2256u32.to_be_bytes());
    ping[8..10].copy_from_slice(&1u16.to_be_bytes());
    ping[40..80].copy_from_slice("c".repeat(40).as_bytes());
    let mut s = std::net::TcpStream::connect(("127.0.0.1", bus)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&ping).unwrap();
    let mut hdr = [0u8; 2256];
    std::io::Read::read_exact(&mut s, &mut hdr).unwrap();
    assert_eq!(&hdr[..4], b"RCmb");
    assert_eq!(u16::from_be_bytes([hdr[12], hdr[13]]), 1, "a PONG");
    assert_eq!(&hdr[40..80], id.as_bytes());
    // A FAIL about us from an unknown node is ignored.
    let mut fail = ping.clone();
    fail[12..14].copy_from_slice(&3u16.to_be_bytes());
    fail.extend_from_slice(id.as_bytes());
    fail[4..8].copy_from_slice(&(2256u32 + 40).to_be_bytes());
    s.write_all(&fail).unwrap();
    // A message whose length does not match its type is logged and ignored.
    let mut bad = ping.clone();
    bad[14..16].copy_from_slice(&5u16.to_be_bytes());
    s.write_all(&bad).unwrap();
    wait_until("the bad length is logged", || {
        srv.log()
            .contains("Received invalid ping packet of length 2256 but expected length 2776")
    });
    assert!(srv
        .log()
        .contains("Ignoring FAIL message from unknown node"));
    let info: String = q(&mut c, &["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_known_nodes:1\r\n"), "{info}");
    assert!(q::<String>(&mut c, &["PING"]) == "PONG");

    // nodes.conf: saved whole (a temporary file renamed), and the node keeps its name.
    let conf = std::fs::read_to_string(srv.dir.join("nodes.conf")).unwrap();
    assert!(conf.starts_with(&format!("{id} ")), "{conf}");
    assert!(
        conf.contains(" 1-16383\n") || conf.contains(" 1-16383 "),
        "{conf}"
    );
    assert!(
        conf.ends_with("vars currentEpoch 1 lastVoteEpoch 0\n"),
        "{conf}"
    );
    // A second node cannot use the same file (it is locked).
    let dir = srv.dir.display().to_string();
    let mut second = Command::new(bin())
        .args([
            "--port",
            &free_port().to_string(),
            "--cluster-enabled",
            "yes",
            "--dir",
            &dir,
        ])
        .args(["--cluster-port", &free_port().to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&second.stdout).to_string()
        + &String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{text}");
    assert!(
        text.contains("is already used by a different Redis Cluster node"),
        "{text}"
    );
    second.stdout.clear();
}

/// nodes.conf on a full disk (a file-size limit: writes fail with EFBIG): the save fails
/// with a log line, the old file stays whole (it is written aside and renamed), the node
/// goes on serving, and the next save after space returns writes the new view.
#[test]
fn nodes_conf_on_a_full_disk_keeps_the_old_file() {
    let bus = free_port().to_string();
    // (Started with SIGXFSZ ignored, so a write past the limit fails instead of killing.)
    let srv = Server::start_with_fsize(
        libc::RLIM_INFINITY,
        &["--cluster-enabled", "yes", "--cluster-port", &bus],
    );
    let mut c = srv.client();
    let id: String = q(&mut c, &["CLUSTER", "MYID"]);
    let path = srv.dir.join("nodes.conf");
    let before = std::fs::read_to_string(&path).unwrap();
    assert!(
        before.starts_with(&id) && before.contains("vars currentEpoch 0"),
        "{before}"
    );
    let log_len = srv.log().len() as u64;
    srv.set_fsize(log_len + 1500);
    // A thousand separate slots: a line of about 5 KB.
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("ADDSLOTS");
    for s in (0..2000).step_by(2) {
        cmd.arg(s);
    }
    let ok: String = cmd.query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    wait_until("the failed save is logged", || {
        srv.log().contains("Can't update cluster config file")
    });
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        before,
        "the old file is kept whole"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&srv.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("nodes.conf.tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let info: String = q(&mut c, &["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_slots_assigned:1000\r\n"), "{info}");
    srv.set_fsize(libc::RLIM_INFINITY);
    let ok: String = q(&mut c, &["CLUSTER", "SAVECONFIG"]);
    assert_eq!(ok, "OK");
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(
        after.contains(" 0 2 4 6 8 "),
        "{}",
        &after[..200.min(after.len())]
    );
}

/// redis-cli's other cluster tools on plaintext ferrokv nodes: add-node (a master, then
/// a replica with --cluster-slave), rebalance onto the new master, fix of an open slot
/// and of an uncovered one, del-node of a replica and of an emptied master; the keys
/// stay readable throughout.
#[test]
fn redis_cli_add_node_rebalance_fix_and_del_node() {
    let bus = || free_port().to_string();
    let start = || {
        let b = bus();
        Server::start(&[
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            &b,
            "--cluster-node-timeout",
            "3000",
        ])
    };
    let run = |args: &[&str], stdin: Option<&str>| -> String {
        let mut child = Command::new("redis-cli")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("redis-cli");
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        let t = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "redis-cli {args:?}: {t}");
        t
    };
    let nodes: Vec<Server> = (0..3).map(|_| start()).collect();
    let addr = |s: &Server| format!("127.0.0.1:{}", s.port);
    let mut args = vec!["--cluster".to_string(), "create".to_string()];
    args.extend(nodes.iter().map(addr));
    args.push("--cluster-yes".into());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&a, None);
    let ok = |s: &Server| {
        q::<String>(&mut s.client(), &["CLUSTER", "INFO"]).contains("cluster_state:ok")
    };
    wait_for("the cluster is OK", 20, || nodes.iter().all(ok));
    let check = |via: &Server| {
        wait_for("redis-cli --cluster check is clean", 20, || {
            let out = Command::new("redis-cli")
                .args(["--cluster", "check", &addr(via)])
                .output()
                .unwrap();
            let t = String::from_utf8_lossy(&out.stdout).to_string();
            t.contains("[OK] All nodes agree about slots configuration")
                && t.contains("[OK] All 16384 slots covered")
                && !t.contains("[WARNING]")
                && !t.contains("[ERR]")
        })
    };
    // Keys through redis-cli -c (it follows -MOVED).
    let mut input = String::new();
    for i in 0..500 {
        input.push_str(&format!("SET t:{i} {i}\n"));
    }
    run(&["-c", "-p", &nodes[0].port.to_string()], Some(&input));
    let count = |all: &[&Server]| -> i64 {
        all.iter()
            .map(|s| {
                let info: String = q(&mut s.client(), &["INFO", "replication"]);
                if info.contains("role:master") {
                    q::<i64>(&mut s.client(), &["DBSIZE"])
                } else {
                    0
                }
            })
            .sum()
    };

    // add-node: a new master, then rebalance gives it its share.
    let m4 = start();
    run(
        &["--cluster", "add-node", &addr(&m4), &addr(&nodes[0])],
        None,
    );
    wait_for("everyone knows the new node", 20, || {
        nodes.iter().all(|s| {
            q::<String>(&mut s.client(), &["CLUSTER", "INFO"]).contains("cluster_known_nodes:4")
        })
    });
    check(&nodes[0]);
    // A node that was alone waits node-timeout before it calls the cluster OK (as
    // Redis's rejoin delay), and refuses keys until then.
    wait_for("the new node says the cluster is OK", 20, || ok(&m4));
    let out = run(
        &[
            "--cluster",
            "rebalance",
            &addr(&nodes[0]),
            "--cluster-use-empty-masters",
        ],
        None,
    );
    assert!(out.contains("Moving"), "{out}");
    check(&nodes[0]);
    let n4: i64 = q(&mut m4.client(), &["DBSIZE"]);
    assert!(n4 > 0, "the new master got keys");
    assert_eq!(count(&[&nodes[0], &nodes[1], &nodes[2], &m4]), 500);

    // A replica for it with --cluster-slave.
    let r4 = start();
    let m4_id: String = q(&mut m4.client(), &["CLUSTER", "MYID"]);
    run(
        &[
            "--cluster",
            "add-node",
            &addr(&r4),
            &addr(&nodes[0]),
            "--cluster-slave",
            "--cluster-master-id",
            &m4_id,
        ],
        None,
    );
    wait_for("the replica syncs", 20, || {
        q::<String>(&mut r4.client(), &["INFO", "replication"]).contains("master_link_status:up")
    });
    check(&nodes[0]);

    // fix: an open slot (left migrating) and an uncovered one.
    let slot = 100.to_string();
    let owner = nodes
        .iter()
        .chain([&m4])
        .find(|s| serves_slot(&mut s.client(), 100))
        .unwrap();
    let other_id: String = q(
        &mut nodes
            .iter()
            .find(|s| s.port != owner.port)
            .unwrap()
            .client(),
        &["CLUSTER", "MYID"],
    );
    let _: String = q(
        &mut owner.client(),
        &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &other_id],
    );
    let _: String = q(&mut owner.client(), &["CLUSTER", "DELSLOTS", "101"]);
    let out = run(&["--cluster", "fix", &addr(&nodes[0])], Some("yes\n"));
    assert!(
        out.contains("Fixing open slot 100") || out.contains("slot 100"),
        "{out}"
    );
    check(&nodes[0]);

    // del-node: the replica, then the new master once rebalance emptied it.
    let r4_id: String = q(&mut r4.client(), &["CLUSTER", "MYID"]);
    run(&["--cluster", "del-node", &addr(&nodes[0]), &r4_id], None);
    check(&nodes[0]);
    run(
        &[
            "--cluster",
            "rebalance",
            &addr(&nodes[0]),
            "--cluster-weight",
            &format!("{m4_id}=0"),
        ],
        None,
    );
    let n4: i64 = q(&mut m4.client(), &["DBSIZE"]);
    assert_eq!(n4, 0, "rebalance with weight 0 emptied it");
    run(&["--cluster", "del-node", &addr(&nodes[0]), &m4_id], None);
    wait_for("the cluster is back to three nodes", 20, || {
        nodes.iter().all(|s| {
            q::<String>(&mut s.client(), &["CLUSTER", "INFO"]).contains("cluster_known_nodes:3")
        })
    });
    check(&nodes[0]);
    assert_eq!(count(&[&nodes[0], &nodes[1], &nodes[2]]), 500);
}

/// A TCP proxy in front of a node's bus port (the port the node announces): it forwards
/// to the real one, and while `cut` says so for a connection's source, refuses it and
/// tears down the ones it carries. Closing a node's bus port this way, plus refusing what
/// that node opens (it leaves from its own source address, bind-source-addr), partitions
/// it from the cluster's bus while its client port stays open.
struct BusProxy {
    port: u16,
    live: std::sync::Arc<std::sync::Mutex<Vec<(std::net::SocketAddr, std::net::TcpStream)>>>,
}

impl BusProxy {
    fn start(
        target: u16,
        cut: impl Fn(std::net::SocketAddr) -> bool + Send + Sync + 'static,
    ) -> BusProxy {
        use std::net::{TcpListener, TcpStream};
        use std::sync::{Arc, Mutex};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let live: Arc<Mutex<Vec<(std::net::SocketAddr, TcpStream)>>> = Arc::default();
        let held = live.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(a) = s else { continue };
                let Ok(peer) = a.peer_addr() else { continue };
                if cut(peer) {
                    continue;
                }
                let Ok(b) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                {
                    let mut v = held.lock().unwrap();
                    v.retain(|(_, s)| s.peer_addr().is_ok());
                    v.push((peer, a.try_clone().unwrap()));
                    v.push((peer, b.try_clone().unwrap()));
                }
                for (mut from, mut to) in [(a.try_clone().unwrap(), b.try_clone().unwrap()), (b, a)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        BusProxy { port, live }
    }

    /// Tear down the connections from sources that `cut` refuses now.
    fn cut_now(&self, cut: impl Fn(std::net::SocketAddr) -> bool) {
        for (peer, s) in self.live.lock().unwrap().iter() {
            if cut(*peer) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// A master cut off the cluster bus (its bus port closed, its own bus connections
/// refused) while its client port stays open: the majority marks it failing and its
/// replica takes its slots over; the cut-off master sees the cluster down meanwhile.
/// When the partition heals it learns of the newer owner and rejoins as its replica,
/// with no key lost.
#[test]
fn a_partitioned_master_is_failed_over_and_rejoins_as_a_replica() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let cut_off = Arc::new(AtomicBool::new(false));
    // The node to cut off leaves from 127.0.0.2; the others from 127.0.0.1.
    let from_a = |p: std::net::SocketAddr| p.ip() == std::net::Ipv4Addr::new(127, 0, 0, 2);
    let mut srvs = Vec::new();
    let mut proxies = Vec::new();
    for i in 0..4 {
        let bus = free_port();
        let flag = cut_off.clone();
        let proxy = if i == 0 {
            BusProxy::start(bus, move |_| flag.load(Ordering::SeqCst))
        } else {
            BusProxy::start(bus, move |p| flag.load(Ordering::SeqCst) && from_a(p))
        };
        let (b, ab) = (bus.to_string(), proxy.port.to_string());
        let mut args = vec![
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            &b,
            "--cluster-announce-bus-port",
            &ab,
            "--cluster-node-timeout",
            "2000",
            "--save",
            "",
        ];
        if i == 0 {
            args.extend(["--bind-source-addr", "127.0.0.2"]);
        }
        srvs.push(Server::start(&args));
        proxies.push(proxy);
    }
    let q0 = |i: usize, args: &[&str]| -> String { q(&mut srvs[i].client(), args) };
    let ranges = [("0", "5460"), ("5461", "10922"), ("10923", "16383")];
    for (i, (a, b)) in ranges.iter().enumerate() {
        let _ = q0(i, &["CLUSTER", "ADDSLOTSRANGE", a, b]);
    }
    for i in 1..4 {
        let _ = q0(
            0,
            &[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &srvs[i].port.to_string(),
                &proxies[i].port.to_string(),
            ],
        );
    }
    let ok = |i: usize| -> bool {
        let info: String = q(&mut srvs[i].client(), &["CLUSTER", "INFO"]);
        info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:4")
    };
    wait_for("the cluster forms", 20, || (0..4).all(ok));
    let a_id = q0(0, &["CLUSTER", "MYID"]);
    let _ = q0(3, &["CLUSTER", "REPLICATE", &a_id]);
    wait_for("the replica syncs", 20, || {
        let info: String = q(&mut srvs[3].client(), &["INFO", "replication"]);
        info.contains("master_link_status:up")
    });
    // A key in A's slots (slot 0..5460), acknowledged by the replica.
    let key = (0..)
        .map(|i| format!("p{i}"))
        .find(|k| {
            let slot: i64 = q(&mut srvs[0].client(), &["CLUSTER", "KEYSLOT", k]);
            slot <= 5460
        })
        .unwrap();
    let mut a = srvs[0].client();
    let _: () = q(&mut a, &["SET", &key, "kept"]);
    let acked: i64 = q(&mut a, &["WAIT", "1", "5000"]);
    assert_eq!(acked, 1);
    // The partition: A's bus port closed, its own bus connections refused.
    cut_off.store(true, Ordering::SeqCst);
    proxies[0].cut_now(|_| true);
    for p in &proxies[1..] {
        p.cut_now(from_a);
    }
    let d_id = q0(3, &["CLUSTER", "MYID"]);
    let show = |what: &str| {
        for s in &srvs {
            let log = s.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("--- {what}: node {} ---", s.port);
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
    };
    let failed_over = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("the majority fails A over to its replica", 30, || {
            let nodes: String = q(&mut srvs[1].client(), &["CLUSTER", "NODES"]);
            let role: Vec<redis::Value> = q(&mut srvs[3].client(), &["ROLE"]);
            nodes
                .lines()
                .any(|l| l.starts_with(&a_id) && l.contains("fail") && !l.contains("fail?"))
                && matches!(&role[0], redis::Value::BulkString(b) if b == b"master")
                && (1..4).all(ok)
        });
        wait_for("A, cut off, sees the cluster down", 20, || {
            let info: String = q(&mut srvs[0].client(), &["CLUSTER", "INFO"]);
            info.contains("cluster_state:fail")
        });
    }));
    if let Err(e) = failed_over {
        show("partition");
        std::panic::resume_unwind(e);
    }
    // The partition heals: A rejoins as the replica of the node that took its slots.
    cut_off.store(false, Ordering::SeqCst);
    let rejoined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("A rejoins as a replica of its successor", 30, || {
            let nodes: String = q(&mut srvs[0].client(), &["CLUSTER", "NODES"]);
            nodes
                .lines()
                .any(|l| l.starts_with(&a_id) && l.contains("slave") && l.contains(&d_id))
                && (0..4).all(ok)
        });
    }));
    if let Err(e) = rejoined {
        show("heal");
        std::panic::resume_unwind(e);
    }
    let mut d = srvs[3].client();
    let v: String = q(&mut d, &["GET", &key]);
    assert_eq!(v, "kept");
}
