//! Small lakes with known rows, and a server started on port 0 over them.

use std::net::SocketAddr;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondArray,
};
use huntlake::engine::{Engine, EngineOptions};
use huntlake::lake::{schema, LakeLocation, LakeWriter};
use huntlake::server::{self, Credential, Role, ServerOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const USER: &str = "analyst";
pub const PASSWORD: &str = "s3cret-pw";

/// Microseconds of an RFC 3339 time.
pub fn micros(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_micros()
}

fn ts(values: &[&str]) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values.iter().map(|v| micros(v)).collect::<Vec<_>>()).with_timezone("UTC"))
}

fn text(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn same(n: usize, v: &str) -> ArrayRef {
    Arc::new(StringArray::from(vec![v; n]))
}

/// Two alerts: one on 2026-11-03 (two techniques), one on 2026-11-04 (none).
pub fn alerts() -> RecordBatch {
    let mut techniques = ListBuilder::new(StringBuilder::new());
    techniques.values().append_value("T1059.001");
    techniques.values().append_value("T1105");
    techniques.append(true);
    techniques.append(false);
    RecordBatch::try_new(
        schema::edr_alerts(),
        vec![
            ts(&["2026-11-03T10:15:30.123456Z", "2026-11-04T23:59:59Z"]),
            ts(&["2026-11-03T10:20:00Z", "2026-11-05T01:00:00Z"]),
            ts(&["2026-11-03T10:21:00Z", "2026-11-05T01:01:00Z"]),
            text(&[Some("mde"), Some("crowdstrike")]),
            text(&[Some("da6381"), Some("cid:ind:aid:1-2-3")]),
            text(&[Some("ws-0001"), Some("ws-0002")]),
            text(&[Some("dev-1"), Some("aid")]),
            text(&[Some("10.20.0.11"), None]),
            text(&[Some("corp\\ana"), None]),
            text(&[Some("Suspicious PowerShell command line"), Some("Machine Learning detection")]),
            text(&[Some("Execution"), None]),
            text(&[Some("medium"), Some("high")]),
            Arc::new(Int32Array::from(vec![3, 4])),
            Arc::new(techniques.finish()),
            text(&[Some("powershell.exe"), None]),
            text(&[Some("powershell -enc SQBFAFgA"), None]),
            text(&[None, None]),
            text(&[None, None]),
            text(&[Some("new"), Some("resolved")]),
            text(&[Some("https://security.microsoft.com/alerts/da6381"), Some("https://falcon.crowdstrike.com/x")]),
            text(&[Some("{\"id\":\"da6381\"}"), Some("{\"composite_id\":\"cid:ind:aid:1-2-3\"}")]),
        ],
    )
    .unwrap()
}

/// Flows on three days (one per day) from `src`.
pub fn flows(uids: &[&str], times: &[&str]) -> RecordBatch {
    let n = uids.len();
    RecordBatch::try_new(
        schema::network_flows(),
        vec![
            ts(times),
            same(n, "zeek"),
            Arc::new(StringArray::from(uids.to_vec())),
            same(n, "10.20.0.11"),
            Arc::new(Int32Array::from(vec![51000; n])),
            same(n, "93.184.216.34"),
            Arc::new(Int32Array::from(vec![443; n])),
            same(n, "tcp"),
            same(n, "ssl"),
            Arc::new(Float64Array::from(vec![1.5; n])),
            Arc::new(Int64Array::from(vec![5_000_000_000i64; n])),
            Arc::new(Int64Array::from(vec![Some(1200i64); n])),
            same(n, "SF"),
            same(n, "example.org"),
            same(n, "ws-0001"),
        ],
    )
    .unwrap()
}

/// A temporary lake with two alerts and three flows on three days.
pub async fn small_lake() -> (tempfile::TempDir, LakeLocation) {
    let dir = tempfile::tempdir().unwrap();
    let lake = LakeLocation::parse(dir.path().to_str().unwrap()).unwrap();
    let writer = LakeWriter::new(lake.clone());
    writer.write("edr_alerts", &alerts()).await.unwrap();
    writer
        .write(
            "network_flows",
            &flows(&["C1", "C2", "C3"], &["2026-11-02T08:00:00Z", "2026-11-03T09:00:00Z", "2026-11-04T10:00:00Z"]),
        )
        .await
        .unwrap();
    (dir, lake)
}

/// A server on 127.0.0.1:0 that stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub engine: Engine,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn start(lake: LakeLocation) -> TestServer {
    start_with(lake, |_| {}, |_| {}).await
}

/// A server with engine and server options adjusted by `engine` and `server`
/// (defaults: one analyst login USER / PASSWORD, 64 connections).
pub async fn start_with(
    lake: LakeLocation,
    engine: impl FnOnce(&mut EngineOptions),
    server: impl FnOnce(&mut ServerOptions),
) -> TestServer {
    let mut engine_options = EngineOptions::new(lake);
    engine(&mut engine_options);
    let engine = Engine::open(engine_options).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let mut options = ServerOptions::new(vec![Credential::from_password(USER, PASSWORD, Role::Analyst)]);
    options.max_connections = 64;
    options.shutdown_grace = std::time::Duration::from_secs(5);
    server(&mut options);
    tokio::spawn(server::serve(engine.clone(), options, listener, async {
        let _ = stopped.await;
    }));
    TestServer { addr, engine, stop: Some(stop) }
}

impl TestServer {
    /// A handle with the same address (and engine) that does not stop the
    /// server when dropped, for use on another thread.
    pub fn clone_addr(other: &TestServer) -> TestServer {
        TestServer { addr: other.addr, engine: other.engine.clone(), stop: None }
    }

    pub fn conn_string(&self, password: &str) -> String {
        format!(
            "host={} port={} user={USER} password={password} dbname=huntlake",
            self.addr.ip(),
            self.addr.port()
        )
    }

    pub async fn connect(&self) -> tokio_postgres::Client {
        self.try_connect(PASSWORD).await.unwrap()
    }

    pub async fn try_connect(&self, password: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.conn_string(password), tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }
}

/// The committed demo lake.
pub fn demo_lake() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo-lake")
}

/// Copies the demo lake's files of `table` for the given dates (all when empty).
pub fn copy_days(to: &std::path::Path, table: &str, dates: &[&str]) {
    let src = demo_lake().join(table);
    for entry in std::fs::read_dir(&src).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if dir.is_dir() && (dates.is_empty() || dates.iter().any(|d| name == format!("date={d}"))) {
            std::fs::create_dir_all(to.join(table).join(&name)).unwrap();
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                std::fs::copy(&f, to.join(table).join(&name).join(f.file_name().unwrap())).unwrap();
            }
        } else if dir.is_file() {
            std::fs::create_dir_all(to.join(table)).unwrap();
            std::fs::copy(&dir, to.join(table).join(dir.file_name().unwrap())).unwrap();
        }
    }
}
