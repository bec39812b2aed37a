//! The statistics `beacon_score` is made of, each exactly as `functions.md`
//! defines it, on plain slices so they can be tested by hand.

/// Number of equal bins the analysis window is cut into for `hist` and `dur`.
pub const BINS: usize = 24;

/// The `quantile_cont` (linear interpolation) quantile of ascending `sorted`:
/// position `q * (n - 1)`, interpolated between its two neighbours.
///
/// `sorted` must not be empty.
pub fn quantile_cont(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let position = q * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let fraction = position - lower as f64;
    sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

/// Q1, Q2 (the median) and Q3 of ascending `sorted`.
pub fn quartiles(sorted: &[f64]) -> [f64; 3] {
    [quantile_cont(sorted, 0.25), quantile_cont(sorted, 0.5), quantile_cont(sorted, 0.75)]
}

/// Bowley skewness turned into a score: 1 for a symmetric distribution.
///
/// Taken as 1 when the quartiles are too close for the skewness to mean
/// anything (`Q3 - Q1 < 10`) or when the median sits on a quartile.
pub fn skew_score([q1, q2, q3]: [f64; 3]) -> f64 {
    if q3 - q1 < 10.0 || q2 == q1 || q2 == q3 {
        return 1.0;
    }
    1.0 - ((q1 + q3 - 2.0 * q2) / (q3 - q1)).abs()
}

/// The median absolute deviation of ascending `sorted` around `median`,
/// using `scratch` for the deviations.
pub fn mad(sorted: &[f64], median: f64, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend(sorted.iter().map(|v| (v - median).abs()));
    scratch.sort_unstable_by(f64::total_cmp);
    quantile_cont(scratch, 0.5)
}

/// Dispersion turned into a score: 1 when every value equals the median,
/// falling to 0 as the MAD reaches the median. `small_median` is the score
/// when `median < 1`, where the ratio is meaningless.
pub fn mad_score(median: f64, mad: f64, small_median: f64) -> f64 {
    if median < 1.0 {
        return small_median;
    }
    ((median - mad) / median).max(0.0)
}

/// `(skew_score + mad_score) / 2` of ascending `sorted`: the `ts` and `ds`
/// components. `small_median` is the MAD score when the median is below 1
/// (1 for intervals, 0 for sizes).
pub fn regularity(sorted: &[f64], small_median: f64, scratch: &mut Vec<f64>) -> f64 {
    let quartiles = quartiles(sorted);
    let median = quartiles[1];
    let mad = mad(sorted, median, scratch);
    (skew_score(quartiles) + mad_score(median, mad, small_median)) / 2.0
}

/// `max(0, 1 - cv)` of the bin counts, with `cv = stddev_pop / mean`:
/// 1 when every bin holds the same number of connections.
pub fn hist_score(bins: &[u64; BINS]) -> f64 {
    let n = BINS as f64;
    let mean = bins.iter().sum::<u64>() as f64 / n;
    if mean == 0.0 {
        return 0.0;
    }
    let variance = bins.iter().map(|&c| (c as f64 - mean).powi(2)).sum::<f64>() / n;
    (1.0 - variance.sqrt() / mean).max(0.0)
}

/// The longest run of consecutive non-empty bins, where the last bin is
/// followed by the first (a beacon running from 22:00 to 02:00 is one run).
pub fn longest_circular_run(bins: &[u64; BINS]) -> usize {
    let Some(empty) = bins.iter().position(|&c| c == 0) else {
        return BINS;
    };
    // Starting just after an empty bin, no run crosses the starting point.
    let (mut longest, mut current) = (0, 0);
    for i in 1..=BINS {
        if bins[(empty + i) % BINS] == 0 {
            current = 0;
        } else {
            current += 1;
            longest = longest.max(current);
        }
    }
    longest
}

/// `min(1, max(coverage, longest circular run / 12))`.
pub fn dur_score(coverage: f64, bins: &[u64; BINS]) -> f64 {
    let consistency = longest_circular_run(bins) as f64 / (BINS / 2) as f64;
    coverage.max(consistency).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bins_with(nonempty: &[usize]) -> [u64; BINS] {
        let mut bins = [0; BINS];
        for &b in nonempty {
            bins[b] = 1;
        }
        bins
    }

    #[test]
    fn quantile_cont_interpolates_like_the_sql_function() {
        let v = [10.0, 20.0, 40.0, 80.0];
        assert_eq!(quantile_cont(&v, 0.25), 17.5);
        assert_eq!(quantile_cont(&v, 0.5), 30.0);
        assert_eq!(quantile_cont(&v, 0.75), 50.0);
        assert_eq!(quantile_cont(&[7.0], 0.75), 7.0);
        assert_eq!(quartiles(&[1.0, 2.0, 3.0, 4.0, 5.0]), [2.0, 3.0, 4.0]);
    }

    #[test]
    fn skew_score_special_cases() {
        // Q3 - Q1 < 10: too narrow to judge.
        assert_eq!(skew_score([1.0, 2.0, 9.0]), 1.0);
        // The median on a quartile.
        assert_eq!(skew_score([10.0, 10.0, 100.0]), 1.0);
        assert_eq!(skew_score([10.0, 100.0, 100.0]), 1.0);
        // Symmetric.
        assert_eq!(skew_score([10.0, 20.0, 30.0]), 1.0);
        // (17.5 + 50 - 60) / 32.5 = 3/13.
        assert!((skew_score([17.5, 30.0, 50.0]) - 10.0 / 13.0).abs() < 1e-15);
        // Exactly 10 apart is judged.
        assert!((skew_score([0.0, 1.0, 10.0]) - 0.2).abs() < 1e-15);
    }

    #[test]
    fn mad_and_its_score() {
        let mut scratch = Vec::new();
        // |d - 30| = 20, 10, 10, 50 -> median 15.
        assert_eq!(mad(&[10.0, 20.0, 40.0, 80.0], 30.0, &mut scratch), 15.0);
        assert_eq!(mad_score(30.0, 15.0, 1.0), 0.5);
        assert_eq!(mad_score(30.0, 45.0, 1.0), 0.0);
        // Below 1 the ratio is meaningless: intervals score 1, sizes 0.
        assert_eq!(mad_score(0.5, 0.0, 1.0), 1.0);
        assert_eq!(mad_score(0.0, 0.0, 0.0), 0.0);
        assert_eq!(mad_score(1.0, 0.0, 0.0), 1.0);
    }

    #[test]
    fn regularity_of_constant_values_is_one() {
        let mut scratch = Vec::new();
        assert_eq!(regularity(&[60.0; 5], 1.0, &mut scratch), 1.0);
        assert_eq!(regularity(&[0.0; 5], 1.0, &mut scratch), 1.0);
        // Constant zero sizes: symmetric but the MAD score is 0.
        assert_eq!(regularity(&[0.0; 5], 0.0, &mut scratch), 0.5);
    }

    #[test]
    fn hist_score_of_even_and_single_bin() {
        assert_eq!(hist_score(&[3; BINS]), 1.0);
        assert_eq!(hist_score(&[0; BINS]), 0.0);
        // One non-empty bin: cv = sqrt(23) > 1.
        assert_eq!(hist_score(&bins_with(&[5])), 0.0);
        // Half the bins: cv = 1.
        let half: Vec<usize> = (0..12).collect();
        assert!(hist_score(&bins_with(&half)).abs() < 1e-15);
        // 18 of 24 bins: mean 3/4, stddev sqrt(3)/4, cv = 1/sqrt(3).
        let most: Vec<usize> = (0..18).collect();
        assert!((hist_score(&bins_with(&most)) - (1.0 - 1.0 / 3f64.sqrt())).abs() < 1e-15);
    }

    #[test]
    fn longest_run_wraps_around_midnight() {
        assert_eq!(longest_circular_run(&[0; BINS]), 0);
        assert_eq!(longest_circular_run(&[1; BINS]), 24);
        assert_eq!(longest_circular_run(&bins_with(&[3])), 1);
        assert_eq!(longest_circular_run(&bins_with(&[22, 23, 0, 1])), 4);
        assert_eq!(longest_circular_run(&bins_with(&[0, 1, 2, 5, 6, 23])), 4);
        let all_but_one: Vec<usize> = (0..BINS).filter(|&b| b != 7).collect();
        assert_eq!(longest_circular_run(&bins_with(&all_but_one)), 23);
    }

    #[test]
    fn dur_takes_the_better_of_coverage_and_consistency() {
        assert_eq!(dur_score(0.5, &bins_with(&[0, 1, 2])), 0.5);
        assert_eq!(dur_score(0.0, &bins_with(&[0, 1, 2])), 0.25);
        assert_eq!(dur_score(0.9, &[1; BINS]), 1.0);
    }
}
