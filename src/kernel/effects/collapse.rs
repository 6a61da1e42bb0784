//! What a pin does to khugepaged: `MADV_COLLAPSE` (v6.1 on) of a 2 MiB
//! range of 4 KiB pages collapses it into a THP unless a page has more
//! references than mappings (`is_refcount_suitable()`, mm/khugepaged.c:547
//! in v6.12, checked at :651 and :1395: `SCAN_PAGE_COUNT`, which
//! `madvise_collapse_errno()` answers with EAGAIN, :2690). A page pinned
//! long-term holds such references for as long as it is registered, so its
//! range stays 4 KiB pages: the memory khugepaged, compaction and
//! migration would tidy stays where and how it is.
//!
//! Ranges are tried alternately pinned (registered with io_uring) and
//! unpinned, each freshly faulted in as 4 KiB pages.

use super::errno;
use crate::kernel::buffer::HPAGE;
use crate::kernel::io_uring::register_range;
use crate::machine::mapping::{anon_huge_bytes, Mapping, PAGE_SIZE};
use pin_results::Collapse;
use std::io;

/// 2 MiB ranges tried each way.
const RANGES: usize = 4;

/// `MADV_COLLAPSE` (include/uapi/asm-generic/mman-common.h).
const MADV_COLLAPSE: i32 = 25;

/// A 2 MiB-aligned range of 4 KiB pages, faulted in.
fn range() -> io::Result<(Mapping, usize)> {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let map = Mapping::with(2 * HPAGE, rw, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, None)?;
    let base = map.ptr().as_ptr() as usize;
    let start = base.next_multiple_of(HPAGE);
    // SAFETY: advice on our own mapping; NOHUGEPAGE while faulting so the
    // faults give 4 KiB pages whatever the THP mode, then cleared so the
    // collapse may run.
    unsafe {
        libc::madvise(start as *mut libc::c_void, HPAGE, libc::MADV_NOHUGEPAGE);
        for i in 0..HPAGE / PAGE_SIZE {
            ((start + i * PAGE_SIZE) as *mut u8).write_volatile(1);
        }
        libc::madvise(start as *mut libc::c_void, HPAGE, libc::MADV_HUGEPAGE);
    }
    Ok((map, start))
}

/// Collapses the range at `start`: `ok` or the errno, and whether it is
/// PMD-mapped after.
fn collapse(start: usize) -> (String, bool) {
    // SAFETY: advice on a mapped range of ours.
    let r = unsafe { libc::madvise(start as *mut libc::c_void, HPAGE, MADV_COLLAPSE) };
    let answer = if r == 0 {
        "ok".to_string()
    } else {
        errno::name(&io::Error::last_os_error())
    };
    let huge = std::fs::read_to_string("/proc/self/smaps")
        .map(|s| anon_huge_bytes(&s, start, start + HPAGE) >= HPAGE as u64)
        .unwrap_or(false);
    (answer, huge)
}

/// One range pinned (or not) while collapsed.
fn one(ring: &io_uring::IoUring, pinned: bool) -> io::Result<(String, bool)> {
    let (_map, start) = range()?;
    if !pinned {
        return Ok(collapse(start));
    }
    // SAFETY: the range stays mapped until after unregister.
    unsafe { register_range(ring, start, HPAGE) }?;
    let out = collapse(start);
    ring.submitter().unregister_buffers()?;
    Ok(out)
}

/// Ranges collapsed pinned and unpinned, alternately.
pub fn measure() -> io::Result<Collapse> {
    let ring = io_uring::IoUring::new(2)?;
    let mut c = Collapse {
        ranges: RANGES,
        ..Collapse::default()
    };
    for r in 0..2 * RANGES {
        let pinned = r % 2 == 0;
        let (answer, huge) = one(&ring, pinned)?;
        let (n, answers) = if pinned {
            (&mut c.pinned_collapsed, &mut c.pinned_answers)
        } else {
            (&mut c.unpinned_collapsed, &mut c.unpinned_answers)
        };
        *n += usize::from(huge);
        if !answers.contains(&answer) {
            answers.push(answer);
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where this kernel collapses an unpinned range at all (io_uring and
    /// MADV_COLLAPSE present), it collapses no pinned one.
    #[test]
    fn a_pinned_range_is_never_collapsed_where_an_unpinned_one_is() {
        let Ok(c) = measure() else {
            eprintln!("io_uring or MADV_COLLAPSE unavailable here: nothing to check");
            return;
        };
        if c.unpinned_collapsed == 0 {
            eprintln!(
                "no range collapsed here ({:?}): nothing to check",
                c.unpinned_answers
            );
            return;
        }
        assert_eq!(c.pinned_collapsed, 0, "{c:?}");
        assert_eq!(c.pinned_answers, ["EAGAIN"], "{c:?}");
    }
}
