//! Data structures behind the collection types.
pub mod zset;
