//! What a client statement asks for, decided on the SQL syntax tree before
//! anything is planned.
//!
//! Session chatter (`SET`, `SHOW`, `RESET`, `DISCARD`, transactions) is
//! answered here the way PostgreSQL answers it; statements that would modify
//! lake data are refused; everything else is planned by DataFusion. Only
//! catalog introspection goes through datafusion-pg-catalog's rewriter: its
//! rewrites exist for catalog queries and would change the meaning of
//! ordinary analytics SQL.

use datafusion::sql::sqlparser::ast::{
    Expr, ObjectType, Reset, ResetStatement, Set, Statement, Value,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// What to do for one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Plan and run with DataFusion (queries, EXPLAIN, views, DataFusion `SET`).
    Plan(Box<Statement>),
    /// `SET name = value` of a PostgreSQL setting.
    Set { name: String, value: String },
    /// `RESET name`, or `RESET ALL` when `None`.
    Reset(Option<String>),
    /// `SHOW name` (`all` for `SHOW ALL`).
    Show(String),
    Begin,
    Commit,
    Rollback,
    /// Accepted and ignored, answered with this command tag.
    NoOp(&'static str),
    /// Would modify lake data: refused with this command name.
    ReadOnly(String),
}

/// Parses a (possibly multi-statement) SQL string.
pub fn parse(sql: &str, compat: &PostgresCompatibilityParser) -> Result<Vec<Action>, ParserError> {
    let statements = if is_catalog_query(sql) {
        let mut statements = compat.parse(sql)?;
        for statement in &mut statements {
            rewrite_catalog_query(statement);
        }
        statements
    } else {
        Parser::parse_sql(&PostgreSqlDialect {}, sql)?
    };
    Ok(statements.into_iter().map(classify).collect())
}

/// True for statements that read `pg_catalog` / `information_schema` or use
/// PostgreSQL catalog syntax (`::regclass`, `OPERATOR(pg_catalog.~)`).
fn is_catalog_query(sql: &str) -> bool {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        // Let the parser report the error.
        return false;
    };
    tokens.iter().any(|t| match t {
        Token::Word(w) => {
            let v = w.value.to_ascii_lowercase();
            v.starts_with("pg_")
                || v == "information_schema"
                || v == "operator"
                || matches!(
                    v.as_str(),
                    "regclass" | "regtype" | "regproc" | "regprocedure" | "regnamespace" | "regrole" | "regoper"
                )
        }
        _ => false,
    })
}

fn classify(statement: Statement) -> Action {
    match statement {
        Statement::Set(set) => classify_set(set),
        Statement::Reset(ResetStatement { reset }) => match reset {
            Reset::ALL => Action::Reset(None),
            Reset::ConfigurationParameter(name) => Action::Reset(Some(name.to_string())),
        },
        Statement::ShowVariable { variable } => {
            let name = variable.iter().map(|i| i.value.as_str()).collect::<Vec<_>>().join(" ");
            if name.to_ascii_lowercase().starts_with("datafusion.") {
                Action::Plan(Box::new(Statement::ShowVariable { variable }))
            } else {
                Action::Show(name.to_ascii_lowercase())
            }
        }
        Statement::StartTransaction { .. } => Action::Begin,
        Statement::Commit { .. } => Action::Commit,
        Statement::Rollback { .. } => Action::Rollback,
        Statement::Savepoint { .. } => Action::NoOp("SAVEPOINT"),
        Statement::ReleaseSavepoint { .. } => Action::NoOp("RELEASE"),
        Statement::Discard { .. } => Action::NoOp("DISCARD ALL"),
        Statement::Deallocate { .. } => Action::NoOp("DEALLOCATE"),
        // No cursors or notification channels exist (connection-reset chatter).
        Statement::Close { .. } => Action::NoOp("CLOSE CURSOR"),
        Statement::UNLISTEN { .. } => Action::NoOp("UNLISTEN"),
        Statement::Insert(_) => Action::ReadOnly("INSERT".into()),
        Statement::Update { .. } => Action::ReadOnly("UPDATE".into()),
        Statement::Delete(_) => Action::ReadOnly("DELETE".into()),
        Statement::Merge { .. } => Action::ReadOnly("MERGE".into()),
        Statement::Truncate { .. } => Action::ReadOnly("TRUNCATE".into()),
        Statement::CreateTable(_) => Action::ReadOnly("CREATE TABLE".into()),
        Statement::AlterTable { .. } => Action::ReadOnly("ALTER TABLE".into()),
        Statement::CreateIndex(_) => Action::ReadOnly("CREATE INDEX".into()),
        Statement::Copy { .. } => Action::ReadOnly("COPY".into()),
        Statement::Drop { object_type, .. } if object_type != ObjectType::View => {
            Action::ReadOnly(format!("DROP {object_type}"))
        }
        other => Action::Plan(Box::new(other)),
    }
}

