//! Reading the lake's part files directly, outside DataFusion: for the
//! writers that must rewrite files (alert upserts, compaction) and so need
//! whole files, their exact paths, and the lake schema whatever tool wrote
//! them.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::Schema;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use super::{schema, LakeError, LakeLocation};

/// Part files of a table, sorted by path (hidden temporary files excluded).
pub async fn list_parts(lake: &LakeLocation, table: &str) -> Result<Vec<Path>, LakeError> {
    Ok(list_all(lake, table).await?.into_iter().filter(is_part).collect())
}

/// Every object under a table's folder, temporary files included.
pub async fn list_all(lake: &LakeLocation, table: &str) -> Result<Vec<Path>, LakeError> {
    let prefix = lake.child(table);
    let listed: Vec<_> = match lake.store.list(Some(&prefix)).try_collect().await {
        Ok(l) => l,
        Err(object_store::Error::NotFound { .. }) => Vec::new(),
        Err(source) => return Err(LakeError::Store { action: "list", path: prefix.to_string(), source }),
    };
    let mut files: Vec<Path> = listed.into_iter().map(|m| m.location).collect();
    files.sort();
    Ok(files)
}

/// A visible Parquet part file (not a writer's hidden temporary file).
pub fn is_part(path: &Path) -> bool {
    path.filename().is_some_and(|n| n.ends_with(".parquet") && !n.starts_with('.'))
}

/// Reads a part file of `table`: the named columns as stored, or (with
/// `None`) every column cast to the lake schema. `None` if the file is gone.
pub async fn read_part(
    lake: &LakeLocation,
    table: &str,
    file: &Path,
    columns: Option<&[&str]>,
) -> Result<Option<RecordBatch>, LakeError> {
    let bytes = match lake.store.get(file).await {
        Ok(r) => r.bytes().await.map_err(|source| LakeError::Store { action: "read", path: file.to_string(), source })?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(source) => return Err(LakeError::Store { action: "read", path: file.to_string(), source }),
    };
    let err = |source| LakeError::Parquet { path: file.to_string(), source };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(err)?;
    let builder = match columns {
        Some(cols) => {
            let mask = ProjectionMask::columns(builder.parquet_schema(), cols.iter().copied());
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder.build().map_err(err)?;
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>()?;
    let Some(first) = batches.first() else {
        return Ok(Some(RecordBatch::new_empty(match columns {
            Some(_) => Arc::new(Schema::empty()),
            None => schema::schema(table).ok_or_else(|| LakeError::UnknownTable(table.into()))?,
        })));
    };
    let batch = concat_batches(&first.schema(), &batches)?;
    match columns {
        Some(_) => Ok(Some(batch)),
        None => conform(table, batch).map(Some),
    }
}

/// Casts a batch to the table's lake schema, column by column by name
/// (files written by DuckDB or Spark differ in list field names and
/// dictionary encoding).
pub fn conform(table: &str, batch: RecordBatch) -> Result<RecordBatch, LakeError> {
    let target = schema::schema(table).ok_or_else(|| LakeError::UnknownTable(table.into()))?;
    let columns = target
        .fields()
        .iter()
        .map(|f| {
            let c = batch.column_by_name(f.name()).ok_or_else(|| LakeError::SchemaMismatch {
                table: table.into(),
                reason: format!("a part file has no column {}", f.name()),
            })?;
            if c.data_type() == f.data_type() {
                return Ok(c.clone());
            }
            arrow::compute::cast(c, f.data_type()).map_err(|e| LakeError::SchemaMismatch {
                table: table.into(),
                reason: format!("column {}: {e}", f.name()),
            })
        })
        .collect::<Result<Vec<_>, LakeError>>()?;
    Ok(RecordBatch::try_new(target, columns)?)
}
