//! `io-uring` backend: `IORING_REGISTER_BUFFERS` / `IORING_UNREGISTER_BUFFERS`
//! of a run of the user buffer. The kernel pins the pages with
//! `pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)` (io_uring/rsrc.c,
//! `io_pin_pages()`) and unpins them with `unpin_user_pages()` on
//! unregister: a real FOLL_PIN round trip with no module, on any kernel
//! with io_uring enabled.
//!
//! One call = one register + one unregister (two syscalls) of
//! `pages_per_call` pages. Pinned memory is charged to RLIMIT_MEMLOCK unless
//! the process has CAP_IPC_LOCK; [`raise_memlock`] lifts the soft limit to
//! the hard one, and an ENOMEM is turned into an explanation.

use super::buffer::UserBuffer;
use super::vmstat;
use super::PinPath;
use crate::machine::mapping::PAGE_SIZE;
use io_uring::IoUring;
use std::io;
use std::path::Path;

/// One thread's ring and buffer.
pub struct IoUringPath {
    ring: IoUring,
    buf: UserBuffer,
    pages_per_call: usize,
}

impl IoUringPath {
    /// The most one registered buffer may hold: `io_buffer_validate()`
    /// refuses more than SZ_1G with EFAULT.
    pub const MAX_BUFFER: usize = 1 << 30;

    /// A ring over `buf`, registering `pages_per_call` pages a call.
    pub fn new(buf: UserBuffer, pages_per_call: usize) -> io::Result<Self> {
        let len = buf.chunk(0, pages_per_call).1;
        if len > Self::MAX_BUFFER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "io_uring registers at most 1 GiB per buffer; --pages-per-call {pages_per_call} asks for {} MiB",
                    len >> 20
                ),
            ));
        }
        let ring = IoUring::new(8).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("io_uring_setup failed ({e}); see /proc/sys/kernel/io_uring_disabled"),
            )
        })?;
        Ok(Self {
            ring,
            buf,
            pages_per_call,
        })
    }
}

impl PinPath for IoUringPath {
    fn pages_per_call(&self) -> usize {
        self.buf.chunk(0, self.pages_per_call).1 / PAGE_SIZE
    }

    fn call(&mut self, i: usize) -> io::Result<()> {
        let (addr, len) = self.buf.chunk(i, self.pages_per_call);
        // SAFETY: the range is in our buffer, which outlives the
        // registration (unregistered just below, and on ring drop).
        unsafe { register_range(&self.ring, addr, len) }.map_err(|e| explain_enomem(e, len))?;
        self.ring.submitter().unregister_buffers()
    }
}

impl IoUringPath {
    /// Pins the kernel keeps per page while the first call's pages are
    /// registered: the FOLL_PIN counters read (refreshed) before and
    /// during one registration. `io_pin_pages()` pins every page; for a
    /// large folio `io_do_coalesce_buffer()` then unpins all but one. `None`
    /// where the counters are missing or another process pinned meanwhile
    /// (the counters are system-wide: this registration must show exactly
    /// one acquired pin per page).
    pub fn pins_kept_per_page(&mut self, vmstat_path: &Path) -> io::Result<Option<f64>> {
        let (addr, len) = self.buf.chunk(0, self.pages_per_call);
        let before = vmstat::read(vmstat_path)?;
        // SAFETY: as in `call`.
        unsafe { register_range(&self.ring, addr, len) }.map_err(|e| explain_enomem(e, len))?;
        let during = vmstat::read(vmstat_path);
        self.ring.submitter().unregister_buffers()?;
        let pages = (len / PAGE_SIZE) as u64;
        Ok(match (before, during?) {
            (Some(b), Some(d)) => {
                let d = b.delta(d);
                (d.acquired == pages && d.released <= pages)
                    .then(|| (d.acquired - d.released) as f64 / pages as f64)
            }
            _ => None,
        })
    }
}

