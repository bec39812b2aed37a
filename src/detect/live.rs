//! Live detection: evaluate the detections over newly landed data in cycles.
//!
//! Each cycle looks back `lookback` before the previous watermark, so data
//! that lands late (within the look-back) is still detected; a hit is keyed
//! by (detection, entity, time) and reported once. Per (detection, entity)
//! hits within `suppress` of the last reported one are dropped. New hits are
//! landed in the `detections` table (run id `live`) and queued for webhooks.
//!
//! Exactly once: the state file (`<lake>/_state/detect/live.json`) records
//! the part file a cycle is about to land before landing it; after a crash
//! the next cycle checks whether that file exists and either adopts its hits
//! or detects them again. The watermark moves only after the hits are durable.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, Float64Array, RecordBatch, StringArray, UInt32Array};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::webhook::{self, Notification, Pending};
use super::{hits, DetectError, Detection};
use crate::engine::Engine;
use crate::lake::{schema, LakeWriter};

/// How live detection behaves.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// How far before the watermark each cycle looks again (late data).
    pub lookback: Duration,
    /// Per (detection, entity), hits closer than this to the last reported one are dropped.
    pub suppress: Duration,
    /// Where to start when there is no state yet (default: now - lookback).
    pub start: Option<DateTime<Utc>>,
    pub webhooks: Vec<String>,
}

/// Persisted between cycles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// Everything before this minus the look-back is final.
    pub watermark: Option<DateTime<Utc>>,
    /// Hits already reported: `detection|entity|time_micros`.
    pub reported: BTreeSet<String>,
    /// Last reported hit time per `detection|entity`, for suppression.
    pub last_hit: BTreeMap<String, i64>,
    /// A part file being landed, with the hit keys it holds.
    pub pending_file: Option<(String, Vec<String>)>,
    /// Webhook deliveries still to make.
    pub outbox: Vec<Pending>,
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CycleReport {
    pub new_hits: usize,
    pub suppressed: usize,
    pub delivered: usize,
    pub undelivered: usize,
}

const STATE_PATH: &str = "_state/detect/live.json";

pub async fn load_state(engine: &Engine) -> Result<LiveState, DetectError> {
    Ok(crate::lake::state::read_json(engine.lake(), STATE_PATH).await?.unwrap_or_default())
}

async fn save_state(engine: &Engine, state: &LiveState) -> Result<(), DetectError> {
    Ok(crate::lake::state::write_json(engine.lake(), STATE_PATH, state).await?)
}

fn state_err(action: &'static str, path: &object_store::path::Path, e: impl std::fmt::Display) -> DetectError {
    DetectError::State { action, path: path.to_string(), reason: e.to_string() }
}

impl From<crate::lake::state::StateFileError> for DetectError {
    fn from(e: crate::lake::state::StateFileError) -> Self {
        DetectError::State { action: e.action, path: e.path, reason: e.reason }
    }
}

fn key(detection: &str, entity: &str, micros: i64) -> String {
    format!("{detection}|{entity}|{micros}")
}

