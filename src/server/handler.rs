//! The query side of the Postgres endpoint: simple and extended protocol on
//! top of one [`Engine`], with each connection in its own [`ClientSession`].

use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{DdlStatement, LogicalPlan, Statement as PlanStatement};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use futures::Sink;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;

use super::auth::Role;
use super::encode;
use super::executor::SharedRuntime;
use super::errors::{self, sqlstate};
use super::params;
use super::session::ClientSession;
use super::statement::{self, Action};
use crate::engine::Engine;

/// A statement parsed (and, for plannable ones, planned) at Parse time.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub action: Action,
    pub plan: Option<LogicalPlan>,
    /// The plan's parameters (none without a plan).
    pub params: params::ParamTypes,
}

/// Parses and plans statements for the extended protocol.
pub struct StatementParser {
    engine: Engine,
    compat: Arc<PostgresCompatibilityParser>,
}

/// Runs statements for both protocols.
pub struct QueryService {
    engine: Engine,
    compat: Arc<PostgresCompatibilityParser>,
    parser: Arc<StatementParser>,
    /// Where result streams are driven (see [`super::executor`]).
    runtime: SharedRuntime,
}

impl QueryService {
    pub fn new(engine: Engine, runtime: SharedRuntime) -> Self {
        let compat = Arc::new(PostgresCompatibilityParser::new());
        let parser = Arc::new(StatementParser { engine: engine.clone(), compat: compat.clone() });
        Self { engine, compat, parser, runtime }
    }
}

/// Plans a DataFusion statement in the client's session, refusing plans
/// that would write to the lake.
async fn plan_statement(session: &ClientSession, statement: &Statement) -> PgWireResult<LogicalPlan> {
    let plan = session
        .ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
        .await
        .map_err(errors::from_datafusion)?;
    check_read_only(&plan, session.role)?;
    check_shared_names(session, &plan).await?;
    Ok(plan)
}

/// Views are shared by all connections, so an analyst may not replace or
/// drop a lake table (`CREATE OR REPLACE VIEW edr_alerts ...` would change
/// what everybody reads) or one of the views the server was started with.
async fn check_shared_names(session: &ClientSession, plan: &LogicalPlan) -> PgWireResult<()> {
    let name = match plan {
        // Temporary views live in the session only; they may shadow anything.
        LogicalPlan::Ddl(DdlStatement::CreateView(v)) if v.or_replace && !v.temporary => &v.name,
        LogicalPlan::Ddl(DdlStatement::DropView(v)) if !session.local_views.table_exist(v.name.table()) => &v.name,
        _ => return Ok(()),
    };
    if session.protected_views.contains(&name.table().to_ascii_lowercase()) {
        return Err(errors::error(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            format!("cannot replace or drop {name}: it is one of the server's views (sql/ or [engine] sql_dir)"),
        ));
    }
    if let Ok(provider) = session.ctx.table_provider(name.clone()).await {
        if provider.table_type() != datafusion::datasource::TableType::View {
            return Err(errors::read_only(&format!("CREATE OR REPLACE VIEW / DROP VIEW on table {name}")));
        }
    }
    Ok(())
}

/// `CREATE [OR REPLACE] TEMP VIEW`: into the session's own schema (DataFusion
/// itself refuses temporary views), with the plan type-checked as DataFusion
/// does for its views.
fn create_temp_view(session: &ClientSession, view: &datafusion::logical_expr::CreateView) -> PgWireResult<()> {
    let name = view.name.table().to_string();
    if session.local_views.table_exist(&name) && !view.or_replace {
        return Err(errors::error(sqlstate::DUPLICATE_TABLE, format!("relation \"{name}\" already exists")));
    }
    let state = session.ctx.state();
    let input = state
        .analyzer()
        .execute_and_check(view.input.as_ref().clone(), state.config_options(), |_, _| {})
        .map_err(errors::from_datafusion)?;
    let table = Arc::new(datafusion::catalog::view::ViewTable::new(input, view.definition.clone()));
    let _ = session.local_views.deregister_table(&name);
    session.local_views.register_table(name, table).map_err(errors::from_datafusion)?;
    Ok(())
}

