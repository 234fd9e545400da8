//! Helpers shared by the integration tests. Each test binary uses a subset.
#![allow(dead_code)]

pub mod pii_scan;
pub mod receiver;
pub mod rotel;
pub mod shop;
