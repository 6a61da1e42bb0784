//! What a pinned buffer costs `fork()`: a process holding pages pinned
//! long-term has `MMF_HAS_PINNED` set, and `copy_page_range()` copies each
//! anonymous page that `folio_needs_cow_for_dma()` finds maybe pinned
//! (mm/memory.c, v5.11 on: `page_needs_cow_for_dma()`, 70e806e4e645)
//! instead of sharing it copy-on-write, in the parent, inside the fork.
//!
//! Paired as every cell: in each round the same buffer is forked once
//! registered with io_uring (pinned long-term) and once unregistered
//! (MMF_HAS_PINNED stays set, so the check still runs per page), in
//! alternating order; per round, (pinned - unpinned) ns over the buffer's
//! pages. The fork is timed in the parent from the call to its return;
//! the child only `_exit`s. One more fork each way, its child held until
//! its /proc/PID/smaps is read, counts the pages the child got as private
//! copies.

use crate::kernel::buffer::UserBuffer;
use crate::kernel::io_uring::{explain_enomem, register_range};
use crate::machine::mapping::PAGE_SIZE;
use pin_results::{Estimate, ForkCost};
use std::io;
use std::time::Instant;

/// What to fork.
#[derive(Clone, Debug)]
pub struct Options {
    /// Buffers, one measurement each: bytes, and THP (true) or 4 KiB pages.
    pub buffers: Vec<(usize, bool)>,
    /// Rounds per buffer.
    pub rounds: usize,
}

/// ns of one `fork()` in the parent; the child exits at once.
fn fork_ns() -> io::Result<f64> {
    let t = Instant::now();
    // SAFETY: the child calls only `_exit`, which is async-signal-safe.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: ends the child without running anything of the parent's.
        unsafe { libc::_exit(0) }
    }
    let ns = t.elapsed().as_nanos() as f64;
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    reap(pid)?;
    Ok(ns)
}

fn reap(pid: libc::pid_t) -> io::Result<()> {
    let mut status = 0;
    // SAFETY: waits for our own child.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Private pages (KiB / 4) in the VMAs of `smaps` overlapping
/// `[lo, hi)`.
pub fn private_pages(smaps: &str, lo: usize, hi: usize) -> u64 {
    let fields = ["Private_Dirty:", "Private_Clean:"];
    crate::machine::smaps::kib_in(smaps, lo, hi, &fields) * 1024 / PAGE_SIZE as u64
}

/// Forks with the child held until its smaps is read; the child's
/// private pages in `buf`.
fn copied(buf: &UserBuffer) -> Option<u64> {
    let mut fds = [0; 2];
    // SAFETY: a pipe into a local array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: the child only blocks in read() and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut b = 0u8;
        // SAFETY: closes the child's write end (else its read never sees
        // the end of the pipe), reads until the parent closes its own,
        // then exits.
        unsafe {
            libc::close(fds[1]);
            libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
            libc::_exit(0)
        }
    }
    let smaps = (pid > 0)
        .then(|| std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok())
        .flatten();
    // SAFETY: closing our pipe ends lets the child's read return.
    unsafe {
        libc::close(fds[1]);
        libc::close(fds[0]);
    }
    if pid > 0 {
        let _ = reap(pid);
    }
    smaps.map(|s| private_pages(&s, buf.addr(), buf.addr() + buf.bytes()))
}

/// A ring with `buf` registered or not.
struct Pin<'a> {
    ring: io_uring::IoUring,
    buf: &'a UserBuffer,
}

impl Pin<'_> {
    /// `IORING_UNREGISTER_BUFFERS`: unpins the buffer.
    fn unpin(&self) -> io::Result<()> {
        self.ring.submitter().unregister_buffers()
    }

    /// `IORING_REGISTER_BUFFERS`: pins the buffer long-term.
    fn pin(&self) -> io::Result<()> {
        // SAFETY: `buf` outlives the ring, and with it the registration.
        unsafe { register_range(&self.ring, self.buf.addr(), self.buf.bytes()) }
            .map_err(|e| explain_enomem(e, self.buf.bytes()))
    }
}

