//! The deterministic checks of an investigation. Each looks at one aspect of
//! the device's data around the alert and returns findings with evidence
//! rows and points (negative points are counter-evidence).
//!
//! Thresholds are relative: to the device's own history before the alert
//! (baselines over the look-back), and to the fleet (how many devices of the
//! `assets` table contact a destination). Queries are pruned: alerts by
//! entity and time, flows by the device's addresses (`src_ip`, the flows'
//! sort key) and time; fleet prevalence only for the few candidate
//! destinations (`dst_ip IN (...)`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use datafusion::prelude::SessionContext;

use super::sql::{self, list, s, t};
use super::{AlertInfo, Evidence, Finding, InvestigateError, Window};

/// Fraction of the fleet at or below which a destination is rare (as in
/// `sql/views/new_rare_beacons.sql`); never fewer than one device.
pub const RARE_FLEET_FRACTION: f64 = 0.05;
/// Fraction of the fleet from which a destination is common (counter-evidence).
pub const COMMON_FLEET_FRACTION: f64 = 0.5;
/// "Near the alert": network checks start this long before the alert.
pub const NEAR_BEFORE: i64 = 3600;
/// A baseline shorter than this makes "first seen" and "new" meaningless.
pub const MIN_BASELINE_HOURS: i64 = 24;
/// Ports of remote administration and file sharing (SMB, RDP, WinRM, SSH).
pub const LATERAL_PORTS: &[i32] = &[22, 139, 445, 3389, 5985, 5986];
/// Other alerts count toward the verdict within this many seconds of the
/// alert (the window's other alerts are listed as context).
pub const OTHER_ALERTS_NEAR: i64 = 2 * 3600;
/// An alert raised this often before on the device is routine there.
pub const ROUTINE_REPEATS: i64 = 3;
/// Beaconing needs this many connections and this `beacon_score`.
pub const BEACON_MIN_CONNECTIONS: i64 = 10;
pub const BEACON_MIN_SCORE: f64 = 0.5;
/// An upload is large when above this multiple of the device's largest
/// hourly upload to one destination in its baseline, and above the floor.
pub const UPLOAD_BASELINE_FACTOR: f64 = 4.0;
pub const UPLOAD_FLOOR_BYTES: f64 = 10.0 * 1024.0 * 1024.0;

/// An address the device held, and when (open ends = unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSpan {
    pub ip: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Who and when an investigation looks at.
pub struct Scope<'a> {
    pub ctx: &'a SessionContext,
    pub entity: String,
    pub time: DateTime<Utc>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Start of the "near the alert" period of the network checks.
    pub near_from: DateTime<Utc>,
    pub lookback_from: DateTime<Utc>,
    pub ips: Vec<IpSpan>,
    pub has_alerts: bool,
    pub fleet_devices: i64,
}

