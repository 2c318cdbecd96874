//! SQL behaviour of the executor over hand-made tables: the views sum the
//! partitions' partial aggregates, ratios are NULL on empty denominators,
//! the policy refuses every write, and the timeout cancels.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray};
use hoso_model::schema;
use hoso_model::tables::{TableSource, TablesSnapshot};
use hoso_query::{Caller, Protocol, QueryConfig, QueryError, QueryExecutor, QueryMetrics, Role};

fn admin() -> Caller {
    Caller::new("test", Role::Admin, Protocol::Http)
}

struct Fixed(TablesSnapshot);

impl TableSource for Fixed {
    fn snapshot(&self) -> TablesSnapshot {
        self.0.clone()
    }
}

/// One partition's partial rows: (day, province, commune, received, online, ended, early,
/// on_time, late); the e-ID, digitised and fee counts are 0.
fn partials(partition: i32, rows: &[(i32, &str, &str, [i64; 6])]) -> RecordBatch {
    let full: Vec<(i32, &str, &str, [i64; 11])> = rows
        .iter()
        .map(|&(d, p, c, [r, o, e, early, on_time, late])| {
            (d, p, c, [r, o, 0, 0, 0, 0, e, early, on_time, late, 0])
        })
        .collect();
    partials_all(partition, &full)
}

/// Partial rows with every count, in `daily_partials` order: received,
/// online, e-ID, digitised, fee-bearing, paid online, ended, early,
/// on_time (early included), late, extensions.
fn partials_all(
    partition: i32,
    rows: &[(i32, &str, &str, [i64; schema::DAILY_COUNTS.len()])],
) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_value(partition, rows.len())),
        Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
    ];
    columns.extend(
        (0..schema::DAILY_COUNTS.len()).map(|i| {
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3[i]))) as ArrayRef
        }),
    );
    RecordBatch::try_new(schema::daily_partials(), columns).unwrap()
}

async fn executor(timeout_ms: u64) -> QueryExecutor {
    executor_with(QueryConfig {
        timeout_ms,
        ..QueryConfig::default()
    })
    .await
}

async fn executor_with(config: QueryConfig) -> QueryExecutor {
    const DAY: i32 = 20_270; // 2025-07-01
    let snap = TablesSnapshot {
        filings: vec![],
        daily_partials: vec![
            partials(
                0,
                &[
                    (DAY, "01", "00004", [3, 1, 2, 1, 2, 0]),
                    (DAY + 1, "01", "00004", [0, 0, 1, 0, 0, 1]),
                ],
            ),
            partials(
                1,
                &[
                    (DAY, "01", "00004", [1, 1, 2, 0, 1, 1]),
                    (DAY, "79", "26740", [5, 0, 0, 0, 0, 0]),
                ],
            ),
        ],
        ..TablesSnapshot::default()
    };
    over(snap, config).await
}

async fn over(snap: TablesSnapshot, config: QueryConfig) -> QueryExecutor {
    let registry = prometheus::Registry::new();
    QueryExecutor::new(
        Arc::new(Fixed(snap)),
        &config,
        QueryMetrics::new(&registry).unwrap(),
    )
    .await
    .unwrap()
}

