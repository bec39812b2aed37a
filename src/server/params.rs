//! Prepared-statement parameters: the types reported to the client and the
//! binding of the values it sends.
//!
//! A parameter's type comes from the plan (`entity = $1` makes it text), else
//! from an explicit cast (`$1::int8`); a parameter with neither is text, as
//! in PostgreSQL where an unknown-typed parameter is read as text.

use std::collections::HashMap;

use arrow::datatypes::DataType;
use arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use arrow_pg::datatypes::into_pg_type;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};
use pgwire::api::portal::Portal;
use pgwire::api::Type;
use pgwire::error::PgWireResult;

use super::errors;
use super::handler::Prepared;

/// Parameter types in `$1, $2, ...` order.
fn ordered_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let mut types = plan.get_parameter_types().map_err(errors::from_datafusion)?;
    if types.values().any(Option::is_none) {
        for (id, ty) in cast_types(plan) {
            if let Some(slot @ None) = types.get_mut(&id) {
                *slot = Some(ty);
            }
        }
    }
    let mut entries: Vec<(u32, Option<DataType>)> = types
        .into_iter()
        .map(|(id, ty)| (id.trim_start_matches('$').parse::<u32>().unwrap_or(u32::MAX), ty))
        .collect();
    entries.sort_by_key(|(n, _)| *n);
    Ok(entries.into_iter().map(|(_, ty)| ty).collect())
}

/// Types of placeholders written as `CAST($n AS type)` / `$n::type`.
fn cast_types(plan: &LogicalPlan) -> HashMap<String, DataType> {
    let mut out = HashMap::new();
    let _ = plan.apply_with_subqueries(|node| {
        for expr in node.expressions() {
            let _ = expr.apply(|e| {
                if let Expr::Cast(c) = e {
                    if let Expr::Placeholder(p) = c.expr.as_ref() {
                        out.insert(p.id.clone(), c.field.data_type().clone());
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// The parameter types reported in ParameterDescription.
pub fn wire_types(plan: &LogicalPlan) -> PgWireResult<Vec<Type>> {
    ordered_types(plan)?
        .into_iter()
        .map(|ty| match ty {
            Some(ty) => Ok(into_pg_type(&ty)?),
            None => Ok(Type::TEXT),
        })
        .collect()
}

/// The plan with the portal's parameter values substituted.
pub fn bind(plan: &LogicalPlan, portal: &Portal<Prepared>) -> PgWireResult<LogicalPlan> {
    let types = ordered_types(plan)?;
    if types.is_empty() && portal.parameter_len() == 0 {
        return Ok(plan.clone());
    }
    if portal.parameter_len() != types.len() {
        return Err(errors::error(
            errors::sqlstate::PROTOCOL_VIOLATION,
            format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameter_len(),
                types.len()
            ),
        ));
    }
    let wire = wire_types(plan)?;
    let wire_refs: Vec<Option<&Type>> = wire.iter().map(Some).collect();
    let type_refs: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
    let values = deserialize_parameters_with_server_types(portal, &type_refs, &wire_refs)?;
    plan.clone().replace_params_with_values(&values).map_err(errors::from_datafusion)
}
