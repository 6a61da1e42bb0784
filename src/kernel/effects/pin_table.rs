//! Which mappings the running kernel lets be pinned: for each kind of
//! mapping (anonymous, shmem, hugetlb, a file on the results file's
//! filesystem, shared and private) mapped read-write and read-only, what
//! a long-term pin answers (`IORING_REGISTER_BUFFERS`:
//! `pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)`, io_uring/rsrc.c) and what
//! two short-term ones answer (`O_DIRECT` into the buffer, FOLL_WRITE;
//! `O_DIRECT` from it, read only): `pinned` where the kernel's FOLL_PIN
//! counters moved, `no pin` where the call succeeded without (tmpfs
//! copies `O_DIRECT` through its page cache), or the errno. A long-term writable pin of a page in
//! a filesystem's page cache is what the 2019 threads argued must be
//! refused (in v6.12: `check_vma_flags()` calling
//! `writable_file_mapping_allowed()`, mm/gup.c:1252 and :1291, and
//! gup-fast's `gup_fast_folio_allowed()`, :2788); this table shows what
//! the kernel under test does.
//!
//! Every mapping, file and registration is undone before the next row.

use super::errno;
use crate::kernel::io_uring::register_range;
use crate::machine::mapping::{Mapping, PAGE_SIZE};
use pin_results::PinAnswer;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Pages of each mapping pinned: a few, not one, so a refusal of any of
/// them shows.
const PAGES: usize = 16;

/// Runs `f` between two readings of the kernel's FOLL_PIN counters: its
/// outcome and the pins the kernel counted meanwhile (`None` without the
/// counters). The counters are system-wide: another process pinning at
/// the same time adds to them.
fn counted(f: impl FnOnce() -> io::Result<()>) -> (io::Result<()>, Option<u64>) {
    let path = Path::new(crate::kernel::vmstat::PROC_VMSTAT);
    let before = crate::kernel::vmstat::read(path).ok().flatten();
    let r = f();
    let after = crate::kernel::vmstat::read(path).ok().flatten();
    (r, before.zip(after).map(|(b, a)| b.delta(a).acquired))
}

/// What the kernel answered: `pinned` where it counted a pin, `no pin`
/// where it did the call without one (tmpfs copies `O_DIRECT` through the
/// page cache; gup takes no pin on the shared zero page, mm/gup.c:159 and
/// :551 in v6.12, which a never-written read-only anonymous page is),
/// `done` where it has no counters to tell, or the errno.
fn answer(f: impl FnOnce() -> io::Result<()>) -> String {
    match counted(f) {
        (Err(e), _) => errno::name(&e),
        (Ok(()), Some(0)) => "no pin".into(),
        (Ok(()), Some(_)) => "pinned".into(),
        (Ok(()), None) => "done".into(),
    }
}

/// A file of `PAGES` pages in `dir` with no name (`direct_io::unnamed`),
/// filled so reads return data.
fn scratch(dir: &Path) -> io::Result<File> {
    let f = crate::kernel::direct_io::unnamed(dir)?;
    f.write_all_at(&vec![0x5a; PAGES * PAGE_SIZE], 0)?;
    Ok(f)
}

/// A long-term pin of `buf` and its release: one io_uring registration.
fn long_term(buf: &Mapping) -> io::Result<()> {
    let ring = io_uring::IoUring::new(2)?;
    let addr = buf.ptr().as_ptr() as usize;
    // SAFETY: the range is `buf`'s, which outlives the registration
    // (unregistered below, and when the ring drops).
    unsafe { register_range(&ring, addr, PAGES * PAGE_SIZE) }?;
    ring.submitter().unregister_buffers()
}

/// The `O_DIRECT` file the short-term pins go through
/// (`direct_io::scratch`), or why there is none.
fn direct(dir: &Path) -> Result<File, String> {
    crate::kernel::direct_io::scratch(dir, PAGES * PAGE_SIZE)
        .map_err(|e| format!("no O_DIRECT file ({})", errno::name(&e)))
}

/// A whole transfer (`n` bytes of `len`), or its error.
fn whole(n: isize, len: usize) -> io::Result<()> {
    match usize::try_from(n) {
        Err(_) => Err(io::Error::last_os_error()),
        Ok(n) if n == len => Ok(()),
        Ok(n) => Err(io::Error::other(format!("short ({n} of {len} bytes)"))),
    }
}

/// The two short-term pins of `buf` through `dio`: a read into it, a
/// write from it.
fn short_term(dio: &Result<File, String>, buf: &Mapping) -> (String, String) {
    let dio = match dio {
        Ok(f) => f,
        Err(why) => return (why.clone(), why.clone()),
    };
    let (len, p) = (PAGES * PAGE_SIZE, buf.ptr().as_ptr());
    // SAFETY: `buf` is a live mapping of at least `len` bytes; the kernel
    // checks its protection and answers EFAULT where it may not write.
    let into = answer(|| whole(unsafe { libc::pread(fd(dio), p.cast(), len, 0) }, len));
    // SAFETY: as above, read only.
    let from = answer(|| whole(unsafe { libc::pwrite(fd(dio), p.cast(), len, 0) }, len));
    (into, from)
}

