//! The reader side of an import, without Kafka: files in, batches and
//! rejections out.

use hoso_model::catalogue::DueRules;
use std::io::Write as _;
use std::sync::Mutex;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

fn event(id: &str, seq: u32) -> String {
    format!(
        r#"{{"event_id":"{id}","filing_id":"F-{id}","seq":{seq},"type":"processing","occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004"}}"#
    )
}

/// A fresh directory for one test's files.
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hoso-import-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Source {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    Source {
        format: Format::of_path(&path),
        path,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A `Write` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Read {
    outcome: ReadOutcome,
    /// (key, payload) of every event handed on, in order.
    published: Vec<(String, String)>,
    batches: usize,
    bytes: u64,
    report: String,
}

fn read(sources: &[Source], batch_events: usize) -> Read {
    read_with(sources, batch_events, None)
}

fn read_with(sources: &[Source], batch_events: usize, portal_units: Option<&UnitMap>) -> Read {
    let (tx, mut rx) = mpsc::channel(10_000);
    let report = Shared::default();
    let rejections = Rejections::new(3, Some(Box::new(report.clone()))).unwrap();
    let counted = std::sync::atomic::AtomicU64::new(0);
    let on_bytes = |n: u64| {
        counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let outcome = read_sources(
        sources,
        batch_events,
        Rules {
            dues: &DueRules::vietnam(),
            units: Some(&hoso_model::units::Units::official()),
            portal: portal::Portal::new(portal_units),
        },
        rejections,
        &on_bytes,
        &tx,
    );
    drop(tx);
    let mut published = Vec::new();
    let mut batches = 0;
    while let Ok(b) = rx.try_recv() {
        batches += 1;
        published.extend(
            b.events()
                .map(|(k, p)| (k.to_string(), String::from_utf8(p.to_vec()).unwrap())),
        );
    }
    let report = String::from_utf8(report.0.lock().unwrap().clone()).unwrap();
    Read {
        outcome,
        published,
        batches,
        bytes: counted.into_inner(),
        report,
    }
}

fn rejected(r: &Read) -> Vec<(String, u64, String)> {
    r.outcome
        .rejections
        .first
        .iter()
        .map(|r| {
            let name = Path::new(&r.file).file_name().unwrap().to_string_lossy();
            (name.into_owned(), r.line, r.reason.clone())
        })
        .collect()
}

#[test]
fn formats_are_told_by_name_unless_given() {
    for (name, want) in [
        ("a.csv", Format::Csv),
        ("a.CSV.gz", Format::Csv),
        ("dir.csv/a.ndjson", Format::Ndjson),
        ("a.ndjson.gz", Format::Ndjson),
        ("a.jsonl", Format::Ndjson),
        ("events", Format::Ndjson),
        ("csv", Format::Ndjson),
    ] {
        assert_eq!(Format::of_path(Path::new(name)), want, "{name}");
    }
    assert_eq!("CSV".parse::<Format>(), Ok(Format::Csv));
    assert_eq!("ndjson".parse::<Format>(), Ok(Format::Ndjson));
    assert!("xml".parse::<Format>().is_err());
}

#[test]
fn ndjson_lines_are_published_unchanged_and_blank_ones_skipped() {
    let d = dir("ndjson");
    let bad = event("b", 1).replace(r#""seq":1"#, r#""seq":0"#);
    let text = format!(
        "{}\r\n\n   \n{bad}\n  {}  \nnot json\n{}",
        event("a", 1),
        event("c", 2).replace(",\"", ", \""),
        event("d", 3)
    );
    let plain = write(&d, "plain.ndjson", text.as_bytes());
    let packed = write(&d, "packed.ndjson.gz", &gzip(text.as_bytes()));
    let r = read(&[plain.clone(), packed.clone()], 2);
    let size = |s: &Source| std::fs::metadata(&s.path).unwrap().len();
    assert_eq!(r.bytes, size(&plain) + size(&packed));
    assert_eq!(r.outcome.files, 2);
    assert_eq!(r.outcome.lines, 10, "non-blank lines of both files");
    let once = vec![
        ("F-a".to_string(), event("a", 1)),
        ("F-c".to_string(), event("c", 2).replace(",\"", ", \"")),
        ("F-d".to_string(), event("d", 3)),
    ];
    let twice: Vec<_> = once.iter().chain(&once).cloned().collect();
    assert_eq!(r.published, twice);
    assert_eq!(r.batches, 3, "batches of 2, across files");
    assert_eq!(r.outcome.rejections.total, 4);
    let seq = "seq: must be >= 1, got 0".to_string();
    let not_json = hoso_model::decode_event(b"not json").unwrap_err().message;
    assert_eq!(
        rejected(&r),
        vec![
            ("plain.ndjson".into(), 4, seq.clone()),
            ("plain.ndjson".into(), 6, not_json.clone()),
            ("packed.ndjson.gz".into(), 4, seq),
        ],
        "line numbers count blank lines; only the first 3 are kept"
    );
    // The report has them all.
    let lines: Vec<&str> = r.report.lines().collect();
    assert_eq!(lines.len(), 5, "{}", r.report);
    assert_eq!(lines[0], "file,line,reason");
    assert!(
        lines[4].ends_with(&format!("packed.ndjson.gz,6,{not_json}")),
        "{}",
        lines[4]
    );
}

#[test]
fn csv_rows_become_json_and_the_header_is_line_one() {
    let d = dir("csv");
    let text = "\u{feff}event_id,filing_id,seq,type,occurred_at,province_code,commune_code,channel,digitized\n\
        e1,F-1,1,processing,2025-07-01T08:00:00+07:00,01,00004,,true\n\
        \n\
        e2,F-2,0,processing,2025-07-01T08:00:00+07:00,01,00004,,\n\
        e3,F-3,1,processing,2025-07-01T08:00:00+07:00,01,00004,,maybe\n\
        e4,F-4,1,processing,2025-07-01T08:00:00+07:00,01,00004\n\
        \"e,5\",F-5,2,processing,2025-07-01T08:00:00+07:00,01,00004,,0\n";
    let csv = write(&d, "events.csv", text.as_bytes());
    let gz = write(&d, "events.csv.gz", &gzip(text.as_bytes()));
    let r = read(&[csv, gz], 100);
    assert_eq!(r.outcome.lines, 10);
    let want = [
        (
            "F-1".to_string(),
            r#"{"event_id":"e1","filing_id":"F-1","seq":1,"type":"processing","occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004","digitized":true}"#.to_string(),
        ),
        (
            "F-5".to_string(),
            r#"{"event_id":"e,5","filing_id":"F-5","seq":2,"type":"processing","occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004","digitized":false}"#.to_string(),
        ),
    ];
    assert_eq!(r.published, [want.clone(), want].concat());
    assert_eq!(r.outcome.rejections.total, 6);
    let report: Vec<&str> = r.report.lines().skip(1).take(3).collect();
    assert_eq!(
        report,
        vec![
            format!(
                "{},4,\"seq: must be >= 1, got 0\"",
                d.join("events.csv").display()
            ),
            format!(
                "{},5,\"digitized: not a boolean (true, false, 1 or 0): \"\"maybe\"\"\"",
                d.join("events.csv").display()
            ),
            format!(
                "{},6,\"the row has 7 fields, the header 9\"",
                d.join("events.csv").display()
            ),
        ]
    );
}

#[test]
fn a_bad_header_rejects_the_file_at_line_one() {
    let d = dir("header");
    let bad = write(
        &d,
        "bad.csv",
        b"event_id,filing_id,seq,type,occurred_at,province_code,commune_code,note\ne,F,1,x,t,01,00004,n\n",
    );
    let missing = write(&d, "missing.csv", b"event_id,filing_id\ne,F\n");
    let empty = write(&d, "empty.csv", b"");
    let r = read(&[bad, missing, empty], 10);
    assert!(r.published.is_empty());
    assert_eq!(r.outcome.lines, 0);
    let got = rejected(&r);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].0.as_str(), got[0].1), ("bad.csv", 1));
    assert!(
        got[0].2.starts_with("unknown column \"note\""),
        "{}",
        got[0].2
    );
    assert_eq!((got[1].0.as_str(), got[1].1), ("missing.csv", 1));
    assert!(
        got[1]
            .2
            .contains("seq, type, occurred_at, province_code, commune_code"),
        "{}",
        got[1].2
    );
}

#[test]
fn unreadable_files_are_reported_where_reading_stopped() {
    let d = dir("broken");
    let text: String = (1..=2000)
        .map(|i| format!("{}\n", event(&format!("e{i}"), 1)))
        .collect();
    let mut packed = gzip(text.as_bytes());
    packed.truncate(packed.len() * 3 / 4);
    let broken = write(&d, "broken.ndjson.gz", &packed);
    let not_gzip = write(&d, "not-gzip.ndjson.gz", event("x", 1).as_bytes());
    let long = write(
        &d,
        "long.ndjson",
        format!("{}\n{}\n", "x".repeat(MAX_LINE_BYTES + 1), event("ok", 1)).as_bytes(),
    );
    let r = read(&[broken, not_gzip, long], 10_000);
    let got = rejected(&r);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].0, "broken.ndjson.gz");
    assert!(got[0].1 > 1 && got[0].1 <= 2000, "{got:?}");
    assert!(
        got[0].2.starts_with("cannot read the file from here on"),
        "{}",
        got[0].2
    );
    assert_eq!(
        r.published.len() as u64 - 1,
        got[0].1 - 1,
        "every whole line before the break is published (and F-ok of long.ndjson)"
    );
    assert_eq!((got[1].0.as_str(), got[1].1), ("not-gzip.ndjson.gz", 1));
    assert!(got[1].2.starts_with("cannot read the file"), "{}", got[1].2);
    assert_eq!((got[2].0.as_str(), got[2].1), ("long.ndjson", 1));
    assert!(got[2].2.contains("bytes, over the 1000000"), "{}", got[2].2);
    assert_eq!(r.published.last().unwrap().0, "F-ok");
}

