//! Band join (placeholder until implemented).
use std::sync::Arc;
use datafusion::physical_optimizer::PhysicalOptimizerRule;

/// DataFusion's default physical optimizer rules with the band-join rule
/// inserted where it must run.
pub fn physical_optimizer_rules(
    defaults: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    defaults
}
