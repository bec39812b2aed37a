//! Runs the sqllogictest files of `tests/slt/` against the committed demo
//! lake through the same engine the server uses.

use std::path::Path;

use huntlake::engine::{Engine, EngineOptions};
use huntlake::lake::LakeLocation;
use huntlake::sqltest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_on_the_demo_lake() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lake = LakeLocation::parse(root.join("data/demo-lake").to_str().unwrap()).unwrap();
    let engine = Engine::open(EngineOptions::new(lake)).await.unwrap();
    assert!(engine.sql_errors().is_empty(), "built-in SQL files failed: {:?}", engine.sql_errors());
    let files = sqltest::slt_files(&root.join("tests/slt"));
    assert!(!files.is_empty(), "no .slt files found");
    let failures = sqltest::run_files(&engine, &files).await;
    let report: Vec<String> = failures.iter().map(|(f, e)| format!("{}: {e}", f.display())).collect();
    assert!(failures.is_empty(), "{}", report.join("\n\n"));
}
