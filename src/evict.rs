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

fn minutes() -> u32 {
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

/// Current heap use according to jemalloc's per-thread counters (cheap: two loads).
pub fn used_memory() -> u64 {
    use tikv_jemalloc_ctl::thread;
    thread_local! {
        static COUNTERS: Option<(thread::ThreadLocal<u64>, thread::ThreadLocal<u64>)> =
            thread::allocatedp::read().ok().zip(thread::deallocatedp::read().ok());
    }
    COUNTERS.with(|c| match c {
        Some((a, d)) => a.get().saturating_sub(d.get()) + BASELINE.load(Ordering::Relaxed) as u64,
        None => 0,
    })
}

/// Memory allocated by threads other than the main one at startup (jemalloc's view), so the
/// per-thread figure is not far below what `stats.allocated` reports.
static BASELINE: AtomicU32 = AtomicU32::new(0);

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
/// database and keep the best-ranked candidate. Returns (db, slot).
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
                db.dict.random_slot()
            };
            let Some(slot) = pick else {
                break;
            };
            let e = db.at(slot).expect("sampled slot is occupied");
            // Higher score = better victim.
            let score = match policy {
                Policy::Lru { .. } => idle_secs(e.lru()),
                Policy::Lfu { .. } => 255 - lfu_decayed(e.lru(), decay) as u64,
                Policy::Ttl => u64::MAX - e.expire() as u64,
                Policy::Random { .. } => 1,
                Policy::NoEviction => return None,
            };
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, dbi, slot));
            }
            if matches!(policy, Policy::Random { .. }) {
                break;
            }
        }
    }
    best.map(|(_, d, s)| (d, s))
}
