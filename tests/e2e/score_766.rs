//! `score_766`, the Decision 766 index as the portal computes it, on a
//! hand-built scenario: events folded by the processor's partition tables,
//! published as the processor publishes, read through the query executor.
//! No broker. The expected figures are the worked examples of
//! `docs/kpis.md` ("The official score"), derived by hand in the comments.
//!
//! The scenario lies in September-November 2026, so every period it is
//! checked in is over whenever the test runs; the current month is checked
//! with filings whose standing cannot change with the date.

use hoso_model::catalogue::Catalogue;
use hoso_model::time::format_utc_ms;

use crate::kpi_views::{executor_over, table};

const A: &str = "30292";
const B: &str = "30293";
/// Permanent residence: 7 working days, a fee, full online, commune level.
const RESIDENCE: &str = "1.004222";
/// Temporary residence: a fee, full online, commune level.
const TEMPORARY: &str = "1.004194";
/// Birth registration: free, full online.
const BIRTH: &str = "1.001193";

fn t(s: &str) -> i64 {
    hoso_model::time::parse_rfc3339_ms(s).unwrap()
}

fn at(local: &str) -> String {
    format_utc_ms(t(&format!("2026-{local}:00+07:00")))
}

fn event(filing: &str, seq: u32, kind: &str, when: &str, commune: &str, extra: &str) -> String {
    format!(
        r#"{{"event_id":"{filing}-{seq}","filing_id":"{filing}","seq":{seq},"type":"{kind}","occurred_at":"{}","province_code":"91","commune_code":"{commune}"{extra}}}"#,
        at(when)
    )
}

/// A `received` event: `when` and `due` are local "MM-DDTHH:MM".
fn received(
    filing: &str,
    when: &str,
    commune: &str,
    procedure: &str,
    channel: &str,
    due: &str,
    extra: &str,
) -> String {
    event(
        filing,
        1,
        "received",
        when,
        commune,
        &format!(
            r#","procedure_code":"{procedure}","channel":"{channel}","due_at":"{}"{extra}"#,
            at(due)
        ),
    )
}

fn scenario() -> Vec<String> {
    vec![
        // F10: received in September, resolved 1 October within its due.
        received(
            "F10",
            "09-28T09:00",
            A,
            RESIDENCE,
            "in_person",
            "10-02T17:00",
            "",
        ),
        event("F10", 2, "resolved", "10-01T10:00", A, ""),
        // F1: online, fee paid online, resolved early.
        received(
            "F1",
            "10-05T09:00",
            A,
            RESIDENCE,
            "online",
            "10-08T17:00",
            r#","fee_required":true,"digitized":true,"eid_level2":true"#,
        ),
        event(
            "F1",
            2,
            "fee_paid",
            "10-05T10:00",
            A,
            r#","online_payment":true"#,
        ),
        event("F1", 3, "resolved", "10-07T10:00", A, ""),
        // F2: resolved after its due: late.
        received(
            "F2",
            "10-05T09:00",
            A,
            RESIDENCE,
            "in_person",
            "10-06T17:00",
            r#","fee_required":true,"digitized":true"#,
        ),
        event("F2", 2, "resolved", "10-09T10:00", A, ""),
        // F3: online, open, due 10 November.
        received(
            "F3",
            "10-20T09:00",
            A,
            TEMPORARY,
            "in_person",
            "11-10T17:00",
            "",
        )
        .replace(r#""channel":"in_person""#, r#""channel":"online""#),
        // F4: open, due 28 October.
        received(
            "F4",
            "10-26T09:00",
            A,
            RESIDENCE,
            "in_person",
            "10-28T17:00",
            "",
        ),
        // F5: online, open at October's end within its due, resolved on
        // time in November.
        received(
            "F5",
            "10-28T09:00",
            A,
            RESIDENCE,
            "online",
            "11-03T17:00",
            "",
        ),
        event("F5", 2, "resolved", "11-02T10:00", A, ""),
        // F6: open at October's end past its due, resolved late.
        received(
            "F6",
            "10-29T09:00",
            A,
            RESIDENCE,
            "in_person",
            "10-30T17:00",
            "",
        ),
        event("F6", 2, "resolved", "11-05T10:00", A, ""),
        // F7: sent back for documents before its due, never came back: its
        // clock stopped at the request, so it stays within its due.
        received(
            "F7",
            "10-12T09:00",
            A,
            RESIDENCE,
            "in_person",
            "10-14T17:00",
            "",
        ),
        event("F7", 2, "supplement_requested", "10-13T09:00", A, ""),
        // F8: two supplement requests: late, whatever the clock says.
        received(
            "F8",
            "10-12T09:00",
            A,
            RESIDENCE,
            "in_person",
            "10-30T17:00",
            "",
        ),
        event("F8", 2, "supplement_requested", "10-13T09:00", A, ""),
        event("F8", 3, "supplement_received", "10-14T09:00", A, ""),
        event("F8", 4, "supplement_requested", "10-15T09:00", A, ""),
        event("F8", 5, "supplement_received", "10-16T09:00", A, ""),
        // F9: a free filing, withdrawn the next day: received, never scored.
        received(
            "F9",
            "10-15T09:00",
            A,
            BIRTH,
            "online",
            "10-15T17:00",
            r#","fee_required":false"#,
        ),
        event("F9", 2, "withdrawn", "10-16T09:00", A, ""),
        // G1, the other commune: online, paid online, resolved early.
        received(
            "G1",
            "10-06T09:00",
            B,
            RESIDENCE,
            "online",
            "10-10T17:00",
            "",
        ),
        event(
            "G1",
            2,
            "fee_paid",
            "10-06T10:00",
            B,
            r#","online_payment":true"#,
        ),
        event("G1", 3, "resolved", "10-08T10:00", B, ""),
    ]
}

/// `ROUND(x, 4)`, as the queries round.
fn r(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).collect()
}

