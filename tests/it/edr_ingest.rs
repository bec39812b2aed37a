//! EDR API connectors against local vendor mocks: paging, incremental
//! watermarks with overlap, upserts of changed alerts (one version per alert
//! in the files), 429/500/401 handling, quarantine of malformed records,
//! crash recovery of a real child process (failpoint and SIGKILL), and
//! compaction.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::util::display::array_value_to_string;
use huntlake::config::Config;
use huntlake::connectors::alert_store::AlertStore;
use huntlake::connectors::{alerts, api};
use huntlake::engine::{Engine, EngineOptions};
use huntlake::lake::parts::{list_parts, read_part};
use huntlake::lake::LakeLocation;
use serde_json::{json, Value};

use crate::fixtures::micros;
use crate::vendor_mock::{cs_alert, defender_alert, graph_alert, iso, s1_threat, Fault, MockVendor, Vendor};

const DAY0: &str = "2026-11-02T08:00:00Z";

fn config(toml_text: &str) -> Config {
    toml::from_str(&format!("[ingest]\nbackoff_ms = 20\ninitial_lookback = \"3650d\"\n{toml_text}")).unwrap()
}

fn graph_config(mock: &MockVendor) -> Config {
    let st = mock.state.lock().unwrap();
    config(&format!(
        "[connectors.mde]\ntenant_id = 'tenant-1'\nclient_id = 'app-1'\nclient_secret = '{}'\nbase_url = '{}'\ntoken_url = '{}/tenant-1/oauth2/v2.0/token'\npage_size = 100\n",
        st.client_secret, st.base, st.base
    ))
}

fn cs_config(mock: &MockVendor, mode: &str, page: usize) -> Config {
    let st = mock.state.lock().unwrap();
    config(&format!(
        "[connectors.crowdstrike]\nclient_id = 'cs-1'\nclient_secret = '{}'\nbase_url = '{}'\nmode = '{mode}'\npage_size = {page}\n",
        st.client_secret, st.base
    ))
}

fn s1_config(mock: &MockVendor, token: &str) -> Config {
    let st = mock.state.lock().unwrap();
    config(&format!(
        "[connectors.sentinelone]\nbase_url = '{}'\nconsole_url = 'https://usea1-corp.sentinelone.net'\napi_token = '{token}'\npage_size = 40\n",
        st.base
    ))
}

async fn poll(lake: &LakeLocation, cfg: &Config) -> Result<api::ApiSummary, huntlake::connectors::ConnectorError> {
    let mut sources = api::configured_sources(cfg, |_| None).unwrap();
    assert_eq!(sources.len(), 1);
    let mut store = AlertStore::open(lake).await?;
    let options = api::PollOptions { overlap: cfg.ingest_overlap().unwrap(), initial_lookback: cfg.ingest_initial_lookback().unwrap() };
    api::poll(lake, &mut store, sources[0].as_mut(), &options).await
}

/// Every (vendor, alert_id, updated_time) row in the part files, read
/// directly (what DuckDB or Spark would see).
async fn file_versions(lake: &LakeLocation) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for f in list_parts(lake, "edr_alerts").await.unwrap() {
        let b = read_part(lake, "edr_alerts", &f, None).await.unwrap().unwrap();
        let (v, id) = (b.column(3).as_string::<i32>(), b.column(4).as_string::<i32>());
        let upd = b.column(1).as_primitive::<TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            out.push((v.value(i).to_string(), id.value(i).to_string(), upd.value(i)));
        }
    }
    out
}

fn assert_one_version_each(versions: &[(String, String, i64)]) {
    let mut seen = HashSet::new();
    for (v, id, _) in versions {
        assert!(seen.insert((v.clone(), id.clone())), "two versions of {v} {id} in the files");
    }
}

async fn query(lake: &LakeLocation, sql: &str) -> Vec<RecordBatch> {
    let engine = Engine::open(EngineOptions::new(lake.clone())).await.unwrap();
    engine.session().sql(sql).await.unwrap().collect().await.unwrap()
}

fn cell(b: &RecordBatch, col: &str, row: usize) -> String {
    array_value_to_string(b.column_by_name(col).unwrap(), row).unwrap()
}

