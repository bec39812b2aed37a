//! One version per alert in the lake's `edr_alerts` files.
//!
//! Vendors change alerts after creating them (status, verdict), so the same
//! (`vendor`, `alert_id`) arrives again with a newer `updated_time`. The
//! lake contract keeps only the newest version in the files and requires
//! that a reader never sees two versions, nor none. [`AlertStore`] keeps an
//! index of (vendor, alert_id) -> (updated_time, part file), built from the
//! lake when a run starts, and lands each batch so that:
//!
//! * a version that is not newer than the one in the lake is dropped
//!   (re-polled overlap windows and retries after a crash are no-ops);
//! * a brand-new alert goes into a new part file;
//! * a newer version of an alert replaces the part file that holds the old
//!   one: the file is rewritten with the old version swapped for the new
//!   one and renamed over the original, a single atomic step, because an
//!   alert's `time` (hence its `date=` folder) does not change between
//!   versions. If a vendor does move `time` to another day, the new version
//!   is landed first and the old file rewritten right after.
//!
//! On load, copies of one alert left by an interrupted rewrite (or written
//! by another tool) are repaired the same way: only the newest stays.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::TimestampMicrosecondType;
use object_store::path::Path;
use object_store::ObjectStoreExt;

use super::alerts::{rows_to_batch, AlertRow};
use super::{state_err, ConnectorError};
use crate::lake::parts::{list_parts, read_part};
use crate::lake::{schema, LakeLocation, LakeWriter};

const TABLE: &str = "edr_alerts";

type Key = (String, String);

#[derive(Debug, Clone)]
struct Entry {
    updated: i64,
    file: Path,
}

/// What landing one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LandOutcome {
    /// Alerts the lake did not have.
    pub inserted: u64,
    /// Newer versions that replaced an older one.
    pub updated: u64,
    /// Versions the lake already had (or older ones): dropped.
    pub unchanged: u64,
}

/// The index of alert versions in one lake, and the landing rules.
pub struct AlertStore {
    lake: LakeLocation,
    writer: LakeWriter,
    index: HashMap<Key, Entry>,
}

impl AlertStore {
    /// Reads (vendor, alert_id, updated_time) of every `edr_alerts` part file
    /// and repairs alerts found in more than one version.
    pub async fn open(lake: &LakeLocation) -> Result<Self, ConnectorError> {
        let mut store = Self { lake: lake.clone(), writer: LakeWriter::new(lake.clone()), index: HashMap::new() };
        let mut stale: BTreeMap<Path, HashSet<Key>> = BTreeMap::new();
        for file in list_parts(lake, TABLE).await.map_err(land_err)? {
            let batch = read_part(lake, TABLE, &file, Some(&["vendor", "alert_id", "updated_time"])).await.map_err(land_err)?;
            let Some(batch) = batch.filter(|b| b.num_rows() > 0) else { continue };
            let (vendor, id, updated) = key_columns(&batch).map_err(|r| state_err("read", &file, r))?;
            for i in 0..batch.num_rows() {
                let key = (vendor.value(i).to_string(), id.value(i).to_string());
                let entry = Entry { updated: updated.value(i), file: file.clone() };
                match store.index.get(&key) {
                    Some(old) if old.updated >= entry.updated => {
                        stale.entry(file.clone()).or_default().insert(key);
                    }
                    Some(old) => {
                        stale.entry(old.file.clone()).or_default().insert(key.clone());
                        store.index.insert(key, entry);
                    }
                    None => {
                        store.index.insert(key, entry);
                    }
                }
            }
        }
        for (file, keys) in stale {
            tracing::warn!(path = %file, alerts = keys.len(), "Found superseded alert versions; removing them.");
            store.rewrite_without(&file, &keys, None).await?;
        }
        tracing::debug!(alerts = store.index.len(), "Alert version index loaded.");
        Ok(store)
    }

