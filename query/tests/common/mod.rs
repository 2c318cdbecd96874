//! A real server on port 0 over hand-made tables, for the HTTP tests.

#![allow(dead_code)] // each test file uses a part

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Date32Array, Int32Array, Int64Array, RecordBatch, StringArray};
use hoso_model::schema;
use hoso_model::tables::{TableSource, TablesSnapshot};
use hoso_query::{Auth, Caller, Protocol, QueryConfig, QueryExecutor, QueryMetrics, Role};

struct Fixed(TablesSnapshot);

impl TableSource for Fixed {
    fn snapshot(&self) -> TablesSnapshot {
        self.0.clone()
    }
}

/// A running server and what the tests read on its side.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The executor behind the server, for the tests that call it directly.
    pub executor: QueryExecutor,
    /// The query metrics the server counts into.
    pub metrics: QueryMetrics,
}

impl Server {
    pub fn url(&self, format: &str) -> String {
        format!("{}/v1/sql?format={format}", self.base)
    }

    /// `sql` posted for an answer in `format`.
    pub async fn post(&self, format: &str, sql: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url(format))
            .body(sql.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub fn outcomes(&self, outcome: &str) -> u64 {
        self.metrics.queries.with_label_values(&[outcome]).get()
    }
}

/// The caller of the tests that call the executor directly.
pub fn admin() -> Caller {
    Caller::new("test", Role::Admin, Protocol::Http)
}

/// One partition's daily counts on two days and two communes, one day with
/// nothing ended (so `on_time_rate` is NULL there).
fn snapshot() -> TablesSnapshot {
    const DAY: i32 = 20_270; // 2025-07-01
    let rows: [(i32, &str, &str, [i64; schema::DAILY_COUNTS.len()]); 3] = [
        (DAY, "01", "00004", [3, 1, 1, 2, 0, 0, 2, 1, 2, 0, 0]),
        (DAY + 1, "01", "00004", [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (DAY, "79", "26740", [5, 4, 1, 0, 1, 1, 3, 0, 1, 2, 1]),
    ];
    let count = |i: usize| Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3[i])));
    let mut columns: Vec<arrow::array::ArrayRef> = vec![
        Arc::new(Int32Array::from_value(0, rows.len())),
        Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
    ];
    columns.extend((0..schema::DAILY_COUNTS.len()).map(|i| count(i) as arrow::array::ArrayRef));
    TablesSnapshot {
        daily_partials: vec![RecordBatch::try_new(schema::daily_partials(), columns).unwrap()],
        ..TablesSnapshot::default()
    }
}

/// The SQL route of `config`'s executor, served on a free port.
pub async fn serve(config: QueryConfig) -> Server {
    let registry = prometheus::Registry::new();
    let metrics = QueryMetrics::new(&registry).unwrap();
    let executor = QueryExecutor::new(Arc::new(Fixed(snapshot())), &config, metrics.clone())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = hoso_query::http::router(executor.clone(), Auth::local());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        base,
        executor,
        metrics,
    }
}

/// Waits for `condition`, polling, for at most a minute: long enough for
/// any slow machine, short enough that a condition that never holds fails.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still not true after a minute: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
