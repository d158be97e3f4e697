//! Reading private keys for tls-key-file / tls-client-key-file: plain PKCS#1, SEC1 and
//! PKCS#8 PEM, and the two encrypted forms `*-key-file-pass` decrypts: PKCS#8
//! `BEGIN ENCRYPTED PRIVATE KEY` (PBES2, what OpenSSL 3 writes) and the legacy OpenSSL
//! `Proc-Type: 4,ENCRYPTED` header form (EVP_BytesToKey with MD5 + AES/DES-CBC).
use base64ct::{Base64, Encoding};
use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use md5::{Digest, Md5};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

/// Load the key at `path`, decrypting it with `pass` when it is encrypted. Errors name the
/// option, the file and the reason.
pub fn load_key(option: &str, path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let fail = |why: String| format!("Failed to load {option} '{path}': {why}");
    let data = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8_lossy(&data);
    let key = if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        need_pass(pass).map_err(&fail)?;
        decrypt_pkcs8(&text, pass).map_err(&fail)?
    } else if text.contains("Proc-Type: 4,ENCRYPTED") {
        need_pass(pass).map_err(&fail)?;
        decrypt_legacy_pem(&text, pass).map_err(&fail)?
    } else {
        PrivateKeyDer::from_pem_slice(&data)
            .map_err(|e| fail(format!("no usable private key in the file ({e:?})")))?
    };
    // A wrong passphrase can decrypt to bytes that are not a key: check it parses as one.
    rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| {
        fail(if pass.is_empty() {
            format!("not a supported private key ({e})")
        } else {
            format!("the key does not decrypt to a supported private key: wrong passphrase? ({e})")
        })
    })?;
    Ok(key)
}

fn need_pass(pass: &str) -> Result<(), String> {
    if pass.is_empty() {
        Err("the key is encrypted and no passphrase was given (set the matching *-key-file-pass option)".into())
    } else {
        Ok(())
    }
}

fn decrypt_pkcs8(text: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let start = text
        .find("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        .unwrap_or(0);
    let (label, doc) = pkcs8::SecretDocument::from_pem(&text[start..])
        .map_err(|e| format!("bad encrypted PEM: {e}"))?;
    if label != "ENCRYPTED PRIVATE KEY" {
        return Err(format!("unexpected PEM label '{label}'"));
    }
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
        .map_err(|e| format!("bad encrypted PKCS#8 structure: {e}"))?;
    let plain = info.decrypt(pass).map_err(|e| {
        format!("cannot decrypt the key: wrong passphrase or unsupported scheme ({e})")
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

/// OpenSSL's legacy encrypted PEM: `DEK-Info: <cipher>,<iv hex>` then base64 of the
/// CBC-encrypted DER; the key is EVP_BytesToKey(MD5, pass, salt = iv[..8], 1 round).
fn decrypt_legacy_pem(text: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let begin = text
        .lines()
        .position(|l| l.starts_with("-----BEGIN ") && l.ends_with(" PRIVATE KEY-----"))
        .ok_or("no BEGIN ... PRIVATE KEY line")?;
    let lines: Vec<&str> = text.lines().skip(begin).collect();
    let label = lines[0]
        .trim_start_matches("-----BEGIN ")
        .trim_end_matches("-----")
        .to_string();
    let dek = lines
        .iter()
        .find_map(|l| l.strip_prefix("DEK-Info:"))
        .ok_or("encrypted PEM without a DEK-Info header")?
        .trim();
    let (cipher, iv_hex) = dek.split_once(',').ok_or("malformed DEK-Info header")?;
    let iv = hex::decode(iv_hex.trim()).map_err(|_| "malformed IV in DEK-Info header")?;
    let body: String = lines[1..]
        .iter()
        .take_while(|l| !l.starts_with("-----END"))
        .filter(|l| !l.contains(':') && !l.trim().is_empty())
        .map(|l| l.trim())
        .collect();
    let mut data = Base64::decode_vec(&body).map_err(|_| "bad base64 in the key body")?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let key_len = match cipher.as_str() {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        "DES-EDE3-CBC" => 24,
        "DES-CBC" => 8,
        other => return Err(format!("unsupported PEM encryption '{other}'")),
    };
    if iv.len() < 8 {
        return Err("IV in DEK-Info header too short".into());
    }
    let key = bytes_to_key(pass.as_bytes(), &iv[..8], key_len);
    let bad = |_| "cannot decrypt the key: wrong passphrase".to_string();
    let n = match cipher.as_str() {
        "AES-128-CBC" => cbc_decrypt::<aes::Aes128>(&key, &iv, &mut data),
        "AES-192-CBC" => cbc_decrypt::<aes::Aes192>(&key, &iv, &mut data),
        "AES-256-CBC" => cbc_decrypt::<aes::Aes256>(&key, &iv, &mut data),
        "DES-EDE3-CBC" => cbc_decrypt::<des::TdesEde3>(&key, &iv, &mut data),
        _ => cbc_decrypt::<des::Des>(&key, &iv, &mut data),
    }
    .map_err(bad)?;
    data.truncate(n);
    Ok(match label.as_str() {
        "RSA PRIVATE KEY" => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(data)),
        "EC PRIVATE KEY" => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(data)),
        "PRIVATE KEY" => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(data)),
        other => return Err(format!("unsupported key type '{other}'")),
    })
}

/// Decrypt in place; returns the plaintext length (padding removed).
fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &mut [u8]) -> Result<usize, ()>
where
    C: cbc::cipher::BlockDecrypt + cbc::cipher::BlockCipher + cbc::cipher::KeyInit,
    cbc::Decryptor<C>: KeyIvInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| ())?;
    dec.decrypt_padded_mut::<Pkcs7>(data)
        .map(|p| p.len())
        .map_err(|_| ())
}

/// OpenSSL's EVP_BytesToKey with MD5 and one iteration.
fn bytes_to_key(pass: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < len {
        let mut h = Md5::new();
        h.update(&prev);
        h.update(pass);
        h.update(salt);
        prev = h.finalize().to_vec();
        out.extend_from_slice(&prev);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -pass pass:secret -S 0001020304050607 -md md5`
        let k = bytes_to_key(b"secret", &[0, 1, 2, 3, 4, 5, 6, 7], 32);
        assert_eq!(
            hex::encode_upper(k),
            "035FB8145B73CF111570DC936112BE9C375A5D3D8B915BC213BDBEF9DBFB7851"
        );
    }
}
