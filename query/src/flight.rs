//! Arrow Flight SQL (ADBC, the Flight SQL JDBC driver, DBeaver), over the
//! one executor.
//!
//! A thin adapter: every statement runs through [`QueryExecutor`], so the
//! read-only policy, the timeout, the row cap, the slots, province scoping
//! and `system.queries` hold here as on HTTP and the Postgres wire. Rows go
//! out as Arrow IPC batch by batch as the executor's stream yields them; a
//! client that goes away drops the stream, which cancels the query.
//!
//! Statement and prepared-statement handles are the SQL text itself: the
//! server keeps no per-statement state, and a handle replayed by anyone is
//! checked again as its caller's SQL. What a login returns is the one piece
//! of state: a session token standing for the caller, kept in [`Sessions`].
//!
//! The catalog calls (`GetCatalogs`, `GetDbSchemas`, `GetTables`...) are
//! answered from the session's catalog, so tools browse the same tables and
//! views that SQL reaches.

// tonic's `Status` is large, and every gRPC answer is a `Result` of one.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::datatypes::{Schema, SchemaRef};
use arrow::ipc::writer::IpcWriteOptions;
use arrow::record_batch::RecordBatch;
use arrow_flight::encode::{DictionaryHandling, FlightDataEncoderBuilder};
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginSavepointResult, ActionBeginTransactionRequest,
    ActionBeginTransactionResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    ActionCreatePreparedSubstraitPlanRequest, ActionEndSavepointRequest,
    ActionEndTransactionRequest, CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo,
    CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult,
    ProstMessageExt, SqlInfo, SqlSupportedTransaction, TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest,
    HandshakeResponse, IpcMessage, SchemaAsIpc, Ticket,
};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use datafusion::catalog::SchemaProvider;
use datafusion::catalog::information_schema::{INFORMATION_SCHEMA, InformationSchemaProvider};
use datafusion::datasource::TableType;
use futures::{Stream, TryStreamExt, stream};
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};
use tracing::info;

use crate::auth::{self, Auth, AuthError, Caller, Protocol};
use crate::error::QueryError;
use crate::executor::QueryExecutor;

/// How long a login's session token lives without being used.
const SESSION_IDLE: Duration = Duration::from_secs(60 * 60);
/// Sessions kept at most; past it the least recently used one goes (its
/// client logs in again).
const MAX_SESSIONS: usize = 10_000;

/// The message of every write, DDL, bulk ingestion or transaction.
const READ_ONLY: &str = "refused: hoso's SQL is read-only (use SELECT, WITH, EXPLAIN or SHOW)";

type FlightStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A query error as a gRPC status: the caller's mistakes are
/// `invalid_argument`, refusals `permission_denied`, the limits that a
/// retry may pass `resource_exhausted`.
pub fn status_of(e: &QueryError) -> Status {
    let message = e.to_string();
    match e {
        QueryError::Refused(_) => Status::permission_denied(message),
        QueryError::Invalid(_) | QueryError::TooManyRows(_) => Status::invalid_argument(message),
        QueryError::Timeout(_) => Status::deadline_exceeded(message),
        QueryError::Busy { .. } | QueryError::Exhausted(_) => Status::resource_exhausted(message),
        QueryError::Internal(_) => Status::internal(message),
    }
}

fn unauthenticated(e: AuthError) -> Status {
    let hint = match e {
        AuthError::Missing => {
            "authentication required: log in with a user and token (ADBC: username/password)"
                .to_string()
        }
        AuthError::Invalid => e.to_string(),
    };
    Status::unauthenticated(hint)
}

/// The logins of this server: session token to caller, forgotten after
/// [`SESSION_IDLE`] unused. Bounded: the least recently used session goes
/// first.
#[derive(Debug)]
pub struct Sessions {
    /// Token to (caller, last use).
    map: Mutex<HashMap<String, (Caller, Instant)>>,
    idle: Duration,
    max: usize,
}

impl Sessions {
    pub fn new(idle: Duration, max: usize) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            max: max.max(1),
        }
    }

    /// A new session for `caller`; its token.
    pub fn open(&self, caller: Caller, now: Instant) -> Result<String, Status> {
        let token = auth::new_token().map_err(Status::internal)?;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, used)| now.saturating_duration_since(*used) < self.idle);
        if map.len() >= self.max {
            let oldest = map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(t, _)| t.clone());
            if let Some(t) = oldest {
                map.remove(&t);
            }
        }
        map.insert(token.clone(), (caller, now));
        Ok(token)
    }

    /// The caller of a live session, which counts as a use.
    pub fn caller(&self, token: &str, now: Instant) -> Option<Caller> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(token) {
            Some((caller, used)) if now.saturating_duration_since(*used) < self.idle => {
                *used = now;
                Some(caller.clone())
            }
            Some(_) => {
                map.remove(token);
                None
            }
            None => None,
        }
    }
}

