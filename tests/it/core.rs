//! Core server behaviour: protocol, pipelining, many clients, config, startup errors.
use crate::common::*;
