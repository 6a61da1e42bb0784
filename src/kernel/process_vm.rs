//! `process-vm` backend: `process_vm_readv()` from a second process. The
//! kernel pins the remote pages with `pin_user_pages_remote()` and unpins
//! them after copying (mm/process_vm_access.c), so a call is a FOLL_PIN
//! round trip *plus a copy of the data*: it is reported separately and is
//! not comparable page for page with the other backends.
//!
//! The remote process is a child that maps and faults in its own buffer (so
//! its pages are not COW-shared with us, which would make FOLL_PIN unshare
//! them), sends us the address through a pipe, and sleeps until we kill it.
//! It is killed, not told to exit through a pipe: children forked by two
//! threads at once inherit each other's pipe ends, so neither would ever
//! see EOF (seen: two cells hung for 11 minutes).

use super::backing::Backing;
use super::buffer::UserBuffer;
use super::PinPath;
use crate::machine::mapping::PAGE_SIZE;
use std::io;

/// A child process holding the buffer we read, and our copy destination.
pub struct ProcessVmPath {
    child: libc::pid_t,
    remote: usize,
    remote_bytes: usize,
    local: UserBuffer,
    pages_per_call: usize,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl ProcessVmPath {
    /// Forks the child with a `bytes` buffer of `backing`; reads
    /// `pages_per_call` pages a call.
    pub fn new(bytes: usize, backing: Backing, pages_per_call: usize) -> io::Result<Self> {
        let local = UserBuffer::new((pages_per_call * PAGE_SIZE).min(bytes), false)?;
        let mut addr_pipe = [0; 2];
        // SAFETY: a plain syscall on a local array.
        unsafe { check(libc::pipe2(addr_pipe.as_mut_ptr(), libc::O_CLOEXEC))? };
        // SAFETY: getpid cannot fail.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the child only maps memory, writes to a pipe and sleeps
        // until killed; it never returns into code that could touch locks
        // held by other threads of the parent.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // Child. It asks to die with its parent before anything that
            // takes time (mapping gigabytes), then checks that the parent
            // did not die before it asked: a `kill -9` at any moment leaves
            // no child holding memory. The signal follows the thread that
            // forked, which is the one that drops this path.
            // SAFETY: plain syscalls; _exit runs no destructor of the
            // parent's state.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
            }
            let (addr, len) = match UserBuffer::with_backing(bytes, backing) {
                Ok(buf) => {
                    let r = (buf.addr(), buf.bytes());
                    std::mem::forget(buf);
                    r
                }
                Err(_) => (0, 0),
            };
            let msg = [addr as u64, len as u64];
            // SAFETY: writing our own stack array, then sleeping; the parent
            // ends us with SIGKILL (and PR_SET_PDEATHSIG if it dies first).
            unsafe {
                libc::write(addr_pipe[1], msg.as_ptr() as *const libc::c_void, 16);
                loop {
                    libc::pause();
                }
            }
        }
        let mut msg = [0u64; 2];
        // SAFETY: reading into a local array; closing our ends.
        let n = unsafe {
            libc::close(addr_pipe[1]);
            let n = libc::read(addr_pipe[0], msg.as_mut_ptr() as *mut libc::c_void, 16);
            libc::close(addr_pipe[0]);
            n
        };
        let path = Self {
            child: pid,
            remote: msg[0] as usize,
            remote_bytes: msg[1] as usize,
            local,
            pages_per_call,
        };
        if n != 16 || path.remote == 0 {
            return Err(io::Error::other(
                "the remote process could not map its buffer",
            ));
        }
        Ok(path)
    }
}

impl PinPath for ProcessVmPath {
    fn pages_per_call(&self) -> usize {
        (self.pages_per_call * PAGE_SIZE).min(self.remote_bytes) / PAGE_SIZE
    }

    fn call(&mut self, i: usize) -> io::Result<()> {
        let per = self.pages_per_call() * PAGE_SIZE;
        let chunks = (self.remote_bytes / per).max(1);
        let local = libc::iovec {
            iov_base: self.local.addr() as *mut libc::c_void,
            iov_len: per,
        };
        let remote = libc::iovec {
            iov_base: (self.remote + (i % chunks) * per) as *mut libc::c_void,
            iov_len: per,
        };
        // SAFETY: the local iovec is our buffer of `per` bytes; the remote
        // one is checked by the kernel against the child's mappings.
        let n = unsafe { libc::process_vm_readv(self.child, &local, 1, &remote, 1, 0) };
        match n {
            n if n < 0 => Err(io::Error::last_os_error()),
            n if n as usize != per => Err(io::Error::other(format!(
                "process_vm_readv copied {n} of {per} bytes"
            ))),
            _ => Ok(()),
        }
    }
}

impl Drop for ProcessVmPath {
    fn drop(&mut self) {
        // SAFETY: killing and reaping our own child.
        unsafe {
            libc::kill(self.child, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.child, &mut status, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::vmstat;
    use std::path::Path;

    #[test]
    fn reads_the_child_buffer_through_real_pins() {
        let mut path = ProcessVmPath::new(256 * PAGE_SIZE, Backing::Base, 32).expect("child");
        assert_eq!(path.pages_per_call(), 32);
        let before = vmstat::read(Path::new(vmstat::PROC_VMSTAT)).expect("vmstat");
        for i in 0..16 {
            path.call(i).expect("process_vm_readv");
        }
        let after = vmstat::read(Path::new(vmstat::PROC_VMSTAT)).expect("vmstat");
        if let (Some(b), Some(a)) = (before, after) {
            assert!(b.delta(a).acquired >= 16 * 32, "{:?}", b.delta(a));
        }
        // The child wrote 1 into the first byte of every page.
        // SAFETY: our local buffer, at least one page long.
        let first = unsafe { *(path.local.addr() as *const u8) };
        assert_eq!(first, 1);
    }
}
