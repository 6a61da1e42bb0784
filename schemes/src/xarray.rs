//! The XArray (lib/xarray.c, include/linux/xarray.h, v6.12) as a side tree
//! of value entries: what a kernel developer would use to keep a count per
//! pfn outside `struct page`.
//!
//! Modelled as the kernel has it:
//! - `struct xa_node`: 64 slots of 8 bytes, `shift`, `offset`, `count`,
//!   `nr_values`, `parent`, `array`, the `private_list`/`rcu_head` union
//!   and three mark bitmaps, 576 bytes (a test checks the size);
//! - entries: NULL, value entries `(v << 1) | 1`, node entries `node | 2`;
//! - readers (`xa_load()`) walk from `xa_head` without a lock, inside an RCU
//!   read-side section, loading each slot with `rcu_dereference()`;
//! - writers hold `xa_lock` (`xa_lock_irqsave()` in a pin path, since unpin
//!   may run from I/O completion); `__xa_store()` grows the tree upwards
//!   (`xas_expand()`) and downwards (`xas_create()`), publishing each new
//!   node with `rcu_assign_pointer()`; a node is allocated with GFP_NOWAIT
//!   under the lock and, if that fails, once more with the caller's gfp
//!   (`__xas_nomem()`), and a failed store leaves the empty nodes it had
//!   linked, as the kernel's does;
//! - `__xa_erase()` deletes a node whose `count` falls to 0 and its empty
//!   ancestors (`xas_delete_node()`), shrinks a root whose only child is in
//!   slot 0 (`xas_shrink()`), and frees nodes after a grace period
//!   (`xa_node_free()`: `call_rcu()`).
//!
//! Left out, each named in docs/schemes.md: marks (the bitmaps are there, never
//! set), multi-index entries, the entry for index 0 kept in `xa_head`
//! itself (here it takes a node), `XA_RETRY_ENTRY` (only `xas_shrink()` of a
//! value entry writes one, which cannot happen without head entries), and
//! the interrupt disabling of `xa_lock_irqsave()`.

use crate::rcu::Rcu;
use crate::slab::{CacheStats, FailSlab, Gfp, KmemCache};
use crate::sync::{AtomicPtr, AtomicU8, AtomicUsize, Ordering, SpinLock, SpinLockGuard};
use std::ptr::{self, NonNull};

/// Bits of the index per level: `XA_CHUNK_SHIFT` (6; 1 under loom, to keep
/// the models small).
#[cfg(not(loom))]
pub const XA_CHUNK_SHIFT: u32 = 6;
#[cfg(loom)]
pub const XA_CHUNK_SHIFT: u32 = 1;
/// Slots per node.
pub const XA_CHUNK_SIZE: usize = 1 << XA_CHUNK_SHIFT;
const XA_CHUNK_MASK: usize = XA_CHUNK_SIZE - 1;
const XA_MAX_MARKS: usize = 3;

/// `struct xa_node`.
#[repr(C)]
pub struct XaNode {
    /// Bits of the index below this node's slots.
    shift: u8,
    /// This node's slot in its parent.
    offset: AtomicU8,
    /// Non-NULL slots (written under `xa_lock`).
    count: AtomicU8,
    /// Value entries among them (written under `xa_lock`).
    nr_values: AtomicU8,
    parent: AtomicPtr<XaNode>,
    /// `array`: the owning XArray (unused by the model, kept for the size).
    _array: usize,
    /// `private_list` / `rcu_head`: the union `call_rcu()` uses.
    _private_list: [usize; 2],
    slots: [AtomicUsize; XA_CHUNK_SIZE],
    _marks: [[usize; 1]; XA_MAX_MARKS],
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<XaNode>() == 576);

impl XaNode {
    fn new(shift: u32, parent: *mut XaNode, offset: usize) -> Self {
        Self {
            shift: shift as u8,
            offset: AtomicU8::new(offset as u8),
            count: AtomicU8::new(0),
            nr_values: AtomicU8::new(0),
            parent: AtomicPtr::new(parent),
            _array: 0,
            _private_list: [0; 2],
            slots: std::array::from_fn(|_| AtomicUsize::new(0)),
            _marks: [[0]; XA_MAX_MARKS],
        }
    }

