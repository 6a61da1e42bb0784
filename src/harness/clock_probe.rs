//! The clock probe: a few microseconds of dependent integer arithmetic that
//! every thread runs at the start of every round, timed.
//!
//! Why: the shared VMs pinbench runs on flip, for seconds to minutes,
//! between a quiet state and a busy one (another tenant on the host core's
//! SMT sibling, or a lower clock) in which compute-bound code runs up to
//! twice as slow and the floor's locked adds only a quarter slower. Pairing
//! cancels drift within a state, not the change of state, so a ratio
//! measured in the busy state differs from the quiet one. The probe's time
//! depends on the core's speed alone (no memory, no atomics, no branches
//! the predictor can miss), the same in every cell, so it says which state
//! each round ran in ([`pin_results::Pairs::quiet`]).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Locked adds of the probe: some 5 us on a quiet core.
const STEPS: u32 = 512;

/// ns the probe took on this thread now, on a line of its own.
pub fn clock_probe() -> u64 {
    locked_adds(&AtomicU64::new(0))
}

#[inline(never)]
fn locked_adds(line: &AtomicU64) -> u64 {
    let line = black_box(line);
    let start = Instant::now();
    for _ in 0..STEPS {
        // SeqCst: a locked add, the instruction whose cost changes with
        // the machine's state.
        line.fetch_add(1, Ordering::SeqCst);
    }
    let ns = start.elapsed().as_nanos() as u64;
    black_box(line.load(Ordering::Relaxed));
    ns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_takes_time_and_repeats_within_a_factor() {
        let mut t: Vec<u64> = (0..50).map(|_| clock_probe()).collect();
        t.sort_unstable();
        // A locked add takes more than a ns.
        assert!(t[0] >= u64::from(STEPS), "{t:?}");
        // The median is within 4x of the fastest, even on a loaded machine
        // (a broken probe, optimised away or timing nothing, fails above).
        assert!(t[25] < 4 * t[0], "{t:?}");
    }
}
