//! Lands record batches into the lake as the contract requires: split by the
//! UTC date of the table's time column into `date=YYYY-MM-DD/` folders, rows
//! sorted by the table's sort key, zstd-compressed Parquet with row-group
//! statistics, written under a temporary name and renamed into place so a
//! reader never sees a partial file.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::{lexsort_to_indices, take_record_batch, SortColumn};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::schema::{self, TableLayout};
use super::{LakeError, LakeLocation};

/// Rows per Parquet row group: small enough that time and entity statistics
/// prune well, large enough for good compression.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// A part file that was landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedFile {
    pub table: String,
    /// `None` for unpartitioned tables (`assets`).
    pub date: Option<NaiveDate>,
    pub path: Path,
    pub rows: usize,
    pub bytes: usize,
}

/// Writes part files into one lake.
#[derive(Debug, Clone)]
pub struct LakeWriter {
    lake: LakeLocation,
}

impl LakeWriter {
    pub fn new(lake: LakeLocation) -> Self {
        Self { lake }
    }

    pub fn location(&self) -> &LakeLocation {
        &self.lake
    }

    /// Lands `batch` into `table` under fresh unique part-file names.
    pub async fn write(&self, table: &str, batch: &RecordBatch) -> Result<Vec<LandedFile>, LakeError> {
        let stem = format!(
            "part-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
            uuid::Uuid::new_v4().simple()
        );
        self.write_named(table, batch, &stem).await
    }

    /// Lands `batch` into `table` as `<stem>.parquet` in each partition it
    /// touches; an existing file of that name is replaced atomically.
    /// Deterministic names are what the demo generator and compaction need.
    pub async fn write_named(
        &self,
        table: &str,
        batch: &RecordBatch,
        stem: &str,
    ) -> Result<Vec<LandedFile>, LakeError> {
        let layout = schema::layout(table).ok_or_else(|| LakeError::UnknownTable(table.into()))?;
        let expected = schema::schema(table).expect("layout implies schema");
        check_schema(table, &expected, batch)?;
        let batch = RecordBatch::try_new(expected, batch.columns().to_vec())?;

        let mut landed = Vec::new();
        for (date, part) in split_by_date(&layout, &batch)? {
            if part.num_rows() == 0 {
                continue;
            }
            let sorted = sort_rows(&layout, &part)?;
            let dir = match date {
                Some(d) => format!("{table}/date={}", d.format("%Y-%m-%d")),
                None => table.to_string(),
            };
            let final_path = self.lake.child(&format!("{dir}/{stem}.parquet"));
            let bytes = encode_parquet(&final_path, &sorted)?;
            let size = bytes.len();
            self.put_atomically(&final_path, bytes).await?;
            tracing::debug!(table, path = %final_path, rows = sorted.num_rows(), "Landed part file.");
            landed.push(LandedFile {
                table: table.to_string(),
                date,
                path: final_path,
                rows: sorted.num_rows(),
                bytes: size,
            });
        }
        Ok(landed)
    }

    /// Writes to a hidden temporary name in the same folder, then renames:
    /// listing ignores files without the `.parquet` suffix, and the rename is
    /// atomic on local file systems (on S3 a PUT is atomic by itself).
    async fn put_atomically(&self, final_path: &Path, bytes: Bytes) -> Result<(), LakeError> {
        let store: &Arc<dyn ObjectStore> = &self.lake.store;
        let file_name = final_path.filename().unwrap_or("part.parquet");
        let parent: Path = final_path
            .parts()
            .take(final_path.parts().count().saturating_sub(1))
            .collect();
        let tmp = parent.join(format!(".{file_name}.{}.tmp", uuid::Uuid::new_v4().simple()));
        store
            .put(&tmp, PutPayload::from_bytes(bytes))
            .await
            .map_err(|source| LakeError::Store { action: "write", path: tmp.to_string(), source })?;
        if let Err(source) = store.rename(&tmp, final_path).await {
            // Best effort: never leave temporary files behind after a failure.
            if let Err(e) = store.delete(&tmp).await {
                tracing::warn!(path = %tmp, error = %e, "Could not remove temporary part file.");
            }
            return Err(LakeError::Store { action: "rename into place", path: final_path.to_string(), source });
        }
        Ok(())
    }
}

