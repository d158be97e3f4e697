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

    // A client certificate from the right CA whose validity ended long ago.
    let exp_key = KeyPair::generate().unwrap();
    let mut ep = CertificateParams::new(Vec::new()).unwrap();
    ep.distinguished_name.push(DnType::CommonName, "expired");
    ep.extended_key_usages
        .push(ExtendedKeyUsagePurpose::ClientAuth);
    ep.not_before = rcgen::date_time_ymd(2020, 1, 1);
    ep.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let exp = ep.signed_by(&exp_key, &ca, &ca_key).unwrap();
    write(&dir, "expired.crt", &exp.pem());
    write(&dir, "expired.key", &exp_key.serialize_pem());

    // A second server pair from the same CA, for rotation, and an expired server pair.
    for (name, cn, expired) in [
        ("server2", "ferrokv server 2", false),
        ("oldserver", "old server", true),
    ] {
        let k = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".into()]).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        p.distinguished_name.push(DnType::CommonName, cn);
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let c = p.signed_by(&k, &ca, &ca_key).unwrap();
        write(&dir, &format!("{name}.crt"), &c.pem());
        write(&dir, &format!("{name}.key"), &k.serialize_pem());
    }
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
    wait_until("the refusal in the log", || {
        srv.log().contains("peer sent no certificates")
    });
    let log = srv.log();
    assert!(
        log.contains("peer sent no certificates") && log.contains("addr=127.0.0.1:"),
        "{log}"
    );
    // Existing connection unaffected.
    assert_eq!(ping(&mut c).unwrap(), "PONG");
    let info: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    assert!(info.contains("tls_handshakes_done:1\r"), "{info}");
    assert!(info.contains("tls_handshakes_failed:2\r"), "{info}");
    assert!(
        info.contains("tls_handshakes_failed_by_reason:no_client_cert=1,unknown_ca=1\r"),
        "{info}"
    );
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

// ---------------------------------------------------------------------------------------
// Direct rustls clients, for cases the redis crate cannot express (versions, suites,
// resumption, PKCS#12 identities, skipped verification).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CipherSuite, ClientConfig, SupportedProtocolVersion};
use std::io::{Read as _, Write as _};
use std::sync::Arc;

const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A rustls client config: trusts the test CA, presents `client` (a name in the PKI dir),
/// offers `versions` and, if given, only `suites` in that order.
fn client_cfg(
    pki: &Pki,
    client: Option<&str>,
    versions: &[&'static SupportedProtocolVersion],
    suites: Option<&[CipherSuite]>,
) -> Arc<ClientConfig> {
    let ident = client.map(|n| {
        (
            CertificateDer::pem_file_iter(pki.dir.join(format!("{n}.crt")))
                .unwrap()
                .map(|c| c.unwrap())
                .collect::<Vec<_>>(),
            PrivateKeyDer::from_pem_file(pki.dir.join(format!("{n}.key"))).unwrap(),
        )
    });
    config_with(pki, ident, versions, suites, true)
}

fn config_with(
    pki: &Pki,
    ident: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    versions: &[&'static SupportedProtocolVersion],
    suites: Option<&[CipherSuite]>,
    verify_server: bool,
) -> Arc<ClientConfig> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(want) = suites {
        let all = provider.cipher_suites.clone();
        provider.cipher_suites = want
            .iter()
            .map(|w| *all.iter().find(|s| s.suite() == *w).unwrap())
            .collect();
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.dir.join("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap();
    let b = if verify_server {
        b.with_root_certificates(roots)
    } else {
        b.dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify))
    };
    let cfg = match ident {
        Some((certs, key)) => b.with_client_auth_cert(certs, key).unwrap(),
        None => b.with_no_client_auth(),
    };
    Arc::new(cfg)
}

/// What a successful handshake + PING showed.
#[derive(Debug)]
struct Shook {
    resumed: bool,
    version: rustls::ProtocolVersion,
    suite: CipherSuite,
    server_subject: String,
}

fn tls_ping(port: u16, cfg: &Arc<ClientConfig>) -> Result<Shook, String> {
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut conn =
        rustls::ClientConnection::new(cfg.clone(), "localhost".try_into().unwrap()).unwrap();
    let mut s = rustls::Stream::new(&mut conn, &mut sock);
    s.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).map_err(|e| e.to_string())?;
    if &buf != b"+PONG\r\n" {
        return Err(format!("unexpected reply {buf:?}"));
    }
    let cert = conn.peer_certificates().unwrap()[0].clone();
    let (_, x) = x509_parser::parse_x509_certificate(&cert).unwrap();
    Ok(Shook {
        resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        version: conn.protocol_version().unwrap(),
        suite: conn.negotiated_cipher_suite().unwrap().suite(),
        server_subject: x.subject().to_string(),
    })
}

