//! The entity timeline: everything huntlake knows about one device in a time
//! range, merged in time order so an analyst reads it top to bottom without
//! switching consoles.
//!
//! Kinds of rows: `alert` (each vendor alert, with its `console_url` as the
//! link), `network` (the device's connections summarised per destination,
//! port and minute, with a first-seen flag and the destination's rarity in
//! the fleet), `asset` (the device gaining or losing an address) and
//! `detection` (rows of the `detections` table).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Duration, Utc};
use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::checks::{bytes, Scope};
use super::sql::{self, list, s, t};
use super::{InvestigateError, Window};
use crate::lake::schema::timestamp_type;

/// What a timeline row is about, in the order rows of equal time are listed.
pub const KINDS: &[&str] = &["asset", "alert", "detection", "network"];

/// One row of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineRow {
    pub time: DateTime<Utc>,
    /// `alert`, `network`, `asset` or `detection`.
    pub kind: String,
    pub summary: String,
    /// The vendor console for alerts.
    pub link: Option<String>,
    pub vendor: Option<String>,
    pub severity: Option<String>,
    /// Alert id (alerts) or detection name (detections).
    pub reference: Option<String>,
    pub dst_ip: Option<String>,
    pub dst_port: Option<i32>,
    pub service: Option<String>,
    pub connections: Option<i64>,
    pub bytes_out: Option<i64>,
    pub bytes_in: Option<i64>,
    /// Network rows: the device had never contacted this destination before.
    pub first_seen: Option<bool>,
    /// Network rows: fraction of the fleet's devices contacting the destination over the look-back.
    pub fleet_fraction: Option<f64>,
}

/// What the timeline computes besides the rows themselves.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Compute each destination's fleet prevalence (one extra scan of `dst_ip`).
    pub rarity: bool,
    /// History for first-seen flags and prevalence.
    pub lookback: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self { rarity: true, lookback: Window::default().lookback }
    }
}

/// The timeline's Arrow schema (the `entity_timeline` table function's columns).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("time", timestamp_type(), false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("summary", DataType::Utf8, false),
        Field::new("link", DataType::Utf8, true),
        Field::new("vendor", DataType::Utf8, true),
        Field::new("severity", DataType::Utf8, true),
        Field::new("reference", DataType::Utf8, true),
        Field::new("dst_ip", DataType::Utf8, true),
        Field::new("dst_port", DataType::Int32, true),
        Field::new("service", DataType::Utf8, true),
        Field::new("connections", DataType::Int64, true),
        Field::new("bytes_out", DataType::Int64, true),
        Field::new("bytes_in", DataType::Int64, true),
        Field::new("first_seen", DataType::Boolean, true),
        Field::new("fleet_fraction", DataType::Float64, true),
    ]))
}

/// The rows as one batch of [`schema`].
pub fn to_batch(rows: &[TimelineRow]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let text = |f: &dyn Fn(&TimelineRow) -> Option<String>| -> ArrayRef { Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>())) };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(rows.iter().map(|r| r.time.timestamp_micros()).collect::<Vec<_>>()).with_timezone("UTC")),
        text(&|r| Some(r.kind.clone())),
        text(&|r| Some(r.summary.clone())),
        text(&|r| r.link.clone()),
        text(&|r| r.vendor.clone()),
        text(&|r| r.severity.clone()),
        text(&|r| r.reference.clone()),
        text(&|r| r.dst_ip.clone()),
        Arc::new(Int32Array::from(rows.iter().map(|r| r.dst_port).collect::<Vec<_>>())),
        text(&|r| r.service.clone()),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.connections).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.bytes_out).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.bytes_in).collect::<Vec<_>>())),
        Arc::new(BooleanArray::from(rows.iter().map(|r| r.first_seen).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.fleet_fraction).collect::<Vec<_>>())),
    ];
    RecordBatch::try_new(schema(), columns)
}

fn empty(time: DateTime<Utc>, kind: &str, summary: String) -> TimelineRow {
    TimelineRow {
        time,
        kind: kind.into(),
        summary,
        link: None,
        vendor: None,
        severity: None,
        reference: None,
        dst_ip: None,
        dst_port: None,
        service: None,
        connections: None,
        bytes_out: None,
        bytes_in: None,
        first_seen: None,
        fleet_fraction: None,
    }
}

