//! HTTP ingest into the broker: NDJSON batches posted by a few concurrent
//! clients to an in-process ingest, counting only what it acknowledged
//! (202: Kafka took every event of the request).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::Mutex;

use crate::config::Config;
use crate::r#gen::communes::CommuneSource;
use crate::r#gen::mix::Mix;
use crate::r#gen::pace::Pace;
use crate::r#gen::stream::Stream;
use crate::r#gen::{Destination, GenOptions};
use crate::up::{self, Roles};

/// Events per request, as a source system's batch would be.
pub const BATCH_EVENTS: usize = 5_000;

/// Clients posting at once.
pub const CLIENTS: usize = 4;

#[derive(Clone, Copy, Debug)]
pub struct IngestRun {
    pub events: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl IngestRun {
    pub fn per_s(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The NDJSON bodies of `events` generated events in requests of `batch`,
/// prepared before the clock starts.
pub fn bodies(events: u64, batch: usize, seed: u64) -> anyhow::Result<Vec<(usize, Vec<u8>)>> {
    let opts = GenOptions {
        seed,
        start_day: crate::cli::parse_date("2026-01-05").expect("a date"),
        days: 3650,
        communes: CommuneSource::default_for(None),
        provinces: Vec::new(),
        max_communes: Some(200),
        mix: Mix::default(),
        pace: Pace::Fast,
        destination: Destination::Kafka,
        format: crate::r#gen::Format::Events,
        units_out: None,
        progress: false,
    };
    let world = Arc::new(crate::r#gen::world(&opts)?);
    let mut stream = Stream::new(world, opts.start_day, opts.days);
    let mut out = Vec::new();
    let mut left = events;
    while left > 0 {
        let mut body = Vec::with_capacity(batch * 256);
        let mut n = 0;
        while n < batch && left > 0 && stream.next_into(&mut body).is_some() {
            body.push(b'\n');
            n += 1;
            left -= 1;
        }
        if n == 0 {
            break;
        }
        out.push((n, body));
    }
    Ok(out)
}

/// Posts `events` events to an ingest of its own on `topic`.
pub async fn run(
    config: &Config,
    topic: &str,
    events: u64,
    seed: u64,
) -> anyhow::Result<IngestRun> {
    let batches = bodies(events, BATCH_EVENTS, seed)?;
    let bytes: u64 = batches.iter().map(|(_, b)| b.len() as u64).sum();
    let mut config = config.clone();
    config.kafka.topic = topic.to_string();
    config.propagate();
    config.http.listen = "127.0.0.1:0".into();
    let running = up::start(config, Roles::INGEST).await?;
    let url = format!("http://{}/v1/events", running.addr);
    let client = reqwest::Client::new();
    // Ready once it reaches Kafka.
    super::wait_ready(
        &client,
        &format!("http://{}", running.addr),
        Duration::from_secs(30),
    )
    .await?;
    let queue = Arc::new(Mutex::new(batches.into_iter()));
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (queue, acked, client, url) =
            (queue.clone(), acked.clone(), client.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let Some((n, body)) = queue.lock().await.next() else {
                    return Ok::<(), anyhow::Error>(());
                };
                loop {
                    let r = client
                        .post(&url)
                        .header("content-type", "application/x-ndjson")
                        .body(body.clone())
                        .send()
                        .await?;
                    match r.status().as_u16() {
                        202 => break,
                        // Kafka was busy: the same batch again (event ids
                        // make it safe).
                        503 => tokio::time::sleep(Duration::from_millis(50)).await,
                        s => bail!(
                            "ingest answered {s}: {}",
                            r.text().await.unwrap_or_default()
                        ),
                    }
                }
                acked.fetch_add(n as u64, Ordering::Relaxed);
            }
        }));
    }
    for c in clients {
        c.await??;
    }
    let elapsed = started.elapsed();
    running.shutdown().await?;
    Ok(IngestRun {
        events: acked.load(Ordering::Relaxed),
        bytes,
        elapsed,
    })
}
