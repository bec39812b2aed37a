//! The `huntlake` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// huntlake: EDR alerts and network telemetry in one Parquet lake, queried
/// in SQL over the Postgres protocol (psql, JDBC, psycopg, Grafana, ...).
#[derive(Debug, Parser)]
#[command(name = "huntlake", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (see huntlake.example.toml). Environment variables
    /// HUNTLAKE_* and flags override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the lake on the Postgres wire protocol.
    ///
    /// Connect with e.g. `psql -h 127.0.0.1 -p 5433 -U huntlake` (demo
    /// password: huntlake) and query edr_alerts, network_flows, assets,
    /// detections and the views of sql/.
    Serve {
        /// Lake folder or URL (default: data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
        /// Address to listen on (default: 127.0.0.1:5433).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Refuse connections without TLS (needs [server] tls_cert and tls_key).
        #[arg(long)]
        tls_require: bool,
    },
    /// Print a SCRAM-SHA-256 verifier for a password, for `password` in
    /// [[server.users]] (or the variable named by `password_env`).
    ///
    /// The password is read from standard input: prompted for twice without
    /// echo on a terminal, or the first line of piped input.
    Passwd,
    /// Run one SQL statement against the lake and print or save the result,
    /// with the same tables, views and functions as the server (no network).
    Query {
        /// The SQL statement.
        sql: String,
        /// Lake folder or URL (default: data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Write to this file instead of standard output (required for parquet).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Generate the deterministic demo lake (devices, DHCP, network flows,
    /// EDR alerts from three vendors, planted incidents).
    Demo {
        /// Random seed; the same seed gives byte-identical files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output lake folder or URL.
        #[arg(long, default_value = "data/demo-lake", value_name = "URL")]
        out: String,
        /// Number of devices.
        #[arg(long)]
        devices: Option<usize>,
        /// Number of days.
        #[arg(long)]
        days: Option<u32>,
        /// Average network flows per device and day.
        #[arg(long)]
        flows_per_device_day: Option<usize>,
        /// Average EDR alerts per device and day.
        #[arg(long)]
        alerts_per_device_day: Option<f64>,
    },
    /// Retro-hunt: run detections over a historical range, in time chunks,
    /// and land the hits in the lake's `detections` table under a run id
    /// (hunting the same range again replaces them).
    Hunt {
        /// Start of the range (inclusive), e.g. 2026-11-02 or 2026-11-02T06:00:00Z.
        #[arg(long)]
        from: String,
        /// End of the range (exclusive).
        #[arg(long)]
        to: String,
        /// Only these detections (repeatable; default: all).
        #[arg(long = "detection", value_name = "NAME")]
        detections: Vec<String>,
        /// Also write the hits to a file (.parquet, .csv or .json).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Chunk length in hours (memory is bounded by one chunk's data).
        #[arg(long, default_value_t = 24)]
        chunk_hours: u32,
        /// Lake folder or URL (default: data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
    },
    /// Live detection: evaluate detections on newly landed data, report each
    /// hit once, land it in `detections` and POST it to the webhooks.
    Detect {
        /// Keep running, one cycle every [detect] interval_seconds.
        #[arg(long, conflicts_with = "once")]
        follow: bool,
        /// Run one cycle and exit (the default).
        #[arg(long)]
        once: bool,
        /// Where to start when there is no live state yet (default: now - lookback).
        #[arg(long)]
        from: Option<String>,
        /// Webhook URL (repeatable; adds to [detect] webhooks).
        #[arg(long = "webhook", value_name = "URL")]
        webhooks: Vec<String>,
        /// With --follow, folder for the reports of the automatic
        /// investigations (default: <lake>/_state/reports/).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// Lake folder or URL (default: data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
    },
    /// A device's timeline: its EDR alerts (with console links), network
    /// activity per destination and minute, address changes and detections,
    /// in time order.
    Timeline {
        /// The device (`entity`, e.g. ws-0041).
        entity: String,
        /// Start (inclusive), e.g. 2026-11-03 or "2026-11-03 09:00:00".
        #[arg(long)]
        from: String,
        /// End (exclusive).
        #[arg(long)]
        to: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Write to this file instead of standard output (required for parquet).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Lake folder or URL (default: data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
    },
    /// Automated investigation of an EDR alert: checks over the device's
    /// data around it, a verdict (escalate, review, likely benign) with the
    /// reasons and counter-evidence, and a report.
    Investigate {
        /// The alert id (`alert_id`, or `vendor:alert_id`). Omit it to
        /// investigate --entity at --time instead.
        #[arg(required_unless_present = "entity")]
        alert_id: Option<String>,
        /// A device to investigate without an alert (with --time).
        #[arg(long, requires = "time", conflicts_with = "alert_id")]
        entity: Option<String>,
        /// The time to investigate --entity at.
        #[arg(long, requires = "entity")]
        time: Option<String>,
        /// Report format (default: from --out's extension, else md).
        #[arg(long, value_enum)]
        format: Option<crate::investigate::report::Format>,
        /// Write the report to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Hours before the alert to look at.
        #[arg(long, default_value_t = 24)]
        before_hours: u32,
        /// Hours after the alert to look at.
        #[arg(long, default_value_t = 2)]
        after_hours: u32,
        /// Lake folder or URL (default: data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
    },
    /// The detection pack: list it or run its tests.
    Detections {
        #[command(subcommand)]
        command: DetectionsCommand,
    },
    /// Regenerate the SQL function reference from the functions' own
    /// documentation.
    Docs {
        /// Where to write it.
        #[arg(long, default_value = "docs/functions.md", value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Benchmark huntlake against another engine on a generated lake, checking
    /// that both return the same answers.
    Bench {
        #[command(subcommand)]
        bench: BenchCommand,
    },
    /// Land data into the lake: without a source, run the connectors of the
    /// config file (`[connectors.*]`: Defender, CrowdStrike, SentinelOne
    /// APIs and Zeek/Suricata folders); with `zeek`/`suricata`, read the
    /// given files. Positions are kept in _state/checkpoints/, so every run
    /// lands only what is new; records that cannot be parsed go to
    /// _state/quarantine/.
    Ingest {
        #[command(subcommand)]
        source: Option<IngestCommand>,
        /// Poll once and exit (the default).
        #[arg(long, conflicts_with = "follow")]
        once: bool,
        /// Keep polling every [ingest] interval_seconds until interrupted.
        #[arg(long)]
        follow: bool,
        /// Lake folder or URL (default: the config's, else data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
    },
    /// Merge small part files and drop superseded alert versions and
    /// repeated flows, atomically per partition.
    Compact {
        /// Lake folder or URL (default: the config's, else data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
        /// Tables to compact (default: all).
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
    },
}

/// The file sources of `huntlake ingest`.
#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Zeek conn.log (flows) and dhcp.log (assets), TSV or JSON, plain or .gz.
    Zeek(IngestArgs),
    /// Suricata EVE JSON (flow events), plain or .gz.
    Suricata(IngestArgs),
}

/// Arguments shared by every `huntlake ingest` source.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Log files or folders (read recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Lake folder or URL (default: data/demo-lake).
    #[arg(long, value_name = "URL")]
    pub lake: Option<String>,
    /// Rows per landed batch (bounds memory).
    #[arg(long, default_value_t = crate::connectors::DEFAULT_BATCH_ROWS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub batch_rows: usize,
    /// Keep running: read what was appended to the files (and new files in
    /// the folders) every --interval-seconds, until interrupted (Ctrl-C).
    #[arg(long)]
    pub follow: bool,
    /// Seconds between two reads with --follow.
    #[arg(long, default_value_t = 10, requires = "follow", value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_seconds: u64,
}