fn fd(f: &File) -> i32 {
    std::os::fd::AsRawFd::as_raw_fd(f)
}

/// Touches every page (reads a read-only mapping, writes a writable one)
/// so the pins find them present.
fn fault_in(buf: &Mapping, writable: bool) {
    for i in 0..buf.bytes() / PAGE_SIZE {
        // SAFETY: in bounds of a live mapping; written only if writable.
        unsafe {
            let p = buf.ptr().as_ptr().add(i * PAGE_SIZE);
            if writable {
                p.write_volatile(1);
            } else {
                p.read_volatile();
            }
        }
    }
}

/// Opens the file a kind of mapping maps, in the given directory: its fd
/// and its filesystem's name.
type OpenFile = fn(&Path) -> io::Result<(OwnedFd, Option<String>)>;

/// One kind of mapping: its name, the file it maps (if any) and flags.
struct Kind {
    mapping: &'static str,
    file: Option<OpenFile>,
    flags: i32,
}

fn memfd(_: &Path) -> io::Result<(OwnedFd, Option<String>)> {
    // SAFETY: a NUL-terminated name; the fd returned is ours.
    let fd = unsafe { libc::memfd_create(c"pinbench".as_ptr(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a new fd that nothing else owns.
    let f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.set_len((PAGES * PAGE_SIZE) as u64)?;
    Ok((f.into(), Some("tmpfs".into())))
}

fn fs_file(dir: &Path) -> io::Result<(OwnedFd, Option<String>)> {
    let f = scratch(dir)?;
    Ok((f.into(), Some(super::fs_name(dir))))
}

const KINDS: [Kind; 5] = [
    Kind {
        mapping: "anon private",
        file: None,
        flags: libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
    },
    Kind {
        mapping: "memfd shared",
        file: Some(memfd),
        flags: libc::MAP_SHARED,
    },
    Kind {
        mapping: "hugetlb private",
        file: None,
        flags: libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB,
    },
    Kind {
        mapping: "file shared",
        file: Some(fs_file),
        flags: libc::MAP_SHARED,
    },
    Kind {
        mapping: "file private",
        file: Some(fs_file),
        flags: libc::MAP_PRIVATE,
    },
];

/// One row: `kind` mapped with `prot`.
fn row(kind: &Kind, writable: bool, dir: &Path, dio: &Result<File, String>) -> PinAnswer {
    let prot = if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    let mut out = PinAnswer {
        mapping: kind.mapping.into(),
        prot: if writable { "read-write" } else { "read-only" }.into(),
        ..PinAnswer::default()
    };
    let file = kind.file.map(|open| open(dir)).transpose();
    let mapped = file
        .map_err(|e| format!("no file ({})", errno::name(&e)))
        .and_then(|f| {
            let (fd, fs) = f.map_or((None, None), |(fd, fs)| (Some(fd), fs));
            out.fs = fs;
            let bytes = if kind.flags & libc::MAP_HUGETLB != 0 {
                2 << 20
            } else {
                PAGES * PAGE_SIZE
            };
            Mapping::with(bytes, prot, kind.flags, fd.as_ref().map(|f| f.as_fd()))
                .map_err(|e| format!("mmap {}", errno::name(&e)))
        });
    match mapped {
        Ok(buf) => {
            fault_in(&buf, writable);
            out.long_term = answer(|| long_term(&buf));
            (out.dio_into, out.dio_from) = short_term(dio, &buf);
        }
        Err(why) => (out.long_term, out.dio_into, out.dio_from) = (why.clone(), why.clone(), why),
    }
    out
}

/// The table, with files made (and removed) in `dir`; no more rows once
/// `stop` says so.
pub fn measure(dir: &Path, stop: &dyn Fn() -> bool) -> Vec<PinAnswer> {
    let dio = direct(dir);
    let mut rows = vec![];
    for k in &KINDS {
        for w in [true, false] {
            if stop() {
                return rows;
            }
            rows.push(row(k, w, dir, &dio));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On any kernel with io_uring: anonymous memory mapped read-write is
    /// pinned long-term and short-term, mapped read-only it refuses what
    /// would write it; the scratch files are gone afterwards.
    #[test]
    fn anonymous_memory_pins_and_a_read_only_mapping_refuses_writes() {
        if io_uring::IoUring::new(2).is_err() {
            eprintln!("io_uring unavailable here: nothing to check");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let rows = measure(dir.path(), &|| false);
        assert_eq!(rows.len(), 2 * KINDS.len());
        let anon = |prot: &str| {
            rows.iter()
                .find(|r| r.mapping == "anon private" && r.prot == prot)
                .expect("row")
        };
        let rw = anon("read-write");
        assert_eq!(rw.long_term, "pinned", "{rw:?}");
        let ro = anon("read-only");
        assert_eq!(ro.long_term, "EFAULT", "{ro:?}");
        assert_ne!(ro.dio_from, "EFAULT", "reading a read-only buffer: {ro:?}");
        let left = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(left, 0, "scratch files left behind");
    }
}
