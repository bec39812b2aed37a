//! `huntlake bench ingest`: landing a large Zeek `conn.log` (JSON, one
//! object per line) into the lake, against DuckDB converting the same file
//! to date-partitioned Parquet (`COPY (SELECT … FROM read_json(…)) TO …
//! (FORMAT parquet, PARTITION_BY (date))`) in the same run.
//!
//! The file is generated deterministically (a fleet of devices talking to
//! internal and external services over several days) and reused while its
//! spec is unchanged. Both outputs are then read by DuckDB and fingerprinted
//! (rows, distinct uids, byte sums, time range): the rows/s figures are
//! printed only if the two lakes hold the same flows. huntlake does more
//! work than DuckDB here (it sorts every part by `(src_ip, time)`, resolves
//! entities, checkpoints and checks every line), which the report says.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use serde::Deserialize;

use super::analytics::{duckdb_version, PYTHON};
use super::{format_bytes, peak_rss_bytes, reset_peak_rss, BenchError};
use crate::connectors::{self, IngestOptions, Source};
use crate::demo::rng::Rng;
use crate::lake::LakeLocation;

/// Options of `huntlake bench ingest`.
#[derive(Debug, Clone)]
pub struct IngestBenchOptions {
    /// Working folder: the generated log, both output lakes.
    pub dir: PathBuf,
    pub lines: usize,
    /// DuckDB threads (huntlake uses what its ingest uses).
    pub threads: usize,
    pub batch_rows: usize,
}

const DUCKDB_SCRIPT: &str = r#"
import json, resource, sys, time
import duckdb
cfg = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute(f"SET threads = {int(cfg['threads'])}")
con.execute("SET preserve_insertion_order = false")
con.execute("SET enable_progress_bar = false")
columns = {"ts": "DOUBLE", "uid": "VARCHAR", "id.orig_h": "VARCHAR", "id.orig_p": "INTEGER", "id.resp_h": "VARCHAR",
           "id.resp_p": "INTEGER", "proto": "VARCHAR", "service": "VARCHAR", "duration": "DOUBLE", "orig_bytes": "BIGINT",
           "resp_bytes": "BIGINT", "conn_state": "VARCHAR", "local_orig": "BOOLEAN", "local_resp": "BOOLEAN",
           "missed_bytes": "BIGINT", "history": "VARCHAR", "orig_pkts": "BIGINT", "orig_ip_bytes": "BIGINT",
           "resp_pkts": "BIGINT", "resp_ip_bytes": "BIGINT"}
src = cfg["log"].replace("'", "''")
out = cfg["out"].replace("'", "''")
start = time.perf_counter()
con.execute(f"""
COPY (
  SELECT make_timestamptz(CAST(round(ts * 1000000) AS BIGINT)) AS time, 'zeek' AS sensor, uid,
         "id.orig_h" AS src_ip, "id.orig_p" AS src_port, "id.resp_h" AS dst_ip, "id.resp_p" AS dst_port,
         proto, service, duration AS duration_s, orig_bytes AS bytes_out, resp_bytes AS bytes_in, conn_state,
         CAST(NULL AS VARCHAR) AS dst_host, CAST(NULL AS VARCHAR) AS entity,
         strftime(make_timestamptz(CAST(round(ts * 1000000) AS BIGINT)) AT TIME ZONE 'UTC', '%Y-%m-%d') AS date
  FROM read_json('{src}', format = 'newline_delimited', columns = {json.dumps(columns)})
) TO '{out}' (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd)
""")
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def fingerprint(pattern):
    r = con.execute(f"""SELECT count(*), count(DISTINCT uid), sum(bytes_out), sum(bytes_in),
        epoch_us(min(time)), epoch_us(max(time)), count(DISTINCT src_ip)
        FROM read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)""").fetchone()
    return [int(x) if x is not None else None for x in r]
