//! `pinbench kernel --probe`: what this machine offers for measuring the
//! real kernel's pin paths, and for each missing piece the one thing the
//! user can do about it.
//!
//! Every check reads files under a [`Roots`] so tests can feed fixtures;
//! only the io_uring and perf checks make syscalls.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where the probe looks.
#[derive(Clone, Debug)]
pub struct Roots {
    /// `/proc`.
    pub proc: PathBuf,
    /// `/sys`.
    pub sys: PathBuf,
    /// `/dev`.
    pub dev: PathBuf,
    /// `/boot` (kernel configs).
    pub boot: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            proc: "/proc".into(),
            sys: "/sys".into(),
            dev: "/dev".into(),
            boot: "/boot".into(),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    /// What was checked.
    pub what: &'static str,
    /// What was found.
    pub found: String,
    /// Whether it is usable.
    pub ok: bool,
    /// What to do when it is not (empty when ok).
    pub fix: String,
}

fn read(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn row(what: &'static str, found: impl Into<String>, ok: bool, fix: &str) -> Row {
    Row {
        what,
        found: found.into(),
        ok,
        fix: if ok { String::new() } else { fix.into() },
    }
}

/// `CONFIG_<name>` from /proc/config.gz's uncompressed twin in /boot.
fn kernel_config(roots: &Roots, release: &str, name: &str) -> Option<String> {
    let text = read(&roots.boot.join(format!("config-{release}")))?;
    let key = format!("CONFIG_{name}=");
    for line in text.lines() {
        if let Some(v) = line.strip_prefix(&key) {
            return Some(v.to_string());
        }
        if line == format!("# CONFIG_{name} is not set") {
            return Some("n".into());
        }
    }
    Some("n".into())
}

/// The gup_test row: present, or why not.
pub fn gup_test(roots: &Roots, release: &str) -> Row {
    let debugfs = roots.sys.join("kernel/debug");
    if debugfs.join("gup_test").exists() {
        return row("gup_test", "/sys/kernel/debug/gup_test", true, "");
    }
    let mounted = read(&roots.proc.join("mounts")).is_some_and(|m| {
        m.lines()
            .any(|l| l.split_whitespace().nth(2) == Some("debugfs"))
    });
    if !mounted {
        return row(
            "gup_test",
            "absent: debugfs not mounted",
            false,
            "mount -t debugfs none /sys/kernel/debug",
        );
    }
    let why = match kernel_config(roots, release, "GUP_TEST").as_deref() {
        Some("y") => "absent although CONFIG_GUP_TEST=y".to_string(),
        Some(_) => "absent: no CONFIG_GUP_TEST".to_string(),
        None => "absent: no CONFIG_GUP_TEST (kernel config not found)".to_string(),
    };
    row(
        "gup_test",
        why,
        false,
        "load kmod-shims/pin_shim (it provides the same ABI), or use --backend io-uring",
    )
}

/// The pin_shim row.
pub fn shim(roots: &Roots) -> Row {
    if roots.dev.join("pin_shim").exists() {
        return row("pin_shim module", "loaded (/dev/pin_shim)", true, "");
    }
    if !roots.proc.join("modules").exists() {
        return row(
            "pin_shim module",
            "not loaded: this kernel has no module support",
            false,
            "run kmod-shims/vm-test, which boots a kernel that loads it under qemu",
        );
    }
    row(
        "pin_shim module",
        "not loaded",
        false,
        "make -C /lib/modules/$(uname -r)/build M=$PWD/kmod-shims/pin_shim && insmod pin_shim.ko",
    )
}

/// The twins row: the alternative designs (xarray, exact) built in the
/// kernel live in pin_shim (ABI version 2); `info` asks the loaded module
/// for its ABI version and number of twins.
pub fn twins(roots: &Roots, info: impl FnOnce() -> std::io::Result<(u32, u32)>) -> Row {
    const WHAT: &str = "pin_shim twins";
    const NEED: &str = "the twins (xarray, exact: the side-tree and per-pfn-counter designs built in the kernel, set against their models in `pinbench report`) live in the pin_shim module";
    if roots.dev.join("pin_shim").exists() {
        return match info() {
            Ok((v, n)) if v >= 2 && n >= 3 => row(WHAT, format!("xarray, exact (ABI version {v})"), true, ""),
            Ok((v, _)) => row(
                WHAT,
                format!("none: the loaded pin_shim speaks ABI version {v}"),
                false,
                "rmmod pin_shim, then build and insmod kmod-shims/pin_shim from this tree (ABI version 2)",
            ),
            Err(e) => row(WHAT, format!("PIN_SHIM_INFO failed: {e}"), false, "run as root"),
        };
    }
    if !roots.proc.join("modules").exists() {
        return row(
            WHAT,
            format!("unavailable: {NEED}, and this kernel cannot load modules"),
            false,
            "boot a kernel with CONFIG_MODULES and its headers, then build and insmod kmod-shims/pin_shim; or run kmod-shims/vm-test, which drives every twin in Debian's kernel under qemu (functional evidence, not timings)",
        );
    }
    row(
        WHAT,
        format!("unavailable: {NEED}, which is not loaded"),
        false,
        "make -C /lib/modules/$(uname -r)/build M=$PWD/kmod-shims/pin_shim && insmod pin_shim.ko",
    )
}

/// The io_uring row: the sysctl, then a real `io_uring_setup`.
pub fn io_uring(roots: &Roots, setup: impl FnOnce() -> std::io::Result<()>) -> Row {
    let disabled = read(&roots.proc.join("sys/kernel/io_uring_disabled"));
    if let Some(d) = disabled.as_deref() {
        if d != "0" {
            return row(
                "io_uring",
                format!("disabled (io_uring_disabled = {d})"),
                false,
                "sysctl kernel.io_uring_disabled=0",
            );
        }
    }
    match setup() {
        Ok(()) => row("io_uring", "enabled", true, ""),
        // The ring's memory is charged to RLIMIT_MEMLOCK where the kernel
        // accounts it: ENOMEM is the limit, not a missing io_uring.
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => row(
            "io_uring",
            format!("io_uring_setup failed: {e}"),
            false,
            "raise RLIMIT_MEMLOCK (ulimit -l), or run as root",
        ),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => row(
            "io_uring",
            format!("io_uring_setup failed: {e}"),
            false,
            "io_uring is restricted here (io_uring_disabled, a seccomp filter, or a container policy)",
        ),
        Err(e) => row(
            "io_uring",
            format!("io_uring_setup failed: {e}"),
            false,
            "use a kernel with CONFIG_IO_URING=y, or --backend process-vm",
        ),
    }
}

/// `CAP_IPC_LOCK` (include/uapi/linux/capability.h).
const CAP_IPC_LOCK: u32 = 14;

/// The memlock row: root (CAP_IPC_LOCK) is not limited.
pub fn memlock(roots: &Roots, limit: Option<u64>) -> Row {
    let cap_ipc_lock = read(&roots.proc.join("self/status"))
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string()))
        })
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0);
    let found = match limit {
        None => "unlimited".to_string(),
        Some(b) => format!("{} KiB", b / 1024),
    };
    if cap_ipc_lock {
        return row(
            "memlock limit",
            format!("{found} (CAP_IPC_LOCK: not charged)"),
            true,
            "",
        );
    }
    let ok = limit.is_none_or(|b| b >= 256 << 20);
    row(
        "memlock limit",
        found,
        ok,
        "io-uring pins count against it: ulimit -l unlimited, or run as root",
    )
}

