//! `GET /api/alerts`: the alerts the caller may see, as JSON, pending and
//! firing first (most severe first), then the recently resolved.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hoso_model::time::format_utc_ms;
use serde_json::{Value, json};

use super::AlertBook;
use super::rules::{Alert, State as AlertState};
use crate::auth::Auth;
use crate::http::{caller_of, unauthorized};

#[derive(Clone)]
struct ApiState {
    book: AlertBook,
    auth: Auth,
}

pub fn router(book: AlertBook, auth: Auth) -> Router {
    Router::new()
        .route("/api/alerts", get(alerts))
        .with_state(ApiState { book, auth })
}

async fn alerts(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let caller = match caller_of(&state.auth, &headers) {
        Ok(c) => c,
        Err(e) => return unauthorized(e),
    };
    if !caller.role.may_query() {
        let message = format!(
            "user {:?} has the role {}, which may not read alerts",
            caller.user, caller.role
        );
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({ "error": message })),
        )
            .into_response();
    }
    let mut alerts = state.book.visible(caller.role.province());
    alerts.sort_by_key(|a| (rank(a), a.rule.clone(), a.labels.clone()));
    let list: Vec<Value> = alerts.iter().map(to_json).collect();
    axum::Json(json!({ "alerts": list })).into_response()
}

/// Firing before pending before resolved; critical before warning.
fn rank(a: &Alert) -> (u8, u8) {
    let state = match a.state {
        AlertState::Firing => 0,
        AlertState::Pending => 1,
        AlertState::Resolved => 2,
    };
    let severity = match a.severity.as_str() {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    };
    (state, severity)
}

fn to_json(a: &Alert) -> Value {
    json!({
        "rule": a.rule,
        "state": a.state,
        "severity": a.severity,
        "summary": a.summary,
        "value": a.value,
        "labels": a.labels,
        "active_at": format_utc_ms(a.active_at),
        "fired_at": a.fired_at.map(format_utc_ms),
        "resolved_at": a.resolved_at.map(format_utc_ms),
    })
}
