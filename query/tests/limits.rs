//! The policy while rows flow: the row cap, the limit on concurrent
//! queries, and a client that goes away cancelling its query.

mod common;

use futures::StreamExt;
use hoso_query::{QueryConfig, QueryError};

/// Runs for hours and sends nothing until the end.
const SILENT: &str = "SELECT count(*) FROM generate_series(1, 10000000000000)";
/// Sends rows for hours.
const ENDLESS: &str =
    "SELECT value, repeat('x', 50) AS pad FROM generate_series(1, 10000000000000)";

/// Long enough that no test below ends by its timeout.
const NEVER_MS: u64 = 600_000;

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_row_cap_holds_while_rows_stream() {
    let server = common::serve(QueryConfig {
        max_result_rows: 10_000,
        ..QueryConfig::default()
    })
    .await;
    // The stream yields rows up to the cap, then the error, then nothing.
    let mut rows = server
        .executor
        .execute_stream(
            &common::admin(),
            "SELECT value FROM generate_series(1, 20000)",
        )
        .await
        .unwrap();
    let mut yielded = 0;
    let error = loop {
        match rows.next().await {
            Some(Ok(batch)) => yielded += batch.num_rows(),
            Some(Err(e)) => break e,
            None => panic!("ended without refusing 20,000 rows"),
        }
    };
    assert!(matches!(error, QueryError::TooManyRows(10_000)), "{error}");
    assert!(yielded <= 10_000, "{yielded} rows passed the cap");
    assert!(rows.next().await.is_none());
    assert_eq!(server.outcomes("too_many_rows"), 1);
    assert_eq!(server.metrics.running.get(), 0, "the slot is free again");

    // Over HTTP, a cap passed before the first bytes is an ordinary 400...
    let resp = server
        .post("csv", "SELECT value FROM generate_series(1, 10001)")
        .await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("max_result_rows"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_passed_after_the_first_bytes_cuts_the_body_short() {
    let server = common::serve(QueryConfig {
        max_result_rows: 100_000,
        ..QueryConfig::default()
    })
    .await;
    // 100,000 rows of JSON are far more than the first chunk: the status
    // is out when the cap is passed.
    let resp = server
        .post(
            "json",
            "SELECT value, repeat('x', 50) AS pad FROM generate_series(1, 200000)",
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await;
    assert!(body.is_err(), "the body must not look complete");
    common::eventually("the cap counted", || server.outcomes("too_many_rows") == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_concurrency_limit_a_query_waits_for_a_slot() {
    let server = common::serve(QueryConfig {
        max_concurrent_queries: 2,
        timeout_ms: NEVER_MS,
        ..QueryConfig::default()
    })
    .await;
    let ex = &server.executor;
    let first = ex.execute_stream(&common::admin(), SILENT).await.unwrap();
    let second = ex.execute_stream(&common::admin(), SILENT).await.unwrap();
    assert_eq!(server.metrics.running.get(), 2);
    let third = tokio::spawn({
        let ex = ex.clone();
        async move { ex.execute(&common::admin(), "SELECT 42 AS answer").await }
    });
    common::eventually("the third query waits", || {
        server.metrics.waiting.get() == 1
    })
    .await;
    assert!(!third.is_finished());
    drop(first);
    let out = third.await.unwrap().unwrap();
    assert_eq!(out.num_rows(), 1);
    assert_eq!(server.metrics.waiting.get(), 0);
    drop(second);
    assert_eq!(server.metrics.running.get(), 0);
    assert_eq!(server.outcomes("cancelled"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_finds_no_slot_in_time_gets_503_with_retry_after() {
    let server = common::serve(QueryConfig {
        max_concurrent_queries: 1,
        timeout_ms: 300,
        ..QueryConfig::default()
    })
    .await;
    // Holds the only slot; never polled, so its own timeout never fires.
    let held = server
        .executor
        .execute_stream(&common::admin(), SILENT)
        .await
        .unwrap();
    let resp = server.post("json", "SELECT 1").await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()[reqwest::header::RETRY_AFTER], "1");
    let body: serde_json::Value = resp.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("max_concurrent_queries"), "{message}");
    assert_eq!(server.outcomes("busy"), 1);
    assert_eq!(server.metrics.waiting.get(), 0);
    drop(held);
    let resp = server.post("json", "SELECT 1").await;
    assert_eq!(resp.status(), 200);
}

/// Dropping the stream stops DataFusion's work, not only hoso's
/// bookkeeping: the tasks the plan spawned go away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_stops_the_plan() {
    let server = common::serve(QueryConfig {
        timeout_ms: NEVER_MS,
        target_partitions: 2,
        ..QueryConfig::default()
    })
    .await;
    let before = alive_tasks();
    let mut rows = server
        .executor
        .execute_stream(&common::admin(), SILENT)
        .await
        .unwrap();
    let polling = tokio::spawn(async move { rows.next().await.map(|r| r.is_ok()) });
    common::eventually("the plan spawned its tasks", || alive_tasks() > before + 1).await;
    polling.abort();
    common::eventually("the plan's tasks ended", || alive_tasks() <= before).await;
    common::eventually("the query counted as cancelled", || {
        server.metrics.running.get() == 0 && server.outcomes("cancelled") == 1
    })
    .await;
}

/// A client that disconnects, while the result streams or before its first
/// byte, ends its query long before the ten-minute timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_query() {
    let server = common::serve(QueryConfig {
        timeout_ms: NEVER_MS,
        max_result_rows: usize::MAX,
        ..QueryConfig::default()
    })
    .await;
    let before = alive_tasks();

    // Mid-stream: the client reads a little and hangs up.
    let mut resp = server.post("json", ENDLESS).await;
    assert_eq!(resp.status(), 200);
    assert!(!resp.chunk().await.unwrap().unwrap().is_empty());
    assert_eq!(server.metrics.running.get(), 1);
    drop(resp);
    common::eventually("the streaming query ended", || {
        server.metrics.running.get() == 0 && server.outcomes("cancelled") == 1
    })
    .await;

    // Before the first byte: the query computes, the client gives up.
    let request = tokio::spawn({
        let url = server.url("csv");
        async move { reqwest::Client::new().post(url).body(SILENT).send().await }
    });
    common::eventually("the silent query runs", || {
        server.metrics.running.get() == 1
    })
    .await;
    request.abort();
    common::eventually("the silent query ended", || {
        server.metrics.running.get() == 0 && server.outcomes("cancelled") == 2
    })
    .await;
    common::eventually("every task of both queries ended", || {
        alive_tasks() <= before
    })
    .await;
}
