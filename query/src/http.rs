//! `POST /v1/sql`: the body is the SQL text, the caller's token in
//! `Authorization: Bearer` (none needed in local mode); `?format=json` (default, an
//! array of objects), `csv` (with a header), `arrow` (IPC stream) or
//! `parquet`.
//!
//! The result is sent as it is computed. The status line goes out with the
//! first bytes, so the response waits until [`FIRST_CHUNK_BYTES`] of the
//! result are encoded or the result is complete: an error before that (a
//! refusal, bad SQL, the timeout, the row cap, memory) is an ordinary error
//! status with a JSON message. An error after it can no longer change the
//! status: the body is cut short, without HTTP/1.1's final chunk, which
//! every client reports as an incomplete response (curl: exit code 18), and
//! the server logs why. Any format also shows it: a JSON array without its
//! `]`, an Arrow stream without its end marker, a Parquet file without its
//! footer.
//!
//! A client that goes away drops the body, which drops the query's stream:
//! the query stops and frees its slot.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::{Stream, StreamExt};
use serde::Deserialize;

use crate::auth::{Auth, AuthError, Caller, Protocol};
use crate::error::QueryError;
use crate::executor::QueryExecutor;
use crate::format::{Encoder, Format};
use crate::stream::QueryStream;

/// How much of a result is encoded before the response starts: most
/// dashboard answers fit whole and get an exact status, larger ones start
/// flowing without waiting for their end.
pub const FIRST_CHUNK_BYTES: usize = 256 * 1024;

/// Seconds a client told 503 is asked to wait before retrying.
const RETRY_AFTER_SECONDS: &str = "1";

#[derive(Deserialize)]
struct SqlParams {
    format: Option<String>,
}

#[derive(Clone)]
struct SqlState {
    executor: QueryExecutor,
    auth: Auth,
}

/// The SQL routes, to merge into a server.
pub fn router(executor: QueryExecutor, auth: Auth) -> Router {
    Router::new()
        .route("/v1/sql", post(sql))
        .with_state(SqlState { executor, auth })
}

/// The token of an `Authorization: Bearer <token>` header, if any; any
/// other header is an error.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| AuthError::Invalid)?;
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim())),
        _ => Err(AuthError::Invalid),
    }
}

/// The caller of a request, from its bearer token.
pub fn caller_of(auth: &Auth, headers: &HeaderMap) -> Result<Caller, AuthError> {
    bearer_token(headers).and_then(|token| auth.bearer(token, Protocol::Http))
}

/// The 401 that answers a request without a valid token.
pub fn unauthorized(e: AuthError) -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, &e.to_string());
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"hoso\""),
    );
    resp
}

async fn sql(
    State(state): State<SqlState>,
    Query(params): Query<SqlParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match caller_of(&state.auth, &headers) {
        Ok(c) => c,
        Err(e) => return unauthorized(e),
    };
    let format = match Format::parse(params.format.as_deref()) {
        Ok(f) => f,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the request body must be SQL text in UTF-8",
        );
    };
    if text.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "the request body is empty: send the SQL text as the body",
        );
    }
    let rows = match state.executor.execute_stream(&caller, text).await {
        Ok(rows) => rows,
        Err(e) => return query_error(&e),
    };
    let mut chunks = match encoded(rows, format) {
        Ok(chunks) => Box::pin(chunks),
        Err(e) => return query_error(&e),
    };
    let mut first = Vec::new();
    let mut first_len = 0;
    let mut complete = false;
    while first_len < FIRST_CHUNK_BYTES {
        match chunks.next().await {
            Some(Ok(bytes)) => {
                first_len += bytes.len();
                first.push(bytes);
            }
            Some(Err(e)) => return query_error(&e),
            None => {
                complete = true;
                break;
            }
        }
    }
    let body = if complete {
        // All there: one body with its length, as before streaming.
        Body::from(first.concat())
    } else {
        let rest = chunks.map(|chunk| {
            chunk.inspect_err(|e| {
                tracing::warn!(
                    outcome = e.label(),
                    "SQL response cut short after its first bytes: {e}"
                );
            })
        });
        Body::from_stream(futures::stream::iter(first.into_iter().map(Ok)).chain(rest))
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp
}

/// The encoded result, chunk by chunk: one chunk per batch (none while
/// Parquet fills a row group), then the format's ending. Ends after the
/// first error.
fn encoded(
    rows: QueryStream,
    format: Format,
) -> Result<impl Stream<Item = Result<Bytes, QueryError>> + Send + 'static, QueryError> {
    let encoder = Encoder::new(format, &rows.schema())?;
    Ok(futures::stream::unfold(
        Some((rows, encoder)),
        |state| async move {
            let (mut rows, mut encoder) = state?;
            loop {
                match rows.next().await {
                    Some(Ok(batch)) => match encoder.write(&batch) {
                        Ok(bytes) if bytes.is_empty() => continue,
                        Ok(bytes) => return Some((Ok(bytes), Some((rows, encoder)))),
                        Err(e) => return Some((Err(e), None)),
                    },
                    Some(Err(e)) => return Some((Err(e), None)),
                    None => return Some((encoder.finish(), None)),
                }
            }
        },
    ))
}

/// The status each kind of error answers with.
pub fn status_of(e: &QueryError) -> StatusCode {
    match e {
        QueryError::Refused(_) | QueryError::Invalid(_) | QueryError::TooManyRows(_) => {
            StatusCode::BAD_REQUEST
        }
        QueryError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        QueryError::Busy { .. } | QueryError::Exhausted(_) => StatusCode::SERVICE_UNAVAILABLE,
        QueryError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error response; one that a later retry may pass says when to retry.
pub fn query_error(e: &QueryError) -> Response {
    let mut resp = error(status_of(e), &e.to_string());
    if e.is_retryable() {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    resp
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}
