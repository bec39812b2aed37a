//! Prepared-statement parameters: the types reported to the client and the
//! binding of the values it sends.
//!
//! A parameter's type comes from the plan (`entity = $1` makes it text), else
//! from an explicit cast (`$1::int8`), else from `col = ANY($1)` (an array of
//! `col`'s type); a parameter with none of these is text, as in PostgreSQL
//! where an unknown-typed parameter is read as text. Types the client
//! declares in Parse win over all of these (pgwire reports them in
//! ParameterDescription, and they decide how the values are decoded).
//!
//! DataFusion has no `oid` type: `$1::oid` plans as int4. Its wire type is
//! taken from the SQL instead, so `$1::oid[]` is described as oid[] (1028),
//! as PostgreSQL does; asyncpg relies on that (it has a codec for oid[] but
//! not for int4[], and introspecting int4[] runs its introspection query
//! again, forever). The values are decoded as int4s.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use arrow_pg::datatypes::{into_pg_type, pg_type_for_alias_kind};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::sql::sqlparser::ast::{self, ArrayElemTypeDef, ObjectNamePart, Statement};
use pgwire::api::portal::Portal;
use pgwire::api::stmt::StoredStatement;
use pgwire::api::Type;
use pgwire::error::PgWireResult;

use super::errors;

/// The parameters of one prepared statement, decided at Parse time.
#[derive(Debug, Clone, Default)]
pub struct ParamTypes {
    /// Arrow types in `$1, $2, ...` order (`None`: not known from the plan).
    arrow: Vec<Option<DataType>>,
    /// The PostgreSQL types reported in ParameterDescription.
    wire: Vec<Type>,
}

impl ParamTypes {
    /// Types of `plan`'s parameters; `statement` is the SQL it was planned
    /// from (for the PostgreSQL types DataFusion does not keep, like `oid`).
    pub fn infer(plan: &LogicalPlan, statement: &Statement) -> PgWireResult<Self> {
        let arrow = ordered_types(plan)?;
        let pg_casts = pg_cast_types(statement);
        let wire = arrow
            .iter()
            .enumerate()
            .map(|(i, ty)| match (pg_casts.get(&(i + 1)), ty) {
                (Some(pg), _) => Ok(pg.clone()),
                (None, Some(ty)) => Ok(into_pg_type(ty)?),
                (None, None) => Ok(Type::TEXT),
            })
            .collect::<PgWireResult<Vec<_>>>()?;
        Ok(Self { arrow, wire })
    }

    /// The parameter types reported in ParameterDescription.
    pub fn wire(&self) -> &[Type] {
        &self.wire
    }
}

