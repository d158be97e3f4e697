//! TLS listener tests with certificates made in the test (rcgen) and real TLS clients.
use crate::common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn path(&self, f: &str) -> String {
        self.dir.join(f).display().to_string()
    }
}

fn write(dir: &Path, name: &str, data: &str) {
    std::fs::write(dir.join(name), data).unwrap();
}

/// A CA, a server cert for localhost/127.0.0.1, a client cert (CN given), and a client cert
/// from an unrelated CA.
pub fn make_pki(client_cn: &str) -> Pki {
    let dir = temp_dir("pki");
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ferrokv test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    write(&dir, "ca.crt", &ca.pem());

    let srv_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".into()]).unwrap();
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    p.distinguished_name
        .push(DnType::CommonName, "ferrokv server");
    let srv = p.signed_by(&srv_key, &ca, &ca_key).unwrap();
    write(&dir, "server.crt", &srv.pem());
    write(&dir, "server.key", &srv_key.serialize_pem());

    let cl_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, client_cn);
    p.extended_key_usages
        .push(ExtendedKeyUsagePurpose::ClientAuth);
    let cl = p.signed_by(&cl_key, &ca, &ca_key).unwrap();
    write(&dir, "client.crt", &cl.pem());
    write(&dir, "client.key", &cl_key.serialize_pem());

    let other_ca_key = KeyPair::generate().unwrap();
    let mut op = CertificateParams::new(Vec::new()).unwrap();
    op.distinguished_name.push(DnType::CommonName, "other CA");
    op.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other_ca = op.self_signed(&other_ca_key).unwrap();
    let rogue_key = KeyPair::generate().unwrap();
    let mut rp = CertificateParams::new(Vec::new()).unwrap();
    rp.distinguished_name.push(DnType::CommonName, "rogue");
    rp.extended_key_usages
        .push(ExtendedKeyUsagePurpose::ClientAuth);
    let rogue = rp.signed_by(&rogue_key, &other_ca, &other_ca_key).unwrap();
    write(&dir, "rogue.crt", &rogue.pem());
    write(&dir, "rogue.key", &rogue_key.serialize_pem());
    Pki { dir }
}

pub fn start_tls(pki: &Pki, extra: &[&str]) -> Server {
    let port = free_port();
    let p = port.to_string();
    let (cert, key, ca) = (
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.path("ca.crt"),
    );
    let mut args = vec![
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
    ];
    args.extend_from_slice(extra);
    Server::start_on(port, &["--port", "0", "--tls-port", &p], &args)
}

/// Connect with the redis crate over rustls, presenting `client` ("client", "rogue" or none).
pub fn tls_client(
    srv: &Server,
    pki: &Pki,
    client: Option<&str>,
) -> redis::RedisResult<redis::Connection> {
    tls_client_at(srv.port, pki, client)
}

pub fn tls_client_at(
    port: u16,
    pki: &Pki,
    client: Option<&str>,
) -> redis::RedisResult<redis::Connection> {
    let ca = std::fs::read(pki.dir.join("ca.crt")).unwrap();
    let client_tls = client.map(|n| redis::ClientTlsConfig {
        client_cert: std::fs::read(pki.dir.join(format!("{n}.crt"))).unwrap(),
        client_key: std::fs::read(pki.dir.join(format!("{n}.key"))).unwrap(),
    });
    let certs = redis::TlsCertificates {
        client_tls,
        root_cert: Some(ca),
    };
    let c = redis::Client::build_with_tls(format!("rediss://localhost:{port}/"), certs)?;
    let conn = c.get_connection_with_timeout(Duration::from_secs(5))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(conn)
}

fn ping(c: &mut redis::Connection) -> redis::RedisResult<String> {
    redis::cmd("PING").query(c)
}

