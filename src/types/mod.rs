//! Data structures behind the collection types.
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod intset;
pub mod list;
pub mod set;
pub mod stream;
pub mod stream_entries;
pub mod zset;
#[cfg(test)]
#[test]
fn print_sizes() {
    eprintln!(
        "set {} zset {} hash {} list {} stream {}",
        std::mem::size_of::<set::Set>(),
        std::mem::size_of::<zset::ZSet>(),
        std::mem::size_of::<hash::Hash>(),
        std::mem::size_of::<crate::keyspace::List>(),
        std::mem::size_of::<stream::Stream>()
    );
}
