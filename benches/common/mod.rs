//! What the benchmark files share: one criterion configuration (short runs, 20 samples:
//! the whole set takes about a minute).
use criterion::Criterion;
use std::time::Duration;

pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}