/// One buffer's cost; `None` once `stop` says so.
fn one(
    o: &Options,
    bytes: usize,
    thp: bool,
    stop: &dyn Fn() -> bool,
) -> io::Result<Option<ForkCost>> {
    let buf = UserBuffer::new(bytes, thp)?;
    let pin = Pin {
        ring: io_uring::IoUring::new(2)?,
        buf: &buf,
    };
    let pages = (buf.bytes() / PAGE_SIZE) as u64;
    let thp_bytes = buf.thp_bytes();
    // A first registration sets MMF_HAS_PINNED for every round after.
    pin.pin()?;
    pin.unpin()?;
    let mut rounds_ns = Vec::with_capacity(o.rounds);
    for r in 0..o.rounds {
        if stop() {
            return Ok(None);
        }
        let mut ns = [0.0; 2];
        for pinned in if r % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        } {
            if pinned {
                pin.pin()?;
            }
            let t = fork_ns();
            if pinned {
                pin.unpin()?;
            }
            ns[usize::from(!pinned)] = t?;
        }
        rounds_ns.push((ns[0], ns[1]));
    }
    pin.pin()?;
    let pages_copied_pinned = copied(&buf);
    pin.unpin()?;
    let pages_copied_unpinned = copied(&buf);
    let diffs: Vec<f64> = rounds_ns
        .iter()
        .map(|(p, u)| (p - u) / pages as f64)
        .collect();
    let median = |f: fn(&(f64, f64)) -> f64| {
        Estimate::of(&rounds_ns.iter().map(f).collect::<Vec<_>>()).map_or(f64::NAN, |e| e.median)
    };
    Ok(Some(ForkCost {
        backing: if thp { "thp" } else { "4k" }.into(),
        pages,
        thp_bytes,
        thp_bytes_after: buf.thp_bytes(),
        rounds: o.rounds,
        fork_ns_pinned: median(|r| r.0),
        fork_ns_unpinned: median(|r| r.1),
        ns_per_pinned_page: Estimate::of(&diffs)
            .ok_or_else(|| io::Error::other("no fork rounds"))?,
        pages_copied_pinned,
        pages_copied_unpinned,
        rounds_ns,
    }))
}

/// Every buffer of `o`; one that cannot be measured is left out and named
/// in the returned notes; none more once `stop` says so.
pub fn measure(o: &Options, stop: &dyn Fn() -> bool) -> (Vec<ForkCost>, Vec<String>) {
    let (mut out, mut notes) = (vec![], vec![]);
    for &(bytes, thp) in &o.buffers {
        match one(o, bytes, thp, stop) {
            Ok(Some(c)) => {
                if thp && c.thp_bytes == Some(0) {
                    notes.push(format!(
                        "effects: the {} MiB THP buffer got no THP (THP disabled for this \
                         process or none to be had): its fork row is of 4 KiB pages",
                        bytes >> 20
                    ));
                }
                out.push(c)
            }
            Ok(None) => break,
            Err(e) => notes.push(format!(
                "effects: fork with a {} MiB {} buffer not measured: {e}",
                bytes >> 20,
                if thp { "THP" } else { "4 KiB" }
            )),
        }
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_pages_count_only_the_vmas_over_the_buffer() {
        let smaps = "\
1000-3000 rw-p 00000000 00:00 0
Private_Clean:         0 kB
Private_Dirty:         8 kB
3000-9000 rw-p 00000000 00:00 0
Shared_Dirty:          4 kB
Private_Dirty:        16 kB
";
        assert_eq!(private_pages(smaps, 0x3000, 0x4000), 4);
        assert_eq!(private_pages(smaps, 0x0, 0x9000), 6);
        assert_eq!(private_pages(smaps, 0x9000, 0xa000), 0);
    }
}
