//! A median with its 95% interval.
//!
//! [`Estimate::of`]: the distribution-free interval for a median from order
//! statistics (no normality assumed, which per-pair ratios of a drifting
//! machine do not have). For `n` samples the interval is
//! `[x(k), x(n+1-k)]` (1-based order statistics) with the largest `k` such
//! that `P(Binomial(n, 1/2) < k) <= 2.5%`: the median lies below `x(k)`
//! only if fewer than `k` samples fall below it. It treats every round as
//! independent, so it says where this run's median is, not where a rerun's
//! will be.
//!
//! [`Estimate::over_visits`]: what a cell's figures carry. A rerun differs
//! from this run by what differs between visits (each builds a fresh
//! memmap, so new physical placement, and each sees the host in another
//! state), which rounds of one visit do not show. The interval is the
//! order-statistic one widened to a 95% prediction interval for a rerun's
//! median, from the log ratios grouped by visit, each part robust to the
//! odd slow round (their scatter has tails: within visits, the standard
//! deviation is about 1.5 times what the median absolute deviation
//! implies, over the cells of five `--quick` runs). The rounds' scatter
//! `s` is Shamos' estimate over pairs within one visit (`1.0483` times the
//! median of `|x_i - x_j|`, which is `sigma` for normal scatter and which
//! a visit's own level does not touch); the variance between visits is
//! that of the visits' medians beyond what `s` explains of each (the
//! variance of a median of `n_i` values of scatter `s`: `pi/2 * s^2 / n_i`
//! for many, less for few, [`MEDIAN_VARIANCE`]), at least 0. With the
//! rounds' part (that of the median of all `N`: the estimate) they give
//! the variance of a run's estimate; a rerun's estimate and ours differ by
//! `sqrt(2)` times that, scaled by `t(0.975, v - 1)` for `v` visits. A
//! visit of few kept rounds then widens the interval by what
//! its few rounds can tell, not by its median's own noise. The promise is
//! checked, not assumed: `pinbench summary` of several runs counts how
//! many intervals hold the other runs' median.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, StudentsT};

/// A cell is noisy when its CI half-width passes this share of the median.
pub const NOISY_HALF_WIDTH: f64 = 0.02;

/// Median of samples and its 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Lower end of the 95% confidence interval of the median.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Samples.
    pub n: usize,
}

impl Estimate {
    /// From samples; `None` when there are none or any is not finite.
    pub fn of(samples: &[f64]) -> Option<Estimate> {
        if samples.is_empty() || samples.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut v = samples.to_vec();
        // Sorts v, which the order statistics below read.
        let middle = median(&mut v)?;
        let n = v.len();
        let k = rank(n);
        // Too few samples for a 95% interval (n < 6): the whole range.
        let (lo, hi) = if k == 0 { (0, n - 1) } else { (k - 1, n - k) };
        Some(Estimate {
            median: middle,
            ci_low: v[lo],
            ci_high: v[hi],
            n,
        })
    }

    /// [`Estimate::of`] of `xs`, widened to a 95% prediction interval for
    /// a rerun's median (see the module's doc); `visits[i]` is the visit of
    /// `xs[i]` (as many as `xs`). Values not above 0 have no logarithm and
    /// are left out of the widening; fewer than two visits:
    /// [`Estimate::of`].
    pub fn over_visits(xs: &[f64], visits: &[usize]) -> Option<Estimate> {
        debug_assert_eq!(xs.len(), visits.len(), "a visit for every value");
        let e = Estimate::of(xs)?;
        let mut groups: Vec<(usize, Vec<f64>)> = Vec::new();
        for (x, v) in xs.iter().zip(visits).filter(|(x, _)| **x > 0.0) {
            match groups.iter_mut().find(|(id, _)| id == v) {
                Some((_, g)) => g.push(x.ln()),
                None => groups.push((*v, vec![x.ln()])),
            }
        }
        let Some(var) = estimate_variance(&groups) else {
            return Some(e);
        };
        let t = StudentsT::new(0.0, 1.0, (groups.len() - 1) as f64)
            .map_or(f64::INFINITY, |d| d.inverse_cdf(0.975));
        let half = t * (2.0 * var).sqrt();
        // Finite even for a hostile file's extreme ratios, so that the
        // estimate can be written as JSON again.
        let high = (e.median * half.exp()).min(f64::MAX);
        Some(Estimate {
            ci_low: e.ci_low.min(e.median * (-half).exp()),
            ci_high: e.ci_high.max(high),
            ..e
        })
    }

    /// Half the interval's width over the median.
    pub fn half_width(&self) -> f64 {
        if self.median == 0.0 {
            return 0.0;
        }
        (self.ci_high - self.ci_low) / 2.0 / self.median.abs()
    }

