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
        compat.parse(sql)?
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
}
