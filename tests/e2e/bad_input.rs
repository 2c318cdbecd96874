//! Bad input: every refusal has its documented status and message, and a
//! plain consumer reading the topic proves nothing of a refused request
//! was published.

use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, free_port, read_topic, test_config, topic};

fn valid(id: &str, seq: u32) -> Value {
    json!({
        "event_id": id, "filing_id": format!("F-{id}"), "seq": seq, "type": "received",
        "occurred_at": "2025-07-01T08:00:00+07:00", "province_code": "01", "commune_code": "00004",
        "procedure_code": "1.001193", "channel": "online", "due_at": "2025-07-03T17:00:00+07:00"
    })
}

/// `valid` with one change: `f` edits the object.
fn broken(id: &str, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut v = valid(id, 1);
    f(v.as_object_mut().unwrap());
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_say_why_and_publish_nothing() {
    let broker = Broker::start();
    let topic = topic("bad-input");
    let mut config = test_config(&broker.addr, &topic);
    config.ingest.max_body_bytes = 64 * 1024;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    // (name, the bad item, index of the bad item's error, its event_id, message fragment)
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        (
            "malformed JSON",
            r#"{"event_id": "bad-1", "seq": "#.to_string(),
            None,
            "malformed JSON",
        ),
        (
            "missing field",
            broken("bad-2", |o| {
                o.remove("seq");
            }),
            Some("bad-2"),
            "seq: is missing",
        ),
        (
            "wrong type",
            broken("bad-3", |o| {
                o.insert("seq".into(), json!("1"));
            }),
            Some("bad-3"),
            "seq: invalid type",
        ),
        (
            "unknown type",
            broken("bad-4", |o| {
                o.insert("type".into(), json!("teleported"));
            }),
            Some("bad-4"),
            "type: unknown event type \"teleported\"",
        ),
        (
            "bad timestamp",
            broken("bad-5", |o| {
                o.insert("occurred_at".into(), json!("2025-07-01 08:00"));
            }),
            Some("bad-5"),
            "occurred_at: \"2025-07-01 08:00\"",
        ),
        (
            "received without dimensions",
            broken("bad-6", |o| {
                o.remove("channel");
                o.remove("procedure_code");
                o.remove("due_at");
            }),
            Some("bad-6"),
            "procedure_code: is required on a `received` event",
        ),
        (
            "no due date, unknown procedure",
            broken("bad-9", |o| {
                o.remove("due_at");
                o.insert("procedure_code".into(), json!("9.999999"));
            }),
            Some("bad-9"),
            "due_at: is required on a `received` event whose procedure is not in the \
             procedure catalogue",
        ),
        (
            "seq 0",
            broken("bad-7", |o| {
                o.insert("seq".into(), json!(0));
            }),
            Some("bad-7"),
            "seq: must be >= 1, got 0",
        ),
        (
            "bad commune code",
            broken("bad-8", |o| {
                o.insert("commune_code".into(), json!("4"));
            }),
            Some("bad-8"),
            "commune_code: must be exactly 5 digits",
        ),
    ];
    for (name, bad, event_id, message) in &cases {
        // A valid event first, so the refusal is of the whole request.
        let body = format!("{}\n{bad}\n", valid(&format!("ok-before-{name}"), 1));
        let (status, answer, _) = hoso.post_events(body).await;
        assert_eq!(status, 422, "{name}: {answer}");
        let errors = answer["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {answer}"));
        assert_eq!(errors.len(), 1, "{name}: {answer}");
        assert_eq!(errors[0]["index"], json!(1), "{name}");
        assert_eq!(
            errors[0]["event_id"],
            event_id.map_or(Value::Null, |s| json!(s)),
            "{name}"
        );
        let text = errors[0]["error"].as_str().unwrap();
        assert!(text.contains(message), "{name}: {text:?} lacks {message:?}");
    }

    // The same as a JSON array: the index is the array position.
    let body = json!([
        valid("arr-ok", 1),
        valid("arr-ok-2", 1),
        json!({"event_id": "arr-bad", "seq": 1})
    ])
    .to_string();
    let (status, answer, _) = hoso.post_events(body).await;
    assert_eq!(status, 422);
    assert_eq!(answer["errors"][0]["index"], json!(2));
    assert_eq!(answer["errors"][0]["event_id"], json!("arr-bad"));

    // Oversized: 413, whatever it contains.
    let line = format!("{}\n", valid("big", 1));
    let big = line.repeat(64 * 1024 / line.len() + 10);
    let (status, answer, _) = hoso.post_events(big).await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("exceeds 65536 bytes"),
        "{answer}"
    );

    // Empty body.
    let (status, answer, _) = hoso.post_events("  \n").await;
    assert_eq!(status, 422);
    assert!(
        answer["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("empty body")
    );

    // One valid request after all the refused ones; once it is acknowledged,
    // the topic must hold exactly its event. It has no due date: birth
    // registration is in the catalogue, so the processor computes one.
    let mut marker = valid("marker", 1);
    marker.as_object_mut().unwrap().remove("due_at");
    let (status, answer, _) = hoso.post_events(marker.to_string()).await;
    assert_eq!((status, answer), (202, json!({"accepted": 1})));
    let messages = read_topic(&broker.addr, &topic);
    assert_eq!(
        messages.len(),
        1,
        "only the marker may be on the topic: {messages:?}"
    );
    assert_eq!(messages[0].0, "F-marker", "keyed by filing_id");
    assert_eq!(
        serde_json::from_str::<Value>(&messages[0].1).unwrap(),
        marker,
        "published unchanged"
    );
    hoso.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_ingest_answers_503_with_retry_after() {
    // Nothing listens on this port.
    let brokers = format!("127.0.0.1:{}", free_port());
    let mut config = test_config(&brokers, &topic("no-broker"));
    config.ingest.ack_timeout_ms = 1_000;
    let hoso = Hoso::start(config).await;
    let (status, answer, retry_after) = hoso.post_events(valid("x", 1).to_string()).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(
        answer["error"].as_str().unwrap().contains("retry"),
        "{answer}"
    );
    let ready = hoso
        .http
        .get(format!("{}/readyz", hoso.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let health = hoso
        .http
        .get(format!("{}/healthz", hoso.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "alive, though not ready");
    hoso.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_goes_away_turns_into_503_and_not_ready() {
    let broker = Broker::start();
    let mut config = test_config(&broker.addr, &topic("broker-dies"));
    config.ingest.ack_timeout_ms = 2_000;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;
    let (status, answer, _) = hoso.post_events(valid("before", 1).to_string()).await;
    assert_eq!(status, 202, "{answer}");

    drop(broker);
    let started = std::time::Instant::now();
    let (status, answer, retry_after) = hoso.post_events(valid("after", 1).to_string()).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "answered within the ack timeout"
    );
    let url = format!("{}/readyz", hoso.base);
    let not_ready = crate::harness::wait_for(std::time::Duration::from_secs(20), || async {
        hoso.http
            .get(&url)
            .send()
            .await
            .map(|r| r.status().as_u16() == 503)
            .unwrap_or(false)
    })
    .await;
    assert!(not_ready, "/readyz must notice that Kafka is gone");
    hoso.stop().await;
}
