//! LRU/LFU clocks and `maxmemory` eviction, sampled like Redis (maxmemory-samples keys per
//! round, a small pool of best candidates).
use crate::keyspace::Db;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
static CLOCK: AtomicU32 = AtomicU32::new(0);
static LFU: AtomicBool = AtomicBool::new(false);
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);
const LFU_INIT_VAL: u32 = 5;

/// Refreshed from cron (and at startup) so per-access cost is one relaxed load.
pub fn update_clock() {
    let secs = (crate::util::now_ms() / 1000) as u32;
    CLOCK.store(secs & LRU_CLOCK_MAX, Ordering::Relaxed);
}

/// Take the policy and LFU settings from the configuration (startup, CONFIG SET).
pub fn configure(cfg: &crate::config::Config) {
    LFU.store(
        cfg.maxmemory_policy_name().contains("lfu"),
        Ordering::Relaxed,
    );
    let clamp = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    LFU_LOG_FACTOR.store(clamp(cfg.lfu_log_factor), Ordering::Relaxed);
    LFU_DECAY_TIME.store(clamp(cfg.lfu_decay_time), Ordering::Relaxed);
}

/// The initial `lru` field of a new key: the LRU clock, or an LFU counter of 5.
#[inline]
pub fn lru_clock() -> u32 {
    if LFU.load(Ordering::Relaxed) {
        (minutes() << 8) | LFU_INIT_VAL
    } else {
        CLOCK.load(Ordering::Relaxed)
    }
}

pub fn minutes() -> u32 {
    ((crate::util::now_ms() / 60000) as u32) & 0xFFFF
}

/// A key's access metadata after a read or write (Redis's updateLFU / LRU_CLOCK on lookup).
#[inline]
pub fn accessed(lru: u32) -> u32 {
    if LFU.load(Ordering::Relaxed) {
        accessed_lfu(lru)
    } else {
        CLOCK.load(Ordering::Relaxed)
    }
}

#[cold]
fn accessed_lfu(lru: u32) -> u32 {
    let counter = lfu_decayed(lru, LFU_DECAY_TIME.load(Ordering::Relaxed) as i64);
    let counter = lfu_incr(counter, LFU_LOG_FACTOR.load(Ordering::Relaxed) as i64);
    (minutes() << 8) | counter
}

/// A loaded key's access metadata from what its file kept (Redis's objectSetLRUOrLFU):
/// under an LFU policy its counter, under an LRU one the clock minus its idle time;
/// None when the file kept nothing for this policy.
pub fn restored(idle_secs: Option<u64>, freq: Option<u8>) -> Option<u32> {
    if LFU.load(Ordering::Relaxed) {
        freq.map(|f| (minutes() << 8) | f as u32)
    } else {
        idle_secs.map(|idle| {
            let now = CLOCK.load(Ordering::Relaxed) as u64;
            let max = LRU_CLOCK_MAX as u64 + 1;
            ((now + max - idle % max) % max) as u32
        })
    }
}

/// The LFU counter after decay by the configured lfu-decay-time (OBJECT FREQ, RDB FREQ).
pub fn lfu_counter(lru: u32) -> u32 {
    lfu_decayed(lru, LFU_DECAY_TIME.load(Ordering::Relaxed) as i64)
}

/// The LFU counter after decay (OBJECT FREQ).
pub fn lfu_decayed(lru: u32, decay_time: i64) -> u32 {
    let ldt = lru >> 8;
    let counter = lru & 255;
    let now = minutes();
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = if decay_time > 0 {
        elapsed as i64 / decay_time
    } else {
        0
    };
    if periods > 0 {
        counter.saturating_sub(periods.min(255) as u32)
    } else {
        counter
    }
}

