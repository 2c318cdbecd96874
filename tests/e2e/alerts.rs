//! Alerting through the whole pipeline: events folded, a rule evaluated on
//! its schedule or a filing's deadline timer come due, the alert firing in
//! `GET /api/alerts`, in the SQL table `alerts`, on the Kafka topic and at
//! an Alertmanager receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hoso_model::time::format_utc_ms;
use hoso_query::alerts::rules::RuleConfig;
use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, now_ms, read_topic, test_config, topic, wait_for};

/// A receiver of Alertmanager's `POST /api/v2/alerts` that keeps every
/// alert it is sent.
async fn alertmanager() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        axum::routing::post(move |axum::Json(body): axum::Json<Vec<Value>>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().extend(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// The state changes on an alerts topic, as (key, JSON).
fn changes(broker: &str, topic: &str) -> Vec<(String, Value)> {
    read_topic(broker, topic)
        .into_iter()
        .map(|(k, v)| (k, serde_json::from_str(&v).expect("JSON")))
        .collect()
}

/// `GET /api/alerts` (local mode: no token).
async fn api_alerts(hoso: &Hoso) -> Value {
    let r = hoso
        .http
        .get(format!("{}/api/alerts", hoso.base))
        .send()
        .await
        .expect("the alerts API answers");
    r.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaching_commune_fires_in_the_api_the_table_and_kafka() {
    let broker = Broker::start();
    let topic = topic("alerts");
    let mut config = test_config(&broker.addr, &topic);
    let alerts_topic = format!("{topic}-alerts");
    config.alerting.kafka_topic = alerts_topic.clone();
    config.alerting.evaluation_interval_ms = 200;
    config.alerting.rules = vec![RuleConfig {
        name: "BusyCommune".into(),
        sql: "SELECT province_code, commune_code, received AS value FROM daily_volume".into(),
        threshold: 1.0,
        op: ">".into(),
        for_s: 0,
        severity: "critical".into(),
        summary: "commune {commune_code} received {value}".into(),
    }];
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    // Due in two months: no filing is at risk or overdue, only the rule
    // fires.
    let now = now_ms();
    let body: String = [("B1", "30292"), ("B2", "30292"), ("B3", "30301")]
        .iter()
        .map(|(f, commune)| {
            let e = json!({
                "event_id": format!("{f}-1"), "filing_id": f, "seq": 1, "type": "received",
                "occurred_at": "2026-07-06T09:00:00+07:00", "province_code": "91",
                "commune_code": commune, "procedure_code": "1.001193", "channel": "online",
                "due_at": format_utc_ms(now + 60 * 86_400_000)
            });
            format!("{e}\n")
        })
        .collect();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");

    let api = || api_alerts(&hoso);
    let fired = wait_for(Duration::from_secs(30), || async {
        api().await["alerts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    assert!(fired, "no alert within 30 s");
    let body = api().await;
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "only the commune with two filings: {body}");
    assert_eq!(alerts[0]["state"], "firing");
    assert_eq!(alerts[0]["labels"]["commune_code"], "30292");
    assert_eq!(alerts[0]["summary"], "commune 30292 received 2");

    let rows = hoso
        .sql("SELECT rule, state, severity, province_code, commune_code, value FROM alerts")
        .await;
    assert_eq!(
        rows,
        vec![
            json!({"rule": "BusyCommune", "state": "firing", "severity": "critical",
                    "province_code": "91", "commune_code": "30292", "value": 2.0})
        ]
    );

    let read = wait_for(Duration::from_secs(30), || async {
        !read_topic(&broker.addr, &alerts_topic).is_empty()
    })
    .await;
    assert!(read, "nothing on {alerts_topic}");
    let messages = read_topic(&broker.addr, &alerts_topic);
    assert_eq!(
        messages.len(),
        1,
        "one state change, one message: {messages:?}"
    );
    let (key, payload) = &messages[0];
    assert!(key.starts_with("BusyCommune{"), "{key}");
    let change: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(change["state"], "firing");
    assert_eq!(change["previous_state"], Value::Null);
    assert_eq!(change["labels"]["commune_code"], "30292");
    hoso.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filings_past_or_near_their_due_fire_and_clear_when_resolved() {
    let broker = Broker::start();
    let topic = topic("filing-alerts");
    let mut config = test_config(&broker.addr, &topic);
    let alerts_topic = format!("{topic}-alerts");
    config.alerting.kafka_topic = alerts_topic.clone();
    config.alerting.evaluation_interval_ms = 200;
    let (url, alertmanager) = alertmanager().await;
    config.alerting.alertmanager_url = url;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    let now = now_ms();
    let received = |f: &str, due_ms: i64| {
        json!({
            "event_id": format!("{f}-1"), "filing_id": f, "seq": 1, "type": "received",
            "occurred_at": format_utc_ms(now - 30 * 86_400_000), "province_code": "91",
            "commune_code": "30292", "procedure_code": "1.001193", "channel": "in_person",
            "due_at": format_utc_ms(due_ms)
        })
    };
    let body: String = [
        // Past its due a week ago.
        received("LATE", now - 7 * 86_400_000),
        // Due in two hours: within 8 working hours whatever the day.
        received("SOON", now + 2 * 3_600_000),
        // Due in two months: neither.
        received("FINE", now + 60 * 86_400_000),
    ]
    .iter()
    .map(|e| format!("{e}\n"))
    .collect();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");

    let rows = || async {
        hoso.sql(
            "SELECT rule, state, severity, filing_id, commune_code FROM alerts ORDER BY filing_id",
        )
        .await
    };
    let fired = wait_for(Duration::from_secs(30), || async {
        rows().await.len() == 2
    })
    .await;
    assert!(fired, "{:?}", rows().await);
    assert_eq!(
        rows().await,
        vec![
            json!({"rule": "FilingOverdue", "state": "firing", "severity": "critical",
                   "filing_id": "LATE", "commune_code": "30292"}),
            json!({"rule": "FilingAtRisk", "state": "firing", "severity": "warning",
                   "filing_id": "SOON", "commune_code": "30292"}),
        ]
    );
    let api = api_alerts(&hoso).await;
    let first = &api["alerts"][0];
    assert_eq!(first["rule"], "FilingOverdue", "critical first: {api}");
    assert_eq!(first["filing_id"], "LATE");
    assert_eq!(first["labels"]["filing_id"], "LATE");
    assert!(first["value"].as_f64().unwrap() < 0.0, "hours left: {api}");
    // The same as the views say.
    assert_eq!(
        hoso.sql("SELECT filing_id FROM overdue").await,
        vec![json!({"filing_id": "LATE"})]
    );
    assert_eq!(
        hoso.sql("SELECT filing_id FROM at_risk").await,
        vec![json!({"filing_id": "SOON"})]
    );

    // Resolved: its alert ends.
    let resolved = json!({
        "event_id": "LATE-2", "filing_id": "LATE", "seq": 2, "type": "resolved",
        "occurred_at": format_utc_ms(now), "province_code": "91", "commune_code": "30292"
    });
    let (status, answer, _) = hoso.post_events(format!("{resolved}\n")).await;
    assert_eq!(status, 202, "{answer}");
    let cleared = wait_for(Duration::from_secs(30), || async {
        rows().await.len() == 1
    })
    .await;
    assert!(cleared, "{:?}", rows().await);
    assert_eq!(rows().await[0]["filing_id"], "SOON");

    // The changes reached the topic, one message each, each filing's in
    // order (one key, one partition): LATE began and ended, SOON began.
    let on_topic = || changes(&broker.addr, &alerts_topic);
    let all = wait_for(Duration::from_secs(30), || async { on_topic().len() >= 3 }).await;
    assert!(all, "{:?}", on_topic());
    let of = |filing: &str| -> Vec<(String, String)> {
        on_topic()
            .iter()
            .filter(|(_, c)| c["labels"]["filing_id"] == filing)
            .map(|(_, c)| {
                (
                    c["rule"].as_str().unwrap().to_string(),
                    c["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(on_topic().len(), 3, "{:?}", on_topic());
    assert_eq!(
        of("LATE"),
        [
            ("FilingOverdue".into(), "firing".into()),
            ("FilingOverdue".into(), "resolved".into())
        ]
    );
    assert_eq!(of("SOON"), [("FilingAtRisk".into(), "firing".into())]);
    let (key, late) = on_topic()
        .into_iter()
        .find(|(_, c)| c["labels"]["filing_id"] == "LATE")
        .unwrap();
    assert_eq!(
        key,
        r#"FilingOverdue{"commune_code":"30292","filing_id":"LATE","province_code":"91"}"#
    );
    assert_eq!(late["severity"], "critical");
    assert_eq!(late["previous_state"], Value::Null);

    // And Alertmanager heard both begin, and LATE end.
    let heard = |name: &str, filing: &str, resolved: bool| {
        alertmanager.lock().unwrap().iter().any(|a| {
            a["labels"]["alertname"] == name
                && a["labels"]["filing_id"] == filing
                && a["labels"]["commune_code"] == "30292"
                && (a["endsAt"].as_str().unwrap() <= format_utc_ms(now_ms()).as_str()) == resolved
        })
    };
    let ok = wait_for(Duration::from_secs(30), || async {
        heard("FilingOverdue", "LATE", false)
            && heard("FilingOverdue", "LATE", true)
            && heard("FilingAtRisk", "SOON", false)
    })
    .await;
    assert!(ok, "{:?}", alertmanager.lock().unwrap());
    hoso.stop().await;
}
