//! `POST /v1/events` (contract: "Default endpoints"); `POST /v1/dvcqg`,
//! the portal's format, is `crate::dvcqg::http`.
//!
//! 202 `{"accepted": N}` only after Kafka acknowledged all N events; 422
//! with per-item errors, publishing nothing, when any event is invalid; 413
//! over `max_body_bytes`; 503 with `Retry-After` when Kafka cannot take them.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::body::{self, Refusal};
use hoso_model::catalogue::DueRules;
use hoso_model::portal::unit_map::UnitMap;
use hoso_model::units::Units;

use crate::config::IngestConfig;
use crate::metrics::IngestMetrics;
use crate::publish::{BrokerHealth, Publisher};

pub struct IngestState {
    pub config: IngestConfig,
    pub publisher: Publisher,
    pub health: BrokerHealth,
    pub metrics: IngestMetrics,
    /// Due dates for `received` events that come without one.
    pub due_rules: DueRules,
    /// The provinces and communes an event may name; `None` checks none
    /// (`units.check = false`).
    pub units: Option<Arc<Units>>,
    /// The portal's unit codes (`sources.dvcqg.units_file`), for
    /// `POST /v1/dvcqg`; `None` when no file is configured.
    pub portal_units: Option<Arc<UnitMap>>,
}

/// The ingest routes, to merge into a server.
pub fn router(state: Arc<IngestState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/events", post(post_events))
        .route("/v1/dvcqg", post(crate::dvcqg::http::post_dvcqg))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn post_events(
    State(state): State<Arc<IngestState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    counted(&state, handle(&state, body).await)
}

/// Counts a request's answer by its status (`hoso_ingest_requests_total`).
pub(crate) fn counted(state: &IngestState, response: Response) -> Response {
    state
        .metrics
        .requests
        .with_label_values(&[response.status().as_str()])
        .inc();
    response
}

/// Counts `n` refused items under `why` (`invalid`, `unavailable`).
pub(crate) fn count_rejected(state: &IngestState, why: &str, n: usize) {
    state
        .metrics
        .rejected
        .with_label_values(&[why])
        .inc_by(n as u64);
}

/// Counts a published request: its acknowledged items and how long
/// Kafka took.
pub(crate) fn count_accepted(state: &IngestState, n: usize, started: Instant) {
    state
        .metrics
        .publish_duration
        .observe(started.elapsed().as_secs_f64());
    state.metrics.accepted.inc_by(n as u64);
}

/// A 503 with the configured `Retry-After`.
pub(crate) fn retry_later(state: &IngestState, mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&state.config.retry_after_s.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

async fn handle(state: &IngestState, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let msg = format!(
                "request body exceeds {} bytes (ingest.max_body_bytes); split it into smaller requests",
                state.config.max_body_bytes
            );
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                axum::Json(json!({ "error": msg })),
            )
                .into_response();
        }
        Err(r) => {
            return (r.status(), axum::Json(json!({ "error": r.body_text() }))).into_response();
        }
    };
    // Parsing a large body is CPU work: keep it off the async workers.
    let parsed = {
        let body = body.clone();
        let dues = state.due_rules.clone();
        let units = state.units.clone();
        tokio::task::spawn_blocking(move || body::parse(&body, &dues, units.as_deref())).await
    };
    let items = match parsed {
        Ok(Ok(items)) => items,
        Ok(Err(refusal)) => return refused(state, refusal),
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({ "error": format!("parser failed: {e}") })),
            )
                .into_response();
        }
    };
    if let Err(reason) = state.health.get() {
        return unavailable(state, items.len(), &reason);
    }
    let started = Instant::now();
    let events = items
        .iter()
        .map(|i| (i.key.as_str(), &body[i.payload.clone()]));
    match state.publisher.publish(events).await {
        Ok(n) => {
            count_accepted(state, n, started);
            (StatusCode::ACCEPTED, axum::Json(json!({ "accepted": n }))).into_response()
        }
        Err(e) => unavailable(state, items.len(), &e.to_string()),
    }
}

fn refused(state: &IngestState, r: Refusal) -> Response {
    count_rejected(state, "invalid", r.items);
    let mut body = json!({ "errors": r.errors });
    if r.more > 0 {
        body["more_errors"] = json!(r.more);
    }
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

fn unavailable(state: &IngestState, n: usize, reason: &str) -> Response {
    count_rejected(state, "unavailable", n);
    let msg = format!("{reason}; retry the request later (event_id makes a retry safe)");
    let resp = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({ "error": msg })),
    )
        .into_response();
    retry_later(state, resp)
}
