//! What each `huntlake` subcommand does, given the parsed command line and
//! the merged settings.

use std::io::Write;
use std::path::Path;

use tokio::net::TcpListener;

use crate::cli::{BenchCommand, Cli, Command, DetectionsCommand, IngestCommand};
use crate::config::{Config, ConfigError};
use crate::demo::{self, DemoSpec};
use crate::engine::{Engine, EngineError, EngineOptions};
use crate::lake::{LakeError, LakeLocation, LakeWriter};
use crate::output::{self, OutputError};
use crate::server::{self, ServerOptions};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
    #[error(transparent)]
    Detect(#[from] crate::detect::DetectError),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Ingest(#[from] crate::connectors::ConnectorError),
    #[error(transparent)]
    Investigate(#[from] crate::investigate::InvestigateError),
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Loads the config file (if any) and applies the environment.
pub fn load_config(path: Option<&Path>) -> Result<Config, ConfigError> {
    let mut config = match path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    config.apply_env(env)?;
    Ok(config)
}

async fn open_engine(config: &Config) -> Result<Engine, CommandError> {
    let lake = LakeLocation::parse(config.lake())?;
    let mut options = EngineOptions::new(lake);
    options.memory_limit = config.memory_limit()?;
    options.spill_dir = config.engine.spill_dir.clone();
    options.user_sql_dir = config.engine.sql_dir.clone();
    Ok(Engine::open(options).await?)
}

pub async fn run(cli: Cli) -> Result<(), CommandError> {
    let mut config = load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { lake, listen, tls_require } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            if let Some(l) = listen {
                config.server.listen = Some(l);
            }
            if tls_require {
                config.server.tls_require = Some(true);
            }
            serve(&config).await
        }
        Command::Passwd => passwd(),
        Command::Query { sql, lake, format, out } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            query(&config, &sql, format, out.as_deref()).await
        }
        Command::Demo { seed, out, devices, days, flows_per_device_day, alerts_per_device_day } => {
            let mut spec = DemoSpec::demo(seed);
            if let Some(v) = devices {
                spec.devices = v;
            }
            if let Some(v) = days {
                spec.days = v;
            }
            if let Some(v) = flows_per_device_day {
                spec.flows_per_device_day = v;
            }
            if let Some(v) = alerts_per_device_day {
                spec.alerts_per_device_day = v;
            }
            generate_demo(&spec, &out).await
        }
        Command::Bench { bench: BenchCommand::Analytics { lake, flows, alerts, runs, threads, regenerate, query } } => {
            let options = crate::bench::analytics::AnalyticsOptions { lake, flows, alerts, runs, threads, regenerate, queries: query };
            Ok(crate::bench::analytics::run(options).await?)
        }
        Command::Bench { bench: BenchCommand::Ingest { dir, lines, threads, batch_rows } } => {
            let options = crate::bench::ingest::IngestBenchOptions { dir, lines, threads, batch_rows };
            Ok(crate::bench::ingest::run(options).await?)
        }
        Command::Bench { bench: BenchCommand::Wire { lake, runs, queries, pg_bin } } => {
            let options = crate::bench::wire::WireOptions { lake, runs, queries, pg_bin };
            Ok(crate::bench::wire::run(options).await?)
        }
        Command::Bench { bench: BenchCommand::Investigate(args) } => {
            let options = crate::bench::investigate::InvestigateOptions { lake: args.lake, sample: args.sample, list: args.list };
            Ok(crate::bench::investigate::run(options).await?)
        }
        Command::Timeline { entity, from, to, format, out, lake } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            timeline(&config, &entity, &from, &to, format, out.as_deref()).await
        }
        Command::Investigate { alert_id, entity, time, format, out, before_hours, after_hours, lake } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            let target = match (alert_id, entity, time) {
                (Some(id), _, _) => crate::investigate::Target::Alert(id),
                (None, Some(entity), Some(time)) => {
                    crate::investigate::Target::Entity { entity, time: crate::detect::hunt::parse_time(&time)? }
                }
                _ => return Err(CommandError::Failed("give an alert id, or --entity and --time".into())),
            };
            let window = crate::investigate::Window {
                before: chrono::Duration::hours(i64::from(before_hours)),
                after: chrono::Duration::hours(i64::from(after_hours)),
                ..Default::default()
            };
            investigate(&config, &target, window, format, out.as_deref()).await
        }
        Command::Hunt { from, to, detections, out, chunk_hours, lake } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            hunt(&config, &from, &to, &detections, out.as_deref(), chunk_hours).await
        }
        Command::Detect { follow, once: _, from, webhooks, report_dir, lake } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            config.detect.webhooks.extend(webhooks);
            detect(&config, follow, from.as_deref(), report_dir).await
        }
        Command::Detections { command } => match command {
            DetectionsCommand::List { lake } => {
                if let Some(l) = lake {
                    config.lake = Some(l);
                }
                list_detections(&config).await
            }
            DetectionsCommand::Test { dirs, lake } => {
                if let Some(l) = lake {
                    config.lake = Some(l);
                }
                test_detections(&config, dirs).await
            }
        },
        Command::Ingest { source: Some(source), once: _, follow: parent_follow, lake } => {
            let (source, args) = match source {
                IngestCommand::Zeek(args) => (crate::connectors::Source::Zeek, args),
                IngestCommand::Suricata(args) => (crate::connectors::Source::Suricata, args),
            };
            if let Some(l) = args.lake.or(lake) {
                config.lake = Some(l);
            }
            let follow = (args.follow || parent_follow).then(|| std::time::Duration::from_secs(args.interval_seconds));
            ingest(&config, source, &args.paths, args.batch_rows, follow).await
        }
        Command::Ingest { source: None, once: _, follow, lake } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            ingest_configured(&config, follow).await
        }
        Command::Compact { lake, tables } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            compact(&config, &tables).await
        }
        Command::Docs { out } => {
            let write_err = |source| CommandError::Write { path: out.display().to_string(), source };
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(write_err)?;
            }
            std::fs::write(&out, udfs::docs::render_markdown()).map_err(write_err)?;
            println!("wrote {}", out.display());
            Ok(())
        }
    }
}

