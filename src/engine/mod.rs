//! THE wiring point: a DataFusion `SessionContext` with the lake tables,
//! huntlake's functions, PostgreSQL catalog emulation and the `sql/` views.
//!
//! The server, the `query` command, retro-hunts and investigations all get
//! their sessions from an [`Engine`], so they see the same tables, functions
//! and views. Each client gets its own session ([`Engine::session`]): settings
//! are per session, while the catalog (tables and views) is shared.

pub(crate) mod pg_functions;
pub mod settings;
mod views;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use crate::lake::{register_lake, LakeError, LakeLocation};

pub use pg_functions::server_version;
pub use settings::PgSettings;
pub use views::{builtin_sql_files, view_name, SqlFile};

/// The database (catalog) name clients see; any name given at connect works.
pub const CATALOG: &str = "huntlake";
/// The schema holding the lake tables and views.
pub const SCHEMA: &str = "public";

/// How long a table's file listing is reused before the lake is listed again:
/// the upper bound on how long a newly landed file stays invisible.
pub const LISTING_TTL: Duration = Duration::from_secs(2);

/// What an engine is built from.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub lake: LakeLocation,
    /// Upper bound on query memory; operators that can spill do so beyond it.
    pub memory_limit: Option<usize>,
    /// Where spill files go (the system temporary folder when unset).
    pub spill_dir: Option<PathBuf>,
    /// A folder of the user's own `.sql` view files, replayed after the built-in ones.
    pub user_sql_dir: Option<PathBuf>,
}

impl EngineOptions {
    pub fn new(lake: LakeLocation) -> Self {
        Self { lake, memory_limit: None, spill_dir: None, user_sql_dir: None }
    }
}

/// Errors while building the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("failed to set up the query engine: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("failed to set up PostgreSQL catalog emulation: {0}")]
    PgCatalog(String),
    #[error("cannot read SQL folder {path}: {source}")]
    SqlDir { path: String, source: std::io::Error },
}

/// The shared query engine over one lake.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    lake: LakeLocation,
    /// The SQL files replayed at start-up (built-in first, then the user's).
    sql_files: Arc<Vec<SqlFile>>,
    /// Files whose view could not be created: (origin, error).
    sql_errors: Arc<Vec<(String, String)>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("lake", &self.lake.url.as_str()).finish()
    }
}

impl Engine {
    /// Builds the engine: runtime (memory pool, spill, listing cache), lake
    /// tables, functions, catalog emulation, then the `sql/` views.
    pub async fn open(options: EngineOptions) -> Result<Self, EngineError> {
        let mut runtime = RuntimeEnvBuilder::new().with_object_list_cache_ttl(Some(LISTING_TTL));
        if let Some(limit) = options.memory_limit {
            runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
        }
        if let Some(dir) = &options.spill_dir {
            runtime = runtime.with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
            );
        }
        let runtime = runtime.build_arc()?;

        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_information_schema(true)
            .set_bool("datafusion.execution.parquet.pushdown_filters", true)
            .set_bool("datafusion.execution.parquet.reorder_filters", true)
            .set_str("datafusion.sql_parser.dialect", "PostgreSQL")
            .with_option_extension(PgSettings::default());
        config.options_mut().execution.time_zone = Some("+00:00".to_string());
        let rules = udfs::band_join::physical_optimizer_rules(PhysicalOptimizer::new().rules);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rules(rules)
            .build();
        let ctx = SessionContext::new_with_state(state);

        register_lake(&ctx, &options.lake)?;
        let mut registry = ctx.clone();
        udfs::register_all(&mut registry)?;
        setup_pg_catalog(&ctx, CATALOG, EmptyContextProvider)
            .map_err(|e| EngineError::PgCatalog(e.to_string()))?;
        pg_functions::register(&ctx);
        crate::investigate::functions::register(&ctx);

        let mut files = builtin_sql_files();
        if let Some(dir) = &options.user_sql_dir {
            files.extend(views::read_sql_dir(dir)?);
        }
        let sql_errors = views::replay(&ctx, &files).await;
        Ok(Self { ctx, lake: options.lake.clone(), sql_files: Arc::new(files), sql_errors: Arc::new(sql_errors) })
    }

    /// A new session for one client or job: its own settings over the shared
    /// catalog, functions and runtime (memory pool, caches).
    pub fn session(&self) -> SessionContext {
        SessionContext::new_with_state(self.ctx.state())
    }

    pub fn lake(&self) -> &LakeLocation {
        &self.lake
    }

    /// Forgets cached file listings, so files landed by another process are
    /// seen by the next query (without waiting for [`LISTING_TTL`]).
    pub fn refresh_listings(&self) {
        if let Some(cache) = self.ctx.runtime_env().cache_manager.get_list_files_cache() {
            cache.clear();
        }
    }

    /// The view files the engine was built with.
    pub fn sql_files(&self) -> &[SqlFile] {
        &self.sql_files
    }

    /// The view files that failed, with their errors.
    pub fn sql_errors(&self) -> &[(String, String)] {
        &self.sql_errors
    }
}
