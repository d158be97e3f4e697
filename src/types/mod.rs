//! Data structures behind the collection types.
pub mod stream;
pub mod zset;
