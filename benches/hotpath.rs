//! Micro-benchmarks of the per-request path: RESP parsing, reply encoding, dispatch through
//! the command table, keyspace at 1M keys, and rustls record encryption + decryption.
//! Kept short (small samples, 1 s measurements): `cargo bench --bench hotpath`.
mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrokv::commands::{execute, families, Table};
use ferrokv::config::{file::Extras, Config};
use ferrokv::keyspace::{Keyspace, Value, NO_EXPIRE};
use ferrokv::net::{Conn, Stream};
use ferrokv::reactor::process_input;
use ferrokv::resp::{parse_request, Args, Reply, Request};
use ferrokv::server::{Client, ClientKind, Ctx, Server};
use std::io::{Read, Write};
use std::sync::Arc;

fn resp_command(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        v.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        v.extend_from_slice(p);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Parse every command in `buf`, as the reactor does; returns the number parsed.
fn parse_all(buf: &[u8], spans: &mut Vec<(u32, u32)>, scratch: &mut Vec<u8>) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while pos < buf.len() {
        match parse_request(&buf[pos..], spans, scratch, 512 << 20) {
            Ok(Request::Command { consumed, .. }) => {
                pos += consumed;
                n += 1;
            }
            Ok(Request::Skip { consumed }) => pos += consumed,
            _ => break,
        }
    }
    n
}

fn parsing(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp_parse");
    let mut pipeline = Vec::new();
    for i in 0..16 {
        let key = format!("key:{i:06}");
        if i % 2 == 0 {
            pipeline.extend(resp_command(&[b"SET", key.as_bytes(), &[b'x'; 64]]));
        } else {
            pipeline.extend(resp_command(&[b"GET", key.as_bytes()]));
        }
    }
    let big = resp_command(&[b"SET", b"big", &vec![b'v'; 1 << 20]]);
    let mut spans = Vec::with_capacity(16);
    let mut scratch = Vec::new();
    g.throughput(Throughput::Elements(16));
    g.bench_function("pipeline_16", |b| {
        b.iter(|| parse_all(black_box(&pipeline), &mut spans, &mut scratch))
    });
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("bulk_1MiB", |b| {
        b.iter(|| parse_all(black_box(&big), &mut spans, &mut scratch))
    });
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("reply_encode");
    let mut out = Reply::default();
    let val = [b'x'; 100];
    g.bench_function("bulk_100B", |b| {
        b.iter(|| {
            out.buf.clear();
            out.bulk(black_box(&val));
        })
    });
    g.bench_function("int", |b| {
        b.iter(|| {
            out.buf.clear();
            out.int(black_box(1234567));
        })
    });
    g.bench_function("ok", |b| {
        b.iter(|| {
            out.buf.clear();
            out.ok();
        })
    });
    let items: Vec<[u8; 3]> = (0..100).map(|_| *b"xxx").collect();
    g.bench_function("array_100_bulks", |b| {
        b.iter(|| {
            out.buf.clear();
            out.array(items.len());
            for it in &items {
                out.bulk(black_box(it));
            }
        })
    });
    g.finish();
}

/// A server with one plain client on a loopback socket (never polled) and the mio poll
/// whose registry it holds.
fn bench_server() -> (Server, usize, mio::Poll, std::net::TcpStream) {
    let poll = mio::Poll::new().unwrap();
    let registry = poll.registry().try_clone().unwrap();
    let table = Table::build(&families());
    let srv = Server::new(Config::default(), Extras::default(), None, table, registry);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, addr) = l.accept().unwrap();
    s.set_nonblocking(true).unwrap();
    let conn = Conn::plain(Stream::Tcp(mio::net::TcpStream::from_std(s)));
    let mut srv = srv;
    let idx = srv.net.clients.insert(Client::new(
        1,
        conn,
        ClientKind::Tcp,
        addr.to_string(),
        "127.0.0.1:0".into(),
    ));
    (srv, idx, poll, peer)
}

