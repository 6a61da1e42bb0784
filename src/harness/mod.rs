//! The harness: what a cell is ([`cell`]) and what its code does, counted
//! ([`census`]), how `pinbench run`'s options
//! become cells ([`plan`]), the paired runner that times them
//! ([`paired`], driving `pin_workloads::Worker`s), the reference
//! workers every cell is read against ([`calibration`]), the per-round clock probe
//! ([`clock_probe`]), the machine's fingerprint ([`fingerprint`]), turning measurements into results
//! ([`record`]), and what every measuring command does around its cells
//! ([`session`]: signals, the results file; [`visits`]: passes, revisits,
//! progress). [`sweep`] checks the
//! threads, placements and slicing both `run` and `kernel` sweep.

pub mod calibration;
pub mod cell;
pub mod census;
pub mod clock_probe;
pub mod fingerprint;
pub mod output;
pub mod paired;
pub mod plan;
pub mod record;
pub mod session;
pub mod sweep;
pub mod visits;
