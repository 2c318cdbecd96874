//! `POST /v1/sql`: the body is the SQL text, `?format=json` (default, an
//! array of objects) or `?format=csv` (with a header).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;

use crate::error::QueryError;
use crate::executor::{QueryExecutor, QueryOutput};

#[derive(Deserialize)]
struct SqlParams {
    format: Option<String>,
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Csv,
}

/// The SQL routes, to merge into a server.
pub fn router(executor: QueryExecutor) -> Router {
    Router::new()
        .route("/v1/sql", post(sql))
        .with_state(executor)
}

async fn sql(
    State(executor): State<QueryExecutor>,
    Query(params): Query<SqlParams>,
    body: Bytes,
) -> Response {
    let format = match params.format.as_deref() {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("unknown format {other:?}: use json or csv"),
            );
        }
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
    match executor.execute(text).await {
        Ok(out) => match encode(&out, format) {
            Ok(resp) => resp,
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot encode the result: {e}"),
            ),
        },
        Err(e) => error(status_of(&e), &e.to_string()),
    }
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

fn encode(out: &QueryOutput, format: Format) -> Result<Response, arrow::error::ArrowError> {
    let mut buf = Vec::with_capacity(out.num_rows() * 64 + 16);
    let content_type = match format {
        Format::Json => {
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(&mut buf);
            for b in &out.batches {
                w.write(b)?;
            }
            w.finish()?;
            drop(w);
            if buf.is_empty() {
                buf.extend_from_slice(b"[]");
            }
            "application/json"
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut buf);
            if out.batches.is_empty() {
                let empty = arrow::record_batch::RecordBatch::new_empty(out.schema.clone());
                w.write(&empty)?;
            }
            for b in &out.batches {
                w.write(b)?;
            }
            drop(w);
            "text/csv; charset=utf-8"
        }
    };
    let mut resp = (StatusCode::OK, buf).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(resp)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}
