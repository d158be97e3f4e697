//! The compact encodings' lookups at 10 and 128 members (issue 16), beside the big
//! encodings holding the same members: sorted set listpack vs skip list (ZSCORE, ZADD
//! of a new score, ZRANGE 0 9, ZRANK), intset vs hash table (SISMEMBER), small hash vs
//! table (HGET), quicklist LINDEX in the middle and an LPUSH + RPOP pair.
//!
//!     cargo bench --bench encodings
mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrokv::types::hash::{Hash, Limits};
use ferrokv::types::list::List;
use ferrokv::types::set::Set;
use ferrokv::types::zset::ZSet;

fn members(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("member:{i:06}").into_bytes())
        .collect()
}

fn zsets(c: &mut Criterion) {
    for n in [10usize, 128] {
        let ms = members(n);
        let mut g = c.benchmark_group(format!("zset_{n}"));
        for (name, mut z) in [
            ("listpack", ZSet::new()),
            ("skiplist", ZSet::new_skiplist()),
        ] {
            for (i, m) in ms.iter().enumerate() {
                z.insert(m, i as f64);
            }
            let probe = &ms[n / 2];
            g.bench_function(format!("{name}/zscore"), |b| {
                b.iter(|| black_box(z.score(black_box(probe))))
            });
            g.bench_function(format!("{name}/zrank"), |b| {
                b.iter(|| black_box(z.rank(black_box(probe))))
            });
            g.bench_function(format!("{name}/zrange_0_9"), |b| {
                b.iter(|| {
                    z.range(0, 9, false)
                        .map(|(m, s)| m.len() as f64 + s)
                        .sum::<f64>()
                })
            });
            let mut s = 0.0;
            g.bench_function(format!("{name}/zadd_update"), |b| {
                b.iter(|| {
                    s += 1.0;
                    z.insert(probe, (s % (n as f64)) + 0.5)
                })
            });
        }
        g.finish();
    }
}

fn sets(c: &mut Criterion) {
    for n in [10usize, 128] {
        let mut g = c.benchmark_group(format!("set_{n}"));
        let mut ints = Set::default();
        let mut table = Set::table();
        for i in 0..n {
            let m = format!("{}", i * 1000);
            ints.insert(m.as_bytes(), 512);
            table.insert(m.as_bytes(), 512);
        }
        let probe = format!("{}", (n / 2) * 1000);
        for (name, s) in [("intset", &ints), ("hashtable", &table)] {
            g.bench_function(format!("{name}/sismember"), |b| {
                b.iter(|| black_box(s.contains(black_box(probe.as_bytes()))))
            });
        }
        g.finish();
    }
}

fn hashes(c: &mut Criterion) {
    for n in [10usize, 128] {
        let mut g = c.benchmark_group(format!("hash_{n}"));
        let small_lim = Limits {
            entries: 512,
            value: 64,
        };
        let table_lim = Limits {
            entries: 0,
            value: 64,
        };
        let (mut small, mut table) = (Hash::new(), Hash::new());
        for i in 0..n {
            let (f, v) = (format!("field:{i}"), format!("{}", i * 7));
            small.set(f.as_bytes(), v.as_bytes(), small_lim);
            table.set(f.as_bytes(), v.as_bytes(), table_lim);
        }
        let probe = format!("field:{}", n / 2);
        for (name, h) in [("listpack", &small), ("hashtable", &table)] {
            g.bench_function(format!("{name}/hget"), |b| {
                b.iter(|| black_box(h.get(black_box(probe.as_bytes()))))
            });
        }
        g.finish();
    }
}

fn lists(c: &mut Criterion) {
    for n in [10usize, 128, 10_000] {
        let mut g = c.benchmark_group(format!("list_{n}"));
        let mut l = List::new(-2, 0);
        for m in members(n) {
            l.push_back(&m);
        }
        g.bench_function("lindex_middle", |b| {
            b.iter(|| black_box(l.get(black_box(n / 2)).map(|v| v.len())))
        });
        g.bench_function("lpush_rpop", |b| {
            b.iter(|| {
                l.push_front(b"member:new");
                black_box(l.pop_back())
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = zsets, sets, hashes, lists
}
criterion_main!(benches);
