//! Replays the `sql/` view files into the engine at start-up.
//!
//! The files are the source of truth: built-in ones are embedded in the
//! binary at build time (`build.rs`), a user's folder is read at start-up.
//! Each file holds one `CREATE [OR REPLACE] VIEW`. Views may use each other,
//! so files are replayed until no more succeed, which creates them in
//! dependency order without a declared graph. A broken file is reported with
//! its name and does not stop the others.

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;

use super::EngineError;

include!(concat!(env!("OUT_DIR"), "/builtin_sql.rs"));

/// One SQL file: where it came from and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFile {
    /// `views/x.sql` for built-in files, the file path for a user's.
    pub origin: String,
    pub sql: String,
}

/// The SQL files compiled into this binary.
pub fn builtin_sql_files() -> Vec<SqlFile> {
    BUILTIN_SQL
        .iter()
        .map(|(origin, sql)| SqlFile { origin: format!("sql/{origin}"), sql: sql.to_string() })
        .collect()
}

/// Reads every `.sql` file of `dir` (sorted by name).
pub fn read_sql_dir(dir: &Path) -> Result<Vec<SqlFile>, EngineError> {
    let io = |source| EngineError::SqlDir { path: dir.display().to_string(), source };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let sql = std::fs::read_to_string(&p).map_err(io)?;
            Ok(SqlFile { origin: p.display().to_string(), sql })
        })
        .collect()
}

/// Creates the views of `files`, retrying failed ones while others succeed.
/// Returns the files that could not be created, with their errors.
pub async fn replay(ctx: &SessionContext, files: &[SqlFile]) -> Vec<(String, String)> {
    let mut pending: Vec<&SqlFile> = files.iter().collect();
    loop {
        let mut failed = Vec::new();
        let mut errors = Vec::new();
        for file in &pending {
            match create(ctx, &file.sql).await {
                Ok(()) => tracing::debug!(file = %file.origin, "Created view."),
                Err(e) => {
                    failed.push(*file);
                    errors.push((file.origin.clone(), e));
                }
            }
        }
        if failed.is_empty() {
            return vec![];
        }
        if failed.len() == pending.len() {
            for (origin, error) in &errors {
                tracing::error!(file = %origin, %error, "Could not create the view of this SQL file; it is skipped.");
            }
            return errors;
        }
        pending = failed;
    }
}

async fn create(ctx: &SessionContext, sql: &str) -> Result<(), String> {
    let sql = as_create_or_replace(sql);
    let df = ctx.sql(&sql).await.map_err(|e| e.to_string())?;
    df.collect().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// `CREATE VIEW` in a file means "this file's view", so replaying it (or a
/// user's file of the same name) replaces the view. Leading comment lines
/// (detection headers) are kept, so error positions match the file's lines.
fn as_create_or_replace(sql: &str) -> String {
    let body_start = sql
        .lines()
        .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
        .map(|l| l.len() + 1)
        .sum::<usize>()
        .min(sql.len());
    let (head, body) = sql.split_at(body_start);
    let body = body.trim_end().trim_end_matches(';');
    let indent = body.len() - body.trim_start().len();
    let (pad, body) = body.split_at(indent);
    match body.get(..12) {
        Some(kw) if kw.eq_ignore_ascii_case("create view ") => {
            format!("{head}{pad}CREATE OR REPLACE VIEW {}", &body[12..])
        }
        _ => format!("{head}{pad}{body}"),
    }
}

/// The view name a file creates (`CREATE [OR REPLACE] VIEW name`), lower-cased.
pub fn view_name(sql: &str) -> Option<String> {
    let mut words = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(|l| l.split_whitespace())
        .map(|w| w.to_ascii_lowercase());
    if words.next()? != "create" {
        return None;
    }
    let mut w = words.next()?;
    if w == "or" {
        words.next()?; // replace
        w = words.next()?;
    }
    if w != "view" {
        return None;
    }
    let name = words.next()?;
    Some(name.trim_matches('"').trim_end_matches('(').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn views_are_created_in_dependency_order_and_bad_files_reported() {
        let ctx = SessionContext::new();
        let files = vec![
            SqlFile { origin: "b.sql".into(), sql: "CREATE VIEW b AS SELECT x + 1 AS y FROM a".into() },
            SqlFile { origin: "a.sql".into(), sql: "CREATE VIEW a AS SELECT 1 AS x;".into() },
            SqlFile { origin: "bad.sql".into(), sql: "CREATE VIEW bad AS SELEC 1".into() },
        ];
        let errors = replay(&ctx, &files).await;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "bad.sql");
        let rows = ctx.sql("SELECT y FROM b").await.unwrap().collect().await.unwrap();
        assert_eq!(rows[0].num_rows(), 1);
    }

    #[test]
    fn header_comments_are_skipped() {
        let sql = "-- id: x\n-- title: t\nCREATE VIEW v AS SELECT 1;\n";
        assert_eq!(as_create_or_replace(sql), "-- id: x\n-- title: t\nCREATE OR REPLACE VIEW v AS SELECT 1");
        assert_eq!(view_name(sql).as_deref(), Some("v"));
        assert_eq!(view_name("CREATE OR REPLACE VIEW Det_X AS SELECT 1").as_deref(), Some("det_x"));
        assert_eq!(view_name("SELECT 1"), None);
    }
}
