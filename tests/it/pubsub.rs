//! Pub/Sub across clients (RESP2 and RESP3), patterns, sharded channels, subscribed-mode
//! rules, output-buffer limits and keyspace notifications.
use crate::common::*;
use redis::{Msg, PushKind, Value};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn publish(c: &mut redis::Connection, ch: &str, msg: &str) -> i64 {
    redis::cmd("PUBLISH").arg(ch).arg(msg).query(c).unwrap()
}

fn numsub(c: &mut redis::Connection, ch: &str) -> i64 {
    let v: Vec<Value> = redis::cmd("PUBSUB").arg("NUMSUB").arg(ch).query(c).unwrap();
    match &v[1] {
        Value::Int(n) => *n,
        other => panic!("{other:?}"),
    }
}

/// Poll until `f` holds (bounded; not a timing assertion).
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// SUBSCRIBE on a raw connection, reading exactly the confirmation.
fn subscribe_raw(s: &mut std::net::TcpStream, ch: &str) {
    let want = format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len());
    let got = raw_roundtrip(s, format!("SUBSCRIBE {ch}\r\n").as_bytes(), want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

fn text(m: &Msg) -> (String, String) {
    (m.get_channel_name().to_string(), m.get_payload().unwrap())
}

#[test]
fn publish_reaches_channel_and_pattern_subscribers() {
    let srv = Server::start(&[]);
    let mut publ = srv.client();
    let mut c1 = srv.client();
    let mut c2 = srv.client();
    let mut s1 = c1.as_pubsub();
    s1.subscribe(&["news.tech", "news.art"]).unwrap();
    let mut s2 = c2.as_pubsub();
    s2.psubscribe("news.*").unwrap();

    assert_eq!(publish(&mut publ, "news.tech", "rust"), 2);
    assert_eq!(publish(&mut publ, "news.sport", "ball"), 1);
    assert_eq!(publish(&mut publ, "weather", "rain"), 0);

    let m = s1.get_message().unwrap();
    assert_eq!(text(&m), ("news.tech".into(), "rust".into()));
    assert!(!m.from_pattern());
    let m = s2.get_message().unwrap();
    assert_eq!(text(&m), ("news.tech".into(), "rust".into()));
    assert_eq!(m.get_pattern::<String>().unwrap(), "news.*");
    let m = s2.get_message().unwrap();
    assert_eq!(text(&m), ("news.sport".into(), "ball".into()));

    // Introspection.
    let chans: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("news.t*")
        .query(&mut publ)
        .unwrap();
    assert_eq!(chans, vec!["news.tech"]);
    assert_eq!(numsub(&mut publ, "news.art"), 1);
    let n: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut publ).unwrap();
    assert_eq!(n, 1);
    let info: String = redis::cmd("INFO").arg("stats").query(&mut publ).unwrap();
    assert!(info.contains("pubsub_channels:2\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:1\r\n"), "{info}");

    // Unsubscribing and closing remove the registrations.
    s1.unsubscribe("news.art").unwrap();
    assert_eq!(numsub(&mut publ, "news.art"), 0);
    drop(s1);
    drop(c1);
    assert!(eventually(|| numsub(&mut publ, "news.tech") == 0));
    drop(s2);
    drop(c2);
    assert!(eventually(|| publish(&mut publ, "news.x", "-") == 0));
}

#[test]
fn resp2_subscribed_mode_allows_only_pubsub_commands() {
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    subscribe_raw(&mut s, "a");
    let r = raw_roundtrip(&mut s, b"GET a\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    let r = raw_roundtrip(&mut s, b"PING\r\n", 20);
    assert_eq!(r, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    let r = raw_roundtrip(&mut s, b"PING hi\r\n", 22);
    assert_eq!(r, b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    // UNSUBSCRIBE without arguments when subscribed to nothing still replies.
    let r = raw_roundtrip(&mut s, b"UNSUBSCRIBE\r\nPUNSUBSCRIBE\r\n", 60);
    assert_eq!(
        r,
        b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
    );
    let r = raw_roundtrip(&mut s, b"PING\r\n", 7);
    assert_eq!(r, b"+PONG\r\n", "out of Pub/Sub mode");
    // RESET leaves Pub/Sub mode silently.
    let r = raw_roundtrip(&mut s, b"PSUBSCRIBE p*\r\nRESET\r\nGET a\r\n", 46);
    assert!(
        r.ends_with(b"+RESET\r\n$-1\r\n"),
        "{}",
        String::from_utf8_lossy(&r)
    );
}

#[test]
fn resp3_subscriber_gets_pushes_and_may_run_commands() {
    let srv = Server::start(&[]);
    let mut publ = srv.client();
    let client = redis::Client::open(format!("{}?protocol=resp3", srv.url())).unwrap();
    let mut c = client.get_connection().unwrap();
    let (tx, rx) = mpsc::channel();
    c.set_push_sender(tx);
    c.subscribe_resp3("chan").unwrap();
    c.psubscribe_resp3("ch*").unwrap();
    // A round trip makes sure both subscriptions are in place.
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG", "RESP3 subscribers get the normal PING reply");
    assert_eq!(publish(&mut publ, "chan", "hello"), 2);
    // Any command reads the pushes that arrived before its reply.
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, None, "RESP3 subscribers may run normal commands");
    let kinds: Vec<PushKind> = rx.try_iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        vec![
            PushKind::Subscribe,
            PushKind::PSubscribe,
            PushKind::Message,
            PushKind::PMessage
        ]
    );
    // Publishing to itself: the push comes before PUBLISH's reply.
    let n: i64 = redis::cmd("PUBLISH")
        .arg("chan")
        .arg("me")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let msgs: Vec<redis::PushInfo> = rx.try_iter().collect();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].data[1], Value::BulkString(b"me".to_vec()));
}

