//! The slab allocator as a side structure sees it: `kmem_cache_alloc()` of
//! one object type (an XArray's `struct xa_node`, a tree node), in the
//! caller's GFP context, with the kernel's fault injection (failslab), and
//! `kmem_cache_free()` now or after an RCU grace period.
//!
//! Memory is counted from these allocations, not declared: every object a
//! cache hands out is `live` until it is freed, including while it waits
//! for a grace period (`rcu_pending`), and `peak` is the high-water mark.

use crate::rcu::Rcu;
use crate::sync::{AtomicU64, Ordering};
// The statistics are std's atomics under loom too: they are the model's
// bookkeeping, not part of what the models check.
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicIsize, AtomicUsize};
use std::sync::Arc;

/// The allocation context (`gfp_t`), as far as it decides failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gfp {
    /// `GFP_NOWAIT`: what `xas_alloc()` tries first, under the array's lock.
    Nowait,
    /// `GFP_ATOMIC`: cannot sleep (gup-fast: interrupts off; the slow path:
    /// under the page-table lock). Can fail.
    Atomic,
    /// `GFP_KERNEL`: may sleep and reclaim; outside every spinlock.
    Kernel,
}

impl Gfp {
    /// `gfpflags_allow_blocking()`.
    pub fn allows_blocking(self) -> bool {
        self == Gfp::Kernel
    }
}

/// What gup does when recording a pin needs memory it cannot have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnAllocFail {
    /// The pin fails with -ENOMEM: the call returns what it pinned before.
    Fail,
    /// gup-fast gives the rest of the call to the slow path, as
    /// `gup_fast_fallback()` does for anything gup-fast could not take;
    /// there the record's memory is reserved with GFP_KERNEL before the
    /// page-table lock is taken (`xa_reserve()`-style), so it cannot fail.
    #[default]
    SlowPath,
}

impl OnAllocFail {
    /// The command-line word.
    pub fn as_str(self) -> &'static str {
        match self {
            OnAllocFail::Fail => "fail",
            OnAllocFail::SlowPath => "slow-path",
        }
    }
}

/// How many allocations failslab failed and what gup made of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocFailures {
    /// Allocations failed by injection.
    pub injected: u64,
    /// gup-fast calls finished on the slow path after a failure.
    pub fallbacks: u64,
    /// Pin calls that failed with -ENOMEM.
    pub failed_pins: u64,
}

/// failslab (Documentation/fault-injection) with `ignore-gfp-wait=Y`:
/// every `interval`-th allocation that cannot sleep fails, the
/// allocations that may sleep never do. One per memmap, as failslab is
/// one per machine. Off unless configured.
#[derive(Debug)]
pub struct FailSlab {
    interval: Option<NonZeroU32>,
    on_fail: OnAllocFail,
    attempts: AtomicU64,
    injected: AtomicU64,
    fallbacks: AtomicU64,
    failed_pins: AtomicU64,
}

impl Default for FailSlab {
    fn default() -> Self {
        Self::new(None, OnAllocFail::default())
    }
}

impl FailSlab {
    /// Fails every `interval`-th non-sleeping allocation (none if `None`);
    /// gup answers a failure with `on_fail`.
    pub fn new(interval: Option<NonZeroU32>, on_fail: OnAllocFail) -> Self {
        Self {
            interval,
            on_fail,
            attempts: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            failed_pins: AtomicU64::new(0),
        }
    }

    /// What gup does about a failure.
    pub fn on_fail(&self) -> OnAllocFail {
        self.on_fail
    }

