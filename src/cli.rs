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
    },
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
