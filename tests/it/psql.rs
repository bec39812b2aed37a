//! psql itself against the server: meta-commands send PostgreSQL catalog
//! queries that must be answered like PostgreSQL answers them.

use std::process::Command;

use crate::fixtures::{small_lake, start, TestServer, PASSWORD, USER};

fn psql(server: &TestServer, command: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", &server.addr.ip().to_string(), "-p", &server.addr.port().to_string(), "-U", USER, "-d", "huntlake"])
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-c", command])
        .env("PGPASSWORD", PASSWORD)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql is installed (postgresql-client); .ci/run installs it");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "psql {command:?} failed:\n{stdout}\n{stderr}");
    stdout
}

async fn run_psql(server: &TestServer, command: &'static str) -> String {
    let server = TestServer::clone_addr(server);
    tokio::task::spawn_blocking(move || psql(&server, command)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_commands_list_tables_views_and_columns() {
    let (_dir, lake) = small_lake().await;
    let server = start(lake).await;
    server.connect().await.simple_query("CREATE VIEW recent_alerts AS SELECT * FROM edr_alerts").await.unwrap();

    let dt = run_psql(&server, "\\dt").await;
    for table in ["edr_alerts", "network_flows", "assets", "detections"] {
        assert!(dt.contains(table), "\\dt misses {table}:\n{dt}");
    }
    assert!(!dt.contains("recent_alerts"), "\\dt lists only tables:\n{dt}");

    let dv = run_psql(&server, "\\dv").await;
    assert!(dv.contains("recent_alerts"), "\\dv:\n{dv}");

    let d = run_psql(&server, "\\d edr_alerts").await;
    for (column, ty) in [
        ("time", "timestamp"),
        ("severity_id", "integer"),
        ("techniques", "text[]"),
        ("title", "text"),
    ] {
        let line = d.lines().find(|l| l.trim_start().starts_with(column)).unwrap_or_else(|| panic!("{column} missing:\n{d}"));
        assert!(line.contains(ty), "{column} should be {ty}: {line}");
    }

    let q = run_psql(&server, "select vendor, count(*) from edr_alerts group by 1 order by 1").await;
    assert!(q.contains("crowdstrike") && q.contains("mde") && q.contains("(2 rows)"), "{q}");
}
