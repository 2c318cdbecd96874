//! Whatever the processor cannot apply (bytes that are not JSON, JSON that
//! breaks the contract, the loser of a conflict at one `(filing_id, seq)`,
//! whether it came first and was displaced or came second) lands in the SQL
//! table `rejects` and in the dead-letter topic, once, and the partition
//! keeps folding. A restart re-reads part of the partition; it refuses those
//! messages again without logging or dead-lettering them twice.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, read_messages, test_config, topic, wait_for};

fn event(event_id: &str, seq: u32, kind: &str, commune: &str) -> Vec<u8> {
    filing_event("F-A", event_id, seq, kind, commune)
}

fn filing_event(filing: &str, event_id: &str, seq: u32, kind: &str, commune: &str) -> Vec<u8> {
    let mut e = json!({
        "event_id": event_id, "filing_id": filing, "seq": seq, "type": kind,
        "occurred_at": "2025-07-01T08:00:00+07:00", "province_code": "01", "commune_code": commune
    });
    if kind == "received" {
        e["procedure_code"] = json!("1.001193");
        e["channel"] = json!("online");
        e["due_at"] = json!("2025-07-03T17:00:00+07:00");
    }
    e.to_string().into_bytes()
}

/// Marks the message of a `conflict` refused when a later one displaced it:
/// its reject names no event and carries no payload (the fold keeps a
/// fingerprint of its `event_id`, not the bytes); the offset leads to them.
const DISPLACED: &str = "conflict (displaced)";

/// The messages, in offset order, and the reason each must be refused for
/// (`None`: folded or a plain duplicate).
fn messages() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    // Which of two event_ids wins a seq is fixed by their fingerprints.
    use hoso_model::fold::fingerprint;
    assert!(fingerprint("A-1-bis") > fingerprint("A-1"));
    assert!(fingerprint("C-1-bis") < fingerprint("C-1"));
    vec![
        ("F-A", event("A-1", 1, "received", "00004"), None),
        ("F-A", b"\xff\xfe not even UTF-8".to_vec(), Some("not_json")),
        ("F-A", b"{\"event_id\": 1}".to_vec(), Some("invalid_event")),
        ("F-A", b"[]".to_vec(), Some("invalid_event")),
        ("F-A", Vec::new(), Some("not_json")),
        ("F-A", b"{\"event_id\": \"x\",".to_vec(), Some("not_json")),
        // Another event at (F-A, 1) that loses: a conflict. The same one
        // again, and the winner again: duplicates.
        ("F-A", event("A-1-bis", 1, "received", "00004"), Some("conflict")),
        ("F-A", event("A-1", 1, "received", "00004"), None),
        ("F-A", event("A-1-bis", 1, "received", "00004"), None),
        // From another commune: folded (the filing's commune is its
        // `received` event's).
        ("F-A", event("A-2", 2, "processing", "00070"), None),
        ("F-A", event("A-3", 3, "returned", "00004"), None),
        // Taken up again after it was returned: the status is the highest seq's.
        ("F-A", event("A-4", 4, "processing", "00004"), None),
        // The winner of (F-C, 1) arrives second and displaces the first.
        ("F-C", filing_event("F-C", "C-1", 1, "received", "00004"), Some(DISPLACED)),
        ("F-C", filing_event("F-C", "C-1-bis", 1, "received", "00004"), None),
        (
            "F-B",
            br#"{"event_id":"B-1","filing_id":"F-B","seq":1,"type":"submitted","occurred_at":"2025-07-01T07:00:00+07:00","province_code":"01","commune_code":"00004"}"#.to_vec(),
            None,
        ),
    ]
}

