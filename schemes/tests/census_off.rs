//! The timed build counts nothing: its atomics are `std`'s and every census
//! hook is empty (the census copy, `pin-schemes-census`, counts).

use pin_schemes::census::{self, Objects};
use pin_schemes::{GupPath, MemMap, Pfn, SCHEMES};
use std::sync::Arc;

#[test]
fn a_recording_in_the_timed_build_stays_empty() {
    for info in SCHEMES {
        let mm = Arc::new(MemMap::with_pages(1024).expect("memmap"));
        let scheme = pin_schemes::build(info.name, Arc::clone(&mm)).expect("scheme");
        let recording = census::record(mm.census_regions(), Objects::default());
        let pfns: Vec<Pfn> = (0..64).map(Pfn).collect();
        scheme.pin_pages(&pfns, GupPath::Fast).expect("pin");
        scheme.unpin_pages(&pfns).expect("unpin");
        let c = recording.finish();
        assert!(
            c.locked_rmw.is_empty() && c.lines.is_empty(),
            "{}",
            info.name
        );
        assert_eq!(
            (c.fences, c.rcu_sections, c.allocs),
            (0, 0, 0),
            "{}",
            info.name
        );
    }
}
