//! Tests of the string command family.
#[allow(unused_imports)]
use crate::common::*;
