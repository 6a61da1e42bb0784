//! The census: what the model's code does, counted, not timed.
//!
//! This crate is built twice. As `pin-schemes` (timed) every hook here is
//! empty and [`crate::sync`] hands out `std`'s atomics: nothing of the
//! census reaches a timed instruction (a thread-local flag test per atomic
//! was measured to slow the floor's locked adds by 18 to 23%: a load after
//! a locked instruction waits for it). As `pin-schemes-census` (the same
//! sources with `--cfg census`, used only by the harness's untimed census
//! pass and the census tests) [`crate::sync`] hands out the counted atomics
//! of [`atomic`], and the spinlock, `smp_mb()`, the RCU read side and the
//! slab report to the same hooks. While a thread records (between
//! [`record`] and [`Recording::finish`]), each operation is noted against
//! the cache line it touched:
//!
//! - a locked read-modify-write (what x86 emits with a `lock` prefix:
//!   `fetch_add`, `fetch_or`, `compare_exchange`, `swap`, ...), by what it
//!   hit: a `struct page` field (by its offset in the page), a region the caller named (`vmstat`,
//!   `mm_struct`), a lock word, or `other` (a scheme's side structures);
//!   a failed `compare_exchange` is still a locked instruction and counts;
//! - a full barrier (`smp_mb()`; `smp_mb__after_atomic()` emits nothing on
//!   x86-64 and is not counted);
//! - a lock acquisition, by the lock's name;
//! - an RCU read-side section entered (every `rcu_read_lock()`, nested
//!   ones included: each is an operation the kernel runs);
//! - an allocation or free of tracking memory (a `kmem_cache` object);
//! - each 64-byte line read or written, and whether it lies in the memmap.
//!
//! Plain loads and stores of atomics (`atomic_read()`, `WRITE_ONCE()`) are
//! no instruction of their own kind; they count only as lines read or
//! written. What the model's stand-ins do beyond the kernel is not counted:
//! the slab's statistics and crossbeam-epoch's own fences (the kernel's
//! `rcu_read_lock()` in gup-fast is a preempt-count increment).
//!
//! Lines inside a region the recorder was given are keyed by their offset
//! in the region, so a count does not depend on where the heap put a
//! structure; everything else by its address. Counting never runs inside a
//! timed slice: the harness records in a separate pass over a fresh memmap.

// Outside the census copy (and under loom) the hooks are empty.
#![cfg_attr(any(loom, not(census)), allow(dead_code))]

#[cfg(all(census, not(loom)))]
pub mod atomic;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// Bytes of a cache line.
pub const LINE: usize = 64;

/// What a recorded region of memory is.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// The memmap's `struct page`s: an operation is named by the field at
    /// its offset in the page, as the function given names it
    /// ([`crate::page::field_at`]).
    StructPage(fn(usize) -> &'static str),
    /// A structure the breakdown names.
    Named(&'static str),
}

/// A range of addresses the recorder names and keys its lines by.
#[derive(Clone, Debug)]
pub struct Region {
    /// Addresses.
    pub range: Range<usize>,
    /// What lives there.
    pub kind: Kind,
}

impl Region {
    /// The bytes of `what`, named `kind`.
    pub fn of<T: ?Sized>(what: &T, kind: Kind) -> Self {
        let start = what as *const T as *const u8 as usize;
        Self {
            range: start..start + std::mem::size_of_val(what),
            kind,
        }
    }
}

/// A line as the census tells lines apart: where it lies and its number
/// there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineKey {
    /// The region or object it lies in.
    pub place: Place,
    /// Line number within it (address / 64 for [`Place::Heap`]).
    pub line: usize,
}

/// Where a line lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// A region the recording was given (its index).
    Region(usize),
    /// A tracking object (its serial number in the pass).
    Object(usize),
    /// Anywhere else, keyed by address.
    Heap,
}

/// How one thread used a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineUse {
    /// It lies in the memmap (`struct page`).
    pub memmap: bool,
    /// Read (a load, or the read half of a read-modify-write).
    pub read: bool,
    /// Written (a store or a read-modify-write).
    pub written: bool,
    /// A lock's word (taken or released there): such a line is alone in
    /// its 64 bytes wherever it lies, so its count does not depend on
    /// where the heap put it.
    pub lock_word: bool,
}

/// What one thread's recording counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadCensus {
    /// Locked read-modify-writes, by what they hit.
    pub locked_rmw: BTreeMap<&'static str, u64>,
    /// `smp_mb()`.
    pub fences: u64,
    /// Lock acquisitions, by lock.
    pub locks: BTreeMap<&'static str, u64>,
    /// RCU read-side sections entered.
    pub rcu_sections: u64,
    /// Objects of tracking memory allocated.
    pub allocs: u64,
    /// Objects of tracking memory freed (now or after a grace period).
    pub frees: u64,
    /// Lines touched.
    pub lines: HashMap<LineKey, LineUse>,
}

