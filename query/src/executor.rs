//! The one place where SQL text becomes rows.
//!
//! Every protocol goes through [`QueryExecutor::execute_stream`] (or
//! [`QueryExecutor::execute`], which collects that stream), so one policy
//! holds everywhere: read-only, a slot among `max_concurrent_queries`, the
//! timeout over the whole query, the row cap as rows flow, the memory pool.
//! Each query runs as its [`Caller`], whose [`Scope`] every scan applies.
//! The read-only policy is checked twice, before anything runs: on the
//! parsed statement, for a message that says what was refused and why, and
//! on the logical plan with DataFusion's `SQLOptions`, so nothing that plans
//! to a write or a session change can slip past the first check.

use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider};
use datafusion::common::TableReference;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::dataframe::DataFrame;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use futures::StreamExt;
use hoso_model::schema;
use hoso_model::tables::TableSource;
use hoso_model::views::{self, ViewOptions};

use crate::alerts::AlertBook;
use crate::alerts::table::{VIEW_SQL as ALERTS_VIEW, rule_table as rule_alerts};
use crate::auth::Caller;
use crate::catalog::{HosoSchema, Scope};
use crate::communes;
use crate::config::QueryConfig;
use crate::error::QueryError;
use crate::metrics::{QueryMetrics, Tally};
use crate::plain_text::{plain_schema, plain_stream};
use crate::portal_index::PortalIndex;
use crate::query_log::QueryLog;
use crate::slots::{Slot, Slots};
use crate::stream::{Budget, QueryStream};

const CATALOG: &str = "hoso";
const SCHEMA: &str = "public";

/// A query's answer.
#[derive(Debug)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryOutput {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

#[derive(Clone)]
pub struct QueryExecutor {
    /// The session with hoso's catalog, functions and views; each query
    /// plans on a copy of its state carrying its own snapshot.
    ctx: SessionContext,
    /// Where each query takes its snapshot of the tables.
    source: Arc<dyn TableSource>,
    /// `query.timeout_ms`.
    timeout: Duration,
    /// `query.max_result_rows`.
    max_rows: usize,
    /// `query.max_concurrent_queries`, shared by every clone.
    slots: Slots,
    /// Where each query's outcome is counted.
    metrics: QueryMetrics,
    /// `system.queries`.
    log: QueryLog,
    /// The alerts the `alerts` table shows; an alerting engine writes them.
    alerts: AlertBook,
    /// The rows of `portal_766`; the binary's follower of the index topic
    /// writes them.
    portal_index: PortalIndex,
}

impl QueryExecutor {
    /// A session over `source`'s tables, with the contract's views defined.
    pub async fn new(
        source: Arc<dyn TableSource>,
        config: &QueryConfig,
        metrics: QueryMetrics,
    ) -> Result<Self, QueryError> {
        let session = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(config.target_partitions.max(1))
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(CATALOG, SCHEMA);
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(config.memory_limit_bytes.max(1 << 20), 1.0)
            .build_arc()?;
        let ctx = SessionContext::new_with_config_rt(session, runtime);
        let catalog = MemoryCatalogProvider::new();
        let alerts = AlertBook::default();
        let portal_index = PortalIndex::default();
        let schema = HosoSchema::new(
            source.clone(),
            &config.due_rules.catalogue,
            vec![
                ("rule_alerts", Arc::new(rule_alerts(alerts.clone()))),
                (schema::PORTAL_766, Arc::new(portal_index.table())),
                (
                    communes::TABLE,
                    Arc::new(communes_table(&config.units, &config.communes_file)?),
                ),
            ],
            config.small_cold_file_bytes,
        )?;
        catalog.register_schema(SCHEMA, Arc::new(schema))?;
        let log = QueryLog::default();
        catalog.register_schema(
            "system",
            Arc::new(HosoSchema::system(source.clone(), log.clone())),
        )?;
        ctx.register_catalog(CATALOG, Arc::new(catalog));
        // Working days of the configured calendar, for deadline arithmetic.
        for f in crate::udf::calendar_functions(config.due_rules.calendar.clone()) {
            ctx.register_udf(f);
        }
        let options = ViewOptions {
            at_risk_working_hours: config.at_risk_working_hours,
        };
        for (name, sql) in views::all(options).into_iter().chain(views::system()) {
            ctx.sql(&format!("CREATE VIEW {name} AS {sql}")).await?;
        }
        ctx.sql(&format!("CREATE VIEW alerts AS {ALERTS_VIEW}"))
            .await?;
        // What psql's \d, Grafana's query builder and DBeaver's browser ask.
        setup_pg_catalog(&ctx, CATALOG, EmptyContextProvider)
            .map_err(|e| QueryError::Internal(format!("pg_catalog: {e}")))?;
        Ok(QueryExecutor {
            ctx,
            source,
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
            max_rows: config.max_result_rows,
            slots: Slots::new(
                config.max_concurrent_queries,
                metrics.waiting.clone(),
                metrics.running.clone(),
            ),
            metrics,
            log,
            alerts,
            portal_index,
        })
    }

