//! Context and automated investigation of EDR alerts.
//!
//! Analysts should not have to switch consoles to triage an alert: this
//! module puts everything huntlake knows about a device around an alert in
//! one place.
//!
//! * [`timeline`] — the device's EDR alerts, summarised network activity,
//!   address changes and detections in time order (`entity_timeline(...)`
//!   in SQL, `huntlake timeline`);
//! * [`checks`] — deterministic checks over the device's data in a window
//!   around the alert, each giving findings with evidence rows and points;
//! * [`verdict`] — points to `escalate` / `review` / `likely benign`, with
//!   the reasons and the counter-evidence;
//! * [`functions`] — the `entity_timeline` and `investigate` SQL table functions;
//! * [`live`] — investigating every newly landed alert during `detect --follow`,
//!   exactly once, into the `investigations` lake table;
//! * [`report`] — the result as Markdown, self-contained HTML (with an SVG
//!   timeline chart), JSON and PDF.
//!
//! Every threshold is relative to the device's own history or to the fleet
//! (never to one lake's device names), and every query is pruned: alerts by
//! entity and time, flows by the device's addresses and time.

pub mod checks;
pub mod functions;
pub mod live;
pub mod report;
pub mod sql;
pub mod timeline;
pub mod verdict;

use chrono::{DateTime, Duration, Utc};
use datafusion::prelude::SessionContext;
use serde::Serialize;

pub use timeline::TimelineRow;
pub use verdict::Verdict;

/// Errors of an investigation, saying what was being looked up.
#[derive(Debug, thiserror::Error)]
pub enum InvestigateError {
    #[error("no EDR alert with id {0:?} in the lake (ids are the vendor's alert id, optionally prefixed by `vendor:`)")]
    UnknownAlert(String),
    #[error("no device {0:?} in the lake (neither in edr_alerts nor in assets)")]
    UnknownEntity(String),
    #[error("investigation query for {what} failed: {source}")]
    Query { what: &'static str, source: Box<datafusion::error::DataFusionError> },
    #[error("invalid argument: {0}")]
    Argument(String),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot render the PDF report: {0}")]
    Pdf(String),
    #[error(transparent)]
    Lake(#[from] crate::lake::LakeError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot {action} investigation state {path}: {reason}")]
    State { action: &'static str, path: String, reason: String },
}

/// What to investigate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A vendor alert id (`alert_id`, or `vendor:alert_id`).
    Alert(String),
    /// A device at a point in time (no alert).
    Entity { entity: String, time: DateTime<Utc> },
}

/// How much time around the alert is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Before the alert (default 24 h).
    pub before: Duration,
    /// After the alert (default 2 h).
    pub after: Duration,
    /// History used for baselines, first-seen and fleet prevalence (default
    /// 30 days before the alert; the lake's start caps it by itself).
    pub lookback: Duration,
}

impl Default for Window {
    fn default() -> Self {
        Self { before: Duration::hours(24), after: Duration::hours(2), lookback: Duration::days(30) }
    }
}

/// The alert under investigation, as the lake holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertInfo {
    pub time: DateTime<Utc>,
    pub vendor: String,
    pub alert_id: String,
    pub entity: String,
    pub title: String,
    pub severity: String,
    pub severity_id: i64,
    /// The vendor's category: an ATT&CK tactic for most alerts.
    pub category: Option<String>,
    pub techniques: Vec<String>,
    pub device_ip: Option<String>,
    pub console_url: String,
}

/// A table of evidence rows behind a finding; `links[i]` is row i's console link.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub links: Vec<Option<String>>,
}

impl Evidence {
    pub fn new(columns: &[&str]) -> Self {
        Self { columns: columns.iter().map(|c| c.to_string()).collect(), ..Self::default() }
    }

    pub fn push(&mut self, row: Vec<String>, link: Option<String>) {
        self.rows.push(row);
        self.links.push(link);
    }
}

/// One result of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The check that produced it (`alert_rarity`, `beaconing`, ...).
    pub check: String,
    /// One line saying what was found.
    pub summary: String,
    /// Points toward escalation; negative for counter-evidence.
    pub points: f64,
    /// True when this speaks against the alert being malicious.
    pub counter: bool,
    pub evidence: Evidence,
}