    /// `max_index()` of a node entry: the last index under it.
    fn max_index(&self) -> usize {
        (XA_CHUNK_SIZE << self.shift).wrapping_sub(1)
    }

    fn slot(&self, index: usize) -> &AtomicUsize {
        &self.slots[(index >> self.shift) & XA_CHUNK_MASK]
    }

    // Relaxed (count, nr_values, offset, parent below): written and read
    // under xa_lock only; readers use neither.
    fn add_count(&self, count: i8, values: i8) {
        let c = self.count.load(Ordering::Relaxed);
        self.count
            .store(c.wrapping_add_signed(count), Ordering::Relaxed);
        let v = self.nr_values.load(Ordering::Relaxed);
        self.nr_values
            .store(v.wrapping_add_signed(values), Ordering::Relaxed);
    }
}

/// `xa_mk_value()`.
fn mk_value(v: u64) -> usize {
    ((v as usize) << 1) | 1
}

/// `xa_is_value()` .. `xa_to_value()`.
fn to_value(entry: usize) -> Option<u64> {
    (entry & 1 == 1).then_some((entry >> 1) as u64)
}

/// `xa_mk_node()`.
fn mk_node(node: NonNull<XaNode>) -> usize {
    node.as_ptr() as usize | 2
}

/// `xa_is_node()` .. `xa_to_node()`: internal entries above 4096.
fn to_node(entry: usize) -> Option<NonNull<XaNode>> {
    (entry & 3 == 2 && entry > 4096)
        .then(|| NonNull::new((entry - 2) as *mut XaNode))
        .flatten()
}

/// Why a locked operation did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XaError {
    /// A node could not be allocated: `xa_err() == -ENOMEM`.
    NoMemory,
    /// The entry is absent or smaller than what was to be taken from it.
    Underflow,
}

/// An XArray of value entries.
pub struct XArray {
    xa_lock: SpinLock<()>,
    xa_head: AtomicUsize,
    nodes: KmemCache<XaNode>,
    rcu: Rcu,
}

// SAFETY: nodes are reachable only through `xa_head`; writers change the
// tree under `xa_lock`, readers only load, inside RCU sections, and nodes
// are freed after a grace period.
unsafe impl Send for XArray {}
// SAFETY: as above.
unsafe impl Sync for XArray {}

impl Default for XArray {
    fn default() -> Self {
        Self {
            xa_lock: SpinLock::named("xa_lock", ()),
            xa_head: AtomicUsize::new(0),
            nodes: KmemCache::default(),
            rcu: Rcu::default(),
        }
    }
}

impl XArray {
    /// `rcu_read_lock()` for a caller's walk over several loads (nested
    /// sections are cheap).
    #[inline]
    pub fn read_lock(&self) -> crate::rcu::ReadGuard {
        self.rcu.read_lock()
    }

    /// `xa_load()`: the value at `index`, without the lock.
    #[inline]
    pub fn load(&self, index: usize) -> Option<u64> {
        let _rcu = self.rcu.read_lock();
        // Acquire (here and per slot): rcu_dereference(), pairing with
        // rcu_assign_pointer() of the node being entered.
        let mut entry = self.xa_head.load(Ordering::Acquire);
        if let Some(node) = to_node(entry) {
            // SAFETY: reached from xa_head within this RCU section; nodes
            // are freed only after a grace period.
            if index > unsafe { node.as_ref() }.max_index() {
                return None;
            }
        }
        while let Some(node) = to_node(entry) {
            // SAFETY: as above.
            let node = unsafe { node.as_ref() };
            entry = node.slot(index).load(Ordering::Acquire);
        }
        to_value(entry)
    }