impl<'a> Scope<'a> {
    /// Resolves the device's addresses (assets, then its alerts' `device_ip`)
    /// and the fleet size.
    pub async fn resolve(
        ctx: &'a SessionContext,
        entity: &str,
        time: DateTime<Utc>,
        window: Window,
    ) -> Result<Scope<'a>, InvestigateError> {
        let from = time - window.before;
        let to = time + window.after;
        let lookback_from = (time - window.lookback).min(from);
        let e = s(entity);
        let mut ips = Vec::new();
        let assets = sql::rows(
            ctx,
            "the device's addresses",
            &format!(
                "SELECT ip, valid_from, valid_to FROM assets WHERE entity = {e} AND valid_from < {} \
                 AND (valid_to IS NULL OR valid_to > {}) ORDER BY valid_from",
                t(to),
                t(lookback_from)
            ),
        )
        .await?;
        for r in &assets {
            ips.push(IpSpan { ip: sql::text(&r[0]), from: sql::time(&r[1]), to: sql::time(&r[2]) });
        }
        let alert_ips = sql::rows(
            ctx,
            "the device's alert addresses",
            &format!(
                "SELECT device_ip, count(*) FROM edr_alerts WHERE entity = {e} AND time >= {} AND time < {} GROUP BY device_ip",
                t(lookback_from),
                t(to)
            ),
        )
        .await?;
        let has_alerts = !alert_ips.is_empty();
        for r in &alert_ips {
            let ip = sql::text(&r[0]);
            if !ip.is_empty() && !ips.iter().any(|s| s.ip == ip) {
                ips.push(IpSpan { ip, from: None, to: None });
            }
        }
        let fleet = sql::rows(
            ctx,
            "the fleet size",
            &format!(
                "SELECT count(DISTINCT entity) FROM assets WHERE valid_from < {} AND (valid_to IS NULL OR valid_to > {})",
                t(to),
                t(lookback_from)
            ),
        )
        .await?;
        let fleet_devices = fleet.first().map(|r| sql::int(&r[0])).unwrap_or(0).max(1);
        Ok(Scope {
            ctx,
            entity: entity.to_string(),
            time,
            from,
            to,
            near_from: time - Duration::seconds(NEAR_BEFORE),
            lookback_from,
            ips,
            has_alerts,
            fleet_devices,
        })
    }

    /// SQL predicate on `network_flows` for the device's own connections:
    /// from its addresses while it held them (the `src_ip IN` list prunes
    /// row groups), and not attributed to another device.
    pub fn flows_pred(&self) -> String {
        if self.ips.is_empty() {
            return "FALSE".into();
        }
        let ips: BTreeSet<String> = self.ips.iter().map(|s| s.ip.clone()).collect();
        let spans: Vec<String> = self
            .ips
            .iter()
            .map(|sp| {
                let mut p = format!("src_ip = {}", s(&sp.ip));
                if let Some(f) = sp.from {
                    p.push_str(&format!(" AND time >= {}", t(f)));
                }
                if let Some(to) = sp.to {
                    p.push_str(&format!(" AND time < {}", t(to)));
                }
                format!("({p})")
            })
            .collect();
        format!(
            "src_ip IN {} AND ({}) AND coalesce(entity, {}) = {}",
            list(&ips),
            spans.join(" OR "),
            s(&self.entity),
            s(&self.entity)
        )
    }

    /// Devices at or below which a destination is rare in this fleet.
    pub fn rare_limit(&self) -> i64 {
        ((RARE_FLEET_FRACTION * self.fleet_devices as f64).floor() as i64).max(1)
    }

    fn fleet_share(&self, devices: i64) -> String {
        format!("{} of {} devices ({:.0}%)", devices, self.fleet_devices, 100.0 * devices as f64 / self.fleet_devices as f64)
    }
}

/// Runs every check; findings come in a fixed order.
pub async fn run_all(scope: &Scope<'_>, alert: Option<&AlertInfo>) -> Result<Vec<Finding>, InvestigateError> {
    let mut out = Vec::new();
    if let Some(a) = alert {
        out.extend(alert_rarity(scope, a).await?);
    }
    out.extend(other_alerts(scope, alert).await?);
    let baseline = Baseline::query(scope).await?;
    out.extend(baseline.note(scope));
    out.extend(destinations(scope, &baseline).await?);
    out.extend(lateral_movement(scope, &baseline).await?);
    out.extend(new_services(scope, &baseline).await?);
    Ok(out)
}

fn finding(check: &str, summary: String, points: f64, evidence: Evidence) -> Finding {
    Finding { check: check.into(), summary, points, counter: points < 0.0, evidence }
}

fn counter(check: &str, summary: String, points: f64, evidence: Evidence) -> Finding {
    Finding { check: check.into(), summary, points, counter: true, evidence }
}

fn fmt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
}

