//! Scale-out: processors sharing the topic through the consumer group, with
//! checkpoints and cold files in an S3-compatible store (moto), and
//! stateless query nodes over that store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Broker, Hoso, S3, assert_same_rows, filing_events, free_port, produce, test_config, topic,
    wait_for, wait_http_ok,
};
use hoso::up::Roles;

/// What `sum(last_seq)` over `filings` is once every event is folded.
fn last_seq_sum(events: &[(String, String)]) -> i64 {
    let mut last = std::collections::HashMap::new();
    for (key, payload) in events {
        let seq = serde_json::from_str::<Value>(payload).unwrap()["seq"]
            .as_i64()
            .unwrap();
        let e = last.entry(key.as_str()).or_insert(0);
        *e = seq.max(*e);
    }
    last.values().sum()
}

/// The answers compared between a reference and the node under test.
const QUERIES: [&str; 4] = [
    "SELECT * FROM filings ORDER BY filing_id",
    "SELECT * FROM daily_stats ORDER BY day, province_code, commune_code",
    "SELECT * FROM on_time_rate ORDER BY day, province_code, commune_code",
    "SELECT * FROM kpi_province_monthly ORDER BY 1, 2",
];

const COUNT: &str = "SELECT count(*) AS n, CAST(sum(last_seq) AS BIGINT) AS seqs FROM filings";

/// A `hoso process` child: one member of the group.
struct Processor {
    child: Child,
    base: String,
}

