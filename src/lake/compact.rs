//! `huntlake compact`: merges the small part files that incremental
//! ingestion leaves behind, one partition at a time, and drops what must
//! not be there twice: superseded alert versions (newest `updated_time`
//! per (`vendor`, `alert_id`) stays), repeated flows (one row per
//! (`sensor`, `uid`)), identical asset rows.
//!
//! Each partition is replaced in three steps recorded in a journal
//! (`_state/compact/<id>.json`): write the merged file (atomic rename), delete
//! the old files, delete the journal. A crash after the merged file exists
//! is completed by the next run (it deletes the old files the journal
//! names); a crash before that leaves the old files untouched. Hidden
//! temporary files older than an hour (left by crashed writers) are removed.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::row::{RowConverter, SortField};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::parts::{is_part, list_all, read_part};
use super::{schema, LakeError, LakeLocation, LakeWriter};

const JOURNAL_DIR: &str = "_state/compact";
/// Temporary files younger than this may belong to a running writer.
const STALE_TEMP_AGE: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    table: String,
    partition: String,
    new_files: Vec<String>,
    old_files: Vec<String>,
}

/// What compaction did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CompactSummary {
    pub table: String,
    pub partitions_compacted: u64,
    pub files_before: u64,
    pub files_after: u64,
    pub rows_before: u64,
    pub rows_after: u64,
    /// Superseded versions / repeated rows dropped.
    pub duplicates_dropped: u64,
    pub temp_files_removed: u64,
}

impl std::fmt::Display for CompactSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} partition(s) compacted, {} -> {} file(s), {} -> {} row(s), {} duplicate(s) dropped, {} stale temporary file(s) removed",
            self.table,
            self.partitions_compacted,
            self.files_before,
            self.files_after,
            self.rows_before,
            self.rows_after,
            self.duplicates_dropped,
            self.temp_files_removed
        )
    }
}

/// Finishes interrupted compactions, then compacts every partition of
/// `table` that has more than one part file (or, for `edr_alerts` and
/// `network_flows`, any duplicate).
pub async fn compact(lake: &LakeLocation, table: &str) -> Result<CompactSummary, LakeError> {
    schema::layout(table).ok_or_else(|| LakeError::UnknownTable(table.into()))?;
    recover(lake).await?;
    let mut summary = CompactSummary { table: table.into(), ..Default::default() };
    let now = chrono::Utc::now();
    let mut partitions: BTreeMap<String, Vec<Path>> = BTreeMap::new();
    for path in list_all(lake, table).await? {
        let name = path.filename().unwrap_or_default().to_string();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let meta = lake.store.head(&path).await.map_err(|source| store_err("inspect", &path, source))?;
            if now - meta.last_modified > STALE_TEMP_AGE {
                lake.store.delete(&path).await.map_err(|source| store_err("delete", &path, source))?;
                summary.temp_files_removed += 1;
            }
            continue;
        }
        if is_part(&path) {
            let folder = parent_of(&path);
            partitions.entry(folder).or_default().push(path);
        }
    }
    let writer = LakeWriter::new(lake.clone());
    for (folder, files) in partitions {
        let mut batches = Vec::with_capacity(files.len());
        for f in &files {
            if let Some(b) = read_part(lake, table, f, None).await? {
                batches.push(b);
            }
        }
        let all = concat_batches(&schema::schema(table).expect("known table"), &batches)?;
        let deduped = dedupe(table, &all)?;
        let dropped = (all.num_rows() - deduped.num_rows()) as u64;
        summary.files_before += files.len() as u64;
        summary.rows_before += all.num_rows() as u64;
        if files.len() < 2 && dropped == 0 {
            summary.files_after += files.len() as u64;
            summary.rows_after += all.num_rows() as u64;
            continue;
        }
        let stem = format!("compact-{}-{}", now.format("%Y%m%dT%H%M%S"), uuid::Uuid::new_v4().simple());
        let new_path = Path::from(format!("{folder}/{stem}.parquet"));
        let journal = Journal {
            table: table.into(),
            partition: folder.clone(),
            new_files: vec![new_path.to_string()],
            old_files: files.iter().map(ToString::to_string).collect(),
        };
        let journal_path = lake.child(&format!("{JOURNAL_DIR}/{stem}.json"));
        let bytes = serde_json::to_vec_pretty(&journal).expect("journal serialises");
        lake.store.put(&journal_path, PutPayload::from(bytes)).await.map_err(|source| store_err("write", &journal_path, source))?;
        if deduped.num_rows() > 0 {
            let landed = writer.write_named(table, &deduped, &stem).await?;
            if landed.iter().any(|l| l.path != new_path) {
                return Err(LakeError::SchemaMismatch {
                    table: table.into(),
                    reason: format!("rows of {folder} belong to another partition; move the part files back to their date= folder"),
                });
            }
            summary.files_after += 1;
        }
        for f in &files {
            delete_if_exists(lake, f).await?;
        }
        delete_if_exists(lake, &journal_path).await?;
        summary.partitions_compacted += 1;
        summary.rows_after += deduped.num_rows() as u64;
        summary.duplicates_dropped += dropped;
        tracing::info!(table, partition = %folder, files = files.len(), rows = deduped.num_rows(), dropped, "Compacted a partition.");
    }
    Ok(summary)
}

