//! A brute-force `beacon_score`, written straight from the text of
//! `functions.md` with plain sorted vectors and no shared code, to check the
//! aggregate against.

/// One input row, raw values in the unit of the time column.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub time: Option<i64>,
    pub bytes: Option<i64>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

fn quantile_cont(sorted: &[f64], p: f64) -> f64 {
    let position = p * (sorted.len() as f64 - 1.0);
    let lo = position.floor() as usize;
    let hi = position.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo as f64)
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

/// skew_score and mad_score of `values`; `mad_when_small` applies when the
/// median is below 1.
fn skew_and_mad(values: Vec<f64>, mad_when_small: f64) -> (f64, f64) {
    let v = sorted(values);
    let q1 = quantile_cont(&v, 0.25);
    let q2 = quantile_cont(&v, 0.5);
    let q3 = quantile_cont(&v, 0.75);
    let skew =
        if q3 - q1 < 10.0 || q2 == q1 || q2 == q3 { 1.0 } else { 1.0 - ((q1 + q3 - 2.0 * q2) / (q3 - q1)).abs() };
    let median = q2;
    let deviations = sorted(v.iter().map(|d| (d - median).abs()).collect());
    let mad = quantile_cont(&deviations, 0.5);
    let mad_score = if median < 1.0 { mad_when_small } else { f64::max(0.0, (median - mad) / median) };
    (skew, mad_score)
}

/// The score of one group's rows, `None` for NULL.
pub fn beacon_score(rows: &[Row], units_per_second: f64) -> Option<f64> {
    // Rows count when time and bounds are present and time is in its window.
    let inside: Vec<(i64, Option<i64>, i64, i64)> = rows
        .iter()
        .filter_map(|r| match (r.time, r.start, r.end) {
            (Some(t), Some(s), Some(e)) if s <= t && t < e => Some((t, r.bytes, s, e)),
            _ => None,
        })
        .collect();
    if inside.is_empty() {
        return None;
    }
    let window_start = inside.iter().map(|r| r.2).min().unwrap();
    let window_end = inside.iter().map(|r| r.3).max().unwrap();

    let mut times: Vec<i64> = inside.iter().map(|r| r.0).collect();
    times.sort();
    let mut distinct = times.clone();
    distinct.dedup();
    if distinct.len() < 4 || times.len() >= 86400 {
        return None;
    }

    let intervals: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] as i128 - w[0] as i128) as f64 / units_per_second)
        .filter(|d| *d != 0.0)
        .collect();
    assert!(intervals.len() >= 3);
    let (skew, mad) = skew_and_mad(intervals, 1.0);
    let ts = (skew + mad) / 2.0;

    let sizes: Vec<f64> = inside.iter().filter_map(|r| r.1).map(|b| b as f64).collect();
    let ds = if sizes.len() < 3 {
        0.0
    } else {
        let (skew, mad) = skew_and_mad(sizes, 0.0);
        (skew + mad) / 2.0
    };

    // Bin i is [start + i * width / 24, start + (i + 1) * width / 24).
    let width = window_end as i128 - window_start as i128;
    let counts: Vec<f64> = (0..24i128)
        .map(|i| {
            times
                .iter()
                .filter(|&&t| {
                    let offset = 24 * (t as i128 - window_start as i128);
                    i * width <= offset && offset < (i + 1) * width
                })
                .count() as f64
        })
        .collect();
    assert_eq!(counts.iter().sum::<f64>() as usize, times.len());
    let mean = counts.iter().sum::<f64>() / 24.0;
    let stddev_pop = (counts.iter().map(|c| (c - mean) * (c - mean)).sum::<f64>() / 24.0).sqrt();
    let hist = f64::max(0.0, 1.0 - stddev_pop / mean);

    let coverage = (times[times.len() - 1] as i128 - times[0] as i128) as f64 / width as f64;
    let mut longest = 0;
    for first in 0..24 {
        let run = (0..24).take_while(|k| counts[(first + k) % 24] > 0.0).count();
        longest = longest.max(run);
    }
    let consistency = longest as f64 / 12.0;
    let dur = f64::min(1.0, f64::max(coverage, consistency));

    Some((ts + ds + hist + dur) / 4.0)
}
