//! `direct-io` backend: `O_DIRECT` reads into the user buffer, the path
//! databases and fio take. The block layer pins the buffer's pages with
//! FOLL_PIN (`iov_iter_extract_pages()` in `__bio_iov_iter_get_pages()`,
//! unpinned with `bio_release_pages()` when the bio completes): a real pin
//! round trip per read, with no module.
//!
//! Two flavours: `pread` (a `pread(2)` of `pages_per_call` pages) and
//! `uring-read` (one `IORING_OP_READ` submitted and reaped). The source is
//! a file or block device the user names (`--dio-file`, read only), by
//! default a scratch file of the buffer's size in the output's directory,
//! made without a name (`O_TMPFILE`, else unlinked before it is written) so
//! that nothing is left behind when the process dies, written once and
//! read `O_DIRECT`. Sources on tmpfs or ramfs, whose `O_DIRECT` reads pin
//! nothing, are refused (`--dio-file`) or skipped (the scratch file). The time includes the device's: the figure bounds the pin path's
//! cost from above, and `pinbench kernel` says what share of it pinning
//! (io_uring's register-buffers, same backing) can at most be.

use super::buffer::UserBuffer;
use super::PinPath;
use crate::machine::mapping::PAGE_SIZE;
use io_uring::{opcode, types, IoUring};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How a read is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DioMode {
    /// `pread(2)`.
    Pread,
    /// `IORING_OP_READ`.
    UringRead,
}

impl DioMode {
    /// Both, in table order.
    pub const ALL: [DioMode; 2] = [DioMode::Pread, DioMode::UringRead];

    /// The flavour's name in results.
    pub fn name(self) -> &'static str {
        match self {
            DioMode::Pread => "pread",
            DioMode::UringRead => "uring-read",
        }
    }
}

/// Where reads come from.
pub enum Source {
    /// A file or block device the user named, read from its start.
    Named(PathBuf),
    /// A scratch file made in this directory.
    Scratch(PathBuf),
}

/// One thread's file, buffer and (for `uring-read`) ring.
pub struct DirectIoPath {
    file: File,
    file_bytes: u64,
    buf: UserBuffer,
    pages_per_call: usize,
    ring: Option<IoUring>,
}

/// An unnamed file in `dir` (`O_TMPFILE`): a kill at any moment leaves
/// nothing behind. Where the filesystem has none (NFS, CIFS, some FUSE),
/// a named one unlinked before a byte is written: only a kill between its
/// creation and the unlink, microseconds, leaves an empty file.
pub(crate) fn unnamed(dir: &Path) -> io::Result<File> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(dir)
    {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::EISDIR)
            ) =>
        {
            // One name per file made by this process: threads make theirs
            // at once.
            static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            // Relaxed: a counter for unique names; nothing is published.
            let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = dir.join(format!(".pinbench-dio-{}-{n}", std::process::id()));
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            std::fs::remove_file(&path)?;
            Ok(f)
        }
        made => made,
    }
}

/// Sets (`on`) or clears a status flag of an open file (`F_SETFL`).
fn set_flag(f: &File, flag: libc::c_int, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
    let flags = if on { flags | flag } else { flags & !flag };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A scratch file of `bytes` in `dir` that has no name from the start,
/// written once and synced, then read `O_DIRECT`.
pub(crate) fn scratch(dir: &Path, bytes: usize) -> io::Result<File> {
    let made = (|| {
        let mut f = unnamed(dir)?;
        let chunk = vec![0x5au8; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            f.write_all(&chunk[..n])?;
            left -= n;
        }
        f.sync_all()?;
        set_flag(&f, libc::O_DIRECT, true)?;
        Ok(f)
    })();
    made.map_err(|e: io::Error| {
        io::Error::new(e.kind(), format!("scratch file in {}: {e}", dir.display()))
    })
}

/// Filesystems whose `O_DIRECT` reads copy from the page cache and pin
/// nothing (statfs `f_type`: tmpfs, ramfs).
const NOT_PINNING_FS: [(u32, &str); 2] = [(0x0102_1994, "tmpfs"), (0x8584_58f6, "ramfs")];

/// The filesystem `path` is on, where its `O_DIRECT` reads pin nothing.
pub fn not_pinning_fs(path: &Path) -> Option<&'static str> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statfs is plain data; all-zero is a valid value to fill.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statfs to fill.
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    NOT_PINNING_FS
        .iter()
        // The magics are 32-bit; f_type's width is the architecture's.
        .find(|(magic, _)| s.f_type as u32 == *magic)
        .map(|(_, name)| *name)
}

