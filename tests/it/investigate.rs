//! Investigations end to end: the planted incidents of the demo lake are
//! escalated with the findings that explain them, routine noise comes out
//! likely benign, the timeline is checked row by row on a small fixture,
//! the SQL table functions answer, live investigation is exactly once, and
//! the reports render (HTML in headless Chromium, PDF parsed by lopdf).

use crate::fixtures::{copy_days, demo_lake};
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use datafusion::prelude::SessionContext;
use huntlake::demo::{self, DemoSpec};
use huntlake::engine::{Engine, EngineOptions};
use huntlake::investigate::report::{self, Format};
use huntlake::investigate::{self, live, timeline, Investigation, Target, Verdict, Window};
use huntlake::lake::{schema, LakeLocation, LakeWriter};


async fn open(dir: &Path) -> Engine {
    Engine::open(EngineOptions::new(LakeLocation::parse(dir.to_str().unwrap()).unwrap())).await.unwrap()
}

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    huntlake::detect::hunt::parse_time(s).unwrap()
}

async fn strings(ctx: &SessionContext, sql: &str) -> Vec<Vec<String>> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<ArrayRef> = b.columns().iter().map(|c| cast(c, &arrow::datatypes::DataType::Utf8).unwrap()).collect();
        for i in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|c| {
                        let s = c.as_any().downcast_ref::<StringArray>().unwrap();
                        if s.is_null(i) { String::new() } else { s.value(i).to_string() }
                    })
                    .collect(),
            );
        }
    }
    out
}

/// `vendor:alert_id` of the alert that triggered each planted incident of the committed demo.
async fn incident_alerts(ctx: &SessionContext) -> Vec<(demo::PlantedIncident, String)> {
    let mut out = Vec::new();
    for i in demo::planted_incidents(&DemoSpec::demo(42)) {
        let rows = strings(
            ctx,
            &format!(
                "SELECT vendor, alert_id FROM edr_alerts WHERE entity = '{}' AND time = TIMESTAMP '{}'",
                i.entity,
                i.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            ),
        )
        .await;
        assert_eq!(rows.len(), 1, "incident {} has one alert", i.name);
        out.push((i, format!("{}:{}", rows[0][0], rows[0][1])));
    }
    assert_eq!(out.len(), 4);
    out
}

fn finding<'a>(inv: &'a Investigation, check: &str) -> &'a investigate::Finding {
    inv.findings
        .iter()
        .filter(|f| f.check == check && !f.counter)
        .max_by(|a, b| a.points.total_cmp(&b.points))
        .unwrap_or_else(|| panic!("no {check} finding for {}: {:#?}", inv.key(), inv.findings))
}

