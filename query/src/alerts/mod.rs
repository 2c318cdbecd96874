//! Alerting: SQL rules evaluated on a schedule through the executor, their
//! alerts kept in one [`AlertBook`], and delivered to people's tools.
//!
//! [`rules`] is the state machine (pending, firing, resolved); [`filings`]
//! turns the processor's filing alerts (at risk, overdue) into state
//! changes; [`engine`] evaluates both and hands the changes to [`webhook`]
//! (Alertmanager's `POST /api/v2/alerts`) and to the Kafka topic `alerts`;
//! the book and the filing alerts are the SQL view `alerts` ([`table`])
//! and `GET /api/alerts` ([`http`]). Each reader sees the caller's
//! province only, as everywhere else.

pub mod engine;
pub mod filings;
pub mod http;
pub mod rules;
pub mod table;
pub mod webhook;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use self::rules::{Alert, RuleConfig, RuleState};

/// The `[alerting]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// How often every rule is evaluated.
    pub evaluation_interval_ms: u64,
    /// Alertmanager's base URL (`http://127.0.0.1:9093`), or any receiver
    /// of its `POST /api/v2/alerts`; empty sends nowhere.
    pub alertmanager_url: String,
    /// The Kafka topic every state change is written to (created when
    /// missing); empty writes none.
    pub kafka_topic: String,
    pub rules: Vec<RuleConfig>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            evaluation_interval_ms: 15_000,
            alertmanager_url: String::new(),
            kafka_topic: "alerts".into(),
            rules: default_rules(),
        }
    }
}

/// The rules a new installation starts with (see the example config).
pub fn default_rules() -> Vec<RuleConfig> {
    let rule =
        |name: &str, sql: &str, op: &str, threshold: f64, for_s, severity: &str, summary: &str| {
            RuleConfig {
                name: name.into(),
                sql: sql.into(),
                threshold,
                op: op.into(),
                for_s,
                severity: severity.into(),
                summary: summary.into(),
            }
        };
    vec![
        rule(
            "CommuneOnTimeRateLow",
            "SELECT province_code, commune_code, \
             CAST(sum(ended_on_time) AS DOUBLE) / sum(ended) AS value \
             FROM daily_stats WHERE day > current_date - INTERVAL '7 days' \
             GROUP BY province_code, commune_code HAVING sum(ended) >= 20",
            "<",
            0.95,
            600,
            "warning",
            "commune {commune_code}: on-time rate {value} over 7 days, below 0.95",
        ),
        rule(
            "CommuneOverdueBacklog",
            "SELECT province_code, commune_code, overdue AS value FROM backlog",
            ">",
            50.0,
            600,
            "warning",
            "commune {commune_code}: {value} open filings past their due",
        ),
        rule(
            "PipelineStale",
            // Only while messages wait: a quiet night is not a stale pipeline.
            "SELECT behind_seconds AS value FROM system.freshness WHERE lag_messages > 0",
            ">",
            60.0,
            120,
            "critical",
            "messages wait while the newest processed event is {value} s old",
        ),
        rule(
            "ConsumerLagHigh",
            "SELECT CAST(partition AS VARCHAR) AS partition, CAST(lag AS DOUBLE) AS value \
             FROM system.partitions WHERE lag IS NOT NULL",
            ">",
            100_000.0,
            300,
            "warning",
            "partition {partition} is {value} messages behind",
        ),
    ]
}

/// Every rule's alerts, shared by the engine that writes them and the
/// table and API that read them.
#[derive(Clone, Default)]
pub struct AlertBook {
    inner: Arc<Mutex<Vec<RuleState>>>,
}

impl std::fmt::Debug for AlertBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertBook")
    }
}

impl AlertBook {
    /// Runs `f` on the rules' states.
    pub fn with<R>(&self, f: impl FnOnce(&mut Vec<RuleState>) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every alert `province` may see (all when `None`): an alert with a
    /// `province_code` label belongs to that province, one without (the
    /// pipeline's) to no province.
    pub fn visible(&self, province: Option<&str>) -> Vec<Alert> {
        self.with(|rules| {
            rules
                .iter()
                .flat_map(|r| r.alerts())
                .filter(|a| {
                    province.is_none_or(|p| {
                        a.labels.get("province_code").map(String::as_str) == Some(p)
                    })
                })
                .cloned()
                .collect()
        })
    }
}