const REJECTS_SQL: &str = "SELECT reason, \"offset\", partition, filing_id, event_id, payload \
                           FROM rejects ORDER BY \"offset\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reason_lands_in_rejects_and_the_dead_letter_topic_once() {
    let broker = Broker::start();
    let topic = topic("dlq");
    let mut config = test_config(&broker.addr, &topic);
    config.kafka.partitions = 1;
    let dlq_topic = config.processor.dead_letter_topic.clone();
    let hoso = Hoso::start(config.clone()).await;
    hoso.wait_ready().await;

    // A producer that bypasses ingest can put anything on the topic.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .create()
        .unwrap();
    let messages = messages();
    for (key, payload, _) in &messages {
        producer
            .send(
                FutureRecord::to(&topic).key(*key).payload(payload),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("raw message published");
    }
    let expected: Vec<Value> = messages
        .iter()
        .enumerate()
        .filter_map(|(offset, (_, payload, reason))| {
            let reason = (*reason)?;
            if reason == DISPLACED {
                return Some(json!({
                    "reason": "conflict", "offset": offset, "partition": 0,
                    "filing_id": "F-C", "event_id": Value::Null, "payload": "",
                }));
            }
            let parsed: Option<Value> = serde_json::from_slice(payload).ok();
            let field = |f: &str| {
                parsed
                    .as_ref()
                    .and_then(|v| v.get(f))
                    .filter(|_| !matches!(reason, "not_json" | "invalid_event"))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            Some(json!({
                "reason": reason, "offset": offset, "partition": 0,
                "filing_id": field("filing_id"), "event_id": field("event_id"),
                "payload": String::from_utf8_lossy(payload),
            }))
        })
        .collect();
    assert_eq!(expected.len(), 7);

    let logged = wait_for(Duration::from_secs(30), || async {
        hoso.sql(REJECTS_SQL).await.len() == expected.len()
            && hoso.sql("SELECT filing_id FROM filings").await.len() == 3
    })
    .await;
    assert!(logged, "rejects: {:?}", hoso.sql(REJECTS_SQL).await);
    assert_eq!(hoso.sql(REJECTS_SQL).await, expected);
    // The partition kept folding around them.
    assert_eq!(
        hoso.sql("SELECT filing_id, status, commune_code FROM filings ORDER BY filing_id")
            .await,
        vec![
            json!({"filing_id": "F-A", "status": "processing", "commune_code": "00004"}),
            json!({"filing_id": "F-B", "status": "submitted", "commune_code": "00004"}),
            json!({"filing_id": "F-C", "status": "received", "commune_code": "00004"}),
        ]
    );
    assert_eq!(
        hoso.sql("SELECT reason, count(*) AS n FROM rejects GROUP BY reason ORDER BY reason")
            .await,
        vec![
            json!({"reason": "conflict", "n": 2}),
            json!({"reason": "invalid_event", "n": 2}),
            json!({"reason": "not_json", "n": 3}),
        ]
    );
    let metrics = hoso.metrics().await;
    for line in [
        "hoso_processor_rejects_total{reason=\"not_json\"} 3",
        "hoso_processor_rejects_total{reason=\"conflict\"} 2",
        "hoso_processor_events_total{result=\"duplicate\"} 2",
        "hoso_processor_events_total{result=\"rejected\"} 6",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }

    // A clean restart re-reads the partition from before its checkpoint:
    // nothing is logged or dead-lettered twice.
    hoso.stop().await;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;
    assert_eq!(hoso.sql(REJECTS_SQL).await, expected);
    let metrics = hoso.metrics().await;
    assert!(
        !metrics.contains("hoso_processor_rejects_total{"),
        "nothing refused anew after the restart:\n{metrics}"
    );
    hoso.stop().await;

    let dead = read_messages(&broker.addr, &dlq_topic);
    assert_eq!(dead.len(), expected.len(), "one dead letter per reject");
    let mut dead = dead;
    dead.sort_by_key(|m| m.headers["hoso-source-offset"].parse::<i64>().unwrap());
    for (m, want) in dead.iter().zip(&expected) {
        let offset = want["offset"].as_u64().unwrap() as usize;
        let (key, payload, reason) = &messages[offset];
        if reason.unwrap() == DISPLACED {
            assert!(
                m.payload.is_empty(),
                "offset {offset}: the offset leads to the bytes"
            );
            assert_eq!(m.headers["hoso-reason"], "conflict");
        } else {
            assert_eq!(&m.payload, payload, "offset {offset}: the bytes, unchanged");
            assert_eq!(m.headers["hoso-reason"], reason.unwrap());
        }
        assert_eq!(m.key, *key);
        assert_eq!(m.headers["hoso-source-topic"], topic);
        assert_eq!(m.headers["hoso-source-partition"], "0");
        assert_eq!(m.headers["hoso-source-offset"], offset.to_string());
        assert!(!m.headers["hoso-detail"].is_empty());
        assert!(m.headers["hoso-seen-at-ms"].parse::<i64>().unwrap() > 0);
    }
}