fn classify_set(set: Set) -> Action {
    match set {
        Set::SingleAssignment { variable, values, .. } => {
            let name = variable.to_string();
            if name.to_ascii_lowercase().starts_with("datafusion.") {
                return Action::Plan(Box::new(Statement::Set(Set::SingleAssignment {
                    scope: None,
                    hivevar: false,
                    variable,
                    values,
                })));
            }
            let value = values.iter().map(expr_text).collect::<Vec<_>>().join(", ");
            if value.eq_ignore_ascii_case("default") {
                Action::Reset(Some(name))
            } else {
                Action::Set { name, value }
            }
        }
        Set::SetTimeZone { value, .. } => {
            let value = expr_text(&value);
            if value.eq_ignore_ascii_case("local") || value.eq_ignore_ascii_case("default") {
                Action::Reset(Some("timezone".into()))
            } else {
                Action::Set { name: "timezone".into(), value }
            }
        }
        Set::SetNames { charset_name, .. } => Action::Set { name: "client_encoding".into(), value: charset_name.value },
        Set::SetNamesDefault {} => Action::Reset(Some("client_encoding".into())),
        // Transactions are no-ops over a read-only lake; roles and session
        // authorization are fixed at login.
        Set::SetTransaction { .. } => Action::NoOp("SET"),
        Set::SetRole { .. } | Set::SetSessionAuthorization(_) => Action::NoOp("SET"),
        other => Action::Plan(Box::new(Statement::Set(other))),
    }
}

/// The text a SET value stands for: `'ISO, MDY'` -> `ISO, MDY`, `on` -> `on`.
fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) | Value::EscapedStringLiteral(s) => s.clone(),
            Value::Number(n, _) => n.to_string(),
            Value::Boolean(b) => if *b { "on".into() } else { "off".into() },
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        Expr::UnaryOp { op, expr } => format!("{op}{}", expr_text(expr)),
        other => other.to_string(),
    }
}

/// `set_config(name, value, is_local)` calls with literal arguments in a
/// statement, as `(name, value, is_local)`. The function itself only returns
/// `value`; the server applies these to the session (a session-level change
/// when `is_local` is false; a transaction-local one is dropped, since
/// huntlake's transactions end with the statement).
pub fn set_config_calls(statement: &Statement) -> Vec<(String, String, bool)> {
    use datafusion::sql::sqlparser::ast::{visit_expressions, FunctionArg, FunctionArgExpr, FunctionArguments};
    let mut calls = Vec::new();
    let _ = visit_expressions(statement, |e| {
        if let Expr::Function(f) = e {
            let name = f.name.0.last().map(|p| p.to_string().to_ascii_lowercase()).unwrap_or_default();
            if name == "set_config" {
                if let FunctionArguments::List(list) = &f.args {
                    let args: Vec<Option<&Value>> = list
                        .args
                        .iter()
                        .map(|a| match a {
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) => Some(&v.value),
                            _ => None,
                        })
                        .collect();
                    if let [Some(n), Some(v), Some(local)] = args.as_slice() {
                        let text = |v: &Value| match v {
                            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s.clone()),
                            Value::Number(n, _) => Some(n.to_string()),
                            _ => None,
                        };
                        let local = matches!(local, Value::Boolean(true));
                        if let (Some(n), Some(v)) = (text(n), text(v)) {
                            calls.push((n, v, local));
                        }
                    }
                }
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    calls
}

/// Rewrites of catalog queries for shapes datafusion-pg-catalog does not
/// cover, each giving PostgreSQL's answer for a database of lake tables:
///
/// - `LIKE p ESCAPE 'c'` with another escape than `\`: the (literal) pattern
///   is rewritten to use `\`, which is all DataFusion supports.
/// - `pg_class.reloptions`: NULL (no relation has storage options).
/// - `information_schema.columns` gains `udt_name` and PostgreSQL
///   `data_type` names, taken from `pg_catalog.pg_attribute` / `pg_type`.
/// - `information_schema.views` lists views only.
/// - `LIKE $1 ESCAPE 'c'` (a pattern known only when bound) converts the
///   pattern at run time with `_huntlake_like_escape`.
pub fn rewrite_catalog_query(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::VisitMut;
    let _ = statement.visit(&mut CatalogRewrite);
}

struct CatalogRewrite;

/// Columns of `information_schema.columns` with PostgreSQL's `data_type` and
/// `udt_name`; other columns are DataFusion's.
const PG_COLUMNS: &str = "SELECT c.table_catalog, c.table_schema, c.table_name, c.column_name, \
     c.ordinal_position, c.column_default, c.is_nullable, \
     CASE WHEN t.oid IS NULL THEN c.data_type WHEN t.typcategory = 'A' THEN 'ARRAY' \
          ELSE format_type(a.atttypid, NULL) END AS data_type, \
     c.character_maximum_length, c.character_octet_length, c.numeric_precision, \
     c.numeric_precision_radix, c.numeric_scale, c.datetime_precision, c.interval_type, \
     c.table_catalog AS udt_catalog, CASE WHEN t.oid IS NULL THEN NULL ELSE 'pg_catalog' END AS udt_schema, \
     t.typname AS udt_name \
     FROM information_schema.columns c \
     LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = c.table_schema \
     LEFT JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = c.table_name \
     LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attname = c.column_name \
     LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid";

fn is_reloptions(e: &Expr) -> bool {
    match e {
        Expr::Identifier(i) => i.value.eq_ignore_ascii_case("reloptions"),
        Expr::CompoundIdentifier(parts) => parts.last().is_some_and(|i| i.value.eq_ignore_ascii_case("reloptions")),
        _ => false,
    }
}

/// `information_schema.views` lists views only (DataFusion's lists every
/// table, with a NULL definition for base tables).
const PG_VIEWS: &str = "SELECT * FROM information_schema.views WHERE definition IS NOT NULL";

fn pg_columns_factor(alias: Option<datafusion::sql::sqlparser::ast::TableAlias>) -> Option<datafusion::sql::sqlparser::ast::TableFactor> {
    derived_factor(PG_COLUMNS, "columns", alias)
}

/// `(query) AS name` as a table factor, keeping the original alias if any.
fn derived_factor(
    query: &str,
    name: &str,
    alias: Option<datafusion::sql::sqlparser::ast::TableAlias>,
) -> Option<datafusion::sql::sqlparser::ast::TableFactor> {
    use datafusion::sql::sqlparser::ast::{SetExpr, TableFactor};
    let sql = format!("SELECT * FROM ({query}) AS {name}");
    let Ok(mut parsed) = Parser::parse_sql(&PostgreSqlDialect {}, &sql) else { return None };
    let Statement::Query(q) = parsed.remove(0) else { return None };
    let SetExpr::Select(select) = *q.body else { return None };
    let mut factor = select.from.into_iter().next()?.relation;
    if let (TableFactor::Derived { alias: a, .. }, Some(alias)) = (&mut factor, alias) {
        *a = Some(alias);
    }
    Some(factor)
}

/// `pattern ESCAPE 'c'` as a `\`-escaped literal pattern, when the pattern is
/// made of string literals (joined with `||`).
fn backslash_pattern(pattern: &Expr, escape: char) -> Option<String> {
    fn literal(e: &Expr) -> Option<String> {
        use datafusion::sql::sqlparser::ast::BinaryOperator;
        match e {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s.clone()),
                _ => None,
            },
            Expr::Nested(e) => literal(e),
            Expr::BinaryOp { left, op: BinaryOperator::StringConcat, right } => Some(literal(left)? + &literal(right)?),
            _ => None,
        }
    }
    crate::engine::pg_functions::backslash_like_pattern(&literal(pattern)?, escape)
}