fn lfu_incr(counter: u32, log_factor: i64) -> u32 {
    if counter == 255 {
        return 255;
    }
    let r: f64 = rand::random();
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// Seconds since last access under LRU (OBJECT IDLETIME).
pub fn idle_secs(lru: u32) -> u64 {
    let now = CLOCK.load(Ordering::Relaxed);
    if now >= lru {
        (now - lru) as u64
    } else {
        (LRU_CLOCK_MAX - lru + now) as u64
    }
}

/// Current heap use: this thread's jemalloc counters (two loads) plus what the threads
/// it started published through their [`ThreadMeter`]s. Memory one thread allocates and
/// another frees is counted right: the sum over threads of allocated minus freed is the
/// heap in use.
pub fn used_memory() -> u64 {
    let own = thread_net().unwrap_or(0);
    (own + POOL.with(|p| p.load(Ordering::Relaxed))).max(0) as u64
}

/// This thread's bytes allocated minus bytes freed (negative when it frees more than it
/// allocated: memory another thread allocated).
fn thread_net() -> Option<i64> {
    use tikv_jemalloc_ctl::thread;
    thread_local! {
        static COUNTERS: Option<(thread::ThreadLocal<u64>, thread::ThreadLocal<u64>)> =
            thread::allocatedp::read().ok().zip(thread::deallocatedp::read().ok());
    }
    COUNTERS.with(|c| c.as_ref().map(|(a, d)| a.get() as i64 - d.get() as i64))
}

/// A thread's pool: the net heap use the threads it started published (see [`ThreadMeter`]).
pub type Pool = std::sync::Arc<std::sync::atomic::AtomicI64>;

thread_local! {
    static POOL: Pool = Pool::default();
}

/// This thread's pool, to hand to a thread it starts.
pub fn pool() -> Pool {
    POOL.with(Pool::clone)
}

/// Makes a background thread's heap use count in its starter's `used_memory` (and so for
/// maxmemory): the thread creates one with its starter's [`pool`] and calls
/// [`ThreadMeter::publish`] after each job (a background fsync, a lazy free); dropping it
/// publishes a last time, so what the thread leaves allocated (or freed of others')
/// stays counted after it ends.
pub struct ThreadMeter {
    pool: Pool,
    published: i64,
}

impl ThreadMeter {
    pub fn new(pool: Pool) -> Self {
        let mut m = ThreadMeter { pool, published: 0 };
        m.publish();
        m
    }
    /// Publish this thread's net heap use since its start.
    pub fn publish(&mut self) {
        let now = thread_net().unwrap_or(0);
        self.pool.fetch_add(now - self.published, Ordering::Relaxed);
        self.published = now;
    }
}

impl Drop for ThreadMeter {
    fn drop(&mut self) {
        self.publish();
    }
}

/// Which keys a policy may evict, and how it ranks them.
#[derive(Clone, Copy, PartialEq)]
pub enum Policy {
    NoEviction,
    Lru { all: bool },
    Lfu { all: bool },
    Random { all: bool },
    Ttl,
}

pub fn policy_of(name: &str) -> Policy {
    match name {
        "allkeys-lru" => Policy::Lru { all: true },
        "volatile-lru" => Policy::Lru { all: false },
        "allkeys-lfu" => Policy::Lfu { all: true },
        "volatile-lfu" => Policy::Lfu { all: false },
        "allkeys-random" => Policy::Random { all: true },
        "volatile-random" => Policy::Random { all: false },
        "volatile-ttl" => Policy::Ttl,
        _ => Policy::NoEviction,
    }
}

/// Pick one key to evict across all databases: sample `samples` random keys from each
/// database and keep the best-ranked candidate. Returns (db, position).
pub fn pick_victim(
    dbs: &mut [Db],
    policy: Policy,
    samples: usize,
    decay: i64,
) -> Option<(usize, usize)> {
    let mut best: Option<(u64, usize, usize)> = None;
    for (dbi, db) in dbs.iter_mut().enumerate() {
        let volatile_only = !matches!(
            policy,
            Policy::Lru { all: true } | Policy::Lfu { all: true } | Policy::Random { all: true }
        );
        if db.is_empty() || (volatile_only && db.volatile() == 0) {
            continue;
        }
        for _ in 0..samples {
            // volatile-* policies sample the keys with a TTL, as Redis samples `expires`.
            let pick = if volatile_only {
                db.expires.random()
            } else {
                db.dict.random_pos()
            };
            let Some(pos) = pick else {
                break;
            };
            let e = db.at(pos).expect("sampled slot is occupied");
            // Higher score = better victim.
            let score = match policy {
                Policy::Lru { .. } => idle_secs(e.lru()),
                Policy::Lfu { .. } => 255 - lfu_decayed(e.lru(), decay) as u64,
                Policy::Ttl => u64::MAX - e.expire() as u64,
                Policy::Random { .. } => 1,
                Policy::NoEviction => return None,
            };
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, dbi, pos));
            }
            if matches!(policy, Policy::Random { .. }) {
                break;
            }
        }
    }
    best.map(|(_, d, s)| (d, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory a metered background thread leaves allocated counts, and memory it frees for
    /// this thread counts down, as a lazy-free or fsync thread's will for maxmemory.
    #[test]
    fn other_threads_heap_use_is_counted() {
        const MB: u64 = 1 << 20;
        let before = used_memory();
        let pool = pool();
        let theirs: Vec<u8> = std::thread::spawn(move || {
            let _meter = ThreadMeter::new(pool);
            vec![1u8; 32 << 20]
        })
        .join()
        .unwrap();
        let with_theirs = used_memory();
        assert!(with_theirs >= before + 31 * MB, "{before} -> {with_theirs}");
        let ours = vec![2u8; 16 << 20];
        let with_both = used_memory();
        assert!(with_both >= with_theirs + 15 * MB);
        let pool = super::pool();
        std::thread::spawn(move || {
            let _meter = ThreadMeter::new(pool);
            drop(ours);
            drop(theirs);
        })
        .join()
        .unwrap();
        let after = used_memory();
        assert!(after + 47 * MB <= with_both, "{with_both} -> {after}");
    }
}
