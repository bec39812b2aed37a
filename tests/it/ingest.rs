//! `huntlake ingest`: Zeek and Suricata fixture files land in a temp lake
//! with the right rows and entities, bad lines are quarantined, and running
//! again lands nothing new (checkpoints), while appended lines do land.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::DataType;
use huntlake::connectors::{self, IngestOptions, IngestSummary, Source};
use huntlake::engine::{Engine, EngineOptions};
use huntlake::lake::{schema, LakeLocation, LakeWriter};

use crate::fixtures::micros;

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir)
}

/// Copies a fixture folder so tests can append to files and own their mtimes.
fn copy_fixtures(dir: &str, to: &Path) -> PathBuf {
    let out = to.join(dir);
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(fixtures(dir)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), out.join(entry.file_name())).unwrap();
    }
    out
}

async fn seed_asset(lake: &LakeLocation, entity: &str, ip: &str, from: &str) {
    let batch = RecordBatch::try_new(
        schema::assets(),
        vec![
            Arc::new(StringArray::from(vec![entity])),
            Arc::new(StringArray::from(vec![ip])),
            Arc::new(TimestampMicrosecondArray::from(vec![micros(from)]).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(vec![None::<i64>]).with_timezone("UTC")),
            Arc::new(StringArray::from(vec!["inventory"])),
        ],
    )
    .unwrap();
    LakeWriter::new(lake.clone()).write("assets", &batch).await.unwrap();
}

/// Every row of `sql` as `|`-joined text, NULL as `NULL`.
async fn rows(lake: &LakeLocation, sql: &str) -> Vec<String> {
    let engine = Engine::open(EngineOptions::new(lake.clone())).await.unwrap();
    let batches = engine.session().sql(sql).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<StringArray> = b
            .columns()
            .iter()
            .map(|c| {
                let c = arrow::compute::cast(c, &DataType::Utf8).unwrap();
                c.as_any().downcast_ref::<StringArray>().unwrap().clone()
            })
            .collect();
        for i in 0..b.num_rows() {
            let cells: Vec<String> =
                cols.iter().map(|c| if c.is_null(i) { "NULL".into() } else { c.value(i).to_string() }).collect();
            out.push(cells.join("|"));
        }
    }
    out
}

/// The quarantined lines as `file-name:line:reason`, sorted.
fn quarantine(lake_dir: &Path) -> Vec<String> {
    let dir = lake_dir.join("_state/quarantine");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert!(path.extension().is_some_and(|e| e == "jsonl"), "{path:?}");
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let file = Path::new(v["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            assert!(v["text"].is_string(), "{v}");
            out.push(format!("{file}:{}:{}", v["line"], v["reason"].as_str().unwrap()));
        }
    }
    out.sort();
    out
}

async fn ingest(lake: &LakeLocation, source: Source, path: &Path) -> IngestSummary {
    connectors::ingest(lake, source, &[path.to_path_buf()], &IngestOptions::default()).await.unwrap()
}

const FLOW_COLUMNS: &str = "uid, sensor, CAST(time AS VARCHAR), src_ip, src_port, dst_ip, dst_port, proto, service, \
                            duration_s, bytes_out, bytes_in, conn_state, dst_host, entity";

