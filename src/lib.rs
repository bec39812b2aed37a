//! huntlake: an embedded security analytics engine. EDR alerts (Defender,
//! CrowdStrike, SentinelOne) and network telemetry (Zeek, Suricata) land in
//! one Parquet lake; DataFusion queries it; the Postgres wire protocol serves
//! it to psql, JDBC tools, psycopg, Grafana and friends.
//!
//! # Layout
//! * [`lake`] — the lake contract as code: schemas, the atomic partitioned
//!   writer, the catalog of lake tables with `time` -> `date=` pruning.
//! * [`connectors`] — Zeek and Suricata log files into `network_flows` and
//!   `assets`, with checkpoints, quarantine and entity resolution.
//! * [`engine`] — THE wiring point: one DataFusion context with the lake,
//!   the `udfs` crate, PostgreSQL catalog emulation and the `sql/` views.
//! * [`server`] — the Postgres endpoint; it sees only an [`engine::Engine`].
//! * [`demo`] — the deterministic demo-lake generator.
//! * [`detect`] — detections (`sql/detections/det_*.sql`): headers,
//!   retro-hunts, live detection, webhooks; [`sqltest`] runs `.slt` tests.
//! * [`investigate`] — entity timelines, automated triage of EDR alerts
//!   (checks, verdict) and reports (Markdown, HTML with an SVG chart, PDF).
//! * [`bench`] — `huntlake bench`: huntlake against DuckDB on a generated
//!   lake, timings printed only beside matching answers.
//! * [`config`], [`cli`], [`commands`], [`output`] — settings, the command
//!   line, what each command does, and result formats of `huntlake query`.

#![recursion_limit = "256"]

pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connectors;
pub mod demo;
pub mod detect;
pub mod engine;
pub mod investigate;
pub mod lake;
pub mod output;
pub mod server;
pub mod sqltest;