/// The .NET client of the OutSystems guide may skip checking the server's issuer.
#[derive(Debug)]
struct SkipVerify;

impl rustls::client::danger::ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run the binary with TLS arguments expecting a startup failure; returns stderr.
fn startup_error(args: &[&str]) -> String {
    let port = free_port().to_string();
    let out = std::process::Command::new(bin())
        .args(["--port", "0", "--tls-port", &port])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "must fail: {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn info_server(srv: &Server, pki: &Pki) -> String {
    let mut c = tls_client(srv, pki, Some("client")).unwrap();
    redis::cmd("INFO").arg("server").query(&mut c).unwrap()
}

#[test]
fn expired_client_cert_is_rejected_in_yes_and_optional_modes() {
    let pki = make_pki("myapp");
    for mode in ["yes", "optional"] {
        let srv = start_tls(&pki, &["--tls-auth-clients", mode]);
        let err = tls_ping(srv.port, &client_cfg(&pki, Some("expired"), BOTH, None));
        assert!(err.is_err(), "{mode}: expired cert accepted");
        wait_until(&format!("{mode}: cert_expired counted"), || {
            info_server(&srv, &pki).contains("tls_handshakes_failed_by_reason:cert_expired=1\r")
        });
        assert!(srv.log().contains("addr=127.0.0.1:"), "{}", srv.log());
    }
    // With tls-auth-clients no the certificate is not even requested.
    let srv = start_tls(&pki, &["--tls-auth-clients", "no"]);
    assert!(tls_ping(srv.port, &client_cfg(&pki, Some("expired"), BOTH, None)).is_ok());
    assert!(tls_ping(srv.port, &client_cfg(&pki, Some("rogue"), BOTH, None)).is_ok());
}

#[test]
fn client_cert_cn_is_extracted_when_auth_clients_user_is_cn() {
    let pki = make_pki("myapp");
    let srv = start_tls(
        &pki,
        &["--tls-auth-clients-user", "CN", "--loglevel", "verbose"],
    );
    tls_ping(srv.port, &client_cfg(&pki, Some("client"), BOTH, None)).unwrap();
    wait_until("the CN in the log", || srv.log().contains("CN=myapp"));
    assert!(
        srv.log()
            .contains("presented a verified certificate with CN=myapp"),
        "{}",
        srv.log()
    );
    let mut c = tls_client(&srv, &pki, Some("client")).unwrap();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("tls-auth-clients-user")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["tls-auth-clients-user", "CN"]);
}

#[test]
fn protocol_pinning_tls12_only_and_tls13_only() {
    let pki = make_pki("myapp");
    let srv = start_tls(&pki, &["--tls-protocols", "TLSv1.2"]);
    let ok = tls_ping(srv.port, &client_cfg(&pki, Some("client"), BOTH, None)).unwrap();
    assert_eq!(ok.version, rustls::ProtocolVersion::TLSv1_2);
    assert!(tls_ping(srv.port, &client_cfg(&pki, Some("client"), TLS13, None)).is_err());
    let srv = start_tls(&pki, &["--tls-protocols", "TLSv1.3"]);
    let ok = tls_ping(srv.port, &client_cfg(&pki, Some("client"), BOTH, None)).unwrap();
    assert_eq!(ok.version, rustls::ProtocolVersion::TLSv1_3);
    assert!(tls_ping(srv.port, &client_cfg(&pki, Some("client"), TLS12, None)).is_err());
    wait_until("no_shared_protocol_or_cipher counted", || {
        info_server(&srv, &pki).contains("no_shared_protocol_or_cipher=1")
    });
    // The guide's form, both versions in one quoted value, is accepted.
    let srv = start_tls(&pki, &["--tls-protocols", "TLSv1.2 TLSv1.3"]);
    assert!(tls_ping(srv.port, &client_cfg(&pki, Some("client"), TLS12, None)).is_ok());
    assert!(tls_ping(srv.port, &client_cfg(&pki, Some("client"), TLS13, None)).is_ok());
}

