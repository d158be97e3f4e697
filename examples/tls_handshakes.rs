//! Handshakes per second against a running TLS server, full and resumed, with rustls.
//! usage: cargo run --release --example tls_handshakes -- PORT CA CLIENT_CRT CLIENT_KEY [N] [tls12|tls13]
//! Each connection does the handshake and one PING round trip, then closes.
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 5 {
        eprintln!("usage: tls_handshakes PORT CA CLIENT_CRT CLIENT_KEY [N] [tls12|tls13]");
        std::process::exit(2);
    }
    let port: u16 = a[1].parse().expect("port");
    let n: usize = a.get(5).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let version = match a.get(6).map(String::as_str) {
        Some("tls12") => &rustls::version::TLS12,
        _ => &rustls::version::TLS13,
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&a[2]).expect("CA") {
        roots.add(c.expect("CA PEM")).expect("CA cert");
    }
    let certs: Vec<_> = CertificateDer::pem_file_iter(&a[3])
        .expect("client cert")
        .map(|c| c.expect("client cert PEM"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(&a[4]).expect("client key");
    let make = |resume: bool| {
        let mut c = rustls::ClientConfig::builder_with_protocol_versions(&[version])
            .with_root_certificates(roots.clone())
            .with_client_auth_cert(certs.clone(), key.clone_key())
            .expect("client config");
        if !resume {
            c.resumption = rustls::client::Resumption::disabled();
        }
        Arc::new(c)
    };
    for (label, cfg) in [("full", make(false)), ("resumed", make(true))] {
        one(port, &cfg); // warm-up (and the first ticket for the resumed run)
        let t = Instant::now();
        let mut resumed = 0;
        for _ in 0..n {
            resumed += one(port, &cfg) as usize;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{label:8} {:?}: {n} handshakes in {secs:.2}s = {:.0}/s ({resumed} resumed)",
            version.version,
            n as f64 / secs
        );
    }
}

/// One connection: handshake, PING, close. Returns whether the session was resumed.
fn one(port: u16, cfg: &Arc<rustls::ClientConfig>) -> bool {
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_nodelay(true).ok();
    let mut conn = rustls::ClientConnection::new(cfg.clone(), "localhost".try_into().unwrap())
        .expect("client connection");
    let mut s = rustls::Stream::new(&mut conn, &mut sock);
    s.write_all(b"PING\r\n").expect("write");
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"+PONG\r\n");
    let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    conn.send_close_notify();
    let _ = conn.write_tls(&mut sock);
    resumed
}
