//! Delivery in Alertmanager's format: `POST {url}/api/v2/alerts` with a
//! JSON array of alerts, as Prometheus sends them. A firing alert is sent
//! when it begins and again every [`RESEND_MS`] (Prometheus's default
//! resend delay), with `endsAt` four resends ahead, so that Alertmanager
//! resolves it itself if hoso stops; a resolved alert is sent once with
//! `endsAt` at its resolution. Filings can make thousands of alerts: they
//! go in POSTs of at most [`MAX_PER_POST`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hoso_model::time::format_utc_ms;
use serde_json::{Value, json};
use tracing::warn;

use super::rules::{Alert, Labels};

/// How often a firing alert is sent again (at least every evaluation).
pub const RESEND_MS: i64 = 60_000;

/// The most alerts in one POST.
pub const MAX_PER_POST: usize = 1_000;

pub struct Webhook {
    url: String,
    client: reqwest::Client,
    resend_ms: i64,
    /// When each firing alert (rule, labels) was last taken by the
    /// receiver.
    sent: Mutex<HashMap<(String, Labels), i64>>,
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
            resend_ms: RESEND_MS.max(i64::try_from(interval_ms).unwrap_or(RESEND_MS)),
            sent: Mutex::default(),
        }))
    }

    /// Sends the firing alerts that are new or due to be sent again, and
    /// the newly resolved ones. A failure is logged; the firing alerts of
    /// a refused POST are sent again at the next evaluation.
    pub async fn send(&self, now: i64, firing: &[Alert], resolved: &[Alert]) {
        let due: Vec<&Alert> = {
            let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
            // Forget what no longer fires.
            let live: std::collections::HashSet<(&str, &Labels)> = firing
                .iter()
                .map(|a| (a.rule.as_str(), &a.labels))
                .collect();
            sent.retain(|(rule, labels), _| live.contains(&(rule.as_str(), labels)));
            firing
                .iter()
                .filter(|a| {
                    sent.get(&(a.rule.clone(), a.labels.clone()))
                        .is_none_or(|at| now - at >= self.resend_ms)
                })
                .collect()
        };
        let ends_at = now + 4 * self.resend_ms;
        let body: Vec<(Option<&Alert>, Value)> = due
            .iter()
            .map(|a| (Some(*a), payload(a, ends_at)))
            .chain(
                resolved
                    .iter()
                    .map(|a| (None, payload(a, a.resolved_at.unwrap_or(now)))),
            )
            .collect();
        for chunk in body.chunks(MAX_PER_POST) {
            let alerts: Vec<&Value> = chunk.iter().map(|(_, v)| v).collect();
            let taken = match self.client.post(&self.url).json(&alerts).send().await {
                Ok(r) if r.status().is_success() => true,
                Ok(r) => {
                    warn!(url = %self.url, status = %r.status(), "Alertmanager refused the alerts");
                    false
                }
                Err(e) => {
                    warn!(url = %self.url, error = %e, "cannot reach Alertmanager");
                    false
                }
            };
            if taken {
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                for a in chunk.iter().filter_map(|(a, _)| *a) {
                    sent.insert((a.rule.clone(), a.labels.clone()), now);
                }
            }
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
