//! Building the rustls server configuration from the tls-* options (ring provider).
//! A new `ServerConfig` is built whole on every change, so a failed load keeps the old one.
use crate::config::{Config, TLS_AUTH_NO, TLS_AUTH_OPTIONAL};
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use std::sync::Arc;

mod keys;
mod session;
pub use keys::load_key;

/// What INFO and the expiry warnings show about the loaded certificates, plus the client
/// side configuration for outgoing links (replication, cluster) built from the same options.
#[derive(Default, Clone)]
pub struct TlsInfo {
    pub server_file: String,
    pub server_subject: String,
    pub server_not_before: i64,
    pub server_not_after: i64,
    pub client_file: String,
    pub client_subject: String,
    pub client_not_before: i64,
    pub client_not_after: i64,
    /// For outgoing TLS links: presents tls-client-cert-file (or the server pair).
    pub client_config: Option<Arc<rustls::ClientConfig>>,
    /// Unix time of the last expiry check written to the log (daily).
    pub expiry_checked_at: i64,
}

pub fn load_certs(option: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("Failed to load {option} '{path}': {e}"))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("Failed to load {option} '{path}': bad PEM: {e:?}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load {option} '{path}': no certificate found"
        ));
    }
    Ok(certs)
}

/// A certificate chain and its key, checked to belong together.
fn load_pair(
    cert_opt: &str,
    cert_path: &str,
    key_opt: &str,
    key_path: &str,
    pass: &str,
) -> Result<Arc<CertifiedKey>, String> {
    let certs = load_certs(cert_opt, cert_path)?;
    let key = load_key(key_opt, key_path, pass)?;
    let signer = provider::sign::any_supported_type(&key)
        .map_err(|e| format!("Failed to load {key_opt} '{key_path}': {e}"))?;
    let ck = CertifiedKey::new(certs, signer);
    let mismatch = |e: &dyn std::fmt::Display| {
        format!(
            "Failed to load {key_opt} '{key_path}': the private key does not match the certificate in {cert_opt} '{cert_path}' ({e})"
        )
    };
    match ck.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(Arc::new(ck))
        }
        Err(e @ rustls::Error::InconsistentKeys(_)) => Err(mismatch(&e)),
        // webpki could not read the certificate: an X.509 v1 certificate (what
        // gen-test-certs.sh makes for redis.crt under OpenSSL 3) is one. OpenSSL clients
        // accept it, so compare the public keys with x509-parser instead.
        Err(e) => {
            let spki = x509_parser::parse_x509_certificate(
                ck.end_entity_cert().map_err(|_| mismatch(&e))?,
            )
            .map(|(_, x)| x.tbs_certificate.subject_pki.raw.to_vec());
            match (spki, ck.key.public_key()) {
                (Ok(cert_key), Some(key)) if cert_key == key.as_ref() => Ok(Arc::new(ck)),
                (Ok(_), Some(_)) => Err(mismatch(&"the public keys differ")),
                (Err(pe), _) => Err(format!(
                    "Failed to load {cert_opt} '{cert_path}': the certificate cannot be parsed ({pe})"
                )),
                (Ok(_), None) => Ok(Arc::new(ck)),
            }
        }
    }
}

/// (subject, notBefore, notAfter) of a DER certificate.
fn cert_facts(der: &CertificateDer<'_>) -> (String, i64, i64) {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, x)) => (
            x.subject().to_string(),
            x.validity().not_before.timestamp(),
            x.validity().not_after.timestamp(),
        ),
        Err(_) => (String::new(), 0, 0),
    }
}

