//! Alert rules and their state machine, as Prometheus keeps them.
//!
//! A rule is SQL whose rows are candidate alerts: every column but `value`
//! is a label, `value` is compared with the threshold. A label set whose
//! value breaches is `pending` from the first evaluation that sees it,
//! `firing` once it has breached for the rule's `for_s`, and `resolved` at
//! the first evaluation that no longer sees it breach (a pending one is just
//! dropped). One label set is one alert: evaluations update it, never
//! duplicate it. Time is passed in, so the machine is tested with a
//! controlled clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One `[[alerting.rules]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The alert's name (`alertname` in Alertmanager).
    pub name: String,
    /// Rows of label columns and a numeric `value` column.
    pub sql: String,
    /// What `value` is compared with.
    pub threshold: f64,
    /// `>`, `>=`, `<`, `<=`, `==` or `!=`: `value <op> threshold` breaches.
    #[serde(default = "default_op")]
    pub op: String,
    /// How long a label set must breach before it fires; 0 fires at once.
    #[serde(default)]
    pub for_s: u64,
    /// `critical`, `warning` or `info`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// One line for people; `{label}` and `{value}` are filled in.
    #[serde(default)]
    pub summary: String,
}

fn default_op() -> String {
    ">".into()
}

fn default_severity() -> String {
    "warning".into()
}

/// The comparison of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Op {
    pub fn parse(text: &str) -> Result<Op, String> {
        Ok(match text {
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            "==" | "=" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            _ => return Err(format!("op {text:?}: use >, >=, <, <=, == or !=")),
        })
    }

    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Eq => value == threshold,
            Op::Ne => value != threshold,
        }
    }
}

/// A checked rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub sql: String,
    pub threshold: f64,
    pub op: Op,
    pub for_ms: i64,
    pub severity: String,
    pub summary: String,
}

impl Rule {
    pub fn new(c: &RuleConfig) -> Result<Rule, String> {
        let at = format!("alerting.rules {:?}", c.name);
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            return Err(format!("{at}: the name must be letters, digits and _"));
        }
        if c.sql.trim().is_empty() {
            return Err(format!("{at}: sql is empty"));
        }
        if !c.threshold.is_finite() {
            return Err(format!("{at}: threshold must be a finite number"));
        }
        if !["critical", "warning", "info"].contains(&c.severity.as_str()) {
            return Err(format!(
                "{at}: severity {:?}: use critical, warning or info",
                c.severity
            ));
        }
        Ok(Rule {
            name: c.name.clone(),
            sql: c.sql.clone(),
            threshold: c.threshold,
            op: Op::parse(&c.op).map_err(|e| format!("{at}: {e}"))?,
            for_ms: i64::try_from(c.for_s.saturating_mul(1000)).unwrap_or(i64::MAX),
            severity: c.severity.clone(),
            summary: c.summary.clone(),
        })
    }

    /// The summary with `{label}` and `{value}` filled in.
    pub fn summary_for(&self, labels: &Labels, value: f64) -> String {
        let mut out = if self.summary.is_empty() {
            format!("{} {} {}", self.name, value, self.threshold)
        } else {
            self.summary.clone()
        };
        for (k, v) in labels {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out.replace("{value}", &format_value(value))
    }
}

/// A value as people read it: up to 4 decimals, no trailing zeros.
pub fn format_value(v: f64) -> String {
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// Label name to value, sorted: the identity of an alert within its rule.
pub type Labels = BTreeMap<String, String>;

/// Where an alert is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Firing,
    Resolved,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Firing => "firing",
            State::Resolved => "resolved",
        }
    }
}

/// One alert of a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub rule: String,
    pub labels: Labels,
    pub state: State,
    pub value: f64,
    pub severity: String,
    pub summary: String,
    /// When it was first seen breaching (ms since the epoch).
    pub active_at: i64,
    /// When it started firing.
    pub fired_at: Option<i64>,
    /// When it was seen not breaching after firing.
    pub resolved_at: Option<i64>,
}