/// `Basic base64(user:password)` to its user and password.
fn basic_credentials(encoded: &str) -> Result<(String, String), Status> {
    let bad = || Status::unauthenticated("authentication failed: malformed Basic credentials");
    let bytes = BASE64_STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (user, password) = text.split_once(':').ok_or_else(bad)?;
    Ok((user.to_string(), password.to_string()))
}

/// `prefix` at the start of `header`, in any case (`Bearer`, `bearer`).
fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let head = header.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| header[scheme.len()..].trim_start())
}

/// The Flight SQL service: the executor, the logins, what `GetSqlInfo`
/// says about the server.
pub struct FlightSql {
    executor: QueryExecutor,
    auth: Auth,
    sessions: Sessions,
    sql_info: SqlInfoData,
}

impl FlightSql {
    pub fn new(executor: QueryExecutor, auth: Auth) -> Result<FlightSql, QueryError> {
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "hoso");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        // The Arrow format version (Schema.fbs MetadataVersion V5).
        info.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
        info.append(SqlInfo::FlightSqlServerSql, true);
        info.append(SqlInfo::FlightSqlServerSubstrait, false);
        info.append(
            SqlInfo::FlightSqlServerTransaction,
            SqlSupportedTransaction::None as i32,
        );
        info.append(SqlInfo::FlightSqlServerCancel, false);
        info.append(SqlInfo::FlightSqlServerBulkIngestion, false);
        info.append(SqlInfo::SqlDdlCatalog, false);
        info.append(SqlInfo::SqlDdlSchema, false);
        info.append(SqlInfo::SqlDdlTable, false);
        info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        info.append(SqlInfo::SqlAllTablesAreSelectable, true);
        info.append(SqlInfo::SqlTransactionsSupported, false);
        let sql_info = info
            .build()
            .map_err(|e| QueryError::Internal(format!("Flight SQL info: {e}")))?;
        Ok(FlightSql {
            executor,
            auth,
            sessions: Sessions::new(SESSION_IDLE, MAX_SESSIONS),
            sql_info,
        })
    }

    /// Who is calling: a session token or a configured token as `Bearer`,
    /// a user and token as `Basic`, or nobody (the local admin in local
    /// mode).
    fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let Some(header) = request.metadata().get("authorization") else {
            return self
                .auth
                .bearer(None, Protocol::FlightSql)
                .map_err(unauthenticated);
        };
        let header = header.to_str().map_err(|_| {
            Status::unauthenticated("authentication failed: the authorization header is not text")
        })?;
        if let Some(token) = strip_scheme(header, "Bearer ") {
            if let Some(caller) = self.sessions.caller(token, Instant::now()) {
                return Ok(caller);
            }
            return self
                .auth
                .bearer(Some(token), Protocol::FlightSql)
                .map_err(|_| {
                    Status::unauthenticated(
                        "authentication failed: unknown or expired token; log in again",
                    )
                });
        }
        if let Some(encoded) = strip_scheme(header, "Basic ") {
            let (user, password) = basic_credentials(encoded)?;
            return self
                .auth
                .password(&user, &password, Protocol::FlightSql)
                .map_err(unauthenticated);
        }
        Err(Status::unauthenticated(
            "authentication failed: use Basic (user and token) or Bearer authorization",
        ))
    }

    /// The caller, who must be allowed SQL (catalog calls included).
    fn querying_caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let caller = self.caller(request)?;
        if !caller.role.may_query() {
            return Err(Status::permission_denied(format!(
                "refused: user {:?} has the role {}, which may not run SQL",
                caller.user, caller.role
            )));
        }
        Ok(caller)
    }

    async fn describe<T>(&self, request: &Request<T>, sql: &str) -> Result<SchemaRef, Status> {
        let caller = self.querying_caller(request)?;
        self.executor
            .describe(&caller, sql)
            .await
            .map_err(|e| status_of(&e))
    }

    /// Runs `sql` as the caller and sends its rows as they come; the
    /// stream's end or error ends the response. Dropping the response (the
    /// client went away) drops the query's stream, which cancels it.
    async fn rows<T>(
        &self,
        request: &Request<T>,
        sql: &str,
    ) -> Result<Response<FlightStream<FlightData>>, Status> {
        let caller = self.querying_caller(request)?;
        let rows = self
            .executor
            .execute_stream(&caller, sql)
            .await
            .map_err(|e| status_of(&e))?;
        let schema = rows.schema();
        let batches = rows.map_err(|e| FlightError::Tonic(Box::new(status_of(&e))));
        Ok(Response::new(encode(schema, batches)))
    }

    /// The `FlightInfo` of a catalog command, for a caller who may query:
    /// the command's own bytes are the ticket of its rows.
    fn command_info(
        &self,
        request: Request<FlightDescriptor>,
        schema: SchemaRef,
        command: impl ProstMessageExt,
    ) -> Result<Response<FlightInfo>, Status> {
        self.querying_caller(&request)?;
        flight_info(
            &schema,
            command.as_any().encode_to_vec(),
            request.into_inner(),
        )
    }

    /// Every table and view of the session's catalog, with its type and
    /// columns, in catalog, schema, table order.
    async fn tables(&self) -> Result<Vec<TableEntry>, Status> {
        let ctx = self.executor.session_context();
        let mut out = Vec::new();
        let mut catalogs = ctx.catalog_names();
        catalogs.sort();
        for catalog_name in catalogs {
            let Some(catalog) = ctx.catalog(&catalog_name) else {
                continue;
            };
            let mut schemas: Vec<(String, Arc<dyn SchemaProvider>)> = catalog
                .schema_names()
                .into_iter()
                .filter_map(|s| catalog.schema(&s).map(|p| (s, p)))
                .collect();
            if ctx.state().config().information_schema()
                && !schemas.iter().any(|(s, _)| s == INFORMATION_SCHEMA)
            {
                let provider = InformationSchemaProvider::new(ctx.state().catalog_list().clone());
                schemas.push((INFORMATION_SCHEMA.to_string(), Arc::new(provider)));
            }
            schemas.sort_by(|a, b| a.0.cmp(&b.0));
            for (schema_name, schema) in schemas {
                let mut names = schema.table_names();
                names.sort();
                for table_name in names {
                    let table = schema
                        .table(&table_name)
                        .await
                        .map_err(|e| status_of(&QueryError::from(e)))?;
                    let Some(table) = table else { continue };
                    out.push(TableEntry {
                        catalog: catalog_name.clone(),
                        schema: schema_name.clone(),
                        name: table_name,
                        kind: table_type_name(table.table_type()),
                        columns: crate::plain_text::plain_schema(table.schema()),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// One table or view, for `GetTables` and `GetDbSchemas`.
struct TableEntry {
    catalog: String,
    schema: String,
    name: String,
    kind: &'static str,
    columns: SchemaRef,
}

fn table_type_name(t: TableType) -> &'static str {
    match t {
        TableType::Base => "TABLE",
        TableType::View => "VIEW",
        TableType::Temporary => "LOCAL TEMPORARY",
    }
}

/// Batches as Flight data, the schema first even when no batch follows.
/// Dictionaries are sent as they are, so the columns match what
/// `GetFlightInfo` described.
fn encode(
    schema: SchemaRef,
    batches: impl Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
) -> FlightStream<FlightData> {
    let data = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .with_dictionary_handling(DictionaryHandling::Resend)
        .build(batches)
        .map_err(Status::from);
    Box::pin(data)
}

/// One metadata batch as Flight data.
fn encode_one(
    batch: Result<RecordBatch, impl std::fmt::Display>,
) -> Result<Response<FlightStream<FlightData>>, Status> {
    let batch = batch.map_err(|e| Status::internal(format!("internal error: {e}")))?;
    let schema = batch.schema();
    Ok(Response::new(encode(schema, stream::iter([Ok(batch)]))))
}

/// A `FlightInfo` whose one endpoint's ticket is `ticket`.
fn flight_info(
    schema: &Schema,
    ticket: Vec<u8>,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("internal error: encoding a schema: {e}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
        .with_descriptor(descriptor)
        .with_ordered(true);
    Ok(Response::new(info))
}

/// A handle (the SQL text) back to its text.
fn sql_of(handle: &[u8]) -> Result<&str, Status> {
    std::str::from_utf8(handle)
        .map_err(|_| Status::invalid_argument("the statement handle is not UTF-8 SQL text"))
}

fn read_only() -> Status {
    Status::permission_denied(READ_ONLY)
}

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    /// The login: `authorization: Basic base64(user:token)` (what ADBC's
    /// `username`/`password` send), answered with a session token in the
    /// `authorization` header (`Bearer <token>`) and the payload.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<FlightStream<HandshakeResponse>>, Status> {
        let caller = self.caller(&request)?;
        let user = caller.user.clone();
        let token = self.sessions.open(caller, Instant::now())?;
        let header = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|e| Status::internal(format!("internal error: {e}")))?;
        let answer = HandshakeResponse {
            protocol_version: 0,
            payload: token.into_bytes().into(),
        };
        let mut response: Response<FlightStream<HandshakeResponse>> =
            Response::new(Box::pin(stream::iter([Ok(answer)])));
        response.metadata_mut().insert("authorization", header);
        info!(user = %user, "Flight SQL login");
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        if query.transaction_id.is_some() {
            return Err(read_only());
        }
        let schema = self.describe(&request, &query.query).await?;
        let ticket = TicketStatementQuery {
            statement_handle: query.query.into_bytes().into(),
        };
        flight_info(
            &schema,
            ticket.as_any().encode_to_vec(),
            request.into_inner(),
        )
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let sql = sql_of(&ticket.statement_handle)?;
        self.rows(&request, sql).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        if query.transaction_id.is_some() {
            return Err(read_only());
        }
        let schema = self.describe(&request, &query.query).await?;
        let IpcMessage(dataset_schema) = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|e| Status::internal(format!("internal error: encoding a schema: {e}")))?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: query.query.into_bytes().into(),
            dataset_schema,
            // No parameters: values are written into the SQL.
            parameter_schema: Default::default(),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = self
            .describe(&request, sql_of(&query.prepared_statement_handle)?)
            .await?;
        flight_info(
            &schema,
            query.as_any().encode_to_vec(),
            request.into_inner(),
        )
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.rows(&request, sql_of(&query.prepared_statement_handle)?)
            .await
    }

    /// Handles hold no state: closing one has nothing to free.
    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        self.caller(&request).map(drop)
    }

    async fn do_put_prepared_statement_query(
        &self,
        _query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.caller(&request)?;
        Err(Status::invalid_argument(
            "hoso's Flight SQL does not bind parameters: write the values into the SQL",
        ))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.command_info(request, schema, query)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.querying_caller(&request)?;
        let mut builder = query.into_builder();
        let mut names = self.executor.session_context().catalog_names();
        names.sort();
        for name in names {
            builder.append(name);
        }
        encode_one(builder.build())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.command_info(request, schema, query)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.querying_caller(&request)?;
        let mut builder = query.into_builder();
        let mut seen = std::collections::BTreeSet::new();
        for t in self.tables().await? {
            seen.insert((t.catalog, t.schema));
        }
        for (catalog, schema) in seen {
            builder.append(catalog, schema);
        }
        encode_one(builder.build())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.command_info(request, schema, query)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.querying_caller(&request)?;
        let mut builder = query.into_builder();
        for t in self.tables().await? {
            builder
                .append(t.catalog, t.schema, t.name, t.kind, &t.columns)
                .map_err(|e| Status::internal(format!("internal error: {e}")))?;
        }
        encode_one(builder.build())
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.command_info(request, schema, query)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.querying_caller(&request)?;
        let mut builder = query.into_builder();
        for kind in ["TABLE", "VIEW"] {
            builder.append(kind);
        }
        encode_one(builder.build())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder(&self.sql_info).schema();
        flight_info(
            &schema,
            query.as_any().encode_to_vec(),
            request.into_inner(),
        )
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.caller(&request)?;
        encode_one(query.into_builder(&self.sql_info).build())
    }

    async fn do_put_statement_update(
        &self,
        _query: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.caller(&request)?;
        Err(read_only())
    }

    async fn do_put_statement_ingest(
        &self,
        _query: CommandStatementIngest,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.caller(&request)?;
        Err(read_only())
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.caller(&request)?;
        Err(read_only())
    }

    async fn do_put_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.caller(&request)?;
        Err(Status::unimplemented(
            "hoso's Flight SQL takes SQL text, not Substrait plans",
        ))
    }

    async fn do_action_create_prepared_substrait_plan(
        &self,
        _query: ActionCreatePreparedSubstraitPlanRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.caller(&request)?;
        Err(Status::unimplemented(
            "hoso's Flight SQL takes SQL text, not Substrait plans",
        ))
    }

    async fn do_action_begin_transaction(
        &self,
        _query: ActionBeginTransactionRequest,
        request: Request<Action>,
    ) -> Result<ActionBeginTransactionResult, Status> {
        self.caller(&request)?;
        Err(read_only())
    }

    async fn do_action_end_transaction(
        &self,
        _query: ActionEndTransactionRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        self.caller(&request)?;
        Err(read_only())
    }

    async fn do_action_begin_savepoint(
        &self,
        _query: ActionBeginSavepointRequest,
        request: Request<Action>,
    ) -> Result<ActionBeginSavepointResult, Status> {
        self.caller(&request)?;
        Err(read_only())
    }

    async fn do_action_end_savepoint(
        &self,
        _query: ActionEndSavepointRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        self.caller(&request)?;
        Err(read_only())
    }

    /// `GetSqlInfo` answers from the fixed set built in [`FlightSql::new`].
    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// Serves Flight SQL on `listen` until `shutdown`.
pub async fn serve(
    executor: QueryExecutor,
    listen: SocketAddr,
    auth: Auth,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let service = FlightSql::new(executor, auth)?;
    info!(%listen, "Arrow Flight SQL listening");
    tonic::transport::Server::builder()
        .add_service(FlightServiceServer::new(service))
        .serve_with_shutdown(listen, shutdown)
        .await?;
    Ok(())
}

/// Why the Flight SQL server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("Flight SQL: {0}")]
    Setup(#[from] QueryError),
    #[error("Flight SQL transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn admin() -> Caller {
        Caller::new("hoso", Role::Admin, Protocol::FlightSql)
    }

    #[test]
    fn query_errors_map_to_grpc_codes() {
        use tonic::Code;
        let cases = [
            (
                QueryError::Refused("refused: read-only".into()),
                Code::PermissionDenied,
            ),
            (
                QueryError::Invalid("no such table".into()),
                Code::InvalidArgument,
            ),
            (QueryError::TooManyRows(10), Code::InvalidArgument),
            (
                QueryError::Timeout(Duration::from_secs(1)),
                Code::DeadlineExceeded,
            ),
            (
                QueryError::Busy {
                    limit: 2,
                    waited: Duration::from_secs(1),
                },
                Code::ResourceExhausted,
            ),
            (
                QueryError::Exhausted("memory".into()),
                Code::ResourceExhausted,
            ),
            (QueryError::Internal("bug".into()), Code::Internal),
        ];
        for (e, code) in cases {
            let status = status_of(&e);
            assert_eq!(status.code(), code, "{e}");
            assert_eq!(status.message(), e.to_string());
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_stay_bounded() {
        let sessions = Sessions::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        let a = sessions.open(admin(), t0).unwrap();
        assert_eq!(
            sessions.caller(&a, t0 + Duration::from_secs(59)),
            Some(admin())
        );
        // Used at 59 s: alive until 119 s.
        assert!(sessions.caller(&a, t0 + Duration::from_secs(118)).is_some());
        assert_eq!(sessions.caller(&a, t0 + Duration::from_secs(200)), None);
        assert_eq!(sessions.caller("not-a-session", t0), None);

        let b = sessions.open(admin(), t0).unwrap();
        let c = sessions.open(admin(), t0 + Duration::from_secs(1)).unwrap();
        assert_ne!(b, c);
        // Full: the least recently used goes.
        let d = sessions.open(admin(), t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(sessions.caller(&b, t0 + Duration::from_secs(3)), None);
        assert!(sessions.caller(&c, t0 + Duration::from_secs(3)).is_some());
        assert!(sessions.caller(&d, t0 + Duration::from_secs(3)).is_some());
    }

    #[test]
    fn basic_credentials_decode() {
        let encoded = BASE64_STANDARD.encode("hoso:pa:ss");
        assert_eq!(
            basic_credentials(&encoded).unwrap(),
            ("hoso".to_string(), "pa:ss".to_string())
        );
        assert!(basic_credentials("%%%").is_err());
        assert!(basic_credentials(&BASE64_STANDARD.encode("no-colon")).is_err());
        assert_eq!(strip_scheme("bearer abc", "Bearer "), Some("abc"));
        assert_eq!(strip_scheme("Basic abc", "Bearer "), None);
        assert_eq!(strip_scheme("Be", "Bearer "), None);
    }
}
