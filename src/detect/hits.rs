//! Runs a detection over a time range and turns its rows into rows of the
//! lake's `detections` table; lands a run's hits so that landing the same
//! run again replaces them instead of adding duplicates.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::DataType;
use chrono::{DateTime, SecondsFormat, Utc};
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;

use super::{DetectError, Detection};
use crate::lake::schema::{self, timestamp_type};
use crate::lake::LakeWriter;

fn ts_literal(t: DateTime<Utc>) -> String {
    format!("TIMESTAMP '{}'", t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// The hits of `detection` whose `time` lies in `[from, to)`, as rows of the
/// `detections` table tagged with `run_id`.
pub async fn run(
    ctx: &SessionContext,
    detection: &Detection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    run_id: &str,
) -> Result<RecordBatch, DetectError> {
    let name = &detection.name;
    let sql = format!(
        "SELECT time, entity, score, summary, evidence FROM {name} WHERE time >= {} AND time < {}",
        ts_literal(from),
        ts_literal(to)
    );
    let query = |source| DetectError::Query { name: name.clone(), source };
    let df = ctx.sql(&sql).await.map_err(query)?;
    let batches = df.collect().await.map_err(query)?;
    let out_schema = schema::detections();
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        let n = b.num_rows();
        let shape = |reason: String| DetectError::Shape { name: name.clone(), reason };
        let col = |i: usize, ty: &DataType| {
            cast(b.column(i), ty).map_err(|e| shape(format!("column {} as {ty}: {e}", b.schema().field(i).name())))
        };
        let time = col(0, &timestamp_type())?;
        let entity = col(1, &DataType::Utf8)?;
        let score = col(2, &DataType::Float64)?;
        let summary = col(3, &DataType::Utf8)?;
        let evidence = col(4, &DataType::Utf8)?;
        // Rows without time or entity cannot be keyed; nulls elsewhere become empty values.
        let keep: Vec<u32> = (0..n as u32)
            .filter(|i| time.is_valid(*i as usize) && entity.is_valid(*i as usize))
            .collect();
        if keep.len() < n {
            tracing::warn!(detection = %name, dropped = n - keep.len(), "Detection rows without time or entity were skipped.");
        }
        let idx = arrow::array::UInt32Array::from(keep);
        let take = |a: &ArrayRef| arrow::compute::take(a.as_ref(), &idx, None);
        let rows = idx.len();
        let score = take(&score)?;
        let score: Float64Array = score
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to Float64")
            .iter()
            .map(|v| Some(v.unwrap_or(0.0).clamp(0.0, 100.0)))
            .collect();
        let text_or_empty = |a: ArrayRef| -> StringArray {
            a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").iter().map(|v| Some(v.unwrap_or(""))).collect()
        };
        let columns: Vec<ArrayRef> = vec![
            take(&time)?,
            Arc::new(StringArray::from(vec![name.as_str(); rows])),
            take(&entity)?,
            Arc::new(Int32Array::from(vec![detection.header.severity.id(); rows])),
            Arc::new(score),
            Arc::new(text_or_empty(take(&summary)?)),
            Arc::new(text_or_empty(take(&evidence)?)),
            Arc::new(StringArray::from(vec![run_id; rows])),
        ];
        out.push(RecordBatch::try_new(out_schema.clone(), columns)?);
    }
    Ok(concat_batches(&out_schema, &out)?)
}

/// Lands the hits of one run as `<run_id>.parquet` in each date folder and
/// removes files of the same run from dates that no longer have hits, so the
/// table holds exactly this run's latest result for it.
pub async fn land_run(writer: &LakeWriter, hits: &RecordBatch, run_id: &str) -> Result<usize, DetectError> {
    let landed = writer.write_named("detections", hits, run_id).await?;
    let lake = writer.location();
    let file_name = format!("{run_id}.parquet");
    let prefix = lake.child("detections");
    let listed: Vec<_> = lake.store.list(Some(&prefix)).try_collect().await.map_err(|e| DetectError::State {
        action: "list",
        path: prefix.to_string(),
        reason: e.to_string(),
    })?;
    for meta in listed {
        let is_this_run = meta.location.filename() == Some(file_name.as_str());
        if is_this_run && !landed.iter().any(|f| f.path == meta.location) {
            lake.store.delete(&meta.location).await.map_err(|e| DetectError::State {
                action: "remove stale hits",
                path: meta.location.to_string(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(hits.num_rows())
}

/// Microsecond timestamps of a `detections` batch's `time` column.
pub fn times(batch: &RecordBatch) -> &TimestampMicrosecondArray {
    batch.column(0).as_any().downcast_ref().expect("detections.time is a microsecond timestamp")
}