#[test]
fn reading_stops_when_publishing_stops() {
    let d = dir("stop");
    let text: String = (1..=100)
        .map(|i| format!("{}\n", event(&format!("e{i}"), 1)))
        .collect();
    let file = write(&d, "many.ndjson", text.as_bytes());
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let rejections = Rejections::new(10, None).unwrap();
    let outcome = read_sources(
        &[file.clone(), file],
        10,
        Rules {
            dues: &DueRules::vietnam(),
            units: Some(&hoso_model::units::Units::official()),
            portal: portal::Portal::new(None),
        },
        rejections,
        &|_| {},
        &tx,
    );
    assert!(outcome.lines <= 10, "{}", outcome.lines);
    assert_eq!(outcome.files, 1, "the second file is not begun");
}

// ---- portal records ----

fn portal_units() -> UnitMap {
    UnitMap::parse(
        "unit_code,province_code,commune_code\n000.00.27.H35,01,00004\n",
        &hoso_model::units::Units::official(),
    )
    .unwrap()
}

fn record(id: &str, status: u8) -> serde_json::Value {
    let mut v = serde_json::json!({"MaHoSo": id, "MaTTHC": "1.001193", "KenhThucHien": 1,
        "NgayNopHoSo": "20250701080000", "NgayTiepNhan": "20250701080000",
        "NgayHenTra": "20250702170000", "TrangThaiHoSo": status,
        "DonViXuLy": "000.00.27.H35", "ChuHoSo": "Nguyễn Văn A"});
    if status == 9 {
        v["NgayKetThucXuLy"] = serde_json::json!("20250702090000");
    }
    v
}

