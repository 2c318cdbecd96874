//! `hoso import`: a gzipped NDJSON file and a CSV file, each with bad
//! lines, into a real broker. Every bad line is reported (file, line,
//! reason), exactly the valid events reach the topic, once each, and a
//! second import of the same files changes no table.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use hoso::import::{EXIT_REJECTED, ImportRequest};
use hoso_ingest::import::ImportOptions;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::harness::{Broker, Hoso, read_topic, test_config, topic, wait_for};

const AT: &str = "2025-07-01T08:00:00+07:00";

fn ev(f: &str, seq: u32, kind: &str) -> Value {
    json!({
        "event_id": format!("{f}-{seq}"), "filing_id": f, "seq": seq, "type": kind,
        "occurred_at": AT, "province_code": "01", "commune_code": "00004"
    })
}

fn received(f: &str, channel: &str) -> Value {
    let mut e = ev(f, 1, "received");
    e["procedure_code"] = json!("1.001193");
    e["channel"] = json!(channel);
    e["due_at"] = json!("2025-07-03T17:00:00+07:00");
    e
}

/// The reason `hoso_model::decode_event` gives for `line`.
fn reason(line: &str) -> String {
    hoso_model::decode_event(line.as_bytes())
        .expect_err("a bad line")
        .message
}

struct Files {
    ndjson: PathBuf,
    csv: PathBuf,
    /// (filing_id, event) of every valid line.
    valid: Vec<(String, Value)>,
    /// NDJSON lines that must reach the topic byte for byte.
    verbatim: Vec<String>,
    /// (file, line, reason) of every bad line.
    bad: BTreeSet<(String, u64, String)>,
}