/// The THP row.
pub fn thp(roots: &Roots) -> Row {
    let mode = read(&roots.sys.join("kernel/mm/transparent_hugepage/enabled")).and_then(|s| {
        s.split_whitespace()
            .find(|w| w.starts_with('['))
            .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_string())
    });
    match mode.as_deref() {
        Some("never") => row(
            "THP",
            "never",
            false,
            "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (THP cells need it)",
        ),
        Some(m) => row("THP", m.to_string(), true, ""),
        None => row(
            "THP",
            "not available",
            false,
            "use a kernel with CONFIG_TRANSPARENT_HUGEPAGE",
        ),
    }
}

/// The hugetlb row: the pools there are, their size and free pages, then
/// `ledger`: what pinbench runs hold or what was repaired
/// ([`super::hugetlb_pool`]).
pub fn hugetlb(roots: &Roots, ledger: Vec<String>) -> Row {
    let dir = roots.sys.join("kernel/mm/hugepages");
    let mut pools: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kb = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .to_string();
            let nr = read(&e.path().join("nr_hugepages"))?;
            let free = read(&e.path().join("free_hugepages")).unwrap_or_default();
            Some(format!("{kb} kB: {nr} pages, {free} free"))
        })
        .collect();
    pools.sort();
    pools.extend(ledger);
    if pools.is_empty() {
        return row(
            "hugetlb",
            "no pools",
            false,
            "use a kernel with CONFIG_HUGETLBFS (the hugetlb cells are skipped)",
        );
    }
    row(
        "hugetlb",
        pools.join("; "),
        true,
        "pinbench kernel grows a pool for its hugetlb cells (root) and puts it back, \
         after a run that died too (ledger in /run/pinbench); \
         1 GiB pages are best reserved at boot (hugepagesz=1G hugepages=N)",
    )
}

