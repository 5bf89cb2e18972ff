//! The two measurements a record takes of its own process.

/// Seconds since the Unix epoch (UTC) now: what [`Record::finished_at`](crate::Record::finished_at)
/// holds. 0 if the system clock is before the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Peak resident set size of this process so far (Linux `VmHWM` in `/proc/self/status`),
/// bytes: what [`Record::peak_rss_bytes`](crate::Record::peak_rss_bytes) and
/// [`Record::compress_peak_rss_bytes`](crate::Record::compress_peak_rss_bytes) hold. 0 where
/// it cannot be read (not Linux).
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