#[tokio::test]
async fn demo_lake_raw_json_normalises_to_its_own_rows() {
    // The demo's rows were derived from the same facts as its vendor JSON;
    // the connectors' normalisers must reproduce every column from `raw`.
    let lake = LakeLocation::parse(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo-lake").to_str().unwrap()).unwrap();
    let batches = query(&lake, "SELECT * FROM edr_alerts").await;
    let mut checked = 0;
    for b in &batches {
        for i in 0..b.num_rows() {
            let raw: Value = serde_json::from_str(&cell(b, "raw", i)).unwrap();
            let row = match cell(b, "vendor", i).as_str() {
                "mde" => alerts::from_mde_graph(&raw),
                "crowdstrike" => alerts::from_crowdstrike(&raw),
                "sentinelone" => {
                    let url = cell(b, "console_url", i);
                    alerts::from_sentinelone(&raw, &url[..url.find("/incidents/").unwrap()])
                }
                v => panic!("unknown vendor {v}"),
            }
            .unwrap();
            let ours = alerts::rows_to_batch(&[row], 0).unwrap();
            for (c, field) in ours.schema().fields().iter().enumerate() {
                if field.name() == "ingest_time" || field.name() == "raw" {
                    continue;
                }
                assert_eq!(
                    array_value_to_string(ours.column(c), 0).unwrap(),
                    cell(b, field.name(), i),
                    "column {} of {} alert {}",
                    field.name(),
                    cell(b, "vendor", i),
                    cell(b, "alert_id", i)
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 714);
}

#[tokio::test]
async fn graph_connector_pages_retries_quarantines_and_upserts() {
    let t0 = micros(DAY0);
    let minute = 60_000_000;
    let mut data: Vec<Value> = (0..250).map(|i| graph_alert(i, t0 + i as i64 * minute, t0 + i as i64 * minute + 5 * minute)).collect();
    // Malformed records inside good pages: no device, unparsable timestamp.
    let mut no_device = graph_alert(900, t0, t0 + 30 * minute);
    no_device["evidence"] = json!([]);
    let mut bad_time = graph_alert(901, t0, t0 + 31 * minute);
    bad_time["firstActivityDateTime"] = json!("26/11/2026 10:00");
    data.push(no_device);
    data.push(bad_time);
    let mock = MockVendor::start(Vendor::Graph, data).await;
    mock.fault(Fault::RateLimited);
    mock.fault(Fault::ServerError);
    let dir = tempfile::tempdir().unwrap();
    let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();
    let cfg = graph_config(&mock);

    let s = poll(&lake, &cfg).await.unwrap();
    assert_eq!((s.records, s.inserted, s.updated, s.quarantined), (252, 250, 0, 2), "{s}");
    assert_eq!(s.pages, 3);
    assert_eq!(s.http.rate_limited, 1);
    assert!(s.http.retries >= 2, "{s}");
    let requests = mock.api_requests();
    assert!(requests[0].query["$filter"].starts_with("lastUpdateDateTime ge "));
    assert_eq!(requests[0].query["$orderby"], "lastUpdateDateTime asc");
    // The quarantine names the source, position and reason.
    let q = std::fs::read_dir(dir.path().join("_state/quarantine")).unwrap().next().unwrap().unwrap().path();
    let lines: Vec<Value> = std::fs::read_to_string(q).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().any(|l| l["reason"].as_str().unwrap().contains("deviceDnsName")));
    assert!(lines.iter().any(|l| l["reason"].as_str().unwrap().contains("firstActivityDateTime")));
    assert!(lines.iter().all(|l| l["source"] == "mde" && l["page"].as_u64().is_some()));

    // Row contents of one alert.
    let b = query(&lake, "SELECT * FROM edr_alerts WHERE alert_id = 'da6380000000000006_1006'").await;
    let b = &b[0];
    assert_eq!(b.num_rows(), 1);
    assert_eq!(cell(b, "entity", 0), "ws-0006");
    assert_eq!(cell(b, "device_ip", 0), "192.0.2.16");
    assert_eq!(cell(b, "severity", 0), "high");
    assert_eq!(cell(b, "severity_id", 0), "4");
    assert_eq!(cell(b, "techniques", 0), "[T1059.001, T1105]");
    assert_eq!(cell(b, "user_name", 0), "ana");
    assert_eq!(cell(b, "file_sha256", 0), "9f914d42706fe215501044acd85a32d58aaef1419d404fddfa5d3b48f66ccd9f");
    assert!(cell(b, "console_url", 0).starts_with("https://security.microsoft.com/alerts/da6380000000000006_1006"));
    // Device addresses seen on alerts become `assets` intervals (source edr),
    // once per device and address.
    let a = query(&lake, "SELECT count(*) AS n, count(DISTINCT entity) AS d FROM assets WHERE source = 'edr'").await;
    assert_eq!((cell(&a[0], "n", 0), cell(&a[0], "d", 0)), ("9".to_string(), "9".to_string()));
    let raw: Value = serde_json::from_str(&cell(b, "raw", 0)).unwrap();
    assert_eq!(raw, graph_alert(6, t0 + 6 * minute, t0 + 11 * minute), "raw is the vendor JSON");

    // Between polls: 10 alerts are resolved (newer version), 5 are new, and
    // the token expires mid-run.
    {
        let mut st = mock.state.lock().unwrap();
        let later = t0 + 400 * minute;
        for i in 0..10 {
            st.alerts[i * 20]["status"] = json!("resolved");
            st.alerts[i * 20]["lastUpdateDateTime"] = json!(iso(later + i as i64, 7));
        }
        for i in 250..255 {
            st.alerts.push(graph_alert(i, later, later + 1));
        }
    }
    mock.fault(Fault::ExpireTokens);
    let tokens_before = mock.state.lock().unwrap().tokens_issued;
    let s = poll(&lake, &cfg).await.unwrap();
    assert_eq!((s.inserted, s.updated), (5, 10), "{s}");
    assert_eq!(mock.state.lock().unwrap().tokens_issued, tokens_before + 2, "a token for the new client, and one after the 401");
    let versions = file_versions(&lake).await;
    assert_eq!(versions.len(), 255);
    assert_one_version_each(&versions);
    let b = query(&lake, "SELECT count(*) AS n FROM edr_alerts WHERE status = 'resolved'").await;
    assert_eq!(cell(&b[0], "n", 0), "10");

    // A third poll with nothing new lands nothing (the overlap window is re-read and dropped).
    let s = poll(&lake, &cfg).await.unwrap();
    assert_eq!((s.inserted, s.updated), (0, 0), "{s}");
    assert_eq!(file_versions(&lake).await.len(), 255);
}

#[tokio::test]
async fn crowdstrike_query_and_combined_modes_honour_epoch_retry_header() {
    let t0 = micros(DAY0);
    let data: Vec<Value> = (0..1300).map(|i| cs_alert(i, t0 + i as i64 * 1_000_000, t0 + i as i64 * 1_000_000 + 90_000_000)).collect();
    for mode in ["query", "combined"] {
        let mock = MockVendor::start(Vendor::CrowdStrike, data.clone()).await;
        mock.fault(Fault::RateLimited);
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();
        let s = poll(&lake, &cs_config(&mock, mode, 1000)).await.unwrap();
        assert_eq!((s.records, s.inserted, s.http.rate_limited), (1300, 1300, 1), "{mode}: {s}");
        let reqs = mock.api_requests();
        // X-Ratelimit-Retryafter is an epoch second, not a delay: the retry
        // must not arrive before it.
        let retry_at = mock.state.lock().unwrap().retry_at.expect("a 429 was served") as f64;
        assert!(reqs[1].received_at >= retry_at, "retried at {} before the epoch {retry_at}", reqs[1].received_at);
        if mode == "query" {
            let entity_calls: Vec<_> = reqs.iter().filter(|r| r.path == "/alerts/entities/alerts/v2").collect();
            assert_eq!(entity_calls.len(), 2);
            for r in entity_calls {
                let ids = serde_json::from_str::<Value>(&r.body).unwrap()["composite_ids"].as_array().unwrap().len();
                assert!(ids <= 1000);
            }
        } else {
            assert!(reqs.iter().all(|r| r.path == "/alerts/combined/alerts/v1"));
        }
        let b = query(&lake, "SELECT * FROM edr_alerts WHERE alert_id LIKE '%-00000003'").await;
        assert_eq!(b[0].num_rows(), 1);
        assert_eq!(cell(&b[0], "entity", 0), "srv-03");
        assert_eq!(cell(&b[0], "severity", 0), "critical");
        assert_eq!(cell(&b[0], "techniques", 0), "[T1003]");
        assert_eq!(cell(&b[0], "device_ip", 0), "198.51.100.23");
    }
}

#[tokio::test]
async fn crowdstrike_errors_in_a_200_body_name_the_connector() {
    let mock = MockVendor::start(Vendor::CrowdStrike, vec![cs_alert(1, micros(DAY0), micros(DAY0))]).await;
    mock.fault(Fault::VendorErrors);
    let dir = tempfile::tempdir().unwrap();
    let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();
    let err = poll(&lake, &cs_config(&mock, "query", 100)).await.unwrap_err().to_string();
    assert!(err.contains("crowdstrike") && err.contains("Invalid filter expression"), "{err}");
    // Nothing moved: the next run starts from the same place and lands it.
    let s = poll(&lake, &cs_config(&mock, "query", 100)).await.unwrap();
    assert_eq!(s.inserted, 1);
}

#[tokio::test]
async fn sentinelone_cursor_paging_and_bad_token() {
    let t0 = micros(DAY0);
    let data: Vec<Value> = (0..100).map(|i| s1_threat(i, t0 + i as i64 * 10_000_000, t0 + i as i64 * 10_000_000 + 1_000)).collect();
    let mock = MockVendor::start(Vendor::SentinelOne, data).await;
    mock.fault(Fault::ServerError);
    let dir = tempfile::tempdir().unwrap();
    let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();

    let err = poll(&lake, &s1_config(&mock, "wrong-token-value")).await.unwrap_err().to_string();
    assert!(err.contains("sentinelone") && err.contains("Authentication failed") && err.contains("check"), "{err}");
    assert!(!err.contains("wrong-token-value"), "the token never appears in errors: {err}");

    let token = mock.state.lock().unwrap().api_token.clone();
    let s = poll(&lake, &s1_config(&mock, &token)).await.unwrap();
    assert_eq!((s.pages, s.inserted), (3, 100), "{s}");
    let reqs = mock.api_requests();
    let last = reqs.last().unwrap();
    assert_eq!(last.query["sortBy"], "updatedAt");
    assert_eq!(last.query["cursor"], "c80", "the cursor is followed with the filter unchanged");
    let b = query(&lake, "SELECT * FROM edr_alerts WHERE alert_id = '1234567890123000003'").await;
    assert_eq!(cell(&b[0], "entity", 0), "lt-003");
    assert_eq!(cell(&b[0], "severity", 0), "medium");
    assert_eq!(cell(&b[0], "user_name", 0), "bob");
    assert_eq!(cell(&b[0], "techniques", 0), "[T1547.001]");
    assert_eq!(cell(&b[0], "console_url", 0), "https://usea1-corp.sentinelone.net/incidents/threats/1234567890123000003/overview");
}

/// Runs `huntlake ingest --config` as a child process.
fn ingest_command(dir: &Path, cfg_text: &str, env: &[(&str, &str)]) -> std::process::Command {
    let cfg = dir.join("huntlake.toml");
    std::fs::write(&cfg, cfg_text).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_huntlake"));
    cmd.arg("--config").arg(&cfg).args(["ingest", "--once", "--lake"]).arg(dir.join("lake"));
    cmd.env("RUST_LOG", "debug");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn graph_config_text(mock: &MockVendor, page: usize) -> String {
    let st = mock.state.lock().unwrap();
    format!(
        "[ingest]\nbackoff_ms = 20\ninitial_lookback = \"3650d\"\n[connectors.mde]\ntenant_id = 't'\nclient_id = 'app'\nbase_url = '{}'\ntoken_url = '{}/t/oauth2/v2.0/token'\npage_size = {page}\n",
        st.base, st.base
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_ingest_process_resumes_without_gaps_or_duplicates() {
    let t0 = micros(DAY0);
    let minute = 60_000_000;
    let data: Vec<Value> = (0..300).map(|i| graph_alert(i, t0 + i as i64 * 7 * minute, t0 + i as i64 * 7 * minute + minute)).collect();
    let mock = MockVendor::start(Vendor::Graph, data).await;
    let secret = mock.state.lock().unwrap().client_secret.clone();
    let dir = tempfile::tempdir().unwrap();
    let cfg = graph_config_text(&mock, 50);
    let env = [("HUNTLAKE_MDE_CLIENT_SECRET", secret.as_str())];

    // 1. Abort between landing a page and saving the watermark.
    let mut cmd = ingest_command(dir.path(), &cfg, &env);
    cmd.env("HUNTLAKE_FAILPOINT", "api.after_land");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(!out.status.success(), "the failpoint aborts the process");
    let lake = LakeLocation::parse(dir.path().join("lake").to_str().unwrap()).unwrap();
    assert_eq!(file_versions(&lake).await.len(), 50, "the first page landed, its watermark did not");

    // 2. SIGKILL at an arbitrary moment of a slow run.
    mock.state.lock().unwrap().delay = Duration::from_millis(150);
    let mut child = ingest_command(dir.path(), &cfg, &env).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let parts_dir = dir.path().join("lake/edr_alerts");
    let count_parts = || walk(&parts_dir).iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).count();
    let before = count_parts();
    while count_parts() <= before + 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    mock.state.lock().unwrap().delay = Duration::ZERO;

    // 3. A clean run completes the job: every alert once.
    let out = tokio::task::spawn_blocking({
        let mut cmd = ingest_command(dir.path(), &cfg, &env);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let versions = file_versions(&lake).await;
    assert_one_version_each(&versions);
    assert_eq!(versions.len(), 300);
    // No temporary files are visible as parts, and secrets never reach the logs.
    assert!(!stderr.contains(&secret) && !String::from_utf8_lossy(&out.stdout).contains(&secret));
    assert!(!stderr.contains("tok-"), "access tokens never reach the logs");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn compaction_merges_parts_and_finishes_an_interrupted_run() {
    let t0 = micros(DAY0);
    let hour = 3_600_000_000;
    let data: Vec<Value> = (0..120).map(|i| graph_alert(i, t0 + i as i64 * hour / 2, t0 + i as i64 * hour / 2 + 1)).collect();
    let mock = MockVendor::start(Vendor::Graph, data).await;
    let dir = tempfile::tempdir().unwrap();
    let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();
    let mut cfg = graph_config(&mock);
    cfg.connectors.mde.as_mut().unwrap().page_size = Some(10);
    poll(&lake, &cfg).await.unwrap();
    let before = list_parts(&lake, "edr_alerts").await.unwrap();
    assert!(before.len() > 10, "small pages leave many part files: {}", before.len());
    let rows_before: HashMap<String, String> = query(&lake, "SELECT alert_id, raw FROM edr_alerts")
        .await
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| (cell(b, "alert_id", i), cell(b, "raw", i))))
        .collect();

    // An interrupted compaction: merged file written, old files still there.
    let victim = &before[0];
    let folder = victim.as_ref().rsplit_once('/').unwrap().0.to_string();
    let copy = object_store::path::Path::from(format!("{folder}/compact-crashed.parquet"));
    // Local lakes are stored under the file system root: the object path is the absolute path.
    let bytes = std::fs::read(Path::new("/").join(victim.as_ref())).unwrap();
    std::fs::write(Path::new("/").join(copy.as_ref()), bytes).unwrap();
    std::fs::create_dir_all(dir.path().join("_state/compact")).unwrap();
    std::fs::write(
        dir.path().join("_state/compact/j.json"),
        json!({"table":"edr_alerts","partition":folder,"new_files":[copy.to_string()],"old_files":[victim.to_string()]}).to_string(),
    )
    .unwrap();

    let s = huntlake::lake::compact::compact(&lake, "edr_alerts").await.unwrap();
    let after = list_parts(&lake, "edr_alerts").await.unwrap();
    let days: HashSet<String> = after.iter().map(|p| p.as_ref().rsplit_once('/').unwrap().0.to_string()).collect();
    assert_eq!(after.len(), days.len(), "one file per partition: {s}");
    assert!(!dir.path().join("_state/compact/j.json").exists());
    let rows_after: HashMap<String, String> = query(&lake, "SELECT alert_id, raw FROM edr_alerts")
        .await
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| (cell(b, "alert_id", i), cell(b, "raw", i))))
        .collect();
    assert_eq!(rows_after, rows_before);
    assert_eq!(file_versions(&lake).await.len(), 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_file_ingest_resumes_mid_file_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("conn.log");
    let lines = 60_000;
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(&format!(
            "{{\"ts\":{}.{:06},\"uid\":\"C{i:017}\",\"id.orig_h\":\"10.1.{}.{}\",\"id.orig_p\":{},\"id.resp_h\":\"198.51.100.{}\",\"id.resp_p\":443,\"proto\":\"tcp\",\"service\":\"ssl\",\"duration\":0.5,\"orig_bytes\":{},\"resp_bytes\":{},\"conn_state\":\"SF\"}}\n",
            1_793_577_600 + i * 7,
            i % 1_000_000,
            i % 200,
            i % 250 + 1,
            1024 + i % 60_000,
            i % 255,
            i,
            2 * i
        ));
    }
    std::fs::write(&log, text).unwrap();
    let lake_dir = dir.path().join("lake");
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_huntlake"));
        cmd.args(["ingest", "zeek"]).arg(&log).args(["--batch-rows", "2000", "--lake"]).arg(&lake_dir);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    };

    // Abort between landing a batch and saving its checkpoint, then SIGKILL
    // a run at an arbitrary point, then finish.
    let mut cmd = run(&[("HUNTLAKE_FAILPOINT", "files.after_land")]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(!out.status.success());
    let mut child = run(&[]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let flows = lake_dir.join("network_flows");
    while walk(&flows).iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).count() < 8 {
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill: still a valid run
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = child.kill();
    child.wait().unwrap();
    let mut cmd = run(&[]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let lake = LakeLocation::parse(lake_dir.to_str().unwrap()).unwrap();
    let b = query(&lake, "SELECT count(*) AS n, count(DISTINCT uid) AS u, sum(bytes_out) AS s FROM network_flows").await;
    assert_eq!(cell(&b[0], "n", 0), lines.to_string(), "no gap and no duplicate");
    assert_eq!(cell(&b[0], "u", 0), lines.to_string());
    assert_eq!(cell(&b[0], "s", 0), (0..lines).sum::<u64>().to_string());
}

#[tokio::test]
async fn defender_api_route_pages_with_skip_and_normalises_pascal_case() {
    let t0 = micros(DAY0);
    let data: Vec<Value> = (0..120).map(|i| defender_alert(i, t0 + i as i64 * 60_000_000, t0 + i as i64 * 60_000_000 + 5)).collect();
    let mock = MockVendor::start(Vendor::Graph, data).await;
    mock.fault(Fault::RateLimited);
    let dir = tempfile::tempdir().unwrap();
    let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();
    let cfg = {
        let st = mock.state.lock().unwrap();
        config(&format!(
            "[connectors.mde]\napi = 'defender'\ntenant_id = 't'\nclient_id = 'app'\nclient_secret = '{}'\nbase_url = '{}'\ntoken_url = '{}/t/oauth2/v2.0/token'\npage_size = 50\n",
            st.client_secret, st.base, st.base
        ))
    };
    let s = poll(&lake, &cfg).await.unwrap();
    assert_eq!((s.pages, s.inserted, s.http.rate_limited), (3, 120, 1), "{s}");
    let skips: Vec<String> = mock.api_requests().iter().filter_map(|r| r.query.get("$skip").cloned()).collect();
    assert_eq!(skips, ["0", "0", "50", "100"], "the 429 retries the same page");
    let scope = form_scope(&mock);
    assert_eq!(scope, "https://api.securitycenter.microsoft.com/.default");
    let b = query(&lake, "SELECT * FROM edr_alerts WHERE alert_id = 'da6374000000000005_5005'").await;
    let b = &b[0];
    assert_eq!(cell(b, "entity", 0), "temp001");
    assert_eq!((cell(b, "severity", 0), cell(b, "status", 0)), ("medium".to_string(), "resolved".to_string()));
    assert_eq!(cell(b, "techniques", 0), "[T1064]");
    assert_eq!(cell(b, "process_name", 0), "rundll32.exe");
    assert_eq!(cell(b, "file_sha256", 0), "a4752c71d81afd3d5865d24ddb11a6b0c615062fcc448d24050c2172d2cbccd6");
    assert_eq!(cell(b, "user_name", 0), "carol");
    assert_eq!(cell(b, "console_url", 0), "https://security.microsoft.com/alerts/da6374000000000005_5005?tid=a839b112-0000-4000-8000-000000000002");
}

/// The `scope` the token request asked for.
fn form_scope(mock: &MockVendor) -> String {
    let st = mock.state.lock().unwrap();
    let token = st.requests.iter().find(|r| r.path.ends_with("/token")).unwrap();
    url::form_urlencoded::parse(token.body.as_bytes()).find(|(k, _)| k == "scope").unwrap().1.into_owned()
}