async fn serve(config: &Config) -> Result<(), CommandError> {
    let address = config.listen()?;
    let engine = open_engine(config).await?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => {
            Some(server::tls::acceptor(cert, key).map_err(|e| CommandError::Failed(e.to_string()))?)
        }
        (None, None) => None,
        _ => {
            return Err(ConfigError::Invalid {
                setting: "server.tls_cert/server.tls_key",
                value: String::new(),
                reason: "set both or neither".into(),
            }
            .into())
        }
    };
    let tls_require = config.server.tls_require.unwrap_or(false);
    if tls_require && tls.is_none() {
        return Err(ConfigError::Invalid {
            setting: "server.tls_require",
            value: "true".into(),
            reason: "needs server.tls_cert and server.tls_key".into(),
        }
        .into());
    }
    let mut options = ServerOptions::new(config.credentials(env)?);
    options.max_connections = config.max_connections();
    options.tls = tls;
    options.tls_require = tls_require;
    options.max_message_size = config.max_message_size()?;
    options.throttle = config.login_throttle();
    if config.server.users.is_empty() {
        tracing::warn!(user = crate::config::DEMO_USER, "No [[server.users]] configured: the documented demo login is enabled.");
    }
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| CommandError::Listen { address: address.to_string(), source })?;
    tracing::info!(lake = %engine.lake().url, %address, "huntlake is ready; connect with psql -h {} -p {} -U {}",
        address.ip(), address.port(), options.users.first().map(|c| c.user.as_str()).unwrap_or(""));
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("Shutting down: no new connections are accepted.");
    };
    server::serve(engine, options, listener, shutdown).await.map_err(CommandError::Serve)
}

