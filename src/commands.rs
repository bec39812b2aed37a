//! What each `huntlake` subcommand does, given the parsed command line and
//! the merged settings.

use std::io::Write;
use std::path::Path;

use tokio::net::TcpListener;

use crate::cli::{Cli, Command};
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
        Command::Serve { lake, listen } => {
            if let Some(l) = lake {
                config.lake = Some(l);
            }
            if let Some(l) = listen {
                config.server.listen = Some(l);
            }
            serve(&config).await
        }
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
    }
}

async fn serve(config: &Config) -> Result<(), CommandError> {
    let address = config.listen()?;
    let engine = open_engine(config).await?;
    let options = ServerOptions {
        users: config.credentials(env)?,
        max_connections: config.max_connections(),
    };
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| CommandError::Listen { address: address.to_string(), source })?;
    tracing::info!(lake = %engine.lake().url, %address, "huntlake is ready; connect with psql -h {} -p {} -U {}",
        address.ip(), address.port(), options.users.first().map(|c| c.user.as_str()).unwrap_or(""));
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Shutting down.");
    };
    server::serve(engine, options, listener, shutdown).await.map_err(CommandError::Serve)
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
    let lake = LakeLocation::parse(out)?;
    let writer = LakeWriter::new(lake);
    let mut days = Vec::new();
    // The generator hands over one day at a time; landing is async, so days
    // are collected per day and landed right away to keep memory bounded.
    let runtime = tokio::runtime::Handle::current();
    let mut alerts = 0usize;
    let mut flows = 0usize;
    let lake_info = tokio::task::block_in_place(|| {
        demo::generate(spec, &mut |day: demo::DemoDay| -> Result<(), LakeError> {
            let stem = "part-demo";
            runtime.block_on(writer.write_named("edr_alerts", &day.edr_alerts, stem))?;
            runtime.block_on(writer.write_named("network_flows", &day.network_flows, stem))?;
            alerts += day.edr_alerts.num_rows();
            flows += day.network_flows.num_rows();
            tracing::info!(date = %day.date, alerts = day.edr_alerts.num_rows(), flows = day.network_flows.num_rows(), "Landed demo day.");
            days.push(day.date);
            Ok(())
        })
    })?;
    writer.write_named("assets", &lake_info.assets, "part-demo").await?;
    println!(
        "demo lake written to {}: {} days, {} EDR alerts, {} network flows, {} asset rows, {} planted incidents",
        writer.location().url,
        days.len(),
        alerts,
        flows,
        lake_info.assets.num_rows(),
        lake_info.incidents.len()
    );
    for i in &lake_info.incidents {
        println!("  {:<22} {:<12} {}  {}", i.name, i.entity, i.time.format("%Y-%m-%d %H:%M:%SZ"), i.description);
    }
    Ok(())
}
