//! The portal's synchronisation format end to end: records and steps
//! posted to `POST /v1/dvcqg` of a `hoso up` killed with SIGKILL while
//! they flow give the tables of one uninterrupted read of the topic; a
//! refused request names the portal's field and publishes nothing; files
//! of records go in through `hoso import --format dvcqg`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hoso::r#gen::communes::{self, CommuneSource};
use hoso::r#gen::mix::Mix;
use hoso::r#gen::portal::{is_step, units_csv};
use hoso::r#gen::stream::{Format, Stream, World};
use hoso_model::portal::unit_map::UnitMap;
use serde_json::{Value, json};

use crate::harness::{
    Broker, Hoso, UpProcess, assert_same_rows, free_port, read_topic, spawn_up, sql_at,
    test_config, topic, wait_for, wait_http_ok,
};

/// The generator's filings of three communes of Hà Nội as portal items:
/// request bodies of at most `per_request` items, records and steps
/// apart, in event-time order; and the units file that maps them.
fn requests(days: u32, per_request: usize) -> (Vec<Vec<u8>>, String, usize) {
    let mix = Mix {
        median_daily: 60.0,
        ..Mix::default()
    };
    let source = CommuneSource::Csv(PathBuf::from("model/data/communes.csv"));
    let picked = communes::select(&source, &["01".into()], Some(3), mix.median_daily, 5).unwrap();
    let world = Arc::new(World::new(picked, mix, 5).unwrap());
    let units = units_csv(&world.communes);
    let madonvi = hoso::r#gen::portal::unit_code(&world.communes[0]);
    let start = hoso_model::time::days_from_civil(2025, 7, 7) as i32;
    let mut stream = Stream::new(world, start, days).with_format(Format::Portal);
    let mut bodies = Vec::new();
    let (mut records, mut steps) = (Vec::new(), Vec::new());
    let mut filings = std::collections::BTreeSet::new();
    let flush = |service: &str, items: &mut Vec<Value>, bodies: &mut Vec<Vec<u8>>| {
        if !items.is_empty() {
            let body = json!({"service": service, "madonvi": madonvi, "data": items});
            bodies.push(serde_json::to_vec(&body).unwrap());
            items.clear();
        }
    };
    loop {
        let mut bytes = Vec::new();
        let Some(e) = stream.next_into(&mut bytes) else {
            break;
        };
        let item: Value = serde_json::from_slice(&bytes).unwrap();
        filings.insert(item["MaHoSo"].as_str().unwrap().to_string());
        if is_step(e.kind) {
            steps.push(item);
        } else {
            records.push(item);
        }
        if records.len() >= per_request {
            flush("DongBoHoSoMC", &mut records, &mut bodies);
        }
        if steps.len() >= per_request {
            flush("CapNhatTienDoHoSoMC", &mut steps, &mut bodies);
        }
    }
    flush("DongBoHoSoMC", &mut records, &mut bodies);
    flush("CapNhatTienDoHoSoMC", &mut steps, &mut bodies);
    (bodies, units, filings.len())
}

fn start_up(broker: &Broker, topic: &str, data_dir: &Path, units: &Path, port: u16) -> UpProcess {
    let group = format!("portal-{topic}");
    let log = data_dir.with_extension("log");
    let env = [("HOSO_SOURCES__DVCQG__UNITS_FILE", units.as_os_str())];
    spawn_up(port, (&broker.addr, topic, &group), data_dir, &log, &env)
}