/// Decision 766 views over hand-made daily counts; every figure below is
/// worked out by hand from the rows.
#[tokio::test]
async fn kpi_views_sum_then_divide_at_every_grain() {
    const DAY: i32 = 20_270; // Tuesday 2025-07-01
    const AUG1: i32 = DAY + 31;
    let snap = TablesSnapshot {
        daily_partials: vec![
            partials_all(
                0,
                &[
                    (DAY, "01", "00004", [10, 3, 9, 8, 4, 1, 6, 3, 5, 1, 2]),
                    (AUG1, "01", "00004", [2, 0, 1, 0, 2, 2, 2, 0, 1, 1, 1]),
                ],
            ),
            partials_all(
                1,
                &[
                    (DAY, "01", "00004", [10, 4, 10, 6, 6, 3, 4, 1, 4, 0, 3]),
                    (DAY + 1, "01", "00008", [5, 5, 5, 5, 0, 0, 0, 0, 0, 0, 0]),
                ],
            ),
        ],
        ..TablesSnapshot::default()
    };
    let ex = over(snap, QueryConfig::default()).await;
    let figures = "received, early, on_time, late, ROUND(online_share, 4) AS online, \
        ROUND(eid_level2_share, 4) AS eid, ROUND(digitization_share, 4) AS digitized, \
        ROUND(online_payment_share, 4) AS paid_online, ROUND(on_time_rate, 4) AS rate, \
        ROUND(progress_score_ended_only, 4) AS progress, ROUND(online_score_all_filings, 4) AS online_pts, \
        ROUND(online_payment_score_filing_part, 4) AS payment_pts";
    let got = rows(
        &ex,
        &format!("SELECT day, commune_code, {figures} FROM kpi_daily ORDER BY day, commune_code"),
    )
    .await;
    // 1/7, 00004: 20 received, 7 online (0.35 -> 12 x 0.35 / 0.5 = 8.4),
    // 19 e-ID, 14 digitised, 4 of 10 fee-bearing paid online (6 x 0.4);
    // 10 ended: 4 early, 5 on time, 1 late (0.9 -> 18 points).
    // 2/7, 00008: all online (the score is capped at 12), no fees, nothing
    // ended: those shares and scores are NULL.
    let want = "\
+------------+--------------+----------+-------+---------+------+--------+------+-----------+-------------+------+----------+------------+-------------+
| day        | commune_code | received | early | on_time | late | online | eid  | digitized | paid_online | rate | progress | online_pts | payment_pts |
+------------+--------------+----------+-------+---------+------+--------+------+-----------+-------------+------+----------+------------+-------------+
| 2025-07-01 | 00004        | 20       | 4     | 5       | 1    | 0.35   | 0.95 | 0.7       | 0.4         | 0.9  | 18.0     | 8.4        | 2.4         |
| 2025-07-02 | 00008        | 5        | 0     | 0       | 0    | 1.0    | 1.0  | 1.0       |             |      |          | 12.0       |             |
| 2025-08-01 | 00004        | 2        | 0     | 1       | 1    | 0.0    | 0.5  | 0.0       | 1.0         | 0.5  | 10.0     | 0.0        | 6.0         |
+------------+--------------+----------+-------+---------+------+--------+------+-----------+-------------+------+----------+------------+-------------+";
    assert_eq!(got, want);
    // July for the province: 25 received, 12 online (0.48 -> 11.52).
    let got = rows(
        &ex,
        &format!("SELECT month, province_code, {figures} FROM kpi_province_monthly ORDER BY month"),
    )
    .await;
    let want = "\
+------------+---------------+----------+-------+---------+------+--------+------+-----------+-------------+------+----------+------------+-------------+
| month      | province_code | received | early | on_time | late | online | eid  | digitized | paid_online | rate | progress | online_pts | payment_pts |
+------------+---------------+----------+-------+---------+------+--------+------+-----------+-------------+------+----------+------------+-------------+
| 2025-07-01 | 01            | 25       | 4     | 5       | 1    | 0.48   | 0.96 | 0.76      | 0.4         | 0.9  | 18.0     | 11.52      | 2.4         |
| 2025-08-01 | 01            | 2        | 0     | 1       | 1    | 0.0    | 0.5  | 0.0       | 1.0         | 0.5  | 10.0     | 0.0        | 6.0         |
+------------+---------------+----------+-------+---------+------+--------+------+-----------+-------------+------+----------+------------+-------------+";
    assert_eq!(got, want);
    // Extensions granted sum over partitions like every other count.
    let got = rows(
        &ex,
        "SELECT day, commune_code, extensions FROM kpi_daily ORDER BY day, commune_code",
    )
    .await;
    let want = "\
+------------+--------------+------------+
| day        | commune_code | extensions |
+------------+--------------+------------+
| 2025-07-01 | 00004        | 5          |
| 2025-07-02 | 00008        | 0          |
| 2025-08-01 | 00004        | 1          |
+------------+--------------+------------+";
    assert_eq!(got, want);
    // The year: shares of the sums (10 of 12 on time), never means of shares.
    let got = rows(
        &ex,
        "SELECT year, received, ended, ROUND(on_time_rate, 4) AS rate, \
           ROUND(progress_score_ended_only, 4) AS progress, ROUND(online_payment_share, 4) AS paid \
         FROM kpi_province_yearly",
    )
    .await;
    assert!(
        got.contains("| 2025-01-01 | 27       | 12    | 0.8333 | 16.6667  | 0.5  |"),
        "{got}"
    );
    // Weeks start on Monday; quarters and commune-level years exist too.
    let got = rows(&ex, "SELECT DISTINCT week FROM kpi_weekly ORDER BY week").await;
    assert!(
        got.contains("| 2025-06-30 |") && got.contains("| 2025-07-28 |"),
        "{got}"
    );
    let got = rows(
        &ex,
        "SELECT quarter, commune_code, received FROM kpi_quarterly ORDER BY commune_code",
    )
    .await;
    assert!(
        got.contains("| 2025-07-01 | 00004        | 22       |"),
        "{got}"
    );
    let got = rows(&ex, "SELECT COUNT(*) AS n FROM kpi_yearly").await;
    assert!(got.contains("| 2 |"), "{got}");
}