/// The fee-bearing procedures a commune and a province answer for, from
/// the catalogue itself (the denominators of the payment coverage terms).
fn fee_procedures() -> (f64, f64) {
    let c = Catalogue::builtin();
    let fee: Vec<_> = c.procedures().iter().filter(|p| p.fee_vnd > 0).collect();
    let commune = fee.iter().filter(|p| p.level.as_str() == "commune").count();
    (commune as f64, fee.len() as f64)
}

#[tokio::test]
async fn progress_counts_open_filings_as_of_each_periods_end() {
    let ex = executor_over(&scenario()).await;
    let got = table(
        &ex,
        "SELECT period_kind, CAST(period_start AS VARCHAR) AS start, unit_level, \
           commune_code, handled, handled_on_time, ended, ended_on_time, open_at_end, \
           open_within_due_at_end, ROUND(progress_score, 4) AS progress \
         FROM score_766 WHERE province_code = '91' \
           AND period_start >= DATE '2026-07-01' AND period_start < DATE '2026-12-01' \
         ORDER BY period_kind, period_start, unit_level, commune_code",
    )
    .await;
    // October, commune A: F10 ended on time; F1 early, F2 late; open at the
    // month's end: F3 (due 10/11), F5 (due 3/11), F7 (paused on 13/10,
    // due 14/10) within their due, F4 and F6 past it, F8 late for its two
    // requests. F9 was withdrawn and is not scored. 5 of 9: 20 × 5/9.
    // November: F5 ended on time, F6 late; F3, F4, F8 open past due, F7
    // still paused within it: 2 of 6.
    // September: F10 open at the month's end within its due: 1 of 1.
    // The third quarter (July-September) is September's. The fourth
    // quarter, the second half and the year judge F3 at the later of
    // their end and now, past its due: F1, F5, F7, F10 of 9.
    let expected = [
        "| period_kind | start      | unit_level | commune_code | handled | handled_on_time | ended | ended_on_time | open_at_end | open_within_due_at_end | progress |",
        "| half        | 2026-07-01 | commune    | 30292        | 9       | 4               | 5     | 3             | 4           | 1                      | 8.8889   |",
        "| half        | 2026-07-01 | commune    | 30293        | 1       | 1               | 1     | 1             | 0           | 0                      | 20.0     |",
        "| half        | 2026-07-01 | province   |              | 10      | 5               | 6     | 4             | 4           | 1                      | 10.0     |",
        "| month       | 2026-09-01 | commune    | 30292        | 1       | 1               | 0     | 0             | 1           | 1                      | 20.0     |",
        "| month       | 2026-09-01 | province   |              | 1       | 1               | 0     | 0             | 1           | 1                      | 20.0     |",
        "| month       | 2026-10-01 | commune    | 30292        | 9       | 5               | 3     | 2             | 6           | 3                      | 11.1111  |",
        "| month       | 2026-10-01 | commune    | 30293        | 1       | 1               | 1     | 1             | 0           | 0                      | 20.0     |",
        "| month       | 2026-10-01 | province   |              | 10      | 6               | 4     | 3             | 6           | 3                      | 12.0     |",
        "| month       | 2026-11-01 | commune    | 30292        | 6       | 2               | 2     | 1             | 4           | 1                      | 6.6667   |",
        "| month       | 2026-11-01 | province   |              | 6       | 2               | 2     | 1             | 4           | 1                      | 6.6667   |",
        "| quarter     | 2026-07-01 | commune    | 30292        | 1       | 1               | 0     | 0             | 1           | 1                      | 20.0     |",
        "| quarter     | 2026-07-01 | province   |              | 1       | 1               | 0     | 0             | 1           | 1                      | 20.0     |",
        "| quarter     | 2026-10-01 | commune    | 30292        | 9       | 4               | 5     | 3             | 4           | 1                      | 8.8889   |",
        "| quarter     | 2026-10-01 | commune    | 30293        | 1       | 1               | 1     | 1             | 0           | 0                      | 20.0     |",
        "| quarter     | 2026-10-01 | province   |              | 10      | 5               | 6     | 4             | 4           | 1                      | 10.0     |",
    ];
    let got = lines(&got);
    for row in expected {
        assert!(got.contains(&row), "missing {row}\nin:\n{}", got.join("\n"));
    }
    // Exactly these rows (and the borders and header).
    assert_eq!(got.len(), expected.len() + 3, "{}", got.join("\n"));
}

