//! Runs the sqllogictest files of `tests/slt/` against the committed demo
//! lake through the same engine the server uses.

use std::path::{Path, PathBuf};

use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use huntlake::engine::{Engine, EngineOptions};
use huntlake::lake::LakeLocation;
use sqllogictest::{DBOutput, DefaultColumnType};

struct EngineDb {
    ctx: datafusion::prelude::SessionContext,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SltError(String);

#[async_trait]
impl sqllogictest::AsyncDB for EngineDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let df = self.ctx.sql(sql).await.map_err(|e| SltError(e.to_string()))?;
        let is_statement = df.schema().fields().is_empty() || sql.trim_start().to_ascii_lowercase().starts_with("create");
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

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_on_the_demo_lake() {
    let lake_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo-lake");
    let lake = LakeLocation::parse(lake_dir.to_str().unwrap()).unwrap();
    let engine = Engine::open(EngineOptions::new(lake)).await.unwrap();
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files found");
    let mut failures = Vec::new();
    for file in files {
        let engine = engine.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let ctx = engine.session();
            async move { Ok::<_, SltError>(EngineDb { ctx }) }
        });
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
