//! Filing alerts as state changes. The processor's deadline timers keep
//! the table `filing_alerts` current (a filing at risk or overdue is in
//! it from the instant its timer came due); the `alerts` view shows them
//! as `FilingAtRisk` and `FilingOverdue`. Receivers that listen rather
//! than ask (Alertmanager, the Kafka topic `alerts`) need the changes:
//! this watch compares each evaluation's filing alerts with the previous
//! one's and names what began (firing) and what ended (resolved: the
//! filing ended, its due moved, or it went from at risk to overdue, which
//! ends `FilingAtRisk` and begins `FilingOverdue`).
//!
//! The watch starts empty, so a restarted engine announces every filing
//! alert that is firing again; receivers key an alert by rule and labels
//! (Alertmanager does, the topic's message key is exactly that).

use std::collections::BTreeMap;

use super::rules::{Alert, Labels, State, Transition};

/// The alert names of filings; no configured rule may take them.
pub const RULES: [&str; 2] = ["FilingAtRisk", "FilingOverdue"];

/// The filing alerts, from the `alerts` view (so their summaries and
/// values are the ones people see in SQL). `fired_at` comes as
/// milliseconds since the epoch.
pub const SQL: &str = "SELECT rule, severity, summary, \
       CAST(CAST(fired_at AS BIGINT) AS VARCHAR) AS fired_at_ms, \
       province_code, commune_code, filing_id, value \
     FROM alerts WHERE rule IN ('FilingAtRisk', 'FilingOverdue') AND state = 'firing'";

/// One row of [`SQL`] as the engine reads it (every column but `value` a
/// label) turned into an alert; `None` for a row missing its rule.
pub fn alert_of(mut labels: Labels, value: f64, now: i64) -> Option<Alert> {
    let rule = labels.remove("rule")?;
    let severity = labels.remove("severity").unwrap_or_default();
    let summary = labels.remove("summary").unwrap_or_default();
    let fired_at = labels
        .remove("fired_at_ms")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(now);
    Some(Alert {
        rule,
        labels,
        state: State::Firing,
        value,
        severity,
        summary,
        active_at: fired_at,
        fired_at: Some(fired_at),
        resolved_at: None,
    })
}

/// The filing alerts last seen, by rule and labels.
#[derive(Debug, Default)]
pub struct FilingWatch {
    firing: BTreeMap<(String, Labels), Alert>,
}

impl FilingWatch {
    /// Takes this evaluation's filing alerts; returns what ended (first)
    /// and what began since the previous one.
    pub fn update(&mut self, now: i64, current: Vec<Alert>) -> Vec<Transition> {
        let mut next: BTreeMap<(String, Labels), Alert> = current
            .into_iter()
            .map(|a| ((a.rule.clone(), a.labels.clone()), a))
            .collect();
        let began: Vec<Transition> = next
            .iter()
            .filter(|(key, _)| !self.firing.contains_key(*key))
            .map(|(_, alert)| Transition {
                alert: alert.clone(),
                from: None,
            })
            .collect();
        let mut changes = Vec::new();
        for (key, mut alert) in std::mem::take(&mut self.firing) {
            match next.get_mut(&key) {
                // The same alert: it keeps the instant it began.
                Some(still) => {
                    still.active_at = alert.active_at;
                    still.fired_at = alert.fired_at;
                }
                None => {
                    alert.state = State::Resolved;
                    alert.resolved_at = Some(now);
                    changes.push(Transition {
                        alert,
                        from: Some(State::Firing),
                    });
                }
            }
        }
        changes.extend(began);
        self.firing = next;
        changes
    }

    /// The filing alerts firing now.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.firing.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, filing: &str, fired_at: i64) -> Alert {
        let labels = Labels::from([
            ("province_code".to_string(), "91".to_string()),
            ("commune_code".to_string(), "30292".to_string()),
            ("filing_id".to_string(), filing.to_string()),
        ]);
        Alert {
            rule: rule.into(),
            labels,
            state: State::Firing,
            value: -1.0,
            severity: "critical".into(),
            summary: format!("filing {filing}"),
            active_at: fired_at,
            fired_at: Some(fired_at),
            resolved_at: None,
        }
    }

    fn changes(t: &[Transition]) -> Vec<(String, String, Option<State>, State)> {
        t.iter()
            .map(|t| {
                (
                    t.alert.rule.clone(),
                    t.alert.labels["filing_id"].clone(),
                    t.from,
                    t.alert.state,
                )
            })
            .collect()
    }

    #[test]
    fn begins_once_moves_from_at_risk_to_overdue_and_ends() {
        let mut w = FilingWatch::default();
        let c = w.update(
            10,
            vec![
                alert("FilingAtRisk", "A", 5),
                alert("FilingOverdue", "B", 7),
            ],
        );
        assert_eq!(
            changes(&c),
            [
                ("FilingAtRisk".into(), "A".into(), None, State::Firing),
                ("FilingOverdue".into(), "B".into(), None, State::Firing),
            ]
        );
        // Seen again (its value moved on): nothing to announce.
        let mut b = alert("FilingOverdue", "B", 7);
        b.value = -2.0;
        assert!(
            w.update(20, vec![alert("FilingAtRisk", "A", 5), b])
                .is_empty()
        );
        assert_eq!(w.firing().count(), 2);
        // A went overdue, B was resolved.
        let c = w.update(30, vec![alert("FilingOverdue", "A", 25)]);
        assert_eq!(
            changes(&c),
            [
                (
                    "FilingAtRisk".into(),
                    "A".into(),
                    Some(State::Firing),
                    State::Resolved
                ),
                (
                    "FilingOverdue".into(),
                    "B".into(),
                    Some(State::Firing),
                    State::Resolved
                ),
                ("FilingOverdue".into(), "A".into(), None, State::Firing),
            ]
        );
        assert_eq!(c[0].alert.resolved_at, Some(30));
        assert_eq!(c[2].alert.fired_at, Some(25));
        assert!(w.update(40, vec![]).len() == 1);
        assert_eq!(w.firing().count(), 0);
    }

    #[test]
    fn a_row_becomes_an_alert_with_its_filing_labels() {
        let labels = Labels::from(
            [
                ("rule", "FilingOverdue"),
                ("severity", "critical"),
                ("summary", "filing X is past its due date"),
                ("fired_at_ms", "1800000000000"),
                ("province_code", "91"),
                ("commune_code", "30292"),
                ("filing_id", "X"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let a = alert_of(labels, -3.5, 0).unwrap();
        assert_eq!(a.rule, "FilingOverdue");
        assert_eq!(a.severity, "critical");
        assert_eq!(a.fired_at, Some(1_800_000_000_000));
        assert_eq!(
            a.labels.keys().collect::<Vec<_>>(),
            ["commune_code", "filing_id", "province_code"]
        );
        assert!(alert_of(Labels::new(), 1.0, 0).is_none());
    }
}
