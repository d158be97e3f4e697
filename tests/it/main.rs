//! Integration tests: each starts the real ferrokv binary on an ephemeral port and talks to
//! it through real clients (the `redis` crate, raw sockets, rustls).
mod acl;
mod blocking;
mod common;
mod core;
mod hashes;
mod introspection;
mod keys_cmds;
mod lists;
mod multi;
mod pubsub;
mod sets;
mod streams;
mod string_cmds;
mod tls;
mod zsets;
