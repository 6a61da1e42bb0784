//! The one place pinbench calls `ioctl(2)` on a kernel test file
//! (`/sys/kernel/debug/gup_test`, `/dev/pin_shim`), behind a trait so a unit
//! test can stand in a fake device and check exactly what would be sent.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Something that answers ioctls.
pub trait Device: Send {
    /// `ioctl(fd, request, arg)`; `arg` points to the request's struct.
    fn ioctl(&mut self, request: u32, arg: *mut libc::c_void) -> io::Result<()>;
}

/// A real file.
pub struct FileDevice {
    file: File,
}

impl FileDevice {
    /// Opens `path` read-write (both files need it).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
        Ok(Self { file })
    }
}

impl Device for FileDevice {
    fn ioctl(&mut self, request: u32, arg: *mut libc::c_void) -> io::Result<()> {
        // SAFETY: the caller passes a pointer to the struct the request
        // names (sizes are checked by shim_abi's tests); the fd is ours.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), request as libc::Ioctl, arg) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOTTY) {
                return Err(io::Error::new(
                    e.kind(),
                    format!("ioctl {request:#x}: this file does not speak the ABI ({e})"),
                ));
            }
            return Err(e);
        }
        Ok(())
    }
}

/// What the ioctl-driven backends (gup_test, pin_shim) share: a device, the
/// buffer it is pointed at in runs of `pages_per_call` pages, and the
/// nanoseconds the kernel reported spending in its gup calls.
pub struct DeviceRun<D: Device> {
    /// The device.
    pub dev: D,
    /// The buffer.
    pub buf: super::buffer::UserBuffer,
    /// Pages per call.
    pub pages_per_call: usize,
    /// FOLL_WRITE.
    pub write: bool,
    /// Kernel-measured ns so far.
    pub kernel_ns: u64,
}

impl<D: Device> DeviceRun<D> {
    /// `dev` over `buf`.
    pub fn new(dev: D, buf: super::buffer::UserBuffer, pages_per_call: usize, write: bool) -> Self {
        Self {
            dev,
            buf,
            pages_per_call,
            write,
            kernel_ns: 0,
        }
    }

    /// Pages one call covers (the run, clipped to the buffer).
    pub fn pages(&self) -> usize {
        self.buf.chunk(0, self.pages_per_call).1 / crate::machine::mapping::PAGE_SIZE
    }

    /// Address and bytes of call `i`'s run.
    pub fn chunk(&self, i: usize) -> (usize, usize) {
        self.buf.chunk(i, self.pages_per_call)
    }

    /// Sends `request` with `arg`.
    pub fn ioctl<T>(&mut self, request: u32, arg: &mut T) -> io::Result<()> {
        self.dev.ioctl(request, arg as *mut T as *mut libc::c_void)
    }
}