#[test]
fn cipher_selection_and_server_or_client_preference() {
    use CipherSuite::{
        TLS13_AES_128_GCM_SHA256 as T13_128, TLS13_AES_256_GCM_SHA384 as T13_256,
        TLS13_CHACHA20_POLY1305_SHA256 as T13_CHACHA,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 as E128,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 as E256,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 as ECHACHA,
    };
    let pki = make_pki("myapp");
    let server_order = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
    let client_order = [E128, E256];
    for (prefer, want) in [("yes", E256), ("no", E128)] {
        let srv = start_tls(
            &pki,
            &[
                "--tls-ciphers",
                server_order,
                "--tls-prefer-server-ciphers",
                prefer,
            ],
        );
        let cfg = client_cfg(&pki, Some("client"), TLS12, Some(&client_order));
        assert_eq!(
            tls_ping(srv.port, &cfg).unwrap().suite,
            want,
            "prefer {prefer}"
        );
        // A suite the server list excludes is refused.
        let cha = client_cfg(&pki, Some("client"), TLS12, Some(&[ECHACHA]));
        assert!(tls_ping(srv.port, &cha).is_err());
    }
    // OpenSSL keywords and operators: DEFAULT:!MEDIUM keeps everything, HIGH:!aNULL:!MD5:!RC4 too,
    // and "-" removes.
    for spec in ["DEFAULT:!MEDIUM", "HIGH:!aNULL:!MD5:!RC4", "ALL:-CHACHA20"] {
        let srv = start_tls(&pki, &["--tls-ciphers", spec]);
        let cfg = client_cfg(&pki, Some("client"), TLS12, Some(&[E128]));
        assert_eq!(tls_ping(srv.port, &cfg).unwrap().suite, E128, "{spec}");
        let cha = client_cfg(&pki, Some("client"), TLS12, Some(&[ECHACHA]));
        assert_eq!(
            tls_ping(srv.port, &cha).is_ok(),
            spec != "ALL:-CHACHA20",
            "{spec}"
        );
    }
    // TLSv1.3 suites from tls-ciphersuites, server order.
    let srv = start_tls(
        &pki,
        &[
            "--tls-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
            "--tls-prefer-server-ciphers",
            "yes",
        ],
    );
    let cfg = client_cfg(&pki, Some("client"), TLS13, Some(&[T13_256, T13_CHACHA]));
    assert_eq!(tls_ping(srv.port, &cfg).unwrap().suite, T13_CHACHA);
    let only128 = client_cfg(&pki, Some("client"), TLS13, Some(&[T13_128]));
    assert!(tls_ping(srv.port, &only128).is_err());
    // CBC-only lists select nothing rustls offers: a startup error naming what is wrong.
    let err = startup_error(&[
        "--tls-cert-file",
        &pki.path("server.crt"),
        "--tls-key-file",
        &pki.path("server.key"),
        "--tls-ca-cert-file",
        &pki.path("ca.crt"),
        "--tls-ciphers",
        "AES128-SHA:ECDHE-RSA-AES256-SHA384",
    ]);
    assert!(
        err.contains("tls-ciphers")
            && err.contains("unsupported: AES128-SHA, ECDHE-RSA-AES256-SHA384"),
        "{err}"
    );
}

#[test]
fn resumption_with_caching_on_and_not_with_it_off() {
    let pki = make_pki("myapp");
    let srv = start_tls(&pki, &[]);
    for versions in [TLS12, TLS13] {
        let cfg = client_cfg(&pki, Some("client"), versions, None);
        assert!(!tls_ping(srv.port, &cfg).unwrap().resumed);
        assert!(tls_ping(srv.port, &cfg).unwrap().resumed, "{versions:?}");
    }
    wait_until("two resumed handshakes counted", || {
        info_server(&srv, &pki).contains("tls_handshakes_resumed:2\r")
    });

    let off = start_tls(&pki, &["--tls-session-caching", "no"]);
    for versions in [TLS12, TLS13] {
        let cfg = client_cfg(&pki, Some("client"), versions, None);
        for _ in 0..3 {
            assert!(!tls_ping(off.port, &cfg).unwrap().resumed, "{versions:?}");
        }
    }
    // A cache timeout of 0 seconds: every session is already stale.
    let stale = start_tls(&pki, &["--tls-session-cache-timeout", "0"]);
    let cfg = client_cfg(&pki, Some("client"), TLS12, None);
    tls_ping(stale.port, &cfg).unwrap();
    assert!(!tls_ping(stale.port, &cfg).unwrap().resumed);
    // Size and timeout are shown by CONFIG GET as set.
    let s = start_tls(
        &pki,
        &[
            "--tls-session-cache-size",
            "0",
            "--tls-session-cache-timeout",
            "3600",
        ],
    );
    let cfg = client_cfg(&pki, Some("client"), TLS13, None);
    tls_ping(s.port, &cfg).unwrap();
    assert!(tls_ping(s.port, &cfg).unwrap().resumed);
    let mut c = tls_client(&s, &pki, Some("client")).unwrap();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("tls-session-cache-*")
        .query(&mut c)
        .unwrap();
    assert!(
        v.windows(2).any(|w| w == ["tls-session-cache-size", "0"]),
        "{v:?}"
    );
    assert!(
        v.windows(2)
            .any(|w| w == ["tls-session-cache-timeout", "3600"]),
        "{v:?}"
    );
}