/// `int2vector` / `int2[]` columns that datafusion-pg-catalog stores as
/// text, and whether their subscripts start at 0 (`int2vector`) or 1.
fn int_vector_column(e: &Expr) -> Option<bool> {
    let name = match e {
        Expr::Identifier(i) => &i.value,
        Expr::CompoundIdentifier(parts) => &parts.last()?.value,
        _ => return None,
    };
    match name.to_ascii_lowercase().as_str() {
        // `i_indoption`: JDBC getIndexInfo's alias of `indoption`, subscripted outside its subquery.
        "indkey" | "indoption" | "indclass" | "indcollation" | "i_indoption" => Some(true),
        "conkey" | "confkey" => Some(false),
        _ => None,
    }
}

fn parse_expr(sql: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {}).try_with_sql(sql).ok()?.parse_expr().ok()
}

/// `X` as an array expression: int-vector text columns are converted.
fn as_array(e: &Expr) -> Expr {
    if int_vector_column(e).is_some() {
        parse_expr(&format!("_huntlake_int2vector({e})")).unwrap_or_else(|| e.clone())
    } else {
        e.clone()
    }
}

fn function_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Function(f) => f.name.0.last().map(|p| p.to_string().to_ascii_lowercase()),
        _ => None,
    }
}

fn function_args(e: &Expr) -> Vec<Expr> {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    match e {
        Expr::Function(f) => match &f.args {
            FunctionArguments::List(list) => list
                .args
                .iter()
                .filter_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                    _ => None,
                })
                .collect(),
            _ => vec![],
        },
        _ => vec![],
    }
}

/// `generate_subscripts(X, 1)` / the `n` of `_pg_expandarray(X)`: 1..=len.
fn subscripts_expr(array: &Expr) -> Option<Expr> {
    parse_expr(&format!("unnest(range(1, CAST(coalesce(array_length({array}), 0) AS BIGINT) + 1))"))
}

fn unwrap_nested(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => unwrap_nested(inner),
        other => other,
    }
}

