//! What the tests of the running kernel share.

/// (acquired, released) from /proc/vmstat, after folding per-CPU deltas.
pub fn foll_pin() -> Option<(u64, u64)> {
    let _ = std::fs::write("/proc/sys/vm/stat_refresh", "1");
    let text = std::fs::read_to_string("/proc/vmstat").ok()?;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok())
    };
    Some((get("nr_foll_pin_acquired ")?, get("nr_foll_pin_released ")?))
}
