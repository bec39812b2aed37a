//! The SQL surface of investigations: two table functions registered by the
//! engine (`src/engine/mod.rs`).
//!
//! ```sql
//! SELECT * FROM entity_timeline('ws-0041', '2026-11-03 09:00:00', '2026-11-03 12:00:00');
//! SELECT * FROM investigate('<alert id>');            -- or investigate('ws-0041', '2026-11-03 10:00:52')
//! ```
//!
//! Table functions are planned synchronously, but the work is queries: the
//! arguments are evaluated when the function is called (any constant
//! expression: literals, casts, `now() - INTERVAL '1 day'`), and the rows
//! are computed when the plan is executed, in the caller's own session.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, RecordBatchOptions, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{ColumnarValue, Expr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::{timeline, InvestigateError, Investigation, Target, Window};

/// Registers `entity_timeline` and `investigate` in `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udtf("entity_timeline", Arc::new(EntityTimeline));
    ctx.register_udtf("investigate", Arc::new(Investigate));
}

/// `entity_timeline(entity, from, to)`.
#[derive(Debug)]
pub struct EntityTimeline;

/// `investigate(alert_id)` or `investigate(entity, time)`.
#[derive(Debug)]
pub struct Investigate;

impl TableFunctionImpl for EntityTimeline {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let values = evaluate(&args)?;
        let [entity, from, to] = values.as_slice() else {
            return Err(plan_err("entity_timeline(entity, from, to) takes three arguments, e.g. entity_timeline('ws-0041', '2026-11-03', '2026-11-04')"));
        };
        let job = Job::Timeline { entity: text_arg("entity", entity)?, from: time_arg("from", from)?, to: time_arg("to", to)? };
        Ok(Arc::new(Deferred { schema: timeline::schema(), job }))
    }
}

impl TableFunctionImpl for Investigate {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let values = evaluate(&args)?;
        let target = match values.as_slice() {
            [id] => Target::Alert(text_arg("alert id", id)?),
            [entity, time] => Target::Entity { entity: text_arg("entity", entity)?, time: time_arg("time", time)? },
            _ => return Err(plan_err("investigate(alert_id) or investigate(entity, time)")),
        };
        Ok(Arc::new(Deferred { schema: findings_schema(), job: Job::Investigate(target) }))
    }
}

fn plan_err(message: impl Into<String>) -> DataFusionError {
    DataFusionError::Plan(message.into())
}

/// Evaluates each argument as a constant.
fn evaluate(args: &TableFunctionArgs) -> Result<Vec<ScalarValue>> {
    let session = args.session();
    let schema = DFSchema::empty();
    let one_row = RecordBatch::try_new_with_options(Arc::new(Schema::empty()), vec![], &RecordBatchOptions::new().with_row_count(Some(1)))?;
    args.exprs()
        .iter()
        .map(|e: &Expr| {
            let physical = session.create_physical_expr(e.clone(), &schema)?;
            match physical.evaluate(&one_row)? {
                ColumnarValue::Scalar(v) => Ok(v),
                ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0),
            }
        })
        .collect()
}

fn text_arg(name: &str, v: &ScalarValue) -> Result<String> {
    match super::sql::opt_text(v) {
        Some(x) if !v.is_null() => Ok(x),
        _ => Err(plan_err(format!("{name} must be a non-empty text value, got {v}"))),
    }
}

fn time_arg(name: &str, v: &ScalarValue) -> Result<DateTime<Utc>> {
    if let Some(t) = super::sql::time(v) {
        return Ok(t);
    }
    match v {
        ScalarValue::Date32(Some(d)) => Ok(DateTime::from_timestamp(i64::from(*d) * 86_400, 0).unwrap_or_default()),
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => {
            crate::detect::hunt::parse_time(s).map_err(|e| plan_err(format!("{name}: {e}")))
        }
        other => Err(plan_err(format!("{name} must be a timestamp or a text like '2026-11-03 10:00:00', got {other}"))),
    }
}

/// The columns of `investigate(...)`: one row per finding, then a `verdict` row.
pub fn findings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("entity", DataType::Utf8, false),
        Field::new("alert", DataType::Utf8, false),
        Field::new("check", DataType::Utf8, false),
        Field::new("summary", DataType::Utf8, false),
        Field::new("points", DataType::Float64, false),
        Field::new("counter", DataType::Boolean, false),
        Field::new("evidence", DataType::Utf8, false),
        Field::new("verdict", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
    ]))
}

/// The findings of an investigation as rows of [`findings_schema`]; the last
/// row (check `verdict`) holds the verdict and its reasons.
pub fn findings_batch(inv: &Investigation) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = inv.findings.len() + 1;
    let mut checks: Vec<String> = inv.findings.iter().map(|f| f.check.clone()).collect();
    let mut summaries: Vec<String> = inv.findings.iter().map(|f| f.summary.clone()).collect();
    let mut points: Vec<f64> = inv.findings.iter().map(|f| f.points).collect();
    let mut counters: Vec<bool> = inv.findings.iter().map(|f| f.counter).collect();
    let mut evidence: Vec<String> = inv.findings.iter().map(|f| serde_json::to_string(&f.evidence).unwrap_or_default()).collect();
    checks.push("verdict".into());
    summaries.push(format!("{}: {}", inv.verdict, if inv.reasons.is_empty() { "nothing points to more than the alert itself".into() } else { inv.reasons.join("; ") }));
    points.push(inv.score);
    counters.push(false);
    evidence.push(serde_json::json!({ "counter_evidence": inv.counter_evidence }).to_string());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![inv.entity.clone(); n])),
        Arc::new(StringArray::from(vec![inv.key(); n])),
        Arc::new(StringArray::from(checks)),
        Arc::new(StringArray::from(summaries)),
        Arc::new(Float64Array::from(points)),
        Arc::new(BooleanArray::from(counters)),
        Arc::new(StringArray::from(evidence)),
        Arc::new(StringArray::from(vec![inv.verdict.to_string(); n])),
        Arc::new(Float64Array::from(vec![inv.score; n])),
    ];
    RecordBatch::try_new(findings_schema(), columns)
}

#[derive(Debug, Clone)]
enum Job {
    Timeline { entity: String, from: DateTime<Utc>, to: DateTime<Utc> },
    Investigate(Target),
}

/// A table whose rows are computed when it is scanned.
#[derive(Debug)]
struct Deferred {
    schema: SchemaRef,
    job: Job,
}

fn external(e: InvestigateError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[async_trait]
impl TableProvider for Deferred {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("investigation functions need a SessionState".into()))?;
        let ctx = SessionContext::new_with_state(state.clone());
        let batch = match &self.job {
            Job::Timeline { entity, from, to } => {
                let rows = timeline::query(&ctx, entity, *from, *to, &timeline::Options::default()).await.map_err(external)?;
                timeline::to_batch(&rows)?
            }
            Job::Investigate(target) => {
                let inv = super::investigate(&ctx, target, Window::default()).await.map_err(external)?;
                findings_batch(&inv)?
            }
        };
        MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema.clone(), projection.cloned()).map(|e| e as Arc<dyn ExecutionPlan>)
    }
}
