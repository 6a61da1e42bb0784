//! Atomics and the spinlock every scheme uses, switchable to `loom`.
//!
//! Under `RUSTFLAGS="--cfg loom"` every atomic and the lock come from `loom`,
//! so the racy paths (pin vs unpin vs `maybe_dma_pinned`, and the page-flag
//! scheme's LRU isolation) are model-checked, not argued. Nothing else in
//! the crate names `std::sync::atomic` directly.
//!
//! [`SpinLock`] stands for the kernel's `spinlock_t`: gup-fast runs with
//! interrupts off and may not sleep, so a lock on its path must spin. It is a
//! test-and-test-and-set lock; its cost under contention (the cache line
//! bouncing between CPUs) is exactly what the benchmarks are meant to show.
//! Under loom it is loom's `Mutex`, which has the same Acquire/Release
//! semantics and does not make the model explore every spin iteration.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicI32, AtomicI64, AtomicI8, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};
#[cfg(not(loom))]
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
    #[cfg(all(not(loom), not(target_arch = "x86_64")))]
    std::sync::atomic::fence(Ordering::SeqCst);
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
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A spinlock guarding `T`, the model of `spinlock_t` + the data it protects.
    ///
    /// The lock word has a cache line of its own: waiters spin reading it,
    /// and if the protected data shared its line, every write the holder
    /// makes would be stolen back by the spinner (measured: the `flag`
    /// scheme at 2 threads fell to 0.6x of 1 thread). The kernel's queued
    /// spinlock avoids the same by spinning on per-CPU nodes.
    pub struct SpinLock<T> {
        locked: LockWord,
        data: UnsafeCell<T>,
    }

    #[repr(align(64))]
    struct LockWord(AtomicBool);

    impl std::ops::Deref for LockWord {
        type Target = AtomicBool;
        fn deref(&self) -> &AtomicBool {
            &self.0
        }
    }

    // SAFETY: the lock serialises every access to `data`, so sharing the
    // lock is as safe as sending `T` between threads.
    unsafe impl<T: Send> Sync for SpinLock<T> {}

    impl<T> SpinLock<T> {
        /// An unlocked lock around `data`.
        pub fn new(data: T) -> Self {
            Self {
                locked: LockWord(AtomicBool::new(false)),
                data: UnsafeCell::new(data),
            }
        }

        /// `spin_lock()`: spins until the lock is ours.
        #[inline]
        pub fn lock(&self) -> SpinLockGuard<'_, T> {
            loop {
                // Acquire: pairs with the Release store in
                // `SpinLockGuard::drop`, so everything the previous holder
                // wrote is visible to us.
                if self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return SpinLockGuard { lock: self };
                }
                // Relaxed: only a hint to retry; the CAS above orders.
                while self.locked.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            }
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
            // Release: publishes our writes to the next holder's Acquire CAS.
            self.lock.locked.store(false, Ordering::Release);
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

        /// Takes the lock.
        pub fn lock(&self) -> SpinLockGuard<'_, T> {
            match self.0.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            }
        }
    }
}