/// The benchmarks of `huntlake bench`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Rarity scores, the alert/flow time-window join and beacon_score at
    /// scale, against DuckDB (`pip install duckdb`) computing the same
    /// definitions over the same Parquet files. Prints each engine's median
    /// time; fails if the answers differ.
    Analytics {
        /// Local folder of the benchmark lake; generated when missing or
        /// generated from another spec (recorded in _state/bench-spec.json).
        #[arg(long, default_value = "/var/tmp/huntlake-bench-lake", value_name = "DIR")]
        lake: PathBuf,
        /// At least this many network flows.
        #[arg(long, default_value_t = 10_000_000)]
        flows: usize,
        /// At least this many EDR alerts.
        #[arg(long, default_value_t = 200_000)]
        alerts: usize,
        /// Timed runs of each query in each engine (the median is reported).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// huntlake target_partitions and DuckDB threads.
        #[arg(long, default_value_t = 2, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        threads: usize,
        /// Generate the lake again even if it is up to date.
        #[arg(long)]
        regenerate: bool,
        /// Run only this query (repeatable): q1 rarity, q2 time-window join, q3 beacon_score.
        #[arg(long, value_name = "Q", value_parser = ["q1", "q2", "q3"])]
        query: Vec<String>,
    },
    /// Land a generated Zeek conn.log (JSON lines) into a fresh lake and
    /// convert the same file with DuckDB (`pip install duckdb`) to
    /// date-partitioned Parquet; prints rows/s and peak memory of both and
    /// fails if the two outputs hold different flows.
    Ingest {
        /// Working folder for the log file and both outputs.
        #[arg(long, default_value = "/var/tmp/huntlake-ingest-bench", value_name = "DIR")]
        dir: PathBuf,
        /// Lines in the generated conn.log.
        #[arg(long, default_value_t = 5_000_000)]
        lines: usize,
        /// DuckDB threads.
        #[arg(long, default_value_t = 2, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        threads: usize,
        /// huntlake rows per landed batch.
        #[arg(long, default_value_t = crate::connectors::DEFAULT_BATCH_ROWS)]
        batch_rows: usize,
    },
    /// The PostgreSQL endpoint against PostgreSQL itself on the same flows:
    /// rows/s streaming every flow to psycopg (binary) and psql (text), and
    /// p50/p99 of a small `entity = $1 LIMIT 10` query with 1 and 32
    /// clients (asyncpg). Needs `pip install 'psycopg[binary]' asyncpg`,
    /// psql and PostgreSQL's initdb/postgres; fails if the answers differ.
    Wire {
        /// Lake whose network_flows are streamed (`bench analytics` makes
        /// one with 10M flows).
        #[arg(long, default_value = "/var/tmp/huntlake-bench-lake", value_name = "DIR")]
        lake: PathBuf,
        /// Timed streaming runs per server and client (the median is reported).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// Small queries per concurrency setting (split over the clients).
        #[arg(long, default_value_t = 640, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(32..))]
        queries: usize,
        /// Folder with PostgreSQL's initdb and postgres.
        #[arg(long, default_value = "/usr/local/bin", value_name = "DIR")]
        pg_bin: PathBuf,
    },
    /// Latency of automated investigations: median and p90 over a
    /// deterministic sample of the lake's alerts, plus the planted incidents.
    Investigate(BenchInvestigateArgs),
}