fn write_files(dir: &Path) -> Files {
    let ndjson = dir.join("events.ndjson.gz");
    let csv = dir.join("events.csv");
    let mut valid = Vec::new();
    let mut verbatim = Vec::new();
    let mut bad = BTreeSet::new();

    // NDJSON, gzipped: blank lines, an unknown field (published as is),
    // a refused value, broken JSON, a `received` without its channel.
    let mut note = ev("F-N1", 2, "processing");
    note["note"] = json!("unknown fields travel on");
    let good = [
        received("F-N1", "online").to_string(),
        note.to_string(),
        // Whitespace inside the object is kept, as ingest keeps it.
        ev("F-N1", 3, "resolved").to_string().replace(",\"", ", \""),
        received("F-N2", "in_person").to_string(),
        ev("F-N2", 2, "supplement_requested").to_string(),
    ];
    let seq0 = ev("F-N3", 1, "submitted")
        .to_string()
        .replace("\"seq\":1", "\"seq\":0");
    let mut no_channel = received("F-N4", "online");
    no_channel.as_object_mut().unwrap().remove("channel");
    let no_channel = no_channel.to_string();
    let broken = "{\"event_id\": \"F-N5-1\", ".to_string();
    let lines = [
        good[0].as_str(),
        "",
        good[1].as_str(),
        &seq0,
        "   ",
        good[2].as_str(),
        &broken,
        good[3].as_str(),
        &no_channel,
        good[4].as_str(),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::write(&ndjson, gz.finish().unwrap()).unwrap();
    let name = ndjson.display().to_string();
    for (i, l) in lines.iter().enumerate() {
        let line = i as u64 + 1;
        if l.trim().is_empty() {
            continue;
        }
        // Like ingest, the importer takes a line without its surrounding blanks.
        match hoso_model::decode_event(l.trim().as_bytes()) {
            Ok(e) => {
                valid.push((
                    e.filing_id.to_string(),
                    serde_json::from_str::<Value>(l).unwrap(),
                ));
                verbatim.push(l.to_string());
            }
            Err(e) => {
                bad.insert((name.clone(), line, e.message));
            }
        }
    }
    assert_eq!((valid.len(), bad.len()), (5, 3), "the NDJSON file as meant");

    // CSV: the header is line 1; columns in an order of their own.
    let header = "filing_id,seq,event_id,type,occurred_at,province_code,commune_code,\
                  procedure_code,channel,due_at,eid_level2,digitized,fee_required,online_payment";
    let row = |f: &str, seq: u32, kind: &str, rest: &str| {
        format!("{f},{seq},{f}-{seq},{kind},{AT},01,00004,{rest}")
    };
    let due = "2025-07-03T17:00:00+07:00";
    let csv_rows = [
        header.to_string(),
        row(
            "F-C1",
            1,
            "received",
            &format!("1.001193,online,{due},true,1,0,"),
        ),
        row("F-C1", 2, "fee_paid", ",,,,,,TRUE"),
        row("F-C2", 1, "received", &format!("1.000894,postal,{due},,,,")),
        row(
            "F-C3",
            1,
            "received",
            &format!("1.000894,online,{due},,maybe,,"),
        ),
        row("F-C4", 1, "teleported", ",,,,,,"),
        "F-C5,1,F-C5-1,processing,,01,00004,,,,,,,".to_string(),
        "F-C6,1,F-C6-1,processing".to_string(),
    ];
    std::fs::write(&csv, csv_rows.join("\n") + "\n").unwrap();
    let name = csv.display().to_string();
    let c1 = {
        let mut e = received("F-C1", "online");
        e["eid_level2"] = json!(true);
        e["digitized"] = json!(true);
        e["fee_required"] = json!(false);
        e
    };
    let mut c1_paid = ev("F-C1", 2, "fee_paid");
    c1_paid["online_payment"] = json!(true);
    let mut c2 = received("F-C2", "postal");
    c2["procedure_code"] = json!("1.000894");
    for e in [c1, c1_paid, c2] {
        valid.push((e["filing_id"].as_str().unwrap().to_string(), e));
    }
    let teleported = ev("F-C4", 1, "teleported").to_string();
    let mut no_time = ev("F-C5", 1, "processing");
    no_time.as_object_mut().unwrap().remove("occurred_at");
    for (line, why) in [
        (
            5,
            "digitized: not a boolean (true, false, 1 or 0): \"maybe\"".to_string(),
        ),
        (6, reason(&teleported)),
        (7, reason(&no_time.to_string())),
        (8, "the row has 4 fields, the header 14".to_string()),
    ] {
        bad.insert((name.clone(), line, why));
    }
    Files {
        ndjson,
        csv,
        valid,
        verbatim,
        bad,
    }
}

/// By key, then event_id (unique among the valid events).
fn sorted(mut v: Vec<(String, Value)>) -> Vec<(String, Value)> {
    v.sort_by(|a, b| (&a.0, a.1["event_id"].as_str()).cmp(&(&b.0, b.1["event_id"].as_str())));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_imported_once_and_a_second_import_changes_nothing() {
    let broker = Broker::start();
    let topic = topic("import");
    let config = test_config(&broker.addr, &topic);
    let dir = config.data_dir.with_extension("files");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = write_files(&dir);
    let report = dir.join("rejected.csv");

    // The binary, as an operator runs it.
    let out = {
        let (brokers, topic) = (broker.addr.clone(), topic.clone());
        let args: Vec<String> = vec![
            "import".into(),
            "--brokers".into(),
            brokers,
            "--topic".into(),
            topic,
            "--report".into(),
            report.display().to_string(),
            files.ndjson.display().to_string(),
            files.csv.display().to_string(),
        ];
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_hoso"))
                .args(args)
                .env("HOSO_KAFKA__PARTITIONS", "3")
                .output()
                .expect("hoso import runs")
        })
        .await
        .unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(EXIT_REJECTED)),
        "rejected lines: exit 2\n{stderr}"
    );
    for (file, line, why) in &files.bad {
        assert!(
            stderr.contains(&format!("  {file}:{line}: {why}\n")),
            "{file}:{line}: {why} not in\n{stderr}"
        );
    }
    let (n_valid, n_bad) = (files.valid.len(), files.bad.len());
    assert!(
        stderr.contains(&format!(
            "2 files, {} lines read, {n_valid} published, {n_bad} rejected",
            n_valid + n_bad
        )),
        "{stderr}"
    );
    let mut rows = csv::Reader::from_path(&report).expect("the report");
    let reported: BTreeSet<(String, u64, String)> = rows
        .deserialize()
        .map(|r| r.expect("a report row"))
        .collect();
    assert_eq!(reported, files.bad, "the report names every bad line");

    // Exactly the valid events, once each, keyed by filing_id.
    let on_topic = read_topic(&broker.addr, &topic);
    for line in &files.verbatim {
        assert!(
            on_topic.iter().any(|(_, p)| p == line),
            "published byte for byte: {line}"
        );
    }
    let on_topic: Vec<(String, Value)> = on_topic
        .into_iter()
        .map(|(k, p)| (k, serde_json::from_str(&p).expect("JSON on the topic")))
        .collect();
    for (key, event) in &on_topic {
        assert_eq!(event["filing_id"].as_str(), Some(key.as_str()));
    }
    assert_eq!(sorted(on_topic), sorted(files.valid.clone()));

    // The tables after one import.
    let hoso = Hoso::start(config.clone()).await;
    hoso.wait_ready().await;
    let filings_sql = "SELECT * FROM filings ORDER BY filing_id";
    let stats_sql = "SELECT * FROM daily_stats ORDER BY day, province_code, commune_code";
    let once = hoso.sql(filings_sql).await;
    let stats_once = hoso.sql(stats_sql).await;
    let ids: Vec<&str> = once
        .iter()
        .map(|r| r["filing_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["F-C1", "F-C2", "F-N1", "F-N2"]);
    assert_eq!(stats_once[0]["received"], json!(4), "{stats_once:?}");

    // The same import again, through the library this time.
    let request = ImportRequest {
        files: vec![files.ndjson.clone(), files.csv.clone()],
        format: None,
        report: None,
        options: ImportOptions::default(),
        progress: false,
    };
    let again = hoso::import::run(&config, &request, CancellationToken::new())
        .await
        .expect("the second import runs");
    assert_eq!(again.exit_code(), EXIT_REJECTED);
    assert_eq!(again.summary.published, n_valid as u64);
    assert_eq!(again.summary.rejected, n_bad as u64);
    let again_bad: BTreeSet<_> = again
        .summary
        .rejections
        .iter()
        .map(|r| (r.file.clone(), r.line, r.reason.clone()))
        .collect();
    assert_eq!(again_bad, files.bad);
    assert_eq!(read_topic(&broker.addr, &topic).len(), 2 * n_valid);

    // Every repeat is folded as a duplicate, and no table moves.
    let dropped = wait_for(Duration::from_secs(30), || async {
        hoso.metrics().await.contains(&format!(
            "hoso_processor_events_total{{result=\"duplicate\"}} {n_valid}\n"
        ))
    })
    .await;
    assert!(dropped, "the repeats were folded as duplicates");
    assert_eq!(hoso.sql(filings_sql).await, once);
    assert_eq!(hoso.sql(stats_sql).await, stats_once);
    hoso.stop().await;
}
