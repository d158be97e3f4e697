//! Tests of the keys command family.
#[allow(unused_imports)]
use crate::common::*;
