//! Investigating every newly landed EDR alert during `detect --follow`.
//!
//! Each cycle picks alerts whose `ingest_time` is at or after the watermark
//! (`<lake>/_state/investigate/live.json`) and that have no row in the
//! `investigations` table yet, investigates them oldest first, writes each
//! HTML report (to `<lake>/_state/reports/` or a configured folder), lands
//! their rows in `investigations` as one part file, and only then moves the
//! watermark. Exactly once: an alert is investigated again only if its row
//! never landed (a crash before landing); reports are rewritten under the
//! same name, so a repeat leaves no trace.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use chrono::{DateTime, Duration, Utc};
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::report::{self, Format};
use super::sql::{self, t};
use super::{investigate, InvestigateError, Investigation, Target, Window};
use crate::engine::Engine;
use crate::lake::{schema, LakeWriter};

const STATE_PATH: &str = "_state/investigate/live.json";
/// Where reports go in the lake when no folder is configured.
pub const LAKE_REPORTS: &str = "_state/reports";

/// How live investigation behaves.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Local folder for reports; `None` writes them into the lake under `_state/reports/`.
    pub report_dir: Option<PathBuf>,
    /// Where to start (by `ingest_time`) when there is no state yet.
    pub start: DateTime<Utc>,
    /// At most this many alerts per cycle (the rest wait for the next).
    pub max_per_cycle: usize,
    pub window: Window,
}

/// Persisted between cycles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// Alerts ingested before this are done.
    pub watermark: Option<DateTime<Utc>>,
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CycleReport {
    pub investigated: usize,
    pub escalated: usize,
    /// True when more alerts wait than one cycle takes.
    pub more: bool,
}

fn state_err(action: &'static str, path: &object_store::path::Path, e: impl std::fmt::Display) -> InvestigateError {
    InvestigateError::State { action, path: path.to_string(), reason: e.to_string() }
}

impl From<crate::lake::state::StateFileError> for InvestigateError {
    fn from(e: crate::lake::state::StateFileError) -> Self {
        InvestigateError::State { action: e.action, path: e.path, reason: e.reason }
    }
}

async fn load_state(engine: &Engine) -> Result<LiveState, InvestigateError> {
    Ok(crate::lake::state::read_json(engine.lake(), STATE_PATH).await?.unwrap_or_default())
}

async fn save_state(engine: &Engine, state: &LiveState) -> Result<(), InvestigateError> {
    Ok(crate::lake::state::write_json(engine.lake(), STATE_PATH, state).await?)
}

/// Writes the HTML report and returns where it went.
async fn store_report(engine: &Engine, options: &LiveOptions, inv: &Investigation) -> Result<String, InvestigateError> {
    let name = report::file_name(inv, Format::Html);
    match &options.report_dir {
        Some(dir) => {
            let path = dir.join(&name);
            report::write(inv, Format::Html, &path)?;
            Ok(path.display().to_string())
        }
        None => {
            let lake = engine.lake();
            let path = lake.child(&format!("{LAKE_REPORTS}/{name}"));
            let bytes = report::render(inv, Format::Html)?;
            lake.store.put(&path, PutPayload::from(bytes)).await.map_err(|e| state_err("write report", &path, e))?;
            Ok(lake.url.join(&format!("{LAKE_REPORTS}/{name}")).map(|u| u.to_string()).unwrap_or_else(|_| path.to_string()))
        }
    }
}

/// Runs one cycle at `now`.
pub async fn cycle(engine: &Engine, options: &LiveOptions, now: DateTime<Utc>) -> Result<CycleReport, InvestigateError> {
    engine.refresh_listings();
    let mut state = load_state(engine).await?;
    let watermark = state.watermark.unwrap_or(options.start);
    let ctx = engine.session();
    // Alerts that fired more than the look-back before they landed are not
    // investigated live (this bound also prunes date folders).
    let oldest = watermark - options.window.lookback;
    let limit = options.max_per_cycle.max(1);
    let pending = sql::rows(
        &ctx,
        "alerts to investigate",
        &format!(
            "SELECT a.vendor, a.alert_id, max(a.ingest_time) AS ingested FROM edr_alerts a \
             WHERE a.ingest_time >= {wm} AND a.time >= {old} \
               AND NOT EXISTS (SELECT 1 FROM investigations i WHERE i.time >= {old} AND i.vendor = a.vendor AND i.alert_id = a.alert_id) \
             GROUP BY a.vendor, a.alert_id ORDER BY ingested, a.vendor, a.alert_id LIMIT {}",
            limit + 1,
            wm = t(watermark),
            old = t(oldest)
        ),
    )
    .await?;
    let more = pending.len() > limit;
    let mut report = CycleReport { more, ..CycleReport::default() };
    let mut rows: Vec<(Investigation, String)> = Vec::new();
    let mut new_watermark = watermark;
    for r in pending.iter().take(limit) {
        let (vendor, id) = (sql::text(&r[0]), sql::text(&r[1]));
        let inv = investigate(&ctx, &Target::Alert(format!("{vendor}:{id}")), options.window).await?;
        let path = store_report(engine, options, &inv).await?;
        tracing::info!(alert = %inv.key(), entity = %inv.entity, verdict = %inv.verdict, score = inv.score, report = %path, "Alert investigated.");
        if let Some(t) = sql::time(&r[2]) {
            new_watermark = new_watermark.max(t);
        }
        rows.push((inv, path));
    }
    if !rows.is_empty() {
        let batch = to_batch(&rows, now)?;
        let stem = format!("inv-{}-{}", now.format("%Y%m%dT%H%M%S%.6fZ"), uuid::Uuid::new_v4().simple());
        LakeWriter::new(engine.lake().clone()).write_named("investigations", &batch, &stem).await?;
        report.investigated = rows.len();
        report.escalated = rows.iter().filter(|(i, _)| i.verdict == super::Verdict::Escalate).count();
    }
    // Alerts sharing the last ingest_time may remain: `>=` picks them up
    // next time and the anti-join skips the ones done.
    state.watermark = Some(new_watermark);
    save_state(engine, &state).await?;
    Ok(report)
}

/// Rows of the `investigations` table.
pub fn to_batch(rows: &[(Investigation, String)], now: DateTime<Utc>) -> Result<RecordBatch, InvestigateError> {
    let alert = |i: &Investigation| i.alert.clone();
    let texts = |f: &dyn Fn(&(Investigation, String)) -> String| -> ArrayRef { Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>())) };
    let ts = |v: Vec<i64>| -> ArrayRef { Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC")) };
    let columns: Vec<ArrayRef> = vec![
        ts(rows.iter().map(|(i, _)| i.time.timestamp_micros()).collect()),
        ts(vec![now.timestamp_micros(); rows.len()]),
        texts(&|(i, _)| alert(i).map(|a| a.vendor).unwrap_or_default()),
        texts(&|(i, _)| alert(i).map(|a| a.alert_id).unwrap_or_default()),
        texts(&|(i, _)| i.entity.clone()),
        texts(&|(i, _)| alert(i).map(|a| a.title).unwrap_or_default()),
        texts(&|(i, _)| i.verdict.to_string()),
        Arc::new(Float64Array::from(rows.iter().map(|(i, _)| i.score).collect::<Vec<_>>())),
        texts(&|(i, _)| i.findings_json()),
        texts(&|(_, p)| p.clone()),
    ];
    Ok(RecordBatch::try_new(schema::investigations(), columns)?)
}

/// The default start of live investigation: alerts ingested in the last `lookback`.
pub fn default_start(now: DateTime<Utc>, lookback: Duration) -> DateTime<Utc> {
    now - lookback
}
