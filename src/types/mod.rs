//! Data structures behind the collection types.
pub mod set;
pub mod stream;
pub mod zset;