/// Array-valued uses of int-vector columns (`unnest(indkey)`,
/// `conkey[i]`), `generate_subscripts` and JDBC's
/// `information_schema._pg_expandarray(X)` (a set-returning function of
/// `(x, n)` records) in terms of DataFusion's `unnest`.
fn rewrite_array_use(expr: &mut Expr) -> bool {
    use datafusion::sql::sqlparser::ast::{AccessExpr, Subscript};
    let name = function_name(expr);
    match name.as_deref() {
        Some("unnest" | "array_length" | "array_upper" | "array_lower" | "cardinality" | "array_to_string") => {
            let args = function_args(expr);
            if args.first().and_then(int_vector_column).is_some() {
                if let Expr::Function(f) = expr {
                    if let datafusion::sql::sqlparser::ast::FunctionArguments::List(list) = &mut f.args {
                        if let Some(datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                            datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(first),
                        )) = list.args.first_mut()
                        {
                            *first = as_array(first);
                            return true;
                        }
                    }
                }
            }
            false
        }
        Some("generate_subscripts") => {
            let args = function_args(expr);
            // The dimension may be a bound parameter (SQLAlchemy): keep it, so
            // the statement keeps its parameters; one-dimensional arrays only
            // have subscripts in dimension 1.
            let rewritten = match (args.first().map(as_array), args.get(1)) {
                (Some(array), Some(dim)) => parse_expr(&format!(
                    "unnest(range(1, CASE WHEN ({dim}) = 1 THEN CAST(coalesce(array_length({array}), 0) AS BIGINT) + 1 ELSE 1 END))"
                )),
                (Some(array), None) => subscripts_expr(&array),
                _ => None,
            };
            match rewritten {
                Some(new) => {
                    *expr = new;
                    true
                }
                None => false,
            }
        }
        Some("_pg_expandarray") => {
            let args = function_args(expr);
            match args.first().map(as_array).and_then(|a| parse_expr(&format!("unnest(_huntlake_expandarray({a}))"))) {
                Some(new) => {
                    *expr = new;
                    true
                }
                None => false,
            }
        }
        _ => {
            let Expr::CompoundFieldAccess { root, access_chain } = expr else { return false };
            // (_pg_expandarray(X)).n / .x
            if function_name(unwrap_nested(root)).as_deref() == Some("_pg_expandarray") && access_chain.len() == 1 {
                let field = match &access_chain[0] {
                    AccessExpr::Dot(Expr::Identifier(i)) => i.value.to_ascii_lowercase(),
                    _ => return false,
                };
                let Some(array) = function_args(unwrap_nested(root)).first().map(as_array) else { return false };
                let new = match field.as_str() {
                    "n" => subscripts_expr(&array),
                    "x" => parse_expr(&format!("unnest({array})")),
                    _ => None,
                };
                if let Some(new) = new {
                    *expr = new;
                    return true;
                }
                return false;
            }
            // (record).field -> get_field(record, 'field')
            if let (Expr::Nested(inner), [AccessExpr::Dot(Expr::Identifier(field))]) = (&**root, access_chain.as_slice()) {
                if let Some(new) = parse_expr(&format!("get_field({inner}, '{}')", field.value.replace('\'', "''"))) {
                    *expr = new;
                    return true;
                }
            }
            // `t.conkey[i]` parses as root `t` with accesses `.conkey`, `[i]`:
            // fold leading `.name` accesses into the root identifier.
            if let Expr::Identifier(first) = &**root {
                let dots = access_chain
                    .iter()
                    .take_while(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
                    .count();
                if dots > 0 && dots < access_chain.len() {
                    let mut parts = vec![first.clone()];
                    for a in access_chain.drain(..dots) {
                        if let AccessExpr::Dot(Expr::Identifier(i)) = a {
                            parts.push(i);
                        }
                    }
                    **root = Expr::CompoundIdentifier(parts);
                }
            }
            // int2vector[i] (0-based) / int2[][i] (1-based)
            let Some(zero_based) = int_vector_column(root) else { return false };
            if let Some(AccessExpr::Subscript(Subscript::Index { index })) = access_chain.first_mut() {
                if zero_based {
                    if let Some(shifted) = parse_expr(&format!("({index}) + 1")) {
                        *index = shifted;
                    }
                }
                **root = as_array(root);
                return true;
            }
            false
        }
    }
}

const AGGREGATES: &[&str] = &[
    "count", "min", "max", "sum", "avg", "array_agg", "string_agg", "bool_and", "bool_or", "every",
    "first_value", "last_value", "json_agg", "jsonb_agg", "json_object_agg",
];

/// Whether an expression contains an aggregate call (not looking into subqueries).
fn has_aggregate(e: &Expr) -> bool {
    use datafusion::sql::sqlparser::ast::visit_expressions;
    let found = visit_expressions(e, |e| match function_name(e) {
        Some(n) if AGGREGATES.contains(&n.as_str()) => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    });
    found.is_break()
}

