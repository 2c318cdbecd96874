use serde_json::{Value, json};

use super::*;

fn read(v: Value) -> Result<IndexRow, String> {
    let units = Units::official();
    IndexRow::read(v.as_object().unwrap(), Some(&units), 1_000, "f:2".into())
}

#[test]
fn a_commune_row_with_every_figure() {
    let row = read(json!({
        "period_kind": "month", "period_start": "2026-10-01",
        "province_code": "01", "commune_code": "00004", "TEN_DON_VI": "Phường Ba Đình",
        "CKMB": 16.5, "tdgq": "19,25", "CLGQ": 12, "TTTT": "8.5", "MDHL": 17, "MDSH": 20,
        "TONG_SCORE": 93.25, "RANK": 4,
        "HS_TOTAL": 1200, "DB_TOTAL": "1180", "HTN_TRUCTIEP": 700, "HTN_BUUCHINH": 20,
        "HTN_TRUCTUYEN": 480, "HTDH": 1100, "HTQH": 30
    }))
    .unwrap();
    assert_eq!(row.unit_level, "commune");
    assert_eq!(row.commune_code.as_deref(), Some("00004"));
    assert_eq!(
        row.groups,
        [
            Some(16.5),
            Some(19.25),
            Some(12.0),
            Some(8.5),
            Some(17.0),
            Some(20.0)
        ]
    );
    assert_eq!(row.total, Some(93.25));
    assert_eq!(row.rank, Some(4));
    assert_eq!(row.volumes[1], Some(1180));
    assert_eq!(row.key(), "commune/01/00004/month/2026-10-01");
    assert_eq!(row.period_start, days_from_civil(2026, 10, 1) as i32);
}

#[test]
fn a_province_row_with_some_figures_and_codes_written_as_numbers() {
    let row = read(json!({
        "period_kind": "quarter", "period_start": "2026-07-01", "province_code": 1,
        "TONG_SCORE": 88
    }))
    .unwrap();
    assert_eq!(row.unit_level, "province");
    assert_eq!(row.province_code, "01");
    assert_eq!(row.commune_code, None);
    assert_eq!(row.groups, [None; 6]);
    assert_eq!(row.key(), "province/01/-/quarter/2026-07-01");
}

#[test]
fn every_bad_field_is_named() {
    let cases: &[(Value, &str)] = &[
        (
            json!({"period_start": "2026-10-01", "province_code": "01", "CKMB": 1}),
            "period_kind: missing",
        ),
        (
            json!({"period_kind": "week", "period_start": "2026-10-01", "province_code": "01", "CKMB": 1}),
            "period_kind: \"week\" is not a period the portal publishes",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-15", "province_code": "01", "CKMB": 1}),
            "period_start: 2026-10-15 does not start a month",
        ),
        (
            json!({"period_kind": "quarter", "period_start": "2026-11-01", "province_code": "01", "CKMB": 1}),
            "period_start: 2026-11-01 does not start a quarter (a quarter starts on the 1st of 01, 04, 07, 10)",
        ),
        (
            json!({"period_kind": "year", "period_start": "1/1/2026", "province_code": "01", "CKMB": 1}),
            "period_start: \"1/1/2026\" is not a date (YYYY-MM-DD)",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-02-30", "province_code": "01", "CKMB": 1}),
            "period_start: \"2026-02-30\" is not a date",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "CKMB": 1}),
            "province_code: missing",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "02", "CKMB": 1}),
            "province_code: 02 is a province code from before the 1 July 2025 merger",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "79", "commune_code": "00004", "CKMB": 1}),
            "commune_code: 00004 (Ba Đình) is a commune of province 01",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "commune_code": "4a", "CKMB": 1}),
            "commune_code: \"4a\" is not a commune code",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "unit_level": "commune", "CKMB": 1}),
            "commune_code: missing (unit_level is commune)",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "unit_level": "province", "commune_code": "00004", "CKMB": 1}),
            "commune_code: 00004 given for a row whose unit_level is province",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "unit_level": "ward", "CKMB": 1}),
            "unit_level: \"ward\" is not commune or province",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "TDGQ": 21}),
            "TDGQ: 21 is outside 0-20 points",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "MDSH": "n/a"}),
            "MDSH: \"n/a\" is not a number of points",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "TONG_SCORE": 100.5}),
            "TONG_SCORE: 100.5 is outside 0-100 points",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "HS_TOTAL": -3}),
            "HS_TOTAL: -3 is not a whole number, at least 0",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "HTDH": 2.5}),
            "HTDH: 2.5 is not a whole number",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "RANK": 0}),
            "RANK: a rank starts at 1",
        ),
        (
            json!({"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "TEN": "x", "CKMB": ""}),
            "no figure: a row needs at least one of CKMB",
        ),
    ];
    for (input, want) in cases {
        let err = read(input.clone()).expect_err(&input.to_string());
        assert!(err.contains(want), "{input}: {err:?} does not say {want:?}");
    }
}

#[test]
fn all_the_errors_of_a_row_are_listed() {
    let err = read(json!({"period_kind": "month", "period_start": "2026-10-01",
        "CKMB": 19, "HS_TOTAL": "many"}))
    .unwrap_err();
    assert_eq!(
        err,
        "province_code: missing; CKMB: 19 is outside 0-18 points; HS_TOTAL: \"many\" is not a \
         whole number, at least 0"
    );
}

#[test]
fn a_row_survives_the_topic() {
    let row = read(json!({"period_kind": "half", "period_start": "2026-07-01",
        "province_code": "01", "commune_code": "00004", "TDGQ": 18.5, "DB_TOTAL": 10}))
    .unwrap();
    let bytes = serde_json::to_vec(&row).unwrap();
    assert_eq!(serde_json::from_slice::<IndexRow>(&bytes).unwrap(), row);
}

#[test]
fn rows_as_a_batch_of_the_table_schema() {
    let a = read(json!({"period_kind": "month", "period_start": "2026-10-01",
        "province_code": "01", "commune_code": "00004", "TDGQ": 18.5, "HTQH": 3}))
    .unwrap();
    let b = read(json!({"period_kind": "year", "period_start": "2026-01-01",
        "province_code": "01", "TONG_SCORE": 91, "RANK": 2}))
    .unwrap();
    let batch = batch([a, b].iter());
    assert_eq!(batch.schema(), crate::schema::portal_766());
    assert_eq!(batch.num_rows(), 2);
    let col = |name: &str| batch.column_by_name(name).unwrap().clone();
    use arrow_array::Array;
    assert_eq!(col("commune_code").null_count(), 1);
    assert_eq!(col("tdgq").null_count(), 1);
    assert_eq!(col("portal_rank").null_count(), 1);
}
