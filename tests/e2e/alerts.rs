//! Alerting through the whole pipeline: events folded, a rule evaluated on
//! its schedule, the alert firing in `GET /api/alerts`, in the SQL table
//! `alerts` and on the Kafka topic.

use std::time::Duration;

use hoso_query::alerts::rules::RuleConfig;
use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, read_topic, test_config, topic, wait_for};

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

    let body: String = [("B1", "30292"), ("B2", "30292"), ("B3", "30301")]
        .iter()
        .map(|(f, commune)| {
            let e = json!({
                "event_id": format!("{f}-1"), "filing_id": f, "seq": 1, "type": "received",
                "occurred_at": "2026-07-06T09:00:00+07:00", "province_code": "91",
                "commune_code": commune, "procedure_code": "1.001193", "channel": "online"
            });
            format!("{e}\n")
        })
        .collect();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");

    let api = || async {
        let r = hoso
            .http
            .get(format!("{}/api/alerts", hoso.base))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()
    };
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