/// A scalar subquery `(SELECT e FROM ... WHERE ...)` with no aggregate:
/// PostgreSQL returns its single row's value (NULL for none), DataFusion
/// only decorrelates aggregated subqueries. `first_value(e)` gives the same
/// answer for zero or one row (catalog lookups by key, as SQLAlchemy's
/// column defaults and identity options).
fn aggregate_scalar_subquery(query: &mut datafusion::sql::sqlparser::ast::Query) {
    use datafusion::sql::sqlparser::ast::{GroupByExpr, SelectItem, SetExpr};
    if query.limit_clause.is_some() || query.with.is_some() {
        return;
    }
    let SetExpr::Select(select) = &mut *query.body else { return };
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    if grouped || select.having.is_some() || select.distinct.is_some() || select.projection.len() != 1 {
        return;
    }
    let (expr, alias) = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) => (e.clone(), None),
        SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), Some(alias.clone())),
        _ => return,
    };
    if has_aggregate(&expr) {
        return;
    }
    let Some(wrapped) = parse_expr("first_value(NULL)") else { return };
    let Expr::Function(mut f) = wrapped else { return };
    if let datafusion::sql::sqlparser::ast::FunctionArguments::List(list) = &mut f.args {
        list.args = vec![datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
            datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(expr),
        )];
    }
    select.projection[0] = match alias {
        Some(alias) => SelectItem::ExprWithAlias { expr: Expr::Function(f), alias },
        None => SelectItem::UnnamedExpr(Expr::Function(f)),
    };
}

/// Catalogs that are empty for every huntlake database: lake tables have
/// no sequences, identity or serial columns.
const EMPTY_CATALOGS: &[&str] = &["pg_sequence"];

/// A scalar subquery `(SELECT e FROM <empty catalog> WHERE ...)` without
/// aggregates: NULL in PostgreSQL for a catalog with no rows. SQLAlchemy's
/// `get_columns` asks `pg_sequence` for identity options this way, with
/// outer columns in the select list, which DataFusion cannot decorrelate.
fn selects_row_of_empty_catalog(query: &datafusion::sql::sqlparser::ast::Query) -> bool {
    use datafusion::sql::sqlparser::ast::{SetExpr, TableFactor};
    let SetExpr::Select(select) = &*query.body else { return false };
    let [from] = select.from.as_slice() else { return false };
    if !from.joins.is_empty() || select.projection.len() != 1 {
        return false;
    }
    let TableFactor::Table { name, .. } = &from.relation else { return false };
    let Some(table) = name.0.last().map(|p| p.to_string().to_ascii_lowercase()) else { return false };
    let aggregated = match &select.projection[0] {
        datafusion::sql::sqlparser::ast::SelectItem::UnnamedExpr(e)
        | datafusion::sql::sqlparser::ast::SelectItem::ExprWithAlias { expr: e, .. } => has_aggregate(e),
        _ => true,
    };
    EMPTY_CATALOGS.contains(&table.as_str()) && !aggregated && select.having.is_none()
}

