//! `effects`: what pins do to the rest of the running kernel, measured by
//! `pinbench kernel --effects`: which mappings it lets be pinned, and what
//! a pinned buffer costs `fork()`, and what migration and khugepaged
//! refuse of a pinned range.

use crate::Estimate;
use serde::{Deserialize, Serialize};

/// The effects measured in one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Effects {
    /// What the kernel answered to a long-term and a short-term pin of
    /// each kind of mapping.
    pub pin_table: Vec<PinAnswer>,
    /// `fork()` with the buffer pinned against unpinned, per backing.
    pub fork: Vec<ForkCost>,
    /// `MADV_COLLAPSE` of pinned and unpinned ranges; `null` where it could
    /// not be tried (no io_uring, no MADV_COLLAPSE before 6.1).
    #[serde(default)]
    pub collapse: Option<Collapse>,
    /// `move_pages()` of pinned and unpinned pages to another node; `null`
    /// on a machine with one node of memory (or where it could not be
    /// tried: the run's notes say why).
    #[serde(default)]
    pub migration: Option<Migration>,
    /// The kernel's FOLL_PIN counters balanced over the effects (every pin
    /// taken was released); `null` where /proc/vmstat lacks them.
    pub pins_balanced: Option<bool>,
}

/// One row of the pin table: a mapping, and each pin's outcome: `pinned`,
/// or the errno (`EFAULT`, ...), or why it was not tried.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinAnswer {
    /// `anon private`, `memfd shared`, `hugetlb private`, `file shared`,
    /// `file private`.
    pub mapping: String,
    /// The filesystem of a file mapping (`ext4`, `tmpfs`, ...), else `null`.
    pub fs: Option<String>,
    /// `read-write` or `read-only` (the mapping's protection).
    pub prot: String,
    /// `IORING_REGISTER_BUFFERS`: `pin_user_pages(FOLL_WRITE |
    /// FOLL_LONGTERM)`.
    pub long_term: String,
    /// An `O_DIRECT` read into the buffer: a short-term FOLL_PIN with
    /// FOLL_WRITE (the device writes the pages).
    pub dio_into: String,
    /// An `O_DIRECT` write from the buffer: a short-term FOLL_PIN, read
    /// only.
    pub dio_from: String,
}

/// `fork()` of a process holding a buffer pinned long-term (registered
/// with io_uring) against the same buffer unpinned (unregistered;
/// MMF_HAS_PINNED stays set), in alternating rounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForkCost {
    /// `4k`, `thp`.
    pub backing: String,
    /// Pages of the buffer (4 KiB).
    pub pages: u64,
    /// Bytes of the buffer PMD-mapped as THP (`AnonHugePages`) before the
    /// rounds, `null` where smaps could not be read.
    pub thp_bytes: Option<u64>,
    /// The same after them: a fork splits the PMD of a THP that may be
    /// pinned (`copy_huge_pmd()`: "Page maybe pinned: split and retry the
    /// fault on PTEs", mm/huge_memory.c:1660, v6.12), so from the first
    /// pinned fork on the buffer is PTE-mapped and copied page by page.
    pub thp_bytes_after: Option<u64>,
    /// Rounds (one pinned and one unpinned fork each).
    pub rounds: usize,
    /// Median ns of a fork with the buffer pinned, and without.
    pub fork_ns_pinned: f64,
    /// As above, unpinned.
    pub fork_ns_unpinned: f64,
    /// Per round, (pinned - unpinned) fork ns over the buffer's pages:
    /// median and 95% interval.
    pub ns_per_pinned_page: Estimate,
    /// The child's private pages in the buffer after a fork with it
    /// pinned (what `copy_page_range()` copied: `folio_needs_cow_for_dma()`),
    /// and unpinned; `null` where /proc/PID/smaps could not be read.
    pub pages_copied_pinned: Option<u64>,
    /// As above, unpinned.
    pub pages_copied_unpinned: Option<u64>,
    /// Per round: fork ns pinned, then unpinned.
    pub rounds_ns: Vec<(f64, f64)>,
}

/// `MADV_COLLAPSE` of 2 MiB ranges of 4 KiB pages, pinned long-term
/// (registered with io_uring) against unpinned: khugepaged's collapse
/// refuses a page whose references exceed its mappings
/// (`is_refcount_suitable()`, mm/khugepaged.c), as a pin's do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collapse {
    /// Ranges tried each way.
    pub ranges: usize,
    /// Pinned ranges that became a THP.
    pub pinned_collapsed: usize,
    /// What `madvise()` answered for the pinned ranges: `ok` or the errno,
    /// each once, in order of first appearance.
    pub pinned_answers: Vec<String>,
    /// Unpinned ranges that became a THP.
    pub unpinned_collapsed: usize,
    /// As `pinned_answers`, unpinned.
    pub unpinned_answers: Vec<String>,
}

/// `move_pages()` of a buffer of 4 KiB pages from one node to another,
/// pinned long-term (registered with io_uring) against unpinned, in
/// alternating rounds. Migration unmaps an exclusive anonymous page only
/// if `folio_try_share_anon_rmap_pte()` may clear its `PageAnonExclusive`,
/// which it refuses for a folio `folio_maybe_dma_pinned()` reports pinned
/// (-EBUSY, include/linux/rmap.h:582 in v6.12, from `try_to_migrate_one()`,
/// mm/rmap.c:2263); `migrate_pages()` retries it and gives up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    /// The node the buffer's pages start each round on, and the node they
    /// are asked to move to.
    pub from_node: u32,
    /// As above, the destination.
    pub to_node: u32,
    /// Pages of the buffer (4 KiB).
    pub pages: u64,
    /// Rounds (one pinned and one unpinned move each).
    pub rounds: usize,
    /// Per round, pages the pinned move brought to `to_node`, then the
    /// unpinned one: pages found there after the move less those found
    /// before it (`move_pages(..., NULL, status)`).
    pub moved: Vec<(u64, u64)>,
    /// `move_pages()` calls beyond one per move, over the rounds, that
    /// putting the buffer back on `from_node` took; 0 in files written
    /// before the put-back was checked.
    #[serde(default)]
    pub put_back_retries: u64,
    /// What `move_pages()` answered, the last time a put-back was tried,
    /// for pages it left off `from_node` (an errno name, or `node N`);
    /// empty where every put-back brought every page home.
    #[serde(default)]
    pub put_back_left: Vec<String>,
    /// What `move_pages()` returned for the pinned moves and the unpinned
    /// ones: `0`, a positive count of pages not moved (`N not moved`) or
    /// the errno, each once, in order of first appearance.
    pub pinned_answers: Vec<String>,
    /// As above, unpinned.
    pub unpinned_answers: Vec<String>,
    /// ns of the `move_pages()` call over the buffer's pages, per round:
    /// median and 95% interval, pinned.
    pub ns_per_page_pinned: Estimate,
    /// As above, unpinned.
    pub ns_per_page_unpinned: Estimate,
}