fn check_schema(table: &str, expected: &arrow::datatypes::SchemaRef, batch: &RecordBatch) -> Result<(), LakeError> {
    let got = batch.schema();
    let mismatch = |reason: String| LakeError::SchemaMismatch { table: table.into(), reason };
    if got.fields().len() != expected.fields().len() {
        return Err(mismatch(format!(
            "{} columns, expected {}",
            got.fields().len(),
            expected.fields().len()
        )));
    }
    for (g, e) in got.fields().iter().zip(expected.fields()) {
        let same_type = match (g.data_type(), e.data_type()) {
            // Lists may name their element field "item" or "element".
            (arrow::datatypes::DataType::List(a), arrow::datatypes::DataType::List(b)) => {
                a.data_type() == b.data_type()
            }
            (a, b) => a == b,
        };
        if g.name() != e.name() || !same_type {
            return Err(mismatch(format!(
                "column {} {:?}, expected {} {:?}",
                g.name(),
                g.data_type(),
                e.name(),
                e.data_type()
            )));
        }
        if !e.is_nullable() {
            let col = batch.column(batch.schema().index_of(g.name()).expect("same name"));
            if col.null_count() > 0 {
                return Err(mismatch(format!("column {} must not contain NULL", e.name())));
            }
        }
    }
    Ok(())
}

/// Splits rows by the UTC date of the partition column (one group, `None`,
/// for unpartitioned tables). BTreeMap keeps partitions in date order.
fn split_by_date(
    layout: &TableLayout,
    batch: &RecordBatch,
) -> Result<BTreeMap<Option<NaiveDate>, RecordBatch>, LakeError> {
    let mut out = BTreeMap::new();
    let Some(col) = layout.partition_time else {
        out.insert(None, batch.clone());
        return Ok(out);
    };
    let times = batch
        .column_by_name(col)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| LakeError::SchemaMismatch {
            table: layout.name.into(),
            reason: format!("{col} is not a microsecond timestamp"),
        })?;
    let mut rows: BTreeMap<NaiveDate, Vec<u32>> = BTreeMap::new();
    for (i, t) in times.iter().enumerate() {
        let t = t.expect("checked non-null");
        let date = DateTime::from_timestamp_micros(t)
            .ok_or_else(|| LakeError::SchemaMismatch {
                table: layout.name.into(),
                reason: format!("{col} value {t} is out of range"),
            })?
            .date_naive();
        rows.entry(date).or_default().push(i as u32);
    }
    if rows.len() == 1 {
        let date = *rows.keys().next().expect("one key");
        out.insert(Some(date), batch.clone());
        return Ok(out);
    }
    for (date, idx) in rows {
        let part = take_record_batch(batch, &UInt32Array::from(idx))?;
        out.insert(Some(date), part);
    }
    Ok(out)
}

fn sort_rows(layout: &TableLayout, batch: &RecordBatch) -> Result<RecordBatch, LakeError> {
    let columns: Vec<SortColumn> = layout
        .sort_by
        .iter()
        .map(|name| SortColumn {
            values: batch.column_by_name(name).cloned().expect("layout columns exist") as ArrayRef,
            options: None,
        })
        .collect();
    let indices = lexsort_to_indices(&columns, None)?;
    Ok(take_record_batch(batch, &indices)?)
}

fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level")))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("huntlake {}", env!("CARGO_PKG_VERSION")))
        .build()
}

fn encode_parquet(path: &Path, batch: &RecordBatch) -> Result<Bytes, LakeError> {
    let err = |source| LakeError::Parquet { path: path.to_string(), source };
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 4);
    let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(writer_properties())).map_err(err)?;
    writer.write(batch).map_err(err)?;
    writer.close().map_err(err)?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, TimestampMicrosecondArray};

    fn assets_batch() -> RecordBatch {
        RecordBatch::try_new(
            schema::assets(),
            vec![
                Arc::new(StringArray::from(vec!["b", "a"])),
                Arc::new(StringArray::from(vec!["10.0.0.2", "10.0.0.1"])),
                Arc::new(TimestampMicrosecondArray::from(vec![2, 1]).with_timezone("UTC")),
                Arc::new(TimestampMicrosecondArray::from(vec![None, Some(5)]).with_timezone("UTC")),
                Arc::new(StringArray::from(vec!["dhcp", "edr"])),
            ],
        )
        .unwrap()
    }

    #[tokio::test]
    async fn unpartitioned_table_lands_sorted_without_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();
        let files = LakeWriter::new(lake).write_named("assets", &assets_batch(), "p").await.unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].rows, 2);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("assets"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["p.parquet"]);

        let file = std::fs::File::open(dir.path().join("assets/p.parquet")).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let batch = reader.into_iter().next().unwrap().unwrap();
        let entity = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(entity.value(0), "a", "rows are sorted by entity");
    }

    #[tokio::test]
    async fn wrong_schema_is_rejected_with_table_name() {
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();
        let err = LakeWriter::new(lake).write("edr_alerts", &assets_batch()).await.unwrap_err();
        assert!(err.to_string().contains("edr_alerts"), "{err}");
    }
}