#[tokio::test]
async fn zeek_logs_land_flows_and_leases_then_rerun_lands_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = copy_fixtures("zeek", tmp.path());
    let lake_dir = tmp.path().join("lake");
    let lake = LakeLocation::parse(lake_dir.to_str().unwrap()).unwrap();
    seed_asset(&lake, "srv-db", "10.0.0.99", "2025-11-01T00:00:00Z").await;

    let s = ingest(&lake, Source::Zeek, &logs).await;
    assert_eq!((s.files_read, s.files_unchanged), (5, 0), "{s}");
    assert_eq!((s.flows_landed, s.assets_landed, s.duplicates_dropped, s.quarantined), (7, 2, 1, 4), "{s}");
    assert_eq!(
        s.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        vec!["dhcp_without_host_or_address=1", "dns=1"]
    );

    let flows = rows(&lake, &format!("SELECT {FLOW_COLUMNS} FROM network_flows ORDER BY uid")).await;
    assert_eq!(
        flows,
        vec![
            "C1|zeek|2025-11-02T01:00:00.100Z|10.0.0.42|50000|93.184.216.34|443|tcp|ssl|1.5|100|2000|SF|NULL|ws-0042",
            "C2|zeek|2025-11-02T01:01:00Z|10.0.0.99|50001|10.0.0.42|22|tcp|ssh|10.0|500|600|SF|NULL|srv-db",
            "C3|zeek|2025-11-02T01:02:00.500Z|10.0.0.5|50002|8.8.8.8|53|udp|NULL|NULL|NULL|NULL|S0|NULL|NULL",
            "C4|zeek|2025-11-02T01:03:20.250Z|10.0.0.7|40000|1.1.1.1|853|tcp|ssl|2.0|10|20|SF|NULL|laptop-7",
            "C5|zeek|2025-11-02T01:03:30Z|10.0.0.42|40001|1.0.0.1|80|tcp|NULL|NULL|NULL|NULL|REJ|NULL|ws-0042",
            // The lease of 10.0.0.42 ended at 2025-11-03T00:00:00Z.
            "C8|zeek|2025-11-03T00:30:00Z|10.0.0.42|50010|93.184.216.34|443|tcp|ssl|0.5|10|20|SF|NULL|NULL",
            "C9|zeek|2025-11-03T00:33:20Z|10.0.0.7|50011|93.184.216.34|80|tcp|http|0.25|30|40|SF|NULL|laptop-7",
        ]
    );
    let assets = rows(
        &lake,
        "SELECT entity, ip, CAST(valid_from AS VARCHAR), CAST(valid_to AS VARCHAR), source FROM assets ORDER BY entity",
    )
    .await;
    assert_eq!(
        assets,
        vec![
            "laptop-7|10.0.0.7|2025-11-02T00:00:01Z|NULL|dhcp",
            "srv-db|10.0.0.99|2025-11-01T00:00:00Z|NULL|inventory",
            "ws-0042|10.0.0.42|2025-11-02T00:00:00Z|2025-11-03T00:00:00Z|dhcp",
        ]
    );
    assert_eq!(
        quarantine(&lake_dir),
        vec![
            "conn.json:4:invalid JSON: EOF while parsing a value at line 1 column 48",
            "conn.json:5:missing required field id.resp_h",
            "conn.log:12:3 fields, the #fields header has 21",
            "conn.log:13:field ts: unparsable timestamp \"yesterday\"",
        ]
    );

    // Again: every file is unchanged, nothing lands, no (sensor, uid) twice.
    let again = ingest(&lake, Source::Zeek, &logs).await;
    assert_eq!((again.files_read, again.files_unchanged, again.flows_landed, again.assets_landed), (0, 5, 0, 0), "{again}");
    assert_eq!(rows(&lake, "SELECT count(*) FROM network_flows").await, vec!["7"]);
    assert_eq!(rows(&lake, "SELECT count(*) FROM assets").await, vec!["3"]);
    let dups = "SELECT sensor, uid FROM network_flows GROUP BY sensor, uid HAVING count(*) > 1";
    assert!(rows(&lake, dups).await.is_empty());

    // An appended line lands on the next run, with the header kept in the checkpoint.
    let mut conn = std::fs::OpenOptions::new().append(true).open(logs.join("conn.log")).unwrap();
    std::io::Write::write_all(
        &mut conn,
        b"1762045600.000000\tC10\t10.0.0.7\t50020\t9.9.9.9\t53\tudp\tdns\t0.010000\t40\t80\tSF\tT\tF\t0\tDd\t1\t68\t1\t108\t-\n",
    )
    .unwrap();
    let appended = ingest(&lake, Source::Zeek, &logs).await;
    assert_eq!((appended.files_read, appended.flows_landed, appended.quarantined), (1, 1, 0), "{appended}");
    assert_eq!(
        rows(&lake, "SELECT uid, entity FROM network_flows WHERE uid = 'C10'").await,
        vec!["C10|laptop-7"]
    );
    assert!(rows(&lake, dups).await.is_empty());
}

