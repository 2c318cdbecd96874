//! The Postgres wire protocol (psql, Grafana, DBeaver, any libpq or JDBC
//! client), over the one executor.
//!
//! `datafusion-postgres` parses the statements (with its Postgres
//! compatibility rewrites) and answers the catalog queries that tools send
//! (`pg_catalog`, installed into hoso's catalog). Everything that reads data
//! goes through [`QueryExecutor`]: the read-only policy, the timeout, the
//! row cap and the concurrency slots hold here as on HTTP. The crate's own
//! execution path ignores DataFusion's `SQLOptions`, so it is never used for
//! a statement: session statements a client sends on connecting (`SET`,
//! `SHOW` of a setting, `BEGIN`/`COMMIT`) are answered by its hooks without
//! touching the tables, and everything else is refused here.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire;
use datafusion_postgres::{DfSessionService, Parser};
use futures::SinkExt;
use futures::{Sink, StreamExt, stream};
use pgwire::api::auth::{self, DefaultServerParameterProvider, StartupHandler};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{QueryResponse, Response};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers};
use pgwire::api::{PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::PgWireFrontendMessage;
use pgwire::messages::startup::Authentication;
use pgwire::types::format::FormatOptions;
use tracing::{info, warn};

use crate::auth::{Auth, Caller, Protocol, Role};
use crate::error::QueryError;
use crate::executor::QueryExecutor;
use crate::stream::QueryStream;

/// Where the login puts the caller's role, in the connection's metadata
/// (next to the `user` the client sent).
const ROLE_KEY: &str = "hoso.role";

/// The caller of an authenticated connection.
fn caller_of(metadata: &std::collections::HashMap<String, String>) -> PgWireResult<Caller> {
    let user = metadata.get(pgwire::api::METADATA_USER);
    let role = metadata.get(ROLE_KEY).and_then(|r| Role::parse(r).ok());
    match (user, role) {
        (Some(user), Some(role)) => Ok(Caller::new(user, role, Protocol::Postgres)),
        _ => Err(pg_error(&QueryError::Refused(
            "refused: the connection is not authenticated".into(),
        ))),
    }
}

/// The settings a client may `SET` for its own connection; the crate keeps
/// them with the connection. Any other `SET` would change the server's
/// DataFusion session for everyone, and is refused.
const CLIENT_SETTINGS: [&str; 7] = [
    "statement_timeout",
    "datestyle",
    "bytea_output",
    "intervalstyle",
    "application_name",
    "extra_float_digits",
    "search_path",
];

/// The statement kinds a client sends about its own session, answered
/// without reading any table or changing the server.
fn is_session_statement(s: &Statement) -> bool {
    match s {
        Statement::Set(Set::SingleAssignment {
            scope: None,
            hivevar: false,
            variable,
            ..
        }) => CLIENT_SETTINGS.contains(&variable.to_string().to_ascii_lowercase().as_str()),
        Statement::Set(Set::SetTimeZone { local: false, .. }) => true,
        Statement::ShowVariable { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. } => true,
        _ => false,
    }
}

/// What may run: queries, `EXPLAIN` of one, `SHOW TABLES`/`COLUMNS`. The
/// executor checks again on the parsed SQL and on the plan.
fn is_read(s: &Statement) -> bool {
    match s {
        Statement::Query(_) | Statement::ShowTables { .. } | Statement::ShowColumns { .. } => true,
        Statement::Explain { statement, .. } => is_read(statement),
        _ => false,
    }
}

/// A refusal in Postgres terms: SQLSTATE and message.
fn pg_error(e: &QueryError) -> PgWireError {
    let code = match e {
        // read_only_sql_transaction
        QueryError::Refused(_) => "25006",
        QueryError::Invalid(_) => "42000",
        // query_canceled
        QueryError::Timeout(_) => "57014",
        // program_limit_exceeded
        QueryError::TooManyRows(_) => "54000",
        // insufficient_resources, too_many_connections
        QueryError::Exhausted(_) => "53000",
        QueryError::Busy { .. } => "53300",
        _ => "XX000",
    };
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        e.to_string(),
    )))
}

fn refused(s: &Statement) -> PgWireError {
    let words: String = s
        .to_string()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    pg_error(&QueryError::Refused(format!(
        "refused: hoso's SQL is read-only; {words} is not allowed (use SELECT, WITH, EXPLAIN or SHOW)"
    )))
}

