//! The harness: what a cell is ([`cell`]), how `pinbench run`'s options
//! become cells ([`plan`]), the paired runner that times them and the
//! [`Worker`] trait it drives ([`paired`], [`worker`]), the reference
//! workers every cell is read against ([`calibration`]), the machine's
//! fingerprint ([`fingerprint`]), and turning measurements into results
//! ([`record`]).

pub mod calibration;
pub mod cell;
pub mod fingerprint;
pub mod paired;
pub mod plan;
pub mod record;
pub mod worker;

pub use worker::{Tally, Worker};
