//! Evaluates every rule on a schedule, through the executor, as the
//! internal admin caller `alerting`, and reads the filing alerts of the
//! processor's deadline timers; state changes go to the book, the webhook
//! and the sinks (the Kafka topic `alerts`).

use std::sync::Mutex;
use std::time::Duration;

use arrow::array::{Array, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use tracing::{info, warn};

use super::filings::{self, FilingWatch};
use super::rules::{Alert, Labels, Rule, RuleState, State, Transition};
use super::webhook::Webhook;
use super::{AlertBook, AlertingConfig};
use crate::auth::{Caller, Protocol, Role};
use crate::executor::{QueryExecutor, QueryOutput};

/// The alerting metrics.
#[derive(Clone)]
pub struct AlertMetrics {
    /// Alerts by rule and state (`pending`, `firing`).
    pub alerts: IntGaugeVec,
    /// Evaluations whose SQL failed, by rule.
    pub failures: IntCounterVec,
}

impl AlertMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let m = AlertMetrics {
            alerts: IntGaugeVec::new(
                Opts::new("hoso_alerting_alerts", "Active alerts by rule and state."),
                &["rule", "state"],
            )?,
            failures: IntCounterVec::new(
                Opts::new(
                    "hoso_alerting_rule_evaluation_failures_total",
                    "Rule evaluations whose SQL failed or answered without a numeric value column.",
                ),
                &["rule"],
            )?,
        };
        registry.register(Box::new(m.alerts.clone()))?;
        registry.register(Box::new(m.failures.clone()))?;
        Ok(m)
    }
}

pub struct Engine {
    executor: QueryExecutor,
    book: AlertBook,
    interval: Duration,
    webhook: Option<Webhook>,
    /// Where every state change goes too (the Kafka topic `alerts`).
    sinks: Vec<Box<dyn AlertSink>>,
    metrics: AlertMetrics,
    caller: Caller,
    /// The filing alerts of the previous evaluation.
    filings: Mutex<FilingWatch>,
}

impl Engine {
    /// Checks the rules and puts them, with no alerts yet, in the book.
    pub fn new(
        config: &AlertingConfig,
        executor: QueryExecutor,
        book: AlertBook,
        metrics: AlertMetrics,
    ) -> Result<Engine, String> {
        let mut names = std::collections::HashSet::new();
        let mut states = Vec::new();
        for c in &config.rules {
            let rule = Rule::new(c)?;
            if filings::RULES.contains(&rule.name.as_str()) {
                return Err(format!(
                    "alerting.rules {:?}: this name is the deadline timers' own alert",
                    rule.name
                ));
            }
            if !names.insert(rule.name.clone()) {
                return Err(format!(
                    "alerting.rules {:?}: two rules have this name",
                    rule.name
                ));
            }
            // Exported at 0 from the start, so that rate() and increase()
            // see the first failure.
            metrics.failures.with_label_values(&[&rule.name]);
            states.push(RuleState::new(rule));
        }
        for name in filings::RULES {
            metrics.failures.with_label_values(&[name]);
        }
        book.with(|rules| *rules = states);
        Ok(Engine {
            executor,
            book,
            interval: Duration::from_millis(config.evaluation_interval_ms.max(100)),
            webhook: Webhook::new(&config.alertmanager_url, config.evaluation_interval_ms)?,
            sinks: Vec::new(),
            metrics,
            caller: Caller::new("alerting", Role::Admin, Protocol::Internal),
            filings: Mutex::default(),
        })
    }

    /// Also hands every state change to `sink`.
    pub fn with_sink(mut self, sink: Box<dyn AlertSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Evaluates every `interval` until `stop`.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let engine = &self;
        crate::schedule::every(self.interval, stop, |now| async move {
            engine.evaluate(now).await;
        })
        .await;
    }

