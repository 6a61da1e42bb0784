//! An anonymous private mapping, unmapped on drop: the one `mmap` helper
//! behind the model's memmap storage ([`super::numa::MmapPages`]) and the
//! real-kernel backends' user buffers ([`crate::kernel::buffer`]); and how
//! much of a range the kernel backs with THP ([`thp_bytes`]).

use std::io;
use std::ptr::NonNull;

/// Base page size of the host.
pub use pin_schemes::PAGE_SIZE;

/// `bytes` (rounded up to whole pages) of fresh zero-filled memory.
pub struct Mapping {
    ptr: NonNull<u8>,
    bytes: usize,
}

// SAFETY: the mapping is plain memory owned by this value.
unsafe impl Send for Mapping {}
// SAFETY: as above; what is stored in it decides what sharing is sound,
// and its owners say so.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps at least `bytes`, at least one page, readable and writable.
    pub fn new(bytes: usize) -> io::Result<Self> {
        Self::map(bytes, PAGE_SIZE, 0)
    }

    /// At least `bytes` of hugetlb memory in pages of `page_bytes` (a power
    /// of two the kernel has a pool of), from that pool (`MAP_HUGETLB`).
    pub fn hugetlb(bytes: usize, page_bytes: usize) -> io::Result<Self> {
        let shift = page_bytes.trailing_zeros() as i32;
        Self::map(
            bytes,
            page_bytes,
            libc::MAP_HUGETLB | (shift << libc::MAP_HUGE_SHIFT),
        )
    }

    /// `bytes` rounded up to whole `page_bytes`, anonymous and private,
    /// with `flags` added.
    fn map(bytes: usize, page_bytes: usize, flags: i32) -> io::Result<Self> {
        let bytes = bytes.max(1).div_ceil(page_bytes) * page_bytes;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        Self::with(
            bytes,
            rw,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
            None,
        )
    }

    /// `bytes` (whole pages) with protection `prot` and `flags`
    /// (`MAP_SHARED` or `MAP_PRIVATE`, and more), of the file `fd` from
    /// offset 0, or anonymous (`MAP_ANONYMOUS` in `flags`) with `None`.
    pub fn with(
        bytes: usize,
        prot: i32,
        flags: i32,
        fd: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> io::Result<Self> {
        use std::os::fd::AsRawFd;
        let bytes = bytes.max(1).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let fd = fd.map_or(-1, |f| f.as_raw_fd());
        // SAFETY: a fresh mapping with no address hint; the kernel checks
        // the fd and flags.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), bytes, prot, flags, fd, 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p as *mut u8).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(Self { ptr, bytes })
    }

    /// Its first byte (page aligned).
    pub fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// Its length, whole pages.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: our own mapping, made with this size in `new`, unmapped
        // once; no reference into it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.bytes) };
    }
}

/// Bytes of `[lo, hi)` the kernel backs with transparent huge pages
/// (`AnonHugePages` of the VMAs overlapping it, at most `hi - lo`: a VMA
/// merged with a neighbour counts the neighbour's too), `None` if smaps
/// cannot be read. PMD-sized THP only: smaps does not count mTHP there.
pub fn thp_bytes(lo: usize, hi: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    Some(anon_huge_bytes(&smaps, lo, hi).min(hi.saturating_sub(lo) as u64))
}

/// Bytes of `AnonHugePages` in the smaps entries overlapping [lo, hi).
pub fn anon_huge_bytes(smaps: &str, lo: usize, hi: usize) -> u64 {
    super::smaps::kib_in(smaps, lo, hi, &["AnonHugePages:"]) * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_is_whole_zeroed_pages() {
        let m = Mapping::new(10).expect("mmap");
        assert_eq!(m.bytes(), PAGE_SIZE);
        assert_eq!(m.ptr().as_ptr() as usize % PAGE_SIZE, 0);
        // SAFETY: inside the mapping, readable.
        let first = unsafe { m.ptr().as_ptr().read_volatile() };
        assert_eq!(first, 0);
    }

    #[test]
    fn smaps_parsing_sums_only_the_buffer() {
        let smaps = "\
7f0000000000-7f0000400000 rw-p 00000000 00:00 0
AnonHugePages:      4096 kB
7f0000400000-7f0000600000 rw-p 00000000 00:00 0
AnonHugePages:      2048 kB
";
        assert_eq!(
            anon_huge_bytes(smaps, 0x7f0000000000, 0x7f0000400000),
            4 << 20
        );
        assert_eq!(
            anon_huge_bytes(smaps, 0x7f0000000000, 0x7f0000600000),
            6 << 20
        );
        assert_eq!(anon_huge_bytes(smaps, 0x7f0000600000, 0x7f0000700000), 0);
    }
}