fn load_roots(cfg: &Config) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    if !cfg.tls_ca_cert_file.is_empty() {
        for c in load_certs("tls-ca-cert-file", &cfg.tls_ca_cert_file)? {
            roots.add(c).map_err(|e| {
                format!(
                    "Failed to load tls-ca-cert-file '{}': {e}",
                    cfg.tls_ca_cert_file
                )
            })?;
        }
    }
    if !cfg.tls_ca_cert_dir.is_empty() {
        // Every certificate in the directory, whatever its name: c_rehash's hashed
        // links (`5ed36f99.0`) as well as `*.pem` / `*.crt` files.
        let dir = &cfg.tls_ca_cert_dir;
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("Failed to load tls-ca-cert-dir '{dir}': {e}"))?;
        for ent in entries.flatten() {
            let p = ent.path();
            if !p.is_file() {
                continue;
            }
            if let Ok(data) = std::fs::read(&p) {
                for c in CertificateDer::pem_slice_iter(&data).flatten() {
                    let _ = roots.add(c);
                }
            }
        }
        if roots.is_empty() {
            return Err(format!(
                "Failed to load tls-ca-cert-dir '{dir}': no PEM certificate found in the directory"
            ));
        }
    }
    Ok(roots)
}

/// tls-dh-params-file must hold PEM DH parameters (SEQUENCE { INTEGER p, INTEGER g }).
/// rustls negotiates ECDHE only, so they are validated and otherwise unused.
fn check_dh_params(path: &str) -> Result<(), String> {
    let fail = |why: &str| format!("Failed to load tls-dh-params-file '{path}': {why}");
    let text = std::fs::read_to_string(path).map_err(|e| fail(&e.to_string()))?;
    let (label, der) =
        pkcs8::der::pem::decode_vec(text.trim().as_bytes()).map_err(|_| fail("not a PEM file"))?;
    if label != "DH PARAMETERS" && label != "X9.42 DH PARAMETERS" {
        return Err(fail(&format!(
            "expected BEGIN DH PARAMETERS, found {label}"
        )));
    }
    use pkcs8::der::{asn1::UintRef, Decode, Reader, SliceReader};
    let mut r = SliceReader::new(&der).map_err(|_| fail("bad DER"))?;
    r.sequence(|seq| {
        let p = UintRef::decode(seq)?;
        let g = UintRef::decode(seq)?;
        if p.as_bytes().len() < 64 || g.as_bytes().is_empty() {
            return Err(pkcs8::der::ErrorKind::Value {
                tag: pkcs8::der::Tag::Integer,
            }
            .into());
        }
        // Optional privateValueLength.
        while !seq.is_finished() {
            let _ = pkcs8::der::Any::decode(seq)?;
        }
        Ok(())
    })
    .map_err(|_| fail("not valid DH parameters"))
}

fn protocol_versions(spec: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    if spec.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut v = Vec::new();
    for p in spec.split_whitespace() {
        match p.to_ascii_lowercase().as_str() {
            "tlsv1.2" => v.push(&rustls::version::TLS12),
            "tlsv1.3" => v.push(&rustls::version::TLS13),
            "tlsv1" | "tlsv1.1" => {
                return Err(format!(
                    "tls-protocols: {p} is insecure and not supported; use TLSv1.2 and/or TLSv1.3"
                ))
            }
            _ => return Err(format!("tls-protocols: unknown protocol '{p}'")),
        }
    }
    v.sort_by_key(|x| std::cmp::Reverse(u16::from(x.version)));
    Ok(v)
}

