//! A producer that bypasses ingest can put anything on the topic: the
//! processor counts it, skips it, and keeps folding the partition.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

use crate::harness::{Broker, Hoso, test_config, topic, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_on_the_topic_are_skipped_not_fatal() {
    let broker = Broker::start();
    let topic = topic("garbage");
    let mut config = test_config(&broker.addr, &topic);
    config.kafka.partitions = 1;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .create()
        .unwrap();
    for payload in [
        &b"\xff\xfe not even UTF-8"[..],
        b"{\"event_id\": 1}",
        b"[]",
        b"",
    ] {
        producer
            .send(
                FutureRecord::to(&topic).key("F-X").payload(payload),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("raw message published");
    }
    let event = json!({
        "event_id": "after-garbage", "filing_id": "F-X", "seq": 1, "type": "submitted",
        "occurred_at": "2025-07-01T07:00:00+07:00", "province_code": "01", "commune_code": "00004"
    });
    let (status, answer, _) = hoso.post_events(event.to_string()).await;
    assert_eq!(status, 202, "{answer}");

    let folded = wait_for(Duration::from_secs(30), || async {
        hoso.sql("SELECT filing_id, status FROM filings").await
            == vec![json!({"filing_id": "F-X", "status": "submitted"})]
    })
    .await;
    assert!(folded, "the partition kept folding after the bad messages");
    assert!(
        hoso.metrics()
            .await
            .contains("hoso_processor_events_total{result=\"invalid\"} 4")
    );
    hoso.stop().await;
}