impl Drop for Processor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_processor(
    brokers: &str,
    topic: &str,
    s3: &S3,
    prefix: &str,
    data_dir: &Path,
    log: &Path,
) -> Processor {
    let port = free_port();
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoso"));
    cmd.args(["process", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--brokers", brokers, "--topic", topic])
        .arg("--data-dir")
        .arg(data_dir)
        .env("HOSO_KAFKA__PARTITIONS", "3")
        .env("HOSO_PROCESSOR__GROUP_ID", format!("group-{topic}"))
        .env("HOSO_PROCESSOR__DEAD_LETTER_TOPIC", format!("{topic}-dlq"))
        .env("HOSO_PROCESSOR__CHECKPOINT_INTERVAL_MS", "200")
        .env("HOSO_PROCESSOR__SESSION_TIMEOUT_MS", "6000")
        .env("HOSO_PROCESSOR__COLD_AFTER_DAYS", "1")
        .env("HOSO_STORE__URL", format!("s3://{}/{prefix}", s3.bucket))
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out));
    for (k, v) in s3.options() {
        cmd.env(format!("HOSO_STORE__OPTIONS__{}", k.to_uppercase()), v);
    }
    Processor {
        child: cmd.spawn().expect("hoso binary starts"),
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let Ok(r) = http.get(format!("{base}/metrics")).send().await else {
        return 0.0;
    };
    r.text()
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn bucket(topic: &str) -> String {
    topic.to_ascii_lowercase().replace('_', "-")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processors_in_a_group_one_killed_lose_and_double_nothing() {
    const FILINGS: usize = 30_000;
    const LATE: usize = 30;
    let broker = Broker::start();
    let topic = topic("group");
    let s3 = S3::start(&bucket(&topic)).await;
    let root = std::env::temp_dir().join(format!("hoso-e2e-{topic}-members"));
    let _ = std::fs::remove_dir_all(&root);
    let log = root.join("processors.log");
    std::fs::create_dir_all(&root).unwrap();
    let http = reqwest::Client::new();

    // Three members, each with a disk of its own; the store is shared.
    let member = |i: usize| -> PathBuf { root.join(format!("member-{i}")) };
    let mut members: Vec<Option<Processor>> = (0..3)
        .map(|i| {
            Some(spawn_processor(
                &broker.addr,
                &topic,
                &s3,
                "tables",
                &member(i),
                &log,
            ))
        })
        .collect();
    for m in members.iter().flatten() {
        let ready = wait_http_ok(
            &http,
            &format!("{}/readyz", m.base),
            Duration::from_secs(90),
        )
        .await;
        assert!(ready, "a member became ready (log: {})", log.display());
    }

    // The log ends with filings a month later: every partition they reach
    // has a cold pass due after the stream (the July ones reach day 9 in
    // their first few hundred events, when a pass may find little closed).
    let mut all = filing_events("S", FILINGS, true);
    all.extend(
        filing_events("L", LATE, true)
            .into_iter()
            .map(|(k, v)| (k, v.replace("2025-07-", "2025-08-"))),
    );
    let total = last_seq_sum(&all);
    let feeder = {
        let (brokers, topic, all) = (broker.addr.clone(), topic.clone(), all.clone());
        tokio::spawn(
            async move { produce(&brokers, &topic, &all, Duration::from_millis(200)).await },
        )
    };
    // Mid-stream, once the victim has folded part of its share: SIGKILL.
    let victim = members[1].take().unwrap();
    let started = wait_for(Duration::from_secs(60), || async {
        metric(
            &http,
            &victim.base,
            "hoso_processor_messages_consumed_total",
        )
        .await
            > 5_000.0
    })
    .await;
    assert!(
        started,
        "the victim folded its share (log: {})",
        log.display()
    );
    drop(victim);
    let killed_at = std::fs::metadata(&log).unwrap().len() as usize;
    feeder.await.unwrap();

    // A stateless query node over the store: every partition's latest
    // checkpoint and the cold files they name.
    let mut config = test_config(&broker.addr, &topic);
    s3.configure(&mut config, "tables");
    config.store.poll_interval_ms = 200;
    let node = Hoso::start_roles(config, Roles::QUERY).await;
    let want = json!([{"n": FILINGS + LATE, "seqs": total}]);
    let settled = wait_for(Duration::from_secs(120), || async {
        Value::Array(node.sql(COUNT).await) == want
    })
    .await;
    assert!(
        settled,
        "the survivors took the victim's partitions over: {:?} of {want} (log: {})",
        node.sql(COUNT).await,
        log.display()
    );
    // The victim's partitions went to the survivors, restored from the
    // checkpoints it had written to the store.
    let after = std::fs::read_to_string(&log).unwrap()[killed_at..].to_string();
    assert!(
        after.contains("restored from checkpoint"),
        "a survivor restored the victim's partition (log: {})",
        log.display()
    );
    // The checkpoint that brings the late filings first runs the cold pass
    // they made due and carries its files; the wait is only a margin for
    // the store to list what was just written.
    let went_cold = wait_for(Duration::from_secs(60), || async {
        !s3.keys("tables/cold/").await.is_empty()
    })
    .await;
    assert!(went_cold, "filings went cold into the store");
    let cold = s3.keys("tables/cold/").await;
    assert!(
        cold.iter().all(|k| k.contains("/filings/province=")),
        "{cold:?}"
    );
    let checkpoints = s3.keys("tables/checkpoints/").await;
    for p in 0..3 {
        assert!(
            checkpoints
                .iter()
                .any(|k| k.ends_with(&format!("partition-{p}/MANIFEST"))),
            "{checkpoints:?}"
        );
    }

    // Exactly the tables of one uninterrupted read of the log.
    let mut reference = test_config(&broker.addr, &topic);
    reference.processor.group_id = format!("reference-{topic}");
    reference.processor.cold_after_days = 1;
    let reference = Hoso::start(reference).await;
    let caught_up = wait_for(Duration::from_secs(90), || async {
        Value::Array(reference.sql(COUNT).await) == want
    })
    .await;
    assert!(caught_up);
    for q in QUERIES {
        assert_same_rows(q, &node.sql(q).await, &reference.sql(q).await);
    }
    reference.stop().await;
    node.stop().await;
    drop(members);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_node_answers_from_the_table_store_as_the_processor_did() {
    const FILINGS: usize = 6_000;
    let broker = Broker::start();
    let topic = topic("store");
    let s3 = S3::start(&bucket(&topic)).await;
    let mut config = test_config(&broker.addr, &topic);
    s3.configure(&mut config, "prod/hoso");
    config.processor.cold_after_days = 1;
    config.processor.checkpoint_interval_ms = 200;
    config.store.poll_interval_ms = 100;

    let up = Hoso::start(config.clone()).await;
    up.wait_ready().await;
    let all = filing_events("S", FILINGS, true);
    produce(&broker.addr, &topic, &all, Duration::ZERO).await;
    let want = json!([{"n": FILINGS, "seqs": last_seq_sum(&all)}]);
    let settled = wait_for(Duration::from_secs(60), || async {
        Value::Array(up.sql(COUNT).await) == want
    })
    .await;
    assert!(settled);
    let mut answers = Vec::new();
    for q in QUERIES {
        answers.push(up.sql(q).await);
    }
    let cold_rows = up
        .sql("SELECT CAST(sum(cold_filings) AS BIGINT) AS n FROM system.partitions")
        .await;
    assert!(
        cold_rows[0]["n"].as_i64().unwrap() > 0,
        "some filings are cold: {cold_rows:?}"
    );
    up.stop().await;
    assert!(!s3.keys("prod/hoso/cold/").await.is_empty());

    // A query node with a disk of its own that holds nothing.
    let mut node_config = config.clone();
    node_config.data_dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-node"));
    let _ = std::fs::remove_dir_all(&node_config.data_dir);
    let node = Hoso::start_roles(node_config, Roles::QUERY).await;
    node.wait_ready().await;
    for (q, want) in QUERIES.iter().zip(&answers) {
        assert_same_rows(q, &node.sql(q).await, want);
    }

    // A processor on another machine (an empty disk) takes over from the
    // store; what it folds reaches the query node within the checkpoint
    // interval and a poll.
    let mut moved = config.clone();
    moved.data_dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-moved"));
    let _ = std::fs::remove_dir_all(&moved.data_dir);
    let up = Hoso::start(moved).await;
    up.wait_ready().await;
    for (q, want) in QUERIES.iter().zip(&answers) {
        assert_same_rows(q, &up.sql(q).await, want);
    }
    // A late event for a cold filing: recalled from a file this machine
    // fetches from the store.
    let paid = "SELECT online_payment FROM filings WHERE filing_id = 'S-00001'";
    assert_eq!(node.sql(paid).await, vec![json!({"online_payment": null})]);
    let late = r#"{"event_id":"S-00001-late","filing_id":"S-00001","seq":4,"type":"fee_paid","occurred_at":"2025-07-02T09:00:00+07:00","province_code":"01","commune_code":"00008"}"#;
    produce(
        &broker.addr,
        &topic,
        &[("S-00001".into(), late.into())],
        Duration::ZERO,
    )
    .await;
    let seen = wait_for(Duration::from_secs(30), || async {
        node.sql(paid).await == vec![json!({"online_payment": false})]
    })
    .await;
    assert!(seen, "the query node shows the new checkpoint");
    assert_same_rows(COUNT, &node.sql(COUNT).await, want.as_array().unwrap());
    up.stop().await;
    node.stop().await;
}