/// IANA / OpenSSL names of the suites rustls offers, for tls-ciphersuites and tls-ciphers.
fn suite_names(s: &SupportedCipherSuite) -> (&'static str, &'static str) {
    use rustls::CipherSuite as C;
    match s.suite() {
        C::TLS13_AES_128_GCM_SHA256 => ("TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
        C::TLS13_AES_256_GCM_SHA384 => ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
        C::TLS13_CHACHA20_POLY1305_SHA256 => (
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => (
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "ECDHE-ECDSA-AES128-GCM-SHA256",
        ),
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => (
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "ECDHE-ECDSA-AES256-GCM-SHA384",
        ),
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
        ),
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => (
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "ECDHE-RSA-AES128-GCM-SHA256",
        ),
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => (
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "ECDHE-RSA-AES256-GCM-SHA384",
        ),
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => (
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "ECDHE-RSA-CHACHA20-POLY1305",
        ),
        _ => ("", ""),
    }
}

/// Select suites: TLS1.3 ones from tls-ciphersuites (IANA names, ':' separated), TLS1.2
/// ones from tls-ciphers (OpenSSL names; keywords DEFAULT/HIGH/ALL select every AEAD suite).
fn cipher_suites(cfg: &Config) -> Result<Vec<SupportedCipherSuite>, String> {
    let all = provider::ALL_CIPHER_SUITES;
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    let tls13: Vec<_> = all
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS13)
        .copied()
        .collect();
    let tls12: Vec<_> = all
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS12)
        .copied()
        .collect();
    if cfg.tls_ciphersuites.trim().is_empty() {
        out.extend(tls13);
    } else {
        for name in cfg
            .tls_ciphersuites
            .split([':', ',', ' '])
            .filter(|n| !n.is_empty())
        {
            let s = tls13
                .iter()
                .find(|s| suite_names(s).0.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!("tls-ciphersuites: unsupported TLSv1.3 ciphersuite '{name}'")
                })?;
            out.push(*s);
        }
    }
    if cfg.tls_ciphers.trim().is_empty() {
        out.extend(tls12);
    } else {
        let mut picked: Vec<SupportedCipherSuite> = Vec::new();
        let mut removed: Vec<SupportedCipherSuite> = Vec::new();
        let mut unknown = Vec::new();
        for tok in cfg
            .tls_ciphers
            .split([':', ',', ' '])
            .filter(|n| !n.is_empty())
        {
            let (op, name) = match tok.as_bytes()[0] {
                b'!' | b'-' => (tok.as_bytes()[0], &tok[1..]),
                b'+' => (b'+', &tok[1..]),
                _ => (0, tok),
            };
            let matches: Vec<SupportedCipherSuite> = match name.to_ascii_uppercase().as_str() {
                "DEFAULT" | "HIGH" | "ALL" | "ECDHE" | "EECDH" | "AESGCM" | "AEAD" | "TLSV1.2" => {
                    tls12.clone()
                }
                "MEDIUM" | "LOW" | "EXPORT" | "ANULL" | "ENULL" | "NULL" | "MD5" | "RC4"
                | "DES" | "3DES" | "SHA1" | "PSK" | "SRP" | "DSS" | "CAMELLIA" | "ARIA"
                | "SEED" | "IDEA" => Vec::new(),
                "CHACHA20" => tls12
                    .iter()
                    .filter(|s| suite_names(s).1.contains("CHACHA20"))
                    .copied()
                    .collect(),
                "AES128" => tls12
                    .iter()
                    .filter(|s| suite_names(s).1.contains("AES128"))
                    .copied()
                    .collect(),
                "AES256" | "AES" => tls12
                    .iter()
                    .filter(|s| suite_names(s).1.contains(&name.to_ascii_uppercase()))
                    .copied()
                    .collect(),
                "ECDSA" | "AECDSA" => tls12
                    .iter()
                    .filter(|s| suite_names(s).1.contains("ECDSA"))
                    .copied()
                    .collect(),
                "RSA" | "ARSA" => tls12
                    .iter()
                    .filter(|s| suite_names(s).1.contains("-RSA-"))
                    .copied()
                    .collect(),
                n => {
                    let found: Vec<_> = tls12
                        .iter()
                        .filter(|s| suite_names(s).1 == n || suite_names(s).0 == n)
                        .copied()
                        .collect();
                    if found.is_empty() && op == 0 {
                        unknown.push(name.to_string());
                    }
                    found
                }
            };
            match op {
                b'!' | b'-' => removed.extend(matches),
                b'+' => {
                    // Move to the end, keeping the rest in order.
                    for m in matches {
                        if let Some(i) = picked.iter().position(|p| p.suite() == m.suite()) {
                            let s = picked.remove(i);
                            picked.push(s);
                        }
                    }
                }
                _ => {
                    for m in matches {
                        if !picked.iter().any(|p| p.suite() == m.suite()) {
                            picked.push(m);
                        }
                    }
                }
            }
        }
        picked.retain(|p| !removed.iter().any(|r| r.suite() == p.suite()));
        if picked.is_empty() && !tls12.is_empty() {
            let what = if unknown.is_empty() {
                String::new()
            } else {
                format!(" (unsupported: {})", unknown.join(", "))
            };
            return Err(format!(
                "tls-ciphers '{}' selects no cipher ferrokv supports{}; supported TLSv1.2 ciphers are AEAD only: {}",
                cfg.tls_ciphers,
                what,
                tls12.iter().map(|s| suite_names(s).1).collect::<Vec<_>>().join(":")
            ));
        }
        out.extend(picked);
    }
    Ok(out)
}

