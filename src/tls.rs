//! Building the rustls server configuration from the tls-* options (ring provider).
//! A new `ServerConfig` is built whole on every change, so a failed load keeps the old one.
use crate::config::{Config, TLS_AUTH_NO, TLS_AUTH_OPTIONAL};
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use std::sync::Arc;

/// What INFO shows about the loaded certificates.
#[derive(Default, Clone)]
pub struct TlsInfo {
    pub server_subject: String,
    pub server_not_after: i64,
    pub client_subject: String,
    pub client_not_after: i64,
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

pub fn load_key(option: &str, path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let data = std::fs::read(path).map_err(|e| format!("Failed to load {option} '{path}': {e}"))?;
    let text = String::from_utf8_lossy(&data);
    if text.contains("ENCRYPTED") {
        if pass.is_empty() {
            return Err(format!("Failed to load {option} '{path}': the key is encrypted and no passphrase was given"));
        }
        return Err(format!(
            "Failed to load {option} '{path}': encrypted private keys are not supported yet"
        ));
    }
    PrivateKeyDer::from_pem_slice(&data)
        .map_err(|e| format!("Failed to load {option} '{path}': no usable private key ({e:?})"))
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
        let dir = std::fs::read_dir(&cfg.tls_ca_cert_dir).map_err(|e| {
            format!(
                "Failed to load tls-ca-cert-dir '{}': {e}",
                cfg.tls_ca_cert_dir
            )
        })?;
        for ent in dir.flatten() {
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
    }
    Ok(roots)
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
pub fn build_server_config(cfg: &Config) -> Result<(Arc<ServerConfig>, TlsInfo), String> {
    if cfg.tls_cert_file.is_empty() {
        return Err("tls-cert-file must be set when TLS is enabled".into());
    }
    if cfg.tls_key_file.is_empty() {
        return Err("tls-key-file must be set when TLS is enabled".into());
    }
    let certs = load_certs("tls-cert-file", &cfg.tls_cert_file)?;
    let key = load_key("tls-key-file", &cfg.tls_key_file, &cfg.tls_key_file_pass)?;
    let mut info = TlsInfo::default();
    if let Ok((_, x)) = x509_parser::parse_x509_certificate(&certs[0]) {
        info.server_subject = x.subject().to_string();
        info.server_not_after = x.validity().not_after.timestamp();
    }
    let versions = protocol_versions(&cfg.tls_protocols)?;
    let suites = cipher_suites(cfg)?;
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: suites,
        ..provider::default_provider()
    };
    let builder = ServerConfig::builder_with_provider(Arc::new(provider.clone()))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls-protocols/tls-ciphers: {e}"))?;
    let builder = if cfg.tls_auth_clients == TLS_AUTH_NO {
        builder.with_no_client_auth()
    } else {
        if cfg.tls_ca_cert_file.is_empty() && cfg.tls_ca_cert_dir.is_empty() {
            return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
        }
        let roots = Arc::new(load_roots(cfg)?);
        let mut vb = WebPkiClientVerifier::builder_with_provider(roots, Arc::new(provider));
        if cfg.tls_auth_clients == TLS_AUTH_OPTIONAL {
            vb = vb.allow_unauthenticated();
        }
        builder.with_client_cert_verifier(vb.build().map_err(|e| format!("tls-ca-cert-file: {e}"))?)
    };
    let mut sc = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "tls-cert-file/tls-key-file '{}' / '{}': {e}",
            cfg.tls_cert_file, cfg.tls_key_file
        )
    })?;
    sc.ignore_client_order = cfg.tls_prefer_server_ciphers;
    if cfg.tls_session_caching {
        let size = if cfg.tls_session_cache_size == 0 {
            1 << 20
        } else {
            cfg.tls_session_cache_size as usize
        };
        sc.session_storage = ServerSessionMemoryCache::new(size);
        sc.ticketer = provider::Ticketer::new().map_err(|e| format!("TLS session tickets: {e}"))?;
    } else {
        sc.session_storage = Arc::new(NoServerSessionStorage {});
        sc.send_tls13_tickets = 0;
    }
    Ok((Arc::new(sc), info))
}
