//! The lake's table schemas as code: one function per table, mirroring the
//! lake contract (`lake.md`) column for column.
//!
//! Everything that writes or reads the lake takes its schema from here, so a
//! change to the contract is a change in exactly one place.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Every lake table, in the order they are registered.
pub const TABLES: &[&str] = &["edr_alerts", "network_flows", "assets", "detections", "investigations"];

/// The one timestamp type of the lake: microseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn ts(name: &str, nullable: bool) -> Field {
    Field::new(name, timestamp_type(), nullable)
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// One row per vendor alert, latest version wins.
pub fn edr_alerts() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts("time", false),
        ts("updated_time", false),
        ts("ingest_time", false),
        text("vendor", false),
        text("alert_id", false),
        text("entity", false),
        text("device_id", false),
        text("device_ip", true),
        text("user_name", true),
        text("title", false),
        text("category", true),
        text("severity", false),
        Field::new("severity_id", DataType::Int32, false),
        Field::new(
            "techniques",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        text("process_name", true),
        text("command_line", true),
        text("file_name", true),
        text("file_sha256", true),
        text("status", false),
        text("console_url", false),
        text("raw", false),
    ]))
}

/// One row per connection (Zeek conn.log, Suricata flow).
pub fn network_flows() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts("time", false),
        text("sensor", false),
        text("uid", false),
        text("src_ip", false),
        Field::new("src_port", DataType::Int32, true),
        text("dst_ip", false),
        Field::new("dst_port", DataType::Int32, true),
        text("proto", false),
        text("service", true),
        Field::new("duration_s", DataType::Float64, true),
        Field::new("bytes_out", DataType::Int64, true),
        Field::new("bytes_in", DataType::Int64, true),
        text("conn_state", true),
        text("dst_host", true),
        text("entity", true),
    ]))
}

/// Which device held which address when.
pub fn assets() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("entity", false),
        text("ip", false),
        ts("valid_from", false),
        ts("valid_to", true),
        text("source", false),
    ]))
}

/// What detection views produced, written by the detection runner.
pub fn detections() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts("time", false),
        text("detection", false),
        text("entity", false),
        Field::new("severity_id", DataType::Int32, false),
        Field::new("score", DataType::Float64, false),
        text("summary", false),
        text("evidence", false),
        text("run_id", false),
    ]))
}

/// Automated investigations of EDR alerts, written by `detect --follow`
/// (`src/investigate/live.rs`). An addition to the lake contract: `time` is
/// the alert's time; `findings` is the findings as JSON; `report_path` is
/// where the HTML report was written.
pub fn investigations() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts("time", false),
        ts("investigated_time", false),
        text("vendor", false),
        text("alert_id", false),
        text("entity", false),
        text("title", false),
        text("verdict", false),
        Field::new("score", DataType::Float64, false),
        text("findings", false),
        text("report_path", true),
    ]))
}

/// How a table is laid out in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLayout {
    pub name: &'static str,
    /// Partitioned into `date=YYYY-MM-DD/` folders by the UTC date of this column.
    pub partition_time: Option<&'static str>,
    /// Sort order of rows inside a part file.
    pub sort_by: &'static [&'static str],
}

/// Layout of a lake table by name, or `None` for an unknown table.
pub fn layout(table: &str) -> Option<TableLayout> {
    let (name, partition_time, sort_by): (&'static str, _, &'static [&'static str]) = match table {
        "edr_alerts" => ("edr_alerts", Some("time"), &["entity", "time"]),
        "network_flows" => ("network_flows", Some("time"), &["src_ip", "time"]),
        "assets" => ("assets", None, &["entity", "valid_from"]),
        "detections" => ("detections", Some("time"), &["entity", "time"]),
        "investigations" => ("investigations", Some("time"), &["entity", "time"]),
        _ => return None,
    };
    Some(TableLayout { name, partition_time, sort_by })
}

/// Schema of a lake table by name.
pub fn schema(table: &str) -> Option<SchemaRef> {
    Some(match table {
        "edr_alerts" => edr_alerts(),
        "network_flows" => network_flows(),
        "assets" => assets(),
        "detections" => detections(),
        "investigations" => investigations(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_schema_and_layout() {
        for t in TABLES {
            let s = schema(t).unwrap();
            let l = layout(t).unwrap();
            for col in l.sort_by.iter().chain(l.partition_time.iter()) {
                assert!(s.field_with_name(col).is_ok(), "{t}.{col} missing");
            }
        }
        assert!(schema("nope").is_none());
    }

    #[test]
    fn timestamps_are_micros_utc() {
        for t in TABLES {
            for f in schema(t).unwrap().fields() {
                if let DataType::Timestamp(unit, tz) = f.data_type() {
                    assert_eq!(*unit, TimeUnit::Microsecond);
                    assert_eq!(tz.as_deref(), Some("UTC"));
                }
            }
        }
    }
}