/// Parameter types in `$1, $2, ...` order.
fn ordered_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let mut types = plan.get_parameter_types().map_err(errors::from_datafusion)?;
    if types.values().any(Option::is_none) {
        for (id, ty) in context_types(plan) {
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

/// Types of placeholders that DataFusion's own inference leaves open:
/// `CAST($n AS type)` / `$n::type`, and `x = ANY($n)` (planned as
/// `array_has($n, x)`), where `$n` is an array of `x`'s type.
fn context_types(plan: &LogicalPlan) -> HashMap<String, DataType> {
    let mut out = HashMap::new();
    let _ = plan.apply_with_subqueries(|node| {
        let inputs = node.inputs();
        // The type of `e` in this node's input(s).
        let type_of = |e: &Expr| {
            inputs.iter().find_map(|input| {
                let schema: &DFSchema = input.schema();
                e.get_type(schema).ok()
            })
        };
        for expr in node.expressions() {
            let _ = expr.apply(|e| {
                match e {
                    Expr::Cast(c) => {
                        if let Expr::Placeholder(p) = c.expr.as_ref() {
                            out.insert(p.id.clone(), c.field.data_type().clone());
                        }
                    }
                    Expr::ScalarFunction(f) if f.name() == "array_has" => {
                        if let [Expr::Placeholder(p), needle] = f.args.as_slice() {
                            if let Some(ty) = type_of(needle).filter(|t| !t.is_null()) {
                                out.insert(p.id.clone(), DataType::List(Arc::new(Field::new_list_field(ty, true))));
                            }
                        }
                    }
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// PostgreSQL types of placeholders cast to an oid type in the SQL
/// (`$1::oid`, `$1::oid[]`, `$1::regtype`, ...), by parameter number.
fn pg_cast_types(statement: &Statement) -> HashMap<usize, Type> {
    let mut out = HashMap::new();
    let _ = ast::visit_expressions(statement, |e| {
        if let ast::Expr::Cast { expr, data_type, .. } = e {
            if let ast::Expr::Value(v) = expr.as_ref() {
                if let ast::Value::Placeholder(id) = &v.value {
                    let n = id.strip_prefix('$').and_then(|n| n.parse::<usize>().ok());
                    if let (Some(n), Some(ty)) = (n, oid_type(data_type)) {
                        out.insert(n, ty);
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// `oid`, `regclass`, ... (optionally `pg_catalog.`-qualified) and their
/// one-dimensional arrays.
fn oid_type(data_type: &ast::DataType) -> Option<Type> {
    match data_type {
        ast::DataType::Regclass => Some(Type::REGCLASS),
        ast::DataType::Custom(name, args) if args.is_empty() => match name.0.last()? {
            ObjectNamePart::Identifier(i) => pg_type_for_alias_kind(&i.value.to_ascii_lowercase()),
            _ => None,
        },
        ast::DataType::Array(ArrayElemTypeDef::SquareBracket(elem, _) | ArrayElemTypeDef::AngleBracket(elem)) => {
            match oid_type(elem)? {
                Type::OID => Some(Type::OID_ARRAY),
                Type::REGCLASS => Some(Type::REGCLASS_ARRAY),
                Type::REGTYPE => Some(Type::REGTYPE_ARRAY),
                Type::REGPROC => Some(Type::REGPROC_ARRAY),
                Type::REGNAMESPACE => Some(Type::REGNAMESPACE_ARRAY),
                Type::REGROLE => Some(Type::REGROLE_ARRAY),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The type a parameter's value is decoded as: `oid` and the `reg*` aliases
/// (4-byte unsigned integers on the wire, int4 in DataFusion) and their
/// arrays (`_oid`, ...) as int4 / int4[]: the binary form is the same 4 bytes
/// per value, and arrow-pg decodes no oid arrays.
fn decode_type(ty: Type) -> Type {
    if pg_type_for_alias_kind(ty.name()).is_some() {
        Type::INT4
    } else if ty.name().strip_prefix('_').is_some_and(|elem| pg_type_for_alias_kind(elem).is_some()) {
        Type::INT4_ARRAY
    } else {
        ty
    }
}

/// The plan with the portal's parameter values substituted.
pub fn bind<S: Clone>(plan: &LogicalPlan, types: &ParamTypes, portal: &Portal<S>) -> PgWireResult<LogicalPlan> {
    if types.arrow.is_empty() && portal.parameter_len() == 0 {
        return Ok(plan.clone());
    }
    if portal.parameter_len() != types.arrow.len() {
        return Err(errors::error(
            errors::sqlstate::PROTOCOL_VIOLATION,
            format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameter_len(),
                types.arrow.len()
            ),
        ));
    }
    // Each value is decoded as the type the client declared in Parse, else
    // as the type described to it; arrow-pg decodes by the declared types,
    // so they are all given to it as declared.
    let declared = &portal.statement.parameter_types;
    let decode: Vec<Option<Type>> = (0..portal.parameter_len())
        .map(|i| declared.get(i).cloned().flatten().or_else(|| types.wire.get(i).cloned()).map(decode_type))
        .collect();
    let mut decoding = Portal::<()>::default();
    decoding.statement = Arc::new(StoredStatement::new(String::new(), (), decode));
    decoding.parameter_format = portal.parameter_format.clone();
    decoding.parameters = portal.parameters.clone();
    let wire_refs: Vec<Option<&Type>> = types.wire.iter().map(Some).collect();
    let type_refs: Vec<Option<&DataType>> = types.arrow.iter().map(Option::as_ref).collect();
    let values = deserialize_parameters_with_server_types(&decoding, &type_refs, &wire_refs)?;
    plan.clone().replace_params_with_values(&values).map_err(errors::from_datafusion)
}

#[cfg(test)]
mod tests {
    use datafusion::execution::session_state::SessionStateBuilder;
    use datafusion_pg_catalog::pg_catalog::oid_type_planner::PgOidTypePlanner;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    async fn types(sql: &str) -> ParamTypes {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0);
        // With the type planner the server has (`oid` plans as int4).
        let state = SessionStateBuilder::new().with_default_features().with_type_planner(Arc::new(PgOidTypePlanner)).build();
        let plan = state.create_logical_plan(sql).await.unwrap();
        ParamTypes::infer(&plan, &statement).unwrap()
    }

    #[tokio::test]
    async fn any_takes_an_array_of_the_column_type() {
        let t = types("SELECT a FROM (VALUES ('x', 1)) AS t(a, b) WHERE a = ANY($1) AND b = ANY($2) AND a = $3").await;
        assert_eq!(t.wire(), &[Type::TEXT_ARRAY, Type::INT8_ARRAY, Type::TEXT]);
    }

    #[tokio::test]
    async fn oid_casts_are_described_as_oid_types() {
        let t = types("SELECT $1::oid[], $2::oid, $3::int4[], $4").await;
        assert_eq!(t.wire(), &[Type::OID_ARRAY, Type::OID, Type::INT4_ARRAY, Type::TEXT]);
        // Decoded as the int4s DataFusion plans them as.
        assert_eq!(decode_type(Type::OID_ARRAY), Type::INT4_ARRAY);
        assert_eq!(decode_type(Type::REGTYPE), Type::INT4);
        assert_eq!(decode_type(Type::TEXT_ARRAY), Type::TEXT_ARRAY);
    }
}