#[tokio::test]
async fn the_procedure_catalogue_is_a_table() {
    let ex = executor(30_000).await;
    let got = rows(
        &ex,
        "SELECT procedure_code, same_day, deadline_working_days FROM procedures \
         WHERE procedure_code = '1.001193'",
    )
    .await;
    assert!(
        got.contains("| 1.001193       | true     | 0                     |"),
        "{got}"
    );
    // Filings-based views plan and run on an empty table.
    for v in [
        "processing_time_daily",
        "processing_time_province_monthly",
        "overdue",
        "at_risk",
        "backlog",
        "backlog_province",
    ] {
        let got = rows(&ex, &format!("SELECT COUNT(*) AS n FROM {v}")).await;
        assert!(got.contains("| 0 |"), "{v}: {got}");
    }
}

async fn rows(ex: &QueryExecutor, sql: &str) -> String {
    let out = ex
        .execute(&admin(), sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    arrow::util::pretty::pretty_format_batches(&out.batches)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn views_sum_partitions_and_null_empty_ratios() {
    let ex = executor(30_000).await;
    let got = rows(
        &ex,
        "SELECT * FROM online_share ORDER BY day, province_code, commune_code",
    )
    .await;
    let want = "\
+------------+---------------+--------------+----------+-----------------+--------------+
| day        | province_code | commune_code | received | received_online | online_share |
+------------+---------------+--------------+----------+-----------------+--------------+
| 2025-07-01 | 01            | 00004        | 4        | 2               | 0.5          |
| 2025-07-01 | 79            | 26740        | 5        | 0               | 0.0          |
| 2025-07-02 | 01            | 00004        | 0        | 0               |              |
+------------+---------------+--------------+----------+-----------------+--------------+";
    assert_eq!(got, want);
    let got = rows(
        &ex,
        "SELECT * FROM on_time_rate ORDER BY day, province_code, commune_code",
    )
    .await;
    let want = "\
+------------+---------------+--------------+-------+---------------+--------------+
| day        | province_code | commune_code | ended | ended_on_time | on_time_rate |
+------------+---------------+--------------+-------+---------------+--------------+
| 2025-07-01 | 01            | 00004        | 4     | 3             | 0.75         |
| 2025-07-01 | 79            | 26740        | 0     | 0             |              |
| 2025-07-02 | 01            | 00004        | 1     | 0             | 0.0          |
+------------+---------------+--------------+-------+---------------+--------------+";
    assert_eq!(got, want);
    let got = rows(&ex, "SELECT * FROM daily_volume WHERE province_code = '79'").await;
    assert!(
        got.contains("| 2025-07-01 | 79            | 26740        | 5        | 0               |"),
        "{got}"
    );
    let got = rows(&ex, "SHOW TABLES").await;
    for t in [
        "filings",
        "daily_partials",
        "daily_stats",
        "daily_volume",
        "online_share",
        "on_time_rate",
    ] {
        assert!(got.contains(&format!("| {t} ")), "{t} missing from\n{got}");
    }
}

#[tokio::test]
async fn every_write_or_session_change_is_refused() {
    let ex = executor(30_000).await;
    let refused = [
        "INSERT INTO filings VALUES ('x')",
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP VIEW online_share",
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "SET datafusion.execution.batch_size = 1",
        "EXPLAIN INSERT INTO filings VALUES ('x')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM 'https://example.org/data.parquet'",
        "DELETE FROM filings",
        "UPDATE filings SET status = 'x'",
    ];
    for sql in refused {
        match ex.execute(&admin(), sql).await {
            Err(QueryError::Refused(msg)) => {
                assert!(
                    msg.contains("read-only") || msg.contains("not allowed"),
                    "{sql}: {msg}"
                )
            }
            other => panic!("{sql} should be refused, got {other:?}"),
        }
    }
    // The views are still there.
    assert!(
        rows(&ex, "SELECT count(*) FROM online_share")
            .await
            .contains('3')
    );
    // Reads pass, including EXPLAIN.
    assert!(
        ex.execute(&admin(), "EXPLAIN SELECT * FROM daily_volume")
            .await
            .is_ok()
    );
    assert!(
        ex.execute(&admin(), "WITH x AS (SELECT 1 AS a) SELECT a FROM x")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn mistakes_are_the_caller_s_and_say_what_is_wrong() {
    let ex = executor(30_000).await;
    for (sql, fragment) in [
        ("SELEC 1", "SELEC"),
        ("SELECT nope FROM filings", "nope"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT 1; SELECT 2", "single"),
    ] {
        match ex.execute(&admin(), sql).await {
            Err(e @ QueryError::Invalid(_)) => {
                assert!(e.is_user_error());
                assert!(e.to_string().contains(fragment), "{sql}: {e}");
            }
            other => panic!("{sql} should be invalid, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_query_past_its_timeout_is_cancelled() {
    let ex = executor(50).await;
    let slow = "SELECT count(*) FROM generate_series(1, 5000000000) a";
    match ex.execute(&admin(), slow).await {
        Err(e @ QueryError::Timeout(_)) => assert!(e.to_string().contains("50 ms"), "{e}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn results_and_memory_are_capped() {
    let ex = executor_with(QueryConfig {
        max_result_rows: 1000,
        ..QueryConfig::default()
    })
    .await;
    assert!(
        ex.execute(&admin(), "SELECT * FROM generate_series(1, 1000)")
            .await
            .is_ok()
    );
    match ex
        .execute(&admin(), "SELECT * FROM generate_series(1, 1001)")
        .await
    {
        Err(e @ QueryError::TooManyRows(1000)) => assert!(e.to_string().contains("LIMIT"), "{e}"),
        other => panic!("expected the row cap, got {other:?}"),
    }
    // A sort that needs more than the pool has fails alone; the server lives.
    let ex = executor_with(QueryConfig {
        memory_limit_bytes: 1 << 20,
        ..QueryConfig::default()
    })
    .await;
    let big = "SELECT v, count(*) FROM (SELECT value % 500000 AS v FROM generate_series(1, 2000000)) GROUP BY v ORDER BY v";
    match ex.execute(&admin(), big).await {
        Err(e @ QueryError::Exhausted(_)) => assert!(e.is_retryable()),
        other => panic!(
            "expected the memory limit, got {:?}",
            other.map(|o| o.num_rows())
        ),
    }
    assert!(ex.execute(&admin(), "SELECT 1").await.is_ok());
}

/// A source whose tables change on every snapshot, like a busy processor.
struct Moving(std::sync::atomic::AtomicI32);

impl TableSource for Moving {
    fn snapshot(&self) -> TablesSnapshot {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let rows: Vec<(i32, &str, &str, [i64; 6])> = (0..=n)
            .map(|d| (d, "01", "00004", [1, 0, 0, 0, 0, 0]))
            .collect();
        TablesSnapshot {
            daily_partials: vec![partials(0, &rows)],
            ..TablesSnapshot::default()
        }
    }
}

#[tokio::test]
async fn every_table_of_a_query_is_read_at_one_instant() {
    let registry = prometheus::Registry::new();
    let source = Arc::new(Moving(std::sync::atomic::AtomicI32::new(0)));
    let ex = QueryExecutor::new(
        source,
        &QueryConfig::default(),
        QueryMetrics::new(&registry).unwrap(),
    )
    .await
    .unwrap();
    let sql = "SELECT (SELECT count(*) FROM daily_partials) - (SELECT count(*) FROM daily_volume) AS drift";
    for _ in 0..5 {
        assert!(
            rows(&ex, sql).await.contains("| 0     |"),
            "{}",
            rows(&ex, sql).await
        );
    }
    // ...and the next query sees the newer tables.
    let first = rows(&ex, "SELECT count(*) AS n FROM daily_partials").await;
    let second = rows(&ex, "SELECT count(*) AS n FROM daily_partials").await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn working_day_functions_follow_the_vietnamese_calendar() {
    let ex = executor(30_000).await;
    // 30/4-2/5/2025 off (2/5 swapped for Saturday 26/4, worked), then a
    // weekend: from Tuesday 29/4 the next working day is Monday 5/5.
    let got = rows(
        &ex,
        "SELECT is_working_day(DATE '2025-04-30') AS holiday, \
                is_working_day(DATE '2025-04-26') AS make_up_saturday, \
                is_working_day(TIMESTAMP '2025-07-04T20:00:00Z') AS saturday_local, \
                working_days_between(DATE '2025-04-29', DATE '2025-05-05') AS days, \
                working_days_between(DATE '2024-12-31', DATE '2025-12-31') AS days_2025, \
                add_working_days(DATE '2025-04-29', 1) AS next_date, \
                add_working_days(TIMESTAMP '2025-04-29T03:00:00Z', 1) AS next_time, \
                working_hours_until(TIMESTAMP '2025-04-29T09:00:00Z', TIMESTAMP '2025-05-05T01:00:00Z') AS hours",
    )
    .await;
    let want = "\
+---------+------------------+----------------+------+-----------+------------+----------------------+-------+
| holiday | make_up_saturday | saturday_local | days | days_2025 | next_date  | next_time            | hours |
+---------+------------------+----------------+------+-----------+------------+----------------------+-------+
| false   | true             | false          | 1    | 250       | 2025-05-05 | 2025-05-05T03:00:00Z | 1.5   |
+---------+------------------+----------------+------+-----------+------------+----------------------+-------+";
    assert_eq!(got, want);
    // The issue's own checks, on 2026: the third day of Tết Bính Ngọ, and
    // 30/4 (Thu) and 1/5 (Fri) off: from Wednesday 29/4 to Monday 4/5 is
    // one working day. National Day 2026 is 1-2/9; Hùng Kings (26/4, a
    // Sunday) is made up on Monday 27/4.
    let got = rows(
        &ex,
        "SELECT is_working_day(DATE '2026-02-17') AS tet, \
                working_days_between(DATE '2026-04-29', DATE '2026-05-04') AS days, \
                is_working_day(DATE '2026-09-01') OR is_working_day(DATE '2026-09-02') AS national_day, \
                is_working_day(DATE '2026-04-27') AS substitute, \
                is_working_day(DATE '2026-09-03') AS after",
    )
    .await;
    assert!(
        got.contains("| false | 1    | false        | false      | true  |"),
        "{got}"
    );
    // Wrong arguments are the caller's mistake, in words.
    let err = ex
        .execute(&admin(), "SELECT add_working_days(DATE '2025-04-29', 'x')")
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("must be an integer"), "{err}");
}