/// Refuses plans that would write anywhere (nobody may modify lake data over
/// the wire), looking inside EXPLAIN / EXPLAIN ANALYZE too, and view DDL for
/// roles that may only query.
fn check_read_only(plan: &LogicalPlan, role: Role) -> PgWireResult<()> {
    let mut refusal = None;
    plan.apply(|node| {
        let r = match node {
            LogicalPlan::Dml(dml) => Err(errors::read_only(&dml.op.to_string().to_uppercase())),
            LogicalPlan::Copy(_) => Err(errors::read_only("COPY")),
            LogicalPlan::Ddl(ddl) => match ddl {
                DdlStatement::CreateView(_) | DdlStatement::DropView(_) if role.may_create_views() => Ok(()),
                DdlStatement::CreateView(_) => Err(errors::not_permitted("CREATE VIEW", role.name())),
                DdlStatement::DropView(_) => Err(errors::not_permitted("DROP VIEW", role.name())),
                other => Err(errors::read_only(other.name())),
            },
            _ => Ok(()),
        };
        match r {
            Ok(()) => Ok(TreeNodeRecursion::Continue),
            Err(e) => {
                refusal = Some(e);
                Ok(TreeNodeRecursion::Stop)
            }
        }
    })
    .map_err(errors::from_datafusion)?;
    match refusal {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The command tag of a plan that produces no rows, if it is one.
fn execution_tag(plan: &LogicalPlan) -> Option<&'static str> {
    match plan {
        LogicalPlan::Ddl(DdlStatement::CreateView(_)) => Some("CREATE VIEW"),
        LogicalPlan::Ddl(DdlStatement::DropView(_)) => Some("DROP VIEW"),
        LogicalPlan::Statement(PlanStatement::SetVariable(_)) => Some("SET"),
        LogicalPlan::Statement(PlanStatement::ResetVariable(_)) => Some("RESET"),
        LogicalPlan::Statement(PlanStatement::TransactionStart(_)) => Some("BEGIN"),
        LogicalPlan::Statement(PlanStatement::TransactionEnd(_)) => Some("COMMIT"),
        LogicalPlan::Statement(PlanStatement::Deallocate(_)) => Some("DEALLOCATE"),
        _ => None,
    }
}

/// Settings whose changes PostgreSQL reports to the client (GUC_REPORT).
fn reported_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "application_name" => "application_name",
        "client_encoding" => "client_encoding",
        "datestyle" => "DateStyle",
        "intervalstyle" => "IntervalStyle",
        "timezone" => "TimeZone",
        "standard_conforming_strings" => "standard_conforming_strings",
        "search_path" => "search_path",
        _ => return None,
    })
}

fn show_batch(names: &[(String, String)], column: &str, all: bool) -> PgWireResult<RecordBatch> {
    let value = StringArray::from_iter_values(names.iter().map(|(_, v)| v.as_str()));
    let (schema, columns): (Schema, Vec<Arc<dyn arrow::array::Array>>) = if all {
        let name = StringArray::from_iter_values(names.iter().map(|(n, _)| n.as_str()));
        let desc = StringArray::from_iter_values(names.iter().map(|_| ""));
        (
            Schema::new(vec![
                Field::new("name", DataType::Utf8, false),
                Field::new("setting", DataType::Utf8, false),
                Field::new("description", DataType::Utf8, false),
            ]),
            vec![Arc::new(name), Arc::new(value), Arc::new(desc)],
        )
    } else {
        (Schema::new(vec![Field::new(column, DataType::Utf8, false)]), vec![Arc::new(value)])
    };
    RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| errors::error(sqlstate::INTERNAL_ERROR, e.to_string()))
}

fn show_schema(name: &str) -> Schema {
    if name == "all" {
        Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("setting", DataType::Utf8, false),
            Field::new("description", DataType::Utf8, false),
        ])
    } else {
        Schema::new(vec![Field::new(show_column(name), DataType::Utf8, false)])
    }
}

fn show_column(name: &str) -> String {
    match name {
        "transaction isolation level" => "transaction_isolation".into(),
        other => other.replace(' ', "_"),
    }
}

impl QueryService {
    /// Runs one statement. `plan` is the plan made at Parse time, with
    /// parameters already bound.
    async fn run<C>(
        &self,
        client: &mut C,
        session: &ClientSession,
        action: &Action,
        plan: Option<LogicalPlan>,
        format: &Format,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match action {
            Action::Set { name, value } => {
                session.update_settings(|s| s.set(name, value)).map_err(|e| errors::setting_error(&e))?;
                let canonical = crate::engine::PgSettings::canonical(name);
                if let Some(reported) = reported_name(&canonical) {
                    let current = session.settings().get(&canonical).unwrap_or_default();
                    futures::SinkExt::feed(
                        client,
                        PgWireBackendMessage::ParameterStatus(ParameterStatus::new(reported.into(), current)),
                    )
                    .await?;
                }
                Ok(Response::Execution(Tag::new("SET")))
            }
            Action::Reset(name) => {
                session.update_settings(|s| match name {
                    Some(n) => s.reset(n),
                    None => s.reset_all(),
                });
                Ok(Response::Execution(Tag::new("RESET")))
            }
            Action::Show(name) => {
                let settings = session.settings();
                let batch = if name == "all" {
                    show_batch(&settings.all(), "", true)?
                } else {
                    let value = settings.get(name).map_err(|e| errors::setting_error(&e))?;
                    show_batch(&[(name.clone(), value)], &show_column(name), false)?
                };
                let fields = encode::fields(&batch.schema(), format, session.format_options())?;
                let mut resp = encode::batches_response(vec![batch], fields);
                resp.set_command_tag("SHOW");
                Ok(Response::Query(resp))
            }
            Action::Begin => Ok(Response::TransactionStart(Tag::new("BEGIN"))),
            Action::Commit => Ok(Response::TransactionEnd(Tag::new("COMMIT"))),
            Action::Rollback => Ok(Response::TransactionEnd(Tag::new("ROLLBACK"))),
            Action::NoOp(tag) => {
                if *tag == "DISCARD ALL" {
                    session.update_settings(|s| s.reset_all());
                }
                Ok(Response::Execution(Tag::new(tag)))
            }
            Action::ReadOnly(command) => Err(errors::read_only(command)),
            Action::Plan(statement) => {
                // `set_config(...)` changes the session once the statement has
                // started: settings it reads keep their previous value.
                let set_configs = statement::set_config_calls(statement);
                let mut probe = session.settings();
                for (name, value, _) in &set_configs {
                    probe.set(name, value).map_err(|e| errors::setting_error(&e))?;
                }
                let deadline = encode::deadline(session.settings().statement_timeout());
                let cancel = session.cancel.start();
                let plan = match plan {
                    Some(p) => p,
                    None => encode::within(deadline, &cancel, plan_statement(session, statement)).await?,
                };
                let response = self.execute_plan(session, plan, format, deadline, cancel).await?;
                session.update_settings(|s| {
                    for (name, value, is_local) in &set_configs {
                        if !is_local {
                            let _ = s.set(name, value);
                        }
                    }
                });
                Ok(response)
            }
        }
    }

