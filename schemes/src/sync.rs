//! Atomics and the spinlock every scheme uses, switchable to `loom`.
//!
//! Under `RUSTFLAGS="--cfg loom"` every atomic and the spinlock come from
//! `loom`, so the racy paths (pin vs unpin vs `maybe_dma_pinned`, and the
//! page-flag scheme's LRU isolation) are model-checked, not argued. Nothing
//! else in the crate names `std::sync::atomic` directly.
//!
//! [`SpinLock`] stands for the kernel's `spinlock_t`: gup-fast runs with
//! interrupts off and may not sleep, so a lock on its path must spin. It is a
//! test-and-test-and-set lock; its cost under contention (the cache line
//! bouncing between CPUs) is exactly what the benchmarks are meant to show.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};

pub(crate) use std::sync::atomic::Ordering;

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

#[inline]
fn cpu_relax() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// A spinlock guarding `T`, the model of `spinlock_t` + the data it protects.
pub struct SpinLock<T> {
    locked: AtomicBool,
    #[cfg(not(loom))]
    data: UnsafeCell<T>,
    #[cfg(loom)]
    data: loom::cell::UnsafeCell<T>,
}

// SAFETY: the lock serialises every access to `data`, so sharing the lock is
// as safe as sending `T` between threads.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// An unlocked lock around `data`.
    pub fn new(data: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            #[cfg(not(loom))]
            data: UnsafeCell::new(data),
            #[cfg(loom)]
            data: loom::cell::UnsafeCell::new(data),
        }
    }

    /// `spin_lock()`: spins until the lock is ours.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        loop {
            // Acquire: pairs with the Release store in `SpinLockGuard::drop`,
            // so everything the previous holder wrote is visible to us.
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                break;
            }
            // Relaxed: only a hint to retry; the CAS above does the ordering.
            while self.locked.load(Ordering::Relaxed) {
                cpu_relax();
            }
        }
        SpinLockGuard {
            lock: self,
            #[cfg(loom)]
            guard: Some(self.data.get_mut()),
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
    #[cfg(loom)]
    guard: Option<loom::cell::MutPtr<T>>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        #[cfg(not(loom))]
        // SAFETY: we hold the lock, so no one else touches `data`.
        unsafe {
            &*self.lock.data.get()
        }
        #[cfg(loom)]
        // SAFETY: as above; loom checks it.
        unsafe {
            self.guard.as_ref().expect("guard alive until drop").deref()
        }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        #[cfg(not(loom))]
        // SAFETY: we hold the lock, so no one else touches `data`.
        unsafe {
            &mut *self.lock.data.get()
        }
        #[cfg(loom)]
        // SAFETY: as above; loom checks it.
        unsafe {
            self.guard.as_ref().expect("guard alive until drop").deref()
        }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // loom tracks the data access until the pointer is gone: end it first.
        #[cfg(loom)]
        drop(self.guard.take());
        // Release: publishes our writes to the next holder's Acquire CAS.
        self.lock.locked.store(false, Ordering::Release);
    }
}
