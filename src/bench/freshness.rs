//! Freshness: how long an event takes from ingest's acknowledgement (202)
//! to being visible in SQL, under a steady load. A whole `hoso up` runs
//! in-process; a load of generated events is posted at a steady rate
//! while, ten times a second, a marker filing is posted and `POST /v1/sql`
//! is asked every 5 ms which markers it shows yet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use hoso_model::time::format_utc_ms;
use serde_json::json;
use tokio::sync::Mutex;

use crate::config::Config;
use crate::up::{self, Roles};

/// Requests of the steady load per second.
const LOAD_REQUESTS_PER_S: u64 = 20;

pub struct Freshness {
    /// Marker latencies, sorted.
    pub latencies: Vec<Duration>,
    /// How long each SQL poll took, request to parsed answer, sorted: a
    /// marker published just after a poll began waits for the next one.
    pub polls: Vec<Duration>,
    /// Load events acknowledged per second.
    pub load_per_s: f64,
}

impl Freshness {
    pub fn quantile(&self, q: f64) -> Duration {
        quantile(&self.latencies, q)
    }

    pub fn poll_quantile(&self, q: f64) -> Duration {
        quantile(&self.polls, q)
    }
}

/// The `q` quantile of sorted `values`.
fn quantile(values: &[Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values[((values.len() - 1) as f64 * q).round() as usize]
}

fn now_ms() -> i64 {
    crate::demo::now_ms()
}

/// Runs for `seconds` with `rate` load events per second.
pub async fn run(
    config: &Config,
    topic: &str,
    rate: u64,
    seconds: u64,
    seed: u64,
) -> anyhow::Result<Freshness> {
    let per_request = (rate / LOAD_REQUESTS_PER_S).max(1) as usize;
    let load = super::ingest::bodies(rate * seconds, per_request, seed)?;
    let dir = std::env::temp_dir().join(format!("hoso-bench-freshness-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = config.clone();
    config.kafka.topic = topic.to_string();
    config.propagate();
    config.http.listen = "127.0.0.1:0".into();
    config.data_dir = dir.clone();
    config.query.postgres_listen = String::new();
    config.query.flight_listen = String::new();
    config.alerting.kafka_topic = String::new();
    let running = up::start(config, Roles::UP).await?;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    super::wait_ready(&client, &base, Duration::from_secs(60)).await?;

    // The steady load.
    let loader = {
        let (client, url) = (client.clone(), format!("{base}/v1/events"));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / LOAD_REQUESTS_PER_S));
            let started = Instant::now();
            let mut sent = 0u64;
            for (n, body) in load {
                tick.tick().await;
                let r = client.post(&url).body(body).send().await?;
                if r.status().as_u16() != 202 {
                    bail!("the load was refused: {}", r.status());
                }
                sent += n as u64;
            }
            Ok(sent as f64 / started.elapsed().as_secs_f64())
        })
    };

    // Markers, and the SQL that looks for them.
    let waiting: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut latencies = Vec::new();
    let mut polls = Vec::new();
    let markers = seconds * 10;
    let marker_task = {
        let (client, url, waiting) = (client.clone(), format!("{base}/v1/events"), waiting.clone());
        let run = std::process::id();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            for i in 0..markers {
                tick.tick().await;
                let id = format!("bench-marker-{run}-{i}");
                let now = now_ms();
                let event = json!({
                    "event_id": format!("{id}-1"), "filing_id": id, "seq": 1, "type": "received",
                    "occurred_at": format_utc_ms(now), "province_code": "91",
                    "commune_code": "30292", "procedure_code": "1.001193", "channel": "online",
                    "due_at": format_utc_ms(now + 10 * 86_400_000)
                });
                let r = client.post(&url).body(event.to_string()).send().await?;
                let accepted = Instant::now();
                if r.status().as_u16() != 202 {
                    bail!("a marker was refused: {}", r.status());
                }
                waiting.lock().await.insert(id, accepted);
            }
            Ok(())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(seconds + 30);
    while (latencies.len() as u64) < markers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let ids: Vec<String> = waiting.lock().await.keys().cloned().collect();
        if ids.is_empty() {
            continue;
        }
        let list = ids
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(",");
        let asked = Instant::now();
        let r = client
            .post(format!("{base}/v1/sql"))
            .body(format!(
                "SELECT filing_id FROM filings WHERE filing_id IN ({list})"
            ))
            .send()
            .await?;
        let rows: Vec<serde_json::Value> = r.json().await?;
        let seen_at = Instant::now();
        polls.push(seen_at - asked);
        let mut waiting = waiting.lock().await;
        for row in rows {
            if let Some(at) = row["filing_id"].as_str().and_then(|id| waiting.remove(id)) {
                latencies.push(seen_at.saturating_duration_since(at));
            }
        }
    }
    marker_task.await??;
    let load_per_s = loader.await??;
    running.shutdown().await?;
    let _ = std::fs::remove_dir_all(&dir);
    if (latencies.len() as u64) < markers {
        bail!(
            "{} of {markers} markers never showed in SQL",
            markers - latencies.len() as u64
        );
    }
    latencies.sort();
    polls.sort();
    Ok(Freshness {
        latencies,
        polls,
        load_per_s,
    })
}
