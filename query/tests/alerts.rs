//! Alert rules end to end on the query side: SQL evaluated through the
//! executor with a controlled clock, the `alerts` table and
//! `GET /api/alerts` scoped like every read, delivery in Alertmanager's
//! format to a local receiver, and a broken rule that changes nothing.

mod common;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::routing::post;
use hoso_query::alerts::AlertingConfig;
use hoso_query::alerts::engine::{AlertMetrics, Engine};
use hoso_query::alerts::rules::{RuleConfig, State};
use hoso_query::auth::{AuthConfig, TokenConfig, token_sha256};
use hoso_query::{Auth, Caller, Protocol, QueryConfig, Role};
use serde_json::Value;

/// Per commune, every filing received in the fixture: 01/00004 and
/// 79/26740 have 5 each.
const RECEIVED: &str = "SELECT province_code, commune_code, sum(received) AS value \
                        FROM daily_stats GROUP BY province_code, commune_code";

fn rule(name: &str, sql: &str, for_s: u64) -> RuleConfig {
    RuleConfig {
        name: name.into(),
        sql: sql.into(),
        threshold: 4.5,
        op: ">".into(),
        for_s,
        severity: "warning".into(),
        summary: "{commune_code} received {value}".into(),
    }
}

/// A receiver of Alertmanager's API that keeps what it is sent.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        post(move |Json(body): Json<Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_fire_after_their_for_and_reach_sql_the_api_and_alertmanager() {
    let server = common::serve(QueryConfig::default()).await;
    let (url, received) = receiver().await;
    let config = AlertingConfig {
        evaluation_interval_ms: 15_000,
        alertmanager_url: url,
        kafka_topic: String::new(),
        rules: vec![
            rule("ManyReceived", RECEIVED, 60),
            rule("Broken", "SELECT 1 AS not_a_value", 0),
        ],
    };
    let registry = prometheus::Registry::new();
    let metrics = AlertMetrics::new(&registry).unwrap();
    let book = server.executor.alerts().clone();
    let engine = Engine::new(&config, server.executor.clone(), book, metrics.clone()).unwrap();

    // First seen: pending, nothing sent to Alertmanager yet.
    let t0 = 1_800_000_000_000;
    let changes = engine.evaluate(t0).await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.iter().all(|c| c.alert.state == State::Pending));
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(metrics.failures.with_label_values(&["Broken"]).get(), 1);
    assert_eq!(
        metrics
            .alerts
            .with_label_values(&["ManyReceived", "pending"])
            .get(),
        2
    );

    // Past `for`: firing, and delivered in Alertmanager's format.
    let changes = engine.evaluate(t0 + 60_000).await;
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| c.alert.state == State::Firing));
    let sent = received.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "one POST per evaluation");
    let alerts = sent[0].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    let first = &alerts[0];
    assert_eq!(first["labels"]["alertname"], "ManyReceived");
    assert_eq!(first["labels"]["severity"], "warning");
    assert_eq!(first["labels"]["province_code"], "01");
    assert_eq!(first["labels"]["commune_code"], "00004");
    assert_eq!(first["annotations"]["summary"], "00004 received 5");
    assert_eq!(first["startsAt"], "2027-01-15T08:01:00.000Z");
    assert!(first["endsAt"].as_str().unwrap() > first["startsAt"].as_str().unwrap());
    // Still firing: announced once, sent again only after the resend
    // delay (Alertmanager expects it before `endsAt`).
    assert!(engine.evaluate(t0 + 75_000).await.is_empty());
    assert_eq!(received.lock().unwrap().len(), 1);
    assert!(engine.evaluate(t0 + 120_000).await.is_empty());
    let sent = received.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].as_array().unwrap().len(), 2);
    assert_eq!(sent[1][0]["startsAt"], "2027-01-15T08:01:00.000Z");

    // The SQL table, through the executor: all for the admin, one
    // province for its caller.
    let admin = Caller::new("a", Role::Admin, Protocol::Http);
    let out = server
        .executor
        .execute(
            &admin,
            "SELECT rule, state, province_code, commune_code, value FROM alerts ORDER BY province_code",
        )
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&out.batches)
        .unwrap()
        .to_string();
    assert_eq!(out.num_rows(), 2, "{text}");
    assert!(
        text.contains("| ManyReceived | firing | 01            | 00004"),
        "{text}"
    );
    let hcm = Caller::new("h", Role::Province("79".into()), Protocol::Http);
    let out = server
        .executor
        .execute(&hcm, "SELECT province_code FROM alerts")
        .await
        .unwrap();
    assert_eq!(out.num_rows(), 1);

    // The API, with tokens.
    let auth = Auth::new(&AuthConfig {
        tokens: vec![TokenConfig {
            user: "hcm".into(),
            role: "province:79".into(),
            sha256: token_sha256("t-hcm"),
        }],
    })
    .unwrap();
    let app = hoso_query::alerts::http::router(server.executor.clone(), auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let r = http.get(format!("{base}/api/alerts")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = http
        .get(format!("{base}/api/alerts"))
        .bearer_auth("t-hcm")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = body["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{body}");
    assert_eq!(list[0]["state"], "firing");
    assert_eq!(list[0]["labels"]["commune_code"], "26740");
    assert_eq!(list[0]["fired_at"], "2027-01-15T08:01:00Z");
}

#[tokio::test]
async fn duplicate_or_bad_rules_refuse_to_start() {
    let server = common::serve(QueryConfig::default()).await;
    let registry = prometheus::Registry::new();
    let metrics = AlertMetrics::new(&registry).unwrap();
    let twice = AlertingConfig {
        rules: vec![rule("A", RECEIVED, 0), rule("A", RECEIVED, 0)],
        ..AlertingConfig::default()
    };
    let e = Engine::new(
        &twice,
        server.executor.clone(),
        Default::default(),
        metrics.clone(),
    )
    .err()
    .unwrap();
    assert!(e.contains("two rules"), "{e}");
    let reserved = AlertingConfig {
        rules: vec![rule("FilingOverdue", RECEIVED, 0)],
        ..AlertingConfig::default()
    };
    let e = Engine::new(
        &reserved,
        server.executor.clone(),
        Default::default(),
        metrics.clone(),
    )
    .err()
    .unwrap();
    assert!(e.contains("deadline timers"), "{e}");
    let bad_url = AlertingConfig {
        alertmanager_url: "ftp://x".into(),
        ..AlertingConfig::default()
    };
    let e = Engine::new(
        &bad_url,
        server.executor.clone(),
        Default::default(),
        metrics,
    )
    .err()
    .unwrap();
    assert!(e.contains("alertmanager_url"), "{e}");
}

#[tokio::test]
async fn the_default_rules_plan_against_the_real_views() {
    // Each default rule's SQL is valid against hoso's tables and views and
    // answers a value column (no data: no alerts, no failures).
    let server = common::serve(QueryConfig::default()).await;
    let registry = prometheus::Registry::new();
    let metrics = AlertMetrics::new(&registry).unwrap();
    let config = AlertingConfig::default();
    let engine = Engine::new(
        &config,
        server.executor.clone(),
        server.executor.alerts().clone(),
        metrics.clone(),
    )
    .unwrap();
    engine.evaluate(1_800_000_000_000).await;
    let names = config.rules.iter().map(|r| r.name.as_str());
    for name in names.chain(hoso_query::alerts::filings::RULES) {
        assert_eq!(
            metrics.failures.with_label_values(&[name]).get(),
            0,
            "{name} fails"
        );
    }
}
