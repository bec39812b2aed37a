//! An investigation as a document: Markdown, self-contained HTML (inline CSS
//! and an inline SVG chart, no external assets), JSON and PDF (written by
//! `pdf-writer` with the built-in Helvetica fonts; no external programs).
//!
//! All formats show the same content: verdict and score, the alert with its
//! console link, the reasons and counter-evidence, the device's activity
//! around the alert ([`chart`]), and every finding with its evidence table.

pub mod chart;
pub mod html;
pub mod markdown;
pub mod pdf;
pub mod svg;

use std::path::Path;

use super::{InvestigateError, Investigation};

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
    Json,
    Pdf,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Html => "html",
            Format::Json => "json",
            Format::Pdf => "pdf",
        }
    }

    /// The format a file name asks for by its extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Some(Format::Md),
            "html" | "htm" => Some(Format::Html),
            "json" => Some(Format::Json),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }
}

/// Renders `inv` in `format`.
pub fn render(inv: &Investigation, format: Format) -> Result<Vec<u8>, InvestigateError> {
    Ok(match format {
        Format::Md => markdown::render(inv).into_bytes(),
        Format::Html => html::render(inv).into_bytes(),
        Format::Json => {
            let mut v = serde_json::to_value(inv).unwrap_or_default();
            v["key"] = serde_json::Value::String(inv.key());
            serde_json::to_vec_pretty(&v).unwrap_or_default()
        }
        Format::Pdf => pdf::render(inv)?,
    })
}

/// Renders `inv` into `path` (folders created as needed).
pub fn write(inv: &Investigation, format: Format, path: &Path) -> Result<(), InvestigateError> {
    let err = |source| InvestigateError::Write { path: path.display().to_string(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let bytes = render(inv, format)?;
    // Write then rename, so a reader (or a crash) never sees half a report.
    let tmp = path.with_extension(format!("{}.tmp", format.extension()));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// A file name for the investigation's report: `<vendor>-<alert id>.<ext>`
/// with anything but letters, digits, `-`, `_` and `.` replaced.
pub fn file_name(inv: &Investigation, format: Format) -> String {
    let stem: String = inv.key().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' }).collect();
    format!("{stem}.{}", format.extension())
}

/// The report's title line.
pub fn title(inv: &Investigation) -> String {
    match &inv.alert {
        Some(a) => format!("Investigation of {} alert '{}' on {}", a.vendor, a.title, inv.entity),
        None => format!("Investigation of {} at {}", inv.entity, inv.time.format("%Y-%m-%d %H:%M:%S UTC")),
    }
}

/// Time in the reports' one format.
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
