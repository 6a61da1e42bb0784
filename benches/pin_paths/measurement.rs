//! What every bench is measured in: wall time (the default), or user-space
//! instructions retired, counted through `perf_event_open`
//! (`PINBENCH_MEASUREMENT=instructions`), a reading a noisy shared machine
//! cannot blur.
//!
//! One criterion [`Measurement`] chosen at run time, so each bench is
//! written once for both. Instructions are counted per thread: `start` opens
//! a counter on the calling thread and `end` closes it, so the threads of
//! `contended` each count their own loop and
//! [`PinMeasurement::across_threads`] adds them up (wall time takes the
//! longest thread instead). Opening a counter is a syscall, paid once per
//! sample, not per iteration.
//!
//! Where the CPU exposes no hardware counters (a VM without a virtual PMU:
//! `perf_event_open` of `PERF_COUNT_HW_INSTRUCTIONS` fails with ENOENT),
//! asking for instructions falls back to wall time with one line saying so.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::Throughput;
use perf_event::events::Hardware;
use perf_event::{Builder, Counter};
use std::io;
use std::time::Instant;

/// The environment variable that selects the measurement.
pub const ENV: &str = "PINBENCH_MEASUREMENT";

/// Wall time in nanoseconds, or user-space instructions retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinMeasurement {
    /// `Instant` around the measured loop, in nanoseconds.
    WallTime,
    /// `PERF_COUNT_HW_INSTRUCTIONS` of the measuring thread, user space only.
    Instructions,
}

/// A sample in progress.
pub enum Started {
    Clock(Instant),
    Counter(Counter),
}

impl PinMeasurement {
    /// The measurement `PINBENCH_MEASUREMENT` asks for (`wall`, the default,
    /// or `instructions`). Exits with status 2 naming a value it does not
    /// know.
    pub fn from_env() -> Self {
        match std::env::var(ENV).as_deref() {
            Err(std::env::VarError::NotPresent) | Ok("") | Ok("wall") => Self::WallTime,
            Ok("instructions") => match instructions_counter() {
                Ok(_) => Self::Instructions,
                Err(e) => {
                    eprintln!(
                        "{ENV}=instructions: no hardware instruction counter here ({e}); measuring wall time"
                    );
                    Self::WallTime
                }
            },
            Ok(other) => {
                eprintln!("{ENV}={other:?}: expected `wall` or `instructions`");
                std::process::exit(2)
            }
            Err(std::env::VarError::NotUnicode(other)) => {
                eprintln!("{ENV}={other:?}: expected `wall` or `instructions`");
                std::process::exit(2)
            }
        }
    }

    /// The unit of a value, for tables: `ns` or `instr`.
    pub fn unit(self) -> &'static str {
        match self {
            Self::WallTime => "ns",
            Self::Instructions => "instr",
        }
    }

    /// One value for threads that ran the same loop side by side: the
    /// longest thread's wall time (they start together at a barrier), or
    /// the sum of their instructions.
    pub fn across_threads(self, values: impl IntoIterator<Item = f64>) -> f64 {
        let values = values.into_iter();
        match self {
            Self::WallTime => values.fold(0.0, f64::max),
            Self::Instructions => values.sum(),
        }
    }
}

/// A counter of the calling thread's user-space instructions (the
/// builder's defaults exclude the kernel and the hypervisor), disabled.
fn instructions_counter() -> io::Result<Counter> {
    Builder::new(Hardware::INSTRUCTIONS).build()
}

impl Measurement for PinMeasurement {
    type Intermediate = Started;
    type Value = f64;

    fn start(&self) -> Started {
        match self {
            Self::WallTime => Started::Clock(Instant::now()),
            Self::Instructions => {
                // `from_env` opened one already, so this only fails if the
                // process runs out of file descriptors.
                let mut counter =
                    instructions_counter().expect("perf_event_open worked at startup");
                counter.enable().expect("enabling an open perf counter");
                Started::Counter(counter)
            }
        }
    }

    fn end(&self, started: Started) -> f64 {
        match started {
            Started::Clock(t) => t.elapsed().as_nanos() as f64,
            Started::Counter(mut counter) => {
                counter.disable().expect("disabling an open perf counter");
                counter.read().expect("reading an open perf counter") as f64
            }
        }
    }

    fn add(&self, v1: &f64, v2: &f64) -> f64 {
        v1 + v2
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        match self {
            // WallTime's own formatter reads f64 nanoseconds, as ours are.
            Self::WallTime => WALL_TIME.formatter(),
            Self::Instructions => &InstructionsFormatter,
        }
    }
}

static WALL_TIME: WallTime = WallTime;

/// Prints instructions, and throughput as instructions per element (a page)
/// or per byte: there is no clock to make a rate of.
struct InstructionsFormatter;

impl ValueFormatter for InstructionsFormatter {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "instr"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per, unit) = match *throughput {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                (n, "instr/page")
            }
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (n, "instr/B"),
            Throughput::Bits(n) => (n, "instr/bit"),
        };
        for v in values {
            *v /= per.max(1) as f64;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "instr"
    }
}