#[tokio::test]
async fn the_current_period_judges_open_filings_now() {
    let ex = executor_over(&scenario()).await;
    // This month, whenever the test runs: F3, F4, F8 are past their due
    // (all in 2026), F7 is paused within it.
    let got = table(
        &ex,
        "SELECT handled, handled_on_time, ROUND(progress_score, 4) AS progress, \
           period_complete, judged_at <= now() AS judged_by_now \
         FROM score_766 WHERE period_kind = 'month' AND unit_level = 'commune' \
           AND period_start = CAST(date_trunc('month', now() + INTERVAL '7 hours') AS DATE)",
    )
    .await;
    assert!(
        got.contains("| 4       | 1               | 5.0      | false           | true          |"),
        "{got}"
    );
}

#[tokio::test]
async fn online_service_and_payment_as_the_portal_scores_them() {
    let ex = executor_over(&scenario()).await;
    let got = table(
        &ex,
        "SELECT unit_level, commune_code, received, full_online_eligible, full_online, \
           ROUND(online_service_score, 4) AS online, fee_bearing, paid_online, \
           fee_procedures, fee_procedures_paid_online, fee_procedures_used, \
           ROUND(online_payment_score, 4) AS a, ROUND(payment_integration_score, 4) AS b, \
           ROUND(payment_coverage_score, 4) AS c, ROUND(group_online_payment, 4) AS payment, \
           ROUND(digitized_dossier_score, 4) AS digitized, \
           ROUND(citizen_data_score, 4) AS citizen_data \
         FROM score_766 WHERE period_kind = 'month' AND period_start = DATE '2026-10-01' \
         ORDER BY unit_level, commune_code",
    )
    .await;
    let (commune_fee, province_fee) = fee_procedures();
    // Commune A, received in October: F1-F9, every one of a full-online
    // procedure; online: F1, F3, F5, F9, so 4/9, under the 50 % that
    // earns the 12 points: 12 × (4/9) / 0.5. Fee-bearing: F1, F2 say so,
    // F3-F8 by the catalogue, F9 says it is free: 8, of which F1 was paid
    // online: 6 × 1/8. Procedures: residence paid online, residence and
    // temporary residence used.
    let a = [
        r(12.0 * (4.0 / 9.0) / 0.5),
        6.0 / 8.0,
        r(2.5 / commune_fee),
        r(2.5 * 2.0 / commune_fee),
        r(6.0 / 8.0 + 2.5 / commune_fee + 5.0 / commune_fee),
    ];
    // Commune B: G1, online and paid online: full marks on both shares.
    let b = [
        12.0,
        6.0,
        r(2.5 / commune_fee),
        r(2.5 / commune_fee),
        r(6.0 + 5.0 / commune_fee),
    ];
    // The province: 5 online of 10 (the cap), 2 paid of 9 fee-bearing.
    let p = [
        12.0,
        r(6.0 * 2.0 / 9.0),
        r(2.5 / province_fee),
        r(5.0 / province_fee),
        r(12.0 / 9.0 + 7.5 / province_fee),
    ];
    let got_rows: Vec<Vec<String>> = got
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert_eq!(got_rows.len(), 3, "{got}");
    let num = |s: &str| s.parse::<f64>().unwrap();
    let check = |row: &Vec<String>, unit: &str, counts: [&str; 5], procs: [f64; 3], s: [f64; 5]| {
        assert_eq!(row[0], unit, "{got}");
        assert_eq!(&row[2..5], &counts[..3], "{got}");
        assert_eq!(num(&row[5]), r(s[0]), "online score\n{got}");
        assert_eq!(&row[6..8], &counts[3..5], "{got}");
        assert_eq!(num(&row[8]), procs[0], "{got}");
        assert_eq!(num(&row[9]), procs[1], "{got}");
        assert_eq!(num(&row[10]), procs[2], "{got}");
        for (i, want) in s[1..].iter().enumerate() {
            assert_eq!(num(&row[11 + i]), r(*want), "payment term {i}\n{got}");
        }
    };
    check(
        &got_rows[0],
        "commune",
        ["9", "9", "4", "8", "1"],
        [commune_fee, 1.0, 2.0],
        a,
    );
    // Digitised: F1, F2 of 9; e-ID: F1 of 9.
    assert_eq!(num(&got_rows[0][15]), r(4.0 * 2.0 / 9.0), "{got}");
    assert_eq!(num(&got_rows[0][16]), r(2.0 / 9.0), "{got}");
    check(
        &got_rows[1],
        "commune",
        ["1", "1", "1", "1", "1"],
        [commune_fee, 1.0, 1.0],
        b,
    );
    check(
        &got_rows[2],
        "province",
        ["10", "10", "5", "9", "2"],
        [province_fee, 1.0, 2.0],
        p,
    );
}