/// A state change that receivers hear about.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub alert: Alert,
    /// The state before: `None` when new.
    pub from: Option<State>,
}

/// The alerts of one rule across evaluations.
#[derive(Debug)]
pub struct RuleState {
    pub rule: Rule,
    active: BTreeMap<Labels, Alert>,
    /// Resolved alerts, kept for [`RuleState::RESOLVED_KEPT_MS`] so that
    /// `alerts` and `/api/alerts` show what just ended.
    resolved: Vec<Alert>,
}

impl RuleState {
    /// How long a resolved alert stays listed.
    pub const RESOLVED_KEPT_MS: i64 = 15 * 60 * 1000;

    pub fn new(rule: Rule) -> Self {
        RuleState {
            rule,
            active: BTreeMap::new(),
            resolved: Vec::new(),
        }
    }

    /// Applies one evaluation at `now`: the rows the SQL returned, as
    /// (labels, value). Returns the state changes, in label order.
    pub fn evaluate(&mut self, now: i64, rows: Vec<(Labels, f64)>) -> Vec<Transition> {
        let rule = &self.rule;
        let mut breaching: BTreeMap<Labels, f64> = BTreeMap::new();
        for (labels, value) in rows {
            if rule.op.breaches(value, rule.threshold) {
                // Two rows with one label set are one alert; the last wins.
                breaching.insert(labels, value);
            }
        }
        let mut changes = Vec::new();
        // Seen no longer: firing ones resolve, pending ones are dropped.
        let gone: Vec<Labels> = self
            .active
            .keys()
            .filter(|l| !breaching.contains_key(*l))
            .cloned()
            .collect();
        for labels in gone {
            let mut alert = self.active.remove(&labels).expect("listed above");
            if alert.state == State::Firing {
                alert.state = State::Resolved;
                alert.resolved_at = Some(now);
                changes.push(Transition {
                    alert: alert.clone(),
                    from: Some(State::Firing),
                });
                self.resolved.push(alert);
            }
        }
        for (labels, value) in breaching {
            let summary = rule.summary_for(&labels, value);
            let is_new = !self.active.contains_key(&labels);
            let alert = self.active.entry(labels.clone()).or_insert_with(|| Alert {
                rule: rule.name.clone(),
                labels,
                state: State::Pending,
                value,
                severity: rule.severity.clone(),
                summary: summary.clone(),
                active_at: now,
                fired_at: None,
                resolved_at: None,
            });
            alert.value = value;
            alert.summary = summary;
            let before = alert.state;
            if before == State::Pending && now - alert.active_at >= rule.for_ms {
                alert.state = State::Firing;
                alert.fired_at = Some(now);
            }
            if is_new || alert.state != before {
                changes.push(Transition {
                    alert: alert.clone(),
                    from: (!is_new).then_some(before),
                });
            }
        }
        self.resolved.retain(|a| {
            a.resolved_at
                .is_some_and(|t| now - t < Self::RESOLVED_KEPT_MS)
        });
        changes
    }

