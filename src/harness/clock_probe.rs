//! The probes that say which state the machine was in during a solo slice
//! ([`pin_results::Pairs::quiet_solo`]; a round's own state is judged by
//! its floor slice and, at one thread, by the throughput probe here,
//! [`pin_results::Pairs::quiet`]) and whether a cell's threads ran
//! together.
//!
//! The shared VMs pinbench runs on flip, for seconds to minutes, between a
//! quiet state and a busy one (another tenant on the host core's SMT
//! sibling, most likely) in which a locked add costs 20 to 40% more, code
//! that hits one hot line up to twice as much, and the floor's walk a
//! quarter more. Pairing cancels drift within a state, not the change of
//! state. The clock probe, 512 locked adds on a line of the thread's own,
//! is the same in every cell, so one yardstick judges the whole run's solo
//! slices (on the EPYC its quiet and busy values overlap, so it no longer
//! judges the rounds: see `pin_results::quiet`). A
//! dependent multiply chain was tried first and read the same in both
//! states: one chain waits on its own latency, as locked adds do. Eight
//! independent chains (the throughput probe) keep the core's issue width
//! busy, which a busy SMT sibling takes a share of: that probe judges the
//! one-thread rounds beside the floor (`pin_results::QUIET_THROUGHPUT`).
//! The contention probe says whether the host ran a cell's vCPUs at the
//! same time.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Locked adds of the probe: about 3.1 us on a quiet core of the 2-vCPU
/// Xeon VM, 3.6 to 4.4 on a busy one.
const STEPS: u32 = 512;

/// ns the probe took on this thread now, on a line of its own.
pub fn clock_probe() -> u64 {
    locked_adds(&AtomicU64::new(0))
}

/// What the threads of a cell share for [`contention_probe`]: the line they
/// hit, and a count of arrivals that starts them together. Each alone in
/// its cache lines (128 bytes: the adjacent-line prefetcher pairs lines).
#[derive(Default)]
pub struct SharedLine {
    line: Padded,
    arrived: Padded,
    turn: Padded,
    released: AtomicBool,
}

#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

/// ns of the probe's locked adds on a line every thread of the cell hits
/// at once: whether the host ran the vCPUs together (the line bounces
/// between CPUs) or in turn (each thread finds it in its own cache). Round
/// `round` (counted from 0, the same on every thread) starts when all
/// `threads` have arrived: a spin, since a futex wake-up lags by longer
/// than the probe lasts.
pub fn contention_probe(shared: &SharedLine, threads: usize, round: usize) -> u64 {
    // Relaxed: the count only gates the start; nothing is published by it.
    shared.arrived.0.fetch_add(1, Ordering::Relaxed);
    let all = (round as u64 + 1) * threads as u64;
    while shared.arrived.0.load(Ordering::Relaxed) < all && !shared.released.load(Ordering::Relaxed)
    {
        std::hint::spin_loop();
    }
    locked_adds(&shared.line.0)
}

/// Turns of each thread in one [`handoff_probe`].
const HANDOFFS: u64 = 64;

/// ns thread `index` of `threads` took for its turns of a line passed
/// round the cell's threads (each waits for its turn, then hands the line
/// on), from its second turn to its last: by its second turn every thread
/// has arrived and taken one, so how late the others came is not in it.
/// A turn is one round of the line through every thread: what moving a
/// line from one CPU to the next costs, a lock handoff's price. On the
/// 2-vCPU EPYC VM the probe's 64 turns took about 4.2 us in most rounds
/// and about 20 us in the others (a standalone one-way pass: 17, 34, 99
/// or 160 to 280 ns), by the host's placement of the vCPUs, which switched
/// within seconds and sometimes held for a whole run; where it was slow,
/// `flag` on 2 threads cost 2.3 times its usual x floor. Round `round`
/// (counted from 0, the same on every thread) takes its turns after those
/// of the rounds before, so the line needs no reset.
pub fn handoff_probe(shared: &SharedLine, threads: usize, index: usize, round: usize) -> u64 {
    let t = threads as u64;
    let first = round as u64 * HANDOFFS * t + index as u64;
    let mut start = None;
    for k in 0..HANDOFFS {
        let mine = first + k * t;
        // Acquire and Release: a lock's handoff, which this times; the
        // turn count is all that is passed on.
        while shared.turn.0.load(Ordering::Acquire) != mine {
            if shared.released.load(Ordering::Relaxed) {
                return 0;
            }
            std::hint::spin_loop();
        }
        if k == 1 {
            start = Some(Instant::now());
        }
        shared.turn.0.store(mine + 1, Ordering::Release);
    }
    start.map_or(0, |s| s.elapsed().as_nanos() as u64)
}

impl SharedLine {
    /// Lets every later [`contention_probe`] start at once, and ends every
    /// [`handoff_probe`]: a thread that panicked will never arrive or take
    /// its turn, and its peers must not spin for it.
    pub fn release_all(&self) {
        // Relaxed: as in `contention_probe`.
        self.released.store(true, Ordering::Relaxed);
    }
}

