//! Per-call latency in an HDR histogram: one value per batch call (never
//! per page, so the clock is read once per `pages_per_call` pages).
//!
//! The histogram is allocated before the timed loop with fixed bounds and
//! no auto-resize, so `record` never allocates; values past the bound are
//! clamped to it (`saturating_record`).

use hdrhistogram::Histogram;
use pin_results::LatencyNs;

/// Largest latency kept: 60 s in ns.
const MAX_NS: u64 = 60_000_000_000;

/// A latency histogram of batch calls.
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram, 3 significant digits.
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_NS, 3)
            .unwrap_or_else(|_| unreachable!("constant bounds are valid"));
        Self { hist }
    }

    /// Records one call of `ns` nanoseconds. Cheap, no allocation.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns.max(1));
    }

    /// Forgets everything recorded (after warm-up).
    pub fn reset(&mut self) {
        self.hist.reset();
    }

    /// Adds another thread's calls.
    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    /// Number of calls recorded.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// The quantiles; all zero when nothing was recorded.
    pub fn quantiles(&self) -> LatencyNs {
        if self.hist.is_empty() {
            return LatencyNs::default();
        }
        LatencyNs {
            p50: self.hist.value_at_quantile(0.5),
            p90: self.hist.value_at_quantile(0.9),
            p99: self.hist.value_at_quantile(0.99),
            p999: self.hist.value_at_quantile(0.999),
            max: self.hist.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_recorded_calls_and_merge() {
        let mut a = Latency::new();
        for ns in 1..=1000 {
            a.record(ns);
        }
        let mut b = Latency::new();
        b.record(1_000_000);
        a.merge(&b);
        let q = a.quantiles();
        assert_eq!(a.len(), 1001);
        assert!((495..=505).contains(&q.p50), "{q:?}");
        assert!((895..=905).contains(&q.p90), "{q:?}");
        assert!(q.max >= 999_000, "{q:?}");
        a.reset();
        assert_eq!(a.quantiles(), LatencyNs::default());
    }
}
