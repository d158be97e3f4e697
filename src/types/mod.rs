//! Data structures behind the collection types.
pub mod hash;
pub mod set;
pub mod stream;
pub mod zset;
