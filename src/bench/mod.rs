//! Benchmarks that pit huntlake against another engine on the same lake, in
//! the same run, and refuse to report a speed-up unless both engines returned
//! the same answers.
//!
//! Timing a query is only meaningful next to proof that it computed the right
//! thing, so every benchmark query comes with a *fingerprint*: a handful of
//! counts and sums over its full result that both engines compute; the
//! timings are printed only beside matching fingerprints, and a mismatch
//! fails the run.
//!
//! # Layout
//! * [`analytics`] — `huntlake bench analytics`: the rarity scores, the
//!   time-window join and `beacon_score` at scale, against DuckDB computing
//!   the same definitions in plain SQL (`duckdb_analytics.py`, embedded);
//! * [`ingest`] — `huntlake bench ingest`: landing a generated Zeek conn
//!   JSON log against DuckDB's `read_json` -> Parquet;
//! * [`wire`] — `huntlake bench wire`: the PostgreSQL endpoint (streaming
//!   and small-query latency) against a real PostgreSQL loaded with the same
//!   flows, driven by psycopg, asyncpg and psql (`wire_clients.py`, embedded);
//! * [`investigate`] — `huntlake bench investigate`: latency of automated
//!   investigations over a deterministic sample of a lake's alerts (no other
//!   engine to compare against; the verdicts of the planted incidents are
//!   printed beside the timings);
//! * this file — what every benchmark shares: [`BenchError`],
//!   [`Fingerprint`] and its comparison, the median and the peak memory.

pub mod analytics;
pub mod ingest;
pub mod wire;
pub mod investigate;

use std::fmt;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::engine::EngineError;
use crate::lake::LakeError;

/// Relative tolerance for floating-point fingerprint values: the engines sum
/// in different orders, so the last bits differ; real differences do not
/// hide below one part in a million.
pub const FLOAT_TOLERANCE: f64 = 1e-6;

/// Why a benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to generate the benchmark lake into {path}: the folder is not empty and has no \
         _state/bench-spec.json, so it may hold a lake that is not ours; pass --lake with an empty \
         or new folder"
    )]
    NotABenchLake { path: String },
    #[error(
        "DuckDB for Python is needed to compare against ({detail}); install it with \
         `pip install duckdb` (and `pip install pyarrow` so results are fetched as Arrow)"
    )]
    DuckDbMissing { detail: String },
    #[error("the DuckDB side of the benchmark failed ({status}); its error is printed above")]
    DuckDbFailed { status: std::process::ExitStatus },
    #[error("the DuckDB side of the benchmark printed unreadable results ({reason}): {output}")]
    DuckDbOutput { reason: String, output: String },
    #[error("huntlake and DuckDB returned different answers for {0}; both fingerprints are printed above")]
    Mismatch(String),
    #[error("huntlake could not run {0}; its error is printed above (are the udfs registered?)")]
    HuntlakeFailed(String),
    #[error("cannot set up the wire benchmark: {0}")]
    WireSetup(String),
    #[error("a wire benchmark client failed: {0}; its error is printed above")]
    WireClient(String),
    #[error(transparent)]
    Investigate(#[from] crate::investigate::InvestigateError),
}

/// One value of a fingerprint: counts compare exactly, sums of floating-point
/// scores within [`FLOAT_TOLERANCE`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FingerprintValue {
    Int(i64),
    Float(f64),
    Null,
}

impl fmt::Display for FingerprintValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FingerprintValue::Int(v) => write!(f, "{v}"),
            FingerprintValue::Float(v) => write!(f, "{v:.9}"),
            FingerprintValue::Null => f.write_str("NULL"),
        }
    }
}

impl FingerprintValue {
    /// Whether two engines' values agree: ints and NULLs exactly, floats
    /// within `tolerance` relative to the larger magnitude (1e-9 absolute near
    /// zero).
    pub fn agrees_with(&self, other: &FingerprintValue, tolerance: f64) -> bool {
        match (*self, *other) {
            (FingerprintValue::Int(a), FingerprintValue::Int(b)) => a == b,
            (FingerprintValue::Float(a), FingerprintValue::Float(b)) => {
                let scale = a.abs().max(b.abs());
                (a - b).abs() <= (tolerance * scale).max(1e-9)
            }
            (FingerprintValue::Null, FingerprintValue::Null) => true,
            _ => false,
        }
    }
}

/// Named summary values of one query result, in the order the fingerprint
/// query returns them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fingerprint(pub Vec<(String, FingerprintValue)>);

/// One fingerprint value on which two engines disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    pub name: String,
    pub left: Option<FingerprintValue>,
    pub right: Option<FingerprintValue>,
}

