//! `hoso replay` rebuilds the state from the topic into a fresh data
//! directory; served, its tables equal the live ones, rejects and
//! restatements included.

use std::process::Command;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, test_config, topic, wait_for};

const FILINGS: usize = 3_000;

/// Conflicts the stream holds, as the fold can tell them: each refuses one
/// event (the one arriving second, or the first when the second displaces
/// it), unless the two `event_id`s share a fingerprint (1 in 16.7 million),
/// when the second is taken for a duplicate (`hoso_model::fold::fingerprint`).
fn conflicts() -> usize {
    use hoso_model::fold::fingerprint;
    (0..FILINGS)
        .filter(|f| f % 10 == 0)
        .filter(|f| {
            let id = format!("R-{f:05}");
            fingerprint(&format!("{id}-2-other")) != fingerprint(&format!("{id}-2"))
        })
        .count()
}

/// Filings over ten days; each received, most resolved, some paused twice
/// (late), some with a duplicate or a conflicting event. Then, days late,
/// events for the first day: restatements.
fn events() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut push = |id: &str, seq: u32, event_id: String, kind: &str, at: String, extra: &str| {
        let body = format!(
            r#"{{"event_id":"{event_id}","filing_id":"{id}","seq":{seq},"type":"{kind}","occurred_at":"{at}","province_code":"01","commune_code":"{}"{extra}}}"#,
            ["00004", "00008"][id.len() % 2]
        );
        out.push((id.to_string(), body.into_bytes()));
    };
    for f in 0..FILINGS {
        let id = format!("R-{f:05}");
        let day = 1 + f * 10 / FILINGS;
        let at = |h: u32| format!("2025-07-{day:02}T{h:02}:00:00+07:00");
        let due = format!(
            r#","procedure_code":"1.001193","channel":"{}","due_at":"2025-07-{:02}T17:00:00+07:00""#,
            if f % 3 == 0 { "online" } else { "in_person" },
            day + 1
        );
        push(&id, 1, format!("{id}-1"), "received", at(8), &due);
        if f % 10 == 0 {
            push(&id, 1, format!("{id}-1"), "received", at(8), &due);
            push(&id, 2, format!("{id}-2-other"), "processing", at(9), "");
        }
        push(&id, 2, format!("{id}-2"), "processing", at(9), "");
        if f % 4 != 0 {
            push(&id, 3, format!("{id}-3"), "resolved", at(16), "");
        }
    }
    // Days late: new filings of July 1st, and supplement requests that turn
    // resolved filings of July 1st late.
    for f in 0..20 {
        let id = format!("R-LATE-{f:02}");
        let due = r#","procedure_code":"1.001193","channel":"online","due_at":"2025-07-03T17:00:00+07:00""#;
        push(
            &id,
            1,
            format!("{id}-1"),
            "received",
            "2025-07-01T10:00:00+07:00".into(),
            due,
        );
    }
    for f in (1..40).filter(|f| f % 4 != 0) {
        let id = format!("R-{f:05}");
        for seq in [4, 5] {
            push(
                &id,
                seq,
                format!("{id}-{seq}"),
                "supplement_requested",
                "2025-07-01T11:00:00+07:00".into(),
                "",
            );
        }
    }
    out
}