#[test]
fn mtls_required_accepts_valid_client_and_rejects_others() {
    let pki = make_pki("myapp");
    let srv = start_tls(&pki, &[]);
    let mut c = tls_client(&srv, &pki, Some("client")).unwrap();
    assert_eq!(ping(&mut c).unwrap(), "PONG");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("over tls")
        .query(&mut c)
        .unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "over tls");
    // No certificate, or one from another CA: the handshake fails.
    assert!(tls_client(&srv, &pki, None)
        .and_then(|mut c| ping(&mut c))
        .is_err());
    assert!(tls_client(&srv, &pki, Some("rogue"))
        .and_then(|mut c| ping(&mut c))
        .is_err());
    std::thread::sleep(Duration::from_millis(100));
    let log = srv.log();
    assert!(
        log.contains("peer sent no certificates") && log.contains("addr=127.0.0.1:"),
        "{log}"
    );
    // Existing connection unaffected.
    assert_eq!(ping(&mut c).unwrap(), "PONG");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(info.contains("tls_handshakes_ok:1\r"), "{info}");
    assert!(!info.contains("tls_handshakes_failed:0\r"), "{info}");
}

#[test]
fn auth_clients_optional_and_no() {
    let pki = make_pki("myapp");
    let srv = start_tls(&pki, &["--tls-auth-clients", "optional"]);
    assert_eq!(
        ping(&mut tls_client(&srv, &pki, None).unwrap()).unwrap(),
        "PONG"
    );
    assert_eq!(
        ping(&mut tls_client(&srv, &pki, Some("client")).unwrap()).unwrap(),
        "PONG"
    );
    assert!(
        tls_client(&srv, &pki, Some("rogue"))
            .and_then(|mut c| ping(&mut c))
            .is_err(),
        "a presented cert is still verified"
    );
    let srv = start_tls(&pki, &["--tls-auth-clients", "no"]);
    assert_eq!(
        ping(&mut tls_client(&srv, &pki, None).unwrap()).unwrap(),
        "PONG"
    );
}

#[test]
fn plaintext_and_garbage_on_tls_port_do_not_disturb_others() {
    let pki = make_pki("myapp");
    let mut srv = start_tls(&pki, &[]);
    let mut good = tls_client(&srv, &pki, Some("client")).unwrap();
    for req in [
        &b"PING\r\n"[..],
        b"\x16\x03\x01\x00\x05hello",
        b"\x00\x00\x00",
    ] {
        let mut s = srv.raw();
        let _ = raw_roundtrip(&mut s, req, 1);
    }
    // A half handshake that just stalls does not block the loop either.
    let _stalled = srv.raw();
    assert_eq!(ping(&mut good).unwrap(), "PONG");
    assert!(srv.alive());
}

#[test]
fn dual_port_migration_setup() {
    let pki = make_pki("myapp");
    let plain = free_port();
    let tls = free_port();
    let (cert, key, ca) = (
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.path("ca.crt"),
    );
    let srv = Server::start_on(
        plain,
        &["--port", &plain.to_string(), "--tls-port", &tls.to_string()],
        &[
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "optional",
        ],
    );
    let mut c = srv.client();
    let _: () = redis::cmd("SET")
        .arg("shared")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let mut t = tls_client_at(tls, &pki, None).unwrap();
    let v: String = redis::cmd("GET").arg("shared").query(&mut t).unwrap();
    assert_eq!(v, "1");
}

#[test]
fn bad_tls_files_fail_startup_naming_option_and_file() {
    let pki = make_pki("x");
    let port = free_port().to_string();
    let out = std::process::Command::new(bin())
        .args([
            "--port",
            "0",
            "--tls-port",
            &port,
            "--tls-cert-file",
            "/nonexistent/server.crt",
            "--tls-key-file",
            &pki.path("server.key"),
        ])
        .args(["--tls-ca-cert-file", &pki.path("ca.crt")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls-cert-file") && err.contains("/nonexistent/server.crt"),
        "{err}"
    );
    // A key that does not match the certificate.
    let out = std::process::Command::new(bin())
        .args([
            "--port",
            "0",
            "--tls-port",
            &port,
            "--tls-cert-file",
            &pki.path("server.crt"),
            "--tls-key-file",
            &pki.path("client.key"),
        ])
        .args(["--tls-ca-cert-file", &pki.path("ca.crt")])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "mismatched key must fail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // TLSv1.1 is refused with a clear message.
    let out = std::process::Command::new(bin())
        .args([
            "--port",
            "0",
            "--tls-port",
            &port,
            "--tls-cert-file",
            &pki.path("server.crt"),
            "--tls-key-file",
            &pki.path("server.key"),
        ])
        .args([
            "--tls-ca-cert-file",
            &pki.path("ca.crt"),
            "--tls-protocols",
            "TLSv1.1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLSv1.1 is insecure"));
}
