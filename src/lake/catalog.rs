//! The lake as DataFusion tables: one stable [`LakeTable`] per lake table,
//! registered once per engine.
//!
//! Two things a plain `ListingTable` does not do are added here:
//! * a `time` predicate is turned into a `date` predicate, so only the
//!   matching `date=YYYY-MM-DD` folders are listed and read;
//! * the listing cache is kept short-lived by the engine (see
//!   `engine::runtime`), so files landed while serving become visible.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::Result;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{col, lit, SessionContext};

use super::schema;
use super::{LakeError, LakeLocation};

/// Name of the Hive partition column of date-partitioned tables.
pub const DATE_COLUMN: &str = "date";

/// A lake table: a `ListingTable` over `<lake>/<table>/` that also prunes
/// `date=` folders from bounds on its time column.
#[derive(Debug)]
pub struct LakeTable {
    inner: ListingTable,
    /// The column whose UTC date names the partition folder, if partitioned.
    time_column: Option<&'static str>,
}

impl LakeTable {
    /// Builds the table for `name` in `lake`. The schema is the contract's,
    /// not inferred, so an empty lake is queryable and foreign Parquet is
    /// adapted to it.
    pub fn try_new(lake: &LakeLocation, name: &str) -> Result<Self, LakeError> {
        let layout = schema::layout(name).ok_or_else(|| LakeError::UnknownTable(name.into()))?;
        let table_schema: SchemaRef = schema::schema(name).expect("layout implies schema");
        let url = ListingTableUrl::parse(lake.table_url(name).as_str())?;
        let format = ParquetFormat::default().with_enable_pruning(true);
        let mut options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
        if layout.partition_time.is_some() {
            options = options.with_table_partition_cols(vec![(DATE_COLUMN.to_string(), DataType::Utf8)]);
        }
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(table_schema);
        Ok(Self { inner: ListingTable::try_new(config)?, time_column: layout.partition_time })
    }

    /// Derives `date` bounds from bounds on the time column.
    fn date_filters(&self, filters: &[Expr]) -> Vec<Expr> {
        let Some(time_col) = self.time_column else { return vec![] };
        let mut out = Vec::new();
        for filter in filters {
            for conjunct in split_conjunction(filter) {
                out.extend(date_bounds(conjunct, time_col));
            }
        }
        out
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut all = filters.to_vec();
        all.extend(self.date_filters(filters));
        self.inner.scan(state, projection, &all, limit).await
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }
}

fn split_conjunction(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            let mut v = split_conjunction(left);
            v.extend(split_conjunction(right));
            v
        }
        other => vec![other],
    }
}

/// True when `expr` is the time column, possibly under a cast.
fn is_time_column(expr: &Expr, time_col: &str) -> bool {
    match expr {
        Expr::Column(c) => c.name == time_col,
        Expr::Cast(c) => is_time_column(&c.expr, time_col),
        Expr::TryCast(c) => is_time_column(&c.expr, time_col),
        _ => false,
    }
}

/// A timestamp literal as microseconds since the epoch (UTC).
fn literal_micros(expr: &Expr) -> Option<i64> {
    let Expr::Literal(value, _) = expr else { return None };
    match value {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
        ScalarValue::Date32(Some(d)) => Some(*d as i64 * 86_400_000_000),
        ScalarValue::Date64(Some(ms)) => ms.checked_mul(1_000),
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            let v = ScalarValue::Utf8(Some(s.clone()))
                .cast_to(&DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))
                .ok()?;
            match v {
                ScalarValue::TimestampMicrosecond(Some(v), _) => Some(v),
                _ => None,
            }
        }
        _ => None,
    }
}

fn date_of(micros: i64) -> Option<(NaiveDate, bool)> {
    let t = DateTime::from_timestamp_micros(micros)?;
    Some((t.date_naive(), t.time() == NaiveTime::MIN))
}

fn date_lit(d: NaiveDate) -> Expr {
    lit(d.format("%Y-%m-%d").to_string())
}

/// The `date` predicates implied by one conjunct on the time column.
fn date_bounds(expr: &Expr, time_col: &str) -> Vec<Expr> {
    let date = || col(DATE_COLUMN);
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            // Normalise to `time <op> literal`.
            let (op, value) = if is_time_column(left, time_col) {
                (*op, right.as_ref())
            } else if is_time_column(right, time_col) {
                match op.swap() {
                    Some(op) => (op, left.as_ref()),
                    None => return vec![],
                }
            } else {
                return vec![];
            };
            let Some((d, midnight)) = literal_micros(value).and_then(date_of) else { return vec![] };
            match op {
                Operator::Gt | Operator::GtEq => vec![date().gt_eq(date_lit(d))],
                Operator::Lt if midnight => vec![date().lt(date_lit(d))],
                Operator::Lt | Operator::LtEq => vec![date().lt_eq(date_lit(d))],
                Operator::Eq => vec![date().eq(date_lit(d))],
                _ => vec![],
            }
        }
        Expr::Between(b) if !b.negated && is_time_column(&b.expr, time_col) => {
            let mut v = Vec::new();
            if let Some((d, _)) = literal_micros(&b.low).and_then(date_of) {
                v.push(date().gt_eq(date_lit(d)));
            }
            if let Some((d, _)) = literal_micros(&b.high).and_then(date_of) {
                v.push(date().lt_eq(date_lit(d)));
            }
            v
        }
        _ => vec![],
    }
}

/// Registers every lake table in `ctx`'s default schema. Done once per
/// engine: views capture the provider they were created against.
pub fn register_lake(ctx: &SessionContext, lake: &LakeLocation) -> Result<(), LakeError> {
    ctx.register_object_store(&lake.store_url, lake.store.clone());
    for name in schema::TABLES {
        let table = LakeTable::try_new(lake, name)?;
        ctx.register_table(*name, Arc::new(table))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Expr {
        let micros = DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        lit(ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into())))
    }

    #[test]
    fn range_on_time_becomes_date_range() {
        let f = col("time").gt_eq(ts("2026-11-03T10:00:00Z")).and(col("time").lt(ts("2026-11-05T00:00:00Z")));
        let mut got: Vec<String> = split_conjunction(&f)
            .into_iter()
            .flat_map(|e| date_bounds(e, "time"))
            .map(|e| e.to_string())
            .collect();
        got.sort();
        assert_eq!(got, vec!["date < Utf8(\"2026-11-05\")", "date >= Utf8(\"2026-11-03\")"]);
    }

    #[test]
    fn reversed_and_between_forms() {
        let f = ts("2026-11-03T10:00:00Z").lt_eq(col("time"));
        assert_eq!(date_bounds(&f, "time")[0].to_string(), "date >= Utf8(\"2026-11-03\")");
        let b = col("time").between(ts("2026-11-03T10:00:00Z"), ts("2026-11-04T10:00:00Z"));
        assert_eq!(date_bounds(&b, "time").len(), 2);
        assert!(date_bounds(&col("entity").eq(lit("x")), "time").is_empty());
    }
}
