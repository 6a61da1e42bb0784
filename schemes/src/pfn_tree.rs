//! A lock-free radix tree of pin counters keyed by pfn, the side structure
//! of `side-tree-sharded` (XArray-shaped: 64 slots a node, 6 bits of the
//! pfn per level), which frees its empty nodes.
//!
//! Nodes are installed with a CAS, counters are atomics in the leaves, and
//! nothing takes a lock, so pins on different cache lines of counters never
//! meet. Empty nodes are unlinked and freed after an RCU grace period
//! ([`crate::rcu`]), which lock-free unlinking makes delicate: every node
//! has a `live` word, the pins in a leaf or the linked children of an
//! interior node, with a `DEAD` bit. A pinner adds to `live` unless `DEAD`
//! (and starts again from the root if it is), then to its counter; an
//! unpinner takes from its counter, then from `live`, and whoever brings
//! `live` to 0 may CAS it to `DEAD`, unlink the node, free it after a grace
//! period and take one from its parent's `live` in turn. So a pin never
//! lands in a node on its way out, and a dead node holds no pins. The
//! price, paid in the timed loop: a second atomic per pin and unpin (the
//! gate), an RCU read-side section per call, and the frees.
//!
//! Allocation is GFP_ATOMIC (`crate::slab`) and may fail; a node left
//! empty by a failed pin is unlinked at once.
//!
//! Memory is counted from the allocations: nodes live, and those waiting
//! for a grace period.

use crate::rcu::Rcu;
use crate::slab::{CacheStats, FailSlab, Gfp, KmemCache};
use crate::sync::{cpu_relax, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::ptr::{self, NonNull};

/// Bits of the pfn each level consumes (small under loom to keep models small).
#[cfg(not(loom))]
const SHIFT: u32 = 6;
#[cfg(loom)]
const SHIFT: u32 = 1;
const SLOTS: usize = 1 << SHIFT;
const MASK: usize = SLOTS - 1;
/// Interior levels a walk can record (the root's included).
const MAX_LEVELS: usize = 12;
/// `live` of a node being freed: no pin may enter it.
const DEAD: u64 = 1 << 63;

/// A leaf: the pin counters of `SLOTS` consecutive pfns.
struct Leaf {
    /// Pins in the leaf (the sum of `count`: up to 64 x 2^31, so 64 bits),
    /// or `DEAD`.
    live: AtomicU64,
    count: [AtomicU32; SLOTS],
}

/// An interior node: pointers to `Inner` nodes or, on the last level, `Leaf`s.
struct Inner {
    /// Children linked (and installers in flight), or `DEAD`.
    live: AtomicU64,
    slots: [AtomicPtr<u8>; SLOTS],
}

impl Leaf {
    fn new() -> Self {
        Self {
            live: AtomicU64::new(0),
            count: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }
}

impl Inner {
    fn new() -> Self {
        Self {
            live: AtomicU64::new(0),
            slots: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }
}

/// What `enter` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entered {
    /// `n` added.
    Yes,
    /// The node is dead: walk again.
    Dead,
    /// Adding `n` would reach the DEAD bit (cannot happen while every
    /// counter is bounded by its page's refcount; refused, not wrapped).
    Full,
}

/// Adds `n` to `live` unless the node is dead or the sum would reach DEAD.
#[inline]
fn enter(live: &AtomicU64, n: u64) -> Entered {
    // AcqRel/Acquire: the gate against the killer's CAS to DEAD (one of the
    // two wins), and Acquire so that a pinner entering a node sees the
    // killer-free state the node's installer published.
    match live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        (v & DEAD == 0)
            .then(|| v.checked_add(n).filter(|&s| s < DEAD))
            .flatten()
    }) {
        Ok(_) => Entered::Yes,
        Err(v) if v & DEAD != 0 => Entered::Dead,
        Err(_) => Entered::Full,
    }
}

/// Why a pin was not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// A node could not be allocated (GFP_ATOMIC).
    NoMemory,
    /// An unpin of a pfn the tree holds fewer pins of.
    NotPinned,
    /// The leaf's pins would reach the DEAD bit.
    Overflow,
}