fn dispatch(c: &mut Criterion) {
    let (mut srv, idx, _poll, _peer) = bench_server();
    let mut g = c.benchmark_group("dispatch");
    let set = resp_command(&[b"SET", b"key:000001", &[b'x'; 100]]);
    let get = resp_command(&[b"GET", b"key:000001"]);
    let incr = resp_command(&[b"INCR", b"counter"]);
    let mut out = Reply::default();
    for (name, req) in [("set_100B", &set), ("get_100B", &get), ("incr", &incr)] {
        let mut spans = Vec::new();
        let mut scratch = Vec::new();
        parse_request(req, &mut spans, &mut scratch, 512 << 20).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                out.buf.clear();
                let mut ctx = Ctx {
                    srv: &mut srv,
                    out: &mut out,
                    id: idx,
                    db: 0,
                };
                execute(&mut ctx, Args::new(black_box(req), &spans));
            })
        });
    }
    // The whole user-space path of a 16-command pipeline already in the read buffer:
    // parse, look up, execute, encode (what the reactor does per readable event).
    let mut pipeline = Vec::new();
    for i in 0..16 {
        let key = format!("key:{:06}", i * 7);
        if i % 2 == 0 {
            pipeline.extend(resp_command(&[b"SET", key.as_bytes(), &[b'x'; 100]]));
        } else {
            pipeline.extend(resp_command(&[b"GET", key.as_bytes()]));
        }
    }
    g.throughput(Throughput::Elements(16));
    g.bench_function("process_input_pipeline_16", |b| {
        b.iter(|| {
            let c = &mut srv.net.clients[idx];
            c.rbuf.extend_from_slice(&pipeline);
            c.out.buf.clear();
            process_input(&mut srv, idx);
        })
    });
    g.finish();
}

fn keyspace(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let keys: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    let mut ks = Keyspace::new(1);
    let db = &mut ks.dbs[0];
    for k in &keys {
        db.set(k, Value::from_bytes(&[b'v'; 100]), NO_EXPIRE, false);
    }
    let mut g = c.benchmark_group("keyspace_1M");
    let mut i = 0usize;
    g.bench_function("lookup_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            black_box(db.get(&keys[i]).is_some())
        })
    });
    g.bench_function("lookup_miss", |b| {
        b.iter(|| black_box(db.get(b"key:missing-one").is_some()))
    });
    g.bench_function("overwrite", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            db.set(&keys[i], Value::from_bytes(&[b'w'; 100]), NO_EXPIRE, false)
        })
    });
    let mut fresh = 0u64;
    g.bench_function("insert_new_then_delete", |b| {
        b.iter(|| {
            fresh += 1;
            let k = format!("new:{fresh:012}");
            db.set(k.as_bytes(), Value::from_bytes(b"v"), NO_EXPIRE, false);
            db.remove(k.as_bytes());
        })
    });
    g.finish();
}

/// An in-memory rustls client/server pair, handshake done.
fn tls_pair() -> (rustls::ClientConnection, rustls::ServerConnection) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let server_cfg = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client_cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut cl = rustls::ClientConnection::new(Arc::new(client_cfg), name).unwrap();
    let mut sv = rustls::ServerConnection::new(Arc::new(server_cfg)).unwrap();
    let mut buf = Vec::new();
    while cl.is_handshaking() || sv.is_handshaking() {
        buf.clear();
        cl.write_tls(&mut buf).unwrap();
        sv.read_tls(&mut &buf[..]).unwrap();
        sv.process_new_packets().unwrap();
        buf.clear();
        sv.write_tls(&mut buf).unwrap();
        cl.read_tls(&mut &buf[..]).unwrap();
        cl.process_new_packets().unwrap();
    }
    // Drain post-handshake messages (TLS 1.3 tickets).
    buf.clear();
    sv.write_tls(&mut buf).unwrap();
    cl.read_tls(&mut &buf[..]).unwrap();
    cl.process_new_packets().unwrap();
    (cl, sv)
}

fn tls_records(c: &mut Criterion) {
    let (mut cl, mut sv) = tls_pair();
    let mut g = c.benchmark_group("tls_record");
    let mut wire = Vec::with_capacity(64 * 1024);
    let mut plain = vec![0u8; 64 * 1024];
    for size in [5usize, 100, 1024, 16 * 1024] {
        let payload = vec![b'r'; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("server_encrypt_client_decrypt_{size}B"), |b| {
            b.iter(|| {
                sv.writer().write_all(black_box(&payload)).unwrap();
                wire.clear();
                while sv.wants_write() {
                    sv.write_tls(&mut wire).unwrap();
                }
                let mut rd = &wire[..];
                while !rd.is_empty() {
                    cl.read_tls(&mut rd).unwrap();
                    cl.process_new_packets().unwrap();
                }
                let mut got = 0;
                while got < size {
                    got += cl.reader().read(&mut plain).unwrap();
                }
                got
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = parsing, encoding, dispatch, keyspace, tls_records
}
criterion_main!(benches);