/// The direct-io row: a memory-backed block device, or O_DIRECT on the
/// current directory's filesystem (where the scratch file goes by default).
pub fn direct_io(roots: &Roots) -> Row {
    for dev in ["nullb0", "ram0"] {
        if roots.dev.join(dev).exists() {
            return row("direct-io", format!("/dev/{dev} (memory-backed)"), true, "");
        }
    }
    let path = std::path::PathBuf::from(format!(".pinbench-probe-{}", std::process::id()));
    let ok = std::fs::write(&path, vec![0u8; 4096]).is_ok()
        && std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .is_ok();
    let _ = std::fs::remove_file(&path);
    if ok {
        row(
            "direct-io",
            "O_DIRECT works here (scratch file); the figures include the disk",
            true,
            "modprobe brd (then /dev/ram0 is used) for a device whose own time is small",
        )
    } else {
        row(
            "direct-io",
            "this directory's filesystem refuses O_DIRECT",
            false,
            "run from a disk filesystem, or --dio-file /dev/ram0 after modprobe brd",
        )
    }
}

/// The FOLL_PIN vmstat row.
pub fn foll_pin_counters(roots: &Roots) -> Row {
    match read(&roots.proc.join("vmstat")).and_then(|t| super::vmstat::parse(&t)) {
        Some(c) => row(
            "FOLL_PIN counters",
            format!("acquired {} released {}", c.acquired, c.released),
            true,
            "",
        ),
        None => row(
            "FOLL_PIN counters",
            "absent from /proc/vmstat",
            false,
            "pin accounting needs v5.7+; cells run without the leak check",
        ),
    }
}

/// The NUMA row.
pub fn numa(roots: &Roots) -> Row {
    match crate::machine::topology::Topology::read(&roots.sys.join("devices/system")) {
        Ok(t) => {
            let n = t.nodes.len();
            let found = if n == 1 {
                "1 node".to_string()
            } else {
                format!("{n} nodes")
            };
            row("NUMA nodes", found, true, "")
        }
        Err(e) => row(
            "NUMA nodes",
            format!("unreadable: {e}"),
            false,
            "mount sysfs",
        ),
    }
}

