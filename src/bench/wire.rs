//! `huntlake bench wire`: the PostgreSQL endpoint against PostgreSQL itself,
//! in the same run, over the same flows.
//!
//! 1. huntlake serves the benchmark lake on a loopback port (in this
//!    process); a PostgreSQL (`initdb` + `postgres` from `--pg-bin`) starts
//!    in a temporary folder on another, and gets the lake's flows through
//!    `COPY` from a CSV exported from the lake, with an index on `entity`.
//! 2. Streaming: every flow (`STREAM_SQL`, >= 10M rows) to psycopg 3 in
//!    binary (`cursor.stream`, the embedded `wire_clients.py`) and to
//!    `psql -At -c ... > /dev/null` in text; rows per second, median of
//!    `--runs`.
//! 3. Small queries: `LATENCY_SQL` (`entity = $1 LIMIT 10`) prepared once per
//!    connection by asyncpg and run with 1 and with 32 concurrent clients;
//!    p50 and p99 of each query's wall time.
//!
//! psycopg's row count and sum of `bytes_out`, and the rows the small
//! queries returned, must be equal for both servers, or the run fails.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use datafusion::dataframe::DataFrameWriteOptions;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use super::{median, BenchError};
use crate::engine::{Engine, EngineOptions};
use crate::lake::LakeLocation;
use crate::server::{self, Credential, Role, ServerOptions};

/// The client side: psycopg streaming and asyncpg latency loops.
const CLIENT_SCRIPT: &str = include_str!("wire_clients.py");
const PYTHON: &str = "python3";

/// Every flow, one column of each lake type (nullable `entity`, `duration_s`).
const STREAM_SQL: &str = "SELECT time, src_ip, dst_port, bytes_out, duration_s, entity FROM network_flows";
/// Index of `bytes_out` in [`STREAM_SQL`]: summed by the client as a check.
const STREAM_SUM_COLUMN: usize = 3;
const LATENCY_SQL: &str =
    "SELECT time, dst_ip, dst_port, bytes_out, duration_s FROM network_flows WHERE entity = $1 LIMIT 10";
/// Columns PostgreSQL gets, in the CSV's order.
const PG_TABLE: &str = "CREATE TABLE network_flows (time timestamptz NOT NULL, uid text NOT NULL, \
    src_ip text NOT NULL, src_port int4, dst_ip text NOT NULL, dst_port int4, proto text NOT NULL, \
    service text, duration_s float8, bytes_out int8, bytes_in int8, conn_state text, dst_host text, entity text)";
const EXPORT_SQL: &str = "SELECT time, uid, src_ip, src_port, dst_ip, dst_port, proto, service, duration_s, \
    bytes_out, bytes_in, conn_state, dst_host, entity FROM network_flows";
const USER: &str = "bench";
const PASSWORD: &str = "bench-wire";
/// How many distinct entities the small queries cycle through.
const ENTITIES: usize = 200;

/// What `huntlake bench wire` was asked for.
#[derive(Debug, Clone)]
pub struct WireOptions {
    /// Lake whose `network_flows` are streamed (made by `bench analytics`).
    pub lake: PathBuf,
    /// Timed streaming runs per server and client (the median is reported).
    pub runs: u32,
    /// Small queries per client connection, in each concurrency setting.
    pub queries: usize,
    /// Folder holding PostgreSQL's `initdb` and `postgres`.
    pub pg_bin: PathBuf,
}

#[derive(Debug, Deserialize)]
struct StreamResult {
    seconds: f64,
    rows: u64,
    sum: i64,
}

#[derive(Debug, Deserialize)]
struct LatencyResult {
    latencies_ms: Vec<f64>,
    rows: u64,
    seconds: f64,
}

/// One server's figures.
#[derive(Debug, Default)]
struct Figures {
    psycopg_rows_per_s: f64,
    psql_rows_per_s: f64,
    stream_rows: u64,
    stream_sum: i64,
    /// (clients, p50 ms, p99 ms, queries per second, rows returned)
    latency: Vec<(usize, f64, f64, f64, u64)>,
}

fn missing(detail: impl Into<String>) -> BenchError {
    BenchError::WireSetup(detail.into())
}

/// The `q`-quantile (0..=1) of `values`, nearest rank.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

