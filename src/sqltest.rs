//! Runs sqllogictest (`.slt`) files against an [`Engine`]: the test format of
//! the detection pack and of huntlake's SQL behaviour, used by the test
//! suite and by `huntlake detections test`.

use std::path::{Path, PathBuf};

use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::engine::Engine;

/// One engine session as a sqllogictest database.
pub struct EngineDb {
    ctx: datafusion::prelude::SessionContext,
}

/// A statement's error, as sqllogictest compares it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SltError(String);

#[async_trait]
impl sqllogictest::AsyncDB for EngineDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let df = self.ctx.sql(sql).await.map_err(|e| SltError(e.to_string()))?;
        let is_statement =
            df.schema().fields().is_empty() || sql.trim_start().to_ascii_lowercase().starts_with("create");
        let batches = df.collect().await.map_err(|e| SltError(e.to_string()))?;
        if is_statement {
            return Ok(DBOutput::StatementComplete(0));
        }
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        let mut types = Vec::new();
        for batch in &batches {
            types = batch.schema().fields().iter().map(|_| DefaultColumnType::Any).collect();
            let formatters: Vec<ArrayFormatter> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<_, _>>()
                .map_err(|e| SltError(e.to_string()))?;
            for row in 0..batch.num_rows() {
                rows.push(formatters.iter().map(|f| f.value(row).to_string()).collect());
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "huntlake"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

/// The `.slt` files of `dir`, sorted (none when the folder does not exist).
pub fn slt_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

/// Runs each file in a fresh session; returns `(file, error)` for failures.
pub async fn run_files(engine: &Engine, files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut failures = Vec::new();
    for file in files {
        let engine = engine.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let ctx = engine.session();
            async move { Ok::<_, SltError>(EngineDb { ctx }) }
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push((file.clone(), e.to_string()));
        }
    }
    failures
}