/// `IORING_REGISTER_BUFFERS` of `addr..addr + bytes`, in iovecs of at
/// most [`IoUringPath::MAX_BUFFER`] (`io_buffer_validate()` refuses larger
/// ones): pins every page long-term until `unregister_buffers()` (or the
/// ring's drop). The kernel's errno is kept as it is: the pin table names
/// it, and callers that want ENOMEM explained call [`explain_enomem`].
///
/// # Safety
/// `addr..addr + bytes` must stay mapped while registered.
pub unsafe fn register_range(ring: &IoUring, addr: usize, bytes: usize) -> io::Result<()> {
    let max = IoUringPath::MAX_BUFFER;
    let iovs: Vec<libc::iovec> = (0..bytes)
        .step_by(max)
        .map(|off| libc::iovec {
            iov_base: (addr + off) as *mut libc::c_void,
            iov_len: max.min(bytes - off),
        })
        .collect();
    // SAFETY: the iovecs cover the caller's range, which the caller keeps
    // mapped while registered.
    unsafe { ring.submitter().register_buffers(&iovs) }
}

/// Raises RLIMIT_MEMLOCK's soft limit to its hard limit; returns the limit
/// now in force (bytes, `None` for unlimited).
pub fn raise_memlock() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) != 0 {
            return Some(0);
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim);
            libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim);
        }
    }
    (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// An ENOMEM from registering `len` bytes, explained by RLIMIT_MEMLOCK.
pub(crate) fn explain_enomem(e: io::Error, len: usize) -> io::Error {
    if e.raw_os_error() != Some(libc::ENOMEM) {
        return e;
    }
    let limit = raise_memlock()
        .map(|b| format!("{} KiB", b / 1024))
        .unwrap_or_else(|| "unlimited".into());
    io::Error::new(
        e.kind(),
        format!(
            "io_uring could not pin {} KiB: RLIMIT_MEMLOCK is {limit}; run as root \
             (CAP_IPC_LOCK) or raise `ulimit -l`",
            len / 1024
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_takes_and_releases_real_pins() {
        let buf = UserBuffer::new(64 * PAGE_SIZE, false).expect("buffer");
        let mut path = match IoUringPath::new(buf, 64) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("io_uring unavailable here, not testable: {e}");
                return;
            }
        };
        let before = vmstat::read(Path::new(vmstat::PROC_VMSTAT)).expect("vmstat");
        for i in 0..4 {
            path.call(i).expect("register/unregister");
        }
        let after = vmstat::read(Path::new(vmstat::PROC_VMSTAT)).expect("vmstat");
        if let (Some(b), Some(a)) = (before, after) {
            let d = b.delta(a);
            // Other processes may pin too, so at least ours must show.
            assert!(d.acquired >= 4 * 64, "{d:?}");
            assert!(d.released >= 4 * 64, "{d:?}");
        }
    }

    #[test]
    fn a_registration_keeps_one_pin_per_page_or_per_huge_folio() {
        let vmstat = Path::new(vmstat::PROC_VMSTAT);
        for thp in [false, true] {
            let buf = UserBuffer::new(4 << 20, thp).expect("buffer");
            let huge = buf.thp_bytes().unwrap_or(0) as usize;
            let mut path = match IoUringPath::new(buf, 512) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("io_uring unavailable here, not testable: {e}");
                    return;
                }
            };
            let kept = match path.pins_kept_per_page(vmstat) {
                Ok(Some(k)) => k,
                Ok(None) => {
                    eprintln!("no FOLL_PIN counters, or another process pinned: not testable");
                    continue;
                }
                Err(e) => panic!("register: {e}"),
            };
            // 512 pages from a 2 MiB-aligned start: one folio if THP.
            let want = if huge >= 4 << 20 { 1.0 / 512.0 } else { 1.0 };
            if thp && huge > 0 && huge < 4 << 20 {
                continue; // partly backed: either answer is the kernel's
            }
            assert_eq!(kept, want, "thp {thp}, {huge} bytes huge");
        }
    }
}
