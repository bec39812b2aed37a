//! The lake: Hive-partitioned Parquet in a local folder or an object store,
//! laid out exactly as the lake contract (`lake.md`) says.
//!
//! * [`schema`] — the table schemas and layouts as code;
//! * [`location`] — turning a path or URL into an object store;
//! * [`writer`] — landing record batches atomically into `date=` folders;
//! * [`catalog`] — one stable DataFusion table per lake table, with `time`
//!   filters turned into `date=` folder pruning;
//! * [`parts`] — reading whole part files for the writers that rewrite them;
//! * [`state`] — the JSON documents under `_state/` (checkpoints, cursors);
//! * [`compact`] — merging small part files, dropping duplicates.

pub mod catalog;
pub mod compact;
pub mod location;
pub mod parts;
pub mod schema;
pub mod state;
pub mod writer;

pub use catalog::{register_lake, LakeTable};
pub use location::LakeLocation;
pub use writer::LakeWriter;

/// Errors of the lake layer, naming the table and place involved.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("invalid lake location {location:?}: {reason}")]
    InvalidLocation { location: String, reason: String },
    #[error("unknown lake table {0:?} (known tables: edr_alerts, network_flows, assets, detections, investigations)")]
    UnknownTable(String),
    #[error("batch for {table} does not match the lake schema: {reason}")]
    SchemaMismatch { table: String, reason: String },
    #[error("failed to encode Parquet for {path}: {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("failed to {action} {path} in the lake: {source}")]
    Store {
        action: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}
