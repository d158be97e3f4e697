//! Core server behaviour: protocol, pipelining, many clients, config, startup errors.
#[allow(unused_imports)]
use crate::common::*;
