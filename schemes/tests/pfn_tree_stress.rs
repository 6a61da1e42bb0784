//! Two threads pin and unpin neighbouring pfns of one leaf, so the leaf is
//! freed and made again under each other's feet, with real threads (the
//! loom model `side_tree_free_vs_pin` explores the interleavings on a
//! small tree). Its own process: a busy RCU elsewhere would hold back the
//! grace periods other tests wait for.

#![cfg(not(loom))]

use pin_schemes::pfn_tree::PfnTree;
use pin_schemes::{FailSlab, Gfp};

#[test]
fn neighbours_pin_and_free_one_leaf_concurrently() {
    let f = FailSlab::default();
    let tree = PfnTree::new(1 << 12);
    let idle = tree.bytes();
    std::thread::scope(|s| {
        for pfn in [2usize, 3] {
            let (tree, f) = (&tree, &f);
            s.spawn(move || {
                for _ in 0..200_000 {
                    tree.pin(pfn, 1, Gfp::Atomic, f).expect("pin");
                    assert_eq!(tree.count(pfn), 1);
                    tree.unpin(pfn, 1).expect("unpin");
                }
            });
        }
    });
    assert!(tree.rcu_barrier(100_000));
    assert_eq!(tree.bytes(), idle, "every emptied node freed");
}
