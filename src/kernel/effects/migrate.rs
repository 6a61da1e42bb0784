//! What a pin does to migration: `move_pages()` of a buffer's 4 KiB pages
//! to another node. `try_to_migrate_one()` (mm/rmap.c:2263 in v6.12) must
//! clear an exclusive anonymous page's `PageAnonExclusive` before it
//! unmaps it, and `folio_try_share_anon_rmap_pte()` refuses that with
//! -EBUSY for a folio `folio_maybe_dma_pinned()` reports pinned
//! (include/linux/rmap.h:582): the page stays mapped, `migrate_pages()`
//! retries it (`NR_MAX_MIGRATE_PAGES_RETRY`, 10 passes) and gives up, and
//! `move_pages()` returns how many pages it did not move. This is the
//! check a false positive of the pin answer trips.
//!
//! Paired as every effect: in each round the same buffer, put back on its
//! first node unpinned, is moved once registered with io_uring (pinned
//! long-term) and once not, in alternating order; then every page's node
//! is read back (`move_pages(..., NULL, status)`), before the move and
//! after it, and the difference is what the move moved. Putting a buffer
//! back can leave pages behind for a moment (a page migrated a moment ago
//! can still be off the LRU, or referenced by a scanner: `move_pages()`
//! then skips it and says how many it skipped), so the put-back is
//! repeated until every page is home; without that, a round would start
//! with pages already on the target node and read them as moved (seen
//! once under 6.1 in an emulated guest). Needs two nodes with memory: on
//! one there is nowhere to move to (vm-test's guest has two).

use super::errno;
use crate::kernel::buffer::UserBuffer;
use crate::kernel::io_uring::{explain_enomem, register_range};
use crate::machine::mapping::PAGE_SIZE;
use pin_results::{Estimate, Migration};
use std::io;
use std::time::{Duration, Instant};

/// Put-backs tried before a round starts with whatever did not come home.
const PUT_BACK_TRIES: u64 = 20;

/// The pause between put-backs: long enough for a per-CPU LRU batch or a
/// deferred unpin to drain, short beside a round.
const PUT_BACK_PAUSE: Duration = Duration::from_millis(5);

/// `MPOL_MF_MOVE` (include/uapi/linux/mempolicy.h): move the pages mapped
/// by this process alone.
const MPOL_MF_MOVE: i32 = 1 << 1;

/// The nodes that have memory (`/sys/devices/system/node/has_memory`);
/// empty where the file is missing (no CONFIG_NUMA).
pub fn memory_nodes() -> Vec<u32> {
    std::fs::read_to_string("/sys/devices/system/node/has_memory")
        .ok()
        .and_then(|s| crate::machine::topology::parse_list(&s))
        .map(|v| {
            v.into_iter()
                .filter_map(|n| u32::try_from(n).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Each page of `buf` asked to move to `node` (`Some`), or asked where it
/// is (`None`, moving nothing). Returns what the call returned and the
/// per-page status (the node, or a negative errno).
fn move_pages(buf: &UserBuffer, node: Option<u32>) -> (io::Result<u64>, Vec<i32>) {
    let n = buf.bytes() / PAGE_SIZE;
    let addrs: Vec<*mut libc::c_void> = (0..n)
        .map(|i| (buf.addr() + i * PAGE_SIZE) as *mut libc::c_void)
        .collect();
    let nodes: Vec<i32> = node.map_or(vec![], |d| vec![d as i32; n]);
    let mut status = vec![i32::MIN; n];
    let nodes_ptr = if node.is_some() {
        nodes.as_ptr()
    } else {
        std::ptr::null()
    };
    // SAFETY: `addrs` and `status` hold `n` entries, as does `nodes` when
    // passed; pid 0 is this process; MPOL_MF_MOVE moves only pages mapped
    // by this process alone.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            0,
            n as libc::c_ulong,
            addrs.as_ptr(),
            nodes_ptr,
            status.as_mut_ptr(),
            MPOL_MF_MOVE,
        )
    };
    let r = if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u64)
    };
    (r, status)
}

/// `0`, `N not moved` or the errno: what one move answered.
fn answer(r: &io::Result<u64>) -> String {
    match r {
        Ok(0) => "0".into(),
        Ok(n) => format!("{n} not moved"),
        Err(e) => errno::name(e),
    }
}

/// Pages of `buf` now on `node`.
fn on_node(buf: &UserBuffer, node: u32) -> u64 {
    let (_, status) = move_pages(buf, None);
    status.iter().filter(|&&s| s == node as i32).count() as u64
}

/// Puts every page of `buf` back on `node`, repeating the move (up to
/// `PUT_BACK_TRIES` calls) while some stay elsewhere. Returns the calls
/// made beyond the first.
fn put_back(buf: &UserBuffer, node: u32) -> io::Result<u64> {
    let pages = (buf.bytes() / PAGE_SIZE) as u64;
    for again in 0..PUT_BACK_TRIES {
        if again > 0 {
            std::thread::sleep(PUT_BACK_PAUSE);
        }
        move_pages(buf, Some(node)).0?;
        if on_node(buf, node) == pages {
            return Ok(again);
        }
    }
    Ok(PUT_BACK_TRIES - 1)
}

