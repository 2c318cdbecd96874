//! Broker restart: Tansu on `sqlite://` storage is killed (SIGKILL) while a
//! client posts a steady stream to ingest, and started again a few seconds
//! later on the same port and the same database. The client resends every
//! batch that was not answered 202 (ingest says 503 while Kafka is away).
//! Nothing acknowledged is lost: the topic read back holds every event that
//! got a 202, and SQL shows exactly the tables of those events, each folded
//! once.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Broker, Hoso, read_topic_records, test_config, topic, wait_for};

/// About 13,600 events: sqlite storage takes ~17k messages a second.
const FILINGS: usize = 4_000;
/// Events per request.
const BATCH: usize = 150;
/// Pause between two requests: the stream outlasts the kill point.
const PACE: Duration = Duration::from_millis(20);
/// How long the broker stays down: longer than ingest's ack timeout below,
/// so a request sent during the outage cannot be acknowledged and the
/// client must see a 503.
const OUTAGE: Duration = Duration::from_secs(4);
const ACK_TIMEOUT_MS: u64 = 2_000;

/// What one filing reads as once all its events are folded.
struct Expect {
    day: u32,
    province: &'static str,
    commune: &'static str,
    online: bool,
    status: &'static str,
    /// Local day of `ended_at`, and whether it ended early or on time.
    ended: Option<(u32, bool)>,
    supplements: i64,
    paused_seconds: i64,
}

/// The stream, `(event_id, JSON)` in sending order, and each filing's
/// expected row. Filing `f` is received on day `1 + f % 9` at 08:00, due
/// the next day 17:00; one in five is paused 10:00 -> 14:00 (4 h); six in
/// seven are resolved: early (same day 16:00), on time (due day 10:00) or
/// late (two days later 16:00, after the due even with the pause); one in
/// six of those is then returned.
fn stream() -> (Vec<(String, String)>, Vec<Expect>) {
    let mut events = Vec::new();
    let mut expect = Vec::new();
    for f in 0..FILINGS {
        let id = format!("B-{f:05}");
        let day = 1 + (f % 9) as u32;
        let commune = ["00004", "00008", "00025", "26740"][f % 4];
        let province = if commune == "26740" { "79" } else { "01" };
        let online = f % 3 == 0;
        let mut seq = 0;
        let mut push = |kind: &str, day: u32, hour: u32, extra: &str| {
            seq += 1;
            let event_id = format!("{id}-{seq}");
            events.push((
                event_id.clone(),
                format!(
                    r#"{{"event_id":"{event_id}","filing_id":"{id}","seq":{seq},"type":"{kind}","occurred_at":"2025-07-{day:02}T{hour:02}:00:00+07:00","province_code":"{province}","commune_code":"{commune}"{extra}}}"#
                ),
            ));
        };
        let received = format!(
            r#","procedure_code":"1.001193","channel":"{}","due_at":"2025-07-{:02}T17:00:00+07:00""#,
            if online { "online" } else { "in_person" },
            day + 1
        );
        push("received", day, 8, &received);
        push("processing", day, 9, "");
        let paused = f % 5 == 0;
        if paused {
            push("supplement_requested", day, 10, "");
            push("supplement_received", day, 14, "");
        }
        let (status, ended) = if f % 7 != 0 {
            let (end_day, hour, in_time) = match (f / 4) % 4 {
                3 => (day + 2, 16, false),
                2 => (day + 1, 10, true),
                _ => (day, 16, true),
            };
            push("resolved", end_day, hour, "");
            if f % 6 == 1 {
                push("returned", end_day, 17, "");
                ("returned", Some((end_day, in_time)))
            } else {
                ("resolved", Some((end_day, in_time)))
            }
        } else if paused {
            ("supplement_received", None)
        } else {
            ("processing", None)
        };
        expect.push(Expect {
            day,
            province,
            commune,
            online,
            status,
            ended,
            supplements: i64::from(paused),
            paused_seconds: if paused { 4 * 3600 } else { 0 },
        });
    }
    (events, expect)
}

/// What the client saw.
#[derive(Default)]
struct ClientLog {
    /// When each batch was answered 202, in batch order.
    acked_at: Vec<Instant>,
    /// 503 answers (each followed by a resend of the same batch).
    unavailable: usize,
    /// Requests that got no answer at all (each resent too).
    failed: usize,
}

