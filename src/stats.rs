//! Server counters for INFO (stats, commandstats, errorstats).
use hashbrown::HashMap;

#[derive(Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub client_qbuf_limit_disconnections: u64,
    pub client_outbuf_limit_disconnections: u64,
    pub tls_handshakes_ok: u64,
    pub tls_handshakes_resumed: u64,
    /// Failed TLS handshakes by reason.
    pub tls_handshake_failures: HashMap<String, u64>,
    pub errors: HashMap<String, u64>,
    pub latencies: Latencies,
    /// Instantaneous ops/sec samples (ring of 16, like Redis).
    pub ops_samples: [u64; 16],
    pub ops_idx: usize,
    pub ops_last_count: u64,
    pub ops_last_ms: i64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    /// Input / output bytes per second samples, like the ops samples.
    pub in_samples: [u64; 16],
    pub out_samples: [u64; 16],
    pub in_last: u64,
    pub out_last: u64,
    /// Memory in use once the server was ready (kept across CONFIG RESETSTAT).
    pub used_memory_startup: u64,
}

impl Stats {
    pub fn reset(&mut self) {
        let startup = self.used_memory_startup;
        *self = Stats::default();
        self.used_memory_startup = startup;
    }
    pub fn record_errors(&mut self, codes: &mut Vec<String>) {
        for c in codes.drain(..) {
            self.total_error_replies += 1;
            if let Some(n) = self.errors.get_mut(c.as_str()) {
                *n += 1;
            } else if self.errors.len() < 128 {
                self.errors.insert(c, 1);
            }
        }
    }
    /// Called from cron: sample ops/sec.
    pub fn sample_ops(&mut self, now_ms: i64) {
        let dt = now_ms - self.ops_last_ms;
        if dt <= 0 {
            return;
        }
        let ops = self.total_commands_processed - self.ops_last_count;
        self.ops_samples[self.ops_idx] = ops * 1000 / dt as u64;
        self.in_samples[self.ops_idx] = (self.net_input_bytes - self.in_last) * 1000 / dt as u64;
        self.out_samples[self.ops_idx] = (self.net_output_bytes - self.out_last) * 1000 / dt as u64;
        self.in_last = self.net_input_bytes;
        self.out_last = self.net_output_bytes;
        self.ops_idx = (self.ops_idx + 1) % 16;
        self.ops_last_ms = now_ms;
        self.ops_last_count = self.total_commands_processed;
    }
    pub fn instantaneous_ops(&self) -> u64 {
        self.ops_samples.iter().sum::<u64>() / 16
    }
    pub fn instantaneous_input_kbps(&self) -> f64 {
        self.in_samples.iter().sum::<u64>() as f64 / 16.0 / 1024.0
    }
    pub fn instantaneous_output_kbps(&self) -> f64 {
        self.out_samples.iter().sum::<u64>() as f64 / 16.0 / 1024.0
    }
}

/// A latency histogram with ~1.5% precision (7 significant bits), in nanoseconds: values
/// below 128 ns are exact, above that each power of two has 64 buckets.
pub struct LatencyHist {
    counts: Box<[u32; HIST_BUCKETS]>,
    total: u64,
}

const HIST_MAX_EXP: u32 = 40;
const HIST_BUCKETS: usize = 128 + (HIST_MAX_EXP as usize - 6) * 64;

impl Default for LatencyHist {
    fn default() -> Self {
        LatencyHist {
            counts: Box::new([0; HIST_BUCKETS]),
            total: 0,
        }
    }
}

impl LatencyHist {
    fn bucket(ns: u64) -> usize {
        let v = ns.min((1 << HIST_MAX_EXP) - 1);
        if v < 128 {
            return v as usize;
        }
        let e = 63 - v.leading_zeros();
        let sub = (v >> (e - 6)) & 63;
        128 + (e as usize - 7) * 64 + sub as usize
    }
    /// The highest value a bucket stands for.
    fn bucket_high(i: usize) -> u64 {
        if i < 128 {
            return i as u64;
        }
        let e = (i - 128) / 64 + 7;
        let top = 64 + ((i - 128) % 64) as u64;
        ((top + 1) << (e - 6)) - 1
    }
    pub fn record(&mut self, ns: u64) {
        self.counts[Self::bucket(ns)] += 1;
        self.total += 1;
    }
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
    /// The value at a percentile (0..=100), in nanoseconds.
    pub fn value_at(&self, pct: f64) -> u64 {
        let want = ((pct / 100.0 * self.total as f64).ceil() as u64).clamp(1, self.total.max(1));
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c as u64;
            if seen >= want {
                return Self::bucket_high(i);
            }
        }
        0
    }
}

/// Per-command latency histograms (INFO latencystats), made on a command's first call.
#[derive(Default)]
pub struct Latencies(pub Vec<Option<LatencyHist>>);

impl Latencies {
    #[inline]
    pub fn record(&mut self, cmd: usize, ns: u64) {
        if cmd >= self.0.len() {
            self.0.resize_with(cmd + 1, || None);
        }
        self.0[cmd]
            .get_or_insert_with(LatencyHist::default)
            .record(ns);
    }
    pub fn get(&self, cmd: usize) -> Option<&LatencyHist> {
        self.0.get(cmd).and_then(|h| h.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn histogram_percentiles() {
        let mut h = LatencyHist::default();
        assert!(h.is_empty());
        for ns in 1..=1000u64 {
            h.record(ns * 1000);
        }
        let p50 = h.value_at(50.0);
        assert!((495_000..=510_000).contains(&p50), "p50 {p50}");
        let p100 = h.value_at(100.0);
        assert!((1_000_000..=1_020_000).contains(&p100), "p100 {p100}");
        assert!(h.value_at(0.0) >= 1000 && h.value_at(0.0) < 1020);
        for ns in [0u64, 5, 127, 128, 129, 1 << 20, u64::MAX] {
            let b = LatencyHist::bucket(ns);
            assert!(LatencyHist::bucket_high(b) >= ns.min((1 << HIST_MAX_EXP) - 1));
        }
    }
}
