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
//! long-term) and once not, in alternating order; every page's node is
//! read (`move_pages(..., NULL, status)`) before the move and after it,
//! and the difference is what the move moved. Needs two nodes with memory:
//! on one there is nowhere to move to (vm-test's guest has two).
//!
//! The buffer gets a memory policy of its own (`mbind(MPOL_BIND)` to its
//! first node), which takes it out of NUMA balancing's scan:
//! `task_numa_work()` skips a VMA whose policy lacks `MPOL_F_MOF`
//! (kernel/sched/fair.c:3376, `vma_policy_mof()` at mm/mempolicy.c:1838
//! in v6.12), and only the default policy and `MPOL_F_NUMA_BALANCING` set
//! it. Without that the scanner, on a machine of two nodes, makes the
//! buffer's PTEs PROT_NONE for hinting faults the idle buffer never takes,
//! and Debian's 6.1.0-47 `move_pages()` does not follow such a PTE: every
//! page answers -ENOENT and stays where it is (seen in vm-test's 6.1 guest:
//! a round then started on the target node and read its pages as moved).
//! `move_pages()` allocates on the node it is told (`__GFP_THISNODE`,
//! `do_move_pages_to_node()`, mm/migrate.c:2178), whatever the policy. The
//! put-back is still checked, repeated while pages stay behind, and what
//! those pages answered is kept.

use super::errno;
use crate::kernel::buffer::UserBuffer;
use crate::kernel::io_uring::{explain_enomem, register_range};
use crate::machine::mapping::PAGE_SIZE;
use crate::machine::numa::mbind;
use pin_results::{Estimate, Migration};
use std::collections::BTreeSet;
use std::io;
use std::time::{Duration, Instant};

/// Put-backs tried before a round starts with whatever did not come home.
const PUT_BACK_TRIES: u64 = 20;

/// The pause between put-backs, short beside a round.
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
    count_on(&move_pages(buf, None).1, node)
}

/// Statuses in `status` that name `node`.
fn count_on(status: &[i32], node: u32) -> u64 {
    status.iter().filter(|&&s| s == node as i32).count() as u64
}

/// What a put-back left behind.
#[derive(Default)]
struct PutBack {
    /// `move_pages()` calls beyond the first.
    retries: u64,
    /// What the last call answered for the pages still elsewhere: an errno
    /// name, or `node N` for a page the call left in place.
    left: BTreeSet<String>,
}

/// Puts every page of `buf` back on `node`, repeating the move (up to
/// `PUT_BACK_TRIES` calls) while some stay elsewhere.
fn put_back(buf: &UserBuffer, node: u32) -> io::Result<PutBack> {
    let pages = (buf.bytes() / PAGE_SIZE) as u64;
    let mut out = PutBack::default();
    for again in 0..PUT_BACK_TRIES {
        if again > 0 {
            std::thread::sleep(PUT_BACK_PAUSE);
        }
        let (r, asked) = move_pages(buf, Some(node));
        r?;
        out.retries = again;
        let (_, now) = move_pages(buf, None);
        out.left = now
            .iter()
            .zip(&asked)
            .filter(|&(&n, _)| n != node as i32)
            .map(|(_, &a)| status_name(a))
            .collect();
        if count_on(&now, node) == pages {
            break;
        }
    }
    Ok(out)
}

/// A `move_pages()` status: the node, the errno's name, or `unset` for
/// the value the call did not overwrite.
fn status_name(status: i32) -> String {
    match (u32::try_from(status), status.checked_neg()) {
        (Ok(n), _) => format!("node {n}"),
        (Err(_), Some(e)) => errno::name(&io::Error::from_raw_os_error(e)),
        (Err(_), None) => "unset".into(),
    }
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
    // Out of NUMA balancing's scan (see the top of this file).
    mbind(buf.addr() as *mut libc::c_void, buf.bytes(), from).map_err(|e| {
        io::Error::new(e.kind(), format!("mbind of the buffer to node {from}: {e}"))
    })?;
    let ring = io_uring::IoUring::new(2)?;
    let pages = (buf.bytes() / PAGE_SIZE) as u64;
    let mut answers: [Vec<String>; 2] = [vec![], vec![]];
    let mut ns: [Vec<f64>; 2] = [vec![], vec![]];
    let mut moved = vec![];
    let mut put_back_retries = 0;
    let mut put_back_left = BTreeSet::new();
    for r in 0..rounds {
        let mut on_to = [0; 2];
        for pinned in [r % 2 == 0, r % 2 != 0] {
            if stop() {
                return Ok(None);
            }
            // Back on `from`, unpinned: every round starts where the first
            // did.
            let back = put_back(&buf, from)?;
            put_back_retries += back.retries;
            put_back_left.extend(back.left);
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
        put_back_left: put_back_left.into_iter().collect(),
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
            Ok(back) => {
                assert_eq!(back.retries, 0);
                assert!(back.left.is_empty(), "{:?}", back.left);
            }
            Err(e) => {
                eprintln!("move_pages unavailable here ({e}): nothing to check");
                return;
            }
        }
        assert_eq!(on_node(&buf, home), 16);
    }

    #[test]
    fn statuses_name_the_node_or_the_errno() {
        assert_eq!(status_name(1), "node 1");
        assert_eq!(status_name(-libc::ENOENT), "ENOENT");
        assert_eq!(status_name(i32::MIN), "unset");
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
