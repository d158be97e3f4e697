//! Data structures behind the collection types.
pub mod set;
pub mod zset;