/// Steps of [`throughput_probe`]'s eight chains: about 3 us on an idle
/// core of the 2-vCPU EPYC VM.
const ISSUE_STEPS: u64 = 2000;

/// ns of eight independent chains of one-cycle integer operations (an add
/// and an xor a step, in registers): a core's issue width, which it shares
/// with its SMT sibling. The locked adds of the clock probe and the floor
/// wait on their own latency and barely feel a busy sibling; code that
/// keeps many instructions in flight does. On the 2-vCPU EPYC VM a C loop
/// of eight such chains read 2.19 to 2.21 us in a third of 2000 samples
/// 2 ms apart and 3.9 us in another third (the sibling busy, most likely),
/// with 512 locked adds beside it uncorrelated (r = 0.03); in three
/// `--quick` runs, `hybrid` on `mixed` pages read 0.33 to 0.40 x floor in
/// the rounds whose probe was quiet and 0.44 to 0.53 in the others, with
/// the floor within 5% of its quiet value in both.
#[inline(never)]
pub fn throughput_probe() -> u64 {
    let start = Instant::now();
    issue_chains(black_box(ISSUE_STEPS));
    start.elapsed().as_nanos() as u64
}

/// The probe's chains, in assembly: a compiler may fold eight lanes of
/// Rust into one vector chain (with `-C target-cpu=native` on an AVX-512
/// core, LLVM made them 250 steps of `vpmullq`, one latency-bound chain of
/// 290 ns), which is the kind of probe a busy sibling does not slow.
#[cfg(target_arch = "x86_64")]
fn issue_chains(steps: u64) {
    let k: u64 = 0x9e37_79b9_7f4a_7c15;
    // SAFETY: arithmetic on registers the block owns (no memory, no
    // stack; flags are clobbered, which asm! assumes by default); the count
    // starts at 1 or more, so `dec` reaches 0 and the loop ends.
    unsafe {
        std::arch::asm!(
            "2:",
            "add {a}, {a}", "add {b}, {b}", "add {c}, {c}", "add {d}, {d}",
            "add {e}, {e}", "add {f}, {f}", "add {g}, {g}", "add {h}, {h}",
            "xor {a}, {k}", "xor {b}, {k}", "xor {c}, {k}", "xor {d}, {k}",
            "xor {e}, {k}", "xor {f}, {k}", "xor {g}, {k}", "xor {h}, {k}",
            "dec {n}",
            "jnz 2b",
            n = inout(reg) steps.max(1) => _,
            k = in(reg) k,
            a = inout(reg) 1u64 => _, b = inout(reg) 2u64 => _,
            c = inout(reg) 3u64 => _, d = inout(reg) 4u64 => _,
            e = inout(reg) 5u64 => _, f = inout(reg) 6u64 => _,
            g = inout(reg) 7u64 => _, h = inout(reg) 8u64 => _,
            options(nomem, nostack),
        );
    }
}

/// The same chains where there is no assembly for them; each step's value
/// passes through `black_box`, so the lanes stay apart.
#[cfg(not(target_arch = "x86_64"))]
fn issue_chains(steps: u64) {
    let k = black_box(0x9e37_79b9_7f4a_7c15u64);
    let mut x = [1u64, 2, 3, 4, 5, 6, 7, 8];
    for _ in 0..steps {
        for v in x.iter_mut() {
            *v = v.wrapping_add(*v) ^ k;
        }
        x = black_box(x);
    }
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
    fn the_handoff_probe_passes_the_line_in_turn_and_ends_when_released() {
        let shared = SharedLine::default();
        let ns: Vec<u64> = std::thread::scope(|s| {
            let h: Vec<_> = (0..2)
                .map(|i| {
                    let shared = &shared;
                    s.spawn(move || (0..3).map(|r| handoff_probe(shared, 2, i, r)).sum::<u64>())
                })
                .collect();
            h.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        // Every turn of three rounds taken: 3 x 64 x 2.
        assert_eq!(shared.turn.0.load(Ordering::Relaxed), 384);
        assert!(ns.iter().all(|n| *n > 0), "{ns:?}");
        // A peer that never comes: released, the probe returns.
        shared.release_all();
        assert_eq!(handoff_probe(&shared, 2, 1, 10), 0);
    }

    #[test]
    fn the_throughput_probe_takes_time_and_repeats_within_a_factor() {
        let mut t: Vec<u64> = (0..50).map(|_| throughput_probe()).collect();
        t.sort_unstable();
        // 32000 one-cycle operations take more than 1 ns per 64 on any
        // core; a probe the compiler folded away would time a few ns.
        assert!(t[0] >= ISSUE_STEPS / 4, "{t:?}");
        assert!(t[25] < 4 * t[0], "{t:?}");
    }

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