    /// Pending and firing alerts, then the recently resolved.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().chain(self.resolved.iter())
    }

    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().filter(|a| a.state == State::Firing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(op: &str, threshold: f64, for_s: u64) -> Rule {
        Rule::new(&RuleConfig {
            name: "OnTimeRateLow".into(),
            sql: "SELECT commune_code, rate AS value FROM x".into(),
            threshold,
            op: op.into(),
            for_s,
            severity: "warning".into(),
            summary: "on-time {value} in {commune_code}".into(),
        })
        .unwrap()
    }

    fn row(commune: &str, value: f64) -> (Labels, f64) {
        (
            Labels::from([("commune_code".to_string(), commune.to_string())]),
            value,
        )
    }

    fn states(changes: &[Transition]) -> Vec<(String, Option<State>, State)> {
        changes
            .iter()
            .map(|t| {
                (
                    t.alert.labels["commune_code"].clone(),
                    t.from,
                    t.alert.state,
                )
            })
            .collect()
    }

    #[test]
    fn pending_then_firing_after_for_then_resolved() {
        let mut s = RuleState::new(rule("<", 0.95, 60));
        let c = s.evaluate(0, vec![row("A", 0.90), row("B", 0.99)]);
        assert_eq!(states(&c), [("A".into(), None, State::Pending)]);
        // Still breaching, not for long enough: nothing changes.
        assert!(s.evaluate(30_000, vec![row("A", 0.91)]).is_empty());
        assert_eq!(
            s.alerts().next().unwrap().value,
            0.91,
            "the value is updated"
        );
        let c = s.evaluate(60_000, vec![row("A", 0.92)]);
        assert_eq!(
            states(&c),
            [("A".into(), Some(State::Pending), State::Firing)]
        );
        assert_eq!(c[0].alert.summary, "on-time 0.92 in A");
        assert_eq!(c[0].alert.fired_at, Some(60_000));
        // Firing is not announced again while it lasts: one alert, not many.
        assert!(s.evaluate(90_000, vec![row("A", 0.93)]).is_empty());
        assert_eq!(s.firing().count(), 1);
        let c = s.evaluate(120_000, vec![row("A", 0.96)]);
        assert_eq!(
            states(&c),
            [("A".into(), Some(State::Firing), State::Resolved)]
        );
        assert_eq!(c[0].alert.resolved_at, Some(120_000));
        // Listed as resolved for a while, then gone.
        assert_eq!(s.alerts().count(), 1);
        s.evaluate(120_000 + RuleState::RESOLVED_KEPT_MS, vec![]);
        assert_eq!(s.alerts().count(), 0);
    }

    #[test]
    fn a_pending_alert_that_recovers_is_dropped_unannounced() {
        let mut s = RuleState::new(rule("<", 0.95, 300));
        s.evaluate(0, vec![row("A", 0.5)]);
        assert!(s.evaluate(10_000, vec![row("A", 0.99)]).is_empty());
        assert_eq!(s.alerts().count(), 0);
        // Breaching again starts the `for` anew.
        s.evaluate(20_000, vec![row("A", 0.5)]);
        assert!(s.evaluate(310_000, vec![row("A", 0.5)]).is_empty());
        let c = s.evaluate(320_000, vec![row("A", 0.5)]);
        assert_eq!(c[0].alert.state, State::Firing);
    }

    #[test]
    fn for_zero_fires_at_once_and_each_label_set_is_one_alert() {
        let mut s = RuleState::new(rule(">", 100.0, 0));
        let c = s.evaluate(
            0,
            vec![
                row("A", 150.0),
                row("A", 160.0),
                row("B", 101.0),
                row("C", 100.0),
            ],
        );
        assert_eq!(
            states(&c),
            [
                ("A".into(), None, State::Firing),
                ("B".into(), None, State::Firing)
            ]
        );
        assert_eq!(c[0].alert.value, 160.0);
        assert_eq!(s.firing().count(), 2);
    }

    #[test]
    fn bad_rules_are_named() {
        let base = RuleConfig {
            name: "X".into(),
            sql: "SELECT 1 AS value".into(),
            threshold: 1.0,
            op: ">".into(),
            for_s: 0,
            severity: "warning".into(),
            summary: String::new(),
        };
        for (bad, fragment) in [
            (
                RuleConfig {
                    name: "a b".into(),
                    ..base.clone()
                },
                "name",
            ),
            (
                RuleConfig {
                    op: "~".into(),
                    ..base.clone()
                },
                "op",
            ),
            (
                RuleConfig {
                    severity: "page".into(),
                    ..base.clone()
                },
                "severity",
            ),
            (
                RuleConfig {
                    sql: " ".into(),
                    ..base.clone()
                },
                "sql",
            ),
        ] {
            let e = Rule::new(&bad).unwrap_err();
            assert!(e.contains(fragment) && e.contains("alerting.rules"), "{e}");
        }
        assert!(Rule::new(&base).is_ok());
    }

    #[test]
    fn values_print_short() {
        assert_eq!(format_value(0.9), "0.9");
        assert_eq!(format_value(12.0), "12");
        assert_eq!(format_value(0.123456), "0.1235");
    }
}