/// Posts `body` until ingest answers `error_code` "0" (a request cut by a
/// kill is sent again: a record sent twice changes nothing).
async fn post_until_taken(http: &reqwest::Client, url: &str, body: &[u8]) {
    for _ in 0..600 {
        if let Ok(r) = http.post(url).body(body.to_vec()).send().await {
            let status = r.status().as_u16();
            let answer: Value = r.json().await.unwrap_or(Value::Null);
            if status == 200 && answer["error_code"] == "0" {
                return;
            }
            assert_ne!(status, 422, "a generated request was refused: {answer}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("ingest never took a request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_records_posted_through_kills_give_the_tables_of_one_uninterrupted_read() {
    let broker = Broker::start();
    let topic = topic("portal");
    let data_dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-up"));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir).unwrap();
    let (bodies, units, filings) = requests(20, 200);
    let units_file = data_dir.join("units.csv");
    std::fs::write(&units_file, &units).unwrap();
    assert!(
        bodies.len() > 20 && filings > 1000,
        "{} requests",
        bodies.len()
    );

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = start_up(&broker, &topic, &data_dir, &units_file, port);
    assert!(wait_http_ok(&http, &format!("{base}/readyz"), Duration::from_secs(60)).await);

    let url = format!("{base}/v1/dvcqg");
    let feeder = {
        let (http, url, bodies) = (http.clone(), url.clone(), bodies.clone());
        tokio::spawn(async move {
            // Paced, as a source sends: the kills land while they flow.
            for body in &bodies {
                post_until_taken(&http, &url, body).await;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };
    // Killed three times while the records flow, each time once the
    // restarted one had taken requests for a while.
    for pause in [400, 700, 500] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        assert!(
            !feeder.is_finished(),
            "killed while requests were still coming"
        );
        up.child.kill().expect("SIGKILL");
        up.child.wait().unwrap();
        up = start_up(&broker, &topic, &data_dir, &units_file, port);
        assert!(wait_http_ok(&http, &format!("{base}/readyz"), Duration::from_secs(60)).await);
    }
    feeder.await.unwrap();

    let count = "SELECT count(*) AS n FROM filings";
    let settled = wait_for(Duration::from_secs(90), || async {
        sql_at(&http, &base, count)
            .await
            .is_some_and(|rows| rows == vec![json!({"n": filings})])
    })
    .await;
    assert!(
        settled,
        "the survivor has {:?} of {filings} filings (log: {})",
        sql_at(&http, &base, count).await,
        data_dir.with_extension("log").display()
    );

    // One uninterrupted read of the same topic, from its beginning.
    let mut reference = test_config(&broker.addr, &topic);
    reference.processor.group_id = format!("reference-{topic}");
    reference.portal_units = Some(Arc::new(
        UnitMap::parse(&units, &reference.unit_list).unwrap(),
    ));
    let reference = Hoso::start(reference).await;
    let caught_up = wait_for(Duration::from_secs(90), || async {
        reference.sql(count).await == vec![json!({"n": filings})]
    })
    .await;
    assert!(caught_up);
    for q in [
        "SELECT * FROM filings ORDER BY filing_id",
        "SELECT * FROM daily_stats ORDER BY day, province_code, commune_code",
        "SELECT * FROM kpi_monthly ORDER BY 1, 2, 3",
    ] {
        let survivor = sql_at(&http, &base, q).await.expect("the survivor answers");
        assert_same_rows(q, &survivor, &reference.sql(q).await);
    }
    // Nothing refused, and the figures are the portal's kind: filings
    // received, processed by steps, ended.
    let shape = reference
        .sql(
            "SELECT count(*) FILTER (WHERE received_at IS NOT NULL) AS received, \
             count(*) FILTER (WHERE ended_at IS NOT NULL) AS ended, \
             count(*) FILTER (WHERE status = 'processing') AS processing FROM filings",
        )
        .await;
    assert!(shape[0]["received"].as_i64().unwrap() > 900, "{shape:?}");
    assert!(shape[0]["ended"].as_i64().unwrap() > 500, "{shape:?}");
    let rejects = reference.sql("SELECT count(*) AS n FROM rejects").await;
    assert_eq!(rejects, vec![json!({"n": 0})]);
    reference.stop().await;
}

fn record(id: &str) -> Value {
    json!({
        "MaHoSo": id, "MaTTHC": "1.001193.000.00.00.H35", "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Văn A", "NgayNopHoSo": "20250701080000",
        "NgayTiepNhan": "20250701083000", "NgayHenTra": "20250703170000",
        "TrangThaiHoSo": 2, "DonViXuLy": "000.00.27.H35"
    })
}

fn with(id: &str, field: &str, value: Value) -> Value {
    let mut r = record(id);
    if value.is_null() {
        r.as_object_mut().unwrap().remove(field);
    } else {
        r[field] = value;
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_portal_request_names_the_field_and_publishes_nothing() {
    let broker = Broker::start();
    let topic = topic("portal-bad");
    let mut config = test_config(&broker.addr, &topic);
    config.ingest.max_body_bytes = 16 * 1024;
    config.portal_units = Some(Arc::new(
        UnitMap::parse(
            "unit_code,province_code,commune_code\n000.00.27.H35,01,00004\n",
            &config.unit_list,
        )
        .unwrap(),
    ));
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;
    let post = |body: Vec<u8>| {
        let (http, url) = (hoso.http.clone(), format!("{}/v1/dvcqg", hoso.base));
        async move {
            let r = http.post(url).body(body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let request = |items: Vec<Value>| {
        serde_json::to_vec(&json!({"service": "DongBoHoSoMC", "data": items})).unwrap()
    };
    // (what, items, the field the first error names, a fragment of it)
    let cases: Vec<(&str, Vec<Value>, &str, &str)> = vec![
        (
            "no MaHoSo",
            vec![with("x", "MaHoSo", Value::Null)],
            "data[0].MaHoSo",
            "missing",
        ),
        (
            "a date that is no date",
            vec![
                record("ok-1"),
                with("x", "NgayTiepNhan", json!("20251301083000")),
            ],
            "data[1].NgayTiepNhan",
            "month 13",
        ),
        (
            "an unknown status",
            vec![with("x", "TrangThaiHoSo", json!(11))],
            "data[0].TrangThaiHoSo",
            "11",
        ),
        (
            "an unknown channel",
            vec![with("x", "KenhThucHien", json!(4))],
            "data[0].KenhThucHien",
            "4",
        ),
        (
            "an unmapped unit",
            vec![with("x", "DonViXuLy", json!("000.00.99.H99"))],
            "data[0].DonViXuLy",
            "000.00.99.H99",
        ),
        (
            "a status missing its date",
            vec![with("x", "TrangThaiHoSo", json!(9))],
            "data[0].NgayKetThucXuLy",
            "status 9",
        ),
        (
            "a bad flag",
            vec![with("x", "HoSoCoThanhPhanSoHoa", json!("maybe"))],
            "data[0].HoSoCoThanhPhanSoHoa",
            "yes/no",
        ),
        (
            "a bad fee",
            vec![with("x", "DanhSachLePhi", json!([{"Gia": "free"}]))],
            "data[0].DanhSachLePhi[0].Gia",
            "free",
        ),
    ];
    for (what, items, field, fragment) in cases {
        let (status, answer) = post(request(items)).await;
        assert_eq!(status, 422, "{what}: {answer}");
        assert_eq!(answer["error_code"], "1", "{what}: {answer}");
        assert_eq!(answer["errors"][0]["field"], field, "{what}: {answer}");
        let error = answer["errors"][0]["error"].as_str().unwrap();
        assert!(error.contains(fragment), "{what}: {error}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .starts_with("Dữ liệu không hợp lệ")
        );
        assert!(answer["message_en"].as_str().unwrap().contains(field));
    }
    let (status, answer) = post(b"{\"data\": [".to_vec()).await;
    assert_eq!(
        (status, answer["errors"][0]["field"].as_str()),
        (422, Some("(body)"))
    );
    let (status, answer) = post(vec![b' '; 20 * 1024]).await;
    assert_eq!(
        (status, answer["error_code"].as_str()),
        (413, Some("2")),
        "{answer}"
    );

    // The marker: the one message the topic may hold.
    let (status, answer) = post(request(vec![record("marker")])).await;
    assert_eq!(
        (status, answer["error_code"].as_str()),
        (200, Some("0")),
        "{answer}"
    );
    assert_eq!(answer["accepted"], 1);
    let messages = read_topic(&broker.addr, &topic);
    assert_eq!(messages.len(), 1, "only the marker: {messages:?}");
    assert_eq!(messages[0].0, "marker", "keyed by MaHoSo");
    assert!(
        messages[0].1.starts_with("{\"dvcqg\":\"record\""),
        "{}",
        messages[0].1
    );
    assert!(
        !messages[0].1.contains("Nguyễn"),
        "no personal data on the topic"
    );
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT status, channel, province_code, commune_code FROM filings")
            .await
            == vec![json!({"status": "received", "channel": "online",
                           "province_code": "01", "commune_code": "00004"})]
    })
    .await;
    assert!(folded, "{:?}", hoso.sql("SELECT * FROM filings").await);
    hoso.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_files_are_imported_and_their_bad_lines_reported() {
    let broker = Broker::start();
    let topic = topic("portal-import");
    let dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-files"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let units = dir.join("units.csv");
    std::fs::write(
        &units,
        "unit_code,province_code,commune_code\n000.00.27.H35,01,00004\n",
    )
    .unwrap();
    let mut resolved = record("I-1");
    resolved["TrangThaiHoSo"] = json!(9);
    resolved["NgayKetThucXuLy"] = json!("20250702100000");
    let array = serde_json::to_vec(&vec![record("I-1"), resolved, record("I-2")]).unwrap();
    std::fs::write(dir.join("export.json"), array).unwrap();
    let lines = format!(
        "{}\n{}\n",
        with("I-3", "KenhThucHien", json!(9)),
        record("I-4")
    );
    std::fs::write(dir.join("sync.ndjson"), lines).unwrap();
    let report = dir.join("report.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_hoso"))
        .args(["import", "--format", "dvcqg", "--no-progress"])
        .args(["--brokers", &broker.addr, "--topic", &topic])
        .arg("--report")
        .arg(&report)
        .arg(dir.join("export.json"))
        .arg(dir.join("sync.ndjson"))
        .env("HOSO_SOURCES__DVCQG__UNITS_FILE", &units)
        .env("HOSO_KAFKA__PARTITIONS", "3")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "some lines rejected: {stderr}");
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(
        report.contains("sync.ndjson,1,") && report.contains("KenhThucHien"),
        "{report}"
    );
    let keys: Vec<String> = read_topic(&broker.addr, &topic)
        .into_iter()
        .map(|m| m.0)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, ["I-1", "I-1", "I-2", "I-4"], "{stderr}");

    let mut config = test_config(&broker.addr, &topic);
    config.portal_units = Some(Arc::new(
        UnitMap::parse(&std::fs::read_to_string(&units).unwrap(), &config.unit_list).unwrap(),
    ));
    let hoso = Hoso::start(config).await;
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT filing_id, status FROM filings ORDER BY filing_id")
            .await
            == vec![
                json!({"filing_id": "I-1", "status": "resolved"}),
                json!({"filing_id": "I-2", "status": "received"}),
                json!({"filing_id": "I-4", "status": "received"}),
            ]
    })
    .await;
    assert!(folded, "{:?}", hoso.sql("SELECT * FROM filings").await);
    hoso.stop().await;
}