/// A result as Postgres rows, encoded batch by batch as the executor's
/// stream yields them; the stream's end (or error) ends the response.
fn respond(
    stream: QueryStream,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<Response> {
    let fields = Arc::new(arrow_schema_to_pg_fields(
        &stream.schema(),
        format,
        Some(options),
    )?);
    let encode = fields.clone();
    let rows = stream
        .map(move |batch| {
            let rows: Box<dyn Iterator<Item = PgWireResult<_>> + Send + Sync> = match batch {
                Ok(b) => encode_recordbatch(encode.clone(), b),
                Err(e) => Box::new(std::iter::once(Err(pg_error(&e)))),
            };
            stream::iter(rows)
        })
        .flatten();
    Ok(Response::Query(QueryResponse::new(fields, rows)))
}

/// The one hook in front of the crate's: reads run through the executor,
/// session statements pass to the crate's `SET`/`SHOW` and transaction
/// hooks, everything else is refused.
struct Policy {
    executor: QueryExecutor,
}

#[async_trait]
impl QueryHook for Policy {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if is_session_statement(statement) {
            return None;
        }
        if !is_read(statement) {
            return Some(Err(refused(statement)));
        }
        let caller = match caller_of(client.metadata()) {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        Some(
            match self
                .executor
                .execute_stream(&caller, &statement.to_string())
                .await
            {
                Ok(stream) => respond(stream, &Format::UnifiedText, options),
                Err(e) => Err(pg_error(&e)),
            },
        )
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        // Reads are planned by the crate's parser (parameters, types); they
        // run in `Extended::do_query`.
        if is_session_statement(statement) || is_read(statement) {
            None
        } else {
            Some(Err(refused(statement)))
        }
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _plan: &LogicalPlan,
        _params: &datafusion::common::ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

/// The extended protocol (what JDBC, Grafana and most drivers use): the
/// crate parses and describes; execution is the executor's, with the
/// result formats the client asked for.
struct Extended {
    inner: Arc<DfSessionService>,
    executor: QueryExecutor,
}

#[async_trait]
impl ExtendedQueryHandler for Extended {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.inner.query_parser()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some((statement, plan)) = &portal.statement.statement.1 else {
            return Ok(Response::EmptyQuery);
        };
        if is_session_statement(statement) {
            // `SET`, `SHOW`, transactions: the crate's hooks answer them.
            return ExtendedQueryHandler::do_query(&*self.inner, client, portal, max_rows).await;
        }
        if !is_read(statement) {
            return Err(refused(statement));
        }
        let types = plan
            .get_parameter_types()
            .map_err(|e| pg_error(&QueryError::from(e)))?;
        let mut ordered: Vec<(usize, Option<DataType>)> = types
            .into_iter()
            .filter_map(|(k, v)| Some((k.trim_start_matches('$').parse().ok()?, v)))
            .collect();
        ordered.sort_by_key(|(i, _)| *i);
        let refs: Vec<Option<&DataType>> = ordered.iter().map(|(_, t)| t.as_ref()).collect();
        let params = deserialize_parameters(portal, &refs)?;
        let plan = plan
            .clone()
            .replace_params_with_values(&params)
            .map_err(|e| pg_error(&QueryError::from(e)))?;
        let caller = caller_of(client.metadata())?;
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        match self
            .executor
            .execute_plan_stream(&caller, &statement.to_string(), plan)
            .await
        {
            Ok(stream) => respond(stream, &portal.result_column_format, options),
            Err(e) => Err(pg_error(&e)),
        }
    }
}

/// The login: pgwire's cleartext password message, checked against the
/// configured tokens (the password is the token; `hoso`/`hoso` in local
/// mode). The caller's role goes into the connection's metadata.
struct Login {
    auth: Auth,
    parameters: DefaultServerParameterProvider,
    keys: RandomPidSecretKeyGenerator,
}

#[async_trait]
impl StartupHandler for Login {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                auth::protocol_negotiation(client, startup).await?;
                auth::save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let pwd = pwd.into_password()?;
                let user = client
                    .metadata()
                    .get(pgwire::api::METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                match self.auth.password(&user, &pwd.password, Protocol::Postgres) {
                    Ok(caller) => {
                        client
                            .metadata_mut()
                            .insert(ROLE_KEY.into(), caller.role.to_string());
                        let (pid, secret) = self.keys.generate(client);
                        client.set_pid_and_secret_key(pid, secret);
                        auth::finish_authentication(client, &self.parameters).await?;
                    }
                    Err(_) => return Err(PgWireError::InvalidPassword(user)),
                }
            }
            _ => {}
        }
        Ok(())
    }
}

struct Handlers {
    simple: Arc<DfSessionService>,
    extended: Arc<Extended>,
    startup: Arc<Login>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.simple.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.extended.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }
}

/// Serves the Postgres wire protocol on `listen` until `shutdown`.
pub async fn serve(
    executor: QueryExecutor,
    listen: std::net::SocketAddr,
    auth: Auth,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let ctx = Arc::new(executor.session_context().clone());
    let hooks: Vec<Arc<dyn QueryHook>> = vec![
        Arc::new(Policy {
            executor: executor.clone(),
        }),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
    ];
    let service = Arc::new(DfSessionService::new_with_hooks(ctx, hooks));
    let handlers = Arc::new(Handlers {
        simple: service.clone(),
        extended: Arc::new(Extended {
            inner: service,
            executor,
        }),
        startup: Arc::new(Login {
            auth,
            parameters: DefaultServerParameterProvider::default(),
            keys: RandomPidSecretKeyGenerator::default(),
        }),
    });
    let opts = datafusion_postgres::ServerOptions::new()
        .with_host(listen.ip().to_string())
        .with_port(listen.port());
    info!(%listen, "Postgres wire protocol listening");
    tokio::select! {
        r = datafusion_postgres::serve_with_handlers(handlers, &opts) => {
            if let Err(e) = &r {
                warn!(error = %e, %listen, "the Postgres wire server stopped");
            }
            r
        }
        _ = shutdown => Ok(()),
    }
}
