//! The routes every hoso server has: `/healthz`, `/readyz`, `/metrics`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hoso_model::health::Readiness;
use prometheus::{Encoder, Registry, TextEncoder};

#[derive(Clone)]
struct Ops {
    registry: Registry,
    checks: Arc<Vec<Arc<dyn Readiness>>>,
}

pub fn router(registry: Registry, checks: Vec<Arc<dyn Readiness>>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Ops {
            registry,
            checks: Arc::new(checks),
        })
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let waiting: Vec<String> = ops
        .checks
        .iter()
        .filter_map(|c| c.readiness().err())
        .collect();
    if waiting.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n{}\n", waiting.join("\n")),
        )
            .into_response()
    }
}

async fn metrics(State(ops): State<Ops>) -> Response {
    let encoder = TextEncoder::new();
    let mut buf = Vec::new();
    if let Err(e) = encoder.encode(&ops.registry.gather(), &mut buf) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    (
        [(header::CONTENT_TYPE, encoder.format_type().to_string())],
        buf,
    )
        .into_response()
}