/// The interior nodes a walk went through, with the slot it took in each.
struct Path<'a> {
    nodes: [(Option<&'a Inner>, usize); MAX_LEVELS],
    depth: usize,
}

impl<'a> Path<'a> {
    fn new() -> Self {
        Self {
            nodes: [(None, 0); MAX_LEVELS],
            depth: 0,
        }
    }

    fn push(&mut self, node: &'a Inner, idx: usize) {
        self.nodes[self.depth] = (Some(node), idx);
        self.depth += 1;
    }
}

/// Pin counters for pfns `0..nr_pages`.
pub struct PfnTree {
    root: Box<Inner>,
    /// Interior levels below the root before the leaves.
    height: u32,
    leaves: KmemCache<Leaf>,
    inners: KmemCache<Inner>,
    rcu: Rcu,
}

// SAFETY: nodes are reached from `root` only, changed through atomics, and
// freed after a grace period once unlinked (see the module doc).
unsafe impl Send for PfnTree {}
// SAFETY: as above.
unsafe impl Sync for PfnTree {}

impl PfnTree {
    /// A tree able to hold pfns below `nr_pages`; allocates only the root.
    pub fn new(nr_pages: usize) -> Self {
        let mut height = 0;
        let mut span = SLOTS * SLOTS;
        while span < nr_pages {
            span = span.saturating_mul(SLOTS);
            height += 1;
        }
        assert!((height as usize) < MAX_LEVELS, "pfn range too large");
        Self {
            root: Box::new(Inner::new()),
            height,
            leaves: KmemCache::default(),
            inners: KmemCache::default(),
            rcu: Rcu::default(),
        }
    }

    /// Bytes of the nodes held now (root included), those awaiting a grace
    /// period included.
    pub fn bytes(&self) -> usize {
        self.fixed_bytes() + self.leaves.stats().live() + self.inners.stats().live()
    }

    /// The root, allocated with the tree, for a census.
    pub fn census_regions(&self) -> Vec<crate::census::Region> {
        use crate::census::{Kind, Region, OTHER};
        vec![Region::of(&*self.root, Kind::Named(OTHER))]
    }

    /// The root and the two caches.
    fn fixed_bytes(&self) -> usize {
        std::mem::size_of::<Inner>() + KmemCache::<Leaf>::OVERHEAD + KmemCache::<Inner>::OVERHEAD
    }

    /// The most `bytes` has been (the two caches' peaks, summed).
    pub fn peak_bytes(&self) -> usize {
        self.fixed_bytes() + self.leaves.stats().peak() + self.inners.stats().peak()
    }

    /// `rcu_barrier()` for the nodes this tree freed.
    pub fn rcu_barrier(&self, tries: u32) -> bool {
        let pending = |c: &CacheStats| c.rcu_pending();
        self.rcu.barrier(tries, || {
            pending(self.leaves.stats()) + pending(self.inners.stats()) == 0
        })
    }

    /// `rcu_read_lock()` for a caller's walk (nested sections are cheap).
    #[inline]
    pub fn read_lock(&self) -> crate::rcu::ReadGuard {
        self.rcu.read_lock()
    }

    /// The pins recorded on `pfn`.
    #[inline]
    pub fn count(&self, pfn: usize) -> u32 {
        let _rcu = self.rcu.read_lock();
        let mut path = Path::new();
        // Relaxed: atomic_read() of a counter reached through Acquire loads.
        self.find(pfn, &mut path)
            .map_or(0, |leaf| leaf.count[pfn & MASK].load(Ordering::Relaxed))
    }

    /// The leaf holding `pfn`, if linked, recording the walk in `path`.
    #[inline]
    fn find<'a>(&'a self, pfn: usize, path: &mut Path<'a>) -> Option<&'a Leaf> {
        let mut node: &Inner = &self.root;
        let mut level = self.height + 1;
        loop {
            let idx = (pfn >> (SHIFT * level)) & MASK;
            path.push(node, idx);
            // Acquire: pairs with the CAS that published the child, so its
            // initialised contents are visible.
            let child = node.slots[idx].load(Ordering::Acquire);
            if child.is_null() {
                return None;
            }
            // SAFETY (both casts): a non-null slot on the last interior
            // level holds a Leaf, above it an Inner, installed by `install`
            // and freed only after a grace period our caller's RCU section
            // holds back.
            if level == 1 {
                return Some(unsafe { &*(child as *const Leaf) });
            }
            node = unsafe { &*(child as *const Inner) };
            level -= 1;
        }
    }

    /// Records `refs` pins on `pfn`, allocating with `gfp`.
    #[inline]
    pub fn pin(
        &self,
        pfn: usize,
        refs: u32,
        gfp: Gfp,
        failslab: &FailSlab,
    ) -> Result<(), TreeError> {
        let _rcu = self.rcu.read_lock();
        let mut first = true;
        'walk: loop {
            if !first {
                // A node on the path was dying: let its killer unlink it.
                cpu_relax();
            }
            first = false;
            let mut node: &Inner = &self.root;
            let mut level = self.height + 1;
            let mut path = Path::new();
            loop {
                let idx = (pfn >> (SHIFT * level)) & MASK;
                path.push(node, idx);
                // Acquire: as in `find`.
                let mut child = node.slots[idx].load(Ordering::Acquire);
                if child.is_null() {
                    match self.install(&path, level == 1, gfp, failslab)? {
                        Some(c) => child = c,
                        None => continue 'walk,
                    }
                }
                if level == 1 {
                    // SAFETY: as in `find`.
                    let leaf = unsafe { &*(child as *const Leaf) };
                    match enter(&leaf.live, u64::from(refs)) {
                        Entered::Yes => {}
                        Entered::Dead => continue 'walk,
                        Entered::Full => return Err(TreeError::Overflow),
                    }
                    // Relaxed: an unordered count; `live` above is the gate,
                    // the caller's barrier orders it before a PTE re-check.
                    leaf.count[pfn & MASK].fetch_add(refs, Ordering::Relaxed);
                    return Ok(());
                }
                // SAFETY: as in `find`.
                node = unsafe { &*(child as *const Inner) };
                level -= 1;
            }
        }
    }

    /// Takes `refs` pins off `pfn`; a leaf left without pins is freed.
    #[inline]
    pub fn unpin(&self, pfn: usize, refs: u32) -> Result<(), TreeError> {
        let _rcu = self.rcu.read_lock();
        let mut path = Path::new();
        let leaf = self.find(pfn, &mut path).ok_or(TreeError::NotPinned)?;
        // Relaxed: atomic_sub(), checked; `live` below orders the release.
        leaf.count[pfn & MASK]
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                v.checked_sub(refs)
            })
            .map_err(|_| TreeError::NotPinned)?;
        // AcqRel: the decision to free must see every pin's exit.
        if leaf.live.fetch_sub(u64::from(refs), Ordering::AcqRel) == u64::from(refs) {
            self.kill(&path, &leaf.live, NonNull::from(leaf).cast(), true);
        }
        Ok(())
    }

    /// Installs a child in the empty slot `path` ends at. `None` when the
    /// parent died meanwhile (walk again).
    #[cold]
    fn install(
        &self,
        path: &Path<'_>,
        leaf: bool,
        gfp: Gfp,
        failslab: &FailSlab,
    ) -> Result<Option<*mut u8>, TreeError> {
        let (Some(parent), idx) = path.nodes[path.depth - 1] else {
            return Ok(None);
        };
        // An interior node counts at most SLOTS children plus installers
        // in flight: never Full.
        if enter(&parent.live, 1) != Entered::Yes {
            return Ok(None);
        }
        let new = if leaf {
            self.leaves
                .alloc(failslab, gfp, Leaf::new)
                .map(NonNull::cast)
        } else {
            self.inners
                .alloc(failslab, gfp, Inner::new)
                .map(NonNull::cast)
        };
        let Some(new) = new else {
            self.release(path);
            return Err(TreeError::NoMemory);
        };
        // AcqRel on success: Release publishes the new node's contents;
        // Acquire on failure: we must see the winner's node contents.
        match parent.slots[idx].compare_exchange(
            ptr::null_mut(),
            new.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Ok(Some(new.as_ptr())),
            Err(winner) => {
                // SAFETY: `new` was never shared.
                unsafe { self.free_now(new, leaf) };
                // Ours may be the last count: the winner's child can have
                // been emptied and killed since. Release as any child does.
                self.release(path);
                Ok(Some(winner))
            }
        }
    }

    /// Takes one from the `live` of the node `path` ends at (a child of it
    /// left); frees it if that was the last and it is not the root.
    fn release(&self, path: &Path<'_>) {
        let (Some(node), _) = path.nodes[path.depth - 1] else {
            return;
        };
        // AcqRel: as in `unpin`.
        if node.live.fetch_sub(1, Ordering::AcqRel) == 1 && path.depth > 1 {
            let parent = Path {
                nodes: path.nodes,
                depth: path.depth - 1,
            };
            self.kill(&parent, &node.live, NonNull::from(node).cast(), false);
        }
    }

    /// `live` of a node in the slot `path` ends at fell to 0: marks it dead
    /// unless a pinner entered meanwhile, unlinks it, frees it after a grace
    /// period and releases its parent.
    fn kill(&self, path: &Path<'_>, live: &AtomicU64, node: NonNull<u8>, leaf: bool) {
        // AcqRel: wins or loses against `enter`; the loser sees the other.
        if live
            .compare_exchange(0, DEAD, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let (Some(parent), idx) = path.nodes[path.depth - 1] else {
            return;
        };
        // Release: a walker that finds the slot empty installs a new node;
        // only the killer of a node clears its slot, so a store suffices.
        parent.slots[idx].store(ptr::null_mut(), Ordering::Release);
        // SAFETY: unlinked just now, dead so no pin enters it; walkers
        // already inside are covered by the grace period.
        unsafe {
            if leaf {
                self.leaves.free_rcu(&self.rcu, node.cast());
            } else {
                self.inners.free_rcu(&self.rcu, node.cast());
            }
        }
        self.release(path);
    }

    /// # Safety
    /// `p` came from this tree's cache of its kind and was never shared.
    unsafe fn free_now(&self, p: NonNull<u8>, leaf: bool) {
        if leaf {
            self.leaves.free(p.cast());
        } else {
            self.inners.free(p.cast());
        }
    }
}