    /// The half-width passes [`NOISY_HALF_WIDTH`].
    pub fn noisy(&self) -> bool {
        self.half_width() > NOISY_HALF_WIDTH
    }
}

/// Shamos' scale for normal scatter: `sigma` is this times the median of
/// `|x_i - x_j|` (which is `sqrt(2) * 0.6745 * sigma`).
const SHAMOS: f64 = 1.0483;

/// Pairs `(i, j)` within a visit taken for the scale: `j - i` up to this,
/// so a visit of `n` values gives at most `32 n` pairs, not `n^2 / 2`
/// (`--pairs 100000 --visits 2` makes visits of 25000 blocks). Visits of
/// up to 33 values, every one `--quick` and the default make, give all.
const MAX_LAG: usize = 32;

/// `n` times the variance of the median of `n` normal values over theirs,
/// for `n` = 1 to 21 (by simulation, 10^6 samples each; the mean of the
/// middle two for an even `n`); `pi/2` beyond, a little over. Taking `pi/2` for a visit
/// of 4 blocks would overstate its median's noise by 32%.
const MEDIAN_VARIANCE: [f64; 21] = [
    1.000, 1.000, 1.346, 1.193, 1.434, 1.288, 1.473, 1.344, 1.496, 1.385, 1.506, 1.411, 1.519,
    1.432, 1.523, 1.447, 1.532, 1.456, 1.539, 1.470, 1.539,
];

/// The variance of the median of `n` values of normal scatter, over
/// theirs ([`MEDIAN_VARIANCE`]).
fn median_variance(n: usize) -> f64 {
    let times_n = MEDIAN_VARIANCE
        .get(n.wrapping_sub(1))
        .copied()
        .unwrap_or(std::f64::consts::FRAC_PI_2);
    times_n / n.max(1) as f64
}

/// The variance of a run's estimate from the values in `groups` (one per
/// visit, each value a log ratio; see the module's doc). `None` for fewer
/// than two visits.
fn estimate_variance(groups: &[(usize, Vec<f64>)]) -> Option<f64> {
    let k = groups.len();
    if k < 2 {
        return None;
    }
    debug_assert!(groups.iter().all(|(_, g)| !g.is_empty()), "no empty visit");
    let n = groups.iter().map(|(_, g)| g.len()).sum::<usize>();
    let nf = n as f64;
    let mut gaps: Vec<f64> = groups
        .iter()
        .flat_map(|(_, g)| {
            g.iter().enumerate().flat_map(move |(i, a)| {
                let end = g.len().min(i + 1 + MAX_LAG);
                g[i + 1..end].iter().map(move |b| (a - b).abs())
            })
        })
        .collect();
    // No visit of two values: only the medians' own scatter is known.
    let scatter = median(&mut gaps).map_or(0.0, |m| (SHAMOS * m).powi(2));
    let medians: Vec<f64> = groups
        .iter()
        .filter_map(|(_, g)| median(&mut g.clone()))
        .collect();
    let mean = medians.iter().sum::<f64>() / k as f64;
    let spread = medians.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    let explained: f64 = groups
        .iter()
        .map(|(_, g)| scatter * median_variance(g.len()))
        .sum::<f64>()
        / k as f64;
    let between = (spread - explained).max(0.0);
    let sum_sq: f64 = groups.iter().map(|(_, g)| (g.len() as f64).powi(2)).sum();
    Some(sum_sq * between / (nf * nf) + scatter * median_variance(n))
}

/// The median of `xs` (sorted in place); `None` when empty.
fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    Some(if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    })
}

