//! `hoso replay`: rebuild every partition's state from the topic into a
//! fresh checkpoint directory.
//!
//! The same engine as the live processor ([`crate::engine::Engine`]),
//! message for message, so the tables a replay writes are the tables the
//! live processor holds (the log's order is fixed, and every decision of
//! the engine follows it). It reads each
//! partition from its beginning (or from the first offset at or after a
//! timestamp) to its end, as Kafka reports it when the replay reaches it,
//! then writes one checkpoint per partition. Dead letters are not sent
//! again: the live processor sent them; the rejects are in the tables.

use std::collections::{BTreeMap, HashMap};

use crate::engine::{Engine, Message as EngineMessage, Outcome};
use crate::partition::now_ms;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hoso_model::checkpoint::{CheckpointError, CheckpointStore};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::checkpoint::{self, FsCheckpointStore, ObjectCheckpointStore};
use crate::config::ProcessorConfig;
use crate::partition::PartitionTables;

/// How often the replay makes the cold passes due (the live consumer's
/// default `publish_interval_ms`).
const COLD_PASS_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("topic {0} does not exist or has no partitions")]
    NoTopic(String),
    #[error("the replay needs a checkpoint directory")]
    NoDirectory,
    #[error(
        "{0} already holds checkpoints; a replay writes into a fresh data directory \
         (give another --data-dir, or remove it)"
    )]
    NotFresh(String),
    #[error("checkpoints: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("cold files: {0}")]
    Cold(#[from] crate::cold::ColdError),
    #[error(transparent)]
    Fatal(#[from] crate::engine::Fatal),
    #[error("cancelled")]
    Cancelled,
}

/// Reaching a partition's end is how the replay knows it is done, not an
/// error to log.
struct Quiet;

impl rdkafka::ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(
            error,
            KafkaError::PartitionEOF(_)
                | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::warn!(error = %error, reason, "Kafka client error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for Quiet {}

/// Where a replay is, for a progress bar.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplayProgress {
    /// Messages read so far.
    pub read: u64,
    /// Messages to read, from the partitions' ends when the replay started
    /// (an estimate: a broker may under-report, and the topic grows).
    pub total: u64,
}

/// What a replay did.
#[derive(Clone, Debug, Default)]
pub struct ReplaySummary {
    pub partitions: usize,
    /// Messages folded, duplicate or refused.
    pub messages: u64,
    /// Messages stamped before `--from`.
    pub skipped: u64,
    pub folded: u64,
    pub duplicates: u64,
    /// Refusals by reason: messages refused as they were read, and events
    /// a later message displaced.
    pub rejected: BTreeMap<&'static str, u64>,
    pub restatements: u64,
    pub filings: usize,
    pub elapsed: Duration,
}

/// Empty tables of partition `p`. Cold files of it already in the target
/// (an interrupted replay's) are deleted and new ones numbered past them:
/// a name must never come back with other rows.
fn fresh_tables(p: i32, settings: &crate::partition::Settings) -> PartitionTables {
    let mut t = PartitionTables::new(p).with_settings(settings.clone());
    t.cold.remove_orphans(true);
    t
}

/// Replays `config.topic` into `config.checkpoint_dir`, which must hold no
/// checkpoint. `from_ms` starts each partition at its first message stamped
/// at or after that time (Kafka timestamp) instead of its beginning. `progress` is called now and
/// then; `cancelled` is polled between batches.
pub fn replay(
    config: &ProcessorConfig,
    from_ms: Option<i64>,
    mut progress: impl FnMut(ReplayProgress),
    cancelled: impl Fn() -> bool,
) -> Result<ReplaySummary, ReplayError> {
    let started = Instant::now();
    let (store, place): (Arc<dyn CheckpointStore>, String) = match &config.remote {
        Some(remote) => (
            Arc::new(ObjectCheckpointStore::new(remote.checkpoints.clone())),
            remote.checkpoints.store.url(&remote.checkpoints.prefix),
        ),
        None => {
            let dir = config
                .checkpoint_dir
                .as_ref()
                .ok_or(ReplayError::NoDirectory)?;
            (
                Arc::new(FsCheckpointStore::new(dir)?),
                dir.display().to_string(),
            )
        }
    };
    if !store.partitions()?.is_empty() {
        return Err(ReplayError::NotFresh(place));
    }
    let consumer: BaseConsumer<Quiet> = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", format!("{}-replay", config.group_id))
        .set("client.id", "hoso-replay")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .create_with_context(Quiet)?;
    let metadata = consumer.fetch_metadata(Some(&config.topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .find(|t| t.name() == config.topic && t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if partitions.is_empty() {
        return Err(ReplayError::NoTopic(config.topic.clone()));
    }

    // Every partition is read from its beginning. With `from_ms`, messages
    // stamped before it are skipped, and a partition's tables start at its
    // first message at or after it. (Kafka's ListOffsets by time would
    // skip the reading too, but Tansu 0.6 answers it with offset 0.)
    let mut total = 0u64;
    let mut tpl = TopicPartitionList::new();
    let settings = config.partition_settings();
    let mut engine = Engine::new(settings.clone());
    // Partitions waiting for their first message at or after `from_ms`,
    // with the offset after the last one skipped.
    let mut waiting: HashMap<i32, i64> = HashMap::new();
    for p in &partitions {
        let (low, high) = consumer.fetch_watermarks(&config.topic, *p, Duration::from_secs(10))?;
        total += (high - low).max(0) as u64;
        tpl.add_partition_offset(&config.topic, *p, Offset::Beginning)?;
        engine.assign(fresh_tables(*p, &settings));
        if from_ms.is_some() {
            waiting.insert(*p, low);
        }
    }
    consumer.assign(&tpl)?;
    let mut summary = ReplaySummary {
        partitions: partitions.len(),
        ..ReplaySummary::default()
    };
    let mut at_end = std::collections::BTreeSet::new();
    let mut last_report = Instant::now();
    let mut last_cold_pass = Instant::now();
    progress(ReplayProgress { read: 0, total });
    while at_end.len() < partitions.len() {
        if cancelled() {
            return Err(ReplayError::Cancelled);
        }
        for _ in 0..4096 {
            match consumer.poll(Duration::from_millis(100)) {
                None => break,
                Some(Ok(msg)) => {
                    let p = msg.partition();
                    if let (Some(from), Some(after)) = (from_ms, waiting.get_mut(&p)) {
                        if msg.timestamp().to_millis().is_some_and(|t| t < from) {
                            *after = msg.offset() + 1;
                            summary.skipped += 1;
                            continue;
                        }
                        waiting.remove(&p);
                        let fresh = fresh_tables(p, &settings);
                        engine.assign(fresh.starting_at(msg.offset()));
                    }
                    summary.messages += 1;
                    let message = EngineMessage {
                        partition: p,
                        offset: msg.offset(),
                        key: msg.key(),
                        payload: msg.payload().unwrap_or_default(),
                        timestamp_ms: msg.timestamp().to_millis(),
                    };
                    match engine.fold(message, now_ms())? {
                        Outcome::Folded => summary.folded += 1,
                        Outcome::Duplicate | Outcome::NotHeld => summary.duplicates += 1,
                        // Counted from the dead letters below, with the
                        // events displaced by later ones.
                        Outcome::Rejected { .. } => {}
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                }
                Some(Err(e)) => return Err(ReplayError::Kafka(e)),
            }
        }
        // The cold passes due, on the live consumer's default publish
        // clock: a pass scans the partition, so not once per batch.
        if last_cold_pass.elapsed() >= COLD_PASS_EVERY {
            engine.evict_cold();
            last_cold_pass = Instant::now();
        }
        // Dead letters are not sent again (the live processor sent them;
        // the rejects are in the tables); a cold file that cannot be
        // written ends the replay.
        let effects = engine.take_effects();
        summary.restatements += effects.restatements;
        for r in &effects.dead_letters {
            *summary.rejected.entry(r.reason).or_default() += 1;
        }
        if let Some((_, e)) = effects.cold_errors.into_iter().next() {
            return Err(ReplayError::Cold(e));
        }
        if last_report.elapsed() > Duration::from_millis(100) {
            progress(ReplayProgress {
                read: summary.messages + summary.skipped,
                total,
            });
            last_report = Instant::now();
        }
    }
    // A partition with nothing at or after `from_ms` starts at its end:
    // its checkpoint says so, and whoever serves it reads on from there.
    for (p, after) in waiting {
        let fresh = fresh_tables(p, &settings);
        engine.assign(fresh.starting_at(after));
    }
    for tables in engine.partitions_mut() {
        tables.mark_end();
        checkpoint::save(store.as_ref(), tables)?;
        summary.filings += tables.filings().len() + tables.cold().rows() as usize;
    }
    let read = summary.messages + summary.skipped;
    progress(ReplayProgress {
        read,
        total: total.max(read),
    });
    summary.elapsed = started.elapsed();
    Ok(summary)
}