/// How an atomic touched its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// A locked read-modify-write.
    Rmw,
}

/// What the breakdown calls a lock word.
pub const LOCK_WORD: &str = "lock word";
/// What the breakdown calls the word of a lock the model takes where the
/// kernel takes none (the per-CPU pagevecs' `get_cpu_var()`).
pub const STAND_IN: &str = "stand-in lock";
/// What the breakdown calls memory outside every named region.
pub const OTHER: &str = "other";

#[cfg(all(census, not(loom)))]
mod tls {
    use super::{Objects, Recorder, Region};
    use std::cell::{Cell, RefCell};

    /// No recording on this thread.
    pub(super) const NONE: u8 = 0;
    /// A recording, paused: objects are tracked, nothing is counted.
    pub(super) const PAUSED: u8 = 1;
    /// Counting.
    pub(super) const ON: u8 = 2;

    thread_local! {
        /// [`NONE`], [`PAUSED`] or [`ON`].
        pub(super) static STATE: Cell<u8> = const { Cell::new(NONE) };
        /// Its recording.
        pub(super) static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
    }

    pub(super) fn start(regions: Vec<Region>, objects: Objects) {
        RECORDER.with(|r| *r.borrow_mut() = Some(Recorder::new(regions, objects)));
        set(ON);
    }

    pub(super) fn set(state: u8) {
        STATE.with(|s| s.set(state));
    }
}

/// Whether the calling thread is counting.
#[inline(always)]
fn on() -> bool {
    #[cfg(all(census, not(loom)))]
    return tls::STATE.with(std::cell::Cell::get) == tls::ON;
    #[cfg(any(loom, not(census)))]
    return false;
}

/// Runs `f` on the recorder; only called while [`on`].
#[cold]
#[inline(never)]
fn with_recorder(f: impl FnOnce(&mut Recorder)) {
    #[cfg(all(census, not(loom)))]
    tls::RECORDER.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            f(rec);
        }
    });
    #[cfg(any(loom, not(census)))]
    let _ = f;
}

/// An atomic at `addr` was accessed.
#[inline(always)]
pub(crate) fn atomic(addr: usize, access: Access) {
    if on() {
        with_recorder(|r| r.atomic(addr, access));
    }
}

/// `smp_mb()` ran.
#[inline(always)]
pub(crate) fn fence() {
    if on() {
        with_recorder(|r| r.census.fences += 1);
    }
}

/// The lock `name` whose word is at `addr` was taken: one locked
/// read-modify-write of the word (a [`STAND_IN`]'s where the kernel takes
/// no lock).
#[inline(always)]
pub(crate) fn lock(name: &'static str, addr: usize, stand_in: bool) {
    if on() {
        with_recorder(|r| {
            *r.census.locks.entry(name).or_default() += 1;
            let what = if stand_in { STAND_IN } else { LOCK_WORD };
            *r.census.locked_rmw.entry(what).or_default() += 1;
            r.touch(addr, Access::Rmw, true);
        });
    }
}

/// A lock whose word the counted atomics already saw (an rwsem) was
/// taken.
#[inline(always)]
pub(crate) fn acquired(name: &'static str) {
    if on() {
        with_recorder(|r| *r.census.locks.entry(name).or_default() += 1);
    }
}

/// The lock whose word is at `addr` was released: a plain store.
#[inline(always)]
pub(crate) fn unlock(addr: usize) {
    if on() {
        with_recorder(|r| r.touch(addr, Access::Write, true));
    }
}

/// An RCU read-side section was entered.
#[inline(always)]
pub(crate) fn rcu_section() {
    if on() {
        with_recorder(|r| r.census.rcu_sections += 1);
    }
}

/// Whether the calling thread has a recording, paused or not.
#[inline(always)]
fn recording() -> bool {
    #[cfg(all(census, not(loom)))]
    return tls::STATE.with(std::cell::Cell::get) != tls::NONE;
    #[cfg(any(loom, not(census)))]
    return false;
}

/// A tracking object of `size` bytes was allocated at `addr`.
#[inline(always)]
pub(crate) fn alloc(addr: usize, size: usize) {
    if recording() {
        with_recorder(|r| {
            r.objects.born(addr, size);
            if on() {
                r.census.allocs += 1;
            }
        });
    }
}

/// The tracking object at `addr` was freed (now, or handed to
/// `call_rcu()`: unreachable either way).
#[inline(always)]
pub(crate) fn free(addr: usize) {
    if recording() {
        with_recorder(|r| {
            r.objects.died(addr);
            if on() {
                r.census.frees += 1;
            }
        });
    }
}

