//! `system.partitions`, `system.freshness` and `system.completeness` follow
//! what the processor folded: offsets add up to the messages sent, the
//! newest event time is the newest sent, and each commune shows its own;
//! the commune clocks survive a restart (they are in the checkpoint).

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, test_config, topic, wait_for};

fn received(f: &str, at: &str, commune: &str) -> Value {
    json!({
        "event_id": format!("{f}-1"), "filing_id": f, "seq": 1, "type": "received",
        "occurred_at": at, "province_code": "91", "commune_code": commune,
        "procedure_code": "1.001193", "channel": "in_person"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_tables_say_how_far_the_processor_is() {
    let broker = Broker::start();
    let topic = topic("system");
    let config = test_config(&broker.addr, &topic);
    let hoso = Hoso::start(config.clone()).await;
    hoso.wait_ready().await;

    // 30 filings of one commune up to 10:29, one of another at 08:00.
    let mut events: Vec<Value> = (0..30)
        .map(|i| {
            received(
                &format!("S{i}"),
                &format!("2026-07-06T10:{i:02}:00+07:00"),
                "30292",
            )
        })
        .collect();
    events.push(received("T0", "2026-07-06T08:00:00+07:00", "30301"));
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 202, "{answer}");

    let offsets = "SELECT CAST(SUM(next_offset) AS BIGINT) AS n FROM system.partitions";
    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql(offsets).await == vec![json!({"n": 31})]
    })
    .await;
    assert!(
        folded,
        "{:?}",
        hoso.sql("SELECT * FROM system.partitions").await
    );
    let parts = hoso
        .sql("SELECT COUNT(*) AS n, BOOL_AND(caught_up) AS all_caught_up FROM system.partitions")
        .await;
    assert_eq!(
        parts,
        vec![json!({"n": config.kafka.partitions, "all_caught_up": true})]
    );

    let fresh = hoso
        .sql(
            "SELECT CAST(newest_event_at AS VARCHAR) AS newest, behind_seconds > 0 AS past \
              FROM system.freshness",
        )
        .await;
    assert_eq!(
        fresh,
        vec![json!({"newest": "2026-07-06T03:29:00Z", "past": true})]
    );
    let complete = "SELECT commune_code, CAST(newest_event_at AS VARCHAR) AS newest \
                    FROM system.completeness ORDER BY commune_code";
    let want = vec![
        json!({"commune_code": "30292", "newest": "2026-07-06T03:29:00Z"}),
        json!({"commune_code": "30301", "newest": "2026-07-06T01:00:00Z"}),
    ];
    assert_eq!(hoso.sql(complete).await, want);

    // A restart restores the clocks with the rest of the state.
    hoso.stop().await;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;
    assert_eq!(hoso.sql(complete).await, want);
    hoso.stop().await;
}