/// Runs one cycle at `now`.
pub async fn cycle(
    engine: &Engine,
    detections: &[&Detection],
    options: &LiveOptions,
    client: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<CycleReport, DetectError> {
    engine.refresh_listings();
    let mut state = load_state(engine).await?;
    recover_pending(engine, &mut state).await?;

    let watermark = state.watermark.or(options.start).unwrap_or(now - options.lookback);
    let from = watermark - options.lookback;
    // Data may carry times slightly ahead of this clock.
    let to = now + Duration::days(1);
    let ctx = engine.session();
    let mut report = CycleReport::default();
    let mut new_batches = Vec::new();
    let mut new_keys = Vec::new();
    let mut notifications = Vec::new();
    for d in detections {
        let batch = hits::run(&ctx, d, from, to, "live").await?;
        let times = hits::times(&batch);
        let entities = batch.column(2).as_any().downcast_ref::<StringArray>().expect("entity is text");
        let scores = batch.column(4).as_any().downcast_ref::<Float64Array>().expect("score is float");
        let summaries = batch.column(5).as_any().downcast_ref::<StringArray>().expect("summary is text");
        let evidence = batch.column(6).as_any().downcast_ref::<StringArray>().expect("evidence is text");
        // Oldest first, so suppression keeps the first hit of a burst.
        let mut order: Vec<usize> = (0..batch.num_rows()).collect();
        order.sort_by_key(|i| times.value(*i));
        let mut keep = Vec::new();
        for i in order {
            let (entity, t) = (entities.value(i), times.value(i));
            let k = key(&d.name, entity, t);
            if state.reported.contains(&k) || new_keys.contains(&k) {
                continue;
            }
            let group = format!("{}|{entity}", d.name);
            if let Some(last) = state.last_hit.get(&group) {
                let gap = (t - last).abs();
                if options.suppress > Duration::zero() && gap < options.suppress.num_microseconds().unwrap_or(i64::MAX) {
                    state.reported.insert(k);
                    report.suppressed += 1;
                    continue;
                }
            }
            state.last_hit.insert(group, t);
            new_keys.push(k);
            keep.push(i as u32);
            let time = DateTime::from_timestamp_micros(t).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Micros, true);
            let ev = evidence.value(i);
            let notification = Notification {
                detection: d.name.clone(),
                detection_id: d.header.id.clone(),
                title: d.header.title.clone(),
                severity: d.header.severity.to_string(),
                entity: entity.to_string(),
                time,
                score: scores.value(i),
                summary: summaries.value(i).to_string(),
                evidence: serde_json::from_str(ev).unwrap_or_else(|_| serde_json::Value::String(ev.to_string())),
                run_id: "live".into(),
            };
            notifications.extend(options.webhooks.iter().map(|url| Pending {
                url: url.clone(),
                notification: notification.clone(),
                attempts: 0,
            }));
        }
        new_batches.push(arrow::compute::take_record_batch(&batch, &UInt32Array::from(keep))?);
    }
    let new_hits = arrow::compute::concat_batches(&schema::detections(), &new_batches)?;
    report.new_hits = new_hits.num_rows();

    if new_hits.num_rows() > 0 {
        let stem = format!("live-{}-{}", now.format("%Y%m%dT%H%M%S%.6fZ"), uuid::Uuid::new_v4().simple());
        state.pending_file = Some((stem.clone(), new_keys.clone()));
        state.outbox.extend(notifications);
        save_state(engine, &state).await?;
        LakeWriter::new(engine.lake().clone()).write_named("detections", &new_hits, &stem).await?;
        state.reported.extend(new_keys);
        state.pending_file = None;
        tracing::info!(hits = report.new_hits, suppressed = report.suppressed, "New detections landed.");
    }
    state.watermark = Some(now.max(watermark));
    prune(&mut state, from);
    save_state(engine, &state).await?;

    if !state.outbox.is_empty() {
        let before = state.outbox.len();
        state.outbox = webhook::deliver(client, std::mem::take(&mut state.outbox)).await;
        report.undelivered = state.outbox.len();
        report.delivered = before - report.undelivered;
        save_state(engine, &state).await?;
    }
    Ok(report)
}

/// After a crash between "about to land" and "landed": adopt the file's
/// hits if it exists, otherwise forget them so they are detected again.
async fn recover_pending(engine: &Engine, state: &mut LiveState) -> Result<(), DetectError> {
    let Some((stem, keys)) = state.pending_file.take() else { return Ok(()) };
    let lake = engine.lake();
    let prefix = lake.child("detections");
    let name = format!("{stem}.parquet");
    use futures::TryStreamExt;
    let listed: Vec<_> = lake.store.list(Some(&prefix)).try_collect().await.map_err(|e| state_err("list", &prefix, e))?;
    if listed.iter().any(|m| m.location.filename() == Some(name.as_str())) {
        tracing::warn!(file = %name, "Recovered hits landed before an interruption.");
        state.reported.extend(keys);
    } else {
        tracing::warn!(file = %name, "Hits of an interrupted cycle were not landed; detecting them again.");
        state.outbox.retain(|p| {
            !keys.contains(&key(&p.notification.detection, &p.notification.entity, parse_micros(&p.notification.time)))
        });
        for k in &keys {
            let mut parts = k.splitn(3, '|');
            if let (Some(d), Some(e)) = (parts.next(), parts.next()) {
                state.last_hit.remove(&format!("{d}|{e}"));
            }
        }
    }
    Ok(())
}

fn parse_micros(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).map(|t| t.timestamp_micros()).unwrap_or_default()
}

/// Forgets reported keys that can no longer come back (older than the look-back).
fn prune(state: &mut LiveState, from: DateTime<Utc>) {
    let horizon = (from - Duration::days(1)).timestamp_micros();
    state.reported.retain(|k| k.rsplit('|').next().and_then(|t| t.parse::<i64>().ok()).is_none_or(|t| t >= horizon));
}

/// How many hits a detections batch holds per detection name.
pub fn count_by_detection(batch: &RecordBatch) -> BTreeMap<String, usize> {
    let names = batch.column(1).as_any().downcast_ref::<StringArray>().expect("detection is text");
    let mut out = BTreeMap::new();
    for i in 0..names.len() {
        *out.entry(names.value(i).to_string()).or_default() += 1;
    }
    out
}
