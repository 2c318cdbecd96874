use std::path::PathBuf;

use super::*;

/// A file named `name` holding `text`, in a directory of this test's own.
fn file(test: &str, name: &str, text: &[u8]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hoso-index-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn reasons(files: &IndexFiles) -> Vec<(u64, String)> {
    files
        .rejections
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect()
}

#[test]
fn a_json_array_over_many_lines_numbers_each_row_by_its_first_line() {
    let p = file(
        "array",
        "index.json",
        br#"[
  {"period_kind": "month", "period_start": "2026-10-01",
   "province_code": "01", "commune_code": "00004", "TDGQ": 19.5},
  {"period_kind": "month", "period_start": "2026-10-01",
   "province_code": "01", "commune_code": "00008", "TDGQ": 25},
  {"period_kind": "month", "period_start": "2026-10-01", "province_code": "01", "TONG_SCORE": 90}
]
"#,
    );
    let units = Units::official();
    let got = read_files(&[&p], Some(&units), 7);
    assert_eq!(got.read, 3);
    assert_eq!(got.rows.len(), 2);
    assert_eq!(got.rows[0].source, format!("{}:2", p.display()));
    assert_eq!(got.rows[0].imported_at_ms, 7);
    assert_eq!(
        reasons(&got),
        [(4, "TDGQ: 25 is outside 0-20 points".to_string())]
    );
}

#[test]
fn ndjson_rows_bad_json_and_a_unit_and_period_given_twice() {
    let p = file(
        "ndjson",
        "index.ndjson",
        br#"{"period_kind": "year", "period_start": "2026-01-01", "province_code": "01", "CKMB": 17}

not json
[1]
{"period_kind": "year", "period_start": "2026-01-01", "province_code": "1", "CKMB": 16}
"#,
    );
    let got = read_files(&[&p], None, 0);
    assert_eq!(got.read, 4);
    assert_eq!(got.rows.len(), 1);
    let r = reasons(&got);
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[0].0, 3);
    assert!(r[0].1.starts_with("not JSON"), "{r:?}");
    assert_eq!(r[1], (4, "a row is a JSON object, not [1]".to_string()));
    assert_eq!(r[2].0, 5);
    assert_eq!(
        r[2].1,
        format!(
            "the same unit and period (province/01/-/year/2026-01-01) as {}:1: give each once",
            p.display()
        )
    );
}

#[test]
fn csv_rows_with_the_portal_header_decimal_commas_and_empty_cells() {
    let p = file(
        "csv",
        "index.csv",
        "period_kind,period_start,province_code,commune_code,TEN_DON_VI,CKMB,TDGQ,TONG_SCORE,HS_TOTAL\n\
         month,2026-10-01,01,00004,\"Ba Đình, Hà Nội\",\"16,5\",19.25,,1200\n\
         month,2026-10-01,01,00008,Ngọc Hà,,,,\n\
         month,2026-10-01,01\n"
            .as_bytes(),
    );
    let got = read_files(&[&p], Some(&Units::official()), 0);
    assert_eq!(got.read, 3);
    assert_eq!(got.rows.len(), 1);
    assert_eq!(got.rows[0].groups[0], Some(16.5));
    assert_eq!(got.rows[0].total, None);
    assert_eq!(got.rows[0].volumes[0], Some(1200));
    let r = reasons(&got);
    assert_eq!(r[0].0, 3);
    assert!(r[0].1.starts_with("no figure"), "{r:?}");
    assert_eq!(r[1], (4, "the row has 3 fields, the header 9".to_string()));
}

#[test]
fn a_file_that_cannot_be_read_is_one_rejection() {
    let got = read_files(&[PathBuf::from("/nonexistent/index.json")], None, 0);
    assert_eq!(got.read, 0);
    assert_eq!(got.rejections.len(), 1);
    assert!(got.rejections[0].reason.starts_with("cannot read the file"));
}
