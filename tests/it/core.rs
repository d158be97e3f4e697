//! Core server behaviour: protocol, pipelining, many clients, config, startup errors.
use crate::common::*;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

#[test]
fn ping_echo_select_hello() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let e: String = redis::cmd("ECHO").arg("hi").query(&mut c).unwrap();
    assert_eq!(e, "hi");
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v3").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, None, "databases are separate");
    assert_eq!(
        err_of(&mut c, redis::cmd("SELECT").arg(16)),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err_of(&mut c, redis::cmd("HELLO").arg(4)),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(
        err_of(&mut c, redis::cmd("NOSUCH").arg("a").arg("b")),
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        err_of(&mut c, &mut redis::cmd("GET")),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        err_of(&mut c, redis::cmd("CONFIG").arg("NOPE")),
        "ERR unknown subcommand 'NOPE'. Try CONFIG HELP."
    );
}

#[test]
fn resp3_hello_changes_reply_shapes() {
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    // One whole reply each: no leftover of HELLO's map is read as GET's reply.
    let r = raw_reply(&mut s, b"HELLO 3\r\n");
    assert!(r.starts_with(b"%7\r\n"), "{}", String::from_utf8_lossy(&r));
    let r = raw_reply(&mut s, b"GET nokey\r\n");
    assert_eq!(r, b"_\r\n");
    let r = raw_reply(&mut s, b"CONFIG GET port\r\n");
    assert!(r.starts_with(b"%1\r\n"), "{}", String::from_utf8_lossy(&r));
}

#[test]
fn ten_thousand_pipelined_commands_in_one_write() {
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    let mut req = Vec::new();
    for i in 0..10_000 {
        let k = format!("key:{i}");
        let v = format!("val:{i}");
        req.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
                k.len(),
                k,
                v.len(),
                v
            )
            .as_bytes(),
        );
    }
    let r = raw_roundtrip(&mut s, &req, 5 * 10_000);
    assert_eq!(r.len(), 5 * 10_000);
    assert!(r.chunks(5).all(|c| c == b"+OK\r\n"));
    let mut c = srv.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 10_000);
    let v: String = redis::cmd("GET").arg("key:9999").query(&mut c).unwrap();
    assert_eq!(v, "val:9999");
}

