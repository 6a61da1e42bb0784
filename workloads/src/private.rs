//! `private`: the analogue of the kernel's gup_test PIN_FAST benchmark
//! (tools/testing/selftests/mm/gup_test.c, `-a`): each thread pins
//! `pages_per_call` pages of its own region with `pin_user_pages_fast()`,
//! then unpins them, walking the region over and over. No cache line is
//! shared between threads, so this is the scheme's own cost and its scaling.

use super::kit::{PinLoop, SetupError, Worker};
use super::{Info, Layout, Sizes, Slot};
use pin_schemes::Gup;

/// Its name, its line for `--help` and `pinbench list`, its folio orders.
pub const INFO: Info = Info {
    name: "private",
    description: "each thread pins then unpins batches of its own pages (gup_test PIN_FAST)",
    orders: &[0],
    pte_mapped: false,
};

/// A region of `pages_per_thread` small folios per thread.
pub fn layout(s: Sizes) -> Layout {
    let Sizes {
        pages_per_thread,
        pages_per_call,
        ..
    } = s;
    Layout {
        shared_pages: 0,
        per_thread: pages_per_thread.max(pages_per_call),
        order: 0,
        pages_per_call,
    }
}

/// Pin and unpin the thread's own pages.
pub fn worker<'a, S: Gup + ?Sized>(
    scheme: &'a S,
    slot: &Slot,
) -> Result<Box<dyn Worker + 'a>, SetupError> {
    Ok(Box::new(PinLoop::new(
        scheme,
        slot.region_pfns(),
        slot.layout.pages_per_call,
    )))
}
