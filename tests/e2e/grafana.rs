//! The provisioned Grafana dashboard: every SQL panel runs over the real
//! Postgres wire (as Grafana's datasource sends it) and answers, every
//! Prometheus panel uses a recording rule that deploy/prometheus defines,
//! and every panel's datasource is a provisioned one.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{self, Broker, Hoso, free_port, now_ms, test_config, topic, wait_for};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_panel_answers() {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{DIR}/grafana/dashboards/operations.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let datasources =
        std::fs::read_to_string(format!("{DIR}/grafana/provisioning/datasources/hoso.yml"))
            .unwrap();
    let rules = std::fs::read_to_string(format!("{DIR}/prometheus/hoso.rules.yml")).unwrap();

    let broker = Broker::start();
    let topic = topic("grafana");
    let mut config = test_config(&broker.addr, &topic);
    let port = free_port();
    config.query.postgres_listen = format!("127.0.0.1:{port}");
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;
    let now = now_ms();
    // Halfway through today so far (Vietnam's day): "today" on every panel.
    let midnight = i64::from(hoso_model::time::local_day(now)) * 86_400_000 - 7 * 3_600_000;
    let received_at = midnight + (now - midnight) / 2;
    let body: String = (0..4)
        .map(|i| {
            let e = json!({
                "event_id": format!("G{i}-1"), "filing_id": format!("G{i}"), "seq": 1,
                "type": "received", "occurred_at": hoso_model::time::format_utc_ms(received_at),
                "province_code": "91", "commune_code": "30292", "procedure_code": "1.001193",
                "channel": if i == 0 { "online" } else { "in_person" },
                "due_at": hoso_model::time::format_utc_ms(now + 86_400_000 * (i - 2))
            });
            format!("{e}\n")
        })
        .collect();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT count(*) AS n FROM filings").await[0]["n"] == 4
    })
    .await;
    assert!(folded);

    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10);
    let (mut sql, mut prom) = (0, 0);
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        let uid = panel["datasource"]["uid"].as_str().unwrap();
        assert!(
            datasources.contains(&format!("uid: {uid}")),
            "{title}: datasource {uid} is not provisioned"
        );
        for target in panel["targets"].as_array().unwrap() {
            if let Some(query) = target["rawSql"].as_str() {
                let rows = harness::psql(port, "hoso", "hoso", &[], query)
                    .unwrap_or_else(|e| panic!("{title}: {e}\n{query}"));
                assert!(!rows.is_empty(), "{title} answers nothing:\n{query}");
                sql += 1;
            }
            if let Some(expr) = target["expr"].as_str() {
                for name in expr.split(|c: char| !(c.is_alphanumeric() || "_:".contains(c))) {
                    if name.starts_with("hoso:") {
                        assert!(
                            rules.contains(&format!("record: {name}")),
                            "{title}: {name} is not a recording rule of deploy/prometheus"
                        );
                    }
                }
                prom += 1;
            }
        }
    }
    assert!(
        sql >= 8 && prom >= 2,
        "{sql} SQL and {prom} Prometheus panels"
    );
    // The numbers are the data's: 4 received today, one online.
    let today = harness::psql(
        port,
        "hoso",
        "hoso",
        &[],
        panels[0]["targets"][0]["rawSql"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(today, "4");
    hoso.stop().await;
}
