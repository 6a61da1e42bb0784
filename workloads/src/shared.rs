//! `shared`: every thread pins and unpins the same few hot pages, as when
//! many processes pin a shared-library page or the zero page. Each call
//! pins `pages_per_call` entries cycling over [`HOT_PAGES`] pfns, so the
//! cost is dominated by the counter's cache line bouncing between CPUs.

use super::kit::{PinLoop, SetupError, Worker};
use super::{Info, Layout, Sizes, Slot};
use pin_schemes::{Gup, Pfn};

/// Its name, its line for `--help` and `pinbench list`, its folio orders.
pub const INFO: Info = Info {
    name: "shared",
    description: "every thread pins then unpins the same 8 hot pages",
    orders: &[0],
    pte_mapped: false,
};

/// How many hot pages every thread shares.
pub const HOT_PAGES: usize = 8;

/// Only the shared hot pages.
pub fn layout(s: Sizes) -> Layout {
    let pages_per_call = s.pages_per_call;
    Layout {
        shared_pages: HOT_PAGES,
        per_thread: 0,
        order: 0,
        pages_per_call,
    }
}

/// One pfn array `[0, 1, .., 7, 0, 1, ..]` of one call, pinned over and over.
pub fn worker<'a, S: Gup + ?Sized>(
    scheme: &'a S,
    slot: &Slot,
) -> Result<Box<dyn Worker + 'a>, SetupError> {
    let hot = slot.shared();
    let n = slot.layout.pages_per_call;
    let pfns = (0..n).map(|i| Pfn(hot.start + i % hot.len())).collect();
    Ok(Box::new(PinLoop::new(scheme, pfns, n)))
}
