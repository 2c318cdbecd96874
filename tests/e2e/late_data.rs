//! Late data restates, never drops: an event that arrives days late moves
//! the figures of the past day it belongs to, and every figure of a closed
//! day that moves leaves a row in `restatements`, with the day's figure
//! (over every partition) before and after.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, test_config, topic, wait_for};

fn event(filing: &str, seq: u32, kind: &str, at: &str, channel: &str) -> Value {
    let mut e = json!({
        "event_id": format!("{filing}-{seq}"), "filing_id": filing, "seq": seq, "type": kind,
        "occurred_at": at, "province_code": "01", "commune_code": "00004"
    });
    if kind == "received" {
        e["procedure_code"] = json!("1.001193");
        e["channel"] = json!(channel);
        // Due two days later: ending on the day is early, hence on time.
        let day: u32 = at[8..10].parse().unwrap();
        e["due_at"] = json!(format!("2025-07-{:02}T17:00:00+07:00", day + 2));
    }
    e
}

async fn post(hoso: &Hoso, events: Vec<Value>) {
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");
}

const RESTATEMENTS: &str = "SELECT CAST(day AS VARCHAR) AS day, province_code, commune_code, \
    metric, old_value, new_value, filing_id, partitions_held \
    FROM restatements ORDER BY metric";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_event_restates_the_past_day_and_leaves_an_audit_row() {
    let broker = Broker::start();
    let topic = topic("late");
    let config = test_config(&broker.addr, &topic);
    assert_eq!(config.kafka.partitions, 3);
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    // July 1st: four filings received and resolved the same day (early).
    let mut day1 = Vec::new();
    for (i, channel) in ["online", "in_person", "in_person", "in_person"]
        .iter()
        .enumerate()
    {
        let f = format!("L{}", i + 1);
        day1.push(event(
            &f,
            1,
            "received",
            "2025-07-01T08:00:00+07:00",
            channel,
        ));
        day1.push(event(&f, 2, "resolved", "2025-07-01T10:00:00+07:00", ""));
    }
    post(&hoso, day1).await;
    // July 5th: business goes on, in every partition; July 1st is closed.
    let day5: Vec<Value> = (0..30)
        .map(|i| {
            let f = format!("C{i:02}");
            event(&f, 1, "received", "2025-07-05T08:00:00+07:00", "in_person")
        })
        .collect();
    post(&hoso, day5).await;
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT count(*) AS n FROM filings").await == vec![json!({"n": 34})]
    })
    .await;
    assert!(folded, "the first 34 filings are folded");
    // Every partition saw July 5th (the keys are fixed, so is their spread).
    assert_eq!(
        hoso.sql(
            "SELECT count(DISTINCT partition) AS n FROM daily_partials \
             WHERE day = DATE '2025-07-05'"
        )
        .await,
        vec![json!({"n": 3})]
    );
    assert_eq!(
        hoso.sql("SELECT count(*) AS n FROM restatements").await,
        vec![json!({"n": 0})],
        "business as usual restates nothing"
    );

    // Days late: a filing received on July 1st, and two supplement requests
    // that make L2 late (two or more requests, Decision 766).
    post(
        &hoso,
        vec![
            event(
                "L9",
                1,
                "received",
                "2025-07-01T15:00:00+07:00",
                "in_person",
            ),
            event(
                "L2",
                3,
                "supplement_requested",
                "2025-07-01T09:00:00+07:00",
                "",
            ),
            event(
                "L2",
                4,
                "supplement_requested",
                "2025-07-01T09:30:00+07:00",
                "",
            ),
        ],
    )
    .await;
    let row = |metric: &str, old: Value, new: Value, filing: &str| {
        json!({
            "day": "2025-07-01", "province_code": "01", "commune_code": "00004",
            "metric": metric, "old_value": old, "new_value": new, "filing_id": filing,
            "partitions_held": 3
        })
    };
    let expected = vec![
        row("ended_early", json!(4.0), json!(3.0), "L2"),
        row("ended_late", json!(0.0), json!(1.0), "L2"),
        row("ended_on_time", json!(4.0), json!(3.0), "L2"),
        row("on_time_rate", json!(1.0), json!(0.75), "L2"),
        row("online_share", json!(0.25), json!(0.2), "L9"),
        row("received", json!(4.0), json!(5.0), "L9"),
    ];
    let restated = wait_for(Duration::from_secs(30), || async {
        hoso.sql(RESTATEMENTS).await.len() == expected.len()
    })
    .await;
    assert!(restated, "{:?}", hoso.sql(RESTATEMENTS).await);
    assert_eq!(hoso.sql(RESTATEMENTS).await, expected);
    // The past day's figures themselves moved: restated, not dropped.
    assert_eq!(
        hoso.sql(
            "SELECT v.received, v.received_online, r.ended, r.ended_on_time, r.on_time_rate \
             FROM daily_volume v JOIN on_time_rate r \
               ON v.day = r.day AND v.commune_code = r.commune_code \
             WHERE v.day = DATE '2025-07-01'"
        )
        .await,
        vec![
            json!({"received": 5, "received_online": 1, "ended": 4, "ended_on_time": 3,
                    "on_time_rate": 0.75})
        ]
    );
    let causes = hoso
        .sql("SELECT DISTINCT cause FROM restatements WHERE filing_id = 'L9'")
        .await;
    assert_eq!(causes.len(), 1);
    let cause = causes[0]["cause"].as_str().unwrap();
    assert!(
        cause.starts_with(
            "late `received` event (seq 1, occurred_at 2025-07-01T08:00:00.000Z) of filing L9"
        ),
        "{cause}"
    );
    hoso.stop().await;
}
