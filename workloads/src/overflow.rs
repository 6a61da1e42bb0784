//! `overflow`: one page per thread pinned until the scheme refuses. Before
//! the timed loop the worker climbs to the limit with `try_grab_folio` steps
//! halved on every refusal (2^30, 2^29, .. 1 pins at a time), which finds
//! the exact maximum in about 60 calls; the timed loop then measures the
//! refusal path: `pages_per_call` single-page `pin_user_pages_fast()`
//! calls per batch, each refused. A refused pin is a value, never a
//! wrapped counter (the scheme core checks every add).

use super::kit::{SetupError, Tally, Worker};
use super::{Info, Layout, Sizes, Slot};
use pin_schemes::{Gup, GupPath, Pfn};

/// Its name, its line for `--help` and `pinbench list`, its folio orders.
pub const INFO: Info = Info {
    name: "overflow",
    description: "one page pinned until refused: the limit reached and the cost of a refused pin",
    orders: &[0],
    pte_mapped: false,
};

/// Pages per thread: one used, the rest keep threads off each other's lines.
const REGION: usize = 64;

/// A tiny region per thread; `pages_per_call` refused attempts per call.
pub fn layout(s: Sizes) -> Layout {
    let pages_per_call = s.pages_per_call;
    Layout {
        shared_pages: 0,
        per_thread: REGION,
        order: 0,
        pages_per_call,
    }
}

struct Overflow<'a, S: ?Sized> {
    scheme: &'a S,
    pfn: Pfn,
    /// The grabs that got in, released in `finish`.
    steps: Vec<u32>,
    n: usize,
    refused: u64,
}

impl<S: Gup + ?Sized> Worker for Overflow<'_, S> {
    #[inline]
    fn batch(&mut self) -> u64 {
        for _ in 0..self.n {
            match self.scheme.pin(self.pfn, GupPath::Fast) {
                Err(_) => self.refused += 1,
                // Cannot happen once the climb ended on a refusal; keep the
                // count where it was if it does.
                Ok(()) => {
                    let _ = self.scheme.unpin(self.pfn);
                }
            }
        }
        self.n as u64
    }

    fn finish(self: Box<Self>) -> Tally {
        let mut max = 0u64;
        if let Ok(folio) = self.scheme.memmap().folio(self.pfn) {
            for &step in &self.steps {
                // Releasing grabs this worker took cannot fail.
                let _ = self.scheme.gup_put_folio(folio, step);
                max += u64::from(step);
            }
        }
        Tally {
            refused: self.refused,
            max_pins: Some(max),
            ..Tally::default()
        }
    }
}

/// Climb the thread's page to the pin limit, then time refusals.
pub fn worker<'a, S: Gup + ?Sized>(
    scheme: &'a S,
    slot: &Slot,
) -> Result<Box<dyn Worker + 'a>, SetupError> {
    let pfn = Pfn(slot.region().start);
    let mut steps = Vec::new();
    if let Ok(folio) = scheme.memmap().folio(pfn) {
        let mut step = 1u32 << 30;
        while step > 0 {
            match scheme.try_grab_folio(folio, step, GupPath::Fast) {
                Ok(()) => steps.push(step),
                Err(_) => step /= 2,
            }
        }
    }
    Ok(Box::new(Overflow {
        scheme,
        pfn,
        steps,
        n: slot.layout.pages_per_call,
        refused: 0,
    }))
}