    /// Lands `rows` so that the lake holds exactly the newest version of
    /// each alert. Durable when it returns `Ok`.
    pub async fn land(&mut self, rows: Vec<AlertRow>, ingest_time: i64) -> Result<LandOutcome, ConnectorError> {
        let mut outcome = LandOutcome::default();
        // Newest version per alert within the batch.
        let mut newest: HashMap<Key, AlertRow> = HashMap::new();
        for row in rows {
            let key = (row.vendor.to_string(), row.alert_id.clone());
            match newest.get(&key) {
                Some(have) if have.updated_time >= row.updated_time => outcome.unchanged += 1,
                Some(_) => {
                    outcome.unchanged += 1;
                    newest.insert(key, row);
                }
                None => {
                    newest.insert(key, row);
                }
            }
        }
        let mut fresh: Vec<AlertRow> = Vec::new();
        let mut replacing: BTreeMap<Path, Vec<AlertRow>> = BTreeMap::new();
        for (key, row) in newest {
            match self.index.get(&key) {
                Some(e) if e.updated >= row.updated_time => outcome.unchanged += 1,
                Some(e) => {
                    outcome.updated += 1;
                    replacing.entry(e.file.clone()).or_default().push(row);
                }
                None => {
                    outcome.inserted += 1;
                    fresh.push(row);
                }
            }
        }

        // New versions whose day differs from their old file's go out with
        // the fresh alerts first; the old files are rewritten afterwards.
        let mut moved: BTreeMap<Path, HashSet<Key>> = BTreeMap::new();
        for (file, rows) in replacing.iter_mut() {
            let day = date_of_part(file);
            let (same, other): (Vec<AlertRow>, Vec<AlertRow>) = rows.drain(..).partition(|r| Some(day_of(r.time)) == day);
            for r in other {
                moved.entry(file.clone()).or_default().insert((r.vendor.to_string(), r.alert_id.clone()));
                fresh.push(r);
            }
            *rows = same;
        }
        if !fresh.is_empty() {
            fresh.sort_by(|a, b| (&a.entity, a.time).cmp(&(&b.entity, b.time)));
            let batch = rows_to_batch(&fresh, ingest_time).map_err(|e| land_err(e.into()))?;
            let landed = self.writer.write(TABLE, &batch).await.map_err(land_err)?;
            for r in &fresh {
                let day = day_of(r.time);
                let file = landed.iter().find(|f| f.date == Some(day)).expect("a part per day").path.clone();
                self.index.insert((r.vendor.to_string(), r.alert_id.clone()), Entry { updated: r.updated_time, file });
            }
        }
        for (file, rows) in replacing {
            let mut remove: HashSet<Key> = rows.iter().map(|r| (r.vendor.to_string(), r.alert_id.clone())).collect();
            remove.extend(moved.remove(&file).unwrap_or_default());
            let batch = (!rows.is_empty())
                .then(|| rows_to_batch(&rows, ingest_time))
                .transpose()
                .map_err(|e| land_err(e.into()))?;
            self.rewrite_without(&file, &remove, batch.as_ref()).await?;
            for r in rows {
                self.index.insert((r.vendor.to_string(), r.alert_id.clone()), Entry { updated: r.updated_time, file: file.clone() });
            }
        }
        for (file, keys) in moved {
            self.rewrite_without(&file, &keys, None).await?;
        }
        Ok(outcome)
    }

    /// Replaces `file` by its rows minus `remove`, plus `add`, atomically
    /// (same name, written aside and renamed over); deletes it when nothing
    /// is left.
    async fn rewrite_without(&self, file: &Path, remove: &HashSet<Key>, add: Option<&RecordBatch>) -> Result<(), ConnectorError> {
        let Some(old) = read_part(&self.lake, TABLE, file, None).await.map_err(land_err)? else {
            if add.is_none() {
                return Ok(()); // nothing left to remove
            }
            // Replaced behind our back (a compaction): landing the new version
            // elsewhere could leave two versions. Nothing has moved yet, so
            // the next poll re-reads this alert against a fresh index.
            return Err(state_err(
                "rewrite",
                file,
                "the part file holding the previous version is gone (is `huntlake compact` running on this lake?); run the ingest again",
            ));
        };
        let (vendor, id, _) = key_columns(&old).map_err(|r| state_err("read", file, r))?;
        let keep: BooleanArray =
            (0..old.num_rows()).map(|i| Some(!remove.contains(&(vendor.value(i).to_string(), id.value(i).to_string())))).collect();
        let kept = filter_record_batch(&old, &keep).map_err(|e| land_err(e.into()))?;
        let mut parts = vec![kept];
        if let Some(a) = add {
            parts.push(a.clone());
        }
        let merged = concat_batches(&schema::edr_alerts(), &parts).map_err(|e| land_err(e.into()))?;
        if merged.num_rows() == 0 {
            self.lake.store.delete(file).await.map_err(|e| state_err("delete", file, e))?;
            return Ok(());
        }
        let stem = file.filename().and_then(|n| n.strip_suffix(".parquet")).unwrap_or("part").to_string();
        let landed = self.writer.write_named(TABLE, &merged, &stem).await.map_err(land_err)?;
        debug_assert!(landed.iter().all(|f| &f.path == file), "rewrites stay in their folder");
        Ok(())
    }
}

fn day_of(time_us: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_micros(time_us).map(|t| t.date_naive()).unwrap_or_default()
}

/// The `date=` folder of a part file.
fn date_of_part(file: &Path) -> Option<chrono::NaiveDate> {
    file.parts()
        .find_map(|p| p.as_ref().strip_prefix("date=").and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()))
}

fn key_columns(batch: &RecordBatch) -> Result<(StringArray, StringArray, arrow::array::TimestampMicrosecondArray), String> {
    let text = |name: &str| -> Result<StringArray, String> {
        let c = batch.column_by_name(name).ok_or_else(|| format!("no column {name}"))?;
        let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).map_err(|e| e.to_string())?;
        Ok(c.as_string::<i32>().clone())
    };
    let updated = batch.column_by_name("updated_time").ok_or("no column updated_time")?;
    let updated = arrow::compute::cast(updated, &schema::timestamp_type()).map_err(|e| e.to_string())?;
    let updated = updated.as_primitive::<TimestampMicrosecondType>().clone();
    let (vendor, id) = (text("vendor")?, text("alert_id")?);
    if vendor.null_count() + id.null_count() + updated.null_count() > 0 {
        return Err("NULL vendor, alert_id or updated_time".into());
    }
    Ok((vendor, id, updated))
}

fn land_err(source: crate::lake::LakeError) -> ConnectorError {
    ConnectorError::Land { sensor: "edr", file: "vendor API".into(), table: TABLE, source: Box::new(source) }
}

