//! Small helpers the investigation queries share: SQL literals that keep
//! lake pruning working (timestamps as `TIMESTAMP '...'` literals, escaped
//! strings) and reading small query results as rows of `ScalarValue`s.
//!
//! Investigations run many small, pruned queries whose results are a few
//! hundred rows at most; reading them as scalars keeps every check short.

use arrow::array::RecordBatch;
use chrono::{DateTime, SecondsFormat, Utc};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::InvestigateError;

/// One result row.
pub type Row = Vec<ScalarValue>;

/// A string literal with quotes escaped.
pub fn s(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A UTC timestamp literal the lake catalog turns into `date=` pruning.
pub fn t(time: DateTime<Utc>) -> String {
    format!("TIMESTAMP '{}'", time.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// `(a, b, c)` of string literals; `('')` for an empty list so SQL stays valid.
pub fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let parts: Vec<String> = items.into_iter().map(|x| s(x)).collect();
    if parts.is_empty() {
        "('')".into()
    } else {
        format!("({})", parts.join(", "))
    }
}

/// Runs `sql` and returns its rows.
pub async fn rows(ctx: &SessionContext, what: &'static str, sql: &str) -> Result<Vec<Row>, InvestigateError> {
    let err = |source| InvestigateError::Query { what, source: Box::new(source) };
    tracing::trace!(what, sql, "Investigation query.");
    let started = std::time::Instant::now();
    let batches: Vec<RecordBatch> = ctx.sql(sql).await.map_err(err)?.collect().await.map_err(err)?;
    let mut out = Vec::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            let mut row = Vec::with_capacity(b.num_columns());
            for c in b.columns() {
                row.push(ScalarValue::try_from_array(c, i).map_err(err)?);
            }
            out.push(row);
        }
    }
    tracing::debug!(what, rows = out.len(), ms = started.elapsed().as_secs_f64() * 1e3, "Investigation query done.");
    Ok(out)
}

/// Text of a value (empty for NULL).
pub fn text(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Utf8(Some(x)) | ScalarValue::LargeUtf8(Some(x)) | ScalarValue::Utf8View(Some(x)) => x.clone(),
        v if v.is_null() => String::new(),
        v => v.to_string(),
    }
}

/// Text of a value, `None` for NULL or empty.
pub fn opt_text(v: &ScalarValue) -> Option<String> {
    Some(text(v)).filter(|x| !x.is_empty())
}

/// A number as f64 (0 for NULL or non-numbers).
pub fn num(v: &ScalarValue) -> f64 {
    match v {
        ScalarValue::Float64(Some(x)) => *x,
        ScalarValue::Float32(Some(x)) => f64::from(*x),
        ScalarValue::Int64(Some(x)) => *x as f64,
        ScalarValue::Int32(Some(x)) => f64::from(*x),
        ScalarValue::UInt64(Some(x)) => *x as f64,
        ScalarValue::UInt32(Some(x)) => f64::from(*x),
        ScalarValue::Int16(Some(x)) => f64::from(*x),
        ScalarValue::Decimal128(Some(x), _, scale) => *x as f64 / 10f64.powi(i32::from(*scale)),
        _ => 0.0,
    }
}

/// An integer (0 for NULL).
pub fn int(v: &ScalarValue) -> i64 {
    num(v) as i64
}

/// A timestamp as microseconds since the epoch, whatever its unit.
pub fn micros(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampMicrosecond(Some(x), _) => Some(*x),
        ScalarValue::TimestampNanosecond(Some(x), _) => Some(x / 1_000),
        ScalarValue::TimestampMillisecond(Some(x), _) => Some(x * 1_000),
        ScalarValue::TimestampSecond(Some(x), _) => Some(x * 1_000_000),
        _ => None,
    }
}

/// A timestamp value as a UTC time.
pub fn time(v: &ScalarValue) -> Option<DateTime<Utc>> {
    micros(v).and_then(DateTime::from_timestamp_micros)
}

/// Strings of a list value (e.g. `techniques`).
pub fn strings(v: &ScalarValue) -> Vec<String> {
    match v {
        ScalarValue::List(arr) if !arr.is_empty() && arr.is_valid(0) => {
            let values = arr.value(0);
            (0..values.len())
                .filter_map(|i| ScalarValue::try_from_array(&values, i).ok())
                .map(|x| text(&x))
                .filter(|x| !x.is_empty())
                .collect()
        }
        _ => vec![],
    }
}

use arrow::array::Array;
