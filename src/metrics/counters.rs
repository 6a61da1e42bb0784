//! perf-event counters per thread and per cell: cycles, instructions and
//! cache misses (hardware), task-clock and context switches (software).
//!
//! Each worker thread opens its own groups (`perf_event_open(pid = 0)`
//! counts the calling thread only), enables them around the measured
//! repetitions and reads them at the end; the cell sums its threads.
//! Hardware counters are missing on many VMs (`perf_event_open` fails with
//! ENOENT): [`probe`] finds that out once, the CLI says so once, and those
//! fields are recorded as `null` while the software ones are kept.

use perf_event::events::{Hardware, Software};
use perf_event::{Builder, Counter, Group};
use pin_results::Counters;

/// Which counter groups this machine supports.
#[derive(Clone, Debug)]
pub struct Availability {
    /// `Err(why)` when hardware counters cannot be opened.
    pub hardware: Result<(), String>,
    /// `Err(why)` when software counters cannot be opened.
    pub software: Result<(), String>,
}

/// Tries to open both groups once on the calling thread; opens none on an
/// emulated machine (`PINBENCH_VM`), where the counts mean nothing and
/// where opening and closing per-thread events live-patches static branches
/// (`text_poke_bp`) that a multi-threaded TCG guest has been seen to trip
/// over (`Oops: int3` in `__schedule`).
pub fn probe() -> Availability {
    if let Some(vm) = crate::machine::host::emulated() {
        let why = format!("not opened on an emulated machine ({vm})");
        return Availability {
            hardware: Err(why.clone()),
            software: Err(why),
        };
    }
    Availability {
        hardware: HwGroup::open().map(|_| ()).map_err(|e| e.to_string()),
        software: SwGroup::open().map(|_| ()).map_err(|e| e.to_string()),
    }
}

struct HwGroup {
    group: Group,
    cycles: Counter,
    instructions: Counter,
    cache_misses: Counter,
}

impl HwGroup {
    fn open() -> std::io::Result<Self> {
        let mut group = Group::new()?;
        let cycles = group.add(&Builder::new(Hardware::CPU_CYCLES))?;
        let instructions = group.add(&Builder::new(Hardware::INSTRUCTIONS))?;
        let cache_misses = group.add(&Builder::new(Hardware::CACHE_MISSES))?;
        Ok(Self {
            group,
            cycles,
            instructions,
            cache_misses,
        })
    }
}

struct SwGroup {
    group: Group,
    task_clock: Counter,
    context_switches: Counter,
}

impl SwGroup {
    fn open() -> std::io::Result<Self> {
        let mut group = Group::new()?;
        let task_clock = group.add(&Builder::new(Software::TASK_CLOCK))?;
        let context_switches = group.add(&Builder::new(Software::CONTEXT_SWITCHES))?;
        Ok(Self {
            group,
            task_clock,
            context_switches,
        })
    }
}

/// The counters of one thread; opened on (and only valid for) that thread.
pub struct ThreadCounters {
    hw: Option<HwGroup>,
    sw: Option<SwGroup>,
}

impl ThreadCounters {
    /// Opens the groups `avail` says work. A group that fails to open now
    /// is left out (its values read as `None`).
    pub fn open(avail: &Availability) -> Self {
        Self {
            hw: avail
                .hardware
                .is_ok()
                .then(HwGroup::open)
                .and_then(Result::ok),
            sw: avail
                .software
                .is_ok()
                .then(SwGroup::open)
                .and_then(Result::ok),
        }
    }

    /// Starts counting (accumulates across calls).
    pub fn enable(&mut self) {
        // A failing ioctl leaves the counter stopped: it reads low, which
        // the recorded task-clock against elapsed time would reveal.
        if let Some(h) = &mut self.hw {
            let _ = h.group.enable();
        }
        if let Some(s) = &mut self.sw {
            let _ = s.group.enable();
        }
    }

    /// Stops counting.
    pub fn disable(&mut self) {
        if let Some(h) = &mut self.hw {
            let _ = h.group.disable();
        }
        if let Some(s) = &mut self.sw {
            let _ = s.group.disable();
        }
    }

    /// The totals so far.
    pub fn read(&mut self) -> Counters {
        let mut v = Counters::default();
        if let Some(h) = &mut self.hw {
            if let Ok(d) = h.group.read() {
                v.cycles = Some(d[&h.cycles]);
                v.instructions = Some(d[&h.instructions]);
                v.cache_misses = Some(d[&h.cache_misses]);
            }
        }
        if let Some(s) = &mut self.sw {
            if let Ok(d) = s.group.read() {
                v.task_clock_ns = Some(d[&s.task_clock]);
                v.context_switches = Some(d[&s.context_switches]);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_counters_count_a_busy_loop_and_sums_keep_missing_as_missing() {
        let avail = probe();
        if avail.software.is_err() {
            // perf_event_paranoid may forbid even software events.
            return;
        }
        let mut c = ThreadCounters::open(&avail);
        c.enable();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        c.disable();
        let v = c.read();
        assert!(v.task_clock_ns.is_some_and(|t| t > 0), "{v:?}");
        assert_eq!(v.cycles.is_some(), avail.hardware.is_ok());
        let missing = Counters::default();
        assert_eq!(v.sum(missing).task_clock_ns, None);
    }
}