#[test]
fn sharded_channels_ignore_patterns() {
    let srv = Server::start(&[]);
    let mut publ = srv.client();
    let mut s = srv.raw();
    let r = raw_roundtrip(&mut s, b"SSUBSCRIBE sh\r\n", 33);
    assert!(r.starts_with(b"*3\r\n$10\r\nssubscribe\r\n$2\r\nsh\r\n:1\r\n"));
    let r = raw_roundtrip(&mut s, b"PSUBSCRIBE *\r\n", 32);
    assert_eq!(r, b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n");
    let n: i64 = redis::cmd("SPUBLISH")
        .arg("sh")
        .arg("m")
        .query(&mut publ)
        .unwrap();
    assert_eq!(n, 1, "only the shard subscriber, not the pattern");
    let mut want = b"*3\r\n$8\r\nsmessage\r\n$2\r\nsh\r\n$1\r\nm\r\n".to_vec();
    let got = raw_roundtrip(&mut s, b"", want.len());
    assert_eq!(got, want);
    let v: Vec<Value> = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg("sh")
        .arg("none")
        .query(&mut publ)
        .unwrap();
    assert_eq!(v[1], Value::Int(1));
    assert_eq!(v[3], Value::Int(0));
    let chans: Vec<String> = redis::cmd("PUBSUB")
        .arg("SHARDCHANNELS")
        .query(&mut publ)
        .unwrap();
    assert_eq!(chans, vec!["sh"]);
    want = b"*3\r\n$12\r\nsunsubscribe\r\n$2\r\nsh\r\n:0\r\n".to_vec();
    assert_eq!(raw_roundtrip(&mut s, b"SUNSUBSCRIBE\r\n", want.len()), want);
}

#[test]
fn slow_subscriber_is_disconnected_by_pubsub_output_limit() {
    let srv = Server::start(&["--client-output-buffer-limit", "pubsub 64kb 0 0"]);
    let mut publ = srv.client();
    let mut s = srv.raw();
    subscribe_raw(&mut s, "big");
    // The subscriber never reads; the socket buffers fill, then the limit applies.
    let payload = "x".repeat(1 << 20);
    let mut sent = 0;
    while numsub(&mut publ, "big") == 1 && sent < 200 {
        publish(&mut publ, "big", &payload);
        sent += 1;
    }
    assert!(sent < 200, "subscriber was never disconnected");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut publ).unwrap();
    assert!(
        info.contains("client_output_buffer_limit_disconnections:1"),
        "{info}"
    );
}

#[test]
fn slow_subscriber_of_many_small_messages_is_disconnected() {
    let srv = Server::start(&["--client-output-buffer-limit", "pubsub 256kb 0 0"]);
    let mut publ = srv.client();
    let mut s = srv.raw();
    subscribe_raw(&mut s, "small");
    // Once its socket is full, the limit must still apply to what queues up behind it.
    let payload = "y".repeat(8 << 10);
    let mut sent = 0;
    while sent < 5000 && publish(&mut publ, "small", &payload) == 1 {
        sent += 1;
    }
    assert!(sent < 5000, "subscriber was never disconnected");
    assert!(eventually(|| numsub(&mut publ, "small") == 0));
}

#[test]
fn subscribers_are_exempt_from_idle_timeout() {
    let srv = Server::start(&["--timeout", "1"]);
    let mut publ = srv.client();
    let mut s = srv.raw();
    subscribe_raw(&mut s, "idle");
    let mut idle = srv.raw();
    raw_roundtrip(&mut idle, b"PING\r\n", 7);
    // The plain idle client goes, the subscriber stays.
    assert!(eventually(|| {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut publ).unwrap();
        list.lines().count() == 2
    }));
    assert_eq!(publish(&mut publ, "idle", "still here"), 1);
}

#[test]
fn keyspace_notifications() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let mut sub = srv.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut c)
        .unwrap();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__key*__:*").unwrap();
    ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut next = || {
        let m = ps.get_message().unwrap();
        let (ch, payload) = text(&m);
        format!("{ch} {payload}")
    };
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    assert_eq!(next(), "__keyspace@0__:k set");
    assert_eq!(next(), "__keyevent@0__:set k");
    let _: i64 = redis::cmd("DEL").arg("k").query(&mut c).unwrap();
    assert_eq!(next(), "__keyspace@0__:k del");
    assert_eq!(next(), "__keyevent@0__:del k");
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let _: i64 = redis::cmd("LPUSH").arg("l").arg("a").query(&mut c).unwrap();
    assert_eq!(next(), "__keyspace@3__:l lpush");
    assert_eq!(next(), "__keyevent@3__:lpush l");
    let _: String = redis::cmd("RPOP").arg("l").query(&mut c).unwrap();
    assert_eq!(next(), "__keyspace@3__:l rpop");
    assert_eq!(next(), "__keyevent@3__:rpop l");
    assert_eq!(next(), "__keyspace@3__:l del", "emptied list is deleted");
    assert_eq!(next(), "__keyevent@3__:del l");

    // Masks: only keyevent, only expired events.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Ex")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("1")
        .arg("PX")
        .arg(30)
        .query(&mut c)
        .unwrap();
    // The active expiry cycle deletes it without anybody touching it.
    assert_eq!(next(), "__keyevent@3__:expired t");
    // A read finding an expired key (active expiry off) emits it as well.
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("u")
        .arg("1")
        .arg("PX")
        .arg(1)
        .query(&mut c)
        .unwrap();
    std::thread::sleep(Duration::from_millis(10));
    let v: Option<String> = redis::cmd("GET").arg("u").query(&mut c).unwrap();
    assert_eq!(v, None);
    assert_eq!(next(), "__keyevent@3__:expired u");
}
