//! `hoso bench` end to end on a small scale, so the harness keeps working:
//! every part runs against a real broker and reports a figure for each row.

use hoso::bench::{self, BenchOptions};
use tokio_util::sync::CancellationToken;

use crate::harness::{Broker, test_config, topic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_part_of_the_harness_measures_something() {
    let broker = Broker::start();
    let topic = topic("bench");
    let mut config = test_config(&broker.addr, &topic);
    config.propagate();
    let split = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    let opts = BenchOptions {
        events: 20_000,
        ingest_events: 10_000,
        freshness_rate: 1_000,
        freshness_seconds: 2,
        seed: 7,
        year: small_year(),
        only: Vec::new(),
        // The consume part splits the CPUs between the broker and the
        // clients where there are two to split.
        broker_pid: split.then(|| broker.pid().expect("running")),
    };
    let table = bench::run(opts, config, CancellationToken::new())
        .await
        .expect("the harness runs");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
    // The header, then bare consumer, processor, ingest, freshness; the
    // year's fold, state, RSS and recovery; five queries and the export.
    assert_eq!(rows.len(), 15, "{table}");
    assert!(rows[1].contains("bare librdkafka consumer"), "{table}");
    let processor = rows[2];
    assert!(processor.contains("msgs/s"), "{table}");
    assert_eq!(processor.contains("the broker on CPU"), split, "{table}");
    let ratio: f64 = processor
        .rsplit('|')
        .nth(1)
        .and_then(|c| c.trim().parse().ok())
        .expect("a ratio");
    assert!(ratio > 0.0, "{table}");
    assert!(
        rows[4].contains("p50") && rows[4].contains("p99"),
        "{table}"
    );
    assert!(rows[5].contains("decode + fold on one core"), "{table}");
    assert!(rows[8].contains("recovery of that year"), "{table}");
    // Each query was answered alike by hoso, DuckDB and chDB (the harness
    // fails otherwise) and timed in all three.
    for row in &rows[9..14] {
        assert!(
            row.contains("hoso ") && row.contains("DuckDB ") && row.contains("chDB "),
            "{table}"
        );
    }
    // The ad-hoc ones also by DataFusion alone on the exported file.
    for row in &rows[12..14] {
        assert!(row.contains("DataFusion alone on the same file"), "{table}");
    }
    assert!(!rows[9].contains("DataFusion alone"), "{table}");
    assert!(rows[14].contains("Parquet export"), "{table}");

    // A part that does not exist is named.
    let bad = BenchOptions {
        events: 1,
        ingest_events: 1,
        freshness_rate: 1,
        freshness_seconds: 1,
        seed: 7,
        year: small_year(),
        only: vec!["everything".into()],
        broker_pid: None,
    };
    let e = bench::run(
        bad,
        test_config(&broker.addr, &topic),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("consume, ingest, freshness, year, queries"),
        "{e}"
    );
}

/// Three weeks of four communes: a few thousand filings, some of them
/// past the cold tier's horizon.
fn small_year() -> bench::year::YearOptions {
    bench::year::YearOptions {
        province: "20".into(),
        start_day: hoso::cli::parse_date("2025-03-03").expect("a date"),
        days: 21,
        max_communes: Some(4),
        seed: 7,
        keep: false,
    }
}