/// `huntlake passwd`: reads a password and prints its verifier.
fn passwd() -> Result<(), CommandError> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let read_line = || -> Result<String, CommandError> {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(|e| CommandError::Failed(format!("cannot read the password: {e}")))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    let password = if stdin.is_terminal() {
        // No echo while typing; `stty` restores it afterwards.
        let stty = |arg: &str| std::process::Command::new("stty").arg(arg).stdin(std::process::Stdio::inherit()).status();
        let _ = stty("-echo");
        eprint!("Password: ");
        let first = read_line();
        eprint!("\nAgain: ");
        let second = read_line();
        eprintln!();
        let _ = stty("echo");
        let (first, second) = (first?, second?);
        if first != second {
            return Err(CommandError::Failed("the passwords do not match".into()));
        }
        first
    } else {
        read_line()?
    };
    if password.is_empty() {
        return Err(CommandError::Failed("empty password".into()));
    }
    println!("{}", server::ScramVerifier::generate(&password));
    Ok(())
}

async fn query(
    config: &Config,
    sql: &str,
    format: crate::cli::OutputFormat,
    out: Option<&Path>,
) -> Result<(), CommandError> {
    let engine = open_engine(config).await?;
    let ctx = engine.session();
    let options = datafusion::execution::context::SQLOptions::new().with_allow_dml(false);
    let df = ctx.sql_with_options(sql, options).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    match out {
        Some(path) => {
            let write_err = |source| CommandError::Write { path: path.display().to_string(), source };
            let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(write_err)?);
            output::write(format, schema, &batches, &mut file, true)?;
            file.flush().map_err(write_err)?;
        }
        None => {
            let mut stdout = std::io::stdout();
            output::write(format, schema, &batches, &mut stdout, false)?;
        }
    }
    Ok(())
}

async fn generate_demo(spec: &DemoSpec, out: &str) -> Result<(), CommandError> {
    let landed = land_demo(spec, LakeLocation::parse(out)?).await?;
    let lake_info = &landed.lake;
    println!(
        "demo lake written to {}: {} days, {} EDR alerts, {} network flows, {} asset rows, {} planted incidents",
        landed.location.url,
        landed.days,
        landed.alerts,
        landed.flows,
        lake_info.assets.num_rows(),
        lake_info.incidents.len()
    );
    for i in &lake_info.incidents {
        println!("  {:<22} {:<12} {}  {}", i.name, i.entity, i.time.format("%Y-%m-%d %H:%M:%SZ"), i.description);
    }
    Ok(())
}

/// What [`land_demo`] wrote.
#[derive(Debug)]
pub struct LandedDemo {
    pub location: LakeLocation,
    pub days: usize,
    pub alerts: usize,
    pub flows: usize,
    /// The assets table (landed too) and the planted incidents.
    pub lake: demo::DemoLake,
}

/// Generates the demo lake of `spec` into `lake`: each day's alerts and flows
/// are landed as `part-demo` files as soon as they are generated (so memory
/// stays bounded by one day, whatever the scale), then the assets. Logs one
/// line per day. Needs the multi-threaded tokio runtime.
///
/// Used by `huntlake demo` and by `huntlake bench`.
pub async fn land_demo(spec: &DemoSpec, lake: LakeLocation) -> Result<LandedDemo, LakeError> {
    let writer = LakeWriter::new(lake);
    // The generator is synchronous and landing is async: land each day from
    // inside the generator's callback, blocking this worker meanwhile.
    let runtime = tokio::runtime::Handle::current();
    let (mut days, mut alerts, mut flows) = (0usize, 0usize, 0usize);
    let lake_info = tokio::task::block_in_place(|| {
        demo::generate(spec, &mut |day: demo::DemoDay| -> Result<(), LakeError> {
            let stem = "part-demo";
            runtime.block_on(writer.write_named("edr_alerts", &day.edr_alerts, stem))?;
            runtime.block_on(writer.write_named("network_flows", &day.network_flows, stem))?;
            alerts += day.edr_alerts.num_rows();
            flows += day.network_flows.num_rows();
            days += 1;
            tracing::info!(date = %day.date, alerts = day.edr_alerts.num_rows(), flows = day.network_flows.num_rows(), "Landed demo day.");
            Ok(())
        })
    })?;
    writer.write_named("assets", &lake_info.assets, "part-demo").await?;
    Ok(LandedDemo { location: writer.location().clone(), days, alerts, flows, lake: lake_info })
}