#[test]
fn config_set_rotation_keeps_100_clients_working() {
    let pki = make_pki("myapp");
    let srv = start_tls(&pki, &[]);
    let mut clients: Vec<redis::Connection> = (0..100)
        .map(|_| tls_client(&srv, &pki, Some("client")).unwrap())
        .collect();
    let mut admin = tls_client(&srv, &pki, Some("client")).unwrap();
    let cfg = client_cfg(&pki, Some("client"), BOTH, None);
    assert!(tls_ping(srv.port, &cfg)
        .unwrap()
        .server_subject
        .contains("CN=ferrokv server"));
    // A failed load answers an error and keeps the old configuration.
    let err: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg(pki.path("server2.crt"))
        .query(&mut admin);
    let msg = format!("{:?}", err.unwrap_err());
    assert!(msg.contains("does not match"), "{msg}");
    let err: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-ca-cert-file")
        .arg("/nonexistent/ca.crt")
        .query(&mut admin);
    assert!(format!("{:?}", err.unwrap_err()).contains("/nonexistent/ca.crt"));
    assert_eq!(
        tls_ping(srv.port, &cfg).unwrap().server_subject,
        "CN=ferrokv server"
    );
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("tls-cert-file")
        .query(&mut admin)
        .unwrap();
    assert_eq!(v[1], pki.path("server.crt"));
    // Rotate the pair in one atomic CONFIG SET.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg(pki.path("server2.crt"))
        .arg("tls-key-file")
        .arg(pki.path("server2.key"))
        .query(&mut admin)
        .unwrap();
    for (i, c) in clients.iter_mut().enumerate() {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(c)
            .unwrap();
        let v: usize = redis::cmd("GET").arg(format!("k{i}")).query(c).unwrap();
        assert_eq!(v, i);
    }
    let fresh = client_cfg(&pki, Some("client"), BOTH, None);
    assert_eq!(
        tls_ping(srv.port, &fresh).unwrap().server_subject,
        "CN=ferrokv server 2"
    );
    let info: String = redis::cmd("INFO").arg("server").query(&mut admin).unwrap();
    assert!(
        info.contains("tls_server_cert_subject:CN=ferrokv server 2\r"),
        "{info}"
    );
    // Other options rebuild the configuration too: TLSv1.3 only from now on.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-protocols")
        .arg("TLSv1.3")
        .query(&mut admin)
        .unwrap();
    assert!(tls_ping(srv.port, &client_cfg(&pki, Some("client"), TLS12, None)).is_err());
    assert_eq!(ping(&mut clients[99]).unwrap(), "PONG");
}

#[test]
fn encrypted_keys_with_right_and_wrong_passphrase() {
    let pki = make_pki("myapp");
    let key = pki.path("server.key");
    let pk8 = pki.path("server-pkcs8.key");
    let legacy = pki.path("server-legacy.key");
    // OpenSSL 3's default: PKCS#8 PBES2 (PBKDF2-SHA256, AES-256-CBC).
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &key,
        "-out",
        &pk8,
        "-passout",
        "pass:s3cret",
    ]);
    // Legacy "Proc-Type: 4,ENCRYPTED" PEM (SEC1 EC key, AES-256-CBC, and DES-EDE3-CBC).
    openssl(&[
        "ec",
        "-in",
        &key,
        "-aes256",
        "-out",
        &legacy,
        "-passout",
        "pass:s3cret",
    ]);
    let legacy3 = pki.path("server-legacy3.key");
    openssl(&[
        "ec",
        "-in",
        &key,
        "-des3",
        "-out",
        &legacy3,
        "-passout",
        "pass:s3cret",
    ]);
    assert!(std::fs::read_to_string(&legacy)
        .unwrap()
        .contains("Proc-Type: 4,ENCRYPTED"));
    assert!(std::fs::read_to_string(&pk8)
        .unwrap()
        .contains("BEGIN ENCRYPTED PRIVATE KEY"));
    let ca = pki.path("ca.crt");
    let cert = pki.path("server.crt");
    for k in [&pk8, &legacy, &legacy3] {
        let port = free_port();
        let p = port.to_string();
        let srv = Server::start_on(
            port,
            &["--port", "0", "--tls-port", &p],
            &[
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                k,
                "--tls-key-file-pass",
                "s3cret",
                "--tls-ca-cert-file",
                &ca,
            ],
        );
        let mut c = tls_client(&srv, &pki, Some("client")).unwrap();
        assert_eq!(ping(&mut c).unwrap(), "PONG", "{k}");
        // The passphrase is never echoed back.
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("tls-key-file-pass")
            .query(&mut c)
            .unwrap();
        assert_ne!(v[1], "s3cret");
        for (pass, why) in [
            ("wrong", "wrong passphrase"),
            ("", "no passphrase was given"),
        ] {
            let err = startup_error(&[
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                k,
                "--tls-key-file-pass",
                pass,
                "--tls-ca-cert-file",
                &ca,
            ]);
            assert!(
                err.contains("tls-key-file") && err.contains(k.as_str()) && err.contains(why),
                "{err}"
            );
        }
    }
}

