//! The SQL view `alerts`: every alert of the rules (pending, firing and
//! the recently resolved, table `rule_alerts`) and every open filing at
//! risk or overdue (the processor's deadline timers, table
//! `filing_alerts`), in one shape, as the caller's scope allows.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::AlertBook;
use super::rules::Alert;
use crate::catalog::ComputedTable;

/// `alerts` as one view over both kinds: a filing alert is firing from the
/// moment its timer came due, `FilingAtRisk` (warning) or `FilingOverdue`
/// (critical), its value the working hours left (negative once past).
pub const VIEW_SQL: &str = "SELECT rule, state, severity, summary, value, province_code, \
       commune_code, filing_id, labels, active_at, fired_at, resolved_at \
     FROM rule_alerts \
     UNION ALL \
     SELECT CASE urgency WHEN 'overdue' THEN 'FilingOverdue' ELSE 'FilingAtRisk' END, \
       'firing', \
       CASE urgency WHEN 'overdue' THEN 'critical' ELSE 'warning' END, \
       concat('filing ', filing_id, \
         CASE urgency WHEN 'overdue' THEN ' is past its due date ' \
           ELSE ' is close to its due date ' END, \
         CAST(effective_due_at AS VARCHAR)), \
       working_hours_until(now(), effective_due_at), \
       province_code, commune_code, filing_id, \
       concat('{\"commune_code\":\"', commune_code, '\",\"filing_id\":\"', \
         replace(replace(filing_id, '\\', '\\\\'), '\"', '\\\"'), \
         '\",\"province_code\":\"', province_code, '\"}'), \
       since AS active_at, since AS fired_at, CASE WHEN false THEN since END AS resolved_at \
     FROM filing_alerts";

/// `rule_alerts`, and the columns of the `alerts` view.
pub fn schema() -> SchemaRef {
    let ts = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("rule", DataType::Utf8, false),
        Field::new("state", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("summary", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("province_code", DataType::Utf8, true),
        Field::new("commune_code", DataType::Utf8, true),
        Field::new("filing_id", DataType::Utf8, true),
        // Every label, as a JSON object.
        Field::new("labels", DataType::Utf8, false),
        Field::new("active_at", ts(), false),
        Field::new("fired_at", ts(), true),
        Field::new("resolved_at", ts(), true),
    ]))
}

/// `rule_alerts`: the alerts of the SQL rules in `book`, scoped to the
/// caller's province.
pub fn rule_table(book: AlertBook) -> ComputedTable {
    ComputedTable::new(schema(), move |scope| {
        batch(&book.visible(scope.province.as_deref()))
    })
}

/// The alerts as one batch of [`schema`].
pub fn batch(alerts: &[Alert]) -> RecordBatch {
    let text = |f: &dyn Fn(&Alert) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(alerts.iter().map(f)))
    };
    let label = |name: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter(
            alerts.iter().map(|a| a.labels.get(name).cloned()),
        ))
    };
    let time = |f: &dyn Fn(&Alert) -> Option<i64>| -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from_iter(alerts.iter().map(f)).with_timezone("UTC"))
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|a| a.rule.clone()),
        text(&|a| a.state.as_str().to_string()),
        text(&|a| a.severity.clone()),
        text(&|a| a.summary.clone()),
        Arc::new(Float64Array::from_iter_values(
            alerts.iter().map(|a| a.value),
        )),
        label("province_code"),
        label("commune_code"),
        label("filing_id"),
        text(&|a| serde_json::to_string(&a.labels).unwrap_or_default()),
        time(&|a| Some(a.active_at)),
        time(&|a| a.fired_at),
        time(&|a| a.resolved_at),
    ];
    RecordBatch::try_new(schema(), columns).expect("columns match the schema")
}
