//! `system.queries`: the most recent queries, whatever their outcome.
//!
//! Each query adds one row when its outcome is known (the end of its rows,
//! an error, or its caller going away). The log keeps the newest
//! [`QueryLog::CAPACITY`] rows in memory; it is for operators looking at
//! what ran just now, Prometheus keeps the long view.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use crate::auth::Caller;

/// The longest SQL text kept per row, in bytes.
const MAX_SQL_BYTES: usize = 4096;

/// One finished query.
#[derive(Clone, Debug)]
pub struct QueryRecord {
    /// Numbered from 1 in order of arrival since the server started.
    pub id: u64,
    pub caller: Caller,
    pub sql: String,
    pub started_at: SystemTime,
    pub duration_s: f64,
    pub rows: u64,
    /// `ok`, `cancelled` or an error label.
    pub outcome: &'static str,
    pub error: Option<String>,
}

/// The recent queries, shared by every clone of the executor.
#[derive(Clone, Default)]
pub struct QueryLog {
    inner: Arc<Mutex<Log>>,
}

#[derive(Default)]
struct Log {
    next_id: u64,
    rows: VecDeque<QueryRecord>,
}

impl QueryLog {
    /// Rows kept.
    pub const CAPACITY: usize = 1000;

    /// A number for a query that just arrived.
    pub fn next_id(&self) -> u64 {
        let mut log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        log.next_id += 1;
        log.next_id
    }

    pub fn push(&self, mut record: QueryRecord) {
        if record.sql.len() > MAX_SQL_BYTES {
            let mut end = MAX_SQL_BYTES;
            while !record.sql.is_char_boundary(end) {
                end -= 1;
            }
            record.sql.truncate(end);
            record.sql.push('…');
        }
        let mut log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if log.rows.len() == Self::CAPACITY {
            log.rows.pop_front();
        }
        log.rows.push_back(record);
    }

    /// The rows `viewer` may see: all of them for `admin`, else its own.
    pub fn batch(&self, viewer: Option<&str>) -> RecordBatch {
        let log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let rows: Vec<&QueryRecord> = log
            .rows
            .iter()
            .filter(|r| viewer.is_none_or(|v| &*r.caller.user == v))
            .collect();
        let text = |f: &dyn Fn(&QueryRecord) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| f(r))))
        };
        let micros = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(0)
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.id))),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| micros(r.started_at)),
                )
                .with_timezone("UTC"),
            ),
            text(&|r| r.caller.user.to_string()),
            text(&|r| r.caller.role.to_string()),
            text(&|r| r.caller.protocol.as_str().to_string()),
            text(&|r| r.sql.clone()),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.duration_s * 1000.0),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter()
                    .map(|r| i64::try_from(r.rows).unwrap_or(i64::MAX)),
            )),
            text(&|r| r.outcome.to_string()),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.error.as_deref()),
            )),
        ];
        RecordBatch::try_new(schema(), columns).expect("columns match the schema")
    }
}

/// `system.queries`.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("query_id", DataType::UInt64, false),
        Field::new(
            "started_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("user", DataType::Utf8, false),
        Field::new("role", DataType::Utf8, false),
        Field::new("protocol", DataType::Utf8, false),
        Field::new("sql", DataType::Utf8, false),
        Field::new("duration_ms", DataType::Float64, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Protocol, Role};

    fn record(log: &QueryLog, user: &str, sql: &str) -> QueryRecord {
        QueryRecord {
            id: log.next_id(),
            caller: Caller::new(user, Role::Planner, Protocol::Http),
            sql: sql.into(),
            started_at: SystemTime::now(),
            duration_s: 0.002,
            rows: 3,
            outcome: "ok",
            error: None,
        }
    }

    #[test]
    fn keeps_the_newest_rows_and_shows_each_user_its_own() {
        let log = QueryLog::default();
        for i in 0..QueryLog::CAPACITY + 5 {
            let user = if i % 2 == 0 { "a" } else { "b" };
            log.push(record(&log, user, "SELECT 1"));
        }
        let all = log.batch(None);
        assert_eq!(all.num_rows(), QueryLog::CAPACITY);
        let ids = all
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap();
        assert_eq!(ids.value(0), 6, "the oldest five are gone");
        assert_eq!(log.batch(Some("a")).num_rows(), QueryLog::CAPACITY / 2);
        assert_eq!(log.batch(Some("nobody")).num_rows(), 0);
    }

    #[test]
    fn long_sql_is_cut_on_a_character_boundary() {
        let log = QueryLog::default();
        log.push(record(&log, "a", &"hồ sơ ".repeat(2000)));
        let batch = log.batch(None);
        let sql = batch
            .column(5)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0);
        assert!(sql.len() <= MAX_SQL_BYTES + '…'.len_utf8() && sql.ends_with('…'));
    }
}