#[test]
fn client_pair_defaults_to_server_pair_and_is_validated() {
    let pki = make_pki("myapp");
    let srv = start_tls(&pki, &[]);
    let info = info_server(&srv, &pki);
    assert!(
        info.contains("tls_client_cert_subject:CN=ferrokv server\r"),
        "{info}"
    );
    // A separate client pair, its key encrypted.
    let enc = pki.path("client-enc.key");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &pki.path("client.key"),
        "-out",
        &enc,
        "-passout",
        "pass:cpass",
    ]);
    let cc = pki.path("client.crt");
    let srv = start_tls(
        &pki,
        &[
            "--tls-client-cert-file",
            &cc,
            "--tls-client-key-file",
            &enc,
            "--tls-client-key-file-pass",
            "cpass",
        ],
    );
    let info = info_server(&srv, &pki);
    assert!(
        info.contains("tls_client_cert_subject:CN=myapp\r"),
        "{info}"
    );
    assert!(
        info.contains("tls_server_cert_subject:CN=ferrokv server\r"),
        "{info}"
    );
    let base = [
        "--tls-cert-file".to_string(),
        pki.path("server.crt"),
        "--tls-key-file".into(),
        pki.path("server.key"),
        "--tls-ca-cert-file".into(),
        pki.path("ca.crt"),
    ];
    let mut args: Vec<&str> = base.iter().map(|s| s.as_str()).collect();
    args.extend([
        "--tls-client-cert-file",
        &cc,
        "--tls-client-key-file",
        &enc,
        "--tls-client-key-file-pass",
        "nope",
    ]);
    let err = startup_error(&args);
    assert!(
        err.contains("tls-client-key-file") && err.contains("wrong passphrase"),
        "{err}"
    );
    let rogue_key = pki.path("rogue.key");
    let mut args: Vec<&str> = base.iter().map(|s| s.as_str()).collect();
    args.extend([
        "--tls-client-cert-file",
        &cc,
        "--tls-client-key-file",
        &rogue_key,
    ]);
    let err = startup_error(&args);
    assert!(
        err.contains("does not match") && err.contains("tls-client-cert-file"),
        "{err}"
    );
}

