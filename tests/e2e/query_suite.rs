//! One suite of dashboard and ad-hoc queries that every protocol must
//! answer identically, and the one text form their answers are compared in.
//!
//! Values are compared as text: NULL as `NULL`, booleans as `t`/`f` (as
//! psql prints them), numbers and dates as printed. Floats and timestamps
//! print differently in JSON, psql and Python, so the suite casts them to
//! text in SQL, where the server decides their form once for everyone.

use serde_json::Value;

use crate::harness::Hoso;

/// Queries for any folded events: views, base tables, functions, NULLs,
/// booleans, dates, aggregates.
pub const SUITE: &[&str] = &[
    "SELECT day, province_code, commune_code, received, received_online \
     FROM daily_volume ORDER BY day, province_code, commune_code",
    "SELECT province_code, received, received_online, CAST(round(online_share, 6) AS VARCHAR) AS share, \
     ended, CAST(on_time_rate AS VARCHAR) AS rate FROM kpi_province_daily ORDER BY province_code",
    "SELECT commune_code, count(*) AS filings, count(*) FILTER (WHERE channel = 'online') AS online \
     FROM filings GROUP BY commune_code ORDER BY commune_code",
    "SELECT filing_id, status, channel, due_at_computed, eid_level2, supplement_count, \
     CAST(received_at AS VARCHAR) AS received_at FROM filings ORDER BY filing_id",
    "SELECT procedure_code, same_day, deadline_working_days, fee_vnd, online \
     FROM procedures ORDER BY procedure_code LIMIT 6",
    "SELECT is_working_day(DATE '2026-02-17') AS tet, \
     working_days_between(DATE '2026-04-29', DATE '2026-05-04') AS days",
    "SELECT province_code, commune_code, open FROM backlog ORDER BY province_code, commune_code",
    "SELECT NULL AS nothing, CAST(NULL AS BIGINT) AS no_number, 'hồ sơ' AS text",
];

/// What no caller may run, on any protocol: writes, DDL, session changes
/// of the server, files and URLs read or written. Each refusal says
/// "read-only" or "not allowed".
pub const FORBIDDEN: &[&str] = &[
    "INSERT INTO filings (filing_id) VALUES ('x')",
    "UPDATE filings SET status = 'x'",
    "DELETE FROM filings",
    "CREATE TABLE t (a INT)",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "DROP VIEW daily_volume",
    "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
    "COPY filings TO '/tmp/hoso-x.csv'",
    "COPY (SELECT 1) TO '/tmp/hoso-x.csv'",
    "SET datafusion.execution.target_partitions = 1",
    "EXPLAIN INSERT INTO filings (filing_id) VALUES ('x')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM 'https://example.org/data.parquet'",
];

/// Whether an error message is a policy refusal.
pub fn is_refusal(message: &str) -> bool {
    message.contains("read-only") || message.contains("not allowed")
}

/// A JSON value (HTTP's answer) in the suite's text form.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(true) => "t".into(),
        Value::Bool(false) => "f".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `sql`'s rows over HTTP, each as its values' text in column order.
pub async fn http_rows(hoso: &Hoso, sql: &str) -> Vec<Vec<String>> {
    let (status, body) = hoso.sql_raw(sql, "json").await;
    assert_eq!(status, 200, "{sql}: {body}");
    // Column order: JSON objects lose it, so it comes from the CSV header.
    let (_, csv) = hoso
        .sql_raw(&format!("SELECT * FROM ({sql}) AS q LIMIT 0"), "csv")
        .await;
    let columns: Vec<String> = csv
        .lines()
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_str(&body).unwrap();
    rows.iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| r.get(c).map(text_of).unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}
