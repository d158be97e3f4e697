//! Integration tests: each starts the real ferrokv binary on an ephemeral port and talks to
//! it through real clients (the `redis` crate, raw sockets, rustls).
#![warn(clippy::undocumented_unsafe_blocks)]
mod acl;
mod aof;
mod blocking;
mod busy;
mod cluster;
mod common;
mod compat;
mod core;
mod dump;
mod functions;
mod fuzz;
mod geo;
mod hashes;
mod hll;
mod introspection;
mod keys_cmds;
mod keyspecs;
mod latency;
mod ldb;
mod lists;
mod migrate;
mod multi;
mod persist;
mod pubsub;
mod replication;
mod scripting;
mod security;
mod sets;
mod sort;
mod streams;
mod string_cmds;
mod tls;
mod tracking;
mod zsets;
