//! beacon_score (placeholder until implemented).
use std::sync::Arc;
use datafusion::logical_expr::AggregateUDF;
pub fn functions() -> Vec<Arc<AggregateUDF>> { vec![] }