    /// `xa_lock_irqsave()`.
    #[inline]
    pub fn lock(&self) -> XaLocked<'_> {
        XaLocked {
            xa: self,
            _guard: self.xa_lock.lock(),
            cursor: None,
        }
    }

    /// The cache the nodes come from: bytes live, peak, awaiting RCU.
    pub fn node_stats(&self) -> &CacheStats {
        self.nodes.stats()
    }

    /// Waits (up to `tries` attempts) for freed nodes' grace periods.
    pub fn rcu_barrier(&self, tries: u32) -> bool {
        self.rcu
            .barrier(tries, || self.nodes.stats().rcu_pending() == 0)
    }
}

impl Drop for XArray {
    fn drop(&mut self) {
        fn free(cache: &KmemCache<XaNode>, node: NonNull<XaNode>) {
            // SAFETY: `&mut XArray`: no reader or writer is left.
            for slot in &unsafe { node.as_ref() }.slots {
                if let Some(child) = to_node(slot.load(Ordering::Relaxed)) {
                    free(cache, child);
                }
            }
            // SAFETY: linked in the tree, so allocated by `cache` and not
            // yet freed; freed once, here.
            unsafe { cache.free(node) };
        }
        if let Some(node) = to_node(self.xa_head.load(Ordering::Relaxed)) {
            free(&self.nodes, node);
        }
    }
}

/// The array with `xa_lock` held: the writers' side, with the `xa_state`
/// of one holder's run of stores.
pub struct XaLocked<'a> {
    xa: &'a XArray,
    _guard: SpinLockGuard<'a, ()>,
    /// The bottom node the last store or erase reached, with its first
    /// index: an index in the same node is reached from it, as `xas_next()`
    /// (or `xas_set()` to an index in the node) and `xas_store()` reach it,
    /// instead of walking from `xa_head`. Forgotten when a node is deleted.
    cursor: Option<(usize, NonNull<XaNode>)>,
}

