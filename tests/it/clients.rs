//! Real PostgreSQL clients against a server over the demo lake: each suite
//! in tests/clients/ (psycopg 3, psycopg2, asyncpg, SQLAlchemy + pandas,
//! pgJDBC, node-postgres) connects, checks the values of known demo-lake
//! rows for every lake type and exits non-zero on a mismatch.
//!
//! A missing client runtime fails the test with what to install (`.ci/run`
//! installs them all); it never passes silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use huntlake::lake::LakeLocation;

use crate::fixtures::{start, TestServer, PASSWORD, USER};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A server over the committed demo lake (read only: serving writes nothing).
async fn demo_server() -> TestServer {
    let lake = repo().join("data/demo-lake");
    start(LakeLocation::parse(lake.to_str().unwrap()).unwrap()).await
}

/// Runs `program args` with the server's address in the arguments and the
/// libpq environment, failing with the client's output unless it succeeds.
async fn run_client(server: &TestServer, program: &str, args: Vec<String>, dir: &Path) {
    let mut cmd = Command::new(program);
    cmd.args(&args)
        .current_dir(dir)
        .env("PGHOST", server.addr.ip().to_string())
        .env("PGPORT", server.addr.port().to_string())
        .env("PGUSER", USER)
        .env("PGPASSWORD", PASSWORD)
        .env("PGDATABASE", "huntlake");
    let what = format!("{program} {}", args.join(" "));
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap();
    let out = out.unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}", out.status);
    assert!(stdout.contains("all checks passed"), "{what} did not finish its checks:\n{stdout}\n{stderr}");
    eprintln!("{what}: {} checks passed", stdout.lines().filter(|l| l.starts_with("ok ")).count());
}

/// Fails with `install` unless `program args` runs successfully.
fn require(program: &str, args: &[&str], install: &str) {
    let ok = Command::new(program).args(args).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "client runtime missing: `{program} {}` failed; install it with: {install} (.ci/run does)", args.join(" "));
}

fn python() -> String {
    std::env::var("HUNTLAKE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

async fn python_suite(script: &str, modules: &str, install: &str) {
    require(&python(), &["-c", &format!("import {modules}")], install);
    let server = demo_server().await;
    let dir = repo().join("tests/clients/python");
    let args = vec![
        script.to_string(),
        "--host".into(),
        server.addr.ip().to_string(),
        "--port".into(),
        server.addr.port().to_string(),
        "--user".into(),
        USER.into(),
        "--password".into(),
        PASSWORD.into(),
    ];
    run_client(&server, &python(), args, &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg3_text_binary_and_server_side_parameters() {
    python_suite("check_psycopg.py", "psycopg", "pip install 'psycopg[binary]'").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg2_client_side_parameters() {
    python_suite("check_psycopg2.py", "psycopg2", "pip install psycopg2-binary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncpg_prepared_statements_binary_and_pool() {
    python_suite("check_asyncpg.py", "asyncpg", "pip install asyncpg").await;
}

/// asyncpg's `typeinfo_tree` query itself runs (client_queries.rs), and its
/// `$1::oid[]` parameter is now described as oid[] (1028, params.rs), but
/// its result column `attrtypoids` (`array_agg(atttypid)`) is still
/// described as int4[] (1007) instead of oid[]: DataFusion has no oid type
/// and the aggregate drops the column's oid metadata. asyncpg has no built-in
/// codec for int4[], so it recurses into introspecting its own introspection
/// query and never returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known gap: asyncpg type introspection (result column attrtypoids described as int4[])"]
async fn asyncpg_type_introspection() {
    python_suite("check_asyncpg_introspection.py", "asyncpg", "pip install asyncpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_inspector_and_pandas() {
    python_suite(
        "check_sqlalchemy.py",
        "sqlalchemy, pandas, psycopg, psycopg2",
        "pip install sqlalchemy pandas 'psycopg[binary]' psycopg2-binary",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_metadata_prepared_statements_and_getters() {
    const DRIVER: &str = "/usr/share/java/postgresql.jar";
    require("javac", &["-version"], "apt-get install default-jdk-headless");
    assert!(Path::new(DRIVER).exists(), "{DRIVER} missing; install it with: apt-get install libpostgresql-jdbc-java (.ci/run does)");
    let classes = tempfile::tempdir().unwrap();
    let source = repo().join("tests/clients/java/CheckJdbc.java");
    let out = Command::new("javac")
        .args(["-d", classes.path().to_str().unwrap(), "-cp", DRIVER, source.to_str().unwrap()])
        .output()
        .expect("javac runs");
    assert!(out.status.success(), "javac CheckJdbc.java failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let server = demo_server().await;
    let classpath = format!("{}:{DRIVER}", classes.path().display());
    let args = vec![
        "-cp".into(),
        classpath,
        "CheckJdbc".into(),
        server.addr.ip().to_string(),
        server.addr.port().to_string(),
        USER.into(),
        PASSWORD.into(),
    ];
    run_client(&server, "java", args, &repo()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_postgres_parameters_and_types() {
    let dir = repo().join("tests/clients/node");
    require("node", &["--version"], "apt-get install nodejs");
    assert!(
        dir.join("node_modules/pg").exists(),
        "node-postgres missing; install it with: npm ci --prefix tests/clients/node (.ci/run does)"
    );
    let server = demo_server().await;
    let args = vec![
        "check_pg.js".into(),
        "--host".into(),
        server.addr.ip().to_string(),
        "--port".into(),
        server.addr.port().to_string(),
        "--user".into(),
        USER.into(),
        "--password".into(),
        PASSWORD.into(),
    ];
    run_client(&server, "node", args, &dir).await;
}
