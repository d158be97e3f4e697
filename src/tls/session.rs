//! TLS session resumption with Redis's limits: tls-session-cache-size bounds the server-side
//! cache (0 = unlimited), tls-session-cache-timeout bounds how old a cached session or a
//! ticket may be when a client resumes it.
use rustls::server::{ProducesTickets, StoresServerSessions};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Session-ID cache: oldest entries are evicted when full, stale ones are never returned.
#[derive(Debug)]
pub struct ExpiringCache {
    inner: Mutex<CacheInner>,
    max: usize,
    ttl: Duration,
}

#[derive(Debug, Default)]
struct CacheInner {
    map: HashMap<Vec<u8>, (Vec<u8>, Instant)>,
    /// Insertion order, for evicting the oldest.
    order: VecDeque<Vec<u8>>,
}

impl ExpiringCache {
    pub fn new(max: usize, ttl_secs: u64) -> Arc<Self> {
        Arc::new(ExpiringCache {
            inner: Mutex::default(),
            max,
            ttl: Duration::from_secs(ttl_secs),
        })
    }
    fn fresh(&self, stored: Instant) -> bool {
        stored.elapsed() < self.ttl
    }
}

impl StoresServerSessions for ExpiringCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let Ok(mut c) = self.inner.lock() else {
            return false;
        };
        // Drop expired entries from the front, then the oldest while full.
        while let Some(k) = c.order.front() {
            let stale = c.map.get(k).is_none_or(|(_, t)| !self.fresh(*t));
            let full = self.max != 0 && c.map.len() >= self.max;
            if !stale && !full {
                break;
            }
            if let Some(k) = c.order.pop_front() {
                c.map.remove(&k);
            }
        }
        if c.map.insert(key.clone(), (value, Instant::now())).is_none() {
            c.order.push_back(key);
        }
        true
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let c = self.inner.lock().ok()?;
        c.map
            .get(key)
            .filter(|(_, t)| self.fresh(*t))
            .map(|(v, _)| v.clone())
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut c = self.inner.lock().ok()?;
        // Its `order` entry goes lazily, when it reaches the front in put().
        let (v, t) = c.map.remove(key)?;
        self.fresh(t).then_some(v)
    }
    fn can_cache(&self) -> bool {
        !self.ttl.is_zero()
    }
}

/// Session tickets from rustls's rotating-key ticketer, with the issue time sealed inside the
/// ticket so one older than tls-session-cache-timeout is refused (full handshake instead).
#[derive(Debug)]
pub struct ExpiringTickets {
    inner: Arc<dyn ProducesTickets>,
    ttl_secs: u32,
}

impl ExpiringTickets {
    pub fn new(ttl_secs: u64) -> Result<Arc<Self>, String> {
        let inner = rustls::crypto::ring::Ticketer::new()
            .map_err(|e| format!("TLS session tickets: {e}"))?;
        Ok(Arc::new(ExpiringTickets {
            inner,
            ttl_secs: ttl_secs.min(u32::MAX as u64) as u32,
        }))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ProducesTickets for ExpiringTickets {
    fn enabled(&self) -> bool {
        self.ttl_secs > 0 && self.inner.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.ttl_secs.min(self.inner.lifetime())
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut sealed = Vec::with_capacity(8 + plain.len());
        sealed.extend_from_slice(&unix_now().to_be_bytes());
        sealed.extend_from_slice(plain);
        self.inner.encrypt(&sealed)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let mut plain = self.inner.decrypt(cipher)?;
        if plain.len() < 8 {
            return None;
        }
        let issued = u64::from_be_bytes(plain[..8].try_into().ok()?);
        if unix_now().saturating_sub(issued) >= self.ttl_secs as u64 {
            return None;
        }
        plain.drain(..8);
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_evicts_oldest_when_full_and_unlimited_when_zero() {
        let c = ExpiringCache::new(2, 300);
        for k in [b"a", b"b", b"c"] {
            assert!(c.put(k.to_vec(), k.to_vec()));
        }
        assert_eq!(c.get(b"a"), None);
        assert_eq!(c.get(b"c"), Some(b"c".to_vec()));
        assert_eq!(c.take(b"b"), Some(b"b".to_vec()));
        assert_eq!(c.get(b"b"), None);
        let u = ExpiringCache::new(0, 300);
        for i in 0..1000u32 {
            u.put(i.to_be_bytes().to_vec(), vec![1]);
        }
        assert_eq!(u.get(&0u32.to_be_bytes()), Some(vec![1]));
    }

    #[test]
    fn expired_entries_and_tickets_are_refused() {
        let c = ExpiringCache::new(10, 0);
        c.put(b"k".to_vec(), b"v".to_vec());
        assert_eq!(c.get(b"k"), None);
        assert!(!c.can_cache());
        let t = ExpiringTickets::new(300).unwrap();
        let sealed = t.encrypt(b"session").unwrap();
        assert_eq!(t.decrypt(&sealed), Some(b"session".to_vec()));
        let old = ExpiringTickets {
            inner: t.inner.clone(),
            ttl_secs: 0,
        };
        assert_eq!(old.decrypt(&sealed), None);
        assert!(!old.enabled());
    }
}