async fn run_client(config: serde_json::Value) -> Result<String, BenchError> {
    let output = Command::new(PYTHON)
        .args(["-c", CLIENT_SCRIPT, &config.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| missing(format!("cannot run {PYTHON}: {e}")))?;
    if !output.status.success() {
        return Err(BenchError::WireClient(format!("{} ({})", config["mode"], output.status)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

async fn stream_psycopg(dsn: &str) -> Result<StreamResult, BenchError> {
    let out = run_client(serde_json::json!({
        "mode": "stream", "dsn": dsn, "sql": STREAM_SQL, "sum_column": STREAM_SUM_COLUMN,
    }))
    .await?;
    serde_json::from_str(&out).map_err(|e| BenchError::WireClient(format!("unreadable stream result {e}: {out}")))
}

async fn latency(dsn: &str, entities: &[String], clients: usize, per_client: usize) -> Result<LatencyResult, BenchError> {
    let out = run_client(serde_json::json!({
        "mode": "latency", "dsn": dsn, "sql": LATENCY_SQL, "entities": entities,
        "clients": clients, "per_client": per_client,
    }))
    .await?;
    serde_json::from_str(&out).map_err(|e| BenchError::WireClient(format!("unreadable latency result {e}: {out}")))
}

/// `psql -At -c STREAM_SQL > /dev/null`: seconds.
async fn stream_psql(host: &str, port: u16, user: &str, password: &str) -> Result<f64, BenchError> {
    let devnull = std::fs::File::create("/dev/null").map_err(|source| BenchError::Io {
        action: "open",
        path: "/dev/null".into(),
        source,
    })?;
    let start = Instant::now();
    let status = Command::new("psql")
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", &port.to_string(), "-U", user, "-d", "postgres"])
        .args(["-c", STREAM_SQL])
        .env("PGPASSWORD", password)
        .stdin(Stdio::null())
        .stdout(Stdio::from(devnull))
        .status()
        .await
        .map_err(|e| missing(format!("cannot run psql (apt-get install postgresql-client): {e}")))?;
    if !status.success() {
        return Err(BenchError::WireClient(format!("psql streaming ({status})")));
    }
    Ok(start.elapsed().as_secs_f64())
}

async fn measure(
    name: &str,
    host: &str,
    port: u16,
    user: &str,
    password: &str,
    entities: &[String],
    options: &WireOptions,
) -> Result<Figures, BenchError> {
    let dsn = format!("postgresql://{user}:{password}@{host}:{port}/postgres");
    let mut figures = Figures::default();
    let mut psycopg_s = Vec::new();
    let mut psql_s = Vec::new();
    for run in 1..=options.runs {
        let r = stream_psycopg(&dsn).await?;
        eprintln!("{name}: psycopg run {run}: {} rows in {:.2} s", r.rows, r.seconds);
        psycopg_s.push(r.seconds);
        figures.stream_rows = r.rows;
        figures.stream_sum = r.sum;
        let s = stream_psql(host, port, user, password).await?;
        eprintln!("{name}: psql run {run}: {s:.2} s");
        psql_s.push(s);
    }
    figures.psycopg_rows_per_s = figures.stream_rows as f64 / median(&psycopg_s);
    figures.psql_rows_per_s = figures.stream_rows as f64 / median(&psql_s);
    for clients in [1usize, 32] {
        let per_client = (options.queries / clients).max(10);
        let r = latency(&dsn, entities, clients, per_client).await?;
        let (p50, p99) = (quantile(&r.latencies_ms, 0.5), quantile(&r.latencies_ms, 0.99));
        let qps = r.latencies_ms.len() as f64 / r.seconds;
        eprintln!("{name}: {clients} clients: p50 {p50:.2} ms, p99 {p99:.2} ms, {qps:.0} queries/s");
        figures.latency.push((clients, p50, p99, qps, r.rows));
    }
    Ok(figures)
}

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

/// A PostgreSQL in a temporary folder; stopped and removed when dropped.
struct Postgres {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // SIGINT: PostgreSQL's fast shutdown.
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status();
                for _ in 0..100 {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `program args`, as an unprivileged user when we are root (initdb and
/// postgres refuse to run as root).
fn as_server_user(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

async fn free_port() -> Result<u16, BenchError> {
    let l = TcpListener::bind("127.0.0.1:0").await.map_err(|e| missing(format!("no free port: {e}")))?;
    Ok(l.local_addr().map_err(|e| missing(e.to_string()))?.port())
}

async fn psql_admin(port: u16, sql: &str) -> Result<String, BenchError> {
    let out = Command::new("psql")
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(["-d", "postgres", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| missing(format!("cannot run psql (apt-get install postgresql-client): {e}")))?;
    if !out.status.success() {
        return Err(missing(format!("PostgreSQL: {sql}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

async fn start_postgres(pg_bin: &Path, scratch: &Path) -> Result<Postgres, BenchError> {
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let dir = scratch.join(format!("huntlake-bench-wire-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| BenchError::Io { action: "create", path: dir.display().to_string(), source })?;
    if root {
        // nobody (65534) owns the cluster.
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534))
            .map_err(|source| BenchError::Io { action: "chown", path: dir.display().to_string(), source })?;
    }
    let mut pg = Postgres { dir: dir.clone(), port: free_port().await?, child: None };
    let data = dir.join("data");
    let initdb = pg_bin.join("initdb");
    let out = as_server_user(&initdb, root)
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| missing(format!("cannot run {}: {e}", initdb.display())))?;
    if !out.status.success() {
        return Err(missing(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let log = std::fs::File::create(dir.join("postgres.log"))
        .map_err(|source| BenchError::Io { action: "create", path: dir.join("postgres.log").display().to_string(), source })?;
    let child = as_server_user(&pg_bin.join("postgres"), root)
        .arg("-D")
        .arg(&data)
        .args(["-p", &pg.port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        // Loading speed only: no durability needed for a throw-away cluster.
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
        .args(["-c", "shared_buffers=1GB", "-c", "max_wal_size=8GB", "-c", "max_connections=100"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| missing(format!("cannot start postgres: {e}")))?;
    pg.child = Some(child);
    // Ready when it answers (initdb + start take a few seconds).
    let mut last = String::new();
    for _ in 0..300 {
        match psql_admin(pg.port, "SELECT 1").await {
            Ok(_) => return Ok(pg),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(missing(format!("PostgreSQL did not start (log in {}): {last}", dir.display())))
}

/// Loads the lake's flows into PostgreSQL through a CSV, indexes `entity`.
async fn load_postgres(engine: &Engine, pg: &Postgres) -> Result<u64, BenchError> {
    let csv_dir = pg.dir.join("flows-csv");
    let started = Instant::now();
    let ctx = engine.session();
    let df = ctx.sql(EXPORT_SQL).await.map_err(|e| BenchError::HuntlakeFailed(format!("CSV export: {e}")))?;
    df.write_csv(csv_dir.to_str().unwrap_or_default(), DataFrameWriteOptions::new(), None)
        .await
        .map_err(|e| BenchError::HuntlakeFailed(format!("CSV export: {e}")))?;
    eprintln!("postgres: exported flows to CSV in {:.1} s", started.elapsed().as_secs_f64());
    psql_admin(pg.port, PG_TABLE).await?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&csv_dir)
        .map_err(|source| BenchError::Io { action: "read", path: csv_dir.display().to_string(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    // Readable by the server user (nobody when we are root).
    let _ = std::fs::set_permissions(&csv_dir, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    let started = Instant::now();
    for f in &files {
        let _ = std::fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(0o644));
        psql_admin(pg.port, &format!("COPY network_flows FROM '{}' WITH (FORMAT csv, HEADER true)", f.display())).await?;
    }
    eprintln!("postgres: loaded {} CSV files in {:.1} s", files.len(), started.elapsed().as_secs_f64());
    let started = Instant::now();
    psql_admin(pg.port, "CREATE INDEX network_flows_entity ON network_flows (entity)").await?;
    psql_admin(pg.port, "VACUUM ANALYZE network_flows").await?;
    eprintln!("postgres: indexed entity and analyzed in {:.1} s", started.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&csv_dir);
    let n = psql_admin(pg.port, "SELECT count(*) FROM network_flows").await?;
    n.parse().map_err(|_| missing(format!("PostgreSQL count: {n}")))
}

// ---------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------

async fn check_clients() -> Result<(), BenchError> {
    let out = Command::new(PYTHON)
        .args(["-c", "import psycopg, asyncpg"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| missing(format!("cannot run {PYTHON}: {e}")))?;
    if !out.status.success() {
        return Err(missing("the clients need psycopg 3 and asyncpg: pip install 'psycopg[binary]' asyncpg"));
    }
    Ok(())
}

/// `huntlake bench wire`.
pub async fn run(options: WireOptions) -> Result<(), BenchError> {
    check_clients().await?;
    for program in ["initdb", "postgres"] {
        if !options.pg_bin.join(program).exists() {
            return Err(missing(format!("{program} not found in {} (--pg-bin)", options.pg_bin.display())));
        }
    }
    let lake_path = std::fs::canonicalize(&options.lake)
        .map_err(|source| BenchError::Io { action: "open", path: options.lake.display().to_string(), source })?;
    let engine = Engine::open(EngineOptions::new(LakeLocation::parse(&lake_path.display().to_string())?)).await?;
    let ctx = engine.session();
    let count = async { ctx.sql("SELECT count(*) FROM network_flows").await?.collect().await }
        .await
        .map_err(|e| BenchError::HuntlakeFailed(format!("count: {e}")))?;
    let flows = count[0].column(0).as_primitive::<Int64Type>().value(0) as u64;
    // Entities spread over the whole fleet, the same list for both servers.
    let batches = async {
        ctx.sql("SELECT DISTINCT entity FROM network_flows WHERE entity IS NOT NULL ORDER BY entity")
            .await?
            .collect()
            .await
    }
    .await
    .map_err(|e| BenchError::HuntlakeFailed(format!("entities: {e}")))?;
    let all: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).expect("text");
            let col = col.as_string::<i32>().clone();
            (0..col.len()).map(move |i| col.value(i).to_string()).collect::<Vec<_>>()
        })
        .collect();
    let step = (all.len() / ENTITIES).max(1);
    let entities: Vec<String> = all.iter().step_by(step).take(ENTITIES).cloned().collect();
    eprintln!("lake {}: {flows} flows, {} entities ({} used by the small queries)", lake_path.display(), all.len(), entities.len());

    // huntlake, in this process.
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| missing(format!("bind: {e}")))?;
    let hl_port = listener.local_addr().map_err(|e| missing(e.to_string()))?.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server_options = ServerOptions::new(vec![Credential::from_password(USER, PASSWORD, Role::Reader)]);
    server_options.max_connections = 64;
    server_options.shutdown_grace = Duration::from_secs(5);
    tokio::spawn(server::serve(engine.clone(), server_options, listener, async {
        let _ = stopped.await;
    }));

    let pg = start_postgres(&options.pg_bin, &std::env::temp_dir()).await?;
    let pg_version = psql_admin(pg.port, "SHOW server_version").await?;
    let pg_rows = load_postgres(&engine, &pg).await?;
    if pg_rows != flows {
        return Err(BenchError::Mismatch(format!("the flows loaded into PostgreSQL ({pg_rows} rows, lake {flows})")));
    }

    let hl = measure("huntlake", "127.0.0.1", hl_port, USER, PASSWORD, &entities, &options).await?;
    let postgres = measure("postgres", "127.0.0.1", pg.port, "postgres", "", &entities, &options).await?;
    let _ = stop.send(());
    drop(pg);

    if (hl.stream_rows, hl.stream_sum) != (postgres.stream_rows, postgres.stream_sum) {
        eprintln!(
            "streamed: huntlake {} rows, sum(bytes_out) {}; PostgreSQL {} rows, sum(bytes_out) {}",
            hl.stream_rows, hl.stream_sum, postgres.stream_rows, postgres.stream_sum
        );
        return Err(BenchError::Mismatch("the streamed flows".into()));
    }
    for (h, p) in hl.latency.iter().zip(&postgres.latency) {
        if h.4 != p.4 {
            eprintln!("{} clients: huntlake returned {} rows, PostgreSQL {}", h.0, h.4, p.4);
            return Err(BenchError::Mismatch(format!("the small queries with {} clients", h.0)));
        }
    }

    println!(
        "huntlake {} (release: {}) vs PostgreSQL {pg_version}; {flows} flows; streaming = median of {} runs",
        env!("CARGO_PKG_VERSION"),
        !cfg!(debug_assertions),
        options.runs
    );
    println!("| measure | huntlake | PostgreSQL | huntlake / PostgreSQL |");
    println!("|---|---|---|---|");
    let ratio = |a: f64, b: f64| format!("{:.2}x", a / b);
    println!(
        "| stream {} rows to psycopg (binary), rows/s | {:.0} | {:.0} | {} |",
        hl.stream_rows,
        hl.psycopg_rows_per_s,
        postgres.psycopg_rows_per_s,
        ratio(hl.psycopg_rows_per_s, postgres.psycopg_rows_per_s)
    );
    println!(
        "| stream {} rows to psql -At (text), rows/s | {:.0} | {:.0} | {} |",
        hl.stream_rows,
        hl.psql_rows_per_s,
        postgres.psql_rows_per_s,
        ratio(hl.psql_rows_per_s, postgres.psql_rows_per_s)
    );
    for (h, p) in hl.latency.iter().zip(&postgres.latency) {
        println!("| `entity = $1 LIMIT 10`, {} client(s): p50 ms | {:.2} | {:.2} | {} |", h.0, h.1, p.1, ratio(h.1, p.1));
        println!("| `entity = $1 LIMIT 10`, {} client(s): p99 ms | {:.2} | {:.2} | {} |", h.0, h.2, p.2, ratio(h.2, p.2));
        println!("| `entity = $1 LIMIT 10`, {} client(s): queries/s | {:.0} | {:.0} | {} |", h.0, h.3, p.3, ratio(h.3, p.3));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[3.0], 0.99), 3.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
