//! Many dashboards at once: 200 concurrent queries over HTTP and the
//! Postgres wire, more than `query.max_concurrent_queries`, all answered,
//! all with the answer one query alone gets.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, free_port, test_config, topic, wait_for};

/// What a dashboard asks every few seconds; each answers one BIGINT `n`.
const DASHBOARD: [&str; 4] = [
    "SELECT sum(received) AS n FROM kpi_province_daily",
    "SELECT count(*) AS n FROM daily_volume",
    "SELECT sum(open) AS n FROM backlog",
    "SELECT count(*) AS n FROM filings WHERE channel = 'online'",
];

const QUERIES: usize = 200;
/// Of which over the Postgres wire, one connection each.
const OVER_POSTGRES: usize = 50;

/// Official commune codes of Hồ Chí Minh (79) and An Giang (91).
const HCM: [&str; 12] = [
    "25747", "25750", "25760", "25768", "25771", "25777", "25780", "25792", "25807", "25813",
    "25819", "25822",
];
const AN_GIANG: [&str; 12] = [
    "30292", "30301", "30307", "30313", "30316", "30325", "30337", "30341", "30346", "30352",
    "30367", "30376",
];

async fn http_n(http: &reqwest::Client, base: &str, sql: &str) -> Result<i64, String> {
    let r = http
        .post(format!("{base}/v1/sql"))
        .body(sql.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let text = r.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {text}"));
    }
    let rows: Vec<Value> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    rows[0]["n"].as_i64().ok_or_else(|| text.clone())
}

async fn postgres_n(port: u16, sql: &str) -> Result<i64, String> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=hoso password=hoso dbname=hoso"),
        tokio_postgres::NoTls,
    )
    .await
    .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(connection);
    let n = client
        .query_one(sql, &[])
        .await
        .map_err(|e| format!("{e:?}"))?
        .get::<_, i64>(0);
    drop(client);
    let _ = conn.await;
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_dashboard_queries_all_succeed() {
    let broker = Broker::start();
    let topic = topic("concurrency");
    let mut config = test_config(&broker.addr, &topic);
    let port = free_port();
    config.query.postgres_listen = format!("127.0.0.1:{port}");
    config.query.max_concurrent_queries = 16;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    let mut body = String::new();
    for i in 0..120 {
        let channel = if i % 5 == 0 { "online" } else { "in_person" };
        let e = json!({
            "event_id": format!("C{i}-1"), "filing_id": format!("C{i}"), "seq": 1,
            "type": "received", "occurred_at": format!("2026-07-{:02}T09:00:00+07:00", 6 + i % 4),
            "province_code": if i % 3 == 0 { "79" } else { "91" },
            // Official codes (ingest refuses others): twelve communes a province.
            "commune_code": if i % 3 == 0 { HCM[i % 12] } else { AN_GIANG[i % 12] },
            "procedure_code": "1.001193", "channel": channel
        });
        body.push_str(&format!("{e}\n"));
    }
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT count(*) AS n FROM filings").await[0]["n"] == 120
    })
    .await;
    assert!(folded);

    // Each query alone first: the answers every concurrent one must match.
    let mut alone = Vec::new();
    for sql in DASHBOARD {
        alone.push(http_n(&hoso.http, &hoso.base, sql).await.unwrap());
    }
    assert_eq!(alone[0], 120);
    assert_eq!(alone[3], 24);

    let tasks: Vec<_> = (0..QUERIES)
        .map(|i| {
            let (http, base) = (hoso.http.clone(), hoso.base.clone());
            let sql = DASHBOARD[i % DASHBOARD.len()];
            tokio::spawn(async move {
                let n = if i < OVER_POSTGRES {
                    postgres_n(port, sql).await
                } else {
                    http_n(&http, &base, sql).await
                };
                (i, n)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        let (i, n) = task.await.unwrap();
        match n {
            Ok(n) if n == alone[i % DASHBOARD.len()] => {}
            other => failures.push(format!("query {i}: {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    // All counted as answered, none refused, timed out or busy.
    let metrics = hoso.metrics().await;
    let ok: u64 = metrics
        .lines()
        .find(|l| l.starts_with("hoso_query_queries_total{outcome=\"ok\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        ok >= (QUERIES + DASHBOARD.len()) as u64,
        "{ok} ok queries\n{metrics}"
    );
    hoso.stop().await;
}
