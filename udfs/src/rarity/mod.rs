//! Rarity family (placeholder until implemented).
use std::sync::Arc;
use datafusion::logical_expr::WindowUDF;
pub fn functions() -> Vec<Arc<WindowUDF>> { vec![] }
