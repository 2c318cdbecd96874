//! Hot and cold: filings closed longer ago than the horizon leave memory
//! for Parquet files, and SQL cannot tell. A server that keeps everything
//! in memory, reading the same topic, answers the same, before and after a
//! late event brings a cold filing back, and after a restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, test_config, topic, wait_for};

const DAYS: u32 = 12;
const PER_DAY: u32 = 30;

fn event(filing: &str, seq: u32, kind: &str, day: u32, hour: u32) -> Value {
    // Odd days in Hồ Chí Minh City, even ones in Hà Nội: two provinces.
    let (province, commune) = if day % 2 == 1 {
        ("79", "26740")
    } else {
        ("01", "00004")
    };
    let mut e = json!({
        "event_id": format!("{filing}-{seq}"), "filing_id": filing, "seq": seq, "type": kind,
        "occurred_at": format!("2025-07-{day:02}T{hour:02}:00:00+07:00"),
        "province_code": province, "commune_code": commune,
    });
    if kind == "received" {
        e["procedure_code"] = json!("1.001193");
        e["channel"] = json!(if filing.ends_with('0') {
            "online"
        } else {
            "in_person"
        });
        e["due_at"] = json!(format!("2025-07-{:02}T17:00:00+07:00", day + 1));
    }
    e
}

fn ndjson(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

async fn tables(hoso: &Hoso) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for q in [
        "SELECT * FROM filings ORDER BY filing_id",
        "SELECT * FROM daily_stats ORDER BY day, province_code, commune_code",
        "SELECT status, outcome, count(*) AS n FROM filings GROUP BY status, outcome \
         ORDER BY status, outcome",
    ] {
        out.push(hoso.sql(q).await);
    }
    out
}

fn cold_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let p = e.path();
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_filings_answer_sql_as_if_they_were_in_memory() {
    let broker = Broker::start();
    let topic = topic("cold");
    let mut config = test_config(&broker.addr, &topic);
    config.processor.cold_after_days = 2;
    let hoso = Hoso::start(config.clone()).await;
    hoso.wait_ready().await;
    // The reference keeps every filing in memory.
    let mut reference_config = config.clone();
    reference_config.data_dir = config.data_dir.join("reference");
    reference_config.processor.cold_after_days = 1_000_000;
    let reference = Hoso::start(reference_config).await;
    reference.wait_ready().await;

    let mut events = Vec::new();
    for day in 1..=DAYS {
        for i in 0..PER_DAY {
            let f = format!("K{day:02}-{i:02}");
            events.push(event(&f, 1, "received", day, 8));
            // One in ten stays open; the rest end and are handed over the
            // same day (seq 5; 3 and 4 are left for late events).
            if i % 10 != 3 {
                events.push(event(&f, 2, "resolved", day, 15));
                events.push(event(&f, 5, "returned", day, 16));
            }
        }
    }
    for chunk in events.chunks(100) {
        let (status, answer, _) = hoso.post_events(ndjson(chunk)).await;
        assert_eq!(status, 202, "{answer}");
    }
    let total = json!([{"n": DAYS * PER_DAY}]);
    for server in [&hoso, &reference] {
        let folded = wait_for(Duration::from_secs(30), || async {
            Value::from(server.sql("SELECT count(*) AS n FROM filings").await) == total
        })
        .await;
        assert!(
            folded,
            "{:?}",
            server.sql("SELECT count(*) AS n FROM filings").await
        );
    }
    // Watermark July 12th, horizon 2 days: what closed before July 10th
    // is in files of province 79 and July (per partition, merged by size).
    let cold_dir = config.data_dir.join("cold").join(&topic);
    let went_cold = wait_for(Duration::from_secs(30), || async {
        hoso.metrics()
            .await
            .contains("hoso_processor_cold_evicted_total 243")
    })
    .await;
    assert!(
        went_cold,
        "9 days x 27 closed filings: {}",
        hoso.metrics().await
    );
    let files = cold_files(&cold_dir);
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("filings/province=79/month=2025-07/p")),
        "{files:?}"
    );
    assert!(
        files.iter().all(|f| f.contains("/month=2025-07/p")),
        "{files:?}"
    );
    assert!(files.iter().all(|f| f.ends_with(".parquet")), "{files:?}");
    let memory = hoso.metrics().await;
    let hot: i64 = memory
        .lines()
        .filter(|l| l.starts_with("hoso_processor_filings{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(
        hot,
        (DAYS * PER_DAY) as i64 - 243,
        "only open and recent filings in memory"
    );

    let expected = tables(&reference).await;
    assert_eq!(tables(&hoso).await, expected);

    // Late events for cold filings: they come back and SQL shows one row.
    let late = vec![
        event("K01-05", 3, "fee_paid", 13, 9),
        event("K02-07", 3, "supplement_requested", 2, 9),
        event("K02-07", 4, "supplement_requested", 2, 10),
    ];
    let (status, answer, _) = hoso.post_events(ndjson(&late)).await;
    assert_eq!(status, 202, "{answer}");
    let applied = wait_for(Duration::from_secs(30), || async {
        let q = "SELECT online_payment, outcome FROM filings \
                 WHERE filing_id IN ('K01-05', 'K02-07') ORDER BY filing_id";
        let want = vec![
            json!({"online_payment": false, "outcome": "early"}),
            json!({"online_payment": null, "outcome": "late"}),
        ];
        hoso.sql(q).await == want && reference.sql(q).await == want
    })
    .await;
    assert!(applied, "late events folded into the cold filings");
    let expected = tables(&reference).await;
    assert_eq!(tables(&hoso).await, expected);

    // A restart restores the tier from the checkpoint. This time every
    // cold file is read from Parquet, none decoded into memory first: the
    // two ways answer alike.
    hoso.stop().await;
    config.query.small_cold_file_bytes = 0;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;
    assert_eq!(tables(&hoso).await, expected);
    hoso.stop().await;
    reference.stop().await;
}