fn portal_source(dir: &Path, name: &str, bytes: &[u8]) -> Source {
    let mut s = write(dir, name, bytes);
    s.format = Format::Dvcqg;
    s
}

#[test]
fn portal_files_of_every_shape_are_read_and_their_bad_records_reported() {
    let d = dir("portal");
    let array = serde_json::to_vec(&vec![record("A-1", 2), record("A-1", 9)]).unwrap();
    let mut bad = record("A-3", 2);
    bad["KenhThucHien"] = serde_json::json!(9);
    let lines = format!(
        "{}\n\n{}\n{{not json\n{}\n",
        record("A-2", 2),
        serde_json::json!({"service": "CapNhatTienDoHoSoMC", "data": [
            {"MaHoSo": "A-2", "ThoiDiemXuLy": "20250701090000", "NguoiXuLy": "Trần B"}]}),
        bad
    );
    let sources = [
        portal_source(&d, "export.json", &array),
        portal_source(&d, "sync.ndjson.gz", &gzip(lines.as_bytes())),
    ];
    let r = read_with(&sources, 100, Some(&portal_units()));
    let keys: Vec<&str> = r.published.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["A-1", "A-1", "A-2", "A-2"]);
    for (_, payload) in &r.published {
        let e = hoso_model::portal::envelope::Envelope::parse(payload.as_bytes()).unwrap();
        assert!(
            !payload.contains("Nguyễn") && !payload.contains("Trần"),
            "{payload}"
        );
        if e.record.is_some() {
            assert_eq!(e.place().unwrap(), (1, 4));
        }
    }
    // Later in the files, later stamped.
    let stamp = |i: usize| {
        hoso_model::portal::envelope::Envelope::parse(r.published[i].1.as_bytes())
            .unwrap()
            .ingested_at_ms
    };
    assert!(stamp(0) < stamp(1) && stamp(1) < stamp(2));
    let got = rejected(&r);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].0.as_str(), got[0].1), ("sync.ndjson.gz", 4));
    assert!(
        got[0].2.starts_with("(body): not JSON") || got[0].2.contains("not JSON"),
        "{got:?}"
    );
    assert_eq!(got[1].1, 5);
    assert!(got[1].2.contains("data[0].KenhThucHien"), "{got:?}");
    assert_eq!(r.outcome.lines, 6);
}

#[test]
fn a_portal_file_without_a_units_file_rejects_every_record_naming_the_key() {
    let d = dir("portal-units");
    let src = portal_source(&d, "r.ndjson", record("A-1", 2).to_string().as_bytes());
    let r = read_with(&[src], 100, None);
    assert!(r.published.is_empty());
    assert!(rejected(&r)[0].2.contains("sources.dvcqg.units_file"));
}
