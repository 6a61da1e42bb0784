//! The census of a pin_shim twin after its cell: the twin's own structure
//! read in the kernel (`PIN_SHIM_TWIN_STATS`) before, while and after one
//! thread's buffer is held with it, and a timed `maybe_dma_pinned` pass
//! over the held pages (`PIN_SHIM_LOOKUP`), so lookups meet a populated
//! structure. Untimed except for that pass; FOLL_GET only, so the FOLL_PIN
//! counters do not move.

use super::backing::Backing;
use super::buffer::UserBuffer;
use super::device::Device;
use super::shim_abi::{
    PinShimHold, PinShimLookup, PinShimTwinStats, PIN_SHIM_HOLD, PIN_SHIM_LOOKUP,
    PIN_SHIM_MODE_FAST, PIN_SHIM_TWIN_STATS, PIN_SHIM_UNHOLD,
};
use crate::machine::mapping::PAGE_SIZE;
use pin_results::TwinCensus;
use std::io;

/// Lookup passes over the held pages.
const LOOKUP_PASSES: u32 = 8;

fn ioctl<D: Device, T>(dev: &mut D, request: u32, arg: &mut T) -> io::Result<()> {
    dev.ioctl(request, (arg as *mut T).cast())
}

fn stats<D: Device>(dev: &mut D, twin: u32) -> io::Result<PinShimTwinStats> {
    let mut st = PinShimTwinStats {
        twin,
        ..Default::default()
    };
    ioctl(dev, PIN_SHIM_TWIN_STATS, &mut st)?;
    Ok(st)
}

/// Holds a fresh buffer of `bytes` (backed as `backing`) with `twin` on
/// `dev`, and reads what the twin's structure holds around it.
pub fn census<D: Device>(
    mut dev: D,
    twin: u32,
    bytes: usize,
    backing: Backing,
) -> io::Result<TwinCensus> {
    let buf = UserBuffer::with_backing(bytes, backing)?;
    let before = stats(&mut dev, twin)?;
    let mut hold = PinShimHold {
        addr: buf.addr() as u64,
        size: buf.bytes() as u64,
        mode: PIN_SHIM_MODE_FAST,
        twin,
        held_pages: 0,
    };
    ioctl(&mut dev, PIN_SHIM_HOLD, &mut hold)?;
    let held = stats(&mut dev, twin);
    let mut lookup = PinShimLookup {
        twin,
        iterations: LOOKUP_PASSES,
        ..Default::default()
    };
    let looked = ioctl(&mut dev, PIN_SHIM_LOOKUP, &mut lookup);
    // Released whatever happened above; the file's release would too.
    let released = dev.ioctl(PIN_SHIM_UNHOLD, std::ptr::null_mut());
    let (held, after) = (held?, stats(&mut dev, twin)?);
    looked?;
    released?;
    let pages = (buf.bytes() / PAGE_SIZE) as u64;
    if lookup.nr_pinned != lookup.nr_pages {
        return Err(io::Error::other(format!(
            "twin {twin}: {} of {} held pages read unpinned",
            lookup.nr_pages - lookup.nr_pinned,
            lookup.nr_pages
        )));
    }
    Ok(TwinCensus {
        pages,
        bytes_before: before.tracking_bytes,
        bytes_held: held.tracking_bytes,
        bytes_after: after.tracking_bytes,
        entries_held: held.nr_entries - before.nr_entries,
        nodes_held: held.nr_nodes,
        lookup_ns_per_page: lookup.lookup_ns as f64 / lookup.nr_pages.max(1) as f64,
        alloc_failures: after.alloc_failures,
        pfns_covered: held.pfns_covered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::shim_abi::PIN_SHIM_TWIN_XARRAY;

    /// A module that records the hold in a pretend XArray.
    #[derive(Default)]
    struct Fake {
        held: u64,
        calls: Vec<u32>,
    }

    impl Device for &mut Fake {
        fn ioctl(&mut self, request: u32, arg: *mut libc::c_void) -> io::Result<()> {
            self.calls.push(request);
            // SAFETY (casts): census passes the struct each request names.
            match request {
                PIN_SHIM_TWIN_STATS => {
                    let st = unsafe { &mut *(arg as *mut PinShimTwinStats) };
                    st.nr_entries = self.held;
                    st.nr_nodes = self.held.div_ceil(64);
                    st.tracking_bytes = 16 + 576 * st.nr_nodes;
                }
                PIN_SHIM_HOLD => {
                    let h = unsafe { &mut *(arg as *mut PinShimHold) };
                    assert_eq!((h.twin, h.mode), (PIN_SHIM_TWIN_XARRAY, PIN_SHIM_MODE_FAST));
                    self.held = h.size / PAGE_SIZE as u64;
                }
                PIN_SHIM_LOOKUP => {
                    let l = unsafe { &mut *(arg as *mut PinShimLookup) };
                    l.nr_pages = self.held * u64::from(l.iterations);
                    l.nr_pinned = l.nr_pages;
                    l.lookup_ns = 5 * l.nr_pages;
                }
                PIN_SHIM_UNHOLD => self.held = 0,
                _ => panic!("unexpected request {request:#x}"),
            }
            Ok(())
        }
    }

    #[test]
    fn census_reads_the_twin_around_one_hold() {
        let mut fake = Fake::default();
        let c = census(
            &mut fake,
            PIN_SHIM_TWIN_XARRAY,
            128 * PAGE_SIZE,
            Backing::Base,
        )
        .expect("census");
        assert_eq!(c.pages, 128);
        assert_eq!((c.entries_held, c.nodes_held), (128, 2));
        assert_eq!(
            (c.bytes_before, c.bytes_held, c.bytes_after),
            (16, 16 + 2 * 576, 16)
        );
        assert_eq!(c.lookup_ns_per_page, 5.0);
        assert_eq!(fake.calls.last(), Some(&PIN_SHIM_TWIN_STATS));
        assert!(fake.calls.contains(&PIN_SHIM_UNHOLD));
    }
}