/// The tracking objects alive while a census records, shared by the
/// threads of one pass: a line of an object is keyed by the object (the
/// how-manieth it is) and its offset in it, so a count does not depend on
/// where the allocator put it.
#[derive(Clone, Debug, Default)]
pub struct Objects(std::sync::Arc<std::sync::Mutex<ObjectMap>>);

#[derive(Debug, Default)]
struct ObjectMap {
    /// Base address -> (size, serial).
    live: BTreeMap<usize, (usize, usize)>,
    born: usize,
}

impl Objects {
    fn map(&self) -> std::sync::MutexGuard<'_, ObjectMap> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn born(&self, addr: usize, size: usize) {
        let mut m = self.map();
        m.born += 1;
        let serial = m.born;
        m.live.insert(addr, (size, serial));
    }

    fn died(&self, addr: usize) {
        self.map().live.remove(&addr);
    }

    /// The serial number and base of the live object holding `addr`.
    fn find(&self, addr: usize) -> Option<(usize, usize)> {
        let m = self.map();
        let (&base, &(size, serial)) = m.live.range(..=addr).next_back()?;
        (addr < base + size).then_some((serial, base))
    }
}

/// A thread's recording.
struct Recorder {
    regions: Vec<Region>,
    objects: Objects,
    census: ThreadCensus,
}

impl Recorder {
    fn new(regions: Vec<Region>, objects: Objects) -> Self {
        Self {
            regions,
            objects,
            census: ThreadCensus::default(),
        }
    }

    fn region(&self, addr: usize) -> Option<(usize, &Region)> {
        self.regions
            .iter()
            .enumerate()
            .find(|(_, r)| r.range.contains(&addr))
    }

    fn atomic(&mut self, addr: usize, access: Access) {
        if access == Access::Rmw {
            let what = match self.region(addr) {
                Some((_, r)) => match r.kind {
                    Kind::StructPage(field) => field((addr - r.range.start) % LINE),
                    Kind::Named(name) => name,
                },
                None => OTHER,
            };
            *self.census.locked_rmw.entry(what).or_default() += 1;
        }
        self.touch(addr, access, false);
    }

    fn touch(&mut self, addr: usize, access: Access, lock_word: bool) {
        let (key, memmap) = match self.region(addr) {
            Some((i, r)) => (
                LineKey {
                    place: Place::Region(i),
                    line: (addr - r.range.start) / LINE,
                },
                matches!(r.kind, Kind::StructPage(_)),
            ),
            None => match self.objects.find(addr) {
                Some((serial, base)) => (
                    LineKey {
                        place: Place::Object(serial),
                        line: (addr - base) / LINE,
                    },
                    false,
                ),
                None => (
                    LineKey {
                        place: Place::Heap,
                        line: addr / LINE,
                    },
                    false,
                ),
            },
        };
        let u = self.census.lines.entry(key).or_default();
        u.memmap = memmap;
        u.read |= access != Access::Write;
        u.written |= access != Access::Read;
        u.lock_word |= lock_word;
    }
}

/// The calling thread's recording, from [`record`].
#[must_use = "finish() returns what was counted"]
pub struct Recording(());

/// Starts counting on the calling thread, with `regions` named and the
/// tracking objects of `objects` (shared by the threads of one pass) told
/// apart (see the module doc). Under loom nothing is counted.
pub fn record(regions: Vec<Region>, objects: Objects) -> Recording {
    #[cfg(all(census, not(loom)))]
    tls::start(regions, objects);
    #[cfg(any(loom, not(census)))]
    let _ = (regions, objects);
    Recording(())
}

impl Recording {
    /// Stops counting, keeping what was counted (a warm-up, a setup step).
    pub fn pause(&self) {
        #[cfg(all(census, not(loom)))]
        tls::set(tls::PAUSED);
    }

    /// Counts again.
    pub fn resume(&self) {
        #[cfg(all(census, not(loom)))]
        tls::set(tls::ON);
    }

    /// Forgets what was counted so far (after a warm-up).
    pub fn reset(&self) {
        #[cfg(all(census, not(loom)))]
        tls::RECORDER.with(|r| {
            if let Some(rec) = r.borrow_mut().as_mut() {
                rec.census = ThreadCensus::default();
            }
        });
    }

    /// Stops counting and returns what was counted.
    pub fn finish(self) -> ThreadCensus {
        #[cfg(all(census, not(loom)))]
        {
            tls::set(tls::NONE);
            tls::RECORDER
                .with(|r| r.borrow_mut().take())
                .map(|rec| rec.census)
                .unwrap_or_default()
        }
        #[cfg(any(loom, not(census)))]
        ThreadCensus::default()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        #[cfg(all(census, not(loom)))]
        {
            tls::set(tls::NONE);
            tls::RECORDER.with(|r| r.borrow_mut().take());
        }
    }
}
