//! The user buffer the real kernel pins: an anonymous private mapping,
//! faulted in before measuring, backed by 4 KiB pages or by THP.
//!
//! For THP the mapping is aligned to 2 MiB and `madvise(MADV_HUGEPAGE)`d
//! (works in THP modes `always` and `madvise`); for 4 KiB pages it is
//! `MADV_NOHUGEPAGE`d. What the kernel really gave is read back from
//! /proc/self/smaps (`AnonHugePages`) and recorded, not assumed.

use super::backing::Backing;
use crate::machine::mapping::{Mapping, PAGE_SIZE};
use std::io;
use std::ptr::NonNull;
/// PMD-mapped THP size.
pub const HPAGE: usize = 2 << 20;

/// A faulted-in anonymous buffer; unmapped on drop.
pub struct UserBuffer {
    _map: Mapping,
    start: NonNull<u8>,
    bytes: usize,
}

// SAFETY: the mapping is plain memory owned by this value; the kernel reads
// and pins it, we only hand out its address.
unsafe impl Send for UserBuffer {}

impl UserBuffer {
    /// Maps and faults in `bytes` (rounded up to whole pages of the
    /// backing), from the hugetlb pool for [`Backing::Hugetlb`].
    pub fn with_backing(bytes: usize, backing: Backing) -> io::Result<Self> {
        let Backing::Hugetlb(_) = backing else {
            return Self::new(bytes, backing == Backing::Thp);
        };
        let map = Mapping::hugetlb(bytes, backing.page_bytes()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "a {} hugetlb buffer of {bytes} bytes: {e} (is the pool large enough?)",
                    backing.name()
                ),
            )
        })?;
        let buf = Self {
            start: map.ptr(),
            bytes: map.bytes(),
            _map: map,
        };
        buf.fault_in();
        Ok(buf)
    }

    /// Maps and faults in `bytes` (rounded up to whole 2 MiB when `thp`).
    pub fn new(bytes: usize, thp: bool) -> io::Result<Self> {
        let granule = if thp { HPAGE } else { PAGE_SIZE };
        let bytes = bytes.max(granule).div_ceil(granule) * granule;
        // Room to start on a 2 MiB boundary.
        let map = Mapping::new(if thp { bytes + HPAGE } else { bytes })?;
        let p = map.ptr().as_ptr();
        let offset = if thp {
            (HPAGE - (p as usize % HPAGE)) % HPAGE
        } else {
            0
        };
        // SAFETY: offset < HPAGE, and the mapping is bytes + HPAGE for THP.
        let start = unsafe { NonNull::new_unchecked(p.add(offset)) };
        let buf = Self {
            _map: map,
            start,
            bytes,
        };
        let advice = if thp {
            libc::MADV_HUGEPAGE
        } else {
            libc::MADV_NOHUGEPAGE
        };
        // SAFETY: the range is inside our mapping. Failure (no THP support)
        // is recorded through thp_bytes(), not fatal.
        unsafe { libc::madvise(start.as_ptr() as *mut libc::c_void, bytes, advice) };
        buf.fault_in();
        Ok(buf)
    }

    /// Writes one byte per page so every page is present before timing.
    fn fault_in(&self) {
        for off in (0..self.bytes).step_by(PAGE_SIZE) {
            // SAFETY: off < bytes, inside our mapping, writable.
            unsafe { self.start.as_ptr().add(off).write_volatile(1) };
        }
    }

    /// Start address.
    pub fn addr(&self) -> usize {
        self.start.as_ptr() as usize
    }

    /// Length in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The `i`-th run of `pages_per_call` pages, wrapping around the buffer:
    /// (address, bytes).
    pub fn chunk(&self, i: usize, pages_per_call: usize) -> (usize, usize) {
        let per = (pages_per_call * PAGE_SIZE).min(self.bytes);
        let chunks = (self.bytes / per).max(1);
        (self.addr() + (i % chunks) * per, per)
    }

    /// `mbind(MPOL_BIND, node)` the buffer and fault it in again, so its
    /// pages move there; returns the node `move_pages` then finds for most
    /// of them.
    pub fn bind(&self, node: u32) -> io::Result<Option<u32>> {
        crate::machine::numa::mbind(self.start.as_ptr() as *mut libc::c_void, self.bytes, node)?;
        self.fault_in();
        Ok(crate::machine::numa::region_node(self.addr(), self.bytes).0)
    }

    /// Gives the buffer a memory policy of its own, `MPOL_BIND` to the node
    /// that holds most of its pages (moving none), so that NUMA balancing's
    /// scanner leaves it alone: `task_numa_work()` skips a VMA whose policy
    /// lacks `MPOL_F_MOF` (kernel/sched/fair.c:3376, mm/mempolicy.c:1838 in
    /// v6.12), which only the default policy sets. Otherwise, on a machine
    /// of several nodes with `kernel.numa_balancing` on, the scanner makes
    /// its PTEs PROT_NONE now and then, and the next pin of such a page
    /// leaves gup-fast for the slow path and a hinting fault (perhaps a
    /// migration) inside a measured slice. Returns the node; `None` where
    /// no node answers (no NUMA: no scanner either).
    pub fn keep_in_place(&self) -> io::Result<Option<u32>> {
        let Some(node) = crate::machine::numa::region_node(self.addr(), self.bytes).0 else {
            return Ok(None);
        };
        crate::machine::numa::mbind(self.start.as_ptr() as *mut libc::c_void, self.bytes, node)?;
        Ok(Some(node))
    }

    /// Bytes of the buffer the kernel backs with THP (`AnonHugePages` of
    /// the VMAs inside it), `None` if smaps cannot be read.
    pub fn thp_bytes(&self) -> Option<u64> {
        crate::machine::mapping::thp_bytes(self.addr(), self.addr() + self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer's own policy is MPOL_BIND to the node it was found on,
    /// as `get_mempolicy(MPOL_F_ADDR)` reads it back for its first page.
    #[test]
    fn a_buffer_kept_in_place_has_a_policy_of_its_own() {
        let buf = UserBuffer::new(8 * PAGE_SIZE, false).expect("a 32 KiB buffer");
        let node = match buf.keep_in_place() {
            Ok(Some(node)) => node,
            Ok(None) => {
                eprintln!("no NUMA here: nothing to check");
                return;
            }
            Err(e) => panic!("mbind where move_pages answered: {e}"),
        };
        let mut mode: libc::c_int = -1;
        let mut mask = [0u64; 16];
        // SAFETY: `mode` and `mask` (16 * 64 bits, passed as maxnode) outlive
        // the call; the address is the buffer's first page.
        let r = unsafe {
            libc::syscall(
                libc::SYS_get_mempolicy,
                &mut mode as *mut libc::c_int,
                mask.as_mut_ptr(),
                (mask.len() * 64) as libc::c_ulong,
                buf.addr(),
                1 << 1, // MPOL_F_ADDR
            )
        };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
        assert_eq!(mode, libc::MPOL_BIND);
        assert_eq!(mask[node as usize / 64], 1 << (node % 64));
    }

    #[test]
    fn chunks_wrap_around_the_buffer() {
        let buf = UserBuffer::new(16 * PAGE_SIZE, false).expect("mmap");
        assert_eq!(buf.bytes(), 16 * PAGE_SIZE);
        assert_eq!(buf.chunk(0, 4), (buf.addr(), 4 * PAGE_SIZE));
        assert_eq!(buf.chunk(5, 4), (buf.addr() + 4 * PAGE_SIZE, 4 * PAGE_SIZE));
        assert_eq!(buf.chunk(0, 64), (buf.addr(), 16 * PAGE_SIZE));
    }

    #[test]
    fn thp_buffers_are_aligned_and_counted() {
        let buf = UserBuffer::new(4 << 20, true).expect("mmap");
        assert_eq!(buf.addr() % HPAGE, 0);
        assert_eq!(buf.bytes(), 4 << 20);
        // Whether THP was granted depends on the host; the count must be
        // within the buffer either way.
        let thp = buf.thp_bytes().expect("smaps");
        assert!(thp <= 4 << 20);
    }
}
