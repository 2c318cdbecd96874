//! Killed with SIGKILL at 20 random points (no clean shutdown) while 200k
//! events flow, the processor restarted from its checkpoints each time ends
//! with exactly the tables of a processor that read the whole log once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    Broker, Hoso, UpProcess, assert_same_rows, filing_events, produce, spawn_up, sql_at,
    test_config, topic, wait_for, wait_http_ok,
};

const FILINGS: usize = 62_000;
const KILLS: usize = 20;

fn start_up(broker: &Broker, topic: &str, data_dir: &Path, log: &Path) -> UpProcess {
    let group = format!("crash-{topic}");
    spawn_up(0, (&broker.addr, topic, &group), data_dir, log, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_and_doubles_nothing() {
    let broker = Broker::start();
    let topic = topic("crash");
    // Not test_config's directory: the reference below gets that one (and
    // empties it first), and two processors must never share state.
    let data_dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-up"));
    let _ = std::fs::remove_dir_all(&data_dir);
    let log = std::env::temp_dir().join(format!("hoso-e2e-{topic}.log"));
    let http = reqwest::Client::new();

    let mut up = start_up(&broker, &topic, &data_dir, &log);
    let ready = wait_http_ok(
        &http,
        &format!("{}/readyz", up.base),
        Duration::from_secs(60),
    )
    .await;
    assert!(ready, "hoso up became ready (log: {})", log.display());

    // Feed the topic straight from a producer, in bursts, while the
    // processor is killed and restarted underneath.
    let all = filing_events("C", FILINGS, false);
    let total = all.len();
    assert!(total >= 200_000, "the stream has {total} events");
    let (brokers, topic_name) = (broker.addr.clone(), topic.clone());
    let feeder = tokio::spawn(async move {
        produce(&brokers, &topic_name, &all, Duration::from_millis(150)).await
    });

    // Deterministic "random" kill points, 150..750 ms apart.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..KILLS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(150 + seed % 600)).await;
        up.child.kill().expect("SIGKILL");
        up.child.wait().unwrap();
        up = start_up(&broker, &topic, &data_dir, &log);
    }
    feeder.await.unwrap();

    // The survivor settles on every filing...
    let count = "SELECT count(*) AS n, CAST(sum(last_seq) AS BIGINT) AS events FROM filings";
    let want = serde_json::json!([{"n": FILINGS, "events": total}]);
    let settled = wait_for(Duration::from_secs(60), || async {
        sql_at(&http, &up.base, count)
            .await
            .is_some_and(|rows| Value::Array(rows) == want)
    })
    .await;
    if !settled {
        let metrics = http
            .get(format!("{}/metrics", up.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lines: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("hoso_processor_"))
            .collect();
        panic!(
            "after {KILLS} kills: {:?} of {total}\n{}\n(log: {})",
            sql_at(&http, &up.base, count).await,
            lines.join("\n"),
            log.display()
        );
    }

    // It got there through checkpoints (every 150 ms), not only replays.
    let checkpoints = data_dir.join("checkpoints").join(&topic);
    for p in 0..3 {
        assert!(
            checkpoints.join(format!("partition-{p}/MANIFEST")).exists(),
            "partition {p} checkpointed"
        );
    }

    // ...with exactly the tables of one uninterrupted read of the log.
    let mut reference = test_config(&broker.addr, &topic);
    reference.processor.group_id = format!("reference-{topic}");
    let reference = Hoso::start(reference).await;
    let caught_up = wait_for(Duration::from_secs(60), || async {
        reference.sql(count).await == want.as_array().unwrap().clone()
    })
    .await;
    assert!(caught_up);
    for q in [
        "SELECT * FROM filings ORDER BY filing_id",
        "SELECT * FROM daily_stats ORDER BY day, province_code, commune_code",
    ] {
        let survivor = sql_at(&http, &up.base, q).await.expect("survivor answers");
        assert_same_rows(q, &survivor, &reference.sql(q).await);
    }
    reference.stop().await;
}

/// Every file named `name` under `dir`.
fn find_files(dir: &std::path::Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                out.push(path);
            }
        }
    }
    out
}

/// A damaged checkpoint is the engine's error, returned to the binary,
/// which stops with a failure exit naming it: not a silent re-read from
/// the beginning that would overwrite the checkpoint with a partial state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_that_cannot_be_read_stops_hoso_with_an_error() {
    let broker = Broker::start();
    let topic = topic("badckpt");
    let data_dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-up"));
    let _ = std::fs::remove_dir_all(&data_dir);
    let log = std::env::temp_dir().join(format!("hoso-e2e-{topic}.log"));
    let http = reqwest::Client::new();
    let up = start_up(&broker, &topic, &data_dir, &log);
    assert!(
        wait_http_ok(
            &http,
            &format!("{}/readyz", up.base),
            Duration::from_secs(60)
        )
        .await,
        "hoso up became ready (log: {})",
        log.display()
    );
    let events = filing_events("B", 300, false);
    produce(&broker.addr, &topic, &events, Duration::ZERO).await;
    let checkpointed = wait_for(Duration::from_secs(60), || async {
        find_files(&data_dir, "MANIFEST").len() == 3
    })
    .await;
    assert!(checkpointed, "every partition checkpointed");
    drop(up);

    // Damage one partition's checkpoint (a flipped bit: the CRC catches it).
    let manifest = &find_files(&data_dir, "MANIFEST")[0];
    let text = std::fs::read_to_string(manifest).unwrap();
    let checkpoint = manifest.with_file_name(text.lines().next().unwrap());
    let mut bytes = std::fs::read(&checkpoint).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&checkpoint, &bytes).unwrap();

    let mut up = start_up(&broker, &topic, &data_dir, &log);
    let mut status = None;
    for _ in 0..600 {
        if let Some(s) = up.child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let status =
        status.unwrap_or_else(|| panic!("hoso kept running on a damaged checkpoint: {log_text}"));
    assert!(!status.success(), "exit status {status}");
    assert!(
        log_text.contains("cannot restore its checkpoint") && log_text.contains("corrupt"),
        "the log says why: {log_text}"
    );
    assert_eq!(
        std::fs::read(&checkpoint).unwrap(),
        bytes,
        "the damaged checkpoint is left for the operator, not overwritten"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}
