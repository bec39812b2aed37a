//! Rarity family: window functions that score how unusual a row's `value` is
//! for its `entity`, given everything that happened strictly earlier in the
//! same partition. The exact definitions are in `design/functions.md`.
//!
//! Used as `f(entity, value [, param]) OVER ([PARTITION BY scope] ORDER BY time)`:
//! * [`entity_surprise`] — bits of surprise given the entity's own history;
//! * [`population_surprise`] — bits of surprise given the fleet;
//! * [`unusualness`] — a 0-100 score mixing both;
//! * [`first_seen`] — first time this entity shows this value (in a lookback).
//!
//! # Layout
//! Each function's file holds its `WindowUDFImpl`, user doc, formula and unit
//! tests. They share `plan` (argument checks, and the rewrite that appends
//! the `ORDER BY` time to the call, since DataFusion never hands it to the
//! evaluator) and `history` (one pass over the time-sorted partition with
//! hash-map state: O(n) per partition). `tests` checks every function
//! end-to-end through SQL against a brute-force reading of the definitions.
//!
//! # Semantics beyond the contract
//! * A row with a NULL entity or a NULL time returns NULL and is nobody's
//!   history (it counts toward neither `N_e`, `D_v` nor `E`): there is no one
//!   to compare it with, the way `NULL = x` is never TRUE in SQL.
//! * `half_life` and `lookback` are constant INTERVALs without months or
//!   years (their length varies; write `INTERVAL '30 days'`); a day is exactly
//!   24 hours. With an integer `ORDER BY` they are numbers in its units.
//! * The window frame and the ORDER BY direction are ignored: history is
//!   always every strictly earlier time in the partition.

use std::sync::Arc;

use datafusion::logical_expr::WindowUDF;

pub mod entity_surprise;
pub mod first_seen;
mod history;
mod plan;
pub mod population_surprise;
pub mod unusualness;

#[cfg(test)]
mod tests;

/// The rarity window functions, ready to register.
pub fn functions() -> Vec<Arc<WindowUDF>> {
    vec![
        Arc::new(WindowUDF::new_from_impl(entity_surprise::EntitySurprise::new())),
        Arc::new(WindowUDF::new_from_impl(population_surprise::PopulationSurprise::new())),
        Arc::new(WindowUDF::new_from_impl(unusualness::Unusualness::new())),
        Arc::new(WindowUDF::new_from_impl(first_seen::FirstSeen::new())),
    ]
}
