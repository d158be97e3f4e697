//! Data structures behind the collection types.
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod intset;
pub mod list;
pub mod set;
pub mod stream;
pub mod stream_entries;
pub mod thin;
pub mod varint;
pub mod zset;
/// A small collection costs its bytes plus its value's place in the key's entry block
/// (the value lives there): the encodings are one word each (see `thin`).
#[cfg(test)]
#[test]
fn collection_values_stay_small() {
    assert_eq!(std::mem::size_of::<set::Set>(), 8);
    assert_eq!(std::mem::size_of::<zset::ZSet>(), 8);
    assert_eq!(std::mem::size_of::<hash::Hash>(), 8);
    // A list is one word too: flat (one node), or a boxed quicklist.
    assert_eq!(std::mem::size_of::<list::List>(), 8);
    // A small hash table (a 10-member set) is one 128-byte block plus its cells.
    assert!(std::mem::size_of::<crate::keyspace::Dict<()>>() <= 128);
}

/// However high a user sets the `*-max-listpack-*` / `set-max-intset-entries` limits, a
/// compact form takes its large form before passing `thin::SAFE_BYTES` (1 GB in the
/// server, 16 KB here): its buffer's u32 length can never overflow into a panic.
#[cfg(test)]
#[test]
fn compact_forms_stop_at_the_safety_size() {
    use thin::SAFE_BYTES;
    let big = vec![b'v'; 1000];
    let lim = hash::Limits {
        entries: usize::MAX,
        value: usize::MAX,
    };
    let mut h = hash::Hash::new();
    let mut z = zset::ZSet::new();
    for i in 0..(SAFE_BYTES / 1000 + 2) {
        let mut m = format!("{i}:").into_bytes();
        m.extend_from_slice(&big);
        h.set(&m, &big, lim);
        z.insert(&m, i as f64);
    }
    assert!(!h.is_small());
    assert!(!z.is_listpack());
    assert_eq!(h.len(), SAFE_BYTES / 1000 + 2);
    assert_eq!(z.len(), SAFE_BYTES / 1000 + 2);
    // Rebuilt whole (ZUNIONSTORE, RDB loading): past the safety size it stays a skip list.
    z.set_listpack(true);
    assert!(!z.is_listpack());

    let mut s = set::Set::default();
    for i in 0..SAFE_BYTES as i64 {
        s.insert(i.to_string().as_bytes(), usize::MAX);
    }
    assert!(!s.is_intset());
    assert_eq!(s.len(), SAFE_BYTES);
}