#[test]
fn pkcs12_client_identity_as_the_dotnet_client_uses_it() {
    let pki = make_pki("outsystems");
    let pfx = pki.path("client.pfx");
    // SERedis_ClientCertPfxPath / SERedis_ClientCertPassword.
    openssl(&[
        "pkcs12",
        "-export",
        "-in",
        &pki.path("client.crt"),
        "-inkey",
        &pki.path("client.key"),
        "-certfile",
        &pki.path("ca.crt"),
        "-out",
        &pfx,
        "-passout",
        "pass:pfxpass",
    ]);
    let pem = pki.path("client-from-pfx.pem");
    openssl(&[
        "pkcs12",
        "-in",
        &pfx,
        "-nodes",
        "-passin",
        "pass:pfxpass",
        "-out",
        &pem,
    ]);
    let load = || {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pem)
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        let key = PrivateKeyDer::from_pem_file(&pem).unwrap();
        assert!(certs.len() >= 2, "leaf and CA from the PFX");
        (certs, key)
    };
    let srv = start_tls(&pki, &[]);
    // SERedis_IssuerCertPath given: the server's issuer is trusted and checked.
    let trusting = config_with(&pki, Some(load()), BOTH, None, true);
    tls_ping(srv.port, &trusting).unwrap();
    // Issuer not trusted and verification skipped: still connects, still presents the PFX.
    let skipping = config_with(&pki, Some(load()), BOTH, None, false);
    tls_ping(srv.port, &skipping).unwrap();
    // Issuer not trusted and not skipped: the client refuses the server.
    let empty = Arc::new(
        ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_client_auth_cert(load().0, load().1)
            .unwrap(),
    );
    assert!(tls_ping(srv.port, &empty).is_err());
    // Wrong PFX password.
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-in", &pfx, "-nodes", "-passin", "pass:bad"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn ca_cert_dir_with_hashed_names_and_dh_params() {
    let pki = make_pki("myapp");
    let dir = pki.dir.join("cadir");
    std::fs::create_dir_all(&dir).unwrap();
    // c_rehash style name: <subject hash>.0, no .crt/.pem extension.
    let hash = std::process::Command::new("openssl")
        .args(["x509", "-hash", "-noout", "-in", &pki.path("ca.crt")])
        .output()
        .unwrap();
    let name = format!("{}.0", String::from_utf8_lossy(&hash.stdout).trim());
    std::fs::copy(pki.dir.join("ca.crt"), dir.join(&name)).unwrap();
    let dh = pki.path("redis.dh");
    openssl(&[
        "genpkey",
        "-genparam",
        "-algorithm",
        "DH",
        "-pkeyopt",
        "group:ffdhe2048",
        "-out",
        &dh,
    ]);
    let port = free_port();
    let p = port.to_string();
    let d = dir.display().to_string();
    let srv = Server::start_on(
        port,
        &["--port", "0", "--tls-port", &p],
        &[
            "--tls-cert-file",
            &pki.path("server.crt"),
            "--tls-key-file",
            &pki.path("server.key"),
            "--tls-ca-cert-dir",
            &d,
            "--tls-dh-params-file",
            &dh,
        ],
    );
    tls_ping(srv.port, &client_cfg(&pki, Some("client"), BOTH, None)).unwrap();
    assert!(tls_ping(srv.port, &client_cfg(&pki, Some("rogue"), BOTH, None)).is_err());
    // A file that is not DH parameters, and an empty CA directory, stop startup.
    let base = [
        "--tls-cert-file",
        &pki.path("server.crt"),
        "--tls-key-file",
        &pki.path("server.key"),
    ]
    .map(|s| s.to_string());
    let mut a: Vec<&str> = base.iter().map(|s| s.as_str()).collect();
    let ca = pki.path("ca.crt");
    a.extend(["--tls-ca-cert-file", &ca, "--tls-dh-params-file", &ca]);
    let err = startup_error(&a);
    assert!(
        err.contains("tls-dh-params-file") && err.contains("DH PARAMETERS"),
        "{err}"
    );
    let empty = pki.dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = empty.display().to_string();
    let mut a: Vec<&str> = base.iter().map(|s| s.as_str()).collect();
    a.extend(["--tls-ca-cert-dir", &e]);
    assert!(startup_error(&a).contains("tls-ca-cert-dir"));
}

#[test]
fn expired_server_cert_starts_with_a_loud_warning() {
    let pki = make_pki("myapp");
    let port = free_port();
    let p = port.to_string();
    let srv = Server::start_on(
        port,
        &["--port", "0", "--tls-port", &p],
        &[
            "--tls-cert-file",
            &pki.path("oldserver.crt"),
            "--tls-key-file",
            &pki.path("oldserver.key"),
            "--tls-ca-cert-file",
            &pki.path("ca.crt"),
            "--tls-auth-clients",
            "no",
        ],
    );
    let log = srv.log();
    assert!(
        log.contains("WARNING: tls-cert-file")
            && log.contains("oldserver.crt")
            && log.contains("has EXPIRED"),
        "{log}"
    );
    // Clients that skip verification still get served; verifying ones refuse it.
    tls_ping(srv.port, &config_with(&pki, None, BOTH, None, false)).unwrap();
    assert!(tls_ping(srv.port, &client_cfg(&pki, None, BOTH, None)).is_err());
}

#[test]
fn half_handshakes_and_garbage_while_others_work() {
    let pki = make_pki("myapp");
    let mut srv = start_tls(&pki, &[]);
    let cfg = client_cfg(&pki, Some("client"), BOTH, None);
    // A ClientHello cut in half, then silence; and random bytes after a valid record header.
    let mut conn =
        rustls::ClientConnection::new(cfg.clone(), "localhost".try_into().unwrap()).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    let mut half = srv.raw();
    half.write_all(&hello[..hello.len() / 2]).unwrap();
    let mut junk = srv.raw();
    junk.write_all(b"\x16\x03\x03\x00\x40").unwrap();
    junk.write_all(&[0xA5; 64]).unwrap();
    let mut plain = srv.raw();
    plain.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    for _ in 0..20 {
        tls_ping(srv.port, &cfg).unwrap();
    }
    wait_until("the plaintext client counted", || {
        info_server(&srv, &pki).contains("plaintext=1")
    });
    assert!(srv
        .log()
        .contains("plaintext (non-TLS) data sent to the TLS port"));
    assert!(srv.alive());
    drop(half);
}

