//! Atomics and the spinlock every scheme uses, switchable to `loom`.
//!
//! Under `RUSTFLAGS="--cfg loom"` every atomic and the lock come from `loom`,
//! so the racy paths (pin vs unpin vs `maybe_dma_pinned`, and the page-flag
//! scheme's LRU isolation) are model-checked, not argued. In the census
//! copy of this crate (`pin-schemes-census`, built with `--cfg census`, never
//! timed) they are the counted atomics of [`crate::census`]; everywhere
//! else `std`'s, so the timed code is what it was before the census
//! existed. Nothing else in the crate names `std::sync::atomic` for what it
//! models.
//!
//! [`SpinLock`] stands for the kernel's `spinlock_t`: gup-fast runs with
//! interrupts off and may not sleep, so a lock on its path must spin. It is
//! a ticket lock, FIFO as the kernel's queued spinlock is: at two CPUs a
//! qspinlock hands the lock to its pending waiter (the releasing CPU's
//! next attempt finds the pending bit and queues), so holders alternate;
//! a test-and-set lock lets the releasing thread take it straight back,
//! and its cell's cost then depended on which thread won how many times in
//! a row (`flag` private at two threads read 32.6x to 66.7x floor across
//! runs). Uncontended it costs what the kernel's does: one locked
//! read-modify-write to take it and a plain release store to drop it. It
//! differs from qspinlock with three or more waiters, who all spin on the
//! lock's one line where qspinlock's queue them on per-CPU MCS nodes (the
//! x86 kernel's spinlock from v2.6.25 to v4.1 was this ticket lock).
//! Under loom it is loom's `Mutex`, which has the same Acquire/Release
//! semantics and does not make the model explore every spin iteration.

#[cfg(all(not(loom), census))]
pub(crate) use crate::census::atomic::{
    AtomicI32, AtomicI64, AtomicI8, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicI32, AtomicI64, AtomicI8, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};
#[cfg(all(not(loom), not(census)))]
pub(crate) use std::sync::atomic::{
    AtomicI32, AtomicI64, AtomicI8, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};

pub(crate) use std::sync::atomic::Ordering;

/// `smp_mb__after_atomic()`: makes the value-less atomic just before it
/// (`atomic_add()`, `folio_ref_add()`, `set_bit()`) a full barrier.
///
/// On x86-64 the kernel defines it as nothing (arch/x86/include/asm/barrier.h,
/// v6.12): every `lock`ed instruction is already a full barrier, so this is a
/// compiler barrier only, and costs what the kernel's costs. Under loom (and
/// on other architectures) it is the SeqCst fence the abstract model needs,
/// so the store-buffering pairs that rely on it are checked, not assumed.
#[inline(always)]
#[allow(non_snake_case)] // the kernel's name, so a reader can grep for it
pub fn smp_mb__after_atomic() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
    #[cfg(all(not(loom), target_arch = "x86_64"))]
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    #[cfg(all(not(loom), not(target_arch = "x86_64")))]
    std::sync::atomic::fence(Ordering::SeqCst);
}

/// `smp_mb()`: a full barrier on its own.
///
/// On x86-64 it is the kernel's own instruction, `lock; addl $0,-4(%rsp)`
/// (just below the stack pointer, so it does not wait on the last push),
/// which is cheaper than the `mfence` a Rust SeqCst fence emits; elsewhere
/// and under loom, a SeqCst fence.
#[inline(always)]
pub fn smp_mb() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
    #[cfg(all(not(loom), target_arch = "x86_64"))]
    // SAFETY: adds 0 to a word of this thread's own stack red zone; no
    // value changes, only the flags, which are declared clobbered (no
    // `preserves_flags`).
    unsafe {
        std::arch::asm!("lock add dword ptr [rsp - 4], 0", options(nostack));
    }
    crate::census::fence();
    #[cfg(all(not(loom), not(target_arch = "x86_64")))]
    {
        std::sync::atomic::fence(Ordering::SeqCst);
        crate::census::fence();
    }
}

/// `cpu_relax()` in a retry loop; under loom, a yield, so the model checker
/// runs the thread being waited for instead of exploring the spin.
#[inline(always)]
pub fn cpu_relax() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

#[cfg(not(loom))]
pub use spin::{SpinLock, SpinLockGuard};

#[cfg(not(loom))]
mod spin {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A spinlock guarding `T`, the model of `spinlock_t` + the data it
    /// protects: a ticket lock (see the module doc).
    ///
    /// The lock word has a cache line of its own: waiters spin reading it,
    /// and if the protected data shared its line, every write the holder
    /// makes would be stolen back by the spinner (measured: the `flag`
    /// scheme at 2 threads fell to 0.6x of 1 thread). The kernel's queued
    /// spinlock avoids the same by spinning on per-CPU nodes.
    pub struct SpinLock<T> {
        tickets: Tickets,
        data: UnsafeCell<T>,
    }

