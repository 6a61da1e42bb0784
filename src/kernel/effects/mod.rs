//! `pinbench kernel --effects`: what pins do to the rest of the running
//! kernel, beside what they cost themselves: which mappings it lets be
//! pinned ([`pin_table`]), what a pinned buffer costs `fork()`
//! ([`fork`]), and what khugepaged's `MADV_COLLAPSE` makes of a pinned
//! range ([`collapse`]). The results go in the results file's `effects`.

pub mod collapse;
mod errno;
pub mod fork;
pub mod pin_table;

use pin_results::Effects;
use std::path::Path;

/// The filesystem `dir` is on, by statfs magic (`ext4`, `xfs`, ...).
pub fn fs_name(dir: &Path) -> String {
    const KNOWN: [(u32, &str); 8] = [
        (0xEF53, "ext4"),
        (0x5846_5342, "xfs"),
        (0x9123_683E, "btrfs"),
        (0x0102_1994, "tmpfs"),
        (0x8584_58f6, "ramfs"),
        (0x794c_7630, "overlayfs"),
        (0x6969, "nfs"),
        (0x2FC1_2FC1, "zfs"),
    ];
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return "unknown".into();
    };
    // SAFETY: statfs is plain data; all-zero is a valid value to fill.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statfs to fill.
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return "unknown".into();
    }
    // The magics are 32-bit; f_type's width is the architecture's.
    let magic = s.f_type as u32;
    KNOWN
        .iter()
        .find(|(m, _)| *m == magic)
        .map_or_else(|| format!("{magic:#x}"), |(_, n)| (*n).to_string())
}

/// Every effect, files made in `dir`, with the kernel's FOLL_PIN counters
/// read around them; and notes on what could not be measured.
pub fn measure(dir: &Path, fork_opts: &fork::Options) -> (Effects, Vec<String>) {
    let vmstat = Path::new(super::vmstat::PROC_VMSTAT);
    let before = super::vmstat::read(vmstat).ok().flatten();
    let pin_table = pin_table::measure(dir);
    let (fork, mut notes) = fork::measure(fork_opts);
    let collapse = collapse::measure()
        .map_err(|e| notes.push(format!("effects: MADV_COLLAPSE not tried: {e}")))
        .ok();
    let after = super::vmstat::read(vmstat).ok().flatten();
    let pins_balanced = match (before, after) {
        (Some(b), Some(a)) => {
            let d = b.delta(a);
            Some(d.acquired == d.released)
        }
        _ => None,
    };
    let effects = Effects {
        pin_table,
        fork,
        collapse,
        pins_balanced,
    };
    (effects, notes)
}