    /// Runs one read-only statement and collects its rows, within the
    /// timeout and the row cap. Dropping the future cancels the query.
    pub async fn execute(&self, caller: &Caller, sql: &str) -> Result<QueryOutput, QueryError> {
        let mut stream = self.execute_stream(caller, sql).await?;
        let schema = stream.schema();
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch?);
        }
        Ok(QueryOutput { schema, batches })
    }

    /// Starts one read-only statement and returns its rows as they come.
    ///
    /// Waiting for a slot, the read-only checks and planning happen here, so
    /// their errors come before any row. Errors while rows flow (the timeout,
    /// the row cap, a failing plan) end the stream. Dropping the stream
    /// cancels the query and frees its slot.
    ///
    /// `caller` decides what the query sees: a `province:<code>` caller's
    /// scans hold only that province's rows.
    pub async fn execute_stream(
        &self,
        caller: &Caller,
        sql: &str,
    ) -> Result<QueryStream, QueryError> {
        self.stream_of(caller, sql, Input::Sql(sql)).await
    }

    /// [`QueryExecutor::execute_stream`] for a statement a protocol adapter
    /// has planned itself (the Postgres extended protocol: parameters bound
    /// by the client). The plan is checked as a SQL statement's is; `sql`
    /// is its text, for `system.queries`.
    pub async fn execute_plan_stream(
        &self,
        caller: &Caller,
        sql: &str,
        plan: LogicalPlan,
    ) -> Result<QueryStream, QueryError> {
        self.stream_of(caller, sql, Input::Plan(plan)).await
    }

    /// The rows of `portal_766`, for the follower of the index topic.
    pub fn portal_index(&self) -> &PortalIndex {
        &self.portal_index
    }

    /// The alerts of the `alerts` table, for the engine that keeps them.
    pub fn alerts(&self) -> &AlertBook {
        &self.alerts
    }

    /// The session the adapters plan against: hoso's catalog, views and
    /// functions.
    /// Lets SQL read the cold files of the table store registered at
    /// `url` (`s3://bucket`): the query node's and the processors' store.
    pub fn register_object_store(&self, url: &url::Url, store: Arc<dyn object_store::ObjectStore>) {
        self.ctx.runtime_env().register_object_store(url, store);
    }

    pub fn session_context(&self) -> &SessionContext {
        &self.ctx
    }

    async fn stream_of(
        &self,
        caller: &Caller,
        sql: &str,
        input: Input<'_>,
    ) -> Result<QueryStream, QueryError> {
        let mut tally = Tally::start(&self.metrics, &self.log, caller, sql);
        let budget = Budget::new(self.timeout, self.max_rows);
        let started = if caller.role.may_query() {
            self.start(caller, input, budget).await
        } else {
            Err(may_not_query(caller))
        };
        match started {
            Ok((schema, batches, slot)) => {
                Ok(QueryStream::new(schema, batches, slot, budget, tally))
            }
            Err(e) => {
                tally.count(e.label(), Some(&e));
                Err(e)
            }
        }
    }

    /// A slot, then the checked plan, started, all before the deadline.
    async fn start(
        &self,
        caller: &Caller,
        input: Input<'_>,
        budget: Budget,
    ) -> Result<(SchemaRef, SendableRecordBatchStream, Slot), QueryError> {
        let slot = self.slots.acquire(budget.deadline).await?;
        match tokio::time::timeout_at(budget.deadline, self.plan(caller, input)).await {
            Ok(Ok((schema, batches))) => Ok((schema, batches, slot)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(QueryError::Timeout(budget.timeout)),
        }
    }

    async fn plan(
        &self,
        caller: &Caller,
        input: Input<'_>,
    ) -> Result<(SchemaRef, SendableRecordBatchStream), QueryError> {
        let (state, plan) = self.checked_plan(caller, input).await?;
        let df = DataFrame::new(state, plan);
        let inside = Arc::new(df.schema().as_arrow().clone());
        let stream = df.execute_stream().await?;
        // Clients get text as Utf8, whatever the tables hold inside.
        let schema = plain_schema(inside.clone());
        if Arc::ptr_eq(&schema, &inside) {
            return Ok((schema, stream));
        }
        Ok((schema.clone(), plain_stream(stream, schema)))
    }

    /// The columns `sql` would answer with, for protocols that describe a
    /// result before fetching it (Flight SQL's `GetFlightInfo`, prepared
    /// statements). Every check of [`QueryExecutor::execute_stream`] but
    /// the slot applies; nothing runs.
    pub async fn describe(&self, caller: &Caller, sql: &str) -> Result<SchemaRef, QueryError> {
        if !caller.role.may_query() {
            return Err(may_not_query(caller));
        }
        let planned =
            tokio::time::timeout(self.timeout, self.checked_plan(caller, Input::Sql(sql)));
        match planned.await {
            Ok(Ok((_, plan))) => Ok(plain_schema(Arc::new(plan.schema().as_arrow().clone()))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(QueryError::Timeout(self.timeout)),
        }
    }

    /// The logical plan of `input` as `caller`, on a session state carrying
    /// the query's snapshot and scope, past the read-only checks.
    async fn checked_plan(
        &self,
        caller: &Caller,
        input: Input<'_>,
    ) -> Result<(datafusion::execution::SessionState, LogicalPlan), QueryError> {
        let mut state = self.ctx.state();
        // One snapshot for the whole query: every scan of every table and
        // view in it sees the same instant.
        state
            .config_mut()
            .set_extension(Arc::new(self.source.snapshot()));
        // What the caller may see; every scan of a base table applies it.
        state
            .config_mut()
            .set_extension(Arc::new(Scope::of(caller)));
        let plan = match input {
            Input::Sql(sql) => {
                let dialect = state.config().options().sql_parser.dialect;
                let statement = state.sql_to_statement(sql, &dialect)?;
                check_read_only(&statement, sql)?;
                for table in state.resolve_table_references(&statement)? {
                    check_not_a_file(&table)?;
                }
                state.statement_to_plan(statement).await?
            }
            Input::Plan(plan) => {
                let mut tables = Vec::new();
                plan.apply(|node| {
                    if let LogicalPlan::TableScan(scan) = node {
                        tables.push(scan.table_name.clone());
                    }
                    Ok(TreeNodeRecursion::Continue)
                })?;
                for table in &tables {
                    check_not_a_file(table)?;
                }
                plan
            }
        };
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| QueryError::Refused(format!("refused: hoso's SQL is read-only ({e})")))?;
        Ok((state, plan))
    }
}