/// One timed move of `buf` to `to`, pinned or not: (answer, ns, pages the
/// move brought to `to`).
fn one(
    ring: &io_uring::IoUring,
    buf: &UserBuffer,
    pinned: bool,
    to: u32,
) -> io::Result<(String, f64, u64)> {
    if pinned {
        // SAFETY: `buf` outlives the ring, and with it the registration.
        unsafe { register_range(ring, buf.addr(), buf.bytes()) }
            .map_err(|e| explain_enomem(e, buf.bytes()))?;
    }
    let before = on_node(buf, to);
    let t = Instant::now();
    let (r, _) = move_pages(buf, Some(to));
    let ns = t.elapsed().as_nanos() as f64;
    if pinned {
        ring.submitter().unregister_buffers()?;
    }
    Ok((answer(&r), ns, on_node(buf, to).saturating_sub(before)))
}

/// `rounds` pinned and unpinned moves of `bytes` of 4 KiB pages between
/// the first two nodes with memory; `Ok(None)` where there are fewer than
/// two, or once `stop` says so.
pub fn measure(
    bytes: usize,
    rounds: usize,
    stop: &dyn Fn() -> bool,
) -> io::Result<Option<Migration>> {
    let nodes = memory_nodes();
    let (Some(&from), Some(&to)) = (nodes.first(), nodes.get(1)) else {
        return Ok(None);
    };
    let buf = UserBuffer::new(bytes, false)?;
    let ring = io_uring::IoUring::new(2)?;
    let pages = (buf.bytes() / PAGE_SIZE) as u64;
    let mut answers: [Vec<String>; 2] = [vec![], vec![]];
    let mut ns: [Vec<f64>; 2] = [vec![], vec![]];
    let mut moved = vec![];
    let mut put_back_retries = 0;
    for r in 0..rounds {
        let mut on_to = [0; 2];
        for pinned in [r % 2 == 0, r % 2 != 0] {
            if stop() {
                return Ok(None);
            }
            // Back on `from`, unpinned: every round starts where the first
            // did.
            put_back_retries += put_back(&buf, from)?;
            let (a, t, n) = one(&ring, &buf, pinned, to)?;
            let i = usize::from(!pinned);
            if !answers[i].contains(&a) {
                answers[i].push(a);
            }
            ns[i].push(t / pages as f64);
            on_to[i] = n;
        }
        moved.push((on_to[0], on_to[1]));
    }
    let est = |v: &[f64]| Estimate::of(v).ok_or_else(|| io::Error::other("no migration rounds"));
    let [pinned_answers, unpinned_answers] = answers;
    Ok(Some(Migration {
        from_node: from,
        to_node: to,
        pages,
        rounds,
        moved,
        put_back_retries,
        pinned_answers,
        unpinned_answers,
        ns_per_page_pinned: est(&ns[0])?,
        ns_per_page_unpinned: est(&ns[1])?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where this machine has two nodes with memory and io_uring, no
    /// pinned page moves and every unpinned one does.
    #[test]
    fn pinned_pages_stay_where_unpinned_ones_move() {
        let m = match measure(64 * PAGE_SIZE, 2, &|| false) {
            Ok(Some(m)) => m,
            Ok(None) => {
                eprintln!("fewer than two nodes with memory here: nothing to check");
                return;
            }
            Err(e) => {
                eprintln!("io_uring or move_pages unavailable here ({e}): nothing to check");
                return;
            }
        };
        assert!(
            m.moved.iter().all(|&(p, u)| p == 0 && u == m.pages),
            "{m:?}"
        );
        assert_eq!(m.pinned_answers, ["64 not moved"], "{m:?}");
    }

    /// Pages already on their node are home at the first put-back, and
    /// are all counted there.
    #[test]
    fn a_buffer_already_home_is_put_back_in_one_call() {
        let Some(&home) = memory_nodes().first() else {
            eprintln!("no NUMA here: nothing to check");
            return;
        };
        let buf = UserBuffer::new(16 * PAGE_SIZE, false).expect("a 64 KiB buffer");
        match put_back(&buf, home) {
            Ok(again) => assert_eq!(again, 0),
            Err(e) => {
                eprintln!("move_pages unavailable here ({e}): nothing to check");
                return;
            }
        }
        assert_eq!(on_node(&buf, home), 16);
    }

    #[test]
    fn answers_name_what_the_call_returned() {
        assert_eq!(answer(&Ok(0)), "0");
        assert_eq!(answer(&Ok(7)), "7 not moved");
        assert_eq!(
            answer(&Err(io::Error::from_raw_os_error(libc::EPERM))),
            "EPERM"
        );
    }
}
