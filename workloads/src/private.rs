//! `private`: the analogue of the kernel's gup_test PIN_FAST benchmark
//! (tools/testing/selftests/mm/gup_test.c, `-a`): each thread pins
//! `pages_per_call` pages of its own region with `pin_user_pages_fast()`,
//! then unpins them, walking the region over and over. No cache line is
//! shared between threads, so this is the scheme's own cost and its scaling.

use super::kit::{PinLoop, Worker};
use super::{Layout, Slot};
use pin_schemes::Gup;

/// One line for `--help` and the README.
pub const DESCRIPTION: &str =
    "each thread pins then unpins batches of its own pages (gup_test PIN_FAST)";

/// A region of `pages_per_thread` small folios per thread.
pub fn layout(pages_per_thread: usize, pages_per_call: usize) -> Layout {
    Layout {
        shared_pages: 0,
        per_thread: pages_per_thread.max(pages_per_call),
        order: 0,
        pages_per_call,
    }
}

/// Pin and unpin the thread's own pages.
pub fn worker<'a, S: Gup + ?Sized>(scheme: &'a S, slot: &Slot) -> Box<dyn Worker + 'a> {
    Box::new(PinLoop::new(
        scheme,
        slot.region_pfns(),
        slot.layout.pages_per_call,
    ))
}