/// The outcome of an investigation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Investigation {
    pub entity: String,
    /// The alert time (or the time asked for).
    pub time: DateTime<Utc>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Start of the history used for baselines and prevalence.
    pub lookback_from: DateTime<Utc>,
    pub alert: Option<AlertInfo>,
    /// The device's addresses in the window (from assets and its alerts).
    pub device_ips: Vec<String>,
    /// Devices of the fleet (assets) used for prevalence fractions.
    pub fleet_devices: i64,
    pub findings: Vec<Finding>,
    pub score: f64,
    pub verdict: Verdict,
    /// Summaries of the findings that add points, strongest first.
    pub reasons: Vec<String>,
    /// Summaries of the counter-evidence.
    pub counter_evidence: Vec<String>,
    /// The device's timeline over [from, to] (for the report's chart).
    #[serde(skip)]
    pub timeline: Vec<TimelineRow>,
}

impl Investigation {
    /// `vendor:alert_id`, or `entity@time` without an alert.
    pub fn key(&self) -> String {
        match &self.alert {
            Some(a) => format!("{}:{}", a.vendor, a.alert_id),
            None => format!("{}@{}", self.entity, self.time.to_rfc3339()),
        }
    }

    /// The findings as JSON (stored in the `investigations` table).
    pub fn findings_json(&self) -> String {
        serde_json::to_string(&self.findings).unwrap_or_else(|_| "[]".into())
    }
}

/// Looks up an alert by `alert_id` or `vendor:alert_id`; the latest version wins.
pub async fn find_alert(ctx: &SessionContext, id: &str) -> Result<AlertInfo, InvestigateError> {
    let id = id.trim();
    let (vendor, alert_id) = match id.split_once(':') {
        Some((v, a)) if !v.is_empty() && !v.contains(' ') => (Some(v), a),
        _ => (None, id),
    };
    let mut filter = format!("(alert_id = {}", sql::s(id));
    if let Some(v) = vendor {
        filter.push_str(&format!(" OR (vendor = {} AND alert_id = {})", sql::s(v), sql::s(alert_id)));
    }
    filter.push(')');
    let q = format!(
        "SELECT time, vendor, alert_id, entity, title, severity, severity_id, category, techniques, device_ip, console_url \
         FROM edr_alerts WHERE {filter} ORDER BY updated_time DESC, ingest_time DESC LIMIT 1"
    );
    let rows = sql::rows(ctx, "the alert", &q).await?;
    let r = rows.first().ok_or_else(|| InvestigateError::UnknownAlert(id.to_string()))?;
    Ok(AlertInfo {
        time: sql::time(&r[0]).ok_or_else(|| InvestigateError::UnknownAlert(id.to_string()))?,
        vendor: sql::text(&r[1]),
        alert_id: sql::text(&r[2]),
        entity: sql::text(&r[3]),
        title: sql::text(&r[4]),
        severity: sql::text(&r[5]),
        severity_id: sql::int(&r[6]),
        category: sql::opt_text(&r[7]),
        techniques: sql::strings(&r[8]),
        device_ip: sql::opt_text(&r[9]),
        console_url: sql::text(&r[10]),
    })
}

/// Investigates `target` over `window`: resolves the device and its
/// addresses, runs every check, and weighs the findings into a verdict.
pub async fn investigate(
    ctx: &SessionContext,
    target: &Target,
    window: Window,
) -> Result<Investigation, InvestigateError> {
    let started = std::time::Instant::now();
    let (alert, entity, time) = match target {
        Target::Alert(id) => {
            let a = find_alert(ctx, id).await?;
            let (e, t) = (a.entity.clone(), a.time);
            (Some(a), e, t)
        }
        Target::Entity { entity, time } => (None, entity.trim().to_ascii_lowercase(), *time),
    };
    let scope = checks::Scope::resolve(ctx, &entity, time, window).await?;
    if alert.is_none() && scope.ips.is_empty() && !scope.has_alerts {
        return Err(InvestigateError::UnknownEntity(entity));
    }
    let findings = checks::run_all(&scope, alert.as_ref()).await?;
    let timeline = timeline::query(ctx, &scope.entity, scope.from, scope.to, &timeline::Options { rarity: false, lookback: window.lookback }).await?;
    let v = verdict::weigh(&findings);
    let inv = Investigation {
        entity: scope.entity.clone(),
        time,
        from: scope.from,
        to: scope.to,
        lookback_from: scope.lookback_from,
        alert,
        device_ips: scope.ips.iter().map(|s| s.ip.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect(),
        fleet_devices: scope.fleet_devices,
        findings,
        score: v.score,
        verdict: v.verdict,
        reasons: v.reasons,
        counter_evidence: v.counter_evidence,
        timeline,
    };
    tracing::debug!(key = %inv.key(), verdict = %inv.verdict, score = inv.score, ms = started.elapsed().as_millis() as u64, "Investigated.");
    Ok(inv)
}
