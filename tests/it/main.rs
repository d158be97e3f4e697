//! Integration tests: each starts the real ferrokv binary on an ephemeral port and talks to
//! it through real clients (the `redis` crate, raw sockets, rustls).
mod common;
mod core;
mod keys_cmds;
mod sets;
mod streams;
mod string_cmds;
mod tls;
mod zsets;