/// Why `--dio-file` cannot be the source, or `None`: it must be a regular
/// file or a block device (a FIFO would hang `open`), on a filesystem
/// whose `O_DIRECT` reads pin the buffer.
pub fn check_named(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let m = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(e.to_string()),
    };
    if !m.is_file() && !m.file_type().is_block_device() {
        return Some("is neither a regular file nor a block device".into());
    }
    if m.is_file() {
        if let Some(fs) = not_pinning_fs(path) {
            return Some(format!(
                "is on {fs}, whose O_DIRECT reads copy from the page cache and pin nothing"
            ));
        }
    }
    None
}

/// Opens the named source `O_DIRECT`, without blocking on what is not a
/// regular file or a block device (a FIFO swapped in after the check).
fn open_named(p: &Path) -> io::Result<File> {
    use std::os::unix::fs::FileTypeExt;
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT | libc::O_NONBLOCK)
        .open(p)?;
    let t = f.metadata()?.file_type();
    if !t.is_file() && !t.is_block_device() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "neither a regular file nor a block device",
        ));
    }
    // io_uring would issue IOCB_NOWAIT reads on an O_NONBLOCK file.
    set_flag(&f, libc::O_NONBLOCK, false)?;
    Ok(f)
}

impl DirectIoPath {
    /// Reads `pages_per_call` pages a call from `source` into `buf`.
    pub fn new(
        buf: UserBuffer,
        source: &Source,
        mode: DioMode,
        pages_per_call: usize,
    ) -> io::Result<Self> {
        let file = match source {
            Source::Scratch(dir) => scratch(dir, buf.bytes())?,
            Source::Named(p) => open_named(p).map_err(|e| {
                io::Error::new(e.kind(), format!("--dio-file {}: {e}", p.display()))
            })?,
        };
        let file_bytes = size_of(&file)?;
        let per = buf.chunk(0, pages_per_call).1 as u64;
        if file_bytes < per {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the O_DIRECT source holds {file_bytes} bytes, less than one read of {per}"
                ),
            ));
        }
        let ring = match mode {
            DioMode::Pread => None,
            DioMode::UringRead => Some(IoUring::new(4)?),
        };
        Ok(Self {
            file,
            file_bytes,
            buf,
            pages_per_call,
            ring,
        })
    }
}

/// Bytes of a file or block device.
fn size_of(f: &File) -> io::Result<u64> {
    let m = f.metadata()?;
    if m.is_file() {
        return Ok(m.len());
    }
    let mut bytes: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), 0x8008_1272, &mut bytes) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(bytes)
}

impl PinPath for DirectIoPath {
    fn pages_per_call(&self) -> usize {
        self.buf.chunk(0, self.pages_per_call).1 / PAGE_SIZE
    }

