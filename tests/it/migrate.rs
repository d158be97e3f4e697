//! MIGRATE on an outgoing link of the event loop: only the calling client waits for the
//! target; keys written meanwhile are kept; MULTI waits on the socket as Redis does.
use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A target that takes MIGRATE's connection, reads its request, tells the test what it
/// read, and answers `+OK` to `replies` commands only when the test says so (or never,
/// if the sender is dropped).
struct HeldTarget {
    port: u16,
    got: mpsc::Receiver<Vec<u8>>,
    answer: mpsc::Sender<()>,
}

fn held_target(replies: usize) -> HeldTarget {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (got_tx, got) = mpsc::channel();
    let (answer, answer_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        // Read until the request has stopped coming for 200 ms.
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => req.extend_from_slice(&buf[..n]),
                Err(_) if !req.is_empty() => break,
                Err(_) => {}
            }
        }
        let _ = got_tx.send(req);
        if answer_rx.recv().is_ok() {
            let _ = s.write_all("+OK\r\n".repeat(replies).as_bytes());
        }
        // Keep the connection until the test ends.
        let _ = answer_rx.recv();
    });
    HeldTarget { port, got, answer }
}

/// MIGRATE from a thread: its reply (Ok text or the error's text).
fn migrate_in_thread(
    src: &Server,
    args: Vec<String>,
) -> (u64, thread::JoinHandle<Result<String, String>>) {
    let mut c = src.client();
    let id: u64 = q(&mut c, &["CLIENT", "ID"]);
    let h = thread::spawn(move || {
        let mut cmd = redis::cmd("MIGRATE");
        for a in &args {
            cmd.arg(a);
        }
        cmd.query::<String>(&mut c).map_err(|e| {
            let code = e.code().unwrap_or("").to_string();
            format!("{code} {}", e.detail().unwrap_or(""))
        })
    });
    (id, h)
}

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| w.to_string()).collect()
}

/// A source holding k = v migrating it (with this timeout) to a held target that has
/// its request: the source, the target, another client of the source, and the
/// migrating client's id and thread.
struct Migrating {
    src: Server,
    t: HeldTarget,
    b: redis::Connection,
    id: u64,
    h: thread::JoinHandle<Result<String, String>>,
    request: Vec<u8>,
}

fn migrating_k(timeout_ms: &str) -> Migrating {
    let src = Server::start(&[]);
    let t = held_target(2);
    let mut b = src.client();
    q::<()>(&mut b, &["SET", "k", "v"]);
    let port = t.port.to_string();
    let (id, h) = migrate_in_thread(&src, words(&["127.0.0.1", &port, "k", "0", timeout_ms]));
    let request = t.got.recv_timeout(Duration::from_secs(5)).unwrap();
    Migrating {
        src,
        t,
        b,
        id,
        h,
        request,
    }
}