#[test]
fn five_hundred_concurrent_clients() {
    let srv = Server::start(&[]);
    let port = srv.port;
    let handles: Vec<_> = (0..10)
        .map(|t| {
            std::thread::spawn(move || {
                let mut conns: Vec<redis::Connection> = (0..50)
                    .map(|_| {
                        redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                            .unwrap()
                            .get_connection()
                            .unwrap()
                    })
                    .collect();
                for round in 0..3 {
                    for (i, c) in conns.iter_mut().enumerate() {
                        let k = format!("c{t}-{i}");
                        let n: i64 = redis::cmd("INCR").arg(&k).query(c).unwrap();
                        assert_eq!(n, round + 1);
                    }
                }
                conns.len()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 500);
    let mut c = srv.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 500);
}

#[test]
fn split_and_malformed_protocol() {
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    // A command split byte by byte still works.
    for b in b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n" {
        s.write_all(&[*b]).unwrap();
        s.flush().unwrap();
    }
    let r = raw_roundtrip(&mut s, b"", 11);
    assert_eq!(r, b"$5\r\nhello\r\n");
    // Protocol errors reply and close the connection.
    for (req, want) in [
        (
            &b"*1\r\n$x\r\n"[..],
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n+PING\r\n",
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"SET \"a b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ] {
        let mut s = srv.raw();
        let r = raw_roundtrip(&mut s, req, 1 << 20);
        assert_eq!(String::from_utf8_lossy(&r), want);
    }
    // Bulk over proto-max-bulk-len is refused.
    let mut s = srv.raw();
    let r = raw_roundtrip(&mut s, b"*2\r\n$3\r\nGET\r\n$9999999999999\r\n", 1 << 20);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    // The server is still serving others.
    let mut c = srv.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn random_garbage_never_kills_the_server() {
    use rand::{Rng, SeedableRng};
    let mut srv = Server::start(&[]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for _ in 0..200 {
        let mut s = srv.raw();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let len = rng.gen_range(1..300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let _ = raw_roundtrip(&mut s, &bytes, 1);
    }
    assert!(srv.alive());
    let mut c = srv.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn config_get_set_roundtrip_and_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("10mb")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut c)
        .unwrap();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .arg("maxmemory-policy")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        v,
        ["maxmemory", "10485760", "maxmemory-policy", "allkeys-lru"]
    );
    // All or nothing: a bad second pair leaves the first unchanged.
    let e = err_of(
        &mut c,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("hz")
            .arg("20")
            .arg("maxmemory")
            .arg("lots"),
    );
    assert_eq!(e, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value");
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hz")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["hz", "10"]);
    let e = err_of(
        &mut c,
        redis::cmd("CONFIG").arg("SET").arg("daemonize").arg("yes"),
    );
    assert_eq!(e, "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config");
    let e = err_of(
        &mut c,
        redis::cmd("CONFIG").arg("SET").arg("nosuch").arg("1"),
    );
    assert_eq!(
        e,
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    // Glob patterns and aliases.
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("slave-read-only")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["slave-read-only", "yes"]);
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*max-*-entries*")
        .query(&mut c)
        .unwrap();
    assert!(
        v.contains(&"hash-max-listpack-entries".to_string()),
        "{v:?}"
    );
}

#[test]
fn config_set_port_rebinds_at_runtime() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let new_port = free_port();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("port")
        .arg(new_port)
        .query(&mut c)
        .unwrap();
    let mut c2 = redis::Client::open(format!("redis://127.0.0.1:{new_port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let pong: String = redis::cmd("PING").query(&mut c2).unwrap();
    assert_eq!(pong, "PONG");
    // The existing connection keeps working.
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn bad_config_file_fails_startup_with_file_line_and_reason() {
    let dir = temp_dir("badconf");
    let path = dir.join("bad.conf");
    std::fs::write(&path, "port 7000\n# comment\nmaxmemory-policy sometimes\n").unwrap();
    let out = Command::new(bin()).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}, at line 3", path.display())),
        "{err}"
    );
    assert!(err.contains(">>> 'maxmemory-policy sometimes'"), "{err}");
    assert!(
        err.contains("argument(s) must be one of the following"),
        "{err}"
    );
    let out = Command::new(bin())
        .arg(&path)
        .arg("--test-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    std::fs::write(&path, "port 7000\nsave 900 1\nsave 300 10\n").unwrap();
    let out = Command::new(bin())
        .arg("--test-config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn config_rewrite_persists_changes() {
    let dir = temp_dir("rewrite");
    let path = dir.join("r.conf");
    let port = free_port();
    std::fs::write(&path, format!("# my config\nport {port}\nhz 10\n")).unwrap();
    let srv = Server::start_with_file(&path, port);
    let mut c = srv.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hz")
        .arg("25")
        .arg("maxmemory")
        .arg("1mb")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut c).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# my config"), "{text}");
    assert!(text.contains("hz 25"), "{text}");
    assert!(text.contains("maxmemory 1048576"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

/// CONFIG REWRITE stores the ACL as it is now (no aclfile): a user's changed password
/// and its disabling survive a restart, a new user is added, and the file's own `user`
/// lines are replaced, not kept; a second rewrite adds no second signature line.
#[test]
fn config_rewrite_stores_the_acl_users() {
    let dir = temp_dir("rewrite-acl");
    let path = dir.join("r.conf");
    let port = free_port();
    std::fs::write(
        &path,
        format!("port {port}\nuser foo on >a ~* +@all\n# tail comment\n"),
    )
    .unwrap();
    let srv = Server::start_with_file(&path, port);
    let mut c = srv.client();
    let _: () = q(&mut c, &["ACL", "SETUSER", "foo", "resetpass", ">b", "off"]);
    let _: () = q(
        &mut c,
        &["ACL", "SETUSER", "bar", "on", ">c", "+get", "~k*"],
    );
    let _: () = q(&mut c, &["CONFIG", "SET", "hz", "20"]);
    let _: () = q(&mut c, &["CONFIG", "REWRITE"]);
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory-samples", "7"]);
    let _: () = q(&mut c, &["CONFIG", "REWRITE"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches("# Generated by CONFIG REWRITE").count(),
        1,
        "{text}"
    );
    assert!(!text.contains(">a"), "{text}");
    assert!(text.contains("# tail comment"), "{text}");
    let user_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("user ")).collect();
    assert_eq!(user_lines.len(), 3, "bar, default, foo: {text}");
    drop(c);
    drop(srv);
    let srv = Server::start_with_file(&path, port);
    let mut c = srv.client();
    let users: Vec<String> = q(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["bar", "default", "foo"]);
    let foo: Vec<redis::Value> = q(&mut c, &["ACL", "GETUSER", "foo"]);
    assert!(format!("{foo:?}").contains("off"), "{foo:?}");
    let mut a = srv.client();
    assert!(redis::cmd("AUTH")
        .arg("bar")
        .arg("c")
        .query::<()>(&mut a)
        .is_ok());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn shutdown_command_and_sigterm_stop_cleanly() {
    let mut srv = Server::start(&[]);
    let mut s = srv.raw();
    let _ = raw_roundtrip(&mut s, b"SHUTDOWN\r\n", 1);
    assert_eq!(srv.wait_exit(Duration::from_secs(5)), Some(0));
    let mut srv = Server::start(&[]);
    // SAFETY: signalling the server process this test started.
    unsafe { libc::kill(srv_pid(&srv), libc::SIGTERM) };
    assert_eq!(srv.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(
        srv.log().contains("Received SIGTERM scheduling shutdown"),
        "{}",
        srv.log()
    );
}

fn srv_pid(srv: &Server) -> i32 {
    let mut c = srv.client();
    let info: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn info_sections_and_commandstats() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    // The client library's connection handshake (CLIENT SETINFO, which Redis 7.0 does
    // not have) already counted errors: start from zero.
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let _ = err_of(&mut c, redis::cmd("INCRBY").arg("a").arg("x"));
    let info: String = redis::cmd("INFO").arg("all").query(&mut c).unwrap();
    for needle in [
        "# Server",
        "redis_version:7.0.15",
        "# Clients",
        "connected_clients:1",
        "# Keyspace",
        "db0:keys=1,expires=0",
        "cmdstat_set:calls=1",
        "errorstat_ERR:count=1",
        "# Memory",
        "used_memory:",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle}: {info}");
    }
}

#[test]
fn maxmemory_allkeys_lru_evicts_and_noeviction_refuses() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let used: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
    let used: u64 = used
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let limit = used + 2 * 1024 * 1024;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut c)
        .unwrap();
    let val = "x".repeat(1000);
    for i in 0..10_000 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&val)
            .query(&mut c)
            .unwrap();
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert!(n < 10_000 && n > 100, "eviction kept {n} keys");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(!info.contains("evicted_keys:0\r"), "{info}");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .arg("maxmemory")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let e = err_of(&mut c, redis::cmd("SET").arg("new").arg("v"));
    assert_eq!(e, "OOM command not allowed when used memory > 'maxmemory'.");
    let v: Option<String> = redis::cmd("GET")
        .arg(format!("k{}", 9999))
        .query(&mut c)
        .unwrap();
    assert!(v.is_some(), "reads still work under OOM");
}

#[test]
fn client_commands() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut c)
        .unwrap();
    let name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut c).unwrap();
    assert_eq!(name, "worker-1");
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=worker-1"),
        "{list}"
    );
    let e = err_of(&mut c, redis::cmd("CLIENT").arg("SETNAME").arg("a b"));
    assert_eq!(
        e,
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    let mut other = srv.client();
    let oid: i64 = redis::cmd("CLIENT").arg("ID").query(&mut other).unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(oid)
        .query(&mut c)
        .unwrap();
    assert_eq!(killed, 1);
    wait_until("the killed client disconnected", || {
        redis::cmd("PING").query::<String>(&mut other).is_err()
    });
}

/// Cluster client commands answer as a Redis with cluster support disabled (clients send
/// READONLY on connect when configured for replicas; ACL rules name them).
#[test]
fn cluster_client_commands_say_cluster_is_disabled() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    for name in ["READONLY", "READWRITE", "ASKING"] {
        assert_eq!(
            err(c, &[name]),
            "ERR This instance has cluster support disabled"
        );
    }
}

/// A client that sends its commands and shuts its side down at once (`printf ... | nc
/// -N`) gets every reply, then the close: the FIN that came with the data must not be
/// missed (epoll reports it once). With the AOF on too, whose buffer holds the replies.
#[test]
fn a_half_closing_client_gets_its_replies_and_the_close() {
    for extra in [&[][..], &["--appendonly", "yes"][..]] {
        let srv = Server::start(extra);
        for _ in 0..20 {
            let mut s = srv.raw();
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            std::io::Write::write_all(&mut s, b"SET a 1\r\nINCR a\r\nGET a\r\n").unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut s, &mut got).expect("replies then end-of-file");
            assert_eq!(got, b"+OK\r\n:2\r\n$1\r\n2\r\n", "{extra:?}");
        }
    }
}

/// `daemonize yes`: the command returns at once (the server goes on in a child of its
/// own session), writes its pid file and serves.
#[test]
fn daemonize_yes_returns_and_the_server_serves() {
    let dir = temp_dir("daemon");
    let port = free_port();
    let pidfile = dir.join("d.pid");
    let mut c = Command::new(bin())
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--daemonize", "yes", "--logfile", "d.log"])
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--dir")
        .arg(&dir)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = c.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the launcher never returned"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    wait_until("the pid file", || pidfile.exists());
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pid as u32, c.id());
    let url = format!("redis://127.0.0.1:{port}/");
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let pong: String = q(&mut con, &["PING"]);
    assert_eq!(pong, "PONG");
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut con);
    wait_until("the daemon exits", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    });
    let _ = std::fs::remove_dir_all(&dir);
}