    async fn execute_plan(
        &self,
        session: &ClientSession,
        plan: LogicalPlan,
        format: &Format,
        deadline: Option<tokio::time::Instant>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> PgWireResult<Response> {
        if let LogicalPlan::Ddl(DdlStatement::CreateView(view)) = &plan {
            if view.temporary {
                create_temp_view(session, view)?;
                return Ok(Response::Execution(Tag::new("CREATE VIEW")));
            }
        }
        if let Some(tag) = execution_tag(&plan) {
            let ctx = session.ctx.clone();
            encode::within(deadline, &cancel, async move {
                let df = ctx.execute_logical_plan(plan).await.map_err(errors::from_datafusion)?;
                df.collect().await.map_err(errors::from_datafusion)?;
                Ok(())
            })
            .await?;
            return Ok(Response::Execution(Tag::new(tag)));
        }
        let ctx = session.ctx.clone();
        let runtime = self.runtime.clone();
        let stream = encode::within(deadline, &cancel, async move {
            let df = ctx.execute_logical_plan(plan).await.map_err(errors::from_datafusion)?;
            runtime.execute(df).await.map_err(errors::from_datafusion)
        })
        .await?;
        let fields = encode::fields(stream.schema().as_ref(), format, session.format_options())?;
        Ok(Response::Query(encode::query_response(stream, fields, deadline, cancel)))
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        tracing::debug!(query, "Simple query.");
        let actions = statement::parse(query, &self.compat).map_err(errors::parse_error)?;
        if actions.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let session = ClientSession::of(&self.engine, client);
        let mut responses = Vec::with_capacity(actions.len());
        for action in &actions {
            match self.run(client, &session, action, None, &Format::UnifiedText).await {
                Ok(r) => responses.push(r),
                // Earlier results are sent, then the error; later statements do not run.
                Err(PgWireError::UserError(info)) => {
                    responses.push(Response::Error(info));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        tracing::debug!(sql, "Parse.");
        let mut actions = statement::parse(sql, &self.compat).map_err(errors::parse_error)?;
        if actions.len() > 1 {
            return Err(errors::error(
                sqlstate::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(action) = actions.pop() else { return Ok(None) };
        let (plan, params) = match &action {
            Action::Plan(statement) => {
                let session = ClientSession::of(&self.engine, client);
                let plan = plan_statement(&session, statement).await?;
                let params = params::ParamTypes::infer(&plan, statement)?;
                (Some(plan), params)
            }
            _ => (None, params::ParamTypes::default()),
        };
        Ok(Some(Prepared { action, plan, params }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt.params.wire().to_vec())
    }

    fn get_result_schema(&self, stmt: &Prepared, column_format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        let format = column_format.unwrap_or(&Format::UnifiedText);
        let schema = match (&stmt.action, &stmt.plan) {
            (Action::Show(name), _) => show_schema(name),
            (_, Some(plan)) if execution_tag(plan).is_none() => plan.schema().as_arrow().clone(),
            _ => return Ok(vec![]),
        };
        arrow_pg::datatypes::arrow_schema_to_pg_fields(&schema, format, None)
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryService {
    type Statement = Prepared;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        self.parser.clone()
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let session = ClientSession::of(&self.engine, client);
        let plan = match &prepared.plan {
            Some(plan) => Some(params::bind(plan, &prepared.params, portal)?),
            None => None,
        };
        self.run(client, &session, &prepared.action, plan, &portal.result_column_format).await
    }
}
