//! IP helpers (placeholder until implemented).
use std::sync::Arc;
use datafusion::logical_expr::ScalarUDF;
pub fn functions() -> Vec<Arc<ScalarUDF>> { vec![] }
