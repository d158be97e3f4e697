//! Data structures behind the collection types.
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod set;
pub mod stream;
pub mod zset;
