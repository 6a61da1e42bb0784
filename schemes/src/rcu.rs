//! RCU as the side trees use it: lock-free readers inside read-side
//! sections, and writers that unlink a node and free it with `call_rcu()`
//! once every reader that could have found it has left.
//!
//! crossbeam-epoch stands in: an epoch advance is a grace period, a pinned
//! `Guard` a read-side section, `Guard::defer` is `call_rcu()`. What it
//! costs differs from the kernel's, and docs/schemes.md says by how much: the
//! first `pin()` of a section is a full fence (the kernel's
//! `rcu_read_lock()` is a preempt-count increment, free in gup-fast, whose
//! interrupts are already off); nested sections cost a thread-local
//! increment; every 128th outermost pin, and every 64th `call_rcu()` of a
//! thread, tries to advance the epoch and run expired callbacks, in the
//! caller's time, where the kernel runs them from softirq on the CPU that
//! queued them.
//!
//! Under loom nothing is reclaimed: deferred frees are kept and run when
//! the owner is dropped, so loom checks the trees' linking and unlinking
//! against concurrent readers, not the grace-period machinery.

#[cfg(loom)]
use crate::sync::SpinLock;

/// A read-side section (`rcu_read_lock()` .. `rcu_read_unlock()`).
pub struct ReadGuard {
    #[cfg(not(loom))]
    _guard: crossbeam_epoch::Guard,
}

/// A deferred free.
type Callback = Box<dyn FnOnce() + Send>;

/// Frees a thread queues before it hands them over and collects (eight of
/// crossbeam's 64-entry bags). A knob of the stand-in, not of RCU: every
/// 64 frees, side-tree-sharded's private 2T scaling was 1.44-1.55 with a
/// peak of 1.2 B/page; every 512, 1.61-1.62 and 5.7 B/page (three runs
/// each, this project's 2-vCPU VM): the collection contends on crossbeam's
/// global queue, where the kernel's callback lists are per CPU.
#[cfg(not(loom))]
const CALLBACKS_PER_FLUSH: u32 = 512;

#[cfg(not(loom))]
thread_local! {
    /// Frees this thread has queued.
    static CALLBACKS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// One structure's use of RCU.
#[derive(Default)]
pub struct Rcu {
    #[cfg(loom)]
    retired: SpinLock<Vec<Callback>>,
}

impl Rcu {
    /// `rcu_read_lock()`.
    #[inline]
    pub fn read_lock(&self) -> ReadGuard {
        crate::census::rcu_section();
        ReadGuard {
            #[cfg(not(loom))]
            _guard: crossbeam_epoch::pin(),
        }
    }

    /// `call_rcu()`: runs `free` after a grace period.
    pub fn call_rcu(&self, free: impl FnOnce() + Send + 'static) {
        let free: Callback = Box::new(free);
        #[cfg(not(loom))]
        {
            let guard = crossbeam_epoch::pin();
            guard.defer(free);
            // The kernel processes RCU callbacks continuously (softirq);
            // crossbeam only collects on every 128th outermost pin, and a
            // walk that frees inside its own read-side section never makes
            // one. So every CALLBACKS_PER_FLUSH frees, hand the bag over
            // and collect expired ones, here, in the caller's time.
            if CALLBACKS.with(|n| {
                let c = n.get().wrapping_add(1);
                n.set(c);
                c.is_multiple_of(CALLBACKS_PER_FLUSH)
            }) {
                guard.flush();
            }
        }
        #[cfg(loom)]
        self.retired.lock().push(free);
    }

    /// `rcu_barrier()`: waits until `done()` says the callbacks it cares
    /// about have run, driving grace periods from this thread; gives up
    /// after `tries` attempts (another thread inside a read-side section
    /// holds the epoch back). Returns `done()`.
    pub fn barrier(&self, tries: u32, done: impl Fn() -> bool) -> bool {
        #[cfg(not(loom))]
        for _ in 0..tries {
            if done() {
                return true;
            }
            // flush() hands this thread's deferred frees to the global
            // queue and runs the expired ones; each pin may advance the
            // epoch.
            crossbeam_epoch::pin().flush();
            // Let a thread that holds the epoch back run (rcu_barrier()
            // sleeps).
            std::thread::yield_now();
        }
        #[cfg(loom)]
        {
            let _ = tries;
            let retired = std::mem::take(&mut *self.retired.lock());
            retired.into_iter().for_each(|free| free());
        }
        done()
    }
}

#[cfg(loom)]
impl Drop for Rcu {
    fn drop(&mut self) {
        let retired = std::mem::take(&mut *self.retired.lock());
        retired.into_iter().for_each(|free| free());
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn call_rcu_runs_after_the_reader_leaves() {
        let rcu = Rcu::default();
        let freed = Arc::new(AtomicBool::new(false));
        let reader = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let rcu = &rcu;
            let h = s.spawn(move || {
                let _g = rcu.read_lock();
                tx.send(()).expect("send");
                done_rx.recv().expect("recv");
            });
            rx.recv().expect("reader in its section");
            let f = Arc::clone(&freed);
            rcu.call_rcu(move || f.store(true, Ordering::SeqCst));
            // The reader's section holds the grace period back.
            assert!(!rcu.barrier(200, || freed.load(Ordering::SeqCst)));
            done_tx.send(()).expect("send");
            h.join()
        });
        assert!(reader.is_ok());
        assert!(rcu.barrier(10_000, || freed.load(Ordering::SeqCst)));
    }
}
