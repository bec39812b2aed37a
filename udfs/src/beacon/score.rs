//! The beacon score of one group's connections: the formula of
//! `functions.md`, independent of how the connections were collected.

use super::stats::{dur_score, hist_score, regularity, BINS};

/// Groups with this many connections or more are strobes, not beacons.
pub const STROBE_CONNECTIONS: usize = 86_400;

/// Fewer distinct timestamps than this and there is nothing to judge.
pub const MIN_DISTINCT_TIMES: usize = 4;

/// The connections of one group that fell inside their analysis window.
///
/// Times are raw values of the time column (its unit, UTC epoch); `bytes`
/// holds the non-NULL sizes of the same connections, in no particular order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connections {
    pub times: Vec<i64>,
    pub bytes: Vec<i64>,
    /// Smallest `window_start` of the group's rows (`i64::MAX` while empty).
    pub window_start: i64,
    /// Largest `window_end` of the group's rows (`i64::MIN` while empty).
    pub window_end: i64,
}

impl Default for Connections {
    fn default() -> Self {
        Self { times: Vec::new(), bytes: Vec::new(), window_start: i64::MAX, window_end: i64::MIN }
    }
}

impl Connections {
    /// Widens the window to cover `[window_start, window_end)`.
    #[inline]
    pub fn widen_window(&mut self, window_start: i64, window_end: i64) {
        self.window_start = self.window_start.min(window_start);
        self.window_end = self.window_end.max(window_end);
    }

    /// Heap bytes held by the two vectors.
    pub fn allocated_bytes(&self) -> usize {
        (self.times.capacity() + self.bytes.capacity()) * size_of::<i64>()
    }
}

/// Buffers reused from one group to the next, so scoring many small groups
/// allocates only once.
#[derive(Debug, Default)]
pub struct Scratch {
    values: Vec<f64>,
    deviations: Vec<f64>,
}