print(json.dumps({"duckdb": duckdb.__version__, "seconds": seconds, "peak_rss_kib": peak,
    "duckdb_fingerprint": fingerprint(out + "/**/*.parquet"),
    "huntlake_fingerprint": fingerprint(cfg["huntlake_lake"] + "/network_flows/**/*.parquet")}))
"#;

#[derive(Debug, Deserialize)]
struct DuckDbReport {
    duckdb: String,
    seconds: f64,
    peak_rss_kib: Option<u64>,
    duckdb_fingerprint: Vec<Option<i64>>,
    huntlake_fingerprint: Vec<Option<i64>>,
}

pub async fn run(options: IngestBenchOptions) -> Result<(), BenchError> {
    let version = duckdb_version().await?;
    let io = |action: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |source| BenchError::Io { action, path, source }
    };
    std::fs::create_dir_all(&options.dir).map_err(io("create", &options.dir))?;
    let log = options.dir.join(format!("conn-{}.log", options.lines));
    if !log.exists() {
        let t = Instant::now();
        generate(&log, options.lines).map_err(io("write", &log))?;
        println!("generated {} ({} lines) in {:.1} s", log.display(), options.lines, t.elapsed().as_secs_f64());
    }
    let size = std::fs::metadata(&log).map_err(io("read", &log))?.len();
    let ours = options.dir.join("huntlake-lake");
    let theirs = options.dir.join("duckdb-out");
    for d in [&ours, &theirs] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(io("remove", d))?;
        }
    }

    // huntlake, in this process.
    let rss_reset = reset_peak_rss();
    let lake = LakeLocation::parse(ours.to_str().unwrap_or_default())?;
    let started = Instant::now();
    let summary = connectors::ingest(&lake, Source::Zeek, std::slice::from_ref(&log), &IngestOptions { batch_rows: options.batch_rows })
        .await
        .map_err(|e| BenchError::HuntlakeFailed(format!("ingest: {e}")))?;
    let ours_s = started.elapsed().as_secs_f64();
    let ours_peak = peak_rss_bytes();
    if summary.flows_landed as usize != options.lines {
        return Err(BenchError::HuntlakeFailed(format!("ingest landed {} of {} lines: {summary}", summary.flows_landed, options.lines)));
    }

    // DuckDB, in a Python process.
    let config = serde_json::json!({
        "log": log.display().to_string(),
        "out": theirs.display().to_string(),
        "threads": options.threads,
        "huntlake_lake": ours.display().to_string(),
    });
    let output = tokio::process::Command::new(PYTHON)
        .args(["-c", DUCKDB_SCRIPT, &config.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| BenchError::DuckDbMissing { detail: format!("cannot run {PYTHON}: {e}") })?;
    if !output.status.success() {
        return Err(BenchError::DuckDbFailed { status: output.status });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: DuckDbReport = serde_json::from_str(stdout.trim())
        .map_err(|e| BenchError::DuckDbOutput { reason: e.to_string(), output: stdout.chars().take(2000).collect() })?;

    let names = ["rows", "distinct uid", "sum bytes_out", "sum bytes_in", "min time", "max time", "distinct src_ip"];
    println!("fingerprint            huntlake            DuckDB");
    for (i, n) in names.iter().enumerate() {
        let show = |v: &Vec<Option<i64>>| v.get(i).copied().flatten().map_or("NULL".to_string(), |x| x.to_string());
        println!("{n:<18} {:>16} {:>16}", show(&report.huntlake_fingerprint), show(&report.duckdb_fingerprint));
    }
    if report.huntlake_fingerprint != report.duckdb_fingerprint {
        return Err(BenchError::Mismatch("the landed flows".into()));
    }
    let rate = |s: f64| options.lines as f64 / s;
    println!();
    println!("Zeek conn.log JSON, {} lines, {}; DuckDB {version} ({} threads)", options.lines, format_bytes(size), options.threads);
    println!("| engine | seconds | rows/s | peak RSS |");
    println!("|---|---|---|---|");
    println!(
        "| huntlake ingest | {ours_s:.2} | {:.0} | {}{} |",
        rate(ours_s),
        ours_peak.map_or("n/a".into(), format_bytes),
        if rss_reset { "" } else { " (incl. earlier work)" }
    );
    println!(
        "| DuckDB COPY read_json -> Parquet | {:.2} | {:.0} | {} (Python process) |",
        report.seconds,
        rate(report.seconds),
        report.peak_rss_kib.map_or("n/a".into(), |k| format_bytes(k * 1024))
    );
    println!("huntlake / DuckDB rows/s: {:.2}x (DuckDB {})", report.seconds / ours_s, report.duckdb);
    println!("huntlake also sorted each part by (src_ip, time), checked every line and saved checkpoints: {summary}");
    Ok(())
}

/// Writes `lines` Zeek conn records as JSON lines: 2,000 devices over 7
/// days, ~30 services, realistic field mixes (unset fields omitted, as Zeek
/// does).
fn generate(path: &Path, lines: usize) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut rng = Rng::new(0x19e57);
    let start = 1_793_577_600.0_f64; // 2026-11-01T00:00:00Z
    let span = 7.0 * 86_400.0;
    let services = [("dns", 53, "udp"), ("ssl", 443, "tcp"), ("http", 80, "tcp"), ("smb", 445, "tcp"), ("krb", 88, "tcp"), ("ldap", 389, "tcp"), ("ntp", 123, "udp"), ("rdp", 3389, "tcp"), ("ssh", 22, "tcp")];
    let states = ["SF", "SF", "SF", "S0", "REJ", "RSTO", "SH", "OTH"];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut uid = [0u8; 18];
    for i in 0..lines {
        let ts = start + span * (i as f64 / lines as f64) + rng.uniform() * 0.5;
        uid[0] = b'C';
        for b in uid.iter_mut().skip(1) {
            *b = alphabet[rng.below(alphabet.len() as u64) as usize];
        }
        let dev = rng.below(2000);
        let (svc, port, proto) = services[rng.below(services.len() as u64) as usize];
        let external = rng.bool(0.4);
        let dst = if external {
            format!("{}.{}.{}.{}", [198, 203, 192][rng.below(3) as usize], rng.int(0, 255), rng.int(0, 255), rng.int(1, 254))
        } else {
            format!("10.20.{}.{}", rng.int(0, 3), rng.int(1, 40))
        };
        let state = states[rng.below(states.len() as u64) as usize];
        write!(
            out,
            r#"{{"ts":{ts:.6},"uid":"{}","id.orig_h":"10.{}.{}.{}","id.orig_p":{},"id.resp_h":"{dst}","id.resp_p":{port},"proto":"{proto}""#,
            std::str::from_utf8(&uid).expect("ascii"),
            10 + dev / 60_000,
            (dev / 250) % 256,
            dev % 250 + 1,
            rng.int(1024, 65535),
        )?;
        if state == "SF" || rng.bool(0.3) {
            write!(out, r#","service":"{svc}""#)?;
        }
        if state != "S0" && state != "REJ" {
            write!(
                out,
                r#","duration":{:.6},"orig_bytes":{},"resp_bytes":{}"#,
                rng.range(0.0001, 120.0),
                rng.int(0, 40_000),
                rng.int(0, 2_000_000)
            )?;
        }
        writeln!(
            out,
            r#","conn_state":"{state}","local_orig":true,"local_resp":{},"missed_bytes":0,"history":"ShADadFf","orig_pkts":{},"orig_ip_bytes":{},"resp_pkts":{},"resp_ip_bytes":{}}}"#,
            !external,
            rng.int(1, 60),
            rng.int(40, 50_000),
            rng.int(0, 60),
            rng.int(0, 2_100_000)
        )?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path)
}