/// Renders the rows as an 80-column table.
pub fn render(release: &str, rows: &[Row]) -> String {
    let mut out = format!("pinbench kernel --probe: {release}\n\n");
    for r in rows {
        let mark = if r.ok { "ok " } else { "-- " };
        out.push_str(&format!("{mark}{:<18} {}\n", r.what, r.found));
        if !r.fix.is_empty() {
            out.push_str(&format!("   {:<18} -> {}\n", "", r.fix));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fixture() -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().expect("tempdir");
        let roots = Roots {
            proc: dir.path().join("proc"),
            sys: dir.path().join("sys"),
            dev: dir.path().join("dev"),
            boot: dir.path().join("boot"),
        };
        for d in [&roots.proc, &roots.sys, &roots.dev, &roots.boot] {
            fs::create_dir_all(d).expect("mkdir");
        }
        fs::create_dir_all(roots.sys.join("kernel/debug")).expect("mkdir");
        fs::create_dir_all(roots.proc.join("sys/kernel")).expect("mkdir");
        (dir, roots)
    }

    #[test]
    fn gup_test_absence_is_explained() {
        let (_d, roots) = fixture();
        let r = gup_test(&roots, "6.18.0");
        assert!(!r.ok);
        assert!(r.found.contains("debugfs not mounted"), "{r:?}");
        fs::write(
            roots.proc.join("mounts"),
            "debugfs /sys/kernel/debug debugfs rw 0 0\n",
        )
        .expect("write");
        fs::write(
            roots.boot.join("config-6.18.0"),
            "# CONFIG_GUP_TEST is not set\n",
        )
        .expect("write");
        let r = gup_test(&roots, "6.18.0");
        assert_eq!(r.found, "absent: no CONFIG_GUP_TEST");
        assert!(r.fix.contains("pin_shim"));
        fs::write(roots.sys.join("kernel/debug/gup_test"), "").expect("write");
        assert!(gup_test(&roots, "6.18.0").ok);
    }

    #[test]
    fn shim_and_io_uring_rows_say_what_to_do() {
        let (_d, roots) = fixture();
        let r = shim(&roots);
        assert!(r.found.contains("no module support") && r.fix.contains("vm-test"));
        fs::write(roots.proc.join("modules"), "").expect("write");
        assert!(shim(&roots).fix.contains("insmod"));
        let t = twins(&roots, || unreachable!("no module"));
        assert!(t.found.contains("xarray, exact") && t.fix.contains("insmod"));
        fs::write(roots.dev.join("pin_shim"), "").expect("write");
        let old = twins(&roots, || Ok((1, 0)));
        assert!(!old.ok && old.found.contains("ABI version 1") && old.fix.contains("rmmod"));
        assert!(twins(&roots, || Ok((2, 3))).ok);
        fs::remove_file(roots.dev.join("pin_shim")).expect("rm");
        fs::write(roots.proc.join("sys/kernel/io_uring_disabled"), "2\n").expect("write");
        let r = io_uring(&roots, || Ok(()));
        assert!(!r.ok && r.fix.contains("io_uring_disabled=0"));
        fs::write(roots.proc.join("sys/kernel/io_uring_disabled"), "0\n").expect("write");
        assert!(io_uring(&roots, || Ok(())).ok);
        let r = io_uring(&roots, || {
            Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
        });
        assert!(!r.ok && r.fix.contains("CONFIG_IO_URING"));
        // Under `ulimit -l 0` the ring's memory is refused: that is the
        // limit, not a kernel without io_uring.
        let r = io_uring(&roots, || {
            Err(std::io::Error::from_raw_os_error(libc::ENOMEM))
        });
        assert!(!r.ok && r.fix.contains("RLIMIT_MEMLOCK"), "{}", r.fix);
        assert!(!r.fix.contains("CONFIG_IO_URING"));
    }

    #[test]
    fn memlock_thp_and_counters() {
        let (_d, roots) = fixture();
        fs::write(roots.proc.join("self"), "").ok();
        assert!(!memlock(&roots, Some(8 << 20)).ok);
        assert!(memlock(&roots, None).ok);
        fs::create_dir_all(roots.sys.join("kernel/mm/transparent_hugepage")).expect("mkdir");
        fs::write(
            roots.sys.join("kernel/mm/transparent_hugepage/enabled"),
            "always [madvise] never\n",
        )
        .expect("write");
        assert_eq!(thp(&roots).found, "madvise");
        assert!(!foll_pin_counters(&roots).ok);
        fs::write(
            roots.proc.join("vmstat"),
            "nr_foll_pin_acquired 5\nnr_foll_pin_released 5\n",
        )
        .expect("write");
        assert!(foll_pin_counters(&roots).ok);
    }

    #[test]
    fn render_marks_missing_pieces_with_their_fix() {
        let (_d, roots) = fixture();
        let rows = vec![gup_test(&roots, "6.18.0"), shim(&roots), thp(&roots)];
        let text = render("6.18.0", &rows);
        for line in text.lines() {
            assert!(!line.contains('\t'), "{line}");
        }
        assert!(text.contains("-> mount -t debugfs"));
    }
}
