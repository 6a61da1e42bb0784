//! A radix tree of pin counters keyed by pfn, the side structure of both
//! `side-tree` schemes (shaped like the kernel's XArray: 64 slots a node,
//! 6 bits of the pfn per level).
//!
//! Nodes are installed with a CAS and never freed while the tree lives, so
//! lookups and counter updates need no lock and never sleep: what gup-fast
//! requires. The price is memory: the tree keeps the nodes covering every
//! pfn ever pinned (the high-water mark) until it is dropped. Freeing empty
//! nodes safely under lock-free readers needs RCU (as the XArray uses) or
//! hazard pointers, which this model leaves out. Insertion allocates, which
//! in gup-fast would have to be GFP_ATOMIC and could fail; here it cannot.
//!
//! [`PfnTree::bytes`] counts the bytes of every node allocated, so a
//! scheme's memory per pin is measured from its allocations, not estimated.

use crate::sync::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::ptr;

/// Bits of the pfn each level consumes (small under loom to keep models small).
#[cfg(not(loom))]
const SHIFT: u32 = 6;
#[cfg(loom)]
const SHIFT: u32 = 1;
const SLOTS: usize = 1 << SHIFT;
const MASK: usize = SLOTS - 1;

/// A leaf: the pin counters of `SLOTS` consecutive pfns.
struct Leaf {
    count: [AtomicU32; SLOTS],
}

/// An interior node: pointers to `Inner` nodes or, on the last level, `Leaf`s.
struct Inner {
    slots: [AtomicPtr<u8>; SLOTS],
}

impl Leaf {
    fn new() -> Self {
        Self {
            count: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }
}

impl Inner {
    fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }
}

/// Pin counters for pfns `0..nr_pages`.
pub struct PfnTree {
    root: Box<Inner>,
    /// Interior levels below the root before the leaves.
    height: u32,
    bytes: AtomicUsize,
}

impl PfnTree {
    /// A tree able to hold pfns below `nr_pages`; allocates only the root.
    pub fn new(nr_pages: usize) -> Self {
        // Levels of Inner below the root such that root * levels * leaf
        // covers nr_pages.
        let mut height = 0;
        let mut span = SLOTS * SLOTS;
        while span < nr_pages {
            span = span.saturating_mul(SLOTS);
            height += 1;
        }
        Self {
            root: Box::new(Inner::new()),
            height,
            bytes: AtomicUsize::new(std::mem::size_of::<Inner>()),
        }
    }

    /// Bytes of all nodes allocated so far.
    pub fn bytes(&self) -> usize {
        // Relaxed: a statistic, read when the caller wants a number.
        self.bytes.load(Ordering::Relaxed)
    }

    /// The counter of `pfn`; `None` when its leaf was never allocated and
    /// `create` is false.
    #[inline]
    pub fn counter(&self, pfn: usize, create: bool) -> Option<&AtomicU32> {
        let mut node: &Inner = &self.root;
        let mut level = self.height + 1;
        loop {
            let idx = (pfn >> (SHIFT * level)) & MASK;
            let slot = &node.slots[idx];
            // Acquire: pairs with the AcqRel CAS that published the node, so
            // its initialised contents are visible.
            let mut child = slot.load(Ordering::Acquire);
            if child.is_null() {
                if !create {
                    return None;
                }
                child = self.install(slot, level == 1);
            }
            if level == 1 {
                // SAFETY: on the last interior level every non-null slot
                // points to a Leaf installed by `install`, alive until drop.
                let leaf = unsafe { &*(child as *const Leaf) };
                return Some(&leaf.count[pfn & MASK]);
            }
            // SAFETY: above the last level every non-null slot points to an
            // Inner installed by `install`, alive until drop.
            node = unsafe { &*(child as *const Inner) };
            level -= 1;
        }
    }

    /// Allocates the child for an empty slot, or returns the one another
    /// thread installed first.
    #[cold]
    fn install(&self, slot: &AtomicPtr<u8>, leaf: bool) -> *mut u8 {
        let (new, size) = if leaf {
            (
                Box::into_raw(Box::new(Leaf::new())) as *mut u8,
                std::mem::size_of::<Leaf>(),
            )
        } else {
            (
                Box::into_raw(Box::new(Inner::new())) as *mut u8,
                std::mem::size_of::<Inner>(),
            )
        };
        // AcqRel on success: Release publishes the new node's contents;
        // Acquire on failure: we must see the winner's node contents.
        match slot.compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                // Relaxed: a statistic.
                self.bytes.fetch_add(size, Ordering::Relaxed);
                new
            }
            Err(winner) => {
                // SAFETY: `new` came from Box::into_raw above and was never shared.
                unsafe { free_node(new, leaf) };
                winner
            }
        }
    }
}

/// # Safety
/// `p` must come from `Box::into_raw` of a `Leaf` (if `leaf`) or `Inner`,
/// and no one may use it afterwards.
unsafe fn free_node(p: *mut u8, leaf: bool) {
    if leaf {
        drop(Box::from_raw(p as *mut Leaf));
    } else {
        drop(Box::from_raw(p as *mut Inner));
    }
}

impl Drop for PfnTree {
    fn drop(&mut self) {
        fn free_children(node: &Inner, level: u32) {
            for slot in &node.slots {
                // Relaxed: `&mut self` in drop, no other thread is left.
                let child = slot.load(Ordering::Relaxed);
                if child.is_null() {
                    continue;
                }
                if level > 1 {
                    // SAFETY: installed Inner, see `counter`.
                    free_children(unsafe { &*(child as *const Inner) }, level - 1);
                }
                // SAFETY: installed by `install`, freed once, here.
                unsafe { free_node(child, level == 1) };
            }
        }
        free_children(&self.root, self.height + 1);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn counters_are_per_pfn_and_bytes_count_nodes() {
        let tree = PfnTree::new(1 << 20);
        let root = std::mem::size_of::<Inner>();
        assert_eq!(tree.bytes(), root);
        assert!(tree.counter(12345, false).is_none());
        tree.counter(12345, true)
            .expect("created")
            .fetch_add(3, Ordering::Relaxed);
        tree.counter(12346, true)
            .expect("created")
            .fetch_add(1, Ordering::Relaxed);
        let c = tree.counter(12345, false).expect("exists");
        assert_eq!(c.load(Ordering::Relaxed), 3);
        // 2^20 pfns: root + 2 more interior levels... one leaf for both pfns
        let leaf = std::mem::size_of::<Leaf>();
        assert_eq!(tree.height, 2);
        assert_eq!(tree.bytes(), root + 2 * root + leaf);
        assert!(tree.counter(1 << 19, false).is_none());
    }
}
