//! Delivery in Alertmanager's format: `POST {url}/api/v2/alerts` with a
//! JSON array of alerts, as Prometheus sends them. Firing alerts are sent
//! again at every evaluation with `endsAt` a few intervals ahead (so
//! Alertmanager resolves them itself if hoso stops); a resolved alert is
//! sent once with `endsAt` at its resolution.

use std::time::Duration;

use hoso_model::time::format_utc_ms;
use serde_json::{Value, json};
use tracing::warn;

use super::rules::Alert;

pub struct Webhook {
    url: String,
    client: reqwest::Client,
    /// How long a firing alert holds without being sent again.
    hold_ms: i64,
}

impl Webhook {
    /// `None` when `base` is empty.
    pub fn new(base: &str, interval_ms: u64) -> Result<Option<Webhook>, String> {
        let base = base.trim().trim_end_matches('/');
        if base.is_empty() {
            return Ok(None);
        }
        if !base.starts_with("http://") {
            return Err(format!(
                "alerting.alertmanager_url {base:?}: must be an http:// URL"
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("alerting.alertmanager_url: {e}"))?;
        Ok(Some(Webhook {
            url: format!("{base}/api/v2/alerts"),
            client,
            hold_ms: 4 * i64::try_from(interval_ms.max(15_000)).unwrap_or(i64::MAX / 8),
        }))
    }

    /// Sends the firing alerts and the newly resolved ones; a failure is
    /// logged, and the next evaluation sends the firing ones again.
    pub async fn send(&self, now: i64, firing: &[Alert], resolved: &[Alert]) {
        if firing.is_empty() && resolved.is_empty() {
            return;
        }
        let body: Vec<Value> = firing
            .iter()
            .map(|a| payload(a, now + self.hold_ms))
            .chain(
                resolved
                    .iter()
                    .map(|a| payload(a, a.resolved_at.unwrap_or(now))),
            )
            .collect();
        match self.client.post(&self.url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                warn!(url = %self.url, status = %r.status(), "Alertmanager refused the alerts")
            }
            Err(e) => warn!(url = %self.url, error = %e, "cannot reach Alertmanager"),
        }
    }
}

/// One alert as Alertmanager's API v2 takes it.
pub fn payload(a: &Alert, ends_at: i64) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), a.rule.clone().into());
    labels.insert("severity".into(), a.severity.clone().into());
    for (k, v) in &a.labels {
        labels.insert(k.clone(), v.clone().into());
    }
    json!({
        "labels": labels,
        "annotations": { "summary": a.summary, "value": a.value.to_string() },
        "startsAt": format_utc_ms(a.fired_at.unwrap_or(a.active_at)),
        "endsAt": format_utc_ms(ends_at),
        "generatorURL": "",
    })
}
