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
