//! Random operation sequences against a simple oracle: for every scheme,
//! pins, unpins, batches and ordinary get/put on small pages and a large
//! folio must agree with a plain count of who holds what.

mod common;

use common::{exact_for, scheme, tracks, NR_PAGES, THP};
use pin_schemes::{Exactness, Gup, GupPath, Pfn, SCHEMES};
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Debug)]
enum Op {
    Pin(usize, bool),
    Unpin(usize),
    PinBatch(usize, usize, bool),
    Get(usize),
    Put(usize),
}

/// The pages the ops touch: a few small pages and subpages of the THP.
fn pfn_of(i: usize) -> Pfn {
    const SMALL: [usize; 4] = [0, 1, 2, 900];
    if i < SMALL.len() {
        Pfn(SMALL[i])
    } else {
        THP + (i - SMALL.len()) * 37 % 512
    }
}

fn op() -> impl Strategy<Value = Op> {
    let idx = 0usize..10;
    prop_oneof![
        (idx.clone(), any::<bool>()).prop_map(|(i, f)| Op::Pin(i, f)),
        idx.clone().prop_map(Op::Unpin),
        (0usize..NR_PAGES - 8, 1usize..8, any::<bool>())
            .prop_map(|(s, n, f)| Op::PinBatch(s, n, f)),
        idx.clone().prop_map(Op::Get),
        idx.prop_map(Op::Put),
    ]
}

/// Pins and ordinary references per folio head, as the truth.
#[derive(Default)]
struct Oracle {
    pins: HashMap<Pfn, u32>,
    refs: HashMap<Pfn, u32>,
    /// Every pin as a pfn, so unpins release something really pinned.
    held: Vec<Pfn>,
    got: Vec<Pfn>,
}

fn check(s: &dyn Gup, oracle: &Oracle, pfn: Pfn) -> Result<(), TestCaseError> {
    let folio = s.memmap().folio(pfn).expect("valid");
    let pins = oracle.pins.get(&folio.head).copied().unwrap_or(0);
    let seen = s.maybe_dma_pinned(pfn);
    if tracks(s) && pins > 0 {
        prop_assert!(seen, "{}: false negative on {pfn}", s.name());
    }
    if exact_for(s, folio) {
        prop_assert_eq!(seen, pins > 0, "{}: {}", s.name(), pfn);
        prop_assert_eq!(s.pin_count(pfn), Some(pins), "{}: {}", s.name(), pfn);
    }
    if s.exactness() == Exactness::Blind {
        prop_assert!(!seen);
    }
    Ok(())
}

fn run(name: &str, ops: &[Op]) -> Result<(), TestCaseError> {
    let s = scheme(name);
    let mut o = Oracle::default();
    let head = |p: Pfn| s.memmap().folio(p).expect("valid").head;
    for op in ops {
        match *op {
            Op::Pin(i, fast) => {
                let pfn = pfn_of(i);
                let path = if fast { GupPath::Fast } else { GupPath::Slow };
                s.pin(pfn, path).expect("pin");
                *o.pins.entry(head(pfn)).or_default() += 1;
                o.held.push(pfn);
            }
            Op::Unpin(i) => {
                if o.held.is_empty() {
                    continue;
                }
                let pfn = o.held.swap_remove(i % o.held.len());
                s.unpin(pfn).expect("unpin");
                *o.pins.entry(head(pfn)).or_default() -= 1;
            }
            Op::PinBatch(start, n, fast) => {
                let pfns: Vec<Pfn> = (start..start + n).map(Pfn).collect();
                let path = if fast { GupPath::Fast } else { GupPath::Slow };
                prop_assert_eq!(s.pin_pages(&pfns, path), Ok(n));
                for &pfn in &pfns {
                    *o.pins.entry(head(pfn)).or_default() += 1;
                }
                for &pfn in &pfns {
                    check(&*s, &o, pfn)?;
                }
                s.unpin_pages(&pfns).expect("unpin batch");
                for &pfn in &pfns {
                    *o.pins.entry(head(pfn)).or_default() -= 1;
                }
            }
            Op::Get(i) => {
                let pfn = pfn_of(i);
                s.get(pfn).expect("get");
                *o.refs.entry(head(pfn)).or_default() += 1;
                o.got.push(pfn);
            }
            Op::Put(i) => {
                if o.got.is_empty() {
                    continue;
                }
                let pfn = o.got.swap_remove(i % o.got.len());
                s.put(pfn).expect("put");
                *o.refs.entry(head(pfn)).or_default() -= 1;
            }
        }
        for i in 0..10 {
            check(&*s, &o, pfn_of(i))?;
        }
    }
    // Unwind everything: every page is back to one reference, unpinned.
    for pfn in std::mem::take(&mut o.held) {
        s.unpin(pfn).expect("unpin");
    }
    for pfn in std::mem::take(&mut o.got) {
        s.put(pfn).expect("put");
    }
    // `flag` puts pages back through per-CPU pagevecs, which hold a
    // reference each until they drain.
    pin_schemes::lru_add::lru_add_drain_all(s.memmap());
    for i in 0..10 {
        let pfn = pfn_of(i);
        prop_assert_eq!(s.ref_count(head(pfn)), Some(1), "{}: {}", name, pfn);
        prop_assert!(!s.maybe_dma_pinned(pfn), "{}: {}", name, pfn);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_scheme_agrees_with_the_oracle(ops in proptest::collection::vec(op(), 1..60)) {
        for info in SCHEMES {
            run(info.name, &ops)?;
        }
    }
}
