//! What the results record about the host beyond its topology: names,
//! kernel, CPU model, THP mode, available memory, and the start time.
//! Every reader tolerates a missing file (a container may hide some) and
//! records `unknown`/`None` rather than failing the run.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

fn read_trim(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Host name.
pub fn hostname() -> String {
    read_trim("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown".into())
}

/// Kernel release.
pub fn kernel_release() -> String {
    read_trim("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into())
}

/// The kernel's build, `uname -v` (on Debian it names the package
/// version).
pub fn kernel_version() -> Option<String> {
    read_trim("/proc/sys/kernel/version")
}

/// The first `model name` in /proc/cpuinfo.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The selected word of a sysfs choice file such as `always [madvise] never`.
pub fn selected(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = start + text[start..].find(']')?;
    Some(text[start + 1..end].to_string())
}

/// THP `enabled` and `defrag`.
pub fn thp() -> (Option<String>, Option<String>) {
    let dir = Path::new("/sys/kernel/mm/transparent_hugepage");
    let get = |f: &str| {
        fs::read_to_string(dir.join(f))
            .ok()
            .and_then(|t| selected(&t))
    };
    (get("enabled"), get("defrag"))
}

/// `MemAvailable` from a meminfo text, bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Each node's vmstat threshold from a /proc/zoneinfo text: the largest
/// `vm stats threshold` of its zones, which is what
/// `refresh_zone_stat_thresholds()` gives the node's per-CPU counters.
pub fn parse_vmstat_thresholds(zoneinfo: &str) -> BTreeMap<u32, i8> {
    let mut out = BTreeMap::new();
    let mut node = None;
    for line in zoneinfo.lines() {
        if let Some(rest) = line.strip_prefix("Node ") {
            node = rest.split(',').next().and_then(|n| n.trim().parse().ok());
        } else if let (Some(n), Some(t)) = (node, line.trim().strip_prefix("vm stats threshold:")) {
            if let Ok(t) = t.trim().parse::<i8>() {
                let e = out.entry(n).or_insert(t);
                *e = (*e).max(t);
            }
        }
    }
    out
}

/// Each node's vmstat threshold on this host (empty where /proc/zoneinfo
/// cannot be read).
pub fn vmstat_thresholds() -> BTreeMap<u32, i8> {
    fs::read_to_string("/proc/zoneinfo")
        .map(|t| parse_vmstat_thresholds(&t))
        .unwrap_or_default()
}

/// `MemTotal`, bytes.
pub fn mem_total() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `MemAvailable` now, bytes.
pub fn mem_available() -> Option<u64> {
    parse_mem_available(&fs::read_to_string("/proc/meminfo").ok()?)
}

/// Seconds since the epoch as RFC 3339 UTC (`2025-11-25T10:53:00Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (H. Hinnant's algorithm), valid for all dates after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The machine pinbench is emulated on, from `PINBENCH_VM` (set by
/// kmod-shims/vm-test in its guest, e.g. `qemu-tcg`): timings there are
/// functional evidence only.
pub fn emulated() -> Option<String> {
    std::env::var("PINBENCH_VM").ok().filter(|v| !v.is_empty())
}

/// The results metadata of a run on this host that started at `start`.
pub fn metadata(
    topo: &crate::machine::topology::Topology,
    mem_available: Option<u64>,
    start: SystemTime,
    duration_s: f64,
) -> pin_results::Metadata {
    use pin_results::{Metadata, NumaNode, Thp};
    let (enabled, defrag) = thp();
    Metadata {
        kernel_version: kernel_version(),
        host: hostname(),
        kernel: kernel_release(),
        cpu_model: cpu_model(),
        cores: topo.cpus().len(),
        numa_nodes: topo
            .nodes
            .iter()
            .map(|n| NumaNode {
                id: n.id,
                cpus: n.cpus.clone(),
            })
            .collect(),
        numa_distance: topo.distance.clone(),
        llc_bytes: topo.llc_bytes,
        mem_available_bytes: mem_available,
        thp: Thp { enabled, defrag },
        pinbench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: env!("PINBENCH_GIT_COMMIT").to_string(),
        command_line: std::env::args().collect(),
        start_time: rfc3339(start),
        duration_s,
        emulated: emulated(),
        debug_build: cfg!(debug_assertions),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn vmstat_thresholds_are_each_nodes_largest_zone() {
        let zoneinfo = "Node 0, zone      DMA\n  vm stats threshold: 4\n  vm stats threshold: 4\n\
                        Node 0, zone   Normal\n        managed  1835008\n  vm stats threshold: 28\n\
                        Node 1, zone   Normal\n  vm stats threshold: 32\nNode 1, zone  Movable\n";
        let t = parse_vmstat_thresholds(zoneinfo);
        assert_eq!(t, BTreeMap::from([(0, 28), (1, 32)]));
        assert!(parse_vmstat_thresholds("garbage\nvm stats threshold: x").is_empty());
    }

    #[test]
    fn sysfs_choices_meminfo_and_dates_parse() {
        assert_eq!(selected("always [madvise] never\n"), Some("madvise".into()));
        assert_eq!(selected("always madvise"), None);
        let mi = "MemTotal:       24684100 kB\nMemAvailable:   24370404 kB\n";
        assert_eq!(parse_mem_available(mi), Some(24_370_404 * 1024));
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_764_067_980);
        assert_eq!(rfc3339(t), "2025-11-25T10:53:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