/// The timeline of `entity` over `[from, to)`, in time order (ties: asset,
/// alert, detection, network; then by summary).
pub async fn query(
    ctx: &SessionContext,
    entity: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    options: &Options,
) -> Result<Vec<TimelineRow>, InvestigateError> {
    if to <= from {
        return Err(InvestigateError::Argument(format!("the timeline's end ({to}) must be after its start ({from})")));
    }
    let entity = entity.trim().to_ascii_lowercase();
    let e = s(&entity);
    let mut out = Vec::new();

    // EDR alerts (latest version of each).
    let alerts = sql::rows(
        ctx,
        "the timeline's alerts",
        &format!(
            "SELECT time, vendor, alert_id, title, severity, category, console_url, status FROM ( \
               SELECT *, row_number() OVER (PARTITION BY vendor, alert_id ORDER BY updated_time DESC, ingest_time DESC) AS v \
               FROM edr_alerts WHERE entity = {e} AND time >= {} AND time < {}) WHERE v = 1",
            t(from),
            t(to)
        ),
    )
    .await?;
    for r in &alerts {
        let Some(time) = sql::time(&r[0]) else { continue };
        let (vendor, title, severity, category) = (sql::text(&r[1]), sql::text(&r[3]), sql::text(&r[4]), sql::text(&r[5]));
        let tactic = if category.is_empty() { String::new() } else { format!(" [{category}]") };
        let mut row = empty(time, "alert", format!("{vendor} {severity} alert: {title}{tactic} ({})", sql::text(&r[7])));
        row.link = sql::opt_text(&r[6]);
        row.vendor = Some(vendor);
        row.severity = Some(severity);
        row.reference = sql::opt_text(&r[2]);
        out.push(row);
    }

    // Detections.
    let detections = sql::rows(
        ctx,
        "the timeline's detections",
        &format!(
            "SELECT time, detection, severity_id, score, summary FROM detections WHERE entity = {e} AND time >= {} AND time < {}",
            t(from),
            t(to)
        ),
    )
    .await?;
    let mut seen_detections = BTreeSet::new();
    for r in &detections {
        let Some(time) = sql::time(&r[0]) else { continue };
        let name = sql::text(&r[1]);
        // The same hit may be stored by several runs (retro-hunt and live).
        if !seen_detections.insert((time, name.clone())) {
            continue;
        }
        let mut row = empty(time, "detection", format!("detection {name} (score {:.0}): {}", sql::num(&r[3]), sql::text(&r[4])));
        row.severity = Some(crate::detect::Severity::from_id(sql::int(&r[2]) as i32).to_string());
        row.reference = Some(name);
        out.push(row);
    }

    // Address changes.
    let assets = sql::rows(
        ctx,
        "the timeline's address changes",
        &format!("SELECT ip, valid_from, valid_to, source FROM assets WHERE entity = {e} ORDER BY valid_from"),
    )
    .await?;
    for r in &assets {
        let (ip, source) = (sql::text(&r[0]), sql::text(&r[3]));
        if let Some(vf) = sql::time(&r[1]).filter(|x| *x >= from && *x < to) {
            let mut row = empty(vf, "asset", format!("{entity} holds address {ip} (from {source})"));
            row.dst_ip = Some(ip.clone());
            out.push(row);
        }
        if let Some(vt) = sql::time(&r[2]).filter(|x| *x >= from && *x < to) {
            let mut row = empty(vt, "asset", format!("{entity} no longer holds address {ip} (from {source})"));
            row.dst_ip = Some(ip.clone());
            out.push(row);
        }
    }

    // Network activity per destination, port and minute.
    let window = Window { before: Duration::zero(), after: to - from, lookback: options.lookback };
    let scope = Scope::resolve(ctx, &entity, from, window).await?;
    let pred = scope.flows_pred();
    let lookback_from = from - options.lookback;
    let flows = sql::rows(
        ctx,
        "the timeline's network activity",
        &format!(
            "SELECT date_trunc('minute', time) AS minute, dst_ip, dst_port, max(service), max(dst_host), max(proto), \
               count(*), sum(bytes_out), sum(bytes_in), min(time) \
             FROM network_flows WHERE {pred} AND time >= {} AND time < {} GROUP BY 1, 2, 3",
            t(from),
            t(to)
        ),
    )
    .await?;
    if !flows.is_empty() {
        let dsts: BTreeSet<String> = flows.iter().map(|r| sql::text(&r[1])).collect();
        // The device's first contact with each destination, and its first connection at all.
        let firsts = sql::rows(
            ctx,
            "first contacts",
            &format!(
                "SELECT dst_ip, min(time) FROM network_flows WHERE {pred} AND time >= {} AND time < {} AND dst_ip IN {} GROUP BY dst_ip",
                t(lookback_from),
                t(to),
                list(&dsts)
            ),
        )
        .await?;
        let first_contact: BTreeMap<String, i64> =
            firsts.iter().filter_map(|r| Some((sql::text(&r[0]), sql::micros(&r[1])?))).collect();
        let device_first = sql::rows(
            ctx,
            "the device's first connection",
            &format!("SELECT min(time) FROM network_flows WHERE {pred} AND time >= {} AND time < {}", t(lookback_from), t(to)),
        )
        .await?
        .first()
        .and_then(|r| sql::micros(&r[0]))
        .unwrap_or(i64::MAX);
        let warmup = Duration::hours(1).num_microseconds().unwrap_or(0);
        let mut prevalence: BTreeMap<String, i64> = BTreeMap::new();
        if options.rarity {
            let rows = sql::rows(
                ctx,
                "destination prevalence",
                &format!(
                    "SELECT dst_ip, count(DISTINCT entity) FROM network_flows WHERE time >= {} AND time < {} AND dst_ip IN {} \
                     AND entity IS NOT NULL GROUP BY dst_ip",
                    t(lookback_from),
                    t(to),
                    list(&dsts)
                ),
            )
            .await?;
            prevalence = rows.iter().map(|r| (sql::text(&r[0]), sql::int(&r[1]))).collect();
        }
        for r in &flows {
            let Some(minute) = sql::time(&r[0]) else { continue };
            let dst = sql::text(&r[1]);
            let port = (!r[2].is_null()).then(|| sql::int(&r[2]) as i32);
            let (service, host, proto) = (sql::opt_text(&r[3]), sql::opt_text(&r[4]), sql::text(&r[5]));
            let (n, out_b, in_b) = (sql::int(&r[6]), sql::int(&r[7]), sql::int(&r[8]));
            let first_in_minute = sql::micros(&r[9]).unwrap_or(0);
            let first = first_contact.get(&dst).copied();
            let first_seen = first == Some(first_in_minute) && first_in_minute - device_first >= warmup;
            let fraction = options.rarity.then(|| *prevalence.get(&dst).unwrap_or(&1) as f64 / scope.fleet_devices as f64);
            let mut summary = format!(
                "{} {}{}{}: {n} connection{}, {} out / {} in",
                if is_private(&dst) { "internal" } else { "to" },
                dst,
                port.map(|p| format!(":{p}/{proto}")).unwrap_or_default(),
                match (&service, &host) {
                    (Some(svc), Some(h)) => format!(" {svc} ({h})"),
                    (Some(svc), None) => format!(" {svc}"),
                    (None, Some(h)) => format!(" ({h})"),
                    (None, None) => String::new(),
                },
                if n == 1 { "" } else { "s" },
                bytes(out_b as f64),
                bytes(in_b as f64)
            );
            if first_seen {
                summary.push_str(", first seen");
            }
            if let Some(f) = fraction {
                summary.push_str(&format!(", {:.0}% of devices", 100.0 * f));
            }
            let mut row = empty(minute, "network", summary);
            row.dst_ip = Some(dst);
            row.dst_port = port;
            row.service = service;
            row.connections = Some(n);
            row.bytes_out = Some(out_b);
            row.bytes_in = Some(in_b);
            row.first_seen = Some(first_seen);
            row.fleet_fraction = fraction;
            out.push(row);
        }
    }
    let rank = |k: &str| KINDS.iter().position(|x| *x == k).unwrap_or(KINDS.len());
    out.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then(rank(&a.kind).cmp(&rank(&b.kind)))
            .then(a.dst_ip.cmp(&b.dst_ip))
            .then(a.dst_port.cmp(&b.dst_port))
            .then(a.summary.cmp(&b.summary))
    });
    Ok(out)
}

fn is_private(ip: &str) -> bool {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        Ok(std::net::IpAddr::V6(v6)) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        Err(_) => false,
    }
}
