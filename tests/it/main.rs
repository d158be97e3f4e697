//! Integration tests: each starts the real ferrokv binary on an ephemeral port and talks to
//! it through real clients (the `redis` crate, raw sockets, rustls).
mod blocking;
mod common;
mod core;
mod hashes;
mod keys_cmds;
mod streams;
mod lists;
mod string_cmds;
mod tls;
