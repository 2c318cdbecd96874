//! `POST /v1/dvcqg`: the portal's synchronisation requests, as a
//! province's system already sends them to the National Public Service
//! Portal, pointed at hoso unchanged.
//!
//! Answers in the portal's shape, which those senders read:
//! `{"error_code": "0", "message": ..., "message_en": ..., "accepted": N}`
//! only after Kafka acknowledged all N envelopes. Refused (422, publishing
//! nothing): `error_code` "1" and every field error (`errors`, the first
//! 20, and `more_errors`). Too large (413): "2". Kafka away (503 with
//! `Retry-After`): "9"; the request can be sent again as is, since a
//! record sent twice changes nothing.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hoso_model::portal::request::Refused;
use serde_json::{Value, json};

use crate::http::{IngestState, count_accepted, count_rejected, counted, retry_later};

pub async fn post_dvcqg(
    State(state): State<Arc<IngestState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    counted(&state, handle(&state, body).await)
}

/// The portal's answer: a code, a Vietnamese and an English message.
fn answer(status: StatusCode, code: &str, vi: String, en: String, extra: Value) -> Response {
    let mut body = json!({"error_code": code, "message": vi, "message_en": en});
    if let (Value::Object(b), Value::Object(x)) = (&mut body, extra) {
        b.extend(x);
    }
    (status, axum::Json(body)).into_response()
}

async fn handle(state: &IngestState, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let limit = state.config.max_body_bytes;
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                "2",
                format!("Yêu cầu vượt quá {limit} byte; hãy chia thành các yêu cầu nhỏ hơn"),
                format!(
                    "request body exceeds {limit} bytes (ingest.max_body_bytes); split it into \
                     smaller requests"
                ),
                json!({}),
            );
        }
        Err(r) => {
            let text = r.body_text();
            return answer(
                r.status(),
                "1",
                format!("Không đọc được yêu cầu: {text}"),
                text,
                json!({}),
            );
        }
    };
    let stamp = now_ms();
    let parsed = {
        let body = body.clone();
        let dues = state.due_rules.clone();
        let units = state.portal_units.clone();
        tokio::task::spawn_blocking(move || super::envelopes(&body, &dues, units.as_deref(), stamp))
            .await
    };
    let items = match parsed {
        Ok(Ok(items)) => items,
        Ok(Err(refused)) => return refuse(state, refused),
        Err(e) => {
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "9",
                "Lỗi hệ thống khi đọc yêu cầu".into(),
                format!("parser failed: {e}"),
                json!({}),
            );
        }
    };
    if let Err(reason) = state.health.get() {
        return unavailable(state, items.len(), &reason);
    }
    let started = Instant::now();
    let messages = items.iter().map(|i| (i.key.as_str(), i.payload.as_slice()));
    match state.publisher.publish(messages).await {
        Ok(n) => {
            count_accepted(state, n, started);
            answer(
                StatusCode::OK,
                "0",
                format!("Đã tiếp nhận {n} bản ghi"),
                format!("accepted {n} items"),
                json!({"accepted": n}),
            )
        }
        Err(e) => unavailable(state, items.len(), &e.to_string()),
    }
}

fn refuse(state: &IngestState, r: Refused) -> Response {
    count_rejected(state, "invalid", r.count);
    let errors: Vec<Value> = r
        .errors
        .iter()
        .map(|e| json!({"field": e.field, "error": e.message}))
        .collect();
    let mut extra = json!({ "errors": errors });
    if r.count > r.errors.len() {
        extra["more_errors"] = json!(r.count - r.errors.len());
    }
    answer(
        StatusCode::UNPROCESSABLE_ENTITY,
        "1",
        format!("Dữ liệu không hợp lệ, không bản ghi nào được nhận: {r}"),
        format!("invalid data, nothing of the request was taken: {r}"),
        extra,
    )
}

fn unavailable(state: &IngestState, n: usize, reason: &str) -> Response {
    count_rejected(state, "unavailable", n);
    let resp = answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "9",
        "Hệ thống tạm thời chưa nhận được dữ liệu; hãy gửi lại sau".into(),
        format!("{reason}; send the request again later (a record sent twice changes nothing)"),
        json!({}),
    );
    retry_later(state, resp)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
