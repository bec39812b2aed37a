//! Writes query results for the `query` command: an aligned table, CSV,
//! JSON lines or Parquet.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::cli::OutputFormat;

/// Errors while writing a result.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("--format parquet needs --out FILE")]
    ParquetNeedsFile,
    #[error("cannot write the result: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot encode the result: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot encode the result as Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// Writes `batches` to `out` in `format`.
pub fn write(
    format: OutputFormat,
    schema: SchemaRef,
    batches: &[RecordBatch],
    out: &mut (dyn Write + Send),
    to_file: bool,
) -> Result<(), OutputError> {
    match format {
        OutputFormat::Table => {
            writeln!(out, "{}", arrow::util::pretty::pretty_format_batches(batches)?)?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        OutputFormat::Parquet => {
            if !to_file {
                return Err(OutputError::ParquetNeedsFile);
            }
            let mut w = parquet::arrow::ArrowWriter::try_new(out, schema, None)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
        }
    }
    Ok(())
}