/// NULL, as `_huntlake_null(<the query's placeholders>)` when the query has
/// `$n` placeholders: the client binds values for all of them, so the
/// statement must keep them.
fn null_keeping_placeholders(query: &datafusion::sql::sqlparser::ast::Query) -> Expr {
    use datafusion::sql::sqlparser::ast::visit_expressions;
    fn placeholder(e: &Expr) -> Option<&str> {
        match e {
            Expr::Value(v) => match &v.value {
                Value::Placeholder(p) => Some(p),
                _ => None,
            },
            _ => None,
        }
    }
    let mut args: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let _ = visit_expressions(query, |e| {
        match e {
            // `$n::type` keeps its cast: it gives the parameter its type.
            Expr::Cast { expr: inner, .. } if placeholder(inner).is_some() => {
                seen.push(placeholder(inner).unwrap_or_default().to_string());
                args.push(e.to_string());
            }
            other => {
                if let Some(p) = placeholder(other) {
                    if !seen.iter().any(|s| s == p) {
                        seen.push(p.to_string());
                        args.push(p.to_string());
                    }
                }
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    let null = Expr::Value(datafusion::sql::sqlparser::ast::ValueWithSpan::from(Value::Null));
    if args.is_empty() {
        return null;
    }
    parse_expr(&format!("_huntlake_null({})", args.join(", "))).unwrap_or(null)
}

/// asyncpg's base type of a domain: a correlated recursive CTE walking
/// `pg_type.typbasetype` from the outer type `t`,
/// `(WITH RECURSIVE typebases(oid, depth) AS (SELECT t2.typbasetype, 0 FROM
/// pg_type t2 WHERE t2.oid = t.oid UNION ALL ...) SELECT oid FROM typebases
/// ORDER BY depth DESC LIMIT 1)`, which DataFusion cannot decorrelate.
/// huntlake's catalog is fixed (no `CREATE DOMAIN`) and its domains (the
/// information_schema ones) are over base types, so the walk stops after
/// one step: the answer is `t.typbasetype`.
fn domain_base_type(query: &datafusion::sql::sqlparser::ast::Query) -> Option<Expr> {
    use datafusion::sql::sqlparser::ast::{BinaryOperator, SetExpr, TableFactor};
    let with = query.with.as_ref().filter(|w| w.recursive)?;
    let [cte] = with.cte_tables.as_slice() else { return None };
    let SetExpr::SetOperation { left, .. } = &*cte.query.body else { return None };
    let SetExpr::Select(anchor) = &**left else { return None };
    let [from] = anchor.from.as_slice() else { return None };
    let TableFactor::Table { name, alias, .. } = &from.relation else { return None };
    if !name.0.last().is_some_and(|p| p.to_string().eq_ignore_ascii_case("pg_type")) {
        return None;
    }
    let projects_typbasetype = anchor.projection.iter().any(|item| item.to_string().to_ascii_lowercase().contains("typbasetype"));
    if !projects_typbasetype {
        return None;
    }
    let inner = alias.as_ref().map(|a| a.name.value.clone()).unwrap_or_else(|| "pg_type".into());
    // `t2.oid = t.oid`: the side not qualified by the anchor's table is the outer type.
    let Some(Expr::BinaryOp { left, op: BinaryOperator::Eq, right }) = anchor.selection.as_ref().map(unwrap_nested) else {
        return None;
    };
    let qualifier = |e: &Expr| match e {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 && parts[1].value.eq_ignore_ascii_case("oid") => {
            Some(parts[0].clone())
        }
        _ => None,
    };
    let (l, r) = (qualifier(left)?, qualifier(right)?);
    let outer = if l.value.eq_ignore_ascii_case(&inner) { r } else if r.value.eq_ignore_ascii_case(&inner) { l } else { return None };
    parse_expr(&format!("{outer}.typbasetype"))
}

/// `w` without its top-level `AND` conjuncts equal to `c`.
fn without_conjunct(w: Expr, c: &Expr) -> Option<Expr> {
    use datafusion::sql::sqlparser::ast::BinaryOperator;
    match w {
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            match (without_conjunct(*left, c), without_conjunct(*right, c)) {
                (Some(l), Some(r)) => Some(Expr::BinaryOp { left: Box::new(l), op: BinaryOperator::And, right: Box::new(r) }),
                (l, r) => l.or(r),
            }
        }
        other if unwrap_nested(&other) == c => None,
        other => Some(other),
    }
}

/// `CASE WHEN c THEN (subquery) [ELSE NULL] END` -> `_huntlake_if(c, (subquery))`:
/// the same value, in a form DataFusion can decorrelate (it does not plan
/// subqueries inside CASE).
fn fold_case_subquery(expr: &mut Expr) {
    let Expr::Case { operand: None, conditions, else_result, .. } = expr else { return };
    let else_null = match else_result.as_deref() {
        None => true,
        Some(Expr::Value(v)) => v.value == Value::Null,
        _ => false,
    };
    if !else_null || conditions.len() != 1 || !matches!(conditions[0].result, Expr::Subquery(_)) {
        return;
    }
    // SQLAlchemy repeats the condition inside the subquery (`WHERE
    // attribute.atthasdef AND ...`); a predicate on outer columns only
    // cannot be decorrelated, and it is true wherever the subquery is used.
    let condition = unwrap_nested(&conditions[0].condition).clone();
    if let Expr::Subquery(query) = &mut conditions[0].result {
        if let datafusion::sql::sqlparser::ast::SetExpr::Select(select) = &mut *query.body {
            if let Some(w) = select.selection.take() {
                select.selection = without_conjunct(w, &condition);
            }
        }
    }
    let Some(Expr::Function(mut f)) = parse_expr("_huntlake_if(NULL, NULL)") else { return };
    if let datafusion::sql::sqlparser::ast::FunctionArguments::List(list) = &mut f.args {
        list.args = vec![
            datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(conditions[0].condition.clone()),
            ),
            datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(conditions[0].result.clone()),
            ),
        ];
    }
    *expr = Expr::Function(f);
}

impl datafusion::sql::sqlparser::ast::VisitorMut for CatalogRewrite {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut datafusion::sql::sqlparser::ast::Select) -> std::ops::ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::{Ident, SelectItem};
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(e) = item {
                if is_reloptions(e) {
                    *item = SelectItem::ExprWithAlias { expr: e.clone(), alias: Ident::new("reloptions") };
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_table_factor(
        &mut self,
        factor: &mut datafusion::sql::sqlparser::ast::TableFactor,
    ) -> std::ops::ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::TableFactor;
        if let TableFactor::Table { name, alias, args: None, .. } = factor {
            let parts: Vec<String> = name.0.iter().map(|p| p.to_string().to_ascii_lowercase()).collect();
            let n = parts.len();
            if n >= 2 && parts[n - 2] == "information_schema" && parts[n - 1] == "columns" {
                if let Some(new) = pg_columns_factor(alias.clone()) {
                    *factor = new;
                }
            } else if n >= 2 && parts[n - 2] == "information_schema" && parts[n - 1] == "views" {
                if let Some(new) = derived_factor(PG_VIEWS, "views", alias.clone()) {
                    *factor = new;
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
        // Before children: `(_pg_expandarray(X)).n` must be seen whole.
        rewrite_array_use(expr);
        if let Expr::Subquery(query) = expr {
            if selects_row_of_empty_catalog(query) {
                *expr = null_keeping_placeholders(query);
                return std::ops::ControlFlow::Continue(());
            }
            if let Some(base) = domain_base_type(query) {
                *expr = base;
                return std::ops::ControlFlow::Continue(());
            }
            aggregate_scalar_subquery(query);
        }
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::{DataType, ValueWithSpan};
        fold_case_subquery(expr);
        match expr {
            Expr::Like { pattern, escape_char: escape @ Some(_), .. }
            | Expr::ILike { pattern, escape_char: escape @ Some(_), .. } => {
                let esc = match escape.as_ref().map(|v| &v.value) {
                    Some(Value::SingleQuotedString(s)) if s.chars().count() == 1 => s.chars().next(),
                    _ => None,
                };
                if let Some(esc) = esc.filter(|c| *c != '\\') {
                    if let Some(p) = backslash_pattern(pattern, esc) {
                        **pattern = Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(p)));
                        *escape = None;
                    } else if let Some(p) = parse_expr(&format!(
                        "_huntlake_like_escape({pattern}, '{}')",
                        esc.to_string().replace('\'', "''")
                    )) {
                        // A bound or computed pattern: converted when it is known.
                        **pattern = p;
                        *escape = None;
                    }
                } else if esc == Some('\\') {
                    *escape = None;
                }
            }
            e if is_reloptions(e) => {
                *e = Expr::Cast {
                    kind: datafusion::sql::sqlparser::ast::CastKind::Cast,
                    expr: Box::new(Expr::Value(ValueWithSpan::from(Value::Null))),
                    data_type: DataType::Array(datafusion::sql::sqlparser::ast::ArrayElemTypeDef::SquareBracket(
                        Box::new(DataType::Text),
                        None,
                    )),
                    array: false,
                    format: None,
                };
            }
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Action {
        let compat = PostgresCompatibilityParser::new();
        let mut v = parse(sql, &compat).unwrap();
        assert_eq!(v.len(), 1, "{sql}");
        v.remove(0)
    }

    #[test]
    fn session_statements() {
        assert_eq!(one("SET application_name = 'psql'"), Action::Set { name: "application_name".into(), value: "psql".into() });
        assert_eq!(one("SET extra_float_digits TO 3"), Action::Set { name: "extra_float_digits".into(), value: "3".into() });
        assert_eq!(one("SET TIME ZONE 'UTC'"), Action::Set { name: "timezone".into(), value: "UTC".into() });
        assert_eq!(one("SET statement_timeout TO DEFAULT"), Action::Reset(Some("statement_timeout".into())));
        assert_eq!(one("RESET ALL"), Action::Reset(None));
        assert_eq!(one("SHOW server_version"), Action::Show("server_version".into()));
        assert_eq!(one("SHOW TRANSACTION ISOLATION LEVEL"), Action::Show("transaction isolation level".into()));
        assert_eq!(one("BEGIN"), Action::Begin);
        assert_eq!(one("COMMIT"), Action::Commit);
        assert_eq!(one("DISCARD ALL"), Action::NoOp("DISCARD ALL"));
        assert!(matches!(one("SET datafusion.execution.batch_size = 100"), Action::Plan(_)));
    }

    #[test]
    fn writes_are_refused_views_are_not() {
        assert_eq!(one("INSERT INTO edr_alerts (vendor) VALUES ('x')"), Action::ReadOnly("INSERT".into()));
        assert_eq!(one("DELETE FROM network_flows"), Action::ReadOnly("DELETE".into()));
        assert_eq!(one("DROP TABLE edr_alerts"), Action::ReadOnly("DROP TABLE".into()));
        assert_eq!(one("TRUNCATE edr_alerts"), Action::ReadOnly("TRUNCATE".into()));
        assert!(matches!(one("CREATE VIEW v AS SELECT 1"), Action::Plan(_)));
        assert!(matches!(one("DROP VIEW v"), Action::Plan(_)));
    }

    #[test]
    fn only_catalog_queries_are_rewritten() {
        assert!(is_catalog_query("SELECT * FROM pg_catalog.pg_class"));
        assert!(is_catalog_query("select 'edr_alerts'::regclass"));
        assert!(!is_catalog_query("SELECT entity, (SELECT max(time) FROM edr_alerts) FROM network_flows"));
    }

    fn rewritten(sql: &str) -> String {
        match one(sql) {
            Action::Plan(s) => s.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn like_escape_is_rewritten_to_backslash() {
        let sql = rewritten("SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg/_' || '%' ESCAPE '/'");
        assert!(sql.contains(r"NOT LIKE 'pg\_%'"), "{sql}");
        assert!(!sql.contains("ESCAPE"), "{sql}");
        assert_eq!(backslash_pattern(&Expr::value(Value::SingleQuotedString("a!%b\\c".into())), '!').as_deref(), Some(r"a\%b\\c"));
    }

    #[test]
    fn reloptions_and_udt_name() {
        let sql = rewritten("SELECT pg_catalog.pg_class.relname, pg_catalog.pg_class.reloptions FROM pg_catalog.pg_class");
        assert!(sql.contains("CAST(NULL AS TEXT[]) AS reloptions"), "{sql}");
        let sql = rewritten("SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = 'x'");
        assert!(sql.contains("t.typname AS udt_name"), "{sql}");
        assert!(sql.contains(") AS columns WHERE"), "{sql}");
    }

    #[test]
    fn array_and_subquery_rewrites() {
        let sql = rewritten("SELECT unnest(i.indkey), generate_subscripts(i.indkey, 1), i.indoption[0], c.conkey[1] FROM pg_catalog.pg_index i, pg_catalog.pg_constraint c");
        assert!(sql.contains("unnest(_huntlake_int2vector(i.indkey))"), "{sql}");
        assert!(sql.contains("unnest(range(1, CASE WHEN (1) = 1 THEN CAST(coalesce(array_length(_huntlake_int2vector(i.indkey)), 0) AS BIGINT) + 1 ELSE 1 END))"), "{sql}");
        assert!(sql.contains("_huntlake_int2vector(i.indoption)[(0) + 1]"), "{sql}");
        assert!(sql.contains("_huntlake_int2vector(c.conkey)[1]"), "{sql}");
        let sql = rewritten("SELECT (information_schema._pg_expandarray(i.indkey)).n, information_schema._pg_expandarray(i.indkey) AS keys FROM pg_catalog.pg_index i");
        assert!(sql.contains("unnest(_huntlake_expandarray(_huntlake_int2vector(i.indkey))) AS keys"), "{sql}");
        let sql = rewritten("SELECT CASE WHEN a.atthasdef THEN (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d WHERE a.atthasdef AND d.adrelid = a.attrelid) ELSE NULL END FROM pg_catalog.pg_attribute a");
        assert!(sql.contains("_huntlake_if(a.atthasdef, (SELECT first_value(pg_get_expr(d.adbin, d.adrelid)) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid))"), "{sql}");
    }

    #[test]
    fn catalog_subqueries_with_fixed_answers() {
        // SQLAlchemy identity options: no sequences; the parameters stay.
        let sql = rewritten("SELECT CASE WHEN a.attidentity != $1::VARCHAR THEN (SELECT json_build_object($2::VARCHAR, s.seqstart) FROM pg_catalog.pg_sequence s WHERE a.attidentity != $3::VARCHAR) ELSE NULL END FROM pg_catalog.pg_attribute a");
        assert!(sql.contains("THEN _huntlake_null($2::VARCHAR, $3::VARCHAR) ELSE NULL END"), "{sql}");
        // asyncpg's domain base type walk.
        let sql = rewritten("SELECT (CASE WHEN t.typtype = 'd' THEN (WITH RECURSIVE typebases(oid, depth) AS (SELECT t2.typbasetype AS oid, 0 AS depth FROM pg_type t2 WHERE t2.oid = t.oid UNION ALL SELECT t2.typbasetype AS oid, tb.depth + 1 AS depth FROM pg_type t2, typebases tb WHERE tb.oid = t2.oid AND t2.typbasetype != 0) SELECT oid FROM typebases ORDER BY depth DESC LIMIT 1) ELSE NULL END) AS basetype FROM pg_catalog.pg_type AS t");
        assert!(sql.contains("THEN t.typbasetype ELSE NULL END"), "{sql}");
        // A bound LIKE pattern with another escape than backslash.
        let sql = rewritten("SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE $1::VARCHAR || '%' ESCAPE '/'");
        assert!(sql.contains("NOT LIKE _huntlake_like_escape($1::VARCHAR || '%', '/')"), "{sql}");
        // information_schema.views: views only.
        let sql = rewritten("SELECT table_name FROM information_schema.views");
        assert!(sql.contains("WHERE definition IS NOT NULL"), "{sql}");
    }

    #[test]
    fn set_config_arguments() {
        let Action::Plan(s) = one("SELECT current_setting('jit') AS cur, set_config('jit', 'off', false) AS new") else { panic!() };
        assert_eq!(set_config_calls(&s), vec![("jit".to_string(), "off".to_string(), false)]);
        let Action::Plan(s) = one("SELECT pg_catalog.set_config('search_path', '', true)") else { panic!() };
        assert_eq!(set_config_calls(&s), vec![("search_path".to_string(), String::new(), true)]);
    }
}
