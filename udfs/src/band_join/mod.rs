//! Time-window (band) joins.
//!
//! DataFusion plans `a.k = b.k AND b.time BETWEEN a.time - X AND a.time + Y`
//! as a hash join on `k` with the range as a filter on every pair of the
//! key: quadratic per key. [`BandJoinRule`] recognises a join whose filter
//! holds a band on one time column pair and replaces it with a
//! [`BandJoinExec`], a sorted sweep per key costing
//! O((n + m) log(n + m) + output), with exactly the nested-loop result.
//!
//! Recognised: inner, left, right and full joins (hash, sort-merge or
//! nested-loop, or a filter over a cross join) whose filter is a conjunction
//! holding a lower (`>=`, `>`) and an upper (`<=`, `<`) bound of one side's
//! time column against the other side's time column plus or minus
//! constants, in any orientation (`BETWEEN`, the constant on either column,
//! either column on the left). Time columns are timestamps of any unit and
//! zone or integers; constants are day/time intervals, durations or
//! integers. Other conjuncts are evaluated on the pairs inside the band.
//! NULL keys and times never match. Anything else keeps DataFusion's plan.
//!
//! # Layout
//! * [`band`] — recognising a band in a join filter and normalising it to
//!   exact integer bounds;
//! * [`rule`] — the physical optimizer rule and where it must run;
//! * [`exec`] — the `BandJoinExec` plan node (requirements, properties, display);
//! * `sweep` — the per-partition two-pointer sweep and its driver.

pub mod band;
pub mod exec;
pub mod rule;
mod sweep;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use datafusion::physical_optimizer::PhysicalOptimizerRule;

pub use band::{recognise_band, Band, BandColumn, BandDomain};
pub use exec::BandJoinExec;
pub use rule::BandJoinRule;

/// Names of the rules [`BandJoinRule`] must precede: they enforce the
/// distribution and ordering it requires (one rule since DataFusion 55, two
/// before).
const ENFORCING_RULES: [&str; 3] = ["EnsureRequirements", "EnforceDistribution", "EnforceSorting"];

/// DataFusion's default physical optimizer rules with the band-join rule
/// inserted where it must run: after `join_selection` (join sides, modes and
/// projections are final) and before the rule enforcing distribution and
/// ordering requirements, so that the repartitions and (spillable) sorts
/// [`BandJoinExec`] requires are inserted for it.
pub fn physical_optimizer_rules(
    mut defaults: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    if defaults.iter().any(|r| r.name() == BandJoinRule::NAME) {
        return defaults;
    }
    let position = defaults
        .iter()
        .position(|r| ENFORCING_RULES.contains(&r.name()))
        .or_else(|| defaults.iter().position(|r| r.name() == "join_selection").map(|i| i + 1))
        .unwrap_or(defaults.len());
    defaults.insert(position, Arc::new(BandJoinRule::new()));
    defaults
}
