//! `gup-test` backend: the kernel's own gup_test debugfs ABI
//! (mm/gup_test.c, `CONFIG_GUP_TEST`, or the `pin_shim` module where the
//! kernel lacks it), as the selftest `tools/testing/selftests/mm/gup_test`
//! drives it: one ioctl gets or pins a range in calls of
//! `nr_pages_per_call` pages, then puts or unpins it, and returns the time
//! spent in each half (µs).
//!
//! One call here = one ioctl over a run of `pages_per_call` pages taken in
//! a single gup call, so the latency histogram is per gup call plus one
//! syscall; the kernel-side time is kept separately.

use super::buffer::UserBuffer;
use super::device::{Device, DeviceRun};
use super::shim_abi::{
    GupTest, FOLL_WRITE, GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK,
};
use super::PinPath;
use crate::machine::mapping::PAGE_SIZE;
use std::io;

/// Which gup_test benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GupTestCmd {
    /// `GUP_FAST_BENCHMARK`: FOLL_GET, `get_user_pages_fast()`.
    GupFast,
    /// `PIN_FAST_BENCHMARK`: FOLL_PIN, `pin_user_pages_fast()`.
    PinFast,
    /// `PIN_LONGTERM_BENCHMARK`: FOLL_PIN | FOLL_LONGTERM, `pin_user_pages()`.
    PinLongterm,
}

impl GupTestCmd {
    /// All three, in table order.
    pub const ALL: [GupTestCmd; 3] = [
        GupTestCmd::GupFast,
        GupTestCmd::PinFast,
        GupTestCmd::PinLongterm,
    ];

    /// The ioctl request.
    pub fn request(self) -> u32 {
        match self {
            GupTestCmd::GupFast => GUP_FAST_BENCHMARK,
            GupTestCmd::PinFast => PIN_FAST_BENCHMARK,
            GupTestCmd::PinLongterm => PIN_LONGTERM_BENCHMARK,
        }
    }

    /// The label in results (`scheme` column of kernel cells).
    pub fn name(self) -> &'static str {
        match self {
            GupTestCmd::GupFast => "gup-fast",
            GupTestCmd::PinFast => "pin-fast",
            GupTestCmd::PinLongterm => "pin-longterm",
        }
    }

    /// Whether the kernel should count FOLL_PIN pins for it.
    pub fn pins(self) -> bool {
        self != GupTestCmd::GupFast
    }
}

/// One thread's gup_test client.
pub struct GupTestPath<D: Device> {
    run: DeviceRun<D>,
    cmd: GupTestCmd,
}

impl<D: Device> GupTestPath<D> {
    /// A client of `dev` running `cmd` over `buf`.
    pub fn new(
        dev: D,
        cmd: GupTestCmd,
        buf: UserBuffer,
        pages_per_call: usize,
        write: bool,
    ) -> Self {
        Self {
            run: DeviceRun::new(dev, buf, pages_per_call, write),
            cmd,
        }
    }
}

impl<D: Device> PinPath for GupTestPath<D> {
    fn pages_per_call(&self) -> usize {
        self.run.pages()
    }

    fn call(&mut self, i: usize) -> io::Result<()> {
        let (addr, len) = self.run.chunk(i);
        let mut gup = GupTest {
            addr: addr as u64,
            size: len as u64,
            nr_pages_per_call: (len / PAGE_SIZE) as u32,
            gup_flags: if self.run.write { FOLL_WRITE } else { 0 },
            ..GupTest::default()
        };
        self.run.ioctl(self.cmd.request(), &mut gup)?;
        if gup.size != len as u64 {
            return Err(io::Error::other(format!(
                "gup_test took {} of {len} bytes",
                gup.size
            )));
        }
        self.run.kernel_ns += (gup.get_delta_usec + gup.put_delta_usec) * 1000;
        Ok(())
    }

    fn kernel_ns(&self) -> Option<u64> {
        Some(self.run.kernel_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::device::FileDevice;

    /// Records every request and the struct it carried, and answers like
    /// the kernel: the whole range taken, 3 µs + 4 µs.
    #[derive(Default)]
    struct Fake {
        seen: Vec<(u32, GupTest)>,
    }

    impl Device for &mut Fake {
        fn ioctl(&mut self, request: u32, arg: *mut libc::c_void) -> io::Result<()> {
            // SAFETY: GupTestPath passes a GupTest for every request.
            let gup = unsafe { &mut *(arg as *mut GupTest) };
            self.seen.push((request, *gup));
            gup.get_delta_usec = 3;
            gup.put_delta_usec = 4;
            Ok(())
        }
    }

    #[test]
    fn sends_the_upstream_requests_and_layout() {
        // The numbers of mm/gup_test.h: _IOWR('g', n, struct gup_test), 80 bytes.
        assert_eq!(GupTestCmd::GupFast.request(), 0xc050_6701);
        assert_eq!(GupTestCmd::PinFast.request(), 0xc050_6702);
        assert_eq!(GupTestCmd::PinLongterm.request(), 0xc050_6703);
        let mut fake = Fake::default();
        let buf = UserBuffer::new(64 * PAGE_SIZE, false).expect("buffer");
        let base = buf.addr() as u64;
        let mut path = GupTestPath::new(&mut fake, GupTestCmd::PinLongterm, buf, 16, true);
        assert_eq!(path.pages_per_call(), 16);
        path.call(0).expect("call");
        path.call(5).expect("call");
        assert_eq!(path.kernel_ns(), Some(14_000));
        drop(path);
        let (req, gup) = fake.seen[1];
        assert_eq!(req, 0xc050_6703);
        assert_eq!(gup.addr, base + 16 * PAGE_SIZE as u64);
        assert_eq!(gup.size, 16 * PAGE_SIZE as u64);
        assert_eq!(gup.nr_pages_per_call, 16);
        assert_eq!(gup.gup_flags, FOLL_WRITE);
        assert_eq!(gup.test_flags, 0);
    }

    #[test]
    fn a_file_that_is_not_gup_test_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("gup_test");
        std::fs::write(&fake, "").expect("write");
        let dev = FileDevice::open(&fake).expect("open");
        let buf = UserBuffer::new(4 * PAGE_SIZE, false).expect("buffer");
        let mut path = GupTestPath::new(dev, GupTestCmd::PinFast, buf, 4, false);
        let err = path.call(0).expect_err("a plain file has no ioctls");
        assert!(err.to_string().contains("does not speak the ABI"), "{err}");
    }
}