/// `huntlake bench investigate` (a separate struct keeps the enum readable).
#[derive(Debug, clap::Args)]
pub struct BenchInvestigateArgs {
    /// Lake folder to measure on.
    #[arg(long, default_value = "/var/tmp/huntlake-bench-lake", value_name = "DIR")]
    pub lake: PathBuf,
    /// How many alerts to investigate (a deterministic sample).
    #[arg(long, default_value_t = 200)]
    pub sample: usize,
    /// Print each investigated alert's verdict, score and reasons.
    #[arg(long)]
    pub list: bool,
}

/// `huntlake detections ...`
#[derive(Debug, Subcommand)]
pub enum DetectionsCommand {
    /// Name, severity, ATT&CK techniques and description of every detection
    /// (built-in and from [engine] sql_dir), and the files that are broken.
    List {
        /// Lake folder or URL (default: data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
    },
    /// Run the detections' test cases: each `<name>.slt` beside a user's
    /// detection file, and the built-in ones in tests/slt/det_*.slt.
    Test {
        /// Folder(s) with .slt files to run (default: tests/slt and [engine] sql_dir).
        #[arg(long = "dir", value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Lake folder or URL (default: data/demo-lake).
        #[arg(long, value_name = "URL")]
        lake: Option<String>,
    },
}

/// How `query` prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Json,
    /// A Parquet file (needs --out).
    Parquet,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
