//! TLS listener tests.
