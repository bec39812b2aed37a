//! Detections are SQL views named `det_*`, one per file, each with a
//! Sigma-style header ([`header`]). This module finds them among the engine's
//! SQL files and runs them: over a historical range ([`hunt`]) or
//! continuously on newly landed data ([`live`]), writing hits to the lake's
//! `detections` table ([`hits`]) and notifying webhooks ([`webhook`]).
//!
//! Every detection view returns the same leading columns
//! `time, entity, score, summary, evidence`, so the runner treats them alike.

pub mod header;
pub mod hits;
pub mod hunt;
pub mod live;
pub mod webhook;

use crate::engine::{view_name, Engine, SqlFile};
pub use header::{Header, Severity};

/// Views whose names start with this are detections.
pub const PREFIX: &str = "det_";

/// One detection: its view, header and file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The view name (`det_...`), which is also the file stem.
    pub name: String,
    /// Where the file came from (`sql/detections/x.sql` or a user path).
    pub origin: String,
    pub header: Header,
}

/// A detection file that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct DetectionFileError {
    pub origin: String,
    pub message: String,
}

/// Errors of the detection runner.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("unknown detection {0:?}; `huntlake detections list` shows the available ones")]
    UnknownDetection(String),
    #[error("detection {name} failed: {source}")]
    Query { name: String, source: datafusion::error::DataFusionError },
    #[error("detection {name} does not return the leading columns time, entity, score, summary, evidence: {reason}")]
    Shape { name: String, reason: String },
    #[error(transparent)]
    Lake(#[from] crate::lake::LakeError),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("invalid time range: {0}")]
    Range(String),
    #[error("cannot {action} detection state {path}: {reason}")]
    State { action: &'static str, path: String, reason: String },
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// The detections among the engine's SQL files. Files with a broken header,
/// or whose view failed to create, are returned as errors naming the file
/// and line; the others are usable.
pub fn catalog(engine: &Engine) -> (Vec<Detection>, Vec<DetectionFileError>) {
    let mut found: Vec<Detection> = Vec::new();
    let mut errors = Vec::new();
    for file in engine.sql_files() {
        let Some(name) = view_name(&file.sql).filter(|n| n.starts_with(PREFIX)) else { continue };
        if let Some((_, error)) = engine.sql_errors().iter().find(|(origin, _)| *origin == file.origin) {
            errors.push(DetectionFileError { origin: file.origin.clone(), message: error.clone() });
            continue;
        }
        match check_file(file, &name) {
            Ok(header) => {
                // A user's file of the same name replaces the built-in one.
                found.retain(|d| d.name != name);
                found.push(Detection { name, origin: file.origin.clone(), header });
            }
            Err(e) => errors.push(e),
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let mut seen = std::collections::HashMap::new();
    for d in &found {
        if let Some(other) = seen.insert(d.header.id.clone(), d.name.clone()) {
            errors.push(DetectionFileError {
                origin: d.origin.clone(),
                message: format!("id {} is also used by {other}; every detection needs its own id", d.header.id),
            });
        }
    }
    (found, errors)
}

fn check_file(file: &SqlFile, name: &str) -> Result<Header, DetectionFileError> {
    let err = |message: String| DetectionFileError { origin: file.origin.clone(), message };
    let header = header::parse(&file.sql).map_err(|e| err(e.to_string()))?;
    let stem = std::path::Path::new(&file.origin).file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if !stem.eq_ignore_ascii_case(name) {
        return Err(err(format!("the file creates view {name} but is named {stem}.sql; name the file after its view")));
    }
    Ok(header)
}

/// Picks detections by name (all when `names` is empty).
pub fn select<'a>(all: &'a [Detection], names: &[String]) -> Result<Vec<&'a Detection>, DetectError> {
    if names.is_empty() {
        return Ok(all.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            let wanted = n.to_ascii_lowercase();
            all.iter()
                .find(|d| d.name == wanted || d.name == format!("{PREFIX}{wanted}"))
                .ok_or_else(|| DetectError::UnknownDetection(n.clone()))
        })
        .collect()
}
