//! `pinbench kernel --effects`: what pins do to the rest of the running
//! kernel, beside what they cost themselves: which mappings it lets be
//! pinned ([`pin_table`]), what a pinned buffer costs `fork()`
//! ([`fork`]), what khugepaged's `MADV_COLLAPSE` makes of a pinned
//! range ([`collapse`]) and what `move_pages()` does with pinned pages
//! ([`migrate`]). The results go in the results file's `effects`.

pub mod collapse;
mod errno;
pub mod fork;
pub mod migrate;
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
/// read around them; and notes on what could not be measured. Stops
/// between steps once `stop` says so (a signal): what was measured is
/// kept. The migration moves `migrate_bytes` over `fork_opts.rounds`.
pub fn measure(
    dir: &Path,
    fork_opts: &fork::Options,
    migrate_bytes: usize,
    stop: &dyn Fn() -> bool,
) -> (Effects, Vec<String>) {
    let vmstat = Path::new(super::vmstat::PROC_VMSTAT);
    let before = super::vmstat::read(vmstat).ok().flatten();
    let pin_table = pin_table::measure(dir, stop);
    let (fork, mut notes) = fork::measure(fork_opts, stop);
    let collapse = collapse(stop, &mut notes);
    let migration = migration(migrate_bytes, fork_opts.rounds, stop, &mut notes);
    let after = super::vmstat::read(vmstat).ok().flatten();
    let (pins_balanced, disturbed) = balance(before, after, vmstat);
    notes.extend(disturbed);
    let effects = Effects {
        pin_table,
        fork,
        collapse,
        migration,
        pins_balanced,
    };
    (effects, notes)
}

/// `MADV_COLLAPSE` of pinned and unpinned ranges, or a note why not.
fn collapse(stop: &dyn Fn() -> bool, notes: &mut Vec<String>) -> Option<pin_results::Collapse> {
    if stop() {
        None
    } else {
        match collapse::measure() {
            Ok(c) if c.unpinned_collapsed == 0 => {
                notes.push(format!(
                    "effects: MADV_COLLAPSE collapsed no range, pinned or not ({}): \
                     it is not available to this process here",
                    c.unpinned_answers.join(", ")
                ));
                None
            }
            Ok(c) => Some(c),
            Err(e) => {
                notes.push(format!("effects: MADV_COLLAPSE not tried: {e}"));
                None
            }
        }
    }
}

/// `move_pages()` of pinned and unpinned pages, or a note why not.
fn migration(
    bytes: usize,
    rounds: usize,
    stop: &dyn Fn() -> bool,
    notes: &mut Vec<String>,
) -> Option<pin_results::Migration> {
    if stop() {
        return None;
    }
    match migrate::measure(bytes, rounds, stop) {
        Ok(Some(m)) => Some(m),
        Ok(None) if !stop() => {
            notes.push(format!(
                "effects: move_pages() not tried: it needs two nodes with memory, and \
                 this machine has {} (kmod-shims/vm-test's guest has two)",
                migrate::memory_nodes().len()
            ));
            None
        }
        Ok(None) => None,
        Err(e) => {
            notes.push(format!("effects: move_pages() not measured: {e}"));
            None
        }
    }
}

/// Whether the counters balanced between `before` and `after`; where they
/// did not, whether another process is pinning now (the counters move
/// over a quiet 100 ms of ours), which makes the sum no proof of a leak.
fn balance(
    before: Option<super::vmstat::FollPin>,
    after: Option<super::vmstat::FollPin>,
    vmstat: &Path,
) -> (Option<bool>, Option<String>) {
    let (Some(b), Some(a)) = (before, after) else {
        return (None, None);
    };
    if b.delta(a).balanced() {
        return (Some(true), None);
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let later = super::vmstat::read(vmstat).ok().flatten();
    if later.is_some_and(|l| a.delta(l) != super::vmstat::FollPin::default()) {
        let why = "effects: another process pinned or unpinned meanwhile (the FOLL_PIN \
                   counters moved while pinbench was idle): their sum is no proof either way";
        return (None, Some(why.into()));
    }
    (
        Some(false),
        Some("effects: FOLL_PIN counters did not balance over the effects".into()),
    )
}
