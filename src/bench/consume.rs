//! The processor against the limit: a bare librdkafka consumer and the
//! processor read the same pre-filled topic to its end, one after the
//! other, in one run. The bare consumer only counts messages and bytes;
//! the processor decodes, folds, publishes Arrow tables, checkpoints and
//! moves closed filings to cold files, exactly as `hoso up` does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hoso_model::tables::TableSource;
use hoso_processor::{ConsumeMode, LiveTables, ProcessorMetrics};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientConfig, ClientContext};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::r#gen::communes::CommuneSource;
use crate::r#gen::mix::Mix;
use crate::r#gen::pace::Pace;
use crate::r#gen::{Destination, GenOptions};
use crate::topic;

/// One read of the topic to its end.
#[derive(Clone, Copy, Debug)]
pub struct Read {
    pub messages: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl Read {
    pub fn per_s(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The messages the topic holds (its partitions' offset ranges).
pub fn topic_size(brokers: &str, topic: &str) -> anyhow::Result<u64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let Some(t) = md.topics().first() else {
        return Ok(0);
    };
    if t.error().is_some() {
        return Ok(0);
    }
    let mut total = 0;
    for p in t.partitions() {
        let (low, high) = consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(10))?;
        total += (high - low).max(0) as u64;
    }
    Ok(total)
}

/// Fills `config.kafka.topic` with generated events (An Giang when the
/// reference list is at hand) until it holds at least `target` messages;
/// a topic already that full is used as it is, so runs after the first
/// skip this. Windows follow one another from 2026-01-05: one day first,
/// then as many days as that day's volume says are still needed (at most
/// 30), so the contents depend only on `target` and `seed`.
pub async fn prefill(
    config: &Config,
    target: u64,
    seed: u64,
    cancel: &CancellationToken,
) -> anyhow::Result<u64> {
    let brokers = &config.kafka.brokers;
    let topic = &config.kafka.topic;
    // Millions of events at full speed: a busy broker may take longer to
    // acknowledge than ingest's usual patience.
    let mut config = config.clone();
    config.ingest.ack_timeout_ms = config.ingest.ack_timeout_ms.max(120_000);
    let config = &config;
    if !topic::ensure_topic(&config.kafka, cancel).await {
        bail!("Kafka at {brokers} did not answer");
    }
    let start = crate::cli::parse_date("2026-01-05").expect("a date");
    let mut day = start;
    let mut days = 1u32;
    let mut size = topic_size(brokers, topic)?;
    if size >= target {
        return Ok(size);
    }
    // A topic filled part way (an interrupted run) is filled again from
    // the first window: the repeats are duplicates, read like the rest.
    while size < target {
        let source = CommuneSource::default_for(None);
        let provinces = match source {
            CommuneSource::Csv(_) => vec!["91".to_string()],
            CommuneSource::Synthetic { .. } => Vec::new(),
        };
        let opts = GenOptions {
            seed,
            start_day: day,
            days,
            communes: source,
            provinces,
            max_communes: None,
            mix: Mix::default(),
            pace: Pace::Fast,
            destination: Destination::Kafka,
            format: crate::r#gen::Format::Events,
            units_out: None,
            progress: true,
        };
        eprintln!(
            "bench: filling {topic}: {size} of {target} messages; generating {days} more days"
        );
        let report = crate::r#gen::run(opts, config, cancel.clone()).await?;
        if let Some(f) = report.failure {
            bail!("generating the benchmark topic failed: {f}");
        }
        if report.sent == 0 {
            bail!("the generator made no events for the benchmark topic");
        }
        day += days as i32;
        size = topic_size(brokers, topic)?;
        let per_day = (report.sent / u64::from(days)).max(1);
        days = (target.saturating_sub(size).div_ceil(per_day)).clamp(1, 30) as u32;
    }
    Ok(size)
}

/// The bare consumer's context: a partition's end is what it waits for,
/// not an error to log.
struct EndIsNews;

impl ClientContext for EndIsNews {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF);
        if !end {
            tracing::warn!(%error, reason, "bare consumer");
        }
    }
}

impl ConsumerContext for EndIsNews {}

/// A plain consumer: assigned every partition from the beginning, it
/// counts messages and payload bytes until each partition reports its end.
/// It fetches with the processor's `fetch_wait_max_ms` and
/// `fetch_queue_backoff_ms`: the two differ only in what they do with a
/// message.
pub fn bare(brokers: &str, topic: &str, fetch: (u64, u64)) -> anyhow::Result<Read> {
    let (fetch_wait_max_ms, fetch_queue_backoff_ms) = fetch;
    let consumer: BaseConsumer<EndIsNews> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("hoso-bench-bare-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", fetch_wait_max_ms.to_string())
        .set("fetch.queue.backoff.ms", fetch_queue_backoff_ms.to_string())
        .create_with_context(EndIsNews)?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = md
        .topics()
        .first()
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if partitions.is_empty() {
        bail!("topic {topic} has no partitions");
    }
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut at_end = std::collections::HashSet::new();
    let (mut messages, mut bytes) = (0u64, 0u64);
    let started = Instant::now();
    while at_end.len() < partitions.len() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                messages += 1;
                bytes += m.payload().map_or(0, |p| p.len() as u64);
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => return Err(e).context("the bare consumer failed"),
            None => {}
        }
    }
    Ok(Read {
        messages,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// The processor as `hoso up` runs it (standalone, checkpoints and cold
/// files in a fresh directory), timed from its start until every
/// partition is caught up and it has read `messages`.
pub async fn processor(
    config: &Config,
    messages: u64,
    cancel: &CancellationToken,
) -> anyhow::Result<Read> {
    let dir = std::env::temp_dir().join(format!("hoso-bench-processor-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut pc = config.processor.clone();
    pc.brokers = config.kafka.brokers.clone();
    pc.topic = config.kafka.topic.clone();
    pc.mode = ConsumeMode::Standalone;
    pc.group_id = format!("hoso-bench-processor-{}", std::process::id());
    pc.checkpoint_dir = Some(dir.join("checkpoints"));
    pc.cold_dir = Some(dir.join("cold"));
    if !topic::ensure_named(&config.kafka, &pc.dead_letter_topic, cancel).await {
        bail!(
            "cannot create the dead-letter topic {}",
            pc.dead_letter_topic
        );
    }
    let registry = prometheus::Registry::new();
    let metrics = ProcessorMetrics::new(&registry)?;
    let live = LiveTables::new();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handle = hoso_processor::spawn(pc, live.clone(), metrics.clone(), stop.clone())?;
    let done = loop {
        if cancel.is_cancelled() || handle.is_finished() {
            break false;
        }
        let read = metrics.consumed.get();
        let snap = live.snapshot();
        if read >= messages
            && !snap.partitions.is_empty()
            && snap.partitions.iter().all(|p| p.caught_up)
        {
            break true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let elapsed = started.elapsed();
    let read = metrics.consumed.get();
    stop.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    let _ = std::fs::remove_dir_all(&dir);
    if !done {
        bail!("the processor stopped before the topic's end ({read} of {messages} read)");
    }
    Ok(Read {
        messages: read,
        bytes: 0,
        elapsed,
    })
}
