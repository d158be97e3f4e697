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