/// Build the server-side TLS configuration, or say (naming the option and file) why not.
/// Everything is loaded and checked before anything is returned, so a caller that keeps the
/// old configuration on error gets an atomic switch.
pub fn build_server_config(cfg: &Config) -> Result<(Arc<ServerConfig>, TlsInfo), String> {
    if cfg.tls_cert_file.is_empty() {
        return Err("tls-cert-file must be set when TLS is enabled".into());
    }
    if cfg.tls_key_file.is_empty() {
        return Err("tls-key-file must be set when TLS is enabled".into());
    }
    let server_key = load_pair(
        "tls-cert-file",
        &cfg.tls_cert_file,
        "tls-key-file",
        &cfg.tls_key_file,
        &cfg.tls_key_file_pass,
    )?;
    // Outgoing links present tls-client-cert-file, or the server pair when it is unset.
    let (client_key, client_file) = if cfg.tls_client_cert_file.is_empty() {
        (server_key.clone(), cfg.tls_cert_file.clone())
    } else {
        if cfg.tls_client_key_file.is_empty() {
            return Err("tls-client-key-file must be set when tls-client-cert-file is".into());
        }
        let ck = load_pair(
            "tls-client-cert-file",
            &cfg.tls_client_cert_file,
            "tls-client-key-file",
            &cfg.tls_client_key_file,
            &cfg.tls_client_key_file_pass,
        )?;
        (ck, cfg.tls_client_cert_file.clone())
    };
    if !cfg.tls_dh_params_file.is_empty() {
        check_dh_params(&cfg.tls_dh_params_file)?;
    }
    let mut info = TlsInfo {
        server_file: cfg.tls_cert_file.clone(),
        client_file,
        ..Default::default()
    };
    (
        info.server_subject,
        info.server_not_before,
        info.server_not_after,
    ) = cert_facts(&server_key.cert[0]);
    (
        info.client_subject,
        info.client_not_before,
        info.client_not_after,
    ) = cert_facts(&client_key.cert[0]);

    let versions = protocol_versions(&cfg.tls_protocols)?;
    let suites = cipher_suites(cfg)?;
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: suites,
        ..provider::default_provider()
    });
    let need_roots = cfg.tls_auth_clients != TLS_AUTH_NO || cfg.tls_replication || cfg.tls_cluster;
    if need_roots && cfg.tls_ca_cert_file.is_empty() && cfg.tls_ca_cert_dir.is_empty() {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let roots = Arc::new(load_roots(cfg)?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls-protocols/tls-ciphers: {e}"))?;
    let builder = if cfg.tls_auth_clients == TLS_AUTH_NO {
        builder.with_no_client_auth()
    } else {
        let mut vb = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
        if cfg.tls_auth_clients == TLS_AUTH_OPTIONAL {
            vb = vb.allow_unauthenticated();
        }
        builder.with_client_cert_verifier(vb.build().map_err(|e| format!("tls-ca-cert-file: {e}"))?)
    };
    let mut sc = builder.with_cert_resolver(Arc::new(SingleCert(server_key)));
    sc.ignore_client_order = cfg.tls_prefer_server_ciphers;
    if cfg.tls_session_caching {
        let size = cfg.tls_session_cache_size.max(0) as usize;
        let ttl = cfg.tls_session_cache_timeout.max(0) as u64;
        sc.session_storage = session::ExpiringCache::new(size, ttl);
        sc.ticketer = session::ExpiringTickets::new(ttl)?;
    } else {
        sc.session_storage = Arc::new(NoServerSessionStorage {});
        sc.send_tls13_tickets = 0;
    }

    if !roots.is_empty() {
        let chain =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("tls-ca-cert-file: {e}"))?;
        let cc = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| format!("tls-protocols/tls-ciphers: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly(chain)))
            .with_client_cert_resolver(Arc::new(SingleCert(client_key)));
        info.client_config = Some(Arc::new(cc));
    }
    Ok((Arc::new(sc), info))
}

/// How a server ferrokv connects to (MIGRATE's target; later a master, a cluster peer)
/// is verified: its chain against tls-ca-cert-file, with the name it was reached by not
/// required in the certificate. That is what Redis does (OpenSSL's peer verification
/// without a host check), and peers are commonly reached by IP with certificates that
/// name no address (Redis's own test certificates among them).
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError as C, Error as E};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(E::InvalidCertificate(C::NotValidForName))
            | Err(E::InvalidCertificate(C::NotValidForNameContext { .. })) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// One certificate for every connection, on both sides.