/// The beacon score of `connections` in [0, 1], or `None` when the group is
/// not eligible (fewer than 4 distinct timestamps, or a strobe).
///
/// `units_per_second` converts the raw times to seconds. Sorts the vectors
/// of `connections` in place.
pub fn beacon_score(connections: &mut Connections, units_per_second: f64, scratch: &mut Scratch) -> Option<f64> {
    let times = &mut connections.times;
    if times.len() < MIN_DISTINCT_TIMES || times.len() >= STROBE_CONNECTIONS {
        return None;
    }
    times.sort_unstable();

    // Intervals in seconds between distinct timestamps.
    let intervals = &mut scratch.values;
    intervals.clear();
    intervals.extend(
        times.windows(2).filter(|w| w[1] != w[0]).map(|w| (w[1] as i128 - w[0] as i128) as f64 / units_per_second),
    );
    if intervals.len() < MIN_DISTINCT_TIMES - 1 {
        return None;
    }
    intervals.sort_unstable_by(f64::total_cmp);
    let ts = regularity(intervals, 1.0, &mut scratch.deviations);

    let ds = if connections.bytes.len() < 3 {
        0.0
    } else {
        connections.bytes.sort_unstable();
        let sizes = &mut scratch.values;
        sizes.clear();
        sizes.extend(connections.bytes.iter().map(|&b| b as f64));
        regularity(sizes, 0.0, &mut scratch.deviations)
    };

    // Every time lies in [window_start, window_end), so the window is not
    // empty and every bin index is below BINS.
    let start = connections.window_start as i128;
    let width = connections.window_end as i128 - start;
    let mut bins = [0u64; BINS];
    for &t in times.iter() {
        let bin = ((t as i128 - start) * BINS as i128 / width) as usize;
        bins[bin.min(BINS - 1)] += 1;
    }
    let hist = hist_score(&bins);
    let first = times[0] as i128;
    let last = times[times.len() - 1] as i128;
    let coverage = (last - first) as f64 / width as f64;
    let dur = dur_score(coverage, &bins);

    Some((ts + ds + hist + dur) / 4.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn day(times: Vec<i64>, bytes: Vec<i64>) -> Connections {
        Connections { times, bytes, window_start: 0, window_end: DAY }
    }

    fn score(mut c: Connections) -> Option<f64> {
        beacon_score(&mut c, 1.0, &mut Scratch::default())
    }

    fn assert_close(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a score");
        assert!((actual - expected).abs() < 1e-12, "expected {expected}, got {actual}");
    }

    #[test]
    fn perfect_minute_beacon_over_a_day_scores_one() {
        let times: Vec<i64> = (0..1440).map(|i| i * 60).collect();
        assert_close(score(day(times, vec![512; 1440])), 1.0);
    }

    #[test]
    fn hourly_beacon_scores_one() {
        // Q1 = Q3: skew 1, MAD 0; one connection per bin; run of 24.
        let times: Vec<i64> = (0..24).map(|i| i * 3600 + 1800).collect();
        assert_close(score(day(times, vec![100; 24])), 1.0);
    }

    #[test]
    fn burst_of_four_minutes() {
        // ts = 1, ds = 1 (sizes 10, 10, 10), hist = 0 (one bin), dur = 1/12.
        let c = day(vec![0, 60, 120, 180], vec![10, 10, 10]);
        assert_close(score(c), (1.0 + 1.0 + 0.0 + 1.0 / 12.0) / 4.0);
    }

    #[test]
    fn fewer_than_three_sizes_give_ds_zero() {
        let c = day(vec![0, 60, 120, 180], vec![10, 10]);
        assert_close(score(c), (1.0 + 0.0 + 0.0 + 1.0 / 12.0) / 4.0);
    }

    #[test]
    fn skewed_intervals_and_zero_sizes() {
        // Intervals 10, 20, 40, 80: Q = 17.5, 30, 50 -> skew 10/13; MAD 15 -> 0.5.
        // Sizes all 0: skew 1, median < 1 -> MAD score 0, ds = 1/2.
        let c = day(vec![0, 10, 30, 70, 150], vec![0; 5]);
        let ts = (10.0 / 13.0 + 0.5) / 2.0;
        assert_close(score(c), (ts + 0.5 + 0.0 + 1.0 / 12.0) / 4.0);
    }

    #[test]
    fn sub_second_intervals_keep_mad_score_one() {
        // Intervals 0.5 s (times in milliseconds): median < 1 -> MAD score 1.
        let mut c =
            Connections { times: vec![0, 500, 1000, 1500], bytes: vec![], window_start: 0, window_end: DAY * 1000 };
        let s = beacon_score(&mut c, 1000.0, &mut Scratch::default());
        assert_close(s, (1.0 + 0.0 + 0.0 + 1.0 / 12.0) / 4.0);
    }

    #[test]
    fn fewer_than_four_distinct_times_is_ineligible() {
        assert_eq!(score(day(vec![0, 60, 120], vec![1, 1, 1])), None);
        assert_eq!(score(day(vec![0, 60, 60, 120, 120, 0], vec![1; 6])), None);
        assert_eq!(score(day(vec![], vec![])), None);
    }

    #[test]
    fn zero_intervals_are_removed() {
        // Duplicated timestamps add no zero intervals: the same ts as without
        // them, but they count in the histogram and as sizes.
        let with_dups = score(day(vec![0, 0, 60, 120, 120, 180], vec![]));
        assert_close(with_dups, (1.0 + 0.0 + 0.0 + 1.0 / 12.0) / 4.0);
    }

    #[test]
    fn strobes_are_ineligible() {
        let strobe: Vec<i64> = (0..STROBE_CONNECTIONS as i64).collect();
        assert_eq!(score(day(strobe.clone(), vec![])), None);
        let almost = strobe[..STROBE_CONNECTIONS - 1].to_vec();
        assert!(score(day(almost, vec![])).is_some());
    }

    #[test]
    fn wrapping_run_counts_as_one() {
        // 00:30, 01:30, 22:30, 23:30: intervals 3600, 75600, 3600 -> Q2 = Q1,
        // MAD 0: ts = 1; sizes constant: ds = 1; four single bins: cv = sqrt(5);
        // coverage 23/24 beats the wrapped run of 4 (4/12).
        let times = vec![1800, 5400, 81000, 84600];
        assert_close(score(day(times, vec![500; 4])), (1.0 + 1.0 + 0.0 + 23.0 / 24.0) / 4.0);
    }

    #[test]
    fn random_times_score_low() {
        // A fixed pseudo-random walk: irregular gaps and sizes.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut times: Vec<i64> = (0..40).map(|_| (next() % DAY as u64) as i64).collect();
        times.sort();
        let bytes: Vec<i64> = (0..40).map(|_| (next() % 1_000_000) as i64).collect();
        let s = score(day(times, bytes)).unwrap();
        assert!(s < 0.6, "random traffic scored {s}");
    }
}
