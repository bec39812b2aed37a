//! A deterministic demo lake: a week in the life of a 50-device company,
//! with four attacks planted in otherwise benign EDR alerts and network flows.
//!
//! It exists so that everything downstream (SQL views, detections, the
//! retro-hunt runner, the Postgres endpoint, tests) has realistic data with
//! known answers, without shipping anyone's real telemetry. The same seed
//! always gives the same bytes, so the committed `data/demo-lake` can be
//! regenerated and diffed, and larger specs (10M+ flows) exercise scale.
//!
//! # Layout
//!
//! * `rng`: our own PRNG and samplers (Zipf, log-normal, Poisson), so the
//!   output does not depend on any crate's random streams.
//! * `fleet`: devices, users, EDR agents, working hours, DHCP leases; the
//!   single source of "which device had which address when".
//! * `flows`: benign Zeek-style connections (internal AD services, SaaS
//!   with Zipf popularity, niche sites, periodic telemetry, nightly backups).
//! * `alerts`: per-vendor alert catalogues, lifecycle, and the vendor JSON
//!   kept in `raw`.
//! * `incidents`: the planted attacks and the routine noise devices.
//!
//! Generation runs day by day: each [`DemoDay`] goes to the caller's sink
//! and is dropped, so memory stays bounded by one day of data.

mod alerts;
mod fleet;
mod flows;
mod incidents;
pub mod rng;

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use chrono::NaiveDate;

use self::alerts::AlertBatch;
use self::fleet::{ip_string, stream, Fleet};
use self::flows::{DayCtx, DeviceDay, FlowBatch, Internet};
use self::rng::{mix64, Rng};
use crate::lake::schema::assets;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSpec {
    /// Same seed, same bytes.
    pub seed: u64,
    /// Fleet size including the eight servers (at least 12; 30+ so that every
    /// incident and noise part finds a device).
    pub devices: usize,
    /// Number of consecutive days, starting at `start`.
    pub days: u32,
    /// First day (UTC).
    pub start: NaiveDate,
    /// Mean connections per device and day (weekends and nights are lighter,
    /// servers heavier; the total is about `devices * days * this`).
    pub flows_per_device_day: usize,
    /// Mean EDR alerts per device and day, routine noise included.
    pub alerts_per_device_day: f64,
}

impl DemoSpec {
    /// The committed demo: 50 devices, the week of Monday 2026-11-02,
    /// ~300 flows and ~2 alerts per device and day (~100k flows, ~700 alerts).
    pub fn demo(seed: u64) -> Self {
        DemoSpec {
            seed,
            devices: 50,
            days: 7,
            start: NaiveDate::from_ymd_opt(2026, 11, 2).expect("valid date"),
            flows_per_device_day: 300,
            alerts_per_device_day: 2.0,
        }
    }
}

/// One day of generated rows; every row's `time` falls on `date` (UTC).
#[derive(Debug, Clone)]
pub struct DemoDay {
    pub date: NaiveDate,
    /// In the `edr_alerts` schema, unsorted.
    pub edr_alerts: RecordBatch,
    /// In the `network_flows` schema, unsorted.
    pub network_flows: RecordBatch,
}

/// What remains after all days were handed out.
#[derive(Debug, Clone)]
pub struct DemoLake {
    /// The `assets` table: DHCP leases and EDR-reported addresses.
    pub assets: RecordBatch,
    /// The planted incidents, in the order they happen.
    pub incidents: Vec<PlantedIncident>,
}

/// One planted attack: the answer key for a detection.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantedIncident {
    /// `edr_then_beacon`, `lateral_movement`, `new_title_on_device`, `exfiltration`.
    pub name: &'static str,
    /// The device (`entity` column value).
    pub entity: String,
    /// Time of the triggering alert (its `time` column value).
    pub time: chrono::DateTime<chrono::Utc>,
    /// What happened, with the addresses and counts a detection should see.
    pub description: String,
}