#[tokio::test]
async fn totals_ranks_and_bands_say_what_is_known() {
    let ex = executor_over(&scenario()).await;
    let got = table(
        &ex,
        "SELECT commune_code, ROUND(scored_points, 4) AS scored, scored_max, scored_rank, \
           total_score, rank, band \
         FROM score_766 WHERE period_kind = 'month' AND period_start = DATE '2026-10-01' \
           AND unit_level = 'commune' ORDER BY commune_code",
    )
    .await;
    let (commune_fee, _) = fee_procedures();
    // Progress, online service and payment are known (42 points); the
    // transparency, digitisation and satisfaction groups need the portal's
    // figures, so there is no total, no rank and no band.
    let a = r(20.0 * 5.0 / 9.0
        + 12.0 * (4.0 / 9.0) / 0.5
        + 6.0 / 8.0
        + 2.5 / commune_fee
        + 5.0 / commune_fee);
    let b = r(20.0 + 12.0 + 6.0 + 5.0 / commune_fee);
    assert!(
        got.contains(&format!(
            "| 30292        | {a} | 42.0       | 2           |             |      |      |"
        )),
        "{got}"
    );
    assert!(
        got.contains(&format!(
            "| 30293        | {b} | 42.0       | 1           |             |      |      |"
        )),
        "{got}"
    );
}

#[tokio::test]
async fn the_ended_only_reading_keeps_its_own_name() {
    let ex = executor_over(&scenario()).await;
    // kpi_monthly counts filings by the day they ended: in October F10 and
    // F1 on time, F2 late (2 of 3), where score_766 says 5 of 9.
    let got = table(
        &ex,
        "SELECT ROUND(progress_score_ended_only, 4) AS ended_only FROM kpi_monthly \
         WHERE month = DATE '2026-10-01' AND commune_code = '30292'",
    )
    .await;
    assert!(got.contains("| 13.3333    |"), "{got}");
}