fn may_not_query(caller: &Caller) -> QueryError {
    QueryError::Refused(format!(
        "refused: user {:?} has the role {}, which may not run SQL",
        caller.user, caller.role
    ))
}

/// What a query starts from.
enum Input<'a> {
    Sql(&'a str),
    Plan(LogicalPlan),
}

/// Only queries, `EXPLAIN` of a query and `SHOW` pass.
fn check_read_only(statement: &DfStatement, sql: &str) -> Result<(), QueryError> {
    let refuse = |what: &str| {
        Err(QueryError::Refused(format!(
            "refused: hoso's SQL is read-only; {what} is not allowed (use SELECT, WITH, EXPLAIN or SHOW)"
        )))
    };
    match statement {
        DfStatement::Statement(s) => match s.as_ref() {
            SqlStatement::Query(_)
            | SqlStatement::ShowTables { .. }
            | SqlStatement::ShowColumns { .. } => Ok(()),
            SqlStatement::Explain { statement, .. } => {
                check_read_only(&DfStatement::Statement(statement.clone()), sql)
            }
            _ => refuse(&leading_keywords(sql)),
        },
        DfStatement::Explain(e) => check_read_only(&e.statement, sql),
        DfStatement::CreateExternalTable(_) => {
            refuse("CREATE EXTERNAL TABLE (reading files or URLs)")
        }
        DfStatement::CopyTo(_) => refuse("COPY (writing files)"),
        DfStatement::Reset(_) => refuse("RESET"),
    }
}

/// `INSERT`, `CREATE TABLE`...: the statement's first words, for messages.
fn leading_keywords(sql: &str) -> String {
    let words: Vec<String> = sql
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
        .take(2)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    if words.is_empty() {
        "this statement".into()
    } else {
        words.join(" ")
    }
}

/// DataFusion can read a quoted path or URL as a table when the dynamic file
/// catalog is on. It is off here; this says so clearly instead of "table not
/// found", and keeps it refused if a later version turns it on.
fn check_not_a_file(table: &TableReference) -> Result<(), QueryError> {
    let name = table.table();
    let looks_like_file = name.contains('/')
        || name.contains('\\')
        || name.contains("://")
        || [
            ".csv", ".json", ".parquet", ".arrow", ".avro", ".ndjson", ".gz",
        ]
        .iter()
        .any(|ext| name.to_ascii_lowercase().ends_with(ext));
    if looks_like_file {
        return Err(QueryError::Refused(format!(
            "refused: file and URL tables are not allowed ({name:?}); query hoso's tables and views"
        )));
    }
    Ok(())
}

/// The `communes` reference table; a bad file stops the start.
fn communes_table(
    units: &hoso_model::units::Units,
    path: &str,
) -> Result<datafusion::datasource::MemTable, QueryError> {
    // Shown as is at start: the message names the setting and the line.
    let batch = communes::load(units, path).map_err(QueryError::Invalid)?;
    Ok(datafusion::datasource::MemTable::try_new(
        communes::schema(),
        vec![vec![batch]],
    )?)
}
