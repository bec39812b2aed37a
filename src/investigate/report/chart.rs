//! The geometry of the timeline chart, shared by the SVG (HTML report) and
//! the PDF: the device's network activity around the alert in time buckets
//! (bytes out, log scale), its alerts and detections as markers, and the
//! investigated alert as a red line.

use chrono::{DateTime, Duration, Utc};

use super::super::Investigation;

/// Chart size in its own units (SVG pixels, PDF points after scaling).
pub const WIDTH: f64 = 1000.0;
pub const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 40.0;
/// Buckets across the window.
const BUCKETS: i64 = 104;

/// One bar: a time bucket of network activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub width: f64,
    /// Height from the baseline (y grows downward, as in SVG).
    pub height: f64,
    pub start: DateTime<Utc>,
    pub connections: i64,
    pub bytes_out: i64,
    /// A destination first seen by the device falls in this bucket.
    pub first_seen: bool,
}

/// An alert or detection marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub time: DateTime<Utc>,
    pub label: String,
    /// `alert`, `detection`, or `target` (the investigated alert).
    pub kind: &'static str,
    pub severity: String,
}

/// A time tick on the x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub x: f64,
    pub label: String,
}

/// The chart, in coordinates where (0, 0) is the top left.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    /// The y of the bars' baseline.
    pub baseline: f64,
    pub bars: Vec<Bar>,
    pub markers: Vec<Marker>,
    pub ticks: Vec<Tick>,
    /// Labels of the log scale: (y, text).
    pub scale: Vec<(f64, String)>,
    pub caption: String,
}

/// Lays out the chart of `inv`'s timeline over [from, to].
pub fn layout(inv: &Investigation) -> Chart {
    let (from, to) = (inv.from, inv.to);
    let span = (to - from).num_seconds().max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x_of = |t: DateTime<Utc>| LEFT + plot_w * ((t - from).num_seconds() as f64 / span).clamp(0.0, 1.0);
    let bucket = Duration::seconds(((span as i64) / BUCKETS).max(60));
    let n = ((span / bucket.num_seconds() as f64).ceil() as usize).max(1);
    let mut conns = vec![0i64; n];
    let mut out = vec![0i64; n];
    let mut first = vec![false; n];
    let mut markers = Vec::new();
    for r in &inv.timeline {
        match r.kind.as_str() {
            "network" => {
                let i = (((r.time - from).num_seconds() / bucket.num_seconds()).max(0) as usize).min(n - 1);
                conns[i] += r.connections.unwrap_or(0);
                out[i] += r.bytes_out.unwrap_or(0);
                first[i] |= r.first_seen.unwrap_or(false);
            }
            "alert" | "detection" => {
                let target = inv.alert.as_ref().is_some_and(|a| r.reference.as_deref() == Some(a.alert_id.as_str()) && r.vendor.as_deref() == Some(a.vendor.as_str()));
                markers.push(Marker {
                    x: x_of(r.time),
                    time: r.time,
                    label: r.summary.clone(),
                    kind: if target { "target" } else if r.kind == "alert" { "alert" } else { "detection" },
                    severity: r.severity.clone().unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
    if let Some(a) = &inv.alert {
        if !markers.iter().any(|m| m.kind == "target") {
            markers.push(Marker { x: x_of(a.time), time: a.time, label: format!("{} {}", a.vendor, a.title), kind: "target", severity: a.severity.clone() });
        }
    } else {
        markers.push(Marker { x: x_of(inv.time), time: inv.time, label: "time investigated".into(), kind: "target", severity: String::new() });
    }
    let baseline = HEIGHT - BOTTOM;
    let plot_h = baseline - TOP - 20.0;
    let max_log = out.iter().map(|b| ((*b).max(1) as f64).log10()).fold(3.0_f64, f64::max).ceil();
    let bw = plot_w / n as f64;
    let bars = (0..n)
        .filter(|i| conns[*i] > 0)
        .map(|i| {
            let h = plot_h * ((out[i].max(1) as f64).log10() / max_log).clamp(0.02, 1.0);
            Bar {
                x: LEFT + bw * i as f64,
                width: (bw - 1.0).max(1.0),
                height: h,
                start: from + bucket * i as i32,
                connections: conns[i],
                bytes_out: out[i],
                first_seen: first[i],
            }
        })
        .collect();
    let scale = (0..=max_log as i32)
        .step_by(3)
        .map(|p| (baseline - plot_h * f64::from(p) / max_log, super::super::checks::bytes(10f64.powi(p))))
        .collect();
    let tick_every = Duration::hours(((span / 3600.0) / 8.0).ceil().max(1.0) as i64);
    let mut ticks = Vec::new();
    let mut t = DateTime::from_timestamp((from.timestamp() / 3600 + 1) * 3600, 0).unwrap_or(from);
    while t < to {
        ticks.push(Tick { x: x_of(t), label: t.format("%d %H:%M").to_string() });
        t += tick_every;
    }
    Chart {
        plot_left: LEFT,
        plot_right: WIDTH - RIGHT,
        plot_top: TOP,
        baseline,
        bars,
        markers,
        ticks,
        scale,
        caption: format!(
            "{}: bytes out per {} min (log scale), {} to {}; red line: the alert; dots: other alerts; diamonds: detections; orange bars: first-seen destinations",
            inv.entity,
            bucket.num_minutes(),
            super::when(from),
            super::when(to)
        ),
    }
}
