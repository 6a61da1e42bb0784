//! The kernel's own ground truth on FOLL_PIN: `nr_foll_pin_acquired` and
//! `nr_foll_pin_released` in /proc/vmstat (`NR_FOLL_PIN_ACQUIRED` /
//! `NR_FOLL_PIN_RELEASED`, bumped by `try_grab_folio{,_fast}()` and
//! `gup_put_folio()` once per page pinned or unpinned).
//!
//! They are node counters kept per CPU and folded into the global sum only
//! past a threshold or once a second, so a read right after a cell can miss
//! the last few hundred pins; writing /proc/sys/vm/stat_refresh (root) folds
//! them first. Without root the reads are retried until two agree.

use std::fs;
use std::io;
use std::path::Path;

/// Default location of the counters.
pub const PROC_VMSTAT: &str = "/proc/vmstat";
/// Writing here folds every CPU's pending counter deltas.
pub const STAT_REFRESH: &str = "/proc/sys/vm/stat_refresh";

/// A reading of the two FOLL_PIN counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FollPin {
    /// `nr_foll_pin_acquired`.
    pub acquired: u64,
    /// `nr_foll_pin_released`.
    pub released: u64,
}

impl FollPin {
    /// Pins taken and released between `self` and `later`.
    pub fn delta(self, later: FollPin) -> FollPin {
        FollPin {
            acquired: later.acquired.wrapping_sub(self.acquired),
            released: later.released.wrapping_sub(self.released),
        }
    }

    /// True when every pin taken was released.
    pub fn balanced(self) -> bool {
        self.acquired == self.released
    }
}

/// Parses the counters out of vmstat text; `None` when the kernel does not
/// have them (before v5.7).
pub fn parse(text: &str) -> Option<FollPin> {
    let mut acquired = None;
    let mut released = None;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        match (it.next(), it.next().and_then(|v| v.parse::<u64>().ok())) {
            (Some("nr_foll_pin_acquired"), Some(v)) => acquired = Some(v),
            (Some("nr_foll_pin_released"), Some(v)) => released = Some(v),
            _ => {}
        }
    }
    Some(FollPin {
        acquired: acquired?,
        released: released?,
    })
}

/// Folds pending per-CPU deltas (best effort: needs root).
pub fn refresh() {
    // Failure only means the read may lag by the per-CPU threshold.
    let _ = fs::write(STAT_REFRESH, "1");
}

/// Reads the counters from `path` after folding per-CPU deltas.
pub fn read(path: &Path) -> io::Result<Option<FollPin>> {
    refresh();
    Ok(parse(&fs::read_to_string(path)?))
}

/// How long pinbench watches the counters while it pins nothing itself.
pub const IDLE_WINDOW: std::time::Duration = std::time::Duration::from_millis(30);

/// Watches the counters for [`IDLE_WINDOW`] while this process pins
/// nothing: returns the reading at its end and whether another process
/// pinned or unpinned meanwhile (the counters are system-wide).
pub fn idle_window(path: &Path) -> Option<(FollPin, bool)> {
    let a = read(path).ok().flatten()?;
    std::thread::sleep(IDLE_WINDOW);
    let b = read(path).ok().flatten()?;
    Some((b, a != b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_counters_and_their_delta() {
        let text = "nr_free_pages 12\nnr_foll_pin_acquired 1030\nnr_foll_pin_released 1024\n";
        let before = parse(text).expect("present");
        assert_eq!(
            before,
            FollPin {
                acquired: 1030,
                released: 1024
            }
        );
        assert!(!before.balanced());
        let after = FollPin {
            acquired: 2054,
            released: 2054,
        };
        let d = before.delta(after);
        assert_eq!(d.acquired, 1024);
        assert_eq!(d.released, 1030);
    }

    #[test]
    fn absent_counters_read_as_none() {
        assert_eq!(parse("nr_free_pages 12\nnr_foll_pin_acquired 3\n"), None);
    }

    #[test]
    fn this_kernel_exposes_them() {
        // Every kernel since v5.7 does; a failure here means the parser
        // broke, not the kernel.
        let text = fs::read_to_string(PROC_VMSTAT).expect("/proc/vmstat");
        if text.contains("nr_foll_pin_acquired") {
            assert!(parse(&text).is_some());
        }
    }
}
