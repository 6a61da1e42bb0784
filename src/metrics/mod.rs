//! What a cell measures besides the work itself: per-call latency
//! ([`latency`]) and perf-event counters ([`counters`]). Nothing here runs in the hot loop except
//! [`latency::Latency::record`], once per batch call.

pub mod counters;
pub mod latency;
