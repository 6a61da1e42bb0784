//! The statistics `compare` needs: means over repetitions and Welch's
//! t-test. The t distribution comes from `statrs`; only the test statistic
//! and the Welch–Satterthwaite degrees of freedom are computed here.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Arithmetic mean; `None` for no values. The mean of times.
pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Harmonic mean; `None` for no values or a value that is not positive.
/// The mean of rates: the rate of the total work over the total time when
/// every repetition did the same work.
pub fn harmonic_mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|&x| x <= 0.0 || !x.is_finite()) {
        return None;
    }
    Some(xs.len() as f64 / xs.iter().map(|x| 1.0 / x).sum::<f64>())
}

/// Sample variance (n - 1); `None` below two values.
pub fn variance(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    (xs.len() >= 2)
        .then(|| xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64)
}

/// Two-sided p-value of Welch's t-test that `a` and `b` have the same
/// mean; `None` when either has fewer than two values.
pub fn welch_p(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ma, mb) = (mean(a)?, mean(b)?);
    let (va, vb) = (variance(a)? / a.len() as f64, variance(b)? / b.len() as f64);
    let se2 = va + vb;
    if se2 <= 0.0 {
        // No spread at all: the means are either equal or certainly not.
        return Some(if ma == mb { 1.0 } else { 0.0 });
    }
    let t = (ma - mb) / se2.sqrt();
    let df = se2 * se2 / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64);
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * dist.sf(t.abs())).clamp(0.0, 1.0))
}

/// Ranks of `xs` from 1, ties sharing the mean of their ranks.
/// The 95% interval of `mean(b) - mean(a)` by Welch's t (two runs or
/// more per side); `None` with fewer, or without spread on either side.
pub fn welch_interval(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    let (ma, mb) = (mean(a)?, mean(b)?);
    let (va, vb) = (variance(a)? / a.len() as f64, variance(b)? / b.len() as f64);
    let se2 = va + vb;
    if se2 <= 0.0 {
        return None;
    }
    let df = se2 * se2 / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64);
    let t = StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(0.975);
    let half = t * se2.sqrt();
    Some((mb - ma - half, mb - ma + half))
}

fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        order[i..=j].iter().for_each(|&k| r[k] = mean);
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation of paired `xs` and `ys` (Pearson's of
/// their ranks, ties averaged); `None` with fewer than three pairs or no
/// spread in either.
pub fn spearman(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() != ys.len() || xs.len() < 3 {
        return None;
    }
    let (rx, ry) = (ranks(xs), ranks(ys));
    let (mx, my) = (mean(&rx)?, mean(&ry)?);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

/// Significance mark of a p-value: `**` below 0.01, `*` below 0.05,
/// blank otherwise, `?` when the test could not be made.
pub fn mark(p: Option<f64>) -> &'static str {
    match p {
        Some(p) if p < 0.01 => crate::legend::P01,
        Some(p) if p < 0.05 => crate::legend::P05,
        Some(_) => "",
        None => crate::legend::NO_VERDICT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_ranks_with_ties_averaged() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(spearman(&xs, &[10.0, 20.0, 30.0, 40.0]), Some(1.0));
        assert_eq!(spearman(&xs, &[4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
        assert_eq!(spearman(&xs[..2], &[1.0, 2.0]), None);
        assert_eq!(spearman(&xs, &[1.0; 4]), None);
    }

    #[test]
    fn means_of_times_and_rates() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
        // 1 page/s and 3 pages/s for equal work: 2 pages in 4/3 s.
        let h = harmonic_mean(&[1.0, 3.0]).expect("hm");
        assert!((h - 1.5).abs() < 1e-12, "{h}");
        assert_eq!(harmonic_mean(&[1.0, 0.0]), None);
        assert_eq!(variance(&[2.0, 4.0]), Some(2.0));
        assert_eq!(variance(&[2.0]), None);
    }

    #[test]
    fn welch_interval_holds_the_difference_and_narrows_with_agreement() {
        let a = [1.0, 1.1, 0.9];
        let b = [2.0, 2.1, 1.9];
        let (lo, hi) = welch_interval(&a, &b).expect("interval");
        // Equal variances 0.01, se 0.0816, df 4, t 2.776: 1.0 +- 0.2267.
        assert!(
            (lo - 0.7733).abs() < 1e-3 && (hi - 1.2267).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(welch_interval(&[1.0], &b), None);
        assert_eq!(welch_interval(&[1.0, 1.0], &[2.0, 2.0]), None);
    }

    #[test]
    fn welch_matches_a_worked_example() {
        // t = -2.1071, df = 11.093; the two-sided p-value 0.05867 was
        // found by integrating the t density numerically (Simpson's rule).
        let a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1];
        let b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0];
        let p = welch_p(&a, &b).expect("p");
        assert!((p - 0.05867).abs() < 1e-4, "{p}");
        assert_eq!(mark(Some(p)), "");
    }

    #[test]
    fn marks_follow_the_thresholds() {
        let base = [10.0, 10.1, 9.9, 10.0, 10.05];
        let slower = [12.0, 12.1, 11.9, 12.0, 12.05];
        assert_eq!(mark(welch_p(&base, &slower)), "**");
        assert_eq!(mark(welch_p(&base, &base)), "");
        assert_eq!(mark(welch_p(&base, &[10.0])), "?");
        assert_eq!(welch_p(&[1.0, 1.0], &[2.0, 2.0]), Some(0.0));
        assert_eq!(welch_p(&[1.0, 1.0], &[1.0, 1.0]), Some(1.0));
    }
}