/// Generates day by day and hands each day to `sink` so memory stays bounded
/// at large scale (10M+ flows, 200k+ alerts).
///
/// Stops at, and returns, the first error of `sink`.
///
/// # Panics
///
/// If `spec.devices` is below 12 or `spec.days` is 0.
pub fn generate<E>(spec: &DemoSpec, sink: &mut dyn FnMut(DemoDay) -> Result<(), E>) -> Result<DemoLake, E> {
    let (fleet, net, mut plan) = build(spec);
    let budget = Budget::new(&fleet, spec);
    let uid_key = mix64(spec.seed ^ 0x7A65_656B_5549_4453);
    for day in 0..spec.days {
        let ctx = DayCtx { fleet: &fleet, net: &net, day, day_start_us: fleet.day_start_us(day) };
        let mut flows = FlowBatch::new(budget.day_rows[day as usize], uid_key.wrapping_add((day as u64) << 32));
        let mut alerts = AlertBatch::default();
        for di in 0..fleet.devices.len() {
            let mut rng = Rng::derive(spec.seed, &[stream::FLOWS, day as u64, di as u64]);
            let n = budget.random_flows(di, day, &mut rng);
            DeviceDay::new(&ctx, &mut flows, &mut rng, di).run(n);
            let mut rng = Rng::derive(spec.seed, &[stream::ALERTS, day as u64, di as u64]);
            alerts::background(&fleet, &mut alerts, &mut rng, di, day, budget.alert_lambda(di, day));
        }
        flows::server_jobs(&ctx, &mut flows, &mut Rng::derive(spec.seed, &[stream::SERVER_JOBS, day as u64]));
        plan.emit_day(&ctx, &mut flows, &mut alerts);
        tracing::debug!(date = %fleet.date(day), flows = flows.len(), alerts = alerts.len(), "generated demo day");
        sink(DemoDay { date: fleet.date(day), edr_alerts: alerts.finish(), network_flows: flows.finish() })?;
    }
    Ok(DemoLake { assets: assets_batch(&fleet), incidents: plan.incidents(&fleet) })
}

/// Fleet, internet and cast, with day plans drawn.
/// The incidents `spec` plants (the answer key), without generating the lake.
pub fn planted_incidents(spec: &DemoSpec) -> Vec<PlantedIncident> {
    let (fleet, _, plan) = build(spec);
    plan.incidents(&fleet)
}

fn build(spec: &DemoSpec) -> (Fleet, Internet, incidents::Plan) {
    let mut fleet = Fleet::new(spec);
    let mut net = Internet::new(spec.seed);
    let plan = incidents::cast(&mut fleet, &mut net, spec);
    fleet.plan(spec.seed);
    (fleet, net, plan)
}

/// How many random flows and alerts each device-day gets, scaled so the
/// totals match the spec whatever the day plans turned out to be.
struct Budget {
    days: usize,
    flow_weight: Vec<f64>,
    alert_weight: Vec<f64>,
    flow_scale: f64,
    alert_scale: f64,
    day_rows: Vec<usize>,
}

impl Budget {
    fn new(fleet: &Fleet, spec: &DemoSpec) -> Self {
        let days = spec.days as usize;
        let n = fleet.devices.len() * days;
        let (mut flow_weight, mut alert_weight) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut periodic = vec![0.0; days];
        for (di, d) in fleet.devices.iter().enumerate() {
            for (day, periodic_today) in periodic.iter_mut().enumerate() {
                let plan = &fleet.plans[di][day];
                let (session, idle) = plan.minutes();
                let (session, idle) = (session as f64, idle as f64);
                if d.is_server() {
                    let weekday = if fleet.is_weekend(day as u32) { 0.6 } else { 1.0 };
                    flow_weight.push(d.activity * weekday);
                    alert_weight.push(0.4 * weekday);
                } else {
                    flow_weight.push(d.activity * (session / 600.0 + idle / 1440.0 * 0.15));
                    alert_weight.push(session / 600.0 + idle / 1440.0 * 0.1);
                }
                let powered_s = (session + idle) * 60.0;
                let polls = if d.os.is_windows() { powered_s / d.telemetry_period_s } else { 0.0 };
                *periodic_today += polls + powered_s / d.edr_period_s * d.vendors.len() as f64;
            }
        }
        // Server jobs: ~15 backup transfers and ~120 inbound connections a day.
        let jobs = 135.0 * days as f64;
        let total = (spec.flows_per_device_day * spec.devices * days) as f64;
        let random_total = (total - periodic.iter().sum::<f64>() - jobs).max(total * 0.3);
        let flow_scale = random_total / flow_weight.iter().sum::<f64>().max(1e-9);
        // Routine noise and incidents are on top of background alerts.
        let alert_total = spec.alerts_per_device_day * (spec.devices * days) as f64 * 0.88;
        let alert_scale = alert_total / alert_weight.iter().sum::<f64>().max(1e-9);
        let day_rows = (0..days)
            .map(|day| {
                let random: f64 = (0..fleet.devices.len()).map(|di| flow_weight[di * days + day]).sum::<f64>() * flow_scale;
                ((random + periodic[day] + 135.0) * 1.05) as usize + 1024
            })
            .collect();
        Budget { days, flow_weight, alert_weight, flow_scale, alert_scale, day_rows }
    }