/// The largest `k` (1-based) with `P(Binomial(n, 1/2) <= k - 1) <= 0.025`,
/// or 0 when even `k = 1` is too wide a claim.
fn rank(n: usize) -> usize {
    let Ok(b) = Binomial::new(0.5, n as u64) else {
        return 0;
    };
    let mut k = 0;
    while k < n / 2 && b.cdf(k as u64) <= 0.025 {
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_match_the_binomial_tables() {
        // Published ranks for the 95% CI of a median (e.g. Conover,
        // Practical Nonparametric Statistics, table A3): n=6 -> 1st and 6th,
        // n=10 -> 2nd and 9th, n=20 -> 6th and 15th, n=100 -> 40th and 61st.
        assert_eq!(rank(5), 0);
        assert_eq!(rank(6), 1);
        assert_eq!(rank(10), 2);
        assert_eq!(rank(20), 6);
        assert_eq!(rank(100), 40);
    }

    #[test]
    fn median_and_interval_of_known_samples() {
        let xs: Vec<f64> = (1..=20).map(f64::from).collect();
        let e = Estimate::of(&xs).expect("estimate");
        assert_eq!((e.median, e.ci_low, e.ci_high, e.n), (10.5, 6.0, 15.0, 20));
        let odd = Estimate::of(&[3.0, 1.0, 2.0]).expect("estimate");
        assert_eq!((odd.median, odd.ci_low, odd.ci_high), (2.0, 1.0, 3.0));
        assert!(Estimate::of(&[]).is_none());
        assert!(Estimate::of(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn visits_that_disagree_widen_the_interval_and_agreeing_ones_do_not() {
        // Four visits of ten rounds: within each, 1% of jitter; between
        // them, 1.00, 1.10, 0.95, 1.05.
        let centres = [1.00, 1.10, 0.95, 1.05];
        let mut xs = Vec::new();
        let mut visits = Vec::new();
        for (v, c) in centres.iter().enumerate() {
            for i in 0..10 {
                xs.push(c * (1.0 + 0.002 * (i as f64 - 4.5)));
                visits.push(v);
            }
        }
        let rounds = Estimate::of(&xs).expect("estimate");
        let e = Estimate::over_visits(&xs, &visits).expect("estimate");
        assert_eq!(e.median, rounds.median);
        // Worked by hand (the visits' medians' variance of the logs, t(3)
        // = 3.182): half-width 0.1420 in log units around 1.0248.
        assert!((e.ci_high - 1.1811).abs() < 0.001, "{e:?}");
        assert!((e.ci_low - 0.8891).abs() < 0.001, "{e:?}");
        assert!(e.ci_low < rounds.ci_low && e.ci_high > rounds.ci_high);
        // Visits that agree, whose rounds scatter alike, add nothing between
        // visits: what is left is a rerun's own scatter of its rounds'
        // median (+-0.28% here against the rounds' +-0.15%).
        let same: Vec<f64> = (0..40).map(|i| 1.0 + 0.001 * (i % 10) as f64).collect();
        let by_visit: Vec<usize> = (0..40).map(|i| i / 10).collect();
        let agree = Estimate::over_visits(&same, &by_visit).expect("estimate");
        assert!(agree.half_width() < 0.003, "{agree:?}");
        // A visit of one round a little off widens it by what one round
        // can tell, not as if that round were a whole visit's median.
        let mut lone = same.clone();
        let mut lone_visits = by_visit.clone();
        lone.push(1.02);
        lone_visits.push(4);
        let w = Estimate::over_visits(&lone, &lone_visits).expect("estimate");
        assert!(w.half_width() < 0.02, "{w:?}");
        // One visit, or rounds that are each their own unit but few: no
        // widening beyond what the rounds give.
        let one = vec![0; 40];
        assert_eq!(Estimate::over_visits(&xs, &one), Estimate::of(&xs));
    }

    #[test]
    fn an_odd_slow_round_in_each_visit_does_not_widen_the_interval() {
        // Four visits of ten rounds within +-0.45% of 1.0, the tenth of
        // each 30% slow. A mean square within visits would make the
        // half-width 7.4%; Shamos' scale sees the +-0.45%: 0.37%.
        let xs: Vec<f64> = (0..40)
            .map(|i| match i % 10 {
                9 => 1.3,
                j => 1.0 + 0.001 * (j as f64 - 4.5),
            })
            .collect();
        let visits: Vec<usize> = (0..40).map(|i| i / 10).collect();
        let e = Estimate::over_visits(&xs, &visits).expect("estimate");
        assert!((e.half_width() - 0.0037).abs() < 0.0002, "{e:?}");
        // A hostile file's extreme ratios still give finite ends.
        let wild = Estimate::over_visits(&[1e-300, 1e300, 1.0, 1.0], &[0, 0, 1, 1]);
        assert!(wild.is_some_and(|w| w.ci_low.is_finite() && w.ci_high.is_finite()));
    }

    #[test]
    fn a_few_values_median_varies_less_than_pi_over_2n_says() {
        // One value is its own median; two, their mean (half the
        // variance); four, 1.193 / 4; many, pi / 2n.
        assert_eq!(median_variance(1), 1.0);
        assert_eq!(median_variance(2), 0.5);
        assert!((median_variance(4) - 1.193 / 4.0).abs() < 1e-12);
        assert!((median_variance(100) - std::f64::consts::PI / 200.0).abs() < 1e-12);
        // Never more than pi / 2n, and falling with n (an even n's, the
        // mean of the middle two, is about the next odd n's).
        for n in 1..40 {
            assert!(median_variance(n) <= std::f64::consts::FRAC_PI_2 / n as f64);
            assert!(median_variance(n + 1) < median_variance(n) * 1.01, "{n}");
        }
    }

    #[test]
    fn noisy_is_a_half_width_over_two_percent() {
        let tight = Estimate {
            median: 1.0,
            ci_low: 0.99,
            ci_high: 1.02,
            n: 30,
        };
        assert!(!tight.noisy());
        let wide = Estimate {
            ci_high: 1.05,
            ..tight
        };
        assert!(wide.noisy());
    }
}
