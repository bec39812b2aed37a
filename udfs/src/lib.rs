//! huntlake's SQL functions, in a crate of their own so that any DataFusion
//! process (the huntlake server, a Ballista executor) links the same code.
//!
//! Depends on DataFusion and Arrow only: no tokio, no pgwire.
//!
//! # Layout
//! One function per file, named by its SQL name, holding the function, its
//! user documentation and its tests, grouped by family:
//! * [`rarity`] — `entity_surprise`, `population_surprise`, `unusualness`,
//!   `first_seen`: window functions over `ORDER BY time` sharing one engine;
//! * [`beacon`] — the `beacon_score` aggregate;
//! * [`ip`] — `is_private_ip`, `cidr_contains`, `ip_to_int`;
//! * [`band_join`] — `BandJoinExec` and the physical optimizer rule that runs
//!   time-window joins as a per-key sorted sweep.
//!
//! [`all_functions`] lists the functions and [`register_all`] installs them;
//! [`docs`] renders their reference (`docs/functions.md`);
//! [`band_join::physical_optimizer_rules`] must be added to the session state too.

pub mod band_join;
pub mod beacon;
pub mod docs;
pub mod ip;
pub mod rarity;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};

/// Every function this crate provides, by kind.
#[derive(Debug, Default, Clone)]
pub struct Functions {
    pub scalar: Vec<Arc<ScalarUDF>>,
    pub aggregate: Vec<Arc<AggregateUDF>>,
    pub window: Vec<Arc<WindowUDF>>,
}

impl Functions {
    /// All SQL names (including aliases), for documentation and checks.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for f in &self.scalar {
            names.push(f.name().to_string());
            names.extend(f.aliases().iter().cloned());
        }
        for f in &self.aggregate {
            names.push(f.name().to_string());
            names.extend(f.aliases().iter().cloned());
        }
        for f in &self.window {
            names.push(f.name().to_string());
            names.extend(f.aliases().iter().cloned());
        }
        names
    }
}

/// Every function of this crate.
pub fn all_functions() -> Functions {
    Functions { scalar: ip::functions(), aggregate: beacon::functions(), window: rarity::functions() }
}

/// Registers every function of this crate in `registry` (a `SessionContext`,
/// `SessionState` or an executor's registry).
pub fn register_all(registry: &mut dyn FunctionRegistry) -> Result<()> {
    let functions = all_functions();
    for f in functions.scalar {
        registry.register_udf(f)?;
    }
    for f in functions.aggregate {
        registry.register_udaf(f)?;
    }
    for f in functions.window {
        registry.register_udwf(f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use datafusion::prelude::SessionContext;

    use super::*;

    #[test]
    fn function_names_are_unique() {
        let names = all_functions().names();
        let mut seen = HashSet::new();
        for name in &names {
            assert!(seen.insert(name.to_lowercase()), "function name {name} is used twice");
        }
    }

    #[test]
    fn registering_does_not_shadow_builtins() {
        let mut ctx = SessionContext::new();
        let builtins: HashSet<String> = ctx.udfs().into_iter().chain(ctx.udafs()).chain(ctx.udwfs()).collect();
        for name in all_functions().names() {
            assert!(!builtins.contains(&name), "{name} would replace a DataFusion built-in");
        }
        register_all(&mut ctx).unwrap();
        for name in all_functions().names() {
            let found = ctx.udf(&name).is_ok() || ctx.udaf(&name).is_ok() || ctx.udwf(&name).is_ok();
            assert!(found, "{name} is not registered");
        }
    }
}