async fn hunt(
    config: &Config,
    from: &str,
    to: &str,
    names: &[String],
    out: Option<&Path>,
    chunk_hours: u32,
) -> Result<(), CommandError> {
    use crate::detect::{self, hunt};
    let engine = open_engine(config).await?;
    let (all, broken) = detect::catalog(&engine);
    for e in &broken {
        tracing::error!(error = %e, "Detection file skipped.");
    }
    let selected = detect::select(&all, names)?;
    let options = hunt::HuntOptions {
        from: hunt::parse_time(from)?,
        to: hunt::parse_time(to)?,
        chunk: chrono::Duration::hours(i64::from(chunk_hours.max(1))),
    };
    let summary = hunt::hunt(&engine, &selected, names.is_empty(), &options).await?;
    if let Some(path) = out {
        write_hits(path, &summary.hits)?;
    }
    println!("retro-hunt {} ({} to {}, {} chunks, {:.2} s)", summary.run_id, summary.from, summary.to, summary.chunks, summary.seconds);
    for (name, n) in &summary.per_detection {
        println!("  {name:<44} {n:>6}");
    }
    let reduction = summary.reduction().map(|r| format!("{r:.1}x fewer")).unwrap_or_else(|| "no detections".into());
    println!("raw EDR alerts in range: {}; detections: {}; {reduction}", summary.raw_alerts, summary.total());
    Ok(())
}

fn write_hits(path: &Path, hits: &arrow::array::RecordBatch) -> Result<(), CommandError> {
    use crate::cli::OutputFormat;
    let format = match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "parquet" => OutputFormat::Parquet,
        "csv" => OutputFormat::Csv,
        "json" | "jsonl" => OutputFormat::Json,
        other => {
            return Err(CommandError::Failed(format!(
                "--out {}: unknown extension {other:?}; use .parquet, .csv or .json",
                path.display()
            )))
        }
    };
    let write_err = |source| CommandError::Write { path: path.display().to_string(), source };
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(write_err)?);
    output::write(format, hits.schema(), std::slice::from_ref(hits), &mut file, true)?;
    file.flush().map_err(write_err)?;
    Ok(())
}

async fn timeline(
    config: &Config,
    entity: &str,
    from: &str,
    to: &str,
    format: crate::cli::OutputFormat,
    out: Option<&Path>,
) -> Result<(), CommandError> {
    use crate::detect::hunt::parse_time;
    use crate::investigate::timeline;
    let engine = open_engine(config).await?;
    let rows = timeline::query(&engine.session(), entity, parse_time(from)?, parse_time(to)?, &timeline::Options::default()).await?;
    let batch = timeline::to_batch(&rows).map_err(crate::investigate::InvestigateError::from)?;
    match out {
        Some(path) => {
            let write_err = |source| CommandError::Write { path: path.display().to_string(), source };
            let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(write_err)?);
            output::write(format, batch.schema(), std::slice::from_ref(&batch), &mut file, true)?;
            file.flush().map_err(write_err)?;
        }
        None => output::write(format, batch.schema(), std::slice::from_ref(&batch), &mut std::io::stdout(), false)?,
    }
    Ok(())
}

async fn investigate(
    config: &Config,
    target: &crate::investigate::Target,
    window: crate::investigate::Window,
    format: Option<crate::investigate::report::Format>,
    out: Option<&Path>,
) -> Result<(), CommandError> {
    use crate::investigate::report::{self, Format};
    let engine = open_engine(config).await?;
    let inv = crate::investigate::investigate(&engine.session(), target, window).await?;
    let format = format.or_else(|| out.and_then(Format::from_path)).unwrap_or(Format::Md);
    match out {
        Some(path) => {
            report::write(&inv, format, path)?;
            eprintln!("{}: {} (score {:.1}); report written to {}", inv.key(), inv.verdict, inv.score, path.display());
        }
        None => {
            if format == Format::Pdf {
                return Err(CommandError::Failed("--format pdf needs --out FILE".into()));
            }
            let bytes = report::render(&inv, format)?;
            let mut stdout = std::io::stdout();
            stdout.write_all(&bytes).and_then(|_| stdout.flush()).map_err(|source| CommandError::Write { path: "standard output".into(), source })?;
        }
    }
    Ok(())
}