/// Posts every batch in order, resending a batch until it is answered 202.
async fn client(base: String, batches: Vec<String>, progress: Arc<AtomicUsize>) -> ClientLog {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("{base}/v1/events");
    let mut log = ClientLog::default();
    for (i, body) in batches.iter().enumerate() {
        let n = body.lines().count();
        loop {
            match http.post(&url).body(body.clone()).send().await {
                Ok(r) if r.status().as_u16() == 202 => {
                    let answer: Value = r.json().await.expect("202 with JSON");
                    assert_eq!(answer, json!({ "accepted": n }), "batch {i}");
                    log.acked_at.push(Instant::now());
                    progress.store(i + 1, Ordering::SeqCst);
                    break;
                }
                Ok(r) if r.status().as_u16() == 503 => {
                    log.unavailable += 1;
                    let retry_after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .expect("a 503 says Retry-After");
                    tokio::time::sleep(Duration::from_secs(retry_after)).await;
                }
                Ok(r) => {
                    let status = r.status();
                    panic!("batch {i}: {status} {}", r.text().await.unwrap_or_default());
                }
                Err(_) => {
                    log.failed += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        tokio::time::sleep(PACE).await;
    }
    log
}

type Key = (String, String, String);

/// Rows of a view by (day, province_code, commune_code): two of its counts.
async fn keyed(hoso: &Hoso, sql: &str, a: &str, b: &str) -> BTreeMap<Key, (i64, i64)> {
    hoso.sql(sql)
        .await
        .iter()
        .map(|r| {
            let text = |c: &str| r[c].as_str().unwrap().to_string();
            let k = (text("day"), text("province_code"), text("commune_code"));
            (k, (int(&r[a]), int(&r[b])))
        })
        .collect()
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("{v} is not an integer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_and_restarted_mid_stream_loses_nothing() {
    let topic = topic("broker-restart");
    let dir = std::env::temp_dir().join(format!("hoso-e2e-{topic}-tansu"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut broker = Broker::start_sqlite(&dir);
    let mut config = test_config(&broker.addr, &topic);
    config.ingest.ack_timeout_ms = ACK_TIMEOUT_MS;
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;
    assert!(dir.join("tansu.db").exists(), "Tansu stores in sqlite");

    let (events, expect) = stream();
    let total = events.len();
    let batches: Vec<String> = events
        .chunks(BATCH)
        .map(|c| c.iter().map(|(_, line)| format!("{line}\n")).collect())
        .collect();
    let progress = Arc::new(AtomicUsize::new(0));
    let feeder = tokio::spawn(client(hoso.base.clone(), batches.clone(), progress.clone()));

    // Kill the broker a third of the way in, while the client is posting.
    let third = batches.len() / 3;
    let reached = wait_for(Duration::from_secs(60), || async {
        progress.load(Ordering::SeqCst) >= third
    })
    .await;
    assert!(reached, "the client got {third} batches acknowledged");
    broker.kill();
    let killed = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    broker.start_again();
    let restarted = Instant::now();

    let log = match tokio::time::timeout(Duration::from_secs(60), feeder).await {
        Ok(log) => log.expect("the client got only 202 and 503"),
        Err(_) => {
            let ready = hoso.http.get(format!("{}/readyz", hoso.base)).send().await;
            let ready = match ready {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            panic!(
                "the client is still resending 60 s after the restart ({} of {} batches \
                 acknowledged); /readyz: {ready}; broker log: {}",
                progress.load(Ordering::SeqCst),
                batches.len(),
                broker.log().display()
            );
        }
    };
    assert_eq!(log.acked_at.len(), batches.len());
    let acked_before_kill = log.acked_at.iter().filter(|t| **t < killed).count();
    // (An answer already on its way at the kill may arrive just after it.)
    let acked_while_down = log
        .acked_at
        .iter()
        .filter(|t| **t > killed + Duration::from_secs(1) && **t < restarted)
        .count();
    let acked_after_restart = log.acked_at.iter().filter(|t| **t > restarted).count();
    println!(
        "{total} events in {} batches: {acked_before_kill} acknowledged before the kill, \
         {acked_after_restart} after the restart; {} answers 503, {} requests unanswered",
        batches.len(),
        log.unavailable,
        log.failed
    );
    // Not vacuous: the outage was in the middle of the stream, nothing was
    // acknowledged while the broker was down, and the client was refused.
    assert!(
        acked_before_kill > 0 && acked_after_restart > 0,
        "the broker died mid-stream"
    );
    assert_eq!(acked_while_down, 0, "an acknowledgement needs the broker");
    assert!(
        log.unavailable + log.failed > 0,
        "the client saw the outage (503 or no answer)"
    );

    // Back to ready, and SQL settles on every event, each folded once.
    hoso.wait_ready().await;
    let count = "SELECT count(*) AS n, CAST(sum(last_seq) AS BIGINT) AS seqs FROM filings";
    let want = vec![json!({"n": FILINGS, "seqs": total})];
    let settled = wait_for(Duration::from_secs(30), || async {
        hoso.sql(count).await == want
    })
    .await;

    // Everything acknowledged is on the topic after the restart.
    let records = read_topic_records(&broker.addr, &topic);
    let on_topic: HashSet<String> = records
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(&r.payload).ok())
        .filter_map(|v| v["event_id"].as_str().map(str::to_string))
        .collect();
    let missing: Vec<(usize, &str)> = events
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| !on_topic.contains(id))
        .map(|(i, (id, _))| (i / BATCH, id.as_str()))
        .collect();
    println!(
        "read back: {} records, {} distinct events (resends repeat some)",
        records.len(),
        on_topic.len()
    );
    if !missing.is_empty() {
        let mut per_partition: BTreeMap<i32, (usize, i64, i64)> = BTreeMap::new();
        for r in &records {
            let e = per_partition
                .entry(r.partition)
                .or_insert((0, i64::MAX, i64::MIN));
            e.0 += 1;
            e.1 = e.1.min(r.offset);
            e.2 = e.2.max(r.offset);
        }
        let batches_hit: BTreeSet<usize> = missing.iter().map(|(b, _)| *b).collect();
        panic!(
            "{} of {total} acknowledged events are not on the topic after the restart \
             (batches {batches_hit:?}; {acked_before_kill} batches were acknowledged before \
             the kill); first missing: {:?}; records per partition (count, first offset, last \
             offset): {per_partition:?}; broker log: {}",
            missing.len(),
            &missing[..missing.len().min(10)],
            broker.log().display()
        );
    }
    if !settled {
        let metrics = hoso.metrics().await;
        let lines: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("hoso_processor_") && !l.contains("_bucket"))
            .collect();
        panic!(
            "SQL shows {:?}, want {want:?}; every event is on the topic\n{}",
            hoso.sql(count).await,
            lines.join("\n")
        );
    }

    // Each distinct event was folded exactly once; ingest accepted each
    // event once, counting only 202s.
    let metrics = hoso.metrics().await;
    let value = |name: &str| -> i64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics")) as i64
    };
    assert_eq!(
        value("hoso_processor_events_total{result=\"folded\"}"),
        total as i64
    );
    assert_eq!(value("hoso_ingest_events_accepted_total"), total as i64);

    // -- filings: per status, and what the supplement events added --
    let mut statuses: BTreeMap<String, i64> = BTreeMap::new();
    for e in &expect {
        *statuses.entry(e.status.into()).or_default() += 1;
    }
    let got: BTreeMap<String, i64> = hoso
        .sql("SELECT status, count(*) AS n FROM filings GROUP BY status")
        .await
        .iter()
        .map(|r| (r["status"].as_str().unwrap().to_string(), int(&r["n"])))
        .collect();
    assert_eq!(got, statuses);
    let sums = hoso
        .sql(
            "SELECT CAST(sum(supplement_count) AS BIGINT) AS s, CAST(sum(paused_seconds) AS BIGINT) AS p, \
             count(ended_at) AS e FROM filings",
        )
        .await;
    assert_eq!(
        sums,
        vec![json!({
            "s": expect.iter().map(|e| e.supplements).sum::<i64>(),
            "p": expect.iter().map(|e| e.paused_seconds).sum::<i64>(),
            "e": expect.iter().filter(|e| e.ended.is_some()).count(),
        })]
    );

    // -- daily_volume and on_time_rate, row by row and summed --
    let key = |day: u32, e: &Expect| -> Key {
        (
            format!("2025-07-{day:02}"),
            e.province.into(),
            e.commune.into(),
        )
    };
    let mut volume: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    let mut rate: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    for e in &expect {
        let v = volume.entry(key(e.day, e)).or_default();
        v.0 += 1;
        v.1 += i64::from(e.online);
        if let Some((end_day, in_time)) = e.ended {
            let r = rate.entry(key(end_day, e)).or_default();
            r.0 += 1;
            r.1 += i64::from(in_time);
        }
    }
    assert_eq!(
        keyed(
            &hoso,
            "SELECT CAST(day AS VARCHAR) AS day, province_code, commune_code, received, received_online \
             FROM daily_volume WHERE received > 0",
            "received",
            "received_online"
        )
        .await,
        volume
    );
    assert_eq!(
        keyed(
            &hoso,
            "SELECT CAST(day AS VARCHAR) AS day, province_code, commune_code, ended, ended_on_time \
             FROM on_time_rate WHERE ended > 0",
            "ended",
            "ended_on_time"
        )
        .await,
        rate
    );
    let sum =
        |m: &BTreeMap<Key, (i64, i64)>| m.values().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    let (received, received_online) = sum(&volume);
    let (ended, ended_on_time) = sum(&rate);
    assert_eq!(received, FILINGS as i64);
    assert_eq!(
        hoso.sql(
            "SELECT CAST(sum(received) AS BIGINT) AS r, CAST(sum(received_online) AS BIGINT) AS o FROM daily_volume"
        )
        .await,
        vec![json!({"r": received, "o": received_online})]
    );
    assert_eq!(
        hoso.sql(
            "SELECT CAST(sum(ended) AS BIGINT) AS e, CAST(sum(ended_on_time) AS BIGINT) AS t FROM on_time_rate"
        )
        .await,
        vec![json!({"e": ended, "t": ended_on_time})]
    );

    hoso.stop().await;
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}
