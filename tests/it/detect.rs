//! Detections end to end on copies of the demo lake: retro-hunts are
//! idempotent, live detection over data landed in steps (late data
//! included) reports exactly what a retro-hunt of the range reports, and
//! webhooks that fail are retried until delivered.

use crate::fixtures::copy_days;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, StringArray, TimestampMicrosecondArray};
use huntlake::detect::{self, hunt, live};
use huntlake::engine::{Engine, EngineOptions};
use huntlake::lake::LakeLocation;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;



async fn open(dir: &Path) -> Engine {
    Engine::open(EngineOptions::new(LakeLocation::parse(dir.to_str().unwrap()).unwrap())).await.unwrap()
}

/// (detection, entity, time) of every row of the lake's detections table, and the row count.
async fn detection_keys(engine: &Engine, run_id_like: &str) -> (BTreeSet<(String, String, i64)>, usize) {
    engine.refresh_listings();
    let batches = engine
        .session()
        .sql(&format!("SELECT detection, entity, time FROM detections WHERE run_id LIKE '{run_id_like}'"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut keys = BTreeSet::new();
    let mut rows = 0;
    for b in batches {
        let d = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let e = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let t = b.column(2).as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
        for i in 0..b.num_rows() {
            keys.insert((d.value(i).to_string(), e.value(i).to_string(), t.value(i)));
            rows += 1;
        }
    }
    (keys, rows)
}

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    hunt::parse_time(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retro_hunt_twice_gives_the_same_rows_once() {
    let dir = tempfile::tempdir().unwrap();
    for table in ["edr_alerts", "network_flows", "assets"] {
        copy_days(dir.path(), table, &[]);
    }
    let engine = open(dir.path()).await;
    let (all, broken) = detect::catalog(&engine);
    assert!(broken.is_empty(), "{broken:?}");
    assert!(!all.is_empty());
    let selected: Vec<&detect::Detection> = all.iter().collect();
    let options = hunt::HuntOptions { from: t("2026-11-02"), to: t("2026-11-09"), chunk: chrono::Duration::days(1) };
    let first = hunt::hunt(&engine, &selected, true, &options).await.unwrap();
    assert_eq!(first.raw_alerts, 714);
    assert!(first.total() > 0, "the demo lake's incidents are detected");
    let (keys1, rows1) = detection_keys(&engine, "hunt-%").await;
    assert_eq!(rows1, first.total());
    assert_eq!(keys1.len(), rows1, "no duplicate hits");

    let second = hunt::hunt(&engine, &selected, true, &options).await.unwrap();
    assert_eq!(second.run_id, first.run_id);
    let (keys2, rows2) = detection_keys(&engine, "hunt-%").await;
    assert_eq!((keys2, rows2), (keys1, rows1), "hunting again replaces, never duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_detection_over_steps_with_late_data_matches_the_retro_hunt() {
    let dir = tempfile::tempdir().unwrap();
    copy_days(dir.path(), "assets", &[]);
    let options = live::LiveOptions {
        lookback: chrono::Duration::days(3),
        suppress: chrono::Duration::zero(),
        start: Some(t("2026-11-02")),
        webhooks: vec![],
    };
    let client = reqwest::Client::new();
    // Step 1: alerts of three days, flows of two: the flows of the 4th are late.
    copy_days(dir.path(), "edr_alerts", &["2026-11-02", "2026-11-03", "2026-11-04"]);
    copy_days(dir.path(), "network_flows", &["2026-11-02", "2026-11-03"]);
    let engine = open(dir.path()).await;
    let (all, _) = detect::catalog(&engine);
    let selected: Vec<&detect::Detection> = all.iter().collect();
    live::cycle(&engine, &selected, &options, &client, t("2026-11-05")).await.unwrap();
    // Step 2: the late flows of the 4th arrive with the 5th and 6th.
    copy_days(dir.path(), "network_flows", &["2026-11-04", "2026-11-05", "2026-11-06"]);
    copy_days(dir.path(), "edr_alerts", &["2026-11-05", "2026-11-06"]);
    live::cycle(&engine, &selected, &options, &client, t("2026-11-07")).await.unwrap();
    // Step 3: the rest; then a cycle with nothing new.
    copy_days(dir.path(), "network_flows", &["2026-11-07", "2026-11-08"]);
    copy_days(dir.path(), "edr_alerts", &["2026-11-07", "2026-11-08"]);
    live::cycle(&engine, &selected, &options, &client, t("2026-11-09")).await.unwrap();
    let quiet = live::cycle(&engine, &selected, &options, &client, t("2026-11-09T00:10:00Z")).await.unwrap();
    assert_eq!(quiet.new_hits, 0, "nothing is reported twice");

    let (live_keys, live_rows) = detection_keys(&engine, "live").await;
    assert_eq!(live_keys.len(), live_rows, "each live hit once");

    let hunt_options = hunt::HuntOptions { from: t("2026-11-02"), to: t("2026-11-09"), chunk: chrono::Duration::days(1) };
    hunt::hunt(&engine, &selected, true, &hunt_options).await.unwrap();
    let (hunt_keys, _) = detection_keys(&engine, "hunt-%").await;
    assert!(!hunt_keys.is_empty());
    assert_eq!(live_keys, hunt_keys, "live detection over steps finds what the retro-hunt finds");
}

/// A webhook receiver that refuses the first `failures` requests.
async fn flaky_webhook(failures: usize) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        let mut seen = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers, then the body by Content-Length.
            let (head_end, length) = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (None, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                        .unwrap_or(0);
                    break (Some(pos + 4), len);
                }
            };
            let Some(start) = head_end else { continue };
            while buf.len() < start + length {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            seen += 1;
            let status = if seen <= failures { "500 Internal Server Error" } else { "204 No Content" };
            if seen > failures {
                let body: serde_json::Value = serde_json::from_slice(&buf[start..start + length]).unwrap();
                store.lock().await.push(body);
            }
            let _ = sock.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes()).await;
        }
    });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_webhooks_are_retried_next_cycle_and_never_lose_a_detection() {
    let dir = tempfile::tempdir().unwrap();
    for table in ["edr_alerts", "network_flows", "assets"] {
        copy_days(dir.path(), table, &[]);
    }
    let engine = open(dir.path()).await;
    let (all, _) = detect::catalog(&engine);
    let selected: Vec<&detect::Detection> = all.iter().collect();
    // Refuses the first 3 requests: every attempt of the first delivery in
    // the first cycle (3 attempts per delivery), then accepts.
    let (url, received) = flaky_webhook(3).await;
    let options = live::LiveOptions {
        lookback: chrono::Duration::days(8),
        suppress: chrono::Duration::zero(),
        start: Some(t("2026-11-09")),
        webhooks: vec![url],
    };
    let client = reqwest::Client::new();
    let first = live::cycle(&engine, &selected, &options, &client, t("2026-11-09")).await.unwrap();
    assert!(first.new_hits > 0);
    assert_eq!(first.undelivered, 1, "the first delivery failed all its attempts");
    assert_eq!(first.delivered, first.new_hits - 1);
    let state = live::load_state(&engine).await.unwrap();
    assert_eq!(state.outbox.len(), 1, "the undelivered hit is kept");

    let second = live::cycle(&engine, &selected, &options, &client, t("2026-11-09T00:05:00Z")).await.unwrap();
    assert_eq!(second.new_hits, 0, "hits are not detected twice");
    assert_eq!((second.delivered, second.undelivered), (1, 0), "the kept hit is delivered on the next cycle");
    let got = received.lock().await;
    assert_eq!(got.len(), first.new_hits, "every detection reached the webhook once");
    let mut seen = BTreeSet::new();
    for doc in got.iter() {
        assert!(doc["detection"].as_str().unwrap().starts_with("det_"));
        assert!(doc["entity"].is_string() && doc["summary"].is_string() && doc["detection_id"].is_string());
        assert!(seen.insert((doc["detection"].to_string(), doc["entity"].to_string(), doc["time"].to_string())));
    }
    let (keys, rows) = detection_keys(&engine, "live").await;
    assert_eq!(keys.len(), rows);
    assert_eq!(rows, first.new_hits);
}
