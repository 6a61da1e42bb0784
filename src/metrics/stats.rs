//! Median and spread over repetitions. A cell is "noisy" when its
//! coefficient of variation passes [`NOISY_CV`].

/// Coefficient of variation above which a cell is flagged noisy (5%).
pub const NOISY_CV: f64 = 0.05;

/// Median of `xs` (mean of the middle two for an even count); 0 if empty.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Sample standard deviation over mean; 0 for fewer than two values or a
/// zero mean.
pub fn cv(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if mean == 0.0 {
        return 0.0;
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    var.sqrt() / mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_cv_of_known_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(cv(&[5.0, 5.0, 5.0]), 0.0);
        // mean 2, sample sd 1
        assert!((cv(&[1.0, 2.0, 3.0]) - 0.5).abs() < 1e-12);
        assert_eq!(cv(&[7.0]), 0.0);
    }
}
