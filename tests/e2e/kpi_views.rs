//! The Decision 766 views that read `filings` (processing time, backlog,
//! overdue, at risk) and computed due dates, on a hand-built scenario:
//! events folded by the processor's partition tables, published as the
//! processor publishes, read through the query executor. No broker: what is
//! under test is the fold-to-SQL path and the views' definitions; the
//! expected figures are worked out by hand in the comments.

use hoso_model::calendar::Calendar;
use hoso_model::time::format_utc_ms;
use hoso_processor::{LiveTables, PartitionTables};
use hoso_query::{Caller, Protocol, QueryConfig, QueryExecutor, QueryMetrics, Role};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn t(s: &str) -> i64 {
    hoso_model::time::parse_rfc3339_ms(s).unwrap()
}

/// One event as a source system would send it; `extra` is more JSON fields.
fn event(filing: &str, seq: u32, kind: &str, at_ms: i64, commune: &str, extra: &str) -> String {
    format!(
        r#"{{"event_id":"{filing}-{seq}","filing_id":"{filing}","seq":{seq},"type":"{kind}","occurred_at":"{}","province_code":"91","commune_code":"{commune}"{extra}}}"#,
        format_utc_ms(at_ms)
    )
}

fn received(
    filing: &str,
    at_ms: i64,
    commune: &str,
    procedure: &str,
    due_ms: Option<i64>,
) -> String {
    let due = due_ms.map_or(String::new(), |d| {
        format!(r#","due_at":"{}""#, format_utc_ms(d))
    });
    event(
        filing,
        1,
        "received",
        at_ms,
        commune,
        &format!(r#","procedure_code":"{procedure}","channel":"in_person"{due}"#),
    )
}

pub(crate) async fn executor_over(events: &[String]) -> QueryExecutor {
    let mut part = PartitionTables::new(0);
    for (offset, e) in events.iter().enumerate() {
        let key = e
            .split("\"filing_id\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        part.fold_message(offset as i64, Some(key.as_bytes()), e.as_bytes(), None)
            .unwrap();
    }
    let live = LiveTables::new();
    live.publish(0, part.publish());
    let registry = prometheus::Registry::new();
    QueryExecutor::new(
        live,
        &QueryConfig::default(),
        QueryMetrics::new(&registry).unwrap(),
    )
    .await
    .unwrap()
}

pub(crate) async fn table(ex: &QueryExecutor, sql: &str) -> String {
    let out = ex
        .execute(&Caller::new("test", Role::Admin, Protocol::Http), sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    arrow::util::pretty::pretty_format_batches(&out.batches)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn processing_time_counts_working_days_per_procedure() {
    let c = "30292";
    let events = vec![
        // Birth registration (same day), no due date sent: due 17:00 the
        // same day; resolved at 16:00: on time, 0 working days.
        received("F1", t("2026-07-06T09:00:00+07:00"), c, "1.001193", None),
        event("F1", 2, "resolved", t("2026-07-06T16:00:00+07:00"), c, ""),
        // Received after 15:00: due the next working day at 17:00; resolved
        // the next morning: on time, 1 working day.
        received("F2", t("2026-07-06T16:00:00+07:00"), c, "1.001193", None),
        event("F2", 2, "resolved", t("2026-07-07T10:00:00+07:00"), c, ""),
        // Permanent residence (7 working days) before the 30/4 and 1/5
        // holidays: resolved Friday 8/5, early; the working days after
        // 29/4 up to 8/5 are 4/5..8/5: 5.
        received(
            "F3",
            t("2026-04-29T09:00:00+07:00"),
            c,
            "1.004222",
            Some(t("2026-05-12T09:00:00+07:00")),
        ),
        event("F3", 2, "resolved", t("2026-05-08T10:00:00+07:00"), c, ""),
        // Two supplement requests: late whatever the time; 4 working days.
        received(
            "F4",
            t("2026-07-06T09:00:00+07:00"),
            c,
            "1.004222",
            Some(t("2026-07-15T09:00:00+07:00")),
        ),
        event(
            "F4",
            2,
            "supplement_requested",
            t("2026-07-06T10:00:00+07:00"),
            c,
            "",
        ),
        event(
            "F4",
            3,
            "supplement_received",
            t("2026-07-06T11:00:00+07:00"),
            c,
            "",
        ),
        event(
            "F4",
            4,
            "supplement_requested",
            t("2026-07-07T10:00:00+07:00"),
            c,
            "",
        ),
        event(
            "F4",
            5,
            "supplement_received",
            t("2026-07-07T11:00:00+07:00"),
            c,
            "",
        ),
        event("F4", 6, "resolved", t("2026-07-10T10:00:00+07:00"), c, ""),
    ];
    let ex = executor_over(&events).await;
    let got = table(
        &ex,
        "SELECT filing_id, due_at, due_at_computed, outcome FROM filings ORDER BY filing_id",
    )
    .await;
    let want = "\
+-----------+----------------------+-----------------+---------+
| filing_id | due_at               | due_at_computed | outcome |
+-----------+----------------------+-----------------+---------+
| F1        | 2026-07-06T10:00:00Z | true            | on_time |
| F2        | 2026-07-07T10:00:00Z | true            | on_time |
| F3        | 2026-05-12T02:00:00Z | false           | early   |
| F4        | 2026-07-15T02:00:00Z | false           | late    |
+-----------+----------------------+-----------------+---------+";
    assert_eq!(got, want);
    let got = table(
        &ex,
        "SELECT day, procedure_code, ended, early, on_time, late, working_days_total, \
           avg_working_days, max_working_days \
         FROM processing_time_daily ORDER BY day, procedure_code",
    )
    .await;
    let want = "\
+------------+----------------+-------+-------+---------+------+--------------------+------------------+------------------+
| day        | procedure_code | ended | early | on_time | late | working_days_total | avg_working_days | max_working_days |
+------------+----------------+-------+-------+---------+------+--------------------+------------------+------------------+
| 2026-05-08 | 1.004222       | 1     | 1     | 0       | 0    | 5                  | 5.0              | 5                |
| 2026-07-06 | 1.001193       | 1     | 0     | 1       | 0    | 0                  | 0.0              | 0                |
| 2026-07-07 | 1.001193       | 1     | 0     | 1       | 0    | 1                  | 1.0              | 1                |
| 2026-07-10 | 1.004222       | 1     | 0     | 0       | 1    | 4                  | 4.0              | 4                |
+------------+----------------+-------+-------+---------+------+--------------------+------------------+------------------+";
    assert_eq!(got, want);
    // July for the province: birth registrations average half a day.
    let got = table(
        &ex,
        "SELECT month, province_code, procedure_code, ended, avg_working_days, max_working_days \
         FROM processing_time_province_monthly ORDER BY month, procedure_code",
    )
    .await;
    let want = "\
+------------+---------------+----------------+-------+------------------+------------------+
| month      | province_code | procedure_code | ended | avg_working_days | max_working_days |
+------------+---------------+----------------+-------+------------------+------------------+
| 2026-05-01 | 91            | 1.004222       | 1     | 5.0              | 5                |
| 2026-07-01 | 91            | 1.001193       | 2     | 0.5              | 1                |
| 2026-07-01 | 91            | 1.004222       | 1     | 4.0              | 4                |
+------------+---------------+----------------+-------+------------------+------------------+";
    assert_eq!(got, want);
}

#[tokio::test]
async fn backlog_overdue_and_at_risk_as_of_now() {
    let cal = Calendar::vietnam();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let c = "30301";
    let p = "1.004222";
    let events = vec![
        // O1: past its due ten days ago (working hours among them, even
        // around Tết): overdue.
        received("O1", now - 12 * DAY, c, p, Some(now - 10 * DAY)),
        event("O1", 2, "processing", now - 11 * DAY, c, ""),
        // O2: due in 4 working hours: at risk (threshold 8).
        received(
            "O2",
            now - 2 * HOUR,
            c,
            p,
            Some(cal.add_working_time(now, 4 * HOUR)),
        ),
        // O3: due in 40 working hours: neither.
        received(
            "O3",
            now - HOUR,
            c,
            p,
            Some(cal.add_working_time(now, 40 * HOUR)),
        ),
        // O4: due 5 days ago, but waiting for the citizen's documents since
        // 8 days ago, before the due: its clock stopped in time.
        received("O4", now - 10 * DAY, c, p, Some(now - 5 * DAY)),
        event("O4", 2, "supplement_requested", now - 8 * DAY, c, ""),
        // O5: late, but resolved (in an earlier month): not open.
        received("O5", now - 70 * DAY, c, p, Some(now - 69 * DAY)),
        event("O5", 2, "resolved", now - 60 * DAY, c, ""),
        // O6: submitted online, not yet received: not in the backlog.
        event("O6", 1, "submitted", now - HOUR, c, ""),
    ];
    let ex = executor_over(&events).await;
    let got = table(
        &ex,
        "SELECT province_code, commune_code, open, waiting_on_citizen, overdue, at_risk \
         FROM backlog",
    )
    .await;
    let want = "\
+---------------+--------------+------+--------------------+---------+---------+
| province_code | commune_code | open | waiting_on_citizen | overdue | at_risk |
+---------------+--------------+------+--------------------+---------+---------+
| 91            | 30301        | 4    | 1                  | 1       | 1       |
+---------------+--------------+------+--------------------+---------+---------+";
    assert_eq!(got, want);
    let got = table(
        &ex,
        "SELECT filing_id, working_hours_overdue > 0 AS late FROM overdue",
    )
    .await;
    assert!(got.contains("| O1        | true |"), "{got}");
    assert_eq!(got.lines().count(), 5, "one row: {got}");
    let got = table(
        &ex,
        "SELECT filing_id, working_hours_left > 3.9 AND working_hours_left <= 4 AS about_4h \
         FROM at_risk",
    )
    .await;
    assert!(got.contains("| O2        | true     |"), "{got}");
    assert_eq!(got.lines().count(), 5, "one row: {got}");
    let got = table(&ex, "SELECT open, overdue FROM backlog_province").await;
    assert!(got.contains("| 4    | 1       |"), "{got}");
    // The portal's progress reading as of now (`score_766`, docs/kpis.md):
    // nothing ended this month here, so (0 + 4 open - 1 overdue) / 4 = 0.75
    // -> 15.
    let got = table(
        &ex,
        "SELECT province_code, commune_code, progress_score FROM score_766 \
         WHERE period_kind = 'month' AND unit_level = 'commune' \
           AND period_start = CAST(date_trunc('month', now() + INTERVAL '7 hours') AS DATE)",
    )
    .await;
    assert!(
        got.contains("| 91            | 30301        | 15.0 "),
        "{got}"
    );
}