#[test]
fn other_clients_are_served_while_migrate_waits_for_its_target() {
    let Migrating {
        src: _src,
        t,
        mut b,
        id,
        h,
        request,
    } = migrating_k("10000");
    // The request reached the target, which says nothing yet.
    assert!(String::from_utf8_lossy(&request).contains("RESTORE"));
    // Everyone else is served meanwhile (Redis would not answer for up to 10 s).
    b.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(q::<String>(&mut b, &["PING"]), "PONG");
    q::<()>(&mut b, &["SET", "other", "1"]);
    // The waiting client shows as blocked, and CLIENT UNBLOCK cannot release it.
    let list: String = q(&mut b, &["CLIENT", "LIST", "ID", &id.to_string()]);
    assert!(list.contains("cmd=migrate"), "{list}");
    assert_eq!(
        q::<i64>(&mut b, &["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]),
        0
    );
    assert!(!h.is_finished());
    t.answer.send(()).unwrap();
    assert_eq!(h.join().unwrap().unwrap(), "OK");
    assert_eq!(q::<i64>(&mut b, &["EXISTS", "k"]), 0, "moved");
}

#[test]
fn a_silent_target_times_out_without_stopping_the_server() {
    // `_src` keeps the server alive (a field left to `..` would drop it here).
    let Migrating {
        src: _src,
        t,
        mut b,
        h,
        ..
    } = migrating_k("300");
    let e = h.join().unwrap().unwrap_err();
    assert!(e.contains("IOERR") && e.contains("reading"), "{e}");
    assert_eq!(q::<String>(&mut b, &["GET", "k"]), "v", "kept on failure");
    // Nothing listens here: the connect fails.
    let closed = free_port().to_string();
    let e = err(&mut b, &["MIGRATE", "127.0.0.1", &closed, "k", "0", "300"]);
    assert!(e.contains("IOERR") && e.contains("connecting"), "{e}");
    drop(t);
}

#[test]
fn a_key_written_during_the_transfer_is_kept() {
    let src = Server::start(&[]);
    // SELECT + two RESTOREs.
    let t = held_target(3);
    let mut b = src.client();
    q::<()>(&mut b, &["SET", "k1", "old"]);
    q::<()>(&mut b, &["SET", "k2", "v2"]);
    let port = t.port.to_string();
    let (_, h) = migrate_in_thread(
        &src,
        words(&["127.0.0.1", &port, "", "0", "10000", "KEYS", "k1", "k2"]),
    );
    t.got.recv_timeout(Duration::from_secs(5)).unwrap();
    q::<()>(&mut b, &["SET", "k1", "new"]);
    t.answer.send(()).unwrap();
    let e = h.join().unwrap().unwrap_err();
    assert!(e.contains("1 key(s) were written here"), "{e}");
    // The target took the old value; the newer one stays here, the other key moved.
    assert_eq!(q::<String>(&mut b, &["GET", "k1"]), "new");
    assert_eq!(q::<i64>(&mut b, &["EXISTS", "k2"]), 0);
}

#[test]
fn keys_stay_when_the_client_goes_away_during_the_transfer() {
    let Migrating {
        src,
        t,
        mut b,
        id,
        h,
        ..
    } = migrating_k("10000");
    assert_eq!(
        q::<i64>(&mut b, &["CLIENT", "KILL", "ID", &id.to_string()]),
        1
    );
    assert!(h.join().unwrap().is_err());
    t.answer.send(()).unwrap();
    wait_until("the target's answer is handled", || {
        src.log().contains("client went away")
    });
    assert_eq!(q::<String>(&mut b, &["GET", "k"]), "v");
    assert_eq!(q::<String>(&mut b, &["PING"]), "PONG");
}

#[test]
fn migrate_inside_multi_and_scripts_waits_as_redis_does() {
    let src = Server::start(&[]);
    let dst = Server::start(&[]);
    let port = dst.port.to_string();
    let mut a = src.client();
    q::<()>(&mut a, &["SET", "k1", "v1"]);
    q::<()>(&mut a, &["SET", "k2", "v2"]);
    let replies: Vec<String> = redis::pipe()
        .atomic()
        .cmd("MIGRATE")
        .arg(&["127.0.0.1", &port, "k1", "0", "2000"])
        .cmd("GET")
        .arg("k1")
        .query::<Vec<Option<String>>>(&mut a)
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_default())
        .collect();
    assert_eq!(replies, vec!["OK".to_string(), String::new()]);
    let r: String = q(
        &mut a,
        &[
            "EVAL",
            "return redis.call('MIGRATE', ARGV[1], ARGV[2], KEYS[1], 0, 2000)",
            "1",
            "k2",
            "127.0.0.1",
            &port,
        ],
    );
    assert_eq!(r, "OK");
    let mut d = dst.client();
    assert_eq!(q::<String>(&mut d, &["GET", "k1"]), "v1");
    assert_eq!(q::<String>(&mut d, &["GET", "k2"]), "v2");
    // The transfers reused one cached connection.
    let info: String = q(&mut a, &["INFO", "stats"]);
    assert!(info.contains("migrate_cached_sockets:1"), "{info}");
    // A silent target inside MULTI: the step timeout ends the wait.
    let t = held_target(2);
    let silent = t.port.to_string();
    let r = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&["k3", "v"])
        .ignore()
        .cmd("MIGRATE")
        .arg(&["127.0.0.1", &silent, "k3", "0", "300"])
        .query::<Vec<redis::Value>>(&mut a);
    assert!(format!("{r:?}").contains("IOERR"), "{r:?}");
    assert_eq!(q::<String>(&mut a, &["GET", "k3"]), "v");
}