/// Completes or abandons the compactions a crash interrupted.
async fn recover(lake: &LakeLocation) -> Result<(), LakeError> {
    let prefix = lake.child(JOURNAL_DIR);
    let listed: Vec<_> = match futures::TryStreamExt::try_collect::<Vec<_>>(lake.store.list(Some(&prefix))).await {
        Ok(l) => l,
        Err(object_store::Error::NotFound { .. }) => Vec::new(),
        Err(source) => return Err(store_err("list", &prefix, source)),
    };
    for meta in listed {
        let bytes = lake.store.get(&meta.location).await.map_err(|s| store_err("read", &meta.location, s))?;
        let bytes = bytes.bytes().await.map_err(|s| store_err("read", &meta.location, s))?;
        let Ok(journal) = serde_json::from_slice::<Journal>(&bytes) else {
            tracing::warn!(journal = %meta.location, "Unreadable compaction journal; removing it.");
            delete_if_exists(lake, &meta.location).await?;
            continue;
        };
        let mut complete = true;
        for f in &journal.new_files {
            complete &= lake.store.head(&Path::from(f.as_str())).await.is_ok();
        }
        if complete {
            for f in &journal.old_files {
                delete_if_exists(lake, &Path::from(f.as_str())).await?;
            }
            tracing::warn!(table = %journal.table, partition = %journal.partition, "Finished a compaction that was interrupted.");
        }
        delete_if_exists(lake, &meta.location).await?;
    }
    Ok(())
}

/// Keeps one row per key: the newest alert version, the first flow.
fn dedupe(table: &str, batch: &RecordBatch) -> Result<RecordBatch, LakeError> {
    let key_cols: &[&str] = match table {
        "edr_alerts" => &["vendor", "alert_id"],
        "network_flows" => &["sensor", "uid"],
        "assets" => &["entity", "ip", "valid_from", "valid_to", "source"],
        _ => return Ok(batch.clone()),
    };
    let arrays: Vec<_> = key_cols.iter().map(|c| batch.column_by_name(c).expect("schema column").clone()).collect();
    let converter = RowConverter::new(arrays.iter().map(|a| SortField::new(a.data_type().clone())).collect())?;
    let rows = converter.convert_columns(&arrays)?;
    let keep: Vec<bool> = if table == "edr_alerts" {
        let updated = batch.column_by_name("updated_time").expect("schema column").as_primitive::<TimestampMicrosecondType>();
        let mut best: HashMap<arrow::row::Row<'_>, usize> = HashMap::new();
        for i in 0..batch.num_rows() {
            let r = rows.row(i);
            match best.get(&r) {
                Some(&j) if updated.value(j) >= updated.value(i) => {}
                _ => {
                    best.insert(r, i);
                }
            }
        }
        let winners: HashSet<usize> = best.into_values().collect();
        (0..batch.num_rows()).map(|i| winners.contains(&i)).collect()
    } else {
        let mut seen = HashSet::new();
        (0..batch.num_rows()).map(|i| seen.insert(rows.row(i))).collect()
    };
    Ok(filter_record_batch(batch, &BooleanArray::from(keep))?)
}

fn parent_of(path: &Path) -> String {
    let parts: Vec<_> = path.parts().collect();
    parts[..parts.len().saturating_sub(1)].iter().map(|p| p.as_ref()).collect::<Vec<_>>().join("/")
}

async fn delete_if_exists(lake: &LakeLocation, path: &Path) -> Result<(), LakeError> {
    match lake.store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(source) => Err(store_err("delete", path, source)),
    }
}

fn store_err(action: &'static str, path: &Path, source: object_store::Error) -> LakeError {
    LakeError::Store { action, path: path.to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_newest_alert_version_and_first_flow() {
        let alerts = crate::connectors::alerts::rows_to_batch(
            &[row("a", 2), row("a", 5), row("b", 1), row("a", 3)],
            0,
        )
        .unwrap();
        let out = dedupe("edr_alerts", &alerts).unwrap();
        assert_eq!(out.num_rows(), 2);
        let ids = out.column_by_name("alert_id").unwrap().as_string::<i32>();
        let upd = out.column_by_name("updated_time").unwrap().as_primitive::<TimestampMicrosecondType>();
        let got: Vec<_> = (0..2).map(|i| (ids.value(i).to_string(), upd.value(i))).collect();
        assert!(got.contains(&("a".into(), 5)) && got.contains(&("b".into(), 1)), "{got:?}");
    }

    fn row(id: &str, updated: i64) -> crate::connectors::alerts::AlertRow {
        crate::connectors::alerts::AlertRow {
            time: 1,
            updated_time: updated,
            vendor: "mde",
            alert_id: id.into(),
            entity: "e".into(),
            device_id: "d".into(),
            device_ip: None,
            user_name: None,
            title: "t".into(),
            category: None,
            severity: "low",
            techniques: vec![],
            process_name: None,
            command_line: None,
            file_name: None,
            file_sha256: None,
            status: "new",
            console_url: "u".into(),
            raw: "{}".into(),
        }
    }
}
