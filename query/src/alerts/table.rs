//! The SQL table `alerts`: every alert of the book (pending, firing and
//! the recently resolved), as the caller's scope allows.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::AlertBook;
use super::rules::Alert;
use crate::catalog::ComputedTable;

/// `alerts`.
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

/// The `alerts` table over `book`, scoped to the caller's province.
pub fn table(book: AlertBook) -> ComputedTable {
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
