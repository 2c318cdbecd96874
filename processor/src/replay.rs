//! `hoso replay`: rebuild every partition's state from the topic into a
//! fresh checkpoint directory.
//!
//! The same fold as the live processor, message for message, so the tables
//! a replay writes are the tables the live processor holds (the log's order
//! is fixed, and every decision of the fold follows it). It reads each
//! partition from its beginning (or from the first offset at or after a
//! timestamp) to its end, as Kafka reports it when the replay reaches it,
//! then writes one checkpoint per partition. Dead letters are not sent
//! again: the live processor sent them; the rejects are in the tables.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hoso_model::checkpoint::{CheckpointError, CheckpointStore};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::checkpoint::{self, FsCheckpointStore};
use crate::config::ProcessorConfig;
use crate::partition::{FoldResult, PartitionTables};

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
    #[error("cancelled")]
    Cancelled,
}

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
    pub messages: u64,
    pub folded: u64,
    pub duplicates: u64,
    /// Refused messages by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    pub restatements: u64,
    pub filings: usize,
    pub elapsed: Duration,
}

/// Replays `config.topic` into `config.checkpoint_dir`, which must hold no
/// checkpoint. `from_ms` starts each partition at the first message at or
/// after that time instead of its beginning. `progress` is called now and
/// then; `cancelled` is polled between batches.
pub fn replay(
    config: &ProcessorConfig,
    from_ms: Option<i64>,
    mut progress: impl FnMut(ReplayProgress),
    cancelled: impl Fn() -> bool,
) -> Result<ReplaySummary, ReplayError> {
    let started = Instant::now();
    let dir = config
        .checkpoint_dir
        .as_ref()
        .ok_or(ReplayError::NoDirectory)?;
    let store: Arc<dyn CheckpointStore> = Arc::new(FsCheckpointStore::new(dir)?);
    if !store.partitions()?.is_empty() {
        return Err(ReplayError::NotFresh(dir.display().to_string()));
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", format!("{}-replay", config.group_id))
        .set("client.id", "hoso-replay")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .create()?;
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

    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        let start = from_ms.map_or(Offset::Beginning, Offset::Offset);
        tpl.add_partition_offset(&config.topic, *p, start)?;
    }
    if from_ms.is_some() {
        // Offset::Offset(ms) above is a timestamp here: Kafka answers with
        // the first offset at or after it (the end when there is none).
        tpl = consumer.offsets_for_times(tpl, Duration::from_secs(10))?;
    }
    let mut total = 0u64;
    for e in tpl.elements() {
        let (low, high) =
            consumer.fetch_watermarks(&config.topic, e.partition(), Duration::from_secs(10))?;
        let start = match e.offset() {
            Offset::Offset(o) => o.max(low),
            Offset::End => high,
            _ => low,
        };
        total += (high - start).max(0) as u64;
    }
    consumer.assign(&tpl)?;

    let settings = config.partition_settings();
    let mut parts: HashMap<i32, PartitionTables> = tpl
        .elements()
        .iter()
        .map(|e| {
            let tables = PartitionTables::new(e.partition()).with_settings(settings.clone());
            let tables = match e.offset() {
                Offset::Offset(o) if o > 0 => tables.starting_at(o),
                _ => tables,
            };
            (e.partition(), tables)
        })
        .collect();
    let mut summary = ReplaySummary {
        partitions: partitions.len(),
        ..ReplaySummary::default()
    };
    let mut at_end = std::collections::BTreeSet::new();
    let mut last_report = Instant::now();
    progress(ReplayProgress { read: 0, total });
    while at_end.len() < partitions.len() {
        if cancelled() {
            return Err(ReplayError::Cancelled);
        }
        for _ in 0..4096 {
            match consumer.poll(Duration::from_millis(100)) {
                None => break,
                Some(Ok(msg)) => {
                    summary.messages += 1;
                    let p = msg.partition();
                    let Some(tables) = parts.get_mut(&p) else {
                        continue;
                    };
                    match crate::consumer::fold(tables, &msg) {
                        FoldResult::Folded => {
                            summary.folded += 1;
                            if tables.has_closed_changes() {
                                summary.restatements += crate::consumer::restate(&mut parts, p);
                            }
                        }
                        FoldResult::Duplicate | FoldResult::BeforeStart => summary.duplicates += 1,
                        FoldResult::Rejected { reason, .. } => {
                            *summary.rejected.entry(reason).or_default() += 1;
                        }
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                }
                Some(Err(e)) => return Err(ReplayError::Kafka(e)),
            }
        }
        for tables in parts.values_mut() {
            tables.evict_cold().map_err(ReplayError::Cold)?;
        }
        if last_report.elapsed() > Duration::from_millis(100) {
            progress(ReplayProgress {
                read: summary.messages,
                total,
            });
            last_report = Instant::now();
        }
    }
    for tables in parts.values_mut() {
        // A partition read to its end from an empty start: its checkpoint
        // says where the next reader goes on.
        tables.mark_end();
        checkpoint::save(store.as_ref(), tables)?;
        summary.filings += tables.filings().len() + tables.cold().rows() as usize;
    }
    progress(ReplayProgress {
        read: summary.messages,
        total: total.max(summary.messages),
    });
    summary.elapsed = started.elapsed();
    Ok(summary)
}