    fn random_flows(&self, di: usize, day: u32, rng: &mut Rng) -> usize {
        let mean = self.flow_weight[di * self.days + day as usize] * self.flow_scale;
        (mean * rng.lognormal(0.0, 0.1)).round() as usize
    }

    fn alert_lambda(&self, di: usize, day: u32) -> f64 {
        self.alert_weight[di * self.days + day as usize] * self.alert_scale
    }
}

/// The `assets` table: every DHCP lease of the workstations, the address
/// each EDR agent reports now (workstations) or has always reported (servers).
fn assets_batch(fleet: &Fleet) -> RecordBatch {
    let mut entity = StringBuilder::new();
    let mut ip = StringBuilder::new();
    let mut from = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut to = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut source = StringBuilder::new();
    let mut row = |e: &str, a: u32, f: i64, t: Option<i64>, s: &str| {
        entity.append_value(e);
        ip.append_value(ip_string(a));
        from.append_value(f);
        to.append_option(t);
        source.append_value(s);
    };
    for d in &fleet.devices {
        for l in &d.leases {
            row(&d.name, l.ip, l.from_us, l.to_us, l.source);
        }
        if !d.is_server() {
            let current = d.leases.last().expect("every device has a lease");
            row(&d.name, current.ip, current.from_us, None, "edr");
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(entity.finish()),
        Arc::new(ip.finish()),
        Arc::new(from.finish()),
        Arc::new(to.finish()),
        Arc::new(source.finish()),
    ];
    RecordBatch::try_new(assets(), cols).expect("asset columns match the assets schema")
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::OnceLock;

    use arrow::array::{Array, AsArray, ListArray};
    use arrow::datatypes::{Int64Type, TimestampMicrosecondType};

    use super::*;

    struct Generated {
        days: Vec<DemoDay>,
        lake: DemoLake,
    }

    fn run(spec: &DemoSpec) -> Generated {
        let mut days = Vec::new();
        let lake = generate::<()>(spec, &mut |d| {
            days.push(d);
            Ok(())
        })
        .unwrap();
        Generated { days, lake }
    }

    /// The committed demo, generated once for all tests.
    fn demo() -> &'static Generated {
        static DEMO: OnceLock<Generated> = OnceLock::new();
        DEMO.get_or_init(|| run(&DemoSpec::demo(42)))
    }

    fn strings<'a>(b: &'a RecordBatch, col: &str) -> Vec<Option<&'a str>> {
        b.column_by_name(col).unwrap().as_string::<i32>().iter().collect()
    }

    fn times(b: &RecordBatch, col: &str) -> Vec<i64> {
        b.column_by_name(col).unwrap().as_primitive::<TimestampMicrosecondType>().values().to_vec()
    }

    fn incident(name: &str) -> &'static PlantedIncident {
        demo().lake.incidents.iter().find(|i| i.name == name).unwrap_or_else(|| panic!("{name} not planted"))
    }

    /// All flows of the demo as (time, src, dst, dport, bytes_out, entity).
    fn all_flows() -> Vec<(i64, String, String, i32, i64, Option<String>)> {
        let mut v = Vec::new();
        for d in &demo().days {
            let b = &d.network_flows;
            let t = times(b, "time");
            let src = strings(b, "src_ip");
            let dst = strings(b, "dst_ip");
            let port = b.column_by_name("dst_port").unwrap().as_primitive::<arrow::datatypes::Int32Type>();
            let out = b.column_by_name("bytes_out").unwrap().as_primitive::<Int64Type>();
            let ent = strings(b, "entity");
            for i in 0..b.num_rows() {
                v.push((t[i], src[i].unwrap().into(), dst[i].unwrap().into(), port.value(i), out.value(i), ent[i].map(Into::into)));
            }
        }
        v
    }

    #[test]
    fn same_spec_same_bytes() {
        let spec = DemoSpec { days: 2, ..DemoSpec::demo(7) };
        let (a, b) = (run(&spec), run(&spec));
        assert_eq!(a.days.len(), 2);
        for (x, y) in a.days.iter().zip(&b.days) {
            assert_eq!(x.network_flows, y.network_flows);
            assert_eq!(x.edr_alerts, y.edr_alerts);
        }
        assert_eq!(a.lake.assets, b.lake.assets);
        assert_eq!(a.lake.incidents, b.lake.incidents);
        let other = run(&DemoSpec { seed: 8, ..spec });
        assert_ne!(a.days[0].network_flows, other.days[0].network_flows);
    }

    #[test]
    fn schemas_match_the_lake_contract() {
        let g = demo();
        for d in &g.days {
            assert_eq!(d.network_flows.schema(), crate::lake::schema::network_flows());
            assert_eq!(d.edr_alerts.schema(), crate::lake::schema::edr_alerts());
        }
        assert_eq!(g.lake.assets.schema(), crate::lake::schema::assets());
    }

    #[test]
    fn every_row_falls_on_its_day() {
        for d in &demo().days {
            let start = d.date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros();
            let end = start + 86_400_000_000;
            for (b, name) in [(&d.network_flows, "flows"), (&d.edr_alerts, "alerts")] {
                for t in times(b, "time") {
                    assert!((start..end).contains(&t), "{name} row at {t} outside {}", d.date);
                }
            }
            let (t, u, g) = (times(&d.edr_alerts, "time"), times(&d.edr_alerts, "updated_time"), times(&d.edr_alerts, "ingest_time"));
            for i in 0..t.len() {
                assert!(t[i] <= u[i] && u[i] < g[i], "time <= updated_time < ingest_time");
            }
        }
    }

    #[test]
    fn volumes_are_near_the_spec() {
        let g = demo();
        let flows: usize = g.days.iter().map(|d| d.network_flows.num_rows()).sum();
        let alerts: usize = g.days.iter().map(|d| d.edr_alerts.num_rows()).sum();
        assert!((85_000..125_000).contains(&flows), "{flows} flows");
        assert!((550..900).contains(&alerts), "{alerts} alerts");
        let weekday = g.days[2].network_flows.num_rows();
        let sunday = g.days[6].network_flows.num_rows();
        assert!(sunday * 2 < weekday, "weekends are lighter: {sunday} vs {weekday}");
    }

    #[test]
    fn flow_entities_agree_with_assets() {
        let a = &demo().lake.assets;
        let (ent, ip) = (strings(a, "entity"), strings(a, "ip"));
        let (from, src) = (times(a, "valid_from"), strings(a, "source"));
        let to = a.column_by_name("valid_to").unwrap().as_primitive::<TimestampMicrosecondType>();
        // Every assets row (dhcp or edr) covering (address, time) names the same device.
        let owners = |addr: &str, t: i64| -> BTreeSet<&str> {
            (0..a.num_rows())
                .filter(|&i| ip[i] == Some(addr) && from[i] <= t && (to.is_null(i) || t < to.value(i)))
                .map(|i| ent[i].unwrap())
                .collect()
        };
        assert!(src.contains(&Some("dhcp")) && src.contains(&Some("edr")));
        let mut seen: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for i in 0..a.num_rows() {
            seen.entry(ip[i].unwrap()).or_default().insert(ent[i].unwrap());
        }
        let reused = seen.values().filter(|s| s.len() > 1).count();
        assert!(reused > 0, "some address should change hands within the week");
        for (k, (t, s, _, _, _, e)) in all_flows().into_iter().enumerate() {
            if k % 7 != 0 {
                continue; // a sample keeps the debug-build test quick
            }
            if s.starts_with("10.") {
                let e = e.expect("internal sources have an entity");
                assert_eq!(owners(&s, t), BTreeSet::from([e.as_str()]), "flow from {s} at {t}");
            } else {
                assert_eq!(e, None, "inbound flows have no entity");
            }
        }
    }

    #[test]
    fn uids_and_alert_ids_are_unique() {
        let g = demo();
        let mut uids = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for d in &g.days {
            for u in strings(&d.network_flows, "uid") {
                assert!(uids.insert(u.unwrap().to_owned()), "duplicate uid");
            }
            for (v, id) in strings(&d.edr_alerts, "vendor").into_iter().zip(strings(&d.edr_alerts, "alert_id")) {
                assert!(ids.insert((v.unwrap().to_owned(), id.unwrap().to_owned())), "duplicate alert id");
            }
        }
    }

    #[test]
    fn raw_json_is_the_vendor_shape() {
        let mut seen = BTreeSet::new();
        for d in &demo().days {
            let b = &d.edr_alerts;
            let (vendor, id, raw) = (strings(b, "vendor"), strings(b, "alert_id"), strings(b, "raw"));
            let (entity, title, url) = (strings(b, "entity"), strings(b, "title"), strings(b, "console_url"));
            let techniques = b.column_by_name("techniques").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
            for i in 0..b.num_rows() {
                let v: serde_json::Value = serde_json::from_str(raw[i].unwrap()).expect("raw parses");
                let (vendor, id, url) = (vendor[i].unwrap(), id[i].unwrap(), url[i].unwrap());
                seen.insert(vendor);
                let (jid, host, jtitle, jurl) = match vendor {
                    "mde" => (&v["id"], &v["evidence"][0]["deviceDnsName"], &v["title"], v["alertWebUrl"].as_str().unwrap().to_owned()),
                    "crowdstrike" => (&v["composite_id"], &v["device"]["hostname"], &v["display_name"], v["falcon_host_link"].as_str().unwrap().to_owned()),
                    "sentinelone" => {
                        assert_eq!(v["id"], v["threatInfo"]["threatId"]);
                        let u = format!("https://usea1-corp.sentinelone.net/incidents/threats/{}/overview", v["id"].as_str().unwrap());
                        (&v["id"], &v["agentRealtimeInfo"]["agentComputerName"], &v["threatInfo"]["threatName"], u)
                    }
                    other => panic!("unknown vendor {other}"),
                };
                assert_eq!(jid.as_str(), Some(id));
                assert_eq!(jtitle.as_str(), title[i]);
                assert_eq!(jurl, url);
                let short = host.as_str().unwrap().split('.').next().unwrap().to_ascii_lowercase();
                assert_eq!(Some(short.as_str()), entity[i]);
                let techs = techniques.value(i);
                for t in techs.as_string::<i32>().iter() {
                    assert!(t.unwrap().starts_with('T'));
                }
            }
        }
        assert_eq!(seen.len(), 3, "all three vendors present");
    }

    #[test]
    fn crowdstrike_ids_have_the_composite_shape() {
        let d = &demo().days[0];
        let ids = strings(&d.edr_alerts, "alert_id");
        let vendors = strings(&d.edr_alerts, "vendor");
        let cs: Vec<&str> = ids.iter().zip(&vendors).filter(|(_, v)| **v == Some("crowdstrike")).map(|(i, _)| i.unwrap()).collect();
        assert!(!cs.is_empty());
        for id in cs {
            let parts: Vec<&str> = id.split(':').collect();
            assert_eq!(parts.len(), 4, "{id}");
            assert_eq!((parts[0].len(), parts[1], parts[2].len()), (32, "ind", 32));
            assert_eq!(parts[3].split('-').count(), 3);
        }
        let mde: Vec<&str> = ids.iter().zip(&vendors).filter(|(_, v)| **v == Some("mde")).map(|(i, _)| i.unwrap()).collect();
        assert!(mde.iter().all(|id| id.starts_with("da639") && id.contains('_')), "{mde:?}");
    }

    #[test]
    fn four_incidents_on_different_days_not_at_midnight() {
        let inc = &demo().lake.incidents;
        let names: Vec<&str> = inc.iter().map(|i| i.name).collect();
        assert_eq!(names, ["edr_then_beacon", "lateral_movement", "new_title_on_device", "exfiltration"]);
        let days: BTreeSet<_> = inc.iter().map(|i| i.time.date_naive()).collect();
        assert_eq!(days.len(), 4);
        for i in inc {
            assert!(chrono::Timelike::hour(&i.time) >= 8, "{} at {}", i.name, i.time);
            assert!(!i.description.is_empty());
            // The triggering alert is in the lake with exactly this entity and time.
            let day = demo().days.iter().find(|d| d.date == i.time.date_naive()).unwrap();
            let (e, t) = (strings(&day.edr_alerts, "entity"), times(&day.edr_alerts, "time"));
            assert!((0..e.len()).any(|k| e[k] == Some(i.entity.as_str()) && t[k] == i.time.timestamp_micros()), "{}", i.name);
        }
    }

    #[test]
    fn beacon_goes_to_an_address_only_the_victim_contacts() {
        let inc = incident("edr_then_beacon");
        let t0 = inc.time.timestamp_micros();
        let flows = all_flows();
        // The beacon: the victim's most frequent external destination after the alert.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let window = t0..t0 + 6 * 3_600_000_000;
        for f in flows.iter().filter(|f| f.5.as_deref() == Some(inc.entity.as_str()) && window.contains(&f.0) && !f.2.starts_with("10.")) {
            *counts.entry(&f.2).or_default() += 1;
        }
        let (c2, n) = counts.iter().max_by_key(|(_, n)| **n).map(|(k, v)| (*k, *v)).unwrap();
        assert!(n >= 250, "beacon has {n} connections");
        let to_c2: Vec<_> = flows.iter().filter(|f| f.2 == c2).collect();
        assert!(to_c2.iter().all(|f| f.5.as_deref() == Some(inc.entity.as_str())), "only the victim talks to {c2}");
        let first = to_c2.iter().map(|f| f.0).filter(|&t| t > t0).min().unwrap();
        assert!((120_000_000..=300_000_000).contains(&(first - t0)), "beacon starts 2-5 min after the alert");
        let mut ts: Vec<i64> = to_c2.iter().map(|f| f.0).filter(|&t| t > t0).collect();
        ts.sort();
        for w in ts.windows(2) {
            let gap = (w[1] - w[0]) as f64 / 1e6;
            assert!((55.0..=65.0).contains(&gap), "beacon interval {gap}");
        }
        assert!(inc.description.contains(c2));
    }

    #[test]
    fn lateral_movement_fans_out_far_above_baseline() {
        let inc = incident("lateral_movement");
        let t0 = inc.time.timestamp_micros();
        let ports = [445, 3389, 5985];
        let mut before = BTreeSet::new();
        let mut after = BTreeSet::new();
        for f in all_flows().iter().filter(|f| f.5.as_deref() == Some(inc.entity.as_str()) && ports.contains(&f.3)) {
            if f.0 < t0 {
                before.insert(f.2.clone());
            } else if f.0 <= t0 + 45 * 60_000_000 {
                after.insert(f.2.clone());
            }
        }
        assert!(before.len() <= 3, "baseline peers {before:?}");
        assert!(after.len() >= 20, "fan-out {}", after.len());
    }

    #[test]
    fn new_title_is_routine_elsewhere_and_new_on_the_device() {
        let inc = incident("new_title_on_device");
        let t0 = inc.time.timestamp_micros();
        let mut devices_before = BTreeSet::new();
        let mut on_device = Vec::new();
        let mut other_vendor_within_hour = false;
        for d in &demo().days {
            let b = &d.edr_alerts;
            let (e, title, v, t, cat) =
                (strings(b, "entity"), strings(b, "title"), strings(b, "vendor"), times(b, "time"), strings(b, "category"));
            for i in 0..b.num_rows() {
                if title[i] == Some(incidents::ROUTINE_TITLE) && v[i] == Some("mde") {
                    if e[i] == Some(inc.entity.as_str()) {
                        on_device.push(t[i]);
                    } else if t[i] < t0 {
                        devices_before.insert(e[i].unwrap());
                    }
                }
                if e[i] == Some(inc.entity.as_str()) && v[i] == Some("crowdstrike") && t[i] > t0 && t[i] <= t0 + 3_600_000_000 {
                    other_vendor_within_hour |= cat[i] != Some("Persistence");
                }
            }
        }
        assert_eq!(on_device, vec![t0], "exactly once, at the incident");
        assert!(devices_before.len() >= 3, "routine on {devices_before:?}");
        assert!(other_vendor_within_hour);
    }

    #[test]
    fn exfiltration_is_large_and_rare() {
        let inc = incident("exfiltration");
        let t0 = inc.time.timestamp_micros();
        let flows = all_flows();
        let big: Vec<_> = flows
            .iter()
            .filter(|f| f.5.as_deref() == Some(inc.entity.as_str()) && f.0 > t0 && f.0 < t0 + 30 * 60_000_000 && f.4 > 100_000_000)
            .collect();
        assert!(!big.is_empty());
        let dst = &big[0].2;
        let total: i64 = big.iter().map(|f| f.4).sum();
        assert!(total > 300_000_000, "{total} bytes out");
        assert!(flows.iter().filter(|f| &f.2 == dst).all(|f| f.5.as_deref() == Some(inc.entity.as_str())));
        // The victim's own benign uploads before the incident are far smaller.
        let max_before = flows.iter().filter(|f| f.5.as_deref() == Some(inc.entity.as_str()) && f.0 < t0).map(|f| f.4).max();
        assert!(max_before.unwrap_or(0) < 100_000_000);
    }

    #[test]
    fn noisy_devices_repeat_daily() {
        let (fleet, _, plan) = build(&DemoSpec::demo(42));
        assert!(plan.noisy.len() >= 8);
        for n in &plan.noisy {
            let name = &fleet.devices[n.di].name;
            let days_with = demo()
                .days
                .iter()
                .filter(|d| {
                    let (e, t) = (strings(&d.edr_alerts, "entity"), strings(&d.edr_alerts, "title"));
                    (0..e.len()).any(|i| e[i] == Some(name.as_str()) && t[i] == Some(n.kind.title))
                })
                .count();
            assert_eq!(days_with, 7, "{name} {}", n.kind.title);
        }
    }

    /// Rough throughput at a larger fleet (run with `--ignored --nocapture`;
    /// meaningful only in an optimised build).
    #[test]
    #[ignore]
    fn throughput() {
        let spec = DemoSpec { devices: 2_000, days: 2, ..DemoSpec::demo(1) };
        let started = std::time::Instant::now();
        let mut rows = 0;
        let lake = generate::<()>(&spec, &mut |d| {
            rows += d.network_flows.num_rows() + d.edr_alerts.num_rows();
            Ok(())
        })
        .unwrap();
        let secs = started.elapsed().as_secs_f64();
        println!("{rows} rows in {secs:.2} s: {:.0} rows/s; {} incidents", rows as f64 / secs, lake.incidents.len());
        assert_eq!(lake.incidents.len(), 4);
    }

    /// Prints the answer key for `data/README.md`:
    /// `cargo test --lib demo::tests::print_answer_key -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn print_answer_key() {
        let g = demo();
        let flows: usize = g.days.iter().map(|d| d.network_flows.num_rows()).sum();
        let alerts: usize = g.days.iter().map(|d| d.edr_alerts.num_rows()).sum();
        println!("flows {flows}, alerts {alerts}, assets {}", g.lake.assets.num_rows());
        for d in &g.days {
            println!("{} flows {} alerts {}", d.date, d.network_flows.num_rows(), d.edr_alerts.num_rows());
        }
        for i in &g.lake.incidents {
            println!("{} | {} | {} | {}", i.name, i.entity, i.time.format("%Y-%m-%d %H:%M:%S%.3f"), i.description);
        }
        let (fleet, _, plan) = build(&DemoSpec::demo(42));
        for n in &plan.noisy {
            let d = &fleet.devices[n.di];
            println!("noisy {} {:?} {} at ~{:02}:{:02}", d.name, n.kind.vendor, n.kind.title, n.minute / 60, n.minute % 60);
        }
        for d in &fleet.devices {
            println!(
                "{} {:?} {:?} admin={} always_on={} leases={}",
                d.name,
                d.role,
                d.vendors,
                d.admin,
                d.always_on,
                d.leases.iter().map(|l| ip_string(l.ip)).collect::<Vec<_>>().join(",")
            );
        }
    }
}