/// The attacker's address of each planted incident (data/README.md, seed 42).
fn attacker_address(incident: &str) -> Option<&'static str> {
    match incident {
        "edr_then_beacon" => Some("185.174.54.147"),
        "exfiltration" => Some("91.219.117.180"),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigate_planted_incidents_are_escalated_with_their_explanations() {
    let engine = open(&demo_lake()).await;
    let ctx = engine.session();
    for (incident, key) in incident_alerts(&ctx).await {
        let inv = investigate::investigate(&ctx, &Target::Alert(key.clone()), Window::default()).await.unwrap();
        assert_eq!(inv.verdict, Verdict::Escalate, "{} ({key}): {:#?}", incident.name, inv.findings);
        assert_eq!(inv.entity, incident.entity);
        assert!(!inv.reasons.is_empty());
        // The rarity check's pruned computation gives edr_alerts_scored's values.
        let (vendor, id) = key.split_once(':').unwrap();
        let view = strings(
            &ctx,
            &format!(
                "SELECT round(unusualness, 1), round(entity_surprise, 2), round(population_surprise, 2), device_history, \
                 device_value_history, fleet_value_devices, fleet_devices FROM edr_alerts_scored WHERE vendor = '{vendor}' AND alert_id = '{id}'"
            ),
        )
        .await;
        let rarity = inv.findings.iter().find(|f| f.check == "alert_rarity" && !f.evidence.rows.is_empty()).unwrap();
        let fmt = |v: &str, d: usize| format!("{:.*}", d, v.parse::<f64>().unwrap());
        assert_eq!(
            rarity.evidence.rows[0][1..].to_vec(),
            vec![fmt(&view[0][0], 1), fmt(&view[0][1], 2), fmt(&view[0][2], 2), view[0][3].clone(), view[0][4].clone(), view[0][5].clone(), view[0][6].clone()],
            "{}",
            incident.name
        );
        let named: Vec<&str> = attacker_address(incident.name).into_iter().collect();
        let evidence_has = |f: &investigate::Finding, ip: &str| f.evidence.rows.iter().any(|r| r[0] == ip);
        match incident.name {
            "edr_then_beacon" => {
                let f = finding(&inv, "beaconing");
                assert!(f.points >= 3.0);
                // The beacon's destination (the last address the answer key names).
                assert!(named.iter().any(|ip| evidence_has(f, ip)), "{named:?} in {:#?}", f.evidence);
                let rare = finding(&inv, "rare_destinations");
                assert!(evidence_has(rare, "185.174.2.40"), "the download host is new and rare too: {:#?}", rare.evidence);
                let row = f.evidence.rows.iter().find(|r| r[0] == named[0]).unwrap();
                assert_eq!((row[9].as_str(), row[10].as_str()), ("0", "1 of 50 devices (2%)"), "new to the device, unique in the fleet");
            }
            "lateral_movement" => {
                let f = finding(&inv, "lateral_movement");
                assert!(f.points >= 3.0);
                let new_peers = f.evidence.rows.iter().filter(|r| r[6] == "yes").count();
                assert!(new_peers >= 20, "24 hosts, most new: {new_peers}");
                assert!(finding(&inv, "alert_rarity").summary.contains("New everywhere"));
            }
            "new_title_on_device" => {
                let rarity = finding(&inv, "alert_rarity");
                assert!(rarity.summary.contains("First time on"), "{}", rarity.summary);
                let other = finding(&inv, "other_alerts");
                assert!(other.summary.contains("another vendor (crowdstrike)"), "{}", other.summary);
                assert!(other.evidence.rows.iter().any(|r| r[2] == "Process injection into a system process"));
            }
            "exfiltration" => {
                let f = finding(&inv, "large_upload");
                assert!(f.points >= 3.0);
                assert!(named.iter().any(|ip| evidence_has(f, ip)), "{named:?} in {:#?}", f.evidence);
                assert!(f.summary.contains("rare destination"));
            }
            other => panic!("unknown incident {other}"),
        }
        // Every console link of the evidence is the vendor console's.
        let alert = inv.alert.as_ref().unwrap();
        assert!(alert.console_url.starts_with("https://"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigate_noisy_recurring_alerts_are_likely_benign() {
    let engine = open(&demo_lake()).await;
    let ctx = engine.session();
    // The last occurrence of each device's daily noise (data/README.md):
    // BundleInstaller on a quiet workstation and the backup agent's task.
    for (entity, title) in [("ws-0007", "'BundleInstaller' unwanted software was detected"), ("ws-0008", "Suspicious Task Scheduler activity"), ("ws-0015", "Adware/PUP")] {
        let rows = strings(
            &ctx,
            &format!("SELECT vendor || ':' || alert_id FROM edr_alerts WHERE entity = '{entity}' AND title = '{}' ORDER BY time DESC LIMIT 1", title.replace('\'', "''")),
        )
        .await;
        let inv = investigate::investigate(&ctx, &Target::Alert(rows[0][0].clone()), Window::default()).await.unwrap();
        assert_eq!(inv.verdict, Verdict::LikelyBenign, "{entity} {title}: {:#?}", inv.findings);
        let routine = inv.findings.iter().find(|f| f.check == "alert_rarity").unwrap();
        assert!(routine.counter && routine.points < 0.0, "{routine:?}");
        assert!(inv.counter_evidence.iter().any(|c| c.starts_with(&format!("Routine on {entity}"))), "{:?}", inv.counter_evidence);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigate_and_entity_timeline_table_functions_answer_in_sql() {
    let engine = open(&demo_lake()).await;
    let ctx = engine.session();
    let incidents = incident_alerts(&ctx).await;
    let (_, key) = incidents.iter().find(|(i, _)| i.name == "exfiltration").unwrap();
    let rows = strings(&ctx, &format!("SELECT \"check\", verdict, points, alert FROM investigate('{key}')")).await;
    assert!(rows.iter().all(|r| r[1] == "escalate" && r[3] == *key), "{rows:?}");
    assert!(rows.iter().any(|r| r[0] == "large_upload" && r[2] == "3.0"), "{rows:?}");
    assert_eq!(rows.last().unwrap()[0], "verdict");

    // Timestamps, casts and plain text all work as bounds.
    let rows = strings(
        &ctx,
        "SELECT kind, vendor, link, dst_ip, first_seen FROM entity_timeline('ws-0028', CAST('2026-11-07 20:29:00' AS TIMESTAMP), '2026-11-07 20:39:00') ORDER BY time",
    )
    .await;
    assert_eq!(rows[0][..3], ["alert", "sentinelone", "https://usea1-corp.sentinelone.net/incidents/threats/1320548598712744460/overview"]);
    assert!(rows.iter().any(|r| r[0] == "network" && r[3] == "91.219.117.180" && r[4] == "true"), "first contact with the exfil host: {rows:?}");

    let err = ctx.sql("SELECT * FROM investigate('no-such-alert')").await.unwrap().collect().await.unwrap_err();
    assert!(err.to_string().contains("no EDR alert with id \"no-such-alert\""), "{err}");
    let err = ctx.sql("SELECT * FROM entity_timeline('ws-0001')").await.err().unwrap();
    assert!(err.to_string().contains("takes three arguments"), "{err}");
}

/// Runs `sql` (columns in the table's order) in a scratch context and casts
/// the result to the lake table's schema.
async fn fixture_batch(table: &str, sql: &str) -> RecordBatch {
    let target = schema::schema(table).unwrap();
    let batches = SessionContext::new().sql(sql).await.unwrap().collect().await.unwrap();
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let cols: Vec<ArrayRef> = b.columns().iter().zip(target.fields()).map(|(c, f)| cast(c, f.data_type()).unwrap()).collect();
    RecordBatch::try_new(target, cols).unwrap()
}

/// Two devices: dev-a holds 10.0.0.5 until 12:00 then 10.0.0.6; dev-b 10.0.0.7.
async fn timeline_fixture(dir: &Path) {
    let w = LakeWriter::new(LakeLocation::parse(dir.to_str().unwrap()).unwrap());
    w.write("assets", &fixture_batch("assets", "SELECT * FROM (VALUES \
        ('dev-a', '10.0.0.5', '2026-11-03T00:00:00Z', '2026-11-03T12:00:00Z', 'dhcp'), \
        ('dev-a', '10.0.0.6', '2026-11-03T12:00:00Z', NULL, 'dhcp'), \
        ('dev-b', '10.0.0.7', '2026-11-01T00:00:00Z', NULL, 'static'))").await).await.unwrap();
    w.write("network_flows", &fixture_batch("network_flows", "SELECT * FROM (VALUES \
        ('2026-11-03T07:00:00Z', 'zeek', 'C0', '10.0.0.5', 5000, '8.8.8.8', 53, 'udp', 'dns', 0.1, 40, 80, 'SF', NULL, 'dev-a'), \
        ('2026-11-03T08:00:10Z', 'zeek', 'C1', '10.0.0.5', 5001, '93.184.216.34', 443, 'tcp', 'ssl', 1.0, 100, 1000, 'SF', 'example.org', 'dev-a'), \
        ('2026-11-03T08:00:40Z', 'zeek', 'C2', '10.0.0.5', 5002, '93.184.216.34', 443, 'tcp', 'ssl', 1.0, 200, 2000, 'SF', 'example.org', 'dev-a'), \
        ('2026-11-03T08:00:50Z', 'zeek', 'C3', '10.0.0.5', 5003, '10.0.0.7', 445, 'tcp', 'smb', 1.0, 50, 60, 'SF', NULL, 'dev-a'), \
        ('2026-11-03T12:30:05Z', 'zeek', 'C4', '10.0.0.6', 5004, '93.184.216.34', 443, 'tcp', 'ssl', 1.0, 300, 3000, 'SF', 'example.org', 'dev-a'), \
        ('2026-11-03T12:30:05Z', 'zeek', 'C5', '10.0.0.7', 5005, '93.184.216.34', 443, 'tcp', 'ssl', 1.0, 7, 7, 'SF', 'example.org', 'dev-b'), \
        ('2026-11-03T12:45:00Z', 'zeek', 'C6', '10.0.0.5', 5006, '1.1.1.1', 443, 'tcp', 'ssl', 1.0, 9, 9, 'SF', NULL, NULL))").await).await.unwrap();
    w.write("edr_alerts", &fixture_batch("edr_alerts", "SELECT * FROM (VALUES \
        ('2026-11-03T08:00:00Z', '2026-11-03T08:00:00Z', '2026-11-03T08:01:00Z', 'mde', 'a1', 'dev-a', 'd1', '10.0.0.5', NULL, 'Suspicious PowerShell command line', 'Execution', 'high', 4, NULL, NULL, NULL, NULL, NULL, 'new', 'https://console.example/a1', '{}'), \
        ('2026-11-03T09:00:00Z', '2026-11-03T09:00:00Z', '2026-11-03T09:01:00Z', 'mde', 'b1', 'dev-b', 'd2', '10.0.0.7', NULL, 'Other device', 'Execution', 'low', 2, NULL, NULL, NULL, NULL, NULL, 'new', 'https://console.example/b1', '{}'), \
        ('2026-11-03T12:30:05Z', '2026-11-03T12:30:05Z', '2026-11-03T12:31:00Z', 'crowdstrike', 'a3', 'dev-a', 'd1', '10.0.0.6', NULL, 'Machine Learning detection', 'Machine Learning', 'medium', 3, NULL, NULL, NULL, NULL, NULL, 'new', 'https://console.example/a3', '{}'))").await).await.unwrap();
    w.write("detections", &fixture_batch("detections", "SELECT * FROM (VALUES \
        ('2026-11-03T08:05:00Z', 'det_x', 'dev-a', 4, 80.0, 'something odd', '{}', 'live'))").await).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigate_timeline_rows_in_order_on_a_small_fixture() {
    let dir = tempfile::tempdir().unwrap();
    timeline_fixture(dir.path()).await;
    let engine = open(dir.path()).await;
    let rows = timeline::query(&engine.session(), "DEV-A", t("2026-11-03T07:30:00Z"), t("2026-11-03T13:00:00Z"), &timeline::Options::default())
        .await
        .unwrap();
    #[allow(clippy::type_complexity)] // one tuple per timeline row, compared literally below
    let got: Vec<(String, &str, &str, Option<&str>, Option<i64>, Option<i64>, Option<bool>, Option<f64>)> = rows
        .iter()
        .map(|r| {
            (
                r.time.format("%H:%M:%S").to_string(),
                r.kind.as_str(),
                r.summary.as_str(),
                r.link.as_deref(),
                r.connections,
                r.bytes_out,
                r.first_seen,
                r.fleet_fraction,
            )
        })
        .collect();
    let expected = vec![
        ("08:00:00".to_string(), "alert", "mde high alert: Suspicious PowerShell command line [Execution] (new)", Some("https://console.example/a1"), None, None, None, None),
        ("08:00:00".into(), "network", "internal 10.0.0.7:445/tcp smb: 1 connection, 50 B out / 60 B in, first seen, 50% of devices", None, Some(1), Some(50), Some(true), Some(0.5)),
        ("08:00:00".into(), "network", "to 93.184.216.34:443/tcp ssl (example.org): 2 connections, 300 B out / 2.9 KB in, first seen, 100% of devices", None, Some(2), Some(300), Some(true), Some(1.0)),
        ("08:05:00".into(), "detection", "detection det_x (score 80): something odd", None, None, None, None, None),
        ("12:00:00".into(), "asset", "dev-a no longer holds address 10.0.0.5 (from dhcp)", None, None, None, None, None),
        ("12:00:00".into(), "asset", "dev-a holds address 10.0.0.6 (from dhcp)", None, None, None, None, None),
        ("12:30:00".into(), "network", "to 93.184.216.34:443/tcp ssl (example.org): 1 connection, 300 B out / 2.9 KB in, 100% of devices", None, Some(1), Some(300), Some(false), Some(1.0)),
        ("12:30:05".into(), "alert", "crowdstrike medium alert: Machine Learning detection [Machine Learning] (new)", Some("https://console.example/a3"), None, None, None, None),
    ];
    assert_eq!(got, expected);
    assert_eq!(rows[3].severity.as_deref(), Some("high"));
    assert_eq!(rows[0].reference.as_deref(), Some("a1"));

    // The same rows through SQL, with the columns the table function declares.
    let batches = engine
        .session()
        .sql("SELECT kind, connections, first_seen, fleet_fraction FROM entity_timeline('dev-a', '2026-11-03 07:30:00', '2026-11-03 13:00:00')")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(b.num_rows(), expected.len());
    let kinds = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    let conns = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
    let first = b.column(2).as_any().downcast_ref::<BooleanArray>().unwrap();
    let frac = b.column(3).as_any().downcast_ref::<Float64Array>().unwrap();
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(kinds.value(i), e.1);
        assert_eq!(conns.is_valid(i).then(|| conns.value(i)), e.4);
        assert_eq!(first.is_valid(i).then(|| first.value(i)), e.6);
        assert_eq!(frac.is_valid(i).then(|| frac.value(i)), e.7);
    }
}


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigate_live_investigates_each_new_alert_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    copy_days(dir.path(), "assets", &[]);
    copy_days(dir.path(), "network_flows", &[]);
    copy_days(dir.path(), "edr_alerts", &["2026-11-07"]);
    let engine = open(dir.path()).await;
    let options = live::LiveOptions { report_dir: None, start: t("2026-11-01"), max_per_cycle: 10, window: Window::default() };
    let ctx = engine.session();
    let expected = strings(&ctx, "SELECT vendor, alert_id FROM edr_alerts GROUP BY vendor, alert_id ORDER BY 1, 2").await;
    assert!(expected.len() > 10, "more alerts than one cycle takes");

    let first = live::cycle(&engine, &options, t("2026-11-28T12:00:00Z")).await.unwrap();
    assert_eq!(first.investigated, 10);
    assert!(first.more);
    let mut cycles = 1;
    loop {
        let r = live::cycle(&engine, &options, t("2026-11-28T12:00:00Z")).await.unwrap();
        cycles += 1;
        if r.investigated == 0 {
            break;
        }
        assert!(cycles < 10);
    }
    engine.refresh_listings();
    let got = strings(&ctx, "SELECT vendor, alert_id, count(*) FROM investigations GROUP BY vendor, alert_id ORDER BY 1, 2").await;
    assert_eq!(got.iter().map(|r| r[..2].to_vec()).collect::<Vec<_>>(), expected, "every alert investigated");
    assert!(got.iter().all(|r| r[2] == "1"), "each exactly once: {got:?}");

    let rclone = strings(&ctx, "SELECT verdict, report_path, findings, entity, CAST(time AS VARCHAR) FROM investigations WHERE alert_id = '1320548598712744460'").await;
    assert_eq!(rclone[0][0], "escalate");
    assert_eq!(rclone[0][3], "ws-0028");
    let findings: serde_json::Value = serde_json::from_str(&rclone[0][2]).unwrap();
    assert!(findings.as_array().unwrap().iter().any(|f| f["check"] == "large_upload"), "{findings}");
    let path = url::Url::parse(&rclone[0][1]).unwrap().to_file_path().unwrap();
    assert!(path.starts_with(dir.path().join("_state/reports")), "{path:?}");
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.contains("<svg id=\"timeline-chart\"") && html.contains("escalate"));

    // A newly landed alert (a later version of the same alert is not new).
    let late = strings(&ctx, "SELECT alert_id FROM edr_alerts ORDER BY alert_id LIMIT 1").await;
    let b = engine
        .session()
        .sql(&format!(
            "SELECT time, updated_time, TIMESTAMP '2026-11-28T11:00:00Z' AS ingest_time, vendor, 'late-1' AS alert_id, entity, device_id, device_ip, user_name, title, category, severity, severity_id, techniques, process_name, command_line, file_name, file_sha256, status, console_url, raw FROM edr_alerts WHERE alert_id = '{}'",
            late[0][0]
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let b = arrow::compute::concat_batches(&b[0].schema(), &b).unwrap();
    let cols: Vec<ArrayRef> = b.columns().iter().zip(schema::edr_alerts().fields()).map(|(c, f)| cast(c, f.data_type()).unwrap()).collect();
    let batch = RecordBatch::try_new(schema::edr_alerts(), cols).unwrap();
    LakeWriter::new(engine.lake().clone()).write("edr_alerts", &batch).await.unwrap();
    let r = live::cycle(&engine, &options, t("2026-11-28T12:05:00Z")).await.unwrap();
    assert_eq!(r.investigated, 1);
    let r = live::cycle(&engine, &options, t("2026-11-28T12:10:00Z")).await.unwrap();
    assert_eq!(r.investigated, 0);
    engine.refresh_listings();
    let n = strings(&ctx, "SELECT count(*) FROM investigations WHERE alert_id = 'late-1'").await;
    assert_eq!(n[0][0], "1");
}

/// Decodes an 8-bit RGB/RGBA PNG (what Chromium writes) into RGB pixels.
fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    use std::io::Read;
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut pos, mut width, mut height, mut channels, mut idat) = (8, 0usize, 0usize, 0usize, Vec::new());
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let data = &bytes[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "8-bit PNG");
                channels = match data[9] { 2 => 3, 6 => 4, other => panic!("PNG colour type {other}") };
                assert_eq!(data[12], 0, "not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        pos += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let stride = width * channels;
    let mut prev = vec![0u8; stride];
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let mut cur = line[1..].to_vec();
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] as i32 } else { 0 };
            let b = prev[i] as i32;
            let c = if i >= channels { prev[i - channels] as i32 } else { 0 };
            let add = match line[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc { a } else if pb <= pc { b } else { c }
                }
                f => panic!("PNG filter {f}"),
            };
            cur[i] = (cur[i] as i32 + add) as u8;
        }
        for x in 0..width {
            pixels.push([cur[x * channels], cur[x * channels + 1], cur[x * channels + 2]]);
        }
        prev = cur;
    }
    (width, height, pixels)
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigate_reports_render_in_every_format() {
    let engine = open(&demo_lake()).await;
    let ctx = engine.session();
    let incidents = incident_alerts(&ctx).await;
    let (_, key) = incidents.iter().find(|(i, _)| i.name == "edr_then_beacon").unwrap();
    let inv = investigate::investigate(&ctx, &Target::Alert(key.clone()), Window::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Markdown: verdict, reasons, the activity table with the alert marked, evidence tables.
    let md = String::from_utf8(report::render(&inv, Format::Md).unwrap()).unwrap();
    assert!(md.contains("**Verdict: escalate**"));
    assert!(md.contains("| 2026-11-03 10:00 |") && md.contains("**ALERT**"), "{md}");
    assert!(md.contains("185.174.54.147"));
    assert!(md.contains("[vendor console](https://security.microsoft.com/alerts/"));

    // JSON: the findings with their evidence.
    let json: serde_json::Value = serde_json::from_slice(&report::render(&inv, Format::Json).unwrap()).unwrap();
    assert_eq!(json["verdict"], "escalate");
    assert_eq!(json["key"], key.as_str());
    assert!(json["findings"].as_array().unwrap().iter().any(|f| f["check"] == "beaconing" && f["points"] == 3.0));

    // HTML: self-contained (no scripts, style sheets, images or frames from elsewhere).
    let html_path = dir.path().join("report.html");
    report::write(&inv, Format::Html, &html_path).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    for banned in ["<script", "<link", "<img", "<iframe", "url(", "@import"] {
        assert!(!html.contains(banned), "external asset {banned}");
    }
    assert!(html.contains("<svg id=\"timeline-chart\"") && html.contains("class=\"target-alert\""));
    assert!(html.matches("class=\"bar\"").count() > 20, "network activity bars");
    assert!(html.contains("href=\"https://security.microsoft.com/alerts/"));

    // PDF: parses, has pages, and its text is the report's.
    let pdf_path = dir.path().join("report.pdf");
    report::write(&inv, Format::Pdf, &pdf_path).unwrap();
    let doc = lopdf::Document::load(&pdf_path).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    assert!(!pages.is_empty());
    let text = doc.extract_text(&pages).unwrap();
    for needle in ["Verdict: escalate", "Beaconing to a rare destination", "185.174.54.147", "Findings"] {
        assert!(text.contains(needle), "PDF text lacks {needle:?}: {text}");
    }

    // Headless Chromium renders it without console errors, and the
    // screenshot shows the chart: the red alert line and the blue bars.
    let Some(browser) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI needs Chromium for this test: apt-get install -y chromium");
        eprintln!("skipping the Chromium rendering check: chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let png = dir.path().join("shot.png");
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,2000")
        .arg(format!("file://{}", html_path.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    assert!(!stderr.contains(":CONSOLE(") && !stderr.contains("Failed to load resource"), "console errors: {stderr}");
    let (w, h, pixels) = decode_png(&std::fs::read(&png).unwrap());
    assert_eq!((w, h), (1280, 2000));
    let near = |p: &[u8; 3], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| (*a as i32 - b as i32).abs() <= 12);
    let red = pixels.iter().filter(|p| near(p, [0xd6, 0x27, 0x28])).count();
    let blue = pixels.iter().filter(|p| near(p, [0x2e, 0x86, 0xc1])).count();
    assert!(red > 100, "the alert line is visible ({red} red pixels)");
    assert!(blue > 1000, "the activity bars are visible ({blue} blue pixels)");
}