impl XaLocked<'_> {
    /// The bottom node and slot for `index` if the cursor is on its node.
    #[inline]
    fn at_cursor(&self, index: usize) -> Option<(&XaNode, &AtomicUsize)> {
        let (base, node) = self.cursor?;
        (index & !XA_CHUNK_MASK == base).then(|| {
            // SAFETY: the cursor is set under this hold of xa_lock to a
            // linked node and dropped whenever a node is deleted, so the
            // node is linked and live.
            let n = unsafe { &*node.as_ptr() };
            (n, n.slot(index))
        })
    }

    /// Remembers `node`, the bottom node holding `index`.
    #[inline]
    fn set_cursor(&mut self, index: usize, node: &XaNode) {
        self.cursor = Some((index & !XA_CHUNK_MASK, NonNull::from(node)));
    }

    /// `xas_load()` under the lock: the slot holding `index`, with its
    /// node, if the tree reaches it.
    fn walk(&self, index: usize) -> Option<(&XaNode, &AtomicUsize)> {
        if let Some(found) = self.at_cursor(index) {
            return Some(found);
        }
        // Relaxed (reads under xa_lock): xa_entry_locked(); the lock
        // orders every writer.
        let mut node = to_node(self.xa.xa_head.load(Ordering::Relaxed))?;
        // SAFETY (derefs below): linked nodes stay allocated while we hold
        // xa_lock; only a holder of the lock unlinks them.
        if index > unsafe { node.as_ref() }.max_index() {
            return None;
        }
        loop {
            let n = unsafe { node.as_ref() };
            let slot = n.slot(index);
            if n.shift == 0 {
                return Some((n, slot));
            }
            node = to_node(slot.load(Ordering::Relaxed))?;
        }
    }

    /// The value at `index`.
    pub fn load(&self, index: usize) -> Option<u64> {
        to_value(self.walk(index)?.1.load(Ordering::Relaxed))
    }

    /// `__xa_store(xa, index, xa_mk_value(old + delta), gfp)`: adds `delta`
    /// to the value at `index` (absent counts as 0), creating the slot.
    pub fn add(
        &mut self,
        index: usize,
        delta: u64,
        gfp: Gfp,
        failslab: &FailSlab,
    ) -> Result<u64, XaError> {
        let (node, slot) = match self.at_cursor(index) {
            Some(found) => found,
            None => self.create(index, gfp, failslab)?,
        };
        let old = slot.load(Ordering::Relaxed);
        let new = to_value(old).unwrap_or(0) + delta;
        // Release: rcu_assign_pointer() of the entry.
        slot.store(mk_value(new), Ordering::Release);
        if old == 0 {
            node.add_count(1, 1);
        }
        let node: *const XaNode = node;
        // SAFETY: the bottom node just stored to, linked under our lock.
        self.set_cursor(index, unsafe { &*node });
        Ok(new)
    }

    /// Takes `delta` from the value at `index`; at 0 the entry is erased
    /// (`__xa_erase()`) and empty nodes are deleted. Returns what is left.
    pub fn sub(&mut self, index: usize, delta: u64) -> Result<u64, XaError> {
        let (node, slot) = self.walk(index).ok_or(XaError::Underflow)?;
        let old = to_value(slot.load(Ordering::Relaxed)).ok_or(XaError::Underflow)?;
        let new = old.checked_sub(delta).ok_or(XaError::Underflow)?;
        let node = NonNull::from(node);
        if new > 0 {
            // Release: rcu_assign_pointer().
            slot.store(mk_value(new), Ordering::Release);
        } else {
            slot.store(0, Ordering::Release);
            // SAFETY: the bottom node we just walked to, linked under our lock.
            let n = unsafe { node.as_ref() };
            n.add_count(-1, -1);
            if n.count.load(Ordering::Relaxed) == 0 {
                self.cursor = None;
                self.delete_node(node);
                return Ok(0);
            }
        }
        // SAFETY: as above; still linked.
        self.set_cursor(index, unsafe { &*node.as_ptr() });
        Ok(new)
    }

    /// `xas_alloc()` with `__xas_nomem()`'s second attempt: GFP_NOWAIT
    /// under the lock, then the caller's `gfp` (a sleeping one would drop
    /// and retake the lock; the model does not).
    fn alloc(
        &self,
        shift: u32,
        parent: *mut XaNode,
        offset: usize,
        gfp: Gfp,
        failslab: &FailSlab,
    ) -> Result<NonNull<XaNode>, XaError> {
        let cache = &self.xa.nodes;
        cache
            .alloc(failslab, Gfp::Nowait, || XaNode::new(shift, parent, offset))
            .or_else(|| cache.alloc(failslab, gfp, || XaNode::new(shift, parent, offset)))
            .ok_or(XaError::NoMemory)
    }

    /// `xas_expand()` then `xas_create()`: the bottom node and slot for
    /// `index`, allocating what is missing.
    fn create(
        &self,
        index: usize,
        gfp: Gfp,
        failslab: &FailSlab,
    ) -> Result<(&XaNode, &AtomicUsize), XaError> {
        let head = &self.xa.xa_head;
        let mut entry = head.load(Ordering::Relaxed);
        let mut shift = match to_node(entry) {
            None => {
                let mut shift = 0;
                while (index >> shift) >= XA_CHUNK_SIZE {
                    shift += XA_CHUNK_SHIFT;
                }
                shift + XA_CHUNK_SHIFT
            }
            Some(top) => {
                // SAFETY (derefs in this function): linked nodes live while
                // we hold xa_lock.
                let mut top = top;
                while index > unsafe { top.as_ref() }.max_index() {
                    let up = unsafe { top.as_ref() }.shift as u32 + XA_CHUNK_SHIFT;
                    let node = self.alloc(up, ptr::null_mut(), 0, gfp, failslab)?;
                    let n = unsafe { node.as_ref() };
                    n.add_count(1, 0);
                    n.slots[0].store(mk_node(top), Ordering::Relaxed);
                    let t = unsafe { top.as_ref() };
                    t.offset.store(0, Ordering::Relaxed);
                    t.parent.store(node.as_ptr(), Ordering::Relaxed);
                    // Release: rcu_assign_pointer(xa->xa_head, node).
                    head.store(mk_node(node), Ordering::Release);
                    top = node;
                }
                entry = mk_node(top);
                unsafe { top.as_ref() }.shift as u32 + XA_CHUNK_SHIFT
            }
        };
        let mut slot: &AtomicUsize = head;
        let mut parent: *mut XaNode = ptr::null_mut();
        loop {
            shift -= XA_CHUNK_SHIFT;
            let node = match to_node(entry) {
                Some(node) => node,
                None => {
                    let offset = (index >> (shift + XA_CHUNK_SHIFT)) & XA_CHUNK_MASK;
                    let node = self.alloc(shift, parent, offset, gfp, failslab)?;
                    if let Some(p) = NonNull::new(parent) {
                        unsafe { p.as_ref() }.add_count(1, 0);
                    }
                    // Release: rcu_assign_pointer(*slot, xa_mk_node(node)).
                    slot.store(mk_node(node), Ordering::Release);
                    node
                }
            };
            let n = unsafe { &*node.as_ptr() };
            slot = n.slot(index);
            if shift == 0 {
                return Ok((n, slot));
            }
            entry = slot.load(Ordering::Relaxed);
            parent = node.as_ptr();
        }
    }

    /// `xas_delete_node()`: frees `node` (now empty) and every ancestor it
    /// leaves empty, then `xas_shrink()`.
    fn delete_node(&self, mut node: NonNull<XaNode>) {
        loop {
            // SAFETY: linked, live while we hold xa_lock.
            let n = unsafe { node.as_ref() };
            if n.count.load(Ordering::Relaxed) != 0 {
                break;
            }
            let parent = n.parent.load(Ordering::Relaxed);
            let offset = n.offset.load(Ordering::Relaxed) as usize;
            let Some(p) = NonNull::new(parent) else {
                self.xa.xa_head.store(0, Ordering::Release);
                // SAFETY: unlinked just now; readers are given a grace period.
                unsafe { self.xa.nodes.free_rcu(&self.xa.rcu, node) };
                return;
            };
            // SAFETY: a linked node's parent is linked.
            let pn = unsafe { p.as_ref() };
            pn.slots[offset].store(0, Ordering::Release);
            // SAFETY: unlinked just now.
            unsafe { self.xa.nodes.free_rcu(&self.xa.rcu, node) };
            pn.add_count(-1, 0);
            node = p;
        }
        // SAFETY: still linked.
        if unsafe { node.as_ref() }
            .parent
            .load(Ordering::Relaxed)
            .is_null()
        {
            self.shrink(node);
        }
    }

    /// `xas_shrink()`: while the root's only entry is a node in slot 0,
    /// that node becomes the root. (Value entries never move into
    /// `xa_head` in this model.)
    fn shrink(&self, mut node: NonNull<XaNode>) {
        loop {
            // SAFETY: the root, live while we hold xa_lock.
            let n = unsafe { node.as_ref() };
            if n.count.load(Ordering::Relaxed) != 1 {
                return;
            }
            let Some(child) = to_node(n.slots[0].load(Ordering::Relaxed)) else {
                return;
            };
            // Release where the kernel has RCU_INIT_POINTER(): its readers
            // rely on address dependencies, which Rust's model does not
            // give, so a reader's Acquire load must pair with a Release
            // to see the child's contents (a plain mov on x86 either way).
            self.xa.xa_head.store(mk_node(child), Ordering::Release);
            n.add_count(-1, 0);
            // SAFETY: unlinked from xa_head; readers already inside it still
            // find the child through slot 0 until the grace period ends.
            unsafe { self.xa.nodes.free_rcu(&self.xa.rcu, node) };
            // SAFETY: linked, now as the root.
            unsafe { child.as_ref() }
                .parent
                .store(ptr::null_mut(), Ordering::Relaxed);
            node = child;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const NODE: usize = 576;

    #[test]
    fn values_grow_the_tree_and_erasing_frees_every_node() {
        let xa = XArray::default();
        let f = FailSlab::default();
        assert_eq!(xa.load(5), None);
        {
            let mut l = xa.lock();
            assert_eq!(l.add(5, 2, Gfp::Atomic, &f), Ok(2));
            assert_eq!(l.add(5, 1, Gfp::Atomic, &f), Ok(3));
        }
        assert_eq!(xa.load(5), Some(3));
        assert_eq!(xa.node_stats().live(), NODE, "one node holds indices 0..64");
        // 64^2 + 7 needs a height of 3: expand twice over the old root.
        xa.lock().add(4096 + 7, 1, Gfp::Atomic, &f).expect("store");
        assert_eq!(xa.load(4096 + 7), Some(1));
        assert_eq!(xa.load(5), Some(3));
        assert_eq!(xa.node_stats().live(), 5 * NODE);
        assert_eq!(xa.lock().sub(5, 4), Err(XaError::Underflow));
        assert_eq!(xa.lock().sub(5, 3), Ok(0));
        assert_eq!(xa.load(5), None);
        assert_eq!(xa.lock().sub(4096 + 7, 1), Ok(0));
        assert_eq!(xa.load(4096 + 7), None);
        // The epoch is the process's: a test on another thread inside a
        // read-side section holds every grace period back, for as long as
        // the host leaves it descheduled. Give it time.
        let ended = (0..200).any(|_| {
            xa.rcu_barrier(10_000) || {
                std::thread::sleep(std::time::Duration::from_millis(10));
                false
            }
        });
        assert!(ended, "grace periods end");
        assert_eq!(xa.node_stats().live(), 0, "every node freed");
        assert_eq!(xa.node_stats().peak(), 5 * NODE);
    }

    #[test]
    fn one_holder_reaches_neighbouring_indices_through_its_cursor() {
        let xa = XArray::default();
        let f = FailSlab::default();
        let mut l = xa.lock();
        for i in 0..200 {
            l.add(i, 1, Gfp::Atomic, &f).expect("store");
        }
        // 64..128 emptied: its node is deleted and the cursor forgotten.
        for i in 64..128 {
            assert_eq!(l.sub(i, 1), Ok(0));
        }
        assert_eq!(l.cursor, None, "no cursor into a deleted node");
        assert_eq!(l.add(100, 2, Gfp::Atomic, &f), Ok(2), "node made again");
        assert_eq!(l.sub(5, 1), Ok(0));
        assert_eq!(l.add(6, 1, Gfp::Atomic, &f), Ok(2), "same node as 5");
        drop(l);
        for i in 0..200 {
            let want = match i {
                5 => None,
                6 => Some(2),
                100 => Some(2),
                64..128 => None,
                _ => Some(1),
            };
            assert_eq!(xa.load(i), want, "index {i}");
        }
        // Root, two levels: 0..64, 100's node, 128..192 and 192..200.
        assert_eq!(
            xa.node_stats().live() - xa.node_stats().rcu_pending(),
            5 * NODE
        );
    }

    #[test]
    fn shrink_keeps_a_lone_high_index_reachable() {
        let xa = XArray::default();
        let f = FailSlab::default();
        let mut l = xa.lock();
        l.add(1, 1, Gfp::Atomic, &f).expect("store");
        l.add(70_000, 1, Gfp::Atomic, &f).expect("store");
        l.sub(1, 1).expect("erase");
        assert_eq!(l.load(70_000), Some(1));
        drop(l);
        assert_eq!(xa.load(70_000), Some(1));
    }

    #[test]
    fn a_failed_store_changes_no_value_and_says_nomem() {
        use std::num::NonZeroU32;
        let xa = XArray::default();
        // Every allocation that cannot sleep fails: NOWAIT, then ATOMIC.
        let f = FailSlab::new(NonZeroU32::new(1), crate::slab::OnAllocFail::Fail);
        assert_eq!(xa.lock().add(3, 1, Gfp::Atomic, &f), Err(XaError::NoMemory));
        assert_eq!(f.stats().injected, 2, "GFP_NOWAIT, then the caller's gfp");
        assert_eq!(xa.load(3), None);
        // A sleeping allocation is never failed.
        assert_eq!(xa.lock().add(3, 1, Gfp::Kernel, &f), Ok(1));
    }
}