/// Bytes in a human unit.
pub fn bytes(n: f64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", units[u])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// How unusual the alert is for the device and the fleet: the scores and
/// counts of `edr_alerts_scored` for this one alert.
///
/// The view computes its window functions over every alert of the lake; the
/// rarity functions only need, besides the device's own alerts, each other
/// device's first alert (for `E`) and its first alert with the same value
/// (for `D_v`), so the same functions run over that much smaller input
/// (pruned by entity and time) and give the view's values.
async fn alert_rarity(scope: &Scope<'_>, a: &AlertInfo) -> Result<Vec<Finding>, InvestigateError> {
    let (e, at) = (s(&a.entity), t(a.time));
    let value = s(&format!("{}:{}", a.vendor, a.title));
    let history = format!(
        "SELECT entity, time, alert_id, vendor, vendor || ':' || title AS value FROM edr_alerts WHERE entity = {e} AND time <= {at} \
         UNION ALL SELECT entity, min(time), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR) \
           FROM edr_alerts WHERE entity <> {e} AND time <= {at} GROUP BY entity \
         UNION ALL SELECT entity, min(time), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), {value} \
           FROM edr_alerts WHERE entity <> {e} AND time <= {at} AND vendor = {} AND title = {} GROUP BY entity",
        s(&a.vendor),
        s(&a.title)
    );
    let rows = sql::rows(
        scope.ctx,
        "the alert's rarity",
        &format!(
            "WITH history AS ({history}), \
             scored AS (SELECT alert_id, vendor, \
               entity_surprise(entity, value) OVER (ORDER BY time) AS es, \
               population_surprise(entity, value) OVER (ORDER BY time) AS ps, \
               unusualness(entity, value) OVER (ORDER BY time) AS u FROM history), \
             counts AS (SELECT \
               sum(CASE WHEN entity = {e} AND time < {at} THEN 1 ELSE 0 END) AS device_history, \
               sum(CASE WHEN entity = {e} AND time < {at} AND value = {value} THEN 1 ELSE 0 END) AS device_value_history, \
               count(DISTINCT CASE WHEN time < {at} AND value = {value} THEN entity END) AS fleet_value_devices, \
               count(DISTINCT CASE WHEN time < {at} THEN entity END) AS fleet_devices FROM history) \
             SELECT c.device_history, c.device_value_history, c.fleet_value_devices, c.fleet_devices, s.es, s.ps, s.u \
             FROM scored s CROSS JOIN counts c WHERE s.alert_id = {} AND s.vendor = {} LIMIT 1",
            s(&a.alert_id),
            s(&a.vendor)
        ),
    )
    .await?;
    let Some(r) = rows.first() else { return Ok(vec![]) };
    let (dev_hist, dev_value, fleet_value, fleet) = (sql::int(&r[0]), sql::int(&r[1]), sql::int(&r[2]), sql::int(&r[3]));
    let unusualness = sql::num(&r[6]);
    let mut ev = Evidence::new(&[
        "alert", "unusualness", "entity_surprise", "population_surprise", "earlier alerts on device",
        "earlier same alert on device", "devices with it before", "devices with alerts before",
    ]);
    ev.push(
        vec![
            format!("{}: {}", a.vendor, a.title),
            format!("{unusualness:.1}"),
            format!("{:.2}", sql::num(&r[4])),
            format!("{:.2}", sql::num(&r[5])),
            dev_hist.to_string(),
            dev_value.to_string(),
            fleet_value.to_string(),
            fleet.to_string(),
        ],
        Some(a.console_url.clone()),
    );
    let mut out = Vec::new();
    if dev_value >= ROUTINE_REPEATS {
        out.push(counter(
            "alert_rarity",
            format!(
                "Routine on {}: the same {} alert '{}' was raised {dev_value} times on this device before (unusualness {unusualness:.1})",
                a.entity, a.vendor, a.title
            ),
            -4.0,
            ev,
        ));
        return Ok(out);
    }
    if dev_value > 0 {
        out.push(counter(
            "alert_rarity",
            format!("Seen before on {}: '{}' was raised {dev_value} time(s) on this device before", a.entity, a.title),
            0.0,
            ev,
        ));
    } else if fleet_value == 0 {
        out.push(finding(
            "alert_rarity",
            format!(
                "New everywhere: no device had the {} alert '{}' before (unusualness {unusualness:.1})",
                a.vendor, a.title
            ),
            2.0,
            ev,
        ));
    } else {
        out.push(finding(
            "alert_rarity",
            format!(
                "First time on {}: '{}' is new to this device, though {} other device(s) had it (unusualness {unusualness:.1})",
                a.entity, a.title, fleet_value
            ),
            1.0,
            ev,
        ));
    }
    if a.severity_id >= 4 {
        out.push(finding(
            "alert_rarity",
            format!("Severity {} from {}", a.severity, a.vendor),
            1.0,
            Evidence::default(),
        ));
    }
    Ok(out)
}

/// Other alerts on the device in the window: other vendors and other ATT&CK
/// tactics raise the stakes; alerts routine on the device do not count.
async fn other_alerts(scope: &Scope<'_>, alert: Option<&AlertInfo>) -> Result<Vec<Finding>, InvestigateError> {
    let rows = sql::rows(
        scope.ctx,
        "the device's other alerts",
        &format!(
            "SELECT time, vendor, alert_id, title, severity, severity_id, category, console_url FROM edr_alerts \
             WHERE entity = {} AND time >= {} AND time < {} ORDER BY time, vendor, alert_id",
            s(&scope.entity),
            t(scope.lookback_from),
            t(scope.to)
        ),
    )
    .await?;
    let mut history: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut ev = Evidence::new(&["time", "vendor", "title", "severity", "tactic", "earlier on device", "counted"]);
    let (mut vendors, mut tactics, mut severe, mut counted) = (BTreeSet::new(), BTreeSet::new(), 0, 0);
    let mut seen_ids = BTreeSet::new();
    for r in &rows {
        let time = sql::time(&r[0]);
        let (vendor, id, title) = (sql::text(&r[1]), sql::text(&r[2]), sql::text(&r[3]));
        if !seen_ids.insert((vendor.clone(), id.clone())) {
            continue; // an older version of an updated alert
        }
        let key = (vendor.clone(), title.clone());
        let before = *history.get(&key).unwrap_or(&0);
        *history.entry(key).or_default() += 1;
        let Some(time) = time.filter(|t| *t >= scope.from) else { continue };
        let is_self = alert.is_some_and(|a| a.vendor == vendor && (a.alert_id == id || a.title == title));
        if is_self {
            continue;
        }
        let (severity, severity_id, category) = (sql::text(&r[4]), sql::int(&r[5]), sql::text(&r[6]));
        let routine = before >= ROUTINE_REPEATS;
        let near = (time - scope.time).num_seconds().abs() <= OTHER_ALERTS_NEAR;
        if !routine && near {
            counted += 1;
            if alert.is_none_or(|a| a.vendor != vendor) {
                vendors.insert(vendor.clone());
            }
            if !category.is_empty() && alert.is_none_or(|a| a.category.as_deref() != Some(category.as_str())) {
                tactics.insert(category.clone());
            }
            if severity_id >= 4 {
                severe += 1;
            }
        }
        ev.push(
            vec![
                fmt_time(Some(time)),
                vendor,
                title,
                severity,
                category,
                before.to_string(),
                if routine {
                    "no (routine)".into()
                } else if !near {
                    "no (over 2 h away)".into()
                } else {
                    "yes".into()
                },
            ],
            sql::opt_text(&r[7]),
        );
    }
    if ev.rows.is_empty() {
        return Ok(vec![]);
    }
    // Without an alert, one vendor and one tactic are the baseline.
    let (min_vendors, min_tactics) = if alert.is_some() { (1, 1) } else { (2, 2) };
    let mut points = 0.0;
    let mut parts = Vec::new();
    if vendors.len() >= min_vendors {
        points += 1.5;
        parts.push(format!("from another vendor ({})", vendors.iter().cloned().collect::<Vec<_>>().join(", ")));
    }
    if tactics.len() >= min_tactics {
        points += 1.0;
        parts.push(format!("with other tactics ({})", tactics.iter().cloned().collect::<Vec<_>>().join(", ")));
    }
    if severe > 0 {
        points += 1.0;
        parts.push(format!("{severe} of high or critical severity"));
    }
    let total = ev.rows.len();
    let summary = if counted == 0 {
        format!("{total} other alert(s) on {} in the window, none within 2 h that is not routine on this device", scope.entity)
    } else if parts.is_empty() {
        format!("{counted} other non-routine alert(s) on {} within 2 h, same vendor and tactic", scope.entity)
    } else {
        format!("{counted} other non-routine alert(s) on {} within 2 h: {}", scope.entity, parts.join(", "))
    };
    Ok(vec![finding("other_alerts", summary, points, ev)])
}

/// The device's network history before the alert.
pub struct Baseline {
    /// First and last connection of the device in the look-back before `near_from`.
    pub first: Option<DateTime<Utc>>,
    pub connections: i64,
    /// Largest hourly upload to one external destination.
    pub max_hourly_upload: f64,
}

impl Baseline {
    async fn query(scope: &Scope<'_>) -> Result<Baseline, InvestigateError> {
        let rows = sql::rows(
            scope.ctx,
            "the device's network baseline",
            &format!(
                "SELECT min(first), sum(n), max(CASE WHEN ext THEN b END) FROM ( \
                   SELECT NOT is_private_ip(dst_ip) AS ext, min(time) AS first, count(*) AS n, sum(bytes_out) AS b \
                   FROM network_flows WHERE {} AND time >= {} AND time < {} \
                   GROUP BY dst_ip, date_trunc('hour', time))",
                scope.flows_pred(),
                t(scope.lookback_from),
                t(scope.near_from)
            ),
        )
        .await?;
        let r = rows.first();
        Ok(Baseline {
            first: r.and_then(|r| sql::time(&r[0])),
            connections: r.map(|r| sql::int(&r[1])).unwrap_or(0),
            max_hourly_upload: r.map(|r| sql::num(&r[2])).unwrap_or(0.0),
        })
    }

    /// Hours of history before the near period.
    pub fn hours(&self, scope: &Scope<'_>) -> i64 {
        self.first.map(|f| (scope.near_from - f).num_hours()).unwrap_or(0)
    }

    /// True when "first seen" and "new" mean something.
    pub fn usable(&self, scope: &Scope<'_>) -> bool {
        self.hours(scope) >= MIN_BASELINE_HOURS
    }

    fn note(&self, scope: &Scope<'_>) -> Option<Finding> {
        if self.usable(scope) {
            return None;
        }
        Some(finding(
            "baseline",
            format!(
                "Only {} h of network history for {} before the alert ({} connections): first-seen and new-service checks are skipped",
                self.hours(scope),
                scope.entity,
                self.connections
            ),
            0.0,
            Evidence::default(),
        ))
    }
}

/// One external destination the device contacted near the alert.
struct Destination {
    ip: String,
    host: String,
    connections: i64,
    bytes_out: f64,
    bytes_in: f64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    beacon: Option<f64>,
    ports: String,
    /// Connections of the device to it before the near period.
    earlier: i64,
    /// Fleet devices contacting it over the look-back, and on how many days.
    devices: i64,
    days: i64,
}

/// Beaconing, rare first-seen destinations and large uploads, from one pass
/// over the device's external destinations near the alert.
async fn destinations(scope: &Scope<'_>, baseline: &Baseline) -> Result<Vec<Finding>, InvestigateError> {
    let pred = scope.flows_pred();
    let rows = sql::rows(
        scope.ctx,
        "the device's destinations near the alert",
        &format!(
            "SELECT dst_ip, max(dst_host), count(*), sum(bytes_out), sum(bytes_in), min(time), max(time), \
               beacon_score(time, bytes_out, {nf}, {to}), min(dst_port), max(dst_port) \
             FROM network_flows WHERE {pred} AND time >= {nf} AND time < {to} AND NOT is_private_ip(dst_ip) \
             GROUP BY dst_ip",
            nf = t(scope.near_from),
            to = t(scope.to)
        ),
    )
    .await?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut dests: Vec<Destination> = rows
        .iter()
        .map(|r| {
            let (lo, hi) = (sql::int(&r[8]), sql::int(&r[9]));
            Destination {
                ip: sql::text(&r[0]),
                host: sql::text(&r[1]),
                connections: sql::int(&r[2]),
                bytes_out: sql::num(&r[3]),
                bytes_in: sql::num(&r[4]),
                first: sql::time(&r[5]),
                last: sql::time(&r[6]),
                beacon: (!r[7].is_null()).then(|| sql::num(&r[7])),
                ports: if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") },
                earlier: 0,
                devices: 0,
                days: 0,
            }
        })
        .collect();
    let ips: Vec<String> = dests.iter().map(|d| d.ip.clone()).collect();
    let earlier = sql::rows(
        scope.ctx,
        "the device's earlier contacts",
        &format!(
            "SELECT dst_ip, count(*) FROM network_flows WHERE {pred} AND time >= {} AND time < {} AND dst_ip IN {} GROUP BY dst_ip",
            t(scope.lookback_from),
            t(scope.near_from),
            list(&ips)
        ),
    )
    .await?;
    let prevalence = sql::rows(
        scope.ctx,
        "fleet prevalence of the destinations",
        &format!(
            "SELECT dst_ip, count(DISTINCT entity), count(DISTINCT date_trunc('day', time)) FROM network_flows \
             WHERE time >= {} AND time < {} AND dst_ip IN {} AND entity IS NOT NULL GROUP BY dst_ip",
            t(scope.lookback_from),
            t(scope.to),
            list(&ips)
        ),
    )
    .await?;
    let earlier: BTreeMap<String, i64> = earlier.iter().map(|r| (sql::text(&r[0]), sql::int(&r[1]))).collect();
    let prevalence: BTreeMap<String, (i64, i64)> =
        prevalence.iter().map(|r| (sql::text(&r[0]), (sql::int(&r[1]), sql::int(&r[2])))).collect();
    for d in &mut dests {
        d.earlier = *earlier.get(&d.ip).unwrap_or(&0);
        let (devices, days) = *prevalence.get(&d.ip).unwrap_or(&(1, 1));
        d.devices = devices.max(1);
        d.days = days;
    }
    dests.sort_by(|a, b| b.bytes_out.total_cmp(&a.bytes_out).then(a.ip.cmp(&b.ip)));
    let rare = scope.rare_limit();
    let common = (COMMON_FLEET_FRACTION * scope.fleet_devices as f64).ceil() as i64;
    let lookback_days = (scope.to - scope.lookback_from).num_days().max(1);
    let columns = [
        "destination", "host", "ports", "connections", "bytes out", "bytes in", "first", "last", "beacon score",
        "earlier contacts", "fleet devices",
    ];
    let row = |d: &Destination| {
        vec![
            d.ip.clone(),
            d.host.clone(),
            d.ports.clone(),
            d.connections.to_string(),
            bytes(d.bytes_out),
            bytes(d.bytes_in),
            fmt_time(d.first),
            fmt_time(d.last),
            d.beacon.map(|b| format!("{b:.2}")).unwrap_or_default(),
            d.earlier.to_string(),
            scope.fleet_share(d.devices),
        ]
    };
    let mut out = Vec::new();

    // Beaconing.
    let beacon_like: Vec<&Destination> = dests
        .iter()
        .filter(|d| d.connections >= BEACON_MIN_CONNECTIONS && d.beacon.is_some_and(|b| b >= BEACON_MIN_SCORE))
        .collect();
    let (rare_beacons, other_beacons): (Vec<&Destination>, Vec<&Destination>) =
        beacon_like.into_iter().partition(|d| d.devices <= rare);
    if !rare_beacons.is_empty() {
        let mut ev = Evidence::new(&columns);
        rare_beacons.iter().for_each(|d| ev.push(row(d), None));
        // The strongest: a destination new to the device beats one it has
        // talked to before (a known resolver, an update server).
        let usable = baseline.usable(scope);
        let d = rare_beacons.iter().find(|d| d.earlier == 0).copied().unwrap_or(rare_beacons[0]);
        let (what, points) = match (d.earlier == 0, usable) {
            (true, true) => ("Beaconing to a rare destination new to the device", 3.0),
            (true, false) => ("Beaconing to a rare destination (too little history to tell whether it is new)", 1.5),
            (false, _) => ("Periodic traffic to a rare destination the device contacted before", 1.0),
        };
        out.push(finding(
            "beaconing",
            format!(
                "{what}: {} ({}) {} connections, beacon_score {:.2}, contacted by {}",
                d.ip,
                d.host,
                d.connections,
                d.beacon.unwrap_or_default(),
                scope.fleet_share(d.devices)
            ),
            points,
            ev,
        ));
    }
    let common_beacons: Vec<&&Destination> = other_beacons.iter().filter(|d| d.devices >= common).collect();
    if !common_beacons.is_empty() {
        let mut ev = Evidence::new(&columns);
        common_beacons.iter().for_each(|d| ev.push(row(d), None));
        let d = common_beacons[0];
        out.push(counter(
            "beaconing",
            format!(
                "Periodic traffic to common destinations: {} ({}) is contacted by {} on {} day(s) of the last {} days",
                d.ip,
                d.host,
                scope.fleet_share(d.devices),
                d.days,
                lookback_days
            ),
            0.0,
            ev,
        ));
    }

    // Rare destinations the device never contacted before.
    if baseline.usable(scope) {
        let new_rare: Vec<&Destination> = dests.iter().filter(|d| d.earlier == 0 && d.devices <= rare).collect();
        if !new_rare.is_empty() {
            let mut ev = Evidence::new(&columns);
            new_rare.iter().for_each(|d| ev.push(row(d), None));
            let names: Vec<String> = new_rare.iter().take(3).map(|d| format!("{} ({})", d.ip, d.host)).collect();
            out.push(finding(
                "rare_destinations",
                format!(
                    "{} external destination(s) first contacted near the alert and rare in the fleet (at most {rare} devices): {}",
                    new_rare.len(),
                    names.join(", ")
                ),
                (0.5 * new_rare.len() as f64).min(1.0),
                ev,
            ));
        }
    }

    // Large uploads against the device's own baseline.
    let limit = (UPLOAD_BASELINE_FACTOR * baseline.max_hourly_upload).max(UPLOAD_FLOOR_BYTES);
    let large: Vec<&Destination> = dests.iter().filter(|d| d.bytes_out >= limit).collect();
    for d in large.iter().take(3) {
        let mut ev = Evidence::new(&columns);
        ev.push(row(d), None);
        let base = format!(
            "{} out to {} ({}) in {} connections, {:.0}x the device's largest hourly upload to one destination before ({})",
            bytes(d.bytes_out),
            d.ip,
            d.host,
            d.connections,
            d.bytes_out / baseline.max_hourly_upload.max(1.0),
            bytes(baseline.max_hourly_upload)
        );
        if d.devices <= rare {
            out.push(finding("large_upload", format!("Large upload to a rare destination: {base}"), 3.0, ev));
        } else if d.devices >= common {
            out.push(counter(
                "large_upload",
                format!("Large upload, but to a common destination contacted by {}: {base}", scope.fleet_share(d.devices)),
                0.0,
                ev,
            ));
        } else {
            out.push(finding("large_upload", format!("Large upload to a destination {} contact: {base}", scope.fleet_share(d.devices)), 1.0, ev));
        }
    }
    Ok(out)
}

/// Fan-out over SMB/RDP/WinRM/SSH to internal peers the device did not use
/// before, against its own busiest baseline hour.
async fn lateral_movement(scope: &Scope<'_>, baseline: &Baseline) -> Result<Vec<Finding>, InvestigateError> {
    let ports = LATERAL_PORTS.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    let pred = scope.flows_pred();
    let near = sql::rows(
        scope.ctx,
        "the device's admin-protocol peers near the alert",
        &format!(
            "SELECT dst_ip, count(*), min(time), sum(bytes_out), min(dst_port), max(dst_port), count(DISTINCT dst_port), \
               sum(CASE WHEN conn_state IN ('REJ', 'S0') THEN 1 ELSE 0 END) \
             FROM network_flows WHERE {pred} AND time >= {} AND time < {} AND is_private_ip(dst_ip) AND dst_port IN ({ports}) \
             GROUP BY dst_ip ORDER BY min(time), dst_ip",
            t(scope.near_from),
            t(scope.to)
        ),
    )
    .await?;
    if near.is_empty() {
        return Ok(vec![]);
    }
    let before = sql::rows(
        scope.ctx,
        "the device's admin-protocol baseline",
        &format!(
            "SELECT dst_ip, date_trunc('hour', time) FROM network_flows WHERE {pred} AND time >= {} AND time < {} \
             AND is_private_ip(dst_ip) AND dst_port IN ({ports}) GROUP BY 1, 2",
            t(scope.lookback_from),
            t(scope.near_from)
        ),
    )
    .await?;
    let known: BTreeSet<String> = before.iter().map(|r| sql::text(&r[0])).collect();
    let mut per_hour: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &before {
        *per_hour.entry(sql::micros(&r[1]).unwrap_or(0)).or_default() += 1;
    }
    let busiest_hour = per_hour.values().copied().max().unwrap_or(0);
    let mut ev = Evidence::new(&["peer", "ports", "connections", "refused", "bytes out", "first", "new peer"]);
    let mut new_peers = 0;
    for r in &near {
        let ip = sql::text(&r[0]);
        let is_new = !known.contains(&ip);
        new_peers += usize::from(is_new);
        let (lo, hi) = (sql::int(&r[4]), sql::int(&r[5]));
        ev.push(
            vec![
                ip,
                if lo == hi { lo.to_string() } else { format!("{lo}..{hi} ({} ports)", sql::int(&r[6])) },
                sql::int(&r[1]).to_string(),
                sql::int(&r[7]).to_string(),
                bytes(sql::num(&r[3])),
                fmt_time(sql::time(&r[2])),
                if is_new { "yes".into() } else { "no".into() },
            ],
            None,
        );
    }
    let peers = near.len();
    let context = format!(
        "{peers} internal peer(s) over SMB/RDP/WinRM/SSH near the alert, {new_peers} never used before; baseline: {} known peer(s), at most {busiest_hour} in one hour over {} h",
        known.len(),
        baseline.hours(scope)
    );
    let fan_out = peers > 2 * busiest_hour.max(1);
    Ok(vec![if new_peers >= 5 && fan_out {
        finding("lateral_movement", format!("Lateral-movement fan-out: {context}"), 3.0, ev)
    } else if new_peers >= 2 && fan_out && baseline.usable(scope) {
        finding("lateral_movement", format!("Admin-protocol connections to new peers: {context}"), 1.0, ev)
    } else {
        counter("lateral_movement", format!("Admin-protocol activity within the device's baseline: {context}"), 0.0, ev)
    }])
}

/// Destination ports/protocols the device had not used in its baseline.
async fn new_services(scope: &Scope<'_>, baseline: &Baseline) -> Result<Vec<Finding>, InvestigateError> {
    if !baseline.usable(scope) {
        return Ok(vec![]);
    }
    let pred = scope.flows_pred();
    let rows = sql::rows(
        scope.ctx,
        "new services",
        &format!(
            "WITH near AS (SELECT dst_port, proto, max(service) AS service, count(*) AS n, count(DISTINCT dst_ip) AS peers, min(time) AS first \
               FROM network_flows WHERE {pred} AND time >= {nf} AND time < {to} AND dst_port IS NOT NULL GROUP BY dst_port, proto), \
             seen AS (SELECT DISTINCT dst_port, proto FROM network_flows WHERE {pred} AND time >= {lb} AND time < {nf} AND dst_port IS NOT NULL) \
             SELECT near.* FROM near LEFT JOIN seen ON near.dst_port = seen.dst_port AND near.proto = seen.proto \
             WHERE seen.dst_port IS NULL ORDER BY first, near.dst_port",
            nf = t(scope.near_from),
            to = t(scope.to),
            lb = t(scope.lookback_from)
        ),
    )
    .await?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut ev = Evidence::new(&["port", "proto", "service", "connections", "peers", "first"]);
    let mut names = Vec::new();
    for r in &rows {
        let name = format!("{}/{}{}", sql::int(&r[0]), sql::text(&r[1]), sql::opt_text(&r[2]).map(|s| format!(" ({s})")).unwrap_or_default());
        names.push(name);
        ev.push(
            vec![
                sql::int(&r[0]).to_string(),
                sql::text(&r[1]),
                sql::text(&r[2]),
                sql::int(&r[3]).to_string(),
                sql::int(&r[4]).to_string(),
                fmt_time(sql::time(&r[5])),
            ],
            None,
        );
    }
    Ok(vec![finding(
        "new_services",
        format!("{} service(s) the device never used in {} h before: {}", rows.len(), baseline.hours(scope), names.iter().take(5).cloned().collect::<Vec<_>>().join(", ")),
        (0.5 * rows.len() as f64).min(1.0),
        ev,
    )])
}
