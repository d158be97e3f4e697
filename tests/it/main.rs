//! Integration tests: each starts the real ferrokv binary on an ephemeral port and talks to
//! it through real clients (the `redis` crate, raw sockets, rustls).
mod blocking;
mod common;
mod core;
mod hashes;
mod keys_cmds;
mod lists;
mod scripting;
mod streams;
mod string_cmds;
mod tls;