async fn tables(hoso: &Hoso) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for q in [
        "SELECT * FROM filings ORDER BY filing_id",
        "SELECT * FROM daily_stats ORDER BY day, province_code, commune_code",
        "SELECT reason, detail, filing_id, event_id, payload, partition, \"offset\" \
         FROM rejects ORDER BY partition, \"offset\"",
        // The day, figure and cause of each restatement; the before/after
        // values sum the partitions as they stood when the event was read,
        // which depends on how the partitions' reads interleaved.
        "SELECT CAST(day AS VARCHAR) AS day, commune_code, metric, filing_id, event_id, \
         partition, \"offset\" FROM restatements \
         ORDER BY partition, \"offset\", metric",
    ] {
        out.push(hoso.sql(q).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_equals_the_live_tables() {
    let broker = Broker::start();
    let topic = topic("replay");
    let config = test_config(&broker.addr, &topic);
    let live = Hoso::start(config.clone()).await;
    live.wait_ready().await;

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let events = events();
    let sends: Vec<_> = events
        .iter()
        .map(|(key, payload)| {
            producer.send(
                FutureRecord::to(&topic).key(key).payload(payload),
                Duration::from_secs(10),
            )
        })
        .collect();
    for s in futures::future::join_all(sends).await {
        s.map_err(|(e, _)| e).expect("published");
    }
    let garbage = FutureRecord::to(&topic).key("R-00001").payload("not json");
    producer
        .send(garbage, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .expect("published");

    let conflicts = conflicts();
    assert!(conflicts > 290, "{conflicts}");
    let want_filings = json!([{"n": FILINGS + 20}]);
    let caught_up = wait_for(Duration::from_secs(60), || async {
        Value::from(live.sql("SELECT count(*) AS n FROM filings").await) == want_filings
            && live.sql("SELECT count(*) AS n FROM rejects").await
                == vec![json!({"n": conflicts + 1})]
    })
    .await;
    assert!(
        caught_up,
        "live processor caught up: {:?} {:?}",
        live.sql("SELECT count(*) AS n FROM filings").await,
        live.sql("SELECT reason, count(*) AS n FROM rejects GROUP BY reason")
            .await
    );
    let expected = tables(&live).await;
    assert!(
        expected[3].len() > 10,
        "the stream restates past days: {:?}",
        expected[3]
    );

    // The replay, as an operator runs it.
    let replay_dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-replay"));
    let _ = std::fs::remove_dir_all(&replay_dir);
    let replay = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hoso"))
            .args(["replay", "--brokers", &broker.addr, "--topic", &topic])
            .args(args)
            .output()
            .expect("hoso replay runs")
    };
    let dir_arg = replay_dir.to_string_lossy().into_owned();
    let run = || replay(&["--data-dir", &dir_arg]);
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = events.len() + 1;
    assert!(
        stdout.contains(&format!("replayed {messages} messages from 3 partitions")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("filings {}", FILINGS + 20)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "rejected {} (conflict {conflicts}, not_json 1)",
            conflicts + 1
        )),
        "{stdout}"
    );

    // Served from the replayed checkpoints: the same tables.
    let mut replayed_config = config.clone();
    replayed_config.data_dir = replay_dir.clone();
    let replayed = Hoso::start(replayed_config).await;
    replayed.wait_ready().await;
    let got = tables(&replayed).await;
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g.len(), e.len(), "table {i}: row count");
        assert_eq!(g, e, "table {i}");
    }
    replayed.stop().await;
    live.stop().await;

    // From a time: before every message, the whole log; after every
    // message, nothing, and a checkpoint at the end of each partition.
    for (from, messages) in [
        ("2000-01-01T00:00:00Z", messages),
        ("2999-01-01T00:00:00Z", 0),
    ] {
        let dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-from"));
        let _ = std::fs::remove_dir_all(&dir);
        let dir_arg = dir.to_string_lossy().into_owned();
        let out = replay(&["--from", from, "--data-dir", &dir_arg]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("replayed {messages} messages")),
            "{from}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if messages == 0 {
            let manifests = (0..3)
                .filter(|p| {
                    dir.join(format!("checkpoints/{topic}/partition-{p}/MANIFEST"))
                        .exists()
                })
                .count();
            assert_eq!(manifests, 3, "every partition checkpointed at its end");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let bad = replay(&["--from", "yesterday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from \"yesterday\""));

    // A replay never writes over existing state.
    let again = run();
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds checkpoints"), "{stderr}");
    let _ = std::fs::remove_dir_all(&replay_dir);
}