#[test]
fn key_types_and_forms_with_an_intermediate_chain() {
    let dir = temp_dir("keys");
    let pki = Pki { dir: dir.clone() };
    let root_key = KeyPair::generate().unwrap();
    let mut rp = CertificateParams::new(Vec::new()).unwrap();
    rp.distinguished_name.push(DnType::CommonName, "root");
    rp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = rp.self_signed(&root_key).unwrap();
    write(&dir, "ca.crt", &root.pem());
    let int_key = KeyPair::generate().unwrap();
    let mut ip = CertificateParams::new(Vec::new()).unwrap();
    ip.distinguished_name
        .push(DnType::CommonName, "intermediate");
    ip.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let int = ip.signed_by(&int_key, &root, &root_key).unwrap();

    // RSA from openssl (PKCS#1 "BEGIN RSA PRIVATE KEY"), EC P-256 as SEC1 ("BEGIN EC PRIVATE
    // KEY"), P-384 and Ed25519 as PKCS#8.
    let rsa8 = pki.path("rsa8.key");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &rsa8,
    ]);
    openssl(&[
        "rsa",
        "-in",
        &rsa8,
        "-traditional",
        "-out",
        &pki.path("rsa.key"),
    ]);
    let p256 = KeyPair::generate().unwrap();
    write(&dir, "p256-8.key", &p256.serialize_pem());
    openssl(&[
        "ec",
        "-in",
        &pki.path("p256-8.key"),
        "-out",
        &pki.path("p256.key"),
    ]);
    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    write(&dir, "p384.key", &p384.serialize_pem());
    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    write(&dir, "ed25519.key", &ed.serialize_pem());
    let rsa = KeyPair::from_pem(&std::fs::read_to_string(&rsa8).unwrap()).unwrap();
    let forms = [
        ("rsa", rsa, "BEGIN RSA PRIVATE KEY"),
        ("p256", p256, "BEGIN EC PRIVATE KEY"),
        ("p384", p384, "BEGIN PRIVATE KEY"),
        ("ed25519", ed, "BEGIN PRIVATE KEY"),
    ];
    for (name, key, form) in forms {
        assert!(std::fs::read_to_string(pki.path(&format!("{name}.key")))
            .unwrap()
            .contains(form));
        let mut p = CertificateParams::new(vec!["localhost".into()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        let leaf = p.signed_by(&key, &int, &int_key).unwrap();
        // The certificate file carries the chain: leaf, then the intermediate.
        write(
            &dir,
            &format!("{name}.crt"),
            &format!("{}{}", leaf.pem(), int.pem()),
        );
        let port = free_port();
        let p = port.to_string();
        let srv = Server::start_on(
            port,
            &["--port", "0", "--tls-port", &p],
            &[
                "--tls-cert-file",
                &pki.path(&format!("{name}.crt")),
                "--tls-key-file",
                &pki.path(&format!("{name}.key")),
                "--tls-auth-clients",
                "no",
            ],
        );
        let shook = tls_ping(srv.port, &client_cfg(&pki, None, BOTH, None))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(shook.server_subject, format!("CN={name}"));
    }
}

/// Redis's utils/gen-test-certs.sh, under OpenSSL 3, makes redis.crt an X.509 v1
/// certificate (no extensions). webpki cannot read v1, but OpenSSL clients accept it, so
/// the server must start with it (it refused, claiming the key did not match) and serve
/// an OpenSSL client that verifies it; a key that does not match is still refused.
#[test]
fn x509_v1_server_certificate_from_redis_gen_test_certs() {
    let dir = temp_dir("v1cert");
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    openssl(&["genrsa", "-out", &p("ca.key"), "2048"]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-sha256",
        "-key",
        &p("ca.key"),
        "-days",
        "365",
        "-subj",
        "/O=Redis Test/CN=Certificate Authority",
        "-out",
        &p("ca.crt"),
    ]);
    openssl(&["genrsa", "-out", &p("v1.key"), "2048"]);
    openssl(&["genrsa", "-out", &p("other.key"), "2048"]);
    openssl(&[
        "req",
        "-new",
        "-sha256",
        "-subj",
        "/O=Redis Test/CN=Generic-cert",
        "-key",
        &p("v1.key"),
        "-out",
        &p("v1.csr"),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-sha256",
        "-in",
        &p("v1.csr"),
        "-CA",
        &p("ca.crt"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "365",
        "-out",
        &p("v1.crt"),
    ]);
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", &p("v1.crt")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("Version: 1 (0x0)"));
    let e = startup_error(&[
        "--tls-cert-file",
        &p("v1.crt"),
        "--tls-key-file",
        &p("other.key"),
    ]);
    assert!(e.contains("does not match the certificate"), "{e}");

    let port = free_port();
    let ps = port.to_string();
    let _srv = Server::start_on(
        port,
        &["--port", "0", "--tls-port", &ps],
        &[
            "--tls-cert-file",
            &p("v1.crt"),
            "--tls-key-file",
            &p("v1.key"),
            "--tls-ca-cert-file",
            &p("ca.crt"),
            "--tls-auth-clients",
            "no",
        ],
    );
    let mut child = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
            &p("ca.crt"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"PING\r\nQUIT\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("+PONG"),
        "{out:?}"
    );
}

/// The handshake deadline counts from the connection's start: a client sending one byte
/// of its ClientHello every 2 s used to reset the 10 s timer with each byte and was never
/// dropped. And 40 such connections timing out together write one log line per second,
/// not 40.
#[test]
fn trickled_handshake_is_dropped_after_10s_from_connect() {
    use std::io::{Read, Write};
    let pki = make_pki("client");
    let srv = start_tls(&pki, &[]);
    let start = std::time::Instant::now();
    let mut crowd: Vec<std::net::TcpStream> = (0..40).map(|_| srv.raw()).collect();
    for s in crowd.iter_mut() {
        s.write_all(&[0x16]).unwrap();
    }
    let mut s = srv.raw();
    // A TLS record header, one byte at a time.
    let hello = [
        0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut closed_at = None;
    for b in hello.iter() {
        if s.write_all(&[*b]).is_err() {
            closed_at = Some(start.elapsed());
            break;
        }
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {
                closed_at = Some(start.elapsed());
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                closed_at = Some(start.elapsed());
                break;
            }
            Ok(_) => {}
        }
    }
    let at = closed_at.expect("the trickling client was never dropped");
    assert!(at < Duration::from_secs(14), "dropped after {at:?}");
    assert!(at >= Duration::from_secs(9), "dropped too early: {at:?}");
    let lines = srv.log().matches("TLS handshake timed out").count();
    assert!(
        (1..=8).contains(&lines),
        "{lines} timeout lines: {}",
        srv.log()
    );
    let info = info_server(&srv, &pki);
    assert!(info.contains("timeout=41"), "{info}");
}

/// MIGRATE goes over TLS when tls-cluster says so (Redis 7.0 connects to the target the
/// way the cluster bus does), presenting this server's client certificate, and trusts a
/// target whose chain verifies against tls-ca-cert-file even though the certificate does
/// not name the address it was reached by (as Redis does); another CA is refused.
#[test]
fn migrate_over_tls_with_tls_cluster() {
    let pki = make_pki("client");
    let src = start_tls(&pki, &["--tls-cluster", "yes"]);
    // The target requires client certificates: the source must present its own.
    let dst = start_tls(&pki, &["--tls-auth-clients", "yes"]);
    let mut a = tls_client(&src, &pki, Some("client")).unwrap();
    let mut b = tls_client(&dst, &pki, Some("client")).unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut a).unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg("1")
        .arg("2")
        .query(&mut a)
        .unwrap();
    let port = dst.port.to_string();
    let r: String = redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(&port)
        .arg("")
        .arg(0)
        .arg(5000)
        .arg("KEYS")
        .arg("k")
        .arg("l")
        .query(&mut a)
        .unwrap();
    assert_eq!(r, "OK");
    let v: String = redis::cmd("GET").arg("k").query(&mut b).unwrap();
    assert_eq!(v, "v");
    let l: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut b)
        .unwrap();
    assert_eq!(l, ["1", "2"]);
    let gone: i64 = redis::cmd("EXISTS")
        .arg("k")
        .arg("l")
        .query(&mut a)
        .unwrap();
    assert_eq!(gone, 0);
    // A target whose certificate another CA signed is not trusted.
    let other = make_pki("client");
    let stranger = start_tls(&other, &[]);
    let _: () = redis::cmd("SET").arg("k2").arg("v").query(&mut a).unwrap();
    let e = redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(stranger.port.to_string())
        .arg("k2")
        .arg(0)
        .arg(2000)
        .query::<String>(&mut a)
        .unwrap_err()
        .to_string();
    assert!(e.contains("IOERR"), "{e}");
    let kept: i64 = redis::cmd("EXISTS").arg("k2").query(&mut a).unwrap();
    assert_eq!(kept, 1);
}