    fn call(&mut self, i: usize) -> io::Result<()> {
        let (addr, len) = self.buf.chunk(i, self.pages_per_call);
        let reads = (self.file_bytes / len as u64).max(1);
        let offset = (i as u64 % reads) * len as u64;
        let got = match &mut self.ring {
            None => {
                // SAFETY: `addr..addr + len` is inside our buffer.
                let n = unsafe {
                    libc::pread(
                        self.file.as_raw_fd(),
                        addr as *mut libc::c_void,
                        len,
                        offset as i64,
                    )
                };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                n as usize
            }
            Some(ring) => {
                let sqe = opcode::Read::new(
                    types::Fd(self.file.as_raw_fd()),
                    addr as *mut u8,
                    len as u32,
                )
                .offset(offset)
                .build();
                // SAFETY: the buffer outlives the read, which is reaped below
                // before the call returns.
                unsafe { ring.submission().push(&sqe) }
                    .map_err(|_| io::Error::other("io_uring submission queue full"))?;
                ring.submit_and_wait(1)?;
                let cqe = ring
                    .completion()
                    .next()
                    .ok_or_else(|| io::Error::other("io_uring read: no completion"))?;
                if cqe.result() < 0 {
                    return Err(io::Error::from_raw_os_error(-cqe.result()));
                }
                cqe.result() as usize
            }
        };
        if got != len {
            return Err(io::Error::other(format!(
                "O_DIRECT read of {len} bytes returned {got}"
            )));
        }
        Ok(())
    }
}

/// For each direct-io cell of `cells`: that its time includes the I/O, and
/// the share of it the pin path can at most be, from io_uring's
/// register-buffers (a pin and an unpin, no I/O) with the same threads and
/// backing.
pub fn share_notes(cells: &[pin_results::Cell]) -> Vec<String> {
    let backing = |c: &pin_results::Cell| c.kernel.as_ref().map(|k| k.backing.clone());
    cells
        .iter()
        .filter(|c| c.backend == "direct-io")
        .map(|c| {
            let what = format!(
                "direct-io/{} {}T {}: {:.1} ns/page includes the device's time",
                c.subject,
                c.threads,
                backing(c).unwrap_or_default(),
                c.ns_per_page
            );
            let pin = cells.iter().find(|p| {
                p.backend == "io-uring" && p.threads == c.threads && backing(p) == backing(c)
            });
            match pin {
                Some(p) if c.ns_per_page > 0.0 => format!(
                    "{what}; pinning and unpinning (io-uring register-buffers, same backing) costs {:.1} ns/page: at most {:.1}% of it",
                    p.ns_per_page,
                    100.0 * p.ns_per_page / c.ns_per_page
                ),
                _ => format!("{what}; add --backend io-uring to bound the pin path's share of it"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_share_is_register_buffers_over_the_read() {
        let mut dio = pin_results::sample::kernel_cell("direct-io", "pread", 1, 200.0, 1e7);
        let pin = pin_results::sample::kernel_cell("io-uring", "register-buffers", 1, 50.0, 1e7);
        let notes = share_notes(&[dio.clone(), pin]);
        assert!(notes[0].contains("at most 25.0%"), "{notes:?}");
        dio.threads = 2;
        assert!(share_notes(&[dio])[0].contains("add --backend io-uring"));
    }

    #[test]
    fn a_scratch_file_has_no_name_while_it_is_written() {
        // A kill at any moment leaves nothing: the directory shows no file
        // while the scratch file is open and half written.
        let dir = tempfile::tempdir_in(".").expect("tempdir");
        let mut f = unnamed(dir.path()).expect("unnamed file");
        f.write_all(&[0x5a; 4096]).expect("write");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
        assert_eq!(f.metadata().expect("meta").len(), 4096);
    }

    #[test]
    fn both_flavours_read_a_scratch_file_and_leave_nothing_behind() {
        let dir = tempfile::tempdir_in(".").expect("tempdir");
        for mode in DioMode::ALL {
            let buf = UserBuffer::new(64 * PAGE_SIZE, false).expect("buffer");
            let mut p = match DirectIoPath::new(buf, &Source::Scratch(dir.path().into()), mode, 16)
            {
                Ok(p) => p,
                // tmpfs and some overlays refuse O_DIRECT: nothing to check.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => return,
                Err(e) => panic!("{mode:?}: {e}"),
            };
            for i in 0..6 {
                p.call(i).expect("read");
            }
            assert_eq!(p.pages_per_call(), 16);
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