impl Fingerprint {
    /// Reads the single row of a fingerprint query run by DataFusion: `Int64`
    /// columns are counts, `Float64` columns sums.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Self, String> {
        let batch = match batches.iter().filter(|b| b.num_rows() > 0).collect::<Vec<_>>()[..] {
            [b] if b.num_rows() == 1 => b,
            _ => return Err(format!("expected one row, got {}", batches.iter().map(|b| b.num_rows()).sum::<usize>())),
        };
        let schema = batch.schema();
        let mut values = Vec::with_capacity(batch.num_columns());
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            let value = if column.is_null(0) {
                FingerprintValue::Null
            } else {
                match column.data_type() {
                    DataType::Int64 => FingerprintValue::Int(column.as_primitive::<Int64Type>().value(0)),
                    DataType::Float64 => FingerprintValue::Float(column.as_primitive::<Float64Type>().value(0)),
                    other => return Err(format!("column {} is {other}, not BIGINT or DOUBLE", field.name())),
                }
            };
            values.push((field.name().clone(), value));
        }
        Ok(Fingerprint(values))
    }

    /// Reads a fingerprint from a JSON object of name -> number or null
    /// (integers are counts, numbers with a fraction or exponent sums).
    pub fn from_json(object: &serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let mut values = Vec::with_capacity(object.len());
        for (name, value) in object {
            let v = match value {
                serde_json::Value::Null => FingerprintValue::Null,
                serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => FingerprintValue::Int(i),
                    (None, Some(f)) if n.is_f64() => FingerprintValue::Float(f),
                    _ => return Err(format!("{name} = {n} does not fit a BIGINT")),
                },
                other => return Err(format!("{name} = {other} is not a number")),
            };
            values.push((name.clone(), v));
        }
        Ok(Fingerprint(values))
    }

    pub fn get(&self, name: &str) -> Option<FingerprintValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Every value on which `self` and `other` disagree, including values only
    /// one of them has; empty when they agree.
    pub fn disagreements(&self, other: &Fingerprint, tolerance: f64) -> Vec<Disagreement> {
        let mut out = Vec::new();
        for (name, left) in &self.0 {
            let right = other.get(name);
            if !right.is_some_and(|r| left.agrees_with(&r, tolerance)) {
                out.push(Disagreement { name: name.clone(), left: Some(*left), right });
            }
        }
        for (name, right) in &other.0 {
            if self.get(name).is_none() {
                out.push(Disagreement { name: name.clone(), left: None, right: Some(*right) });
            }
        }
        out
    }
}

/// The median of `values` (the mean of the middle two for an even count);
/// NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Peak resident memory of this process in bytes (`VmHWM` of
/// `/proc/self/status`), where Linux reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Restarts the peak-memory count (`VmHWM`) from the current resident size,
/// so that a peak measured afterwards excludes earlier work; false where the
/// kernel does not allow it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `bytes` in binary units with three significant digits (`1.23 GiB`).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn fp(values: &[(&str, FingerprintValue)]) -> Fingerprint {
        Fingerprint(values.iter().map(|(n, v)| (n.to_string(), *v)).collect())
    }

    use FingerprintValue::{Float, Int, Null};

    #[test]
    fn counts_compare_exactly_and_sums_within_tolerance() {
        let a = fp(&[("n", Int(200_000)), ("sum", Float(123_456.789)), ("none", Null)]);
        let close = fp(&[("n", Int(200_000)), ("sum", Float(123_456.789 * (1.0 + 5e-7))), ("none", Null)]);
        assert!(a.disagreements(&close, FLOAT_TOLERANCE).is_empty());

        let far = fp(&[("n", Int(200_000)), ("sum", Float(123_456.789 * (1.0 + 2e-6))), ("none", Null)]);
        assert_eq!(a.disagreements(&far, FLOAT_TOLERANCE).iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["sum"]);

        let off_by_one = fp(&[("n", Int(200_001)), ("sum", Float(123_456.789)), ("none", Null)]);
        assert_eq!(a.disagreements(&off_by_one, FLOAT_TOLERANCE)[0].name, "n");
    }

    #[test]
    fn nulls_kinds_and_missing_values_disagree() {
        let a = fp(&[("x", Float(0.0)), ("y", Int(3))]);
        // NULL against 0, a count against a float, a value only one side has.
        let b = fp(&[("x", Null), ("y", Float(3.0)), ("z", Int(1))]);
        let names: Vec<_> = a.disagreements(&b, FLOAT_TOLERANCE).into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["x", "y", "z"]);
        // Near zero the tolerance is absolute.
        assert!(Float(0.0).agrees_with(&Float(1e-12), FLOAT_TOLERANCE));
        assert!(!Float(0.0).agrees_with(&Float(1e-6), FLOAT_TOLERANCE));
    }

    #[test]
    fn fingerprint_reads_datafusion_and_json_alike() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("alerts", DataType::Int64, true),
            Field::new("score_sum", DataType::Float64, true),
            Field::new("empty_sum", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![714])),
                Arc::new(Float64Array::from(vec![1234.5])),
                Arc::new(Float64Array::from(vec![None])),
            ],
        )
        .unwrap();
        let from_df = Fingerprint::from_batches(&[batch]).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(r#"{"alerts": 714, "score_sum": 1234.5000001, "empty_sum": null}"#).unwrap();
        let from_py = Fingerprint::from_json(json.as_object().unwrap()).unwrap();
        assert_eq!(from_df.get("alerts"), Some(Int(714)));
        assert_eq!(from_py.get("alerts"), Some(Int(714)));
        assert_eq!(from_py.get("empty_sum"), Some(Null));
        assert!(from_df.disagreements(&from_py, FLOAT_TOLERANCE).is_empty());
        // Python prints whole floats as 2.0: still a float, not a count.
        let json: serde_json::Value = serde_json::from_str(r#"{"s": 2.0}"#).unwrap();
        assert_eq!(Fingerprint::from_json(json.as_object().unwrap()).unwrap().get("s"), Some(Float(2.0)));
    }

    #[test]
    fn fingerprint_needs_exactly_one_row() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let two = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
        assert!(Fingerprint::from_batches(&[two]).is_err());
        assert!(Fingerprint::from_batches(&[]).is_err());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn bytes_are_formatted_in_binary_units() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3 * 1024 * 1024 / 2), "1.50 MiB");
    }
}