async fn detect(config: &Config, follow: bool, from: Option<&str>, report_dir: Option<std::path::PathBuf>) -> Result<(), CommandError> {
    use crate::detect::{self, hunt::parse_time, live};
    let engine = open_engine(config).await?;
    let (all, broken) = detect::catalog(&engine);
    for e in &broken {
        tracing::error!(error = %e, "Detection file skipped.");
    }
    let selected: Vec<&detect::Detection> = all.iter().collect();
    let options = live::LiveOptions {
        lookback: config.detect_lookback()?,
        suppress: config.detect_suppress()?,
        start: from.map(parse_time).transpose()?,
        webhooks: config.detect.webhooks.clone(),
    };
    let client = reqwest::Client::new();
    // With --follow, every newly landed EDR alert is also investigated.
    let investigations = crate::investigate::live::LiveOptions {
        report_dir,
        start: options.start.unwrap_or_else(|| crate::investigate::live::default_start(chrono::Utc::now(), options.lookback)),
        max_per_cycle: 200,
        window: crate::investigate::Window::default(),
    };
    loop {
        let report = live::cycle(&engine, &selected, &options, &client, chrono::Utc::now()).await?;
        println!(
            "detect: {} new, {} suppressed, {} delivered, {} awaiting delivery",
            report.new_hits, report.suppressed, report.delivered, report.undelivered
        );
        if !follow {
            return Ok(());
        }
        let inv = crate::investigate::live::cycle(&engine, &investigations, chrono::Utc::now()).await?;
        if inv.investigated > 0 {
            println!("investigate: {} alerts investigated, {} to escalate{}", inv.investigated, inv.escalated, if inv.more { ", more waiting" } else { "" });
        }
        tokio::select! {
            _ = tokio::time::sleep(config.detect_interval()) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn list_detections(config: &Config) -> Result<(), CommandError> {
    let engine = open_engine(config).await?;
    let (all, broken) = crate::detect::catalog(&engine);
    for d in &all {
        println!("{}  [{}]  {}", d.name, d.header.severity, d.header.attack.join(", "));
        println!("    {}", d.header.title);
        if !d.header.description.is_empty() {
            println!("    {}", d.header.description);
        }
        println!("    id {}  ({})", d.header.id, d.origin);
    }
    for e in &broken {
        println!("BROKEN {e}");
    }
    println!("{} detections, {} broken files", all.len(), broken.len());
    Ok(())
}

async fn test_detections(config: &Config, mut dirs: Vec<std::path::PathBuf>) -> Result<(), CommandError> {
    let engine = open_engine(config).await?;
    if dirs.is_empty() {
        dirs.push("tests/slt".into());
        dirs.extend(config.engine.sql_dir.clone());
    }
    let mut files = Vec::new();
    for dir in &dirs {
        files.extend(
            crate::sqltest::slt_files(dir)
                .into_iter()
                .filter(|f| f.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("det"))),
        );
    }
    if files.is_empty() {
        return Err(CommandError::Failed(format!("no detection test files (det*.slt) in {dirs:?}")));
    }
    let failures = crate::sqltest::run_files(&engine, &files).await;
    for f in &files {
        let status = if failures.iter().any(|(p, _)| p == f) { "FAILED" } else { "ok" };
        println!("{status:>6}  {}", f.display());
    }
    for (f, e) in &failures {
        println!("\n{}:\n{e}", f.display());
    }
    println!("{} passed, {} failed", files.len() - failures.len(), failures.len());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Failed(format!("{} detection test file(s) failed", failures.len())))
    }
}

