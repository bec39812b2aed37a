//! Retro-hunts: run detections over a historical range, one time chunk at a
//! time (so memory is bounded by a chunk's data), land the hits under a run
//! id derived from the range and the detections, and summarise the noise
//! reduction (raw EDR alerts in range vs detections emitted).

use std::collections::BTreeMap;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use chrono::{DateTime, Duration, Utc};

use super::{hits, DetectError, Detection};
use crate::engine::Engine;
use crate::lake::{schema, LakeWriter};

/// What to hunt.
#[derive(Debug, Clone)]
pub struct HuntOptions {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Length of one chunk (default one day).
    pub chunk: Duration,
}

/// What a hunt found.
#[derive(Debug, Clone)]
pub struct HuntSummary {
    pub run_id: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub raw_alerts: i64,
    /// Hits per detection name (every selected detection, zero included).
    pub per_detection: BTreeMap<String, usize>,
    pub chunks: usize,
    pub seconds: f64,
    /// All hits, in the `detections` table's schema.
    pub hits: RecordBatch,
}

impl HuntSummary {
    pub fn total(&self) -> usize {
        self.per_detection.values().sum()
    }

    /// Raw alerts per detection emitted (how much quieter the stream is).
    pub fn reduction(&self) -> Option<f64> {
        (self.total() > 0).then(|| self.raw_alerts as f64 / self.total() as f64)
    }
}

/// The run id of a hunt: the same range and detections give the same id, so
/// hunting again replaces the earlier hits.
pub fn run_id(from: DateTime<Utc>, to: DateTime<Utc>, detections: &[&Detection], all: bool) -> String {
    let fmt = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let which = if all {
        "all".to_string()
    } else {
        let mut ids: Vec<&str> = detections.iter().map(|d| d.header.id.as_str()).collect();
        ids.sort();
        // FNV-1a: stable across builds and platforms, unlike DefaultHasher.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in ids.join(",").bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    };
    format!("hunt-{}-{}-{which}", fmt(from), fmt(to))
}

/// Runs `detections` over the range and lands their hits.
pub async fn hunt(
    engine: &Engine,
    detections: &[&Detection],
    all: bool,
    options: &HuntOptions,
) -> Result<HuntSummary, DetectError> {
    if options.from >= options.to {
        return Err(DetectError::Range(format!("--from {} is not before --to {}", options.from, options.to)));
    }
    if options.chunk <= Duration::zero() {
        return Err(DetectError::Range("the chunk length must be positive".into()));
    }
    let started = Instant::now();
    let run_id = run_id(options.from, options.to, detections, all);
    let ctx = engine.session();
    let mut per_detection: BTreeMap<String, usize> = detections.iter().map(|d| (d.name.clone(), 0)).collect();
    let mut all_hits = Vec::new();
    let chunks = chunk_bounds(options.from, options.to, options.chunk);
    for (i, (c0, c1)) in chunks.iter().enumerate() {
        let mut in_chunk = 0;
        for d in detections {
            let batch = hits::run(&ctx, d, *c0, *c1, &run_id).await?;
            *per_detection.get_mut(&d.name).expect("initialised") += batch.num_rows();
            in_chunk += batch.num_rows();
            all_hits.push(batch);
        }
        tracing::info!(
            progress = format!("{}/{}", i + 1, chunks.len()),
            from = %c0,
            to = %c1,
            hits = in_chunk,
            "Hunted chunk."
        );
    }
    let hits = concat_batches(&schema::detections(), &all_hits)?;
    hits::land_run(&LakeWriter::new(engine.lake().clone()), &hits, &run_id).await?;
    let raw_alerts = count_alerts(engine, options.from, options.to).await?;
    Ok(HuntSummary {
        run_id,
        from: options.from,
        to: options.to,
        raw_alerts,
        per_detection,
        chunks: chunks.len(),
        seconds: started.elapsed().as_secs_f64(),
        hits,
    })
}

/// Chunks of `[from, to)` aligned to multiples of `chunk` since the epoch
/// (UTC days for the default), clipped to the range.
pub fn chunk_bounds(from: DateTime<Utc>, to: DateTime<Utc>, chunk: Duration) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let step = chunk.num_microseconds().unwrap_or(i64::MAX).max(1);
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let aligned_next = (start.timestamp_micros().div_euclid(step) + 1) * step;
        let next = DateTime::from_timestamp_micros(aligned_next).map_or(to, |n| n.min(to));
        out.push((start, next));
        start = next;
    }
    out
}

async fn count_alerts(engine: &Engine, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64, DetectError> {
    let sql = format!(
        "SELECT count(*) FROM edr_alerts WHERE time >= TIMESTAMP '{}' AND time < TIMESTAMP '{}'",
        from.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        to.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    let batches = engine.session().sql(&sql).await?.collect().await?;
    let n = batches
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<arrow::array::Int64Array>().map(|a| a.value(0)))
        .unwrap_or(0);
    Ok(n)
}

/// Parses `2026-11-03`, `2026-11-03T10:00:00Z` or `2026-11-03 10:00:00` (UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, DetectError> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(naive.and_utc());
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(DetectError::Range(format!("cannot read time {text:?}; use 2026-11-03 or 2026-11-03T10:00:00Z")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_align_to_days_and_cover_the_range() {
        let c = chunk_bounds(parse_time("2026-11-02T12:00:00Z").unwrap(), parse_time("2026-11-04").unwrap(), Duration::days(1));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].1, parse_time("2026-11-03").unwrap());
        assert_eq!(c[1], (parse_time("2026-11-03").unwrap(), parse_time("2026-11-04").unwrap()));
    }

    #[test]
    fn times_parse_in_common_forms() {
        assert_eq!(parse_time("2026-11-03").unwrap(), parse_time("2026-11-03T00:00:00Z").unwrap());
        assert_eq!(parse_time("2026-11-03 10:00:00").unwrap(), parse_time("2026-11-03T10:00:00+00:00").unwrap());
        assert!(parse_time("yesterday").is_err());
    }
}
