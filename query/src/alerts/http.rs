//! `GET /api/alerts`: the alerts the caller may see, as JSON, firing
//! first (most severe first), then pending, then the recently resolved.
//! It reads the `alerts` view through the executor as the caller, so it
//! shows exactly what `SELECT * FROM alerts` shows them.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::executor::QueryExecutor;
use crate::format::{Encoder, Format};
use crate::http::{caller_of, query_error, unauthorized};

/// At most this many alerts in one answer (filings can be many).
const MAX_ALERTS: usize = 10_000;

#[derive(Clone)]
struct ApiState {
    executor: QueryExecutor,
    auth: Auth,
}

pub fn router(executor: QueryExecutor, auth: Auth) -> Router {
    Router::new()
        .route("/api/alerts", get(alerts))
        .with_state(ApiState { executor, auth })
}

async fn alerts(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let caller = match caller_of(&state.auth, &headers) {
        Ok(c) => c,
        Err(e) => return unauthorized(e),
    };
    let sql = format!(
        "SELECT rule, state, severity, summary, value, filing_id, labels, \
           active_at, fired_at, resolved_at FROM alerts \
         ORDER BY CASE state WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, \
           CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, \
           active_at, rule, labels LIMIT {MAX_ALERTS}"
    );
    let out = match state.executor.execute(&caller, &sql).await {
        Ok(out) => out,
        Err(e) => return query_error(&e),
    };
    let mut text = Vec::new();
    let encoded = Encoder::new(Format::Json, &out.schema).and_then(|mut enc| {
        for b in &out.batches {
            text.extend_from_slice(&enc.write(b)?);
        }
        text.extend_from_slice(&enc.finish()?);
        Ok(())
    });
    if let Err(e) = encoded {
        return query_error(&e);
    }
    let mut list: Vec<Value> = serde_json::from_slice(&text).unwrap_or_default();
    for alert in &mut list {
        // The labels column is a JSON object in text.
        if let Some(labels) = alert.get("labels").and_then(Value::as_str) {
            let parsed = serde_json::from_str(labels).unwrap_or(Value::Null);
            alert["labels"] = parsed;
        }
    }
    axum::Json(json!({ "alerts": list })).into_response()
}