    /// One evaluation of every rule at `now`; returns the state changes.
    pub async fn evaluate(&self, now: i64) -> Vec<Transition> {
        let rules: Vec<(String, String)> = self.book.with(|rules| {
            rules
                .iter()
                .map(|r| (r.rule.name.clone(), r.rule.sql.clone()))
                .collect()
        });
        let mut changes = Vec::new();
        for (i, (name, sql)) in rules.iter().enumerate() {
            let rows = match self.executor.execute(&self.caller, sql).await {
                Ok(out) => rows_of(&out),
                Err(e) => Err(e.to_string()),
            };
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    // Alerts stay as they were: a failed evaluation is no
                    // evidence either way.
                    warn!(rule = %name, error = %e, "alert rule evaluation failed");
                    self.metrics.failures.with_label_values(&[name]).inc();
                    continue;
                }
            };
            changes.extend(self.book.with(|rules| rules[i].evaluate(now, rows)));
        }
        for t in &changes {
            info!(
                rule = %t.alert.rule, labels = ?t.alert.labels, state = t.alert.state.as_str(),
                value = t.alert.value, "alert {}", t.alert.state.as_str()
            );
        }
        changes.extend(self.filing_changes(now).await);
        self.count();
        if let Some(w) = &self.webhook {
            let mut firing: Vec<_> = self
                .book
                .with(|rules| rules.iter().flat_map(|r| r.firing().cloned()).collect());
            firing.extend(self.watch(|w| w.firing().cloned().collect::<Vec<_>>()));
            let resolved: Vec<_> = changes
                .iter()
                .filter(|t| t.alert.state == State::Resolved)
                .map(|t| t.alert.clone())
                .collect();
            w.send(now, &firing, &resolved).await;
        }
        if !changes.is_empty() {
            for sink in &self.sinks {
                sink.deliver(&changes).await;
            }
        }
        changes
    }

    /// What began and ended among the filing alerts since the previous
    /// evaluation. A failed read changes nothing, like a failed rule.
    async fn filing_changes(&self, now: i64) -> Vec<Transition> {
        let rows = match self.executor.execute(&self.caller, filings::SQL).await {
            Ok(out) => rows_of(&out),
            Err(e) => Err(e.to_string()),
        };
        match rows {
            Ok(rows) => {
                let current: Vec<Alert> = rows
                    .into_iter()
                    .filter_map(|(labels, value)| filings::alert_of(labels, value, now))
                    .collect();
                let changes = self.watch(|w| w.update(now, current));
                if !changes.is_empty() {
                    // Filings are many: one line, not one per filing.
                    let began = changes.iter().filter(|t| t.from.is_none()).count();
                    info!(
                        began,
                        ended = changes.len() - began,
                        "filing alerts changed"
                    );
                }
                changes
            }
            Err(e) => {
                warn!(error = %e, "reading the filing alerts failed");
                for name in filings::RULES {
                    self.metrics.failures.with_label_values(&[name]).inc();
                }
                Vec::new()
            }
        }
    }

    fn watch<R>(&self, f: impl FnOnce(&mut FilingWatch) -> R) -> R {
        f(&mut self.filings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn count(&self) {
        self.metrics.alerts.reset();
        self.watch(|w| {
            for a in w.firing() {
                self.metrics
                    .alerts
                    .with_label_values(&[&a.rule, a.state.as_str()])
                    .inc();
            }
        });
        self.book.with(|rules| {
            for r in rules.iter() {
                for a in r.alerts().filter(|a| a.state != State::Resolved) {
                    self.metrics
                        .alerts
                        .with_label_values(&[&r.rule.name, a.state.as_str()])
                        .inc();
                }
            }
        });
    }
}

/// A receiver of state changes, in the order they happened. Delivery
/// failures are the sink's to log; evaluation goes on.
#[async_trait::async_trait]
pub trait AlertSink: Send + Sync {
    async fn deliver(&self, changes: &[Transition]);
}

/// A state change as JSON: what the Kafka topic `alerts` carries.
pub fn change_json(t: &Transition) -> serde_json::Value {
    let a = &t.alert;
    serde_json::json!({
        "rule": a.rule,
        "state": a.state,
        "previous_state": t.from,
        "severity": a.severity,
        "summary": a.summary,
        "value": a.value,
        "labels": a.labels,
        "active_at": hoso_model::time::format_utc_ms(a.active_at),
        "fired_at": a.fired_at.map(hoso_model::time::format_utc_ms),
        "resolved_at": a.resolved_at.map(hoso_model::time::format_utc_ms),
    })
}

/// A rule's answer as (labels, value): `value` is the numeric column,
/// every other column a label (NULL as empty). Rows whose value is NULL
/// or NaN are not candidates.
pub fn rows_of(out: &QueryOutput) -> Result<Vec<(Labels, f64)>, String> {
    let Some(vi) = out.schema.fields().iter().position(|f| f.name() == "value") else {
        return Err("the rule's SQL must answer a column named value".into());
    };
    let mut rows = Vec::new();
    for batch in &out.batches {
        let values = cast(batch.column(vi), &DataType::Float64)
            .map_err(|e| format!("the value column is not numeric: {e}"))?;
        let values = values
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to Float64");
        let labels: Vec<(String, StringArray)> = out
            .schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != vi)
            .map(|(i, f)| {
                let text = cast(batch.column(i), &DataType::Utf8)
                    .map_err(|e| format!("label {}: {e}", f.name()))?;
                let text = text
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8")
                    .clone();
                Ok((f.name().clone(), text))
            })
            .collect::<Result<_, String>>()?;
        for row in 0..batch.num_rows() {
            if values.is_null(row) || values.value(row).is_nan() {
                continue;
            }
            let set: Labels = labels
                .iter()
                .map(|(name, col)| {
                    let v = if col.is_null(row) { "" } else { col.value(row) };
                    (name.clone(), v.to_string())
                })
                .collect();
            rows.push((set, values.value(row)));
        }
    }
    Ok(rows)
}
