//! Processor settings. Units are in the key names.

use hoso_model::catalogue::DueRules;
use serde::{Deserialize, Serialize};

/// How the processor gets its partitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumeMode {
    /// Join the consumer group and fold the partitions it assigns.
    #[default]
    Group,
    /// Own every partition without a group: one process, checkpoints, and
    /// a restart that resumes at once (no session to wait out, no
    /// coordinator to depend on). What `hoso up` runs.
    Standalone,
    /// Read every partition without joining the group and without
    /// checkpoints (a query node that keeps its own copy of the tables; it
    /// takes no partitions from the group's processors).
    Follow,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessorConfig {
    /// Kafka bootstrap servers, comma-separated (set from `kafka.brokers`).
    #[serde(skip)]
    pub brokers: String,
    /// The filing events topic (set from `kafka.topic`).
    #[serde(skip)]
    pub topic: String,
    /// Consumer group of the processors.
    pub group_id: String,
    /// Set by the command (`process` joins the group, `query` follows), not
    /// by configuration.
    #[serde(skip)]
    pub mode: ConsumeMode,
    /// How a missing `due_at` is computed (set from the `calendar` and
    /// `procedures` sections).
    #[serde(skip)]
    pub due_rules: DueRules,
    /// An open filing is at risk when at most this many working hours are
    /// left (set from `query.at_risk_working_hours`, which the views use).
    #[serde(skip)]
    pub at_risk_working_hours: u32,
    /// How often folded changes are re-encoded and made visible to SQL:
    /// the freshness floor, and the price of encoding paid per interval.
    pub publish_interval_ms: u64,
    /// The longest a fetch waits at the broker for new messages
    /// (librdkafka's `fetch.wait.max.ms`). Apache Kafka answers as soon as
    /// one message arrives; a broker that holds the fetch for the whole
    /// wait (Tansu 0.6 does) adds this to freshness, so it is kept short.
    pub fetch_wait_max_ms: u64,
    /// How long librdkafka waits before fetching again for a partition
    /// whose local queue is over its limits (`fetch.queue.backoff.ms`).
    /// Its default, 1,000 ms, starves a consumer that folds more slowly
    /// than the broker sends: the queue drains long before the next fetch,
    /// and the processor waited on an empty queue for 60% of its time.
    pub fetch_queue_backoff_ms: u64,
    /// librdkafka session timeout: how long a dead processor keeps its
    /// partitions before the group reassigns them.
    pub session_timeout_ms: u64,
    /// A changed partition is checkpointed at least this often...
    pub checkpoint_interval_ms: u64,
    /// ...and after this many events, whichever comes first: what a crash
    /// can cost in re-reading, never in correctness.
    pub checkpoint_every_events: u64,
    /// On resume, read this many messages before the checkpoint's offset
    /// again (the fold drops them): fetches that start inside a record
    /// batch are then safe on every broker.
    pub resume_rewind_messages: u64,
    /// Where refused messages go, with headers saying why
    /// (`hoso-reason`, `hoso-source-partition`, `hoso-source-offset`...).
    pub dead_letter_topic: String,
    /// A day is closed once the events of its partition are this far past
    /// the day's end (event time); a later change to one of its figures
    /// is recorded in `restatements`.
    pub day_close_grace_ms: u64,
    /// Rows of `rejects` kept per partition (the dead-letter topic keeps
    /// every one); never fewer than `resume_rewind_messages`.
    pub rejects_retained: usize,
    /// Rows of `restatements` kept per partition.
    pub restatements_retained: usize,
    /// Filings closed more than this many days ago (event time) leave
    /// memory for Parquet files under `cold_dir`; SQL sees both. A resolved
    /// filing not yet `returned` waits four times as long.
    pub cold_after_days: u32,
    /// Where cold files go (set from `data_dir` by the binary); `None`
    /// keeps every filing in memory.
    #[serde(skip)]
    pub cold_dir: Option<std::path::PathBuf>,
    /// Where checkpoints go (set from `data_dir` by the binary); `None`
    /// keeps state in memory only and re-reads partitions from their start.
    #[serde(skip)]
    pub checkpoint_dir: Option<std::path::PathBuf>,
    /// With a table store (`store.url`, set by the binary): checkpoints go
    /// there instead of `checkpoint_dir`, and cold files are made durable
    /// there, `cold_dir` keeping this machine's copies.
    #[serde(skip)]
    pub remote: Option<crate::table_store::RemoteTables>,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            brokers: "127.0.0.1:9092".into(),
            topic: "filing-events".into(),
            group_id: "hoso-processor".into(),
            mode: ConsumeMode::Group,
            publish_interval_ms: 100,
            fetch_wait_max_ms: 50,
            fetch_queue_backoff_ms: 10,
            session_timeout_ms: 10_000,
            checkpoint_interval_ms: 10_000,
            checkpoint_every_events: 1_000_000,
            resume_rewind_messages: 10_000,
            dead_letter_topic: "filing-events-dlq".into(),
            day_close_grace_ms: 3_600_000,
            rejects_retained: 10_000,
            restatements_retained: 100_000,
            cold_after_days: 7,
            cold_dir: None,
            checkpoint_dir: None,
            remote: None,
            due_rules: DueRules::vietnam(),
            at_risk_working_hours: 8,
        }
    }
}

impl ProcessorConfig {
    /// What each partition's tables need of this config.
    pub fn partition_settings(&self) -> crate::partition::Settings {
        crate::partition::Settings {
            day_close_grace_ms: self.day_close_grace_ms.min(i64::MAX as u64) as i64,
            rejects_retained: self
                .rejects_retained
                .max(usize::try_from(self.resume_rewind_messages).unwrap_or(usize::MAX)),
            restatements_retained: self.restatements_retained,
            cold_dir: self.cold_dir.as_deref().map(std::sync::Arc::from),
            cold_remote: self.remote.as_ref().map(|r| r.cold.clone()),
            cold_after_days: i32::try_from(self.cold_after_days).unwrap_or(i32::MAX),
            due_rules: self.due_rules.clone(),
            at_risk_working_hours: self.at_risk_working_hours,
        }
    }
}