impl Drop for PfnTree {
    fn drop(&mut self) {
        fn free_children(tree: &PfnTree, node: &Inner, level: u32) {
            for slot in &node.slots {
                // Relaxed: `&mut self` in drop, no other thread is left.
                let child = slot.load(Ordering::Relaxed);
                let Some(child) = NonNull::new(child) else {
                    continue;
                };
                if level > 1 {
                    // SAFETY: installed Inner, see `find`.
                    free_children(tree, unsafe { child.cast::<Inner>().as_ref() }, level - 1);
                }
                // SAFETY: linked, so allocated by the cache of its kind and
                // not yet freed; freed once, here.
                unsafe { tree.free_now(child, level == 1) };
            }
        }
        free_children(self, &self.root, self.height + 1);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn counters_are_per_pfn_and_empty_nodes_are_freed() {
        let f = FailSlab::default();
        let tree = PfnTree::new(1 << 20);
        let (inner, leaf) = (std::mem::size_of::<Inner>(), std::mem::size_of::<Leaf>());
        let fixed = tree.fixed_bytes();
        assert_eq!(tree.bytes(), fixed);
        assert_eq!(tree.count(12345), 0);
        tree.pin(12345, 3, Gfp::Atomic, &f).expect("pin");
        tree.pin(12346, 1, Gfp::Atomic, &f).expect("pin");
        assert_eq!(tree.count(12345), 3);
        assert_eq!(tree.height, 2);
        // root + 2 more interior levels + one leaf for both pfns
        assert_eq!(tree.bytes(), fixed + 2 * inner + leaf);
        assert_eq!(tree.unpin(12345, 4), Err(TreeError::NotPinned));
        tree.unpin(12345, 3).expect("unpin");
        assert_eq!(
            tree.bytes(),
            fixed + 2 * inner + leaf,
            "one pin left in the leaf"
        );
        tree.unpin(12346, 1).expect("unpin");
        assert!(tree.rcu_barrier(10_000));
        assert_eq!(tree.bytes(), fixed, "every node but the root freed");
        assert_eq!(tree.peak_bytes(), fixed + 2 * inner + leaf);
        // And the tree still works over freed ground.
        tree.pin(12345, 1, Gfp::Atomic, &f).expect("pin again");
        assert_eq!(tree.count(12345), 1);
    }

    #[test]
    fn a_failed_allocation_leaves_no_empty_node() {
        let tree = PfnTree::new(1 << 20);
        // The third allocation of the walk (the leaf) fails.
        let f = FailSlab::new(std::num::NonZeroU32::new(3), crate::slab::OnAllocFail::Fail);
        assert_eq!(tree.pin(7, 1, Gfp::Atomic, &f), Err(TreeError::NoMemory));
        assert!(tree.rcu_barrier(10_000));
        assert_eq!(tree.bytes(), tree.fixed_bytes());
        assert_eq!(tree.count(7), 0);
    }
}