    /// `should_failslab()`: whether this allocation is failed.
    #[inline]
    pub fn should_fail(&self, gfp: Gfp) -> bool {
        let Some(interval) = self.interval else {
            return false;
        };
        if gfp.allows_blocking() {
            return false;
        }
        // Relaxed (all counters here): statistics and a shared sequence
        // number; nothing is published through them.
        let n = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
        let fail = n.is_multiple_of(u64::from(interval.get()));
        if fail {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        fail
    }

    /// gup-fast handed a call to the slow path after a failure.
    pub(crate) fn count_fallback(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// A pin call failed for want of memory.
    pub(crate) fn count_failed_pin(&self) {
        self.failed_pins.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn stats(&self) -> AllocFailures {
        AllocFailures {
            injected: self.injected.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            failed_pins: self.failed_pins.load(Ordering::Relaxed),
        }
    }
}

/// Bytes a cache's objects hold, kept in per-thread shards: an allocation
/// or free adds to its thread's own line, so the statistics (which the
/// kernel does not keep) write no line that two CPUs share; reads sum the
/// shards.
#[derive(Debug, Default)]
pub struct CacheStats {
    shards: [Shard; SHARDS],
}

/// Shards per cache; threads beyond it share one (sums stay exact).
const SHARDS: usize = 16;

/// One thread's share, on a line of its own.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard {
    live: AtomicIsize,
    peak: AtomicIsize,
    rcu_pending: AtomicIsize,
}

/// The calling thread's shard.
#[inline]
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        // Relaxed: only distinct numbers are wanted.
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

// Relaxed (every counter here): statistics, read when a number is wanted,
// after the threads that wrote them were joined.
impl CacheStats {
    fn sum(&self, field: impl Fn(&Shard) -> &AtomicIsize) -> usize {
        let total: isize = self
            .shards
            .iter()
            .map(|s| field(s).load(Ordering::Relaxed))
            .sum();
        usize::try_from(total).unwrap_or(0)
    }

    /// Bytes allocated and not yet freed, those waiting for a grace period
    /// included.
    pub fn live(&self) -> usize {
        self.sum(|s| &s.live)
    }

    /// The most `live` has been, bounded from above: the sum of each
    /// shard's high-water mark, exact with one thread (and with several
    /// whose peaks coincide). A node is freed against the shard of the
    /// thread that unlinked it, so a thread working its own pfns keeps its
    /// shard's count its own.
    pub fn peak(&self) -> usize {
        self.sum(|s| &s.peak)
    }

    /// Bytes freed with `call_rcu()` whose grace period has not ended.
    pub fn rcu_pending(&self) -> usize {
        self.sum(|s| &s.rcu_pending)
    }

    fn allocated(&self, size: usize) {
        let shard = &self.shards[my_shard()];
        let size = size as isize;
        let now = shard.live.fetch_add(size, Ordering::Relaxed) + size;
        shard.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn freed(&self, shard: usize, size: usize) {
        self.shards[shard]
            .live
            .fetch_sub(size as isize, Ordering::Relaxed);
    }
}

/// A `kmem_cache` of `T`s.
pub struct KmemCache<T> {
    stats: Arc<CacheStats>,
    _object: PhantomData<fn() -> T>,
}

impl<T> Default for KmemCache<T> {
    fn default() -> Self {
        Self {
            stats: Arc::default(),
            _object: PhantomData,
        }
    }
}

/// A pointer handed to a deferred free.
struct Object<T>(NonNull<T>);
// SAFETY: the object is unreachable once it is handed to `free_rcu`; the
// grace period's end is the only code that touches it again.
unsafe impl<T: Send> Send for Object<T> {}

impl<T: Send + 'static> KmemCache<T> {
    /// Heap bytes of the cache itself (its statistics, shared with the
    /// frees waiting for a grace period: an `Arc`'s two counts and the
    /// per-thread shards, 1 KiB, which the kernel's per-CPU slab
    /// structures would outweigh).
    pub const OVERHEAD: usize = (2 * std::mem::size_of::<usize>())
        .next_multiple_of(std::mem::align_of::<CacheStats>())
        + std::mem::size_of::<CacheStats>();

    /// What the cache holds.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// `kmem_cache_alloc(cache, gfp)`: `None` where failslab fails it.
    pub fn alloc(
        &self,
        failslab: &FailSlab,
        gfp: Gfp,
        init: impl FnOnce() -> T,
    ) -> Option<NonNull<T>> {
        if failslab.should_fail(gfp) {
            return None;
        }
        self.stats.allocated(std::mem::size_of::<T>());
        let p = NonNull::from(Box::leak(Box::new(init())));
        crate::census::alloc(p.as_ptr() as usize, std::mem::size_of::<T>());
        Some(p)
    }

    /// `kmem_cache_free()`, now.
    ///
    /// # Safety
    /// `p` came from this cache's `alloc`, is freed once, and nothing can
    /// reach it any more.
    pub unsafe fn free(&self, p: NonNull<T>) {
        crate::census::free(p.as_ptr() as usize);
        drop(Box::from_raw(p.as_ptr()));
        self.stats.freed(my_shard(), std::mem::size_of::<T>());
    }

    /// `call_rcu()` of a `kmem_cache_free()`: freed once every reader that
    /// might have found it has left its read-side section.
    ///
    /// # Safety
    /// `p` came from this cache's `alloc`, is freed once, and has been
    /// unlinked: no new reader can find it.
    pub unsafe fn free_rcu(&self, rcu: &Rcu, p: NonNull<T>) {
        let size = std::mem::size_of::<T>();
        let shard = my_shard();
        crate::census::free(p.as_ptr() as usize);
        self.stats.shards[shard]
            .rcu_pending
            .fetch_add(size as isize, Ordering::Relaxed);
        let stats = Arc::clone(&self.stats);
        let object = Object(p);
        rcu.call_rcu(move || {
            let object = object;
            // SAFETY: per this function's contract, and the grace period
            // has ended: no reader holds it.
            drop(unsafe { Box::from_raw(object.0.as_ptr()) });
            stats.shards[shard]
                .rcu_pending
                .fetch_sub(size as isize, Ordering::Relaxed);
            stats.freed(shard, size);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn failslab_fails_every_nth_atomic_allocation_only() {
        let f = FailSlab::new(NonZeroU32::new(3), OnAllocFail::Fail);
        let fails: Vec<bool> = (0..6).map(|_| f.should_fail(Gfp::Atomic)).collect();
        assert_eq!(fails, [false, false, true, false, false, true]);
        assert!(!f.should_fail(Gfp::Kernel));
        assert_eq!(f.stats().injected, 2);
        assert!(!FailSlab::default().should_fail(Gfp::Nowait));
    }

    #[test]
    fn live_and_peak_follow_alloc_and_free() {
        let cache = KmemCache::<[u64; 4]>::default();
        let f = FailSlab::default();
        let a = cache.alloc(&f, Gfp::Atomic, || [0; 4]).expect("alloc");
        let b = cache.alloc(&f, Gfp::Atomic, || [1; 4]).expect("alloc");
        assert_eq!(cache.stats().live(), 64);
        // SAFETY: both from this cache, freed once, never shared.
        unsafe {
            cache.free(a);
            cache.free(b);
        }
        assert_eq!(cache.stats().live(), 0);
        assert_eq!(cache.stats().peak(), 64);
    }
}