/// The portal's published rows for October: commune B's group scores,
/// and a commune hoso has no filing for.
fn import_october(ex: &hoso_query::QueryExecutor) {
    use hoso_model::portal::index::IndexRow;
    let rows = [
        serde_json::json!({"period_kind": "month", "period_start": "2026-10-01",
            "province_code": "91", "commune_code": B,
            "CKMB": 17, "TDGQ": 20, "MDHL": "16,5", "MDSH": 20, "TONG_SCORE": 95.5,
            "HS_TOTAL": 100, "DB_TOTAL": 50, "HTDH": 1}),
        serde_json::json!({"period_kind": "month", "period_start": "2026-10-01",
            "province_code": "91", "commune_code": "30301", "TDGQ": 18}),
    ];
    for (i, row) in rows.iter().enumerate() {
        let row = IndexRow::read(
            row.as_object().unwrap(),
            None,
            t("2026-11-05T00:00:00Z"),
            format!("portal.json:{}", i + 1),
        )
        .unwrap();
        ex.portal_index().put(row);
    }
}

#[tokio::test]
async fn imported_portal_groups_complete_the_total() {
    let ex = executor_over(&scenario()).await;
    import_october(&ex);
    let got = table(
        &ex,
        "SELECT commune_code, received, group_transparency, group_digitization, \
           group_satisfaction, dossier_sync_score, scored_max, \
           ROUND(total_score - scored_points, 9) AS rest, rank, band, \
           portal_imported_at IS NOT NULL AS imported \
         FROM score_766 WHERE period_kind = 'month' AND period_start = DATE '2026-10-01' \
           AND unit_level = 'commune' ORDER BY commune_code",
    )
    .await;
    // B: every group known, so a total (the 42 computed points plus 17,
    // 20 and 16.5), a rank and a band; the sync score is
    // 6 × DB_TOTAL / max(received, HS_TOTAL) = 6 × 50 / 100. A has no
    // portal row: its groups stay unknown.
    assert!(
        got.contains(&format!(
            "| {B}        | 1        | 17.0               | 20.0               | 16.5               | 3.0                | 100.0      | 0.0  | 1    | đạt  | true     |"
        )),
        "{got}"
    );
    assert!(
        got.contains(&format!(
            "| {A}        | 9        |                    |                    |                    |                    | 42.0       |      |      |      | false    |"
        )),
        "{got}"
    );
}

#[tokio::test]
async fn reconciliation_sets_each_figure_beside_the_portals() {
    let ex = executor_over(&scenario()).await;
    import_october(&ex);
    let got = table(
        &ex,
        "SELECT commune_code, indicator, portal_field, hoso_value, portal_value, difference, \
           status, source FROM reconcile_766 ORDER BY commune_code, indicator",
    )
    .await;
    for row in [
        // B resolved its filings on time: progress agrees.
        format!("| {B}        | group_progress | TDGQ         | 20.0              | 20.0         | 0.0                 | agrees      | portal.json:1 |"),
        // 1 filing here, 100 on the portal: 99 that never reached hoso.
        format!("| {B}        | received       | HS_TOTAL     | 1.0               | 100.0        | -99.0               | differs     | portal.json:1 |"),
        format!("| {B}        | synced         | DB_TOTAL     | 1.0               | 50.0         | -49.0               | differs     | portal.json:1 |"),
        format!("| {B}        | ended_on_time  | HTDH         | 1.0               | 1.0          | 0.0                 | agrees      | portal.json:1 |"),
        // The portal published a commune hoso holds nothing for.
        "| 30301        | group_progress | TDGQ         |                   | 18.0         |                     | no_hoso_row | portal.json:2 |".to_string(),
    ] {
        assert!(got.contains(&row), "{row}\n{got}");
    }
    // Only the figures the portal gave are compared: B's five, one for 30301.
    assert_eq!(got.matches(&format!("| {B} ")).count(), 5, "{got}");
}