#[tokio::test]
async fn suricata_eve_lands_flow_events_and_skips_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = copy_fixtures("suricata", tmp.path());
    let lake_dir = tmp.path().join("lake");
    let lake = LakeLocation::parse(lake_dir.to_str().unwrap()).unwrap();
    seed_asset(&lake, "ws-0042", "10.0.0.42", "2025-11-01T00:00:00Z").await;

    let s = ingest(&lake, Source::Suricata, &logs).await;
    assert_eq!((s.files_read, s.flows_landed, s.duplicates_dropped, s.quarantined), (1, 2, 1, 2), "{s}");
    assert_eq!(
        s.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        vec!["alert=1", "dns=1", "stats=1"]
    );
    assert_eq!(
        rows(&lake, &format!("SELECT {FLOW_COLUMNS} FROM network_flows ORDER BY uid")).await,
        vec![
            "2001|suricata|2025-11-02T02:00:00Z|10.0.0.42|51000|203.0.113.9|443|tcp|tls|3.25|700|9000|closed|NULL|ws-0042",
            "2002|suricata|2025-11-02T02:05:30Z|10.0.0.99|NULL|10.0.0.1|NULL|icmp|NULL|0.0|98|98|established|NULL|NULL",
        ]
    );
    assert_eq!(
        quarantine(&lake_dir),
        vec![
            "eve.json:6:field flow.start: unparsable timestamp \"yesterday\"",
            "eve.json:7:invalid JSON: expected ident at line 1 column 2",
        ]
    );

    let again = ingest(&lake, Source::Suricata, &logs).await;
    assert_eq!((again.files_unchanged, again.flows_landed, again.quarantined), (1, 0, 0), "{again}");
    assert_eq!(rows(&lake, "SELECT count(*) FROM network_flows").await, vec!["2"]);
}

#[tokio::test]
async fn failed_landing_leaves_the_checkpoint_where_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = copy_fixtures("suricata", tmp.path());
    let lake_dir = tmp.path().join("lake");
    let lake = LakeLocation::parse(lake_dir.to_str().unwrap()).unwrap();
    // A file where the table folder belongs makes every landing fail.
    std::fs::write(lake_dir.join("network_flows"), b"not a folder").unwrap();

    let err = connectors::ingest(&lake, Source::Suricata, std::slice::from_ref(&logs), &IngestOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("failed to land suricata batch"), "{err}");
    assert!(!lake_dir.join(connectors::CHECKPOINT_PATH).exists(), "checkpoint moved before data was durable");

    std::fs::remove_file(lake_dir.join("network_flows")).unwrap();
    let s = ingest(&lake, Source::Suricata, &logs).await;
    assert_eq!((s.files_read, s.flows_landed), (1, 2), "{s}");
}

#[tokio::test]
async fn small_batches_checkpoint_mid_file_and_land_everything_once() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = copy_fixtures("zeek", tmp.path());
    let lake = LakeLocation::parse(tmp.path().join("lake").to_str().unwrap()).unwrap();
    let options = IngestOptions { batch_rows: 1 };
    let s = connectors::ingest(&lake, Source::Zeek, std::slice::from_ref(&logs), &options).await.unwrap();
    assert_eq!((s.flows_landed, s.assets_landed, s.quarantined), (7, 2, 4), "{s}");
    assert_eq!(rows(&lake, "SELECT count(DISTINCT uid), count(*) FROM network_flows").await, vec!["7|7"]);
    let again = connectors::ingest(&lake, Source::Zeek, &[logs], &options).await.unwrap();
    assert_eq!(again.flows_landed + again.assets_landed + again.quarantined, 0, "{again}");
}
