#[allow(unused_imports)]
//! Tests of the string command family.
use crate::common::*;
