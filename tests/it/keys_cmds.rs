#[allow(unused_imports)]
//! Tests of the keys command family.
use crate::common::*;
