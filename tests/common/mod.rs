//! Helpers shared by the integration tests. Each test binary uses a subset.
#![allow(dead_code)]

pub mod meter;
pub mod pii_gen;
pub mod pii_match;
pub mod pii_scan;
pub mod received_text;
pub mod receiver;
pub mod rotel;
pub mod shop;

/// Current and peak resident memory of this process, in KiB (Linux).
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
