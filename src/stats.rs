//! Server counters for INFO (stats, commandstats, errorstats).
use hashbrown::HashMap;

#[derive(Default)]
pub struct Stats {
    pub total_connections_received: u64,
    /// Children forked (INFO total_forks).
    pub total_forks: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// The bytes read from this server's master and written to its replicas (counted
    /// apart from the clients', as Redis 7 does).
    pub net_repl_input_bytes: u64,
    pub net_repl_output_bytes: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub client_qbuf_limit_disconnections: u64,
    pub client_outbuf_limit_disconnections: u64,
    pub tls_handshakes_ok: u64,
    pub tls_handshakes_resumed: u64,
    /// Failed TLS handshakes by reason.
    pub tls_handshake_failures: HashMap<String, u64>,
    pub errors: HashMap<String, u64>,
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
            // An empty code: a failed call whose error was counted already.
            if c.is_empty() {
                continue;
            }
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
