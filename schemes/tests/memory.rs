//! Memory costs are measured, not declared: a counting allocator sees every
//! byte a scheme allocates, and each scheme's `bytes_per_page()` and
//! `tracking_bytes()` must account for exactly that.
//!
//! Counting is per thread, so the test harness's own threads do not blur it.

mod common;

use common::{memmap, NR_PAGES};
use pin_schemes::{build, GupPath, Pfn, SCHEMES};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only adds bookkeeping in a
// const-initialised thread-local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.with(|l| l.set(l.get() + layout.size() as isize));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.with(|l| l.set(l.get() - layout.size() as isize));
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.with(|l| l.set(l.get() + layout.size() as isize));
        System.alloc_zeroed(layout)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// What the RCU stand-in (crossbeam-epoch) may keep of its own: this
/// thread's registration, one queued bag of deferred frees.
const RCU_SLACK: usize = 4096;

fn live() -> isize {
    LIVE.with(Cell::get)
}

#[test]
fn declared_memory_matches_what_the_allocator_saw() {
    // Registers this thread with the RCU stand-in before anything is
    // counted.
    let rcu = pin_schemes::rcu::Rcu::default();
    rcu.call_rcu(|| ());
    rcu.barrier(1000, || true);
    for info in SCHEMES {
        let mm = memmap();
        let at_build = live();
        let s = build(info.name, mm).expect("scheme");
        let built = (live() - at_build) as usize;
        let declared =
            std::mem::size_of_val(&*s) + s.bytes_per_page() * NR_PAGES + s.tracking_bytes();
        assert_eq!(built, declared, "{}: bytes allocated by new()", info.name);

        // Pins spread over the memmap: side structures grow, and by exactly
        // what tracking_bytes() says.
        let idle = s.tracking_bytes();
        let pfns: Vec<Pfn> = (0..NR_PAGES).step_by(7).map(Pfn).collect();
        let before = live();
        for &pfn in &pfns {
            s.pin(pfn, GupPath::Fast).expect("pin");
        }
        let grown = (live() - before) as usize;
        assert_eq!(
            grown,
            s.tracking_bytes() - idle,
            "{}: bytes per pin",
            info.name
        );
        for &pfn in &pfns {
            s.unpin(pfn).expect("unpin");
        }
        // Unpinned and reclaimed: side structures are back where they
        // started, by their own count and by the allocator's.
        assert!(s.reclaim(), "{}: grace periods end", info.name);
        assert_eq!(s.tracking_bytes(), idle, "{}: steady state", info.name);
        assert!(
            s.tracking_peak_bytes() >= idle + grown,
            "{}: peak",
            info.name
        );
        let kept = live() - before;
        assert!(
            kept.unsigned_abs() <= RCU_SLACK,
            "{}: {kept} bytes still allocated after reclaim",
            info.name
        );
        drop(s);
    }
}