    /// `next`: the ticket the next locker draws; `owner`: the ticket whose
    /// holder may enter. One line, as the kernel's ticket lock's `head` and
    /// `tail` shared one word.
    #[repr(align(64))]
    struct Tickets {
        next: AtomicU32,
        owner: AtomicU32,
        /// The kernel's name for the lock, for the census.
        name: &'static str,
        /// The kernel takes no lock here ([`SpinLock::stand_in`]).
        stand_in: bool,
    }

    // SAFETY: the lock serialises every access to `data`, so sharing the
    // lock is as safe as sending `T` between threads.
    unsafe impl<T: Send> Sync for SpinLock<T> {}

    impl<T> SpinLock<T> {
        /// An unlocked lock around `data`, called `spinlock` in a census.
        pub fn new(data: T) -> Self {
            Self::named("spinlock", data)
        }

        /// An unlocked lock around `data` that a census calls `name` (the
        /// kernel's name for it: `xa_lock`, `ptl`).
        pub fn named(name: &'static str, data: T) -> Self {
            Self {
                tickets: Tickets {
                    next: AtomicU32::new(0),
                    owner: AtomicU32::new(0),
                    name,
                    stand_in: false,
                },
                data: UnsafeCell::new(data),
            }
        }

        /// A lock where the kernel has none (per-CPU data behind
        /// `get_cpu_var()`): the census names its locked operation
        /// [`crate::census::STAND_IN`], apart from the kernel's lock words.
        pub fn stand_in(name: &'static str, data: T) -> Self {
            let mut lock = Self::named(name, data);
            lock.tickets.stand_in = true;
            lock
        }

        /// `spin_lock()`: draws a ticket and spins until it is served.
        #[inline]
        pub fn lock(&self) -> SpinLockGuard<'_, T> {
            let word = &self.tickets as *const Tickets as usize;
            crate::census::lock(self.tickets.name, word, self.tickets.stand_in);
            // Relaxed: drawing a number orders nothing; the Acquire load
            // that sees it served does.
            let ticket = self.tickets.next.fetch_add(1, Ordering::Relaxed);
            // Acquire: pairs with the Release store in
            // `SpinLockGuard::drop`, so everything the previous holder
            // wrote is visible to us.
            while self.tickets.owner.load(Ordering::Acquire) != ticket {
                std::hint::spin_loop();
            }
            SpinLockGuard { lock: self }
        }
    }

    impl<T: Default> Default for SpinLock<T> {
        fn default() -> Self {
            Self::new(T::default())
        }
    }

    /// Holds the lock; `spin_unlock()` on drop.
    pub struct SpinLockGuard<'a, T> {
        lock: &'a SpinLock<T>,
    }

    impl<T> Deref for SpinLockGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: we hold the lock, so no one else touches `data`.
            unsafe { &*self.lock.data.get() }
        }
    }

    impl<T> DerefMut for SpinLockGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: we hold the lock, so no one else touches `data`.
            unsafe { &mut *self.lock.data.get() }
        }
    }

    impl<T> Drop for SpinLockGuard<'_, T> {
        fn drop(&mut self) {
            let owner = &self.lock.tickets.owner;
            crate::census::unlock(&self.lock.tickets as *const Tickets as usize);
            // Relaxed load: only the holder writes `owner`. Release store
            // (a plain mov on x86, as the kernel's unlock): publishes our
            // writes to the next holder's Acquire load.
            owner.store(
                owner.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Release,
            );
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::sync::Arc;

        #[test]
        fn holders_exclude_each_other_and_tickets_wrap() {
            let lock = Arc::new(SpinLock::new(0u64));
            lock.tickets.next.store(u32::MAX - 3, Ordering::Relaxed);
            lock.tickets.owner.store(u32::MAX - 3, Ordering::Relaxed);
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let lock = Arc::clone(&lock);
                    std::thread::spawn(move || {
                        for _ in 0..10_000 {
                            // A read, a pause, a write: lost updates show
                            // if two hold it at once.
                            let mut g = lock.lock();
                            let v = *g;
                            std::hint::spin_loop();
                            *g = v + 1;
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().expect("thread");
            }
            assert_eq!(*lock.lock(), 40_000);
        }
    }
}

#[cfg(loom)]
pub use loom_lock::{SpinLock, SpinLockGuard};

#[cfg(loom)]
mod loom_lock {
    /// Holds the lock.
    pub type SpinLockGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    /// The spinlock as a loom mutex.
    #[derive(Default)]
    pub struct SpinLock<T>(loom::sync::Mutex<T>);

    impl<T> SpinLock<T> {
        /// An unlocked lock around `data`.
        pub fn new(data: T) -> Self {
            Self(loom::sync::Mutex::new(data))
        }

        /// An unlocked lock around `data` (the name is the census's, and
        /// loom counts nothing).
        pub fn named(_name: &'static str, data: T) -> Self {
            Self::new(data)
        }

        /// As [`Self::named`].
        pub fn stand_in(_name: &'static str, data: T) -> Self {
            Self::new(data)
        }

        /// Takes the lock.
        pub fn lock(&self) -> SpinLockGuard<'_, T> {
            match self.0.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            }
        }
    }
}
