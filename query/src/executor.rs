//! The one place where SQL text becomes rows.
//!
//! Every protocol goes through [`QueryExecutor::execute`], so the read-only
//! policy and the timeout hold everywhere. The policy is checked twice: on
//! the parsed statement, for a message that says what was refused and why,
//! and on the logical plan with DataFusion's `SQLOptions`, so nothing that
//! plans to a write or a session change can slip past the first check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider};
use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::StreamExt;
use hoso_model::tables::TableSource;
use hoso_model::views::{self, ViewOptions};

use crate::catalog::HosoSchema;
use crate::config::QueryConfig;
use crate::error::QueryError;
use crate::metrics::QueryMetrics;

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
    ctx: SessionContext,
    source: Arc<dyn TableSource>,
    timeout: Duration,
    max_rows: usize,
    metrics: QueryMetrics,
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
        let schema = HosoSchema::new(source.clone(), &config.due_rules.catalogue)?;
        catalog.register_schema(SCHEMA, Arc::new(schema))?;
        catalog.register_schema("system", Arc::new(HosoSchema::system(source.clone())))?;
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
        Ok(QueryExecutor {
            ctx,
            source,
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
            max_rows: config.max_result_rows,
            metrics,
        })
    }

    /// Runs one read-only statement within the timeout. Dropping the future
    /// cancels the query.
    pub async fn execute(&self, sql: &str) -> Result<QueryOutput, QueryError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, self.run(sql)).await {
            Ok(r) => r,
            Err(_) => Err(QueryError::Timeout(self.timeout)),
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        };
        self.metrics.queries.with_label_values(&[outcome]).inc();
        self.metrics
            .duration
            .with_label_values(&[outcome])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    async fn run(&self, sql: &str) -> Result<QueryOutput, QueryError> {
        let mut state = self.ctx.state();
        // One snapshot for the whole query: every scan of every table and
        // view in it sees the same instant.
        state
            .config_mut()
            .set_extension(Arc::new(self.source.snapshot()));
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect)?;
        check_read_only(&statement, sql)?;
        for table in state.resolve_table_references(&statement)? {
            check_not_a_file(&table)?;
        }
        let plan = state.statement_to_plan(statement).await?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| QueryError::Refused(format!("refused: hoso's SQL is read-only ({e})")))?;
        let df = DataFrame::new(state, plan);
        let schema = Arc::new(df.schema().as_arrow().clone());
        let mut stream = df.execute_stream().await?;
        let mut batches = Vec::new();
        let mut rows = 0usize;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows();
            if rows > self.max_rows {
                return Err(QueryError::TooManyRows(self.max_rows));
            }
            batches.push(batch);
        }
        Ok(QueryOutput { schema, batches })
    }
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