#[derive(Debug)]
struct SingleCert(Arc<CertifiedKey>);

impl rustls::server::ResolvesServerCert for SingleCert {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl rustls::client::ResolvesClientCert for SingleCert {
    fn resolve(&self, _: &[&[u8]], _: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// The Common Name of the verified client certificate, if one was presented.
pub fn peer_cn(conn: &rustls::CommonState) -> Option<String> {
    let cert = conn.peer_certificates()?.first()?;
    let (_, x) = x509_parser::parse_x509_certificate(cert).ok()?;
    let cn = x.subject().iter_common_name().next()?.as_str().ok()?;
    Some(cn.to_string())
}

/// A short reason for a failed handshake, for the log and INFO's per-reason counters.
pub fn failure_reason(err: &std::io::Error) -> &'static str {
    use rustls::{CertificateError as C, Error as E};
    let Some(e) = err.get_ref().and_then(|e| e.downcast_ref::<E>()) else {
        return "io_error";
    };
    match e {
        E::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        | E::InvalidMessage(rustls::InvalidMessage::UnknownProtocolVersion) => "plaintext",
        E::InvalidMessage(_) | E::InappropriateHandshakeMessage { .. } => "bad_message",
        E::NoCertificatesPresented => "no_client_cert",
        E::InvalidCertificate(C::UnknownIssuer) => "unknown_ca",
        E::InvalidCertificate(C::Expired) | E::InvalidCertificate(C::ExpiredContext { .. }) => {
            "cert_expired"
        }
        E::InvalidCertificate(C::NotValidYet)
        | E::InvalidCertificate(C::NotValidYetContext { .. }) => "cert_not_yet_valid",
        E::InvalidCertificate(_) => "bad_cert",
        E::PeerIncompatible(_) => "no_shared_protocol_or_cipher",
        E::PeerMisbehaved(_) => "peer_misbehaved",
        E::AlertReceived(_) => "alert_received",
        _ => "other",
    }
}

/// Log a loud warning for a certificate that is expired, not yet valid or expiring within
/// 30 days. Called at startup, on reload, and daily from cron.
pub fn warn_expiry(info: &mut TlsInfo, now: i64) {
    info.expiry_checked_at = now;
    let mut seen = Vec::new();
    for (role, file, subject, nb, na) in [
        (
            "tls-cert-file",
            &info.server_file,
            &info.server_subject,
            info.server_not_before,
            info.server_not_after,
        ),
        (
            "tls-client-cert-file",
            &info.client_file,
            &info.client_subject,
            info.client_not_before,
            info.client_not_after,
        ),
    ] {
        if na == 0 || seen.contains(&file) {
            continue;
        }
        seen.push(file);
        if na < now {
            crate::warn!("WARNING: {role} '{file}' ({subject}) has EXPIRED: peers will reject it");
        } else if nb > now {
            crate::warn!(
                "WARNING: {role} '{file}' ({subject}) is NOT YET VALID: peers will reject it"
            );
        } else if (na - now) / 86400 < 30 {
            crate::warn!(
                "WARNING: {role} '{file}' ({subject}) expires in {} days",
                (na - now) / 86400
            );
        }
    }
}

/// Unix seconds as `Mon DD HH:MM:SS YYYY GMT`, the way `openssl x509 -noout -enddate` shows it.
pub fn format_time(t: i64) -> String {
    x509_parser::time::ASN1Time::from_timestamp(t)
        .map(|a| a.to_string())
        .unwrap_or_default()
}