async fn ingest(
    config: &Config,
    source: crate::connectors::Source,
    paths: &[std::path::PathBuf],
    batch_rows: usize,
    follow: Option<std::time::Duration>,
) -> Result<(), CommandError> {
    let lake = LakeLocation::parse(config.lake())?;
    let options = crate::connectors::IngestOptions { batch_rows };
    let mut first = true;
    loop {
        let summary = crate::connectors::ingest(&lake, source, paths, &options).await?;
        // While following, quiet cycles print nothing.
        if first || summary.files_read > 0 {
            println!("{summary}");
        }
        first = false;
        let Some(interval) = follow else { return Ok(()) };
        // Checkpoints make every cycle read only what is new; stopping
        // between cycles loses nothing.
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => {
                tracing::info!(source = %source, "Interrupted; stopping after the last complete cycle.");
                return Ok(());
            }
        }
    }
}

/// Runs every connector of the config file, once or until interrupted.
async fn ingest_configured(config: &Config, follow: bool) -> Result<(), CommandError> {
    use crate::connectors::{alert_store::AlertStore, api};
    let lake = LakeLocation::parse(config.lake())?;
    let mut sources = api::configured_sources(config, env)?;
    let files = &config.connectors;
    if sources.is_empty() && files.zeek.is_none() && files.suricata.is_none() {
        return Err(CommandError::Failed(
            "no connectors configured: add [connectors.mde], [connectors.crowdstrike], [connectors.sentinelone], \
             [connectors.zeek] or [connectors.suricata] to the config file (see huntlake.example.toml) and pass --config"
                .into(),
        ));
    }
    let options = api::PollOptions { overlap: config.ingest_overlap()?, initial_lookback: config.ingest_initial_lookback()? };
    let file_options = crate::connectors::IngestOptions::default();
    let mut store: Option<AlertStore> = None;
    loop {
        let mut failures = Vec::new();
        // File sources first: DHCP leases resolve the entities of flows.
        for (source, cfg) in [(crate::connectors::Source::Zeek, &files.zeek), (crate::connectors::Source::Suricata, &files.suricata)] {
            let Some(cfg) = cfg else { continue };
            match crate::connectors::ingest(&lake, source, &cfg.paths, &file_options).await {
                Ok(summary) => println!("{summary}"),
                Err(e) => {
                    tracing::error!(source = %source, error = %e, "Connector failed; the others continue.");
                    failures.push(e.to_string());
                }
            }
        }
        if !sources.is_empty() {
            // The alert index is read from the lake once and kept across
            // polls; after a failure it is read again, in case the files
            // changed under it.
            if store.is_none() {
                store = Some(AlertStore::open(&lake).await?);
            }
            let index = store.as_mut().expect("opened above");
            let mut failed = false;
            for source in sources.iter_mut() {
                match api::poll(&lake, index, source.as_mut(), &options).await {
                    Ok(summary) => println!("{summary}"),
                    Err(e) => {
                        tracing::error!(connector = source.vendor(), error = %e, "Connector failed; the others continue.");
                        failures.push(e.to_string());
                        failed = true;
                    }
                }
            }
            if failed {
                store = None;
            }
        }
        if !follow {
            return if failures.is_empty() { Ok(()) } else { Err(CommandError::Failed(failures.join("\n"))) };
        }
        tokio::select! {
            _ = tokio::time::sleep(config.ingest_interval()) => {}
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("Interrupted; stopping after the last complete poll.");
                return Ok(());
            }
        }
    }
}

async fn compact(config: &Config, tables: &[String]) -> Result<(), CommandError> {
    let lake = LakeLocation::parse(config.lake())?;
    let all: Vec<String> = crate::lake::schema::TABLES.iter().map(|t| t.to_string()).collect();
    for table in if tables.is_empty() { &all } else { tables } {
        let summary = crate::lake::compact::compact(&lake, table).await?;
        println!("{summary}");
    }
    Ok(())
}
