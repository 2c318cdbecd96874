//! The Kafka side: a consumer on its own thread that folds every message
//! into its partition's tables and publishes them every
//! `publish_interval_ms`.
//!
//! Exactly-once comes from checkpoints, not from Kafka: a partition's
//! checkpoint holds its folded state *and* the next offset to read, written
//! atomically. On assignment the partition is restored from it and the
//! consumer starts at its offset (set in the rebalance callback, before
//! fetching starts). The Kafka offset commit follows a durable checkpoint and
//! only reports progress. Messages read again after a crash are folded
//! again, and the fold drops what it has seen: nothing lost, nothing counted
//! twice. Without a checkpoint directory, partitions are read from their
//! beginning every time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hoso_model::checkpoint::{CheckpointStore, Saved};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Timestamp};
use tracing::{debug, error, info, warn};

use crate::checkpoint::{self, FsCheckpointStore, ObjectCheckpointStore};
use crate::config::{ConsumeMode, ProcessorConfig};
use crate::dead_letters::DeadLetters;
use crate::engine::{self, CheckpointSaved, Engine, Fatal, Message as EngineMessage, Outcome};
use crate::live::LiveTables;
use crate::metrics::ProcessorMetrics;
use crate::partition::{PartitionTables, Settings, now_ms};

/// Messages folded per batch before the loop looks at the clock again.
const BATCH_MESSAGES: usize = 4096;

/// How long a checkpoint waits for Kafka to acknowledge the dead letters
/// it covers before it is put off to the next round.
const DEAD_LETTER_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// The consumer could not be created: a configuration error, not retryable.
    #[error("cannot create the Kafka consumer: {0}")]
    Create(#[source] KafkaError),
    #[error("cannot subscribe to topic {topic}: {source}")]
    Subscribe { topic: String, source: KafkaError },
    #[error("cannot start the processor thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("cannot open the checkpoint directory: {0}")]
    Checkpoints(#[source] hoso_model::checkpoint::CheckpointError),
    #[error("cannot create the dead-letter producer: {0}")]
    DeadLetters(#[source] KafkaError),
    /// The engine cannot go on (see [`Fatal`]); the process should stop
    /// and a restart resume from the last checkpoint.
    #[error(transparent)]
    Fatal(#[from] Fatal),
}

/// Rebalance events, handed from librdkafka's callback to the poll loop.
enum Assignment {
    /// Restored (or fresh) tables of the newly assigned partitions; the
    /// consumer already starts each at its `next_offset`.
    Assigned(Vec<PartitionTables>),
    /// Partitions taken away. The consumer still holds them: the loop
    /// checkpoints them and only then gives them up (`unassign`), so the
    /// group cannot hand them to another member before their checkpoint is
    /// durable. With `lost`, the group already did (this member was
    /// expelled): their state is dropped, never saved over the new
    /// owner's.
    Revoked {
        partitions: Vec<i32>,
        tpl: TopicPartitionList,
        cooperative: bool,
        lost: bool,
    },
}

struct Context {
    pending: Mutex<Vec<Assignment>>,
    /// A partition assigned whose checkpoint could not be restored: the
    /// loop stops on it.
    fatal: Mutex<Option<Fatal>>,
    /// Set once the loop has stopped and checkpointed everything: the
    /// consumer's close revokes every partition, and nothing will run the
    /// loop again, so the callback gives them up itself.
    closing: AtomicBool,
    checkpoints: Option<Arc<dyn CheckpointStore>>,
    /// `resume_rewind_messages`.
    rewind: u64,
    settings: Settings,
    dead_letters: Option<Arc<DeadLetters>>,
    last_warning: Mutex<Option<Instant>>,
    brokers: String,
    topic: String,
    metrics: ProcessorMetrics,
    live: Arc<LiveTables>,
}

impl ClientContext for Context {
    fn stats(&self, stats: Statistics) {
        self.record_lag(&stats);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // End of partition is how "caught up" is detected, not an error.
        if matches!(error, KafkaError::PartitionEOF(_))
            || matches!(&error, KafkaError::Global(code) if *code == rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        {
            return;
        }
        if matches!(
            &error,
            KafkaError::Global(rdkafka::types::RDKafkaErrorCode::AllBrokersDown)
        ) {
            self.live.set_brokers_down(true);
        }
        // librdkafka retries by itself; tell the operator now and then, not
        // once per connection attempt.
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(30)) {
            warn!(error = %error, reason, brokers = %self.brokers, "Kafka client error; librdkafka keeps retrying");
            *last = Some(Instant::now());
        } else {
            debug!(error = %error, reason, "Kafka client error");
        }
    }
}

impl Context {
    /// Lag from librdkafka's statistics: the partition's high watermark
    /// minus the next offset handed to hoso. (librdkafka's own
    /// `consumer_lag` counts from the committed offset, which trails the
    /// checkpoints.) Tansu's watermark can under-report, so never below 0.
    fn record_lag(&self, stats: &Statistics) {
        let Some(topic) = stats.topics.get(&self.topic) else {
            return;
        };
        for (p, part) in &topic.partitions {
            if *p >= 0 && part.hi_offset >= 0 && part.app_offset >= 0 {
                let lag = (part.hi_offset - part.app_offset).max(0);
                self.metrics
                    .consumer_lag
                    .with_label_values(&[&p.to_string()])
                    .set(lag);
                self.live.set_lag(*p, part.hi_offset, lag);
            }
        }
    }
}

impl ConsumerContext for Context {
    /// Restores newly assigned partitions from their checkpoints and starts
    /// each at its checkpoint's offset; hands revoked ones to the loop.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut restored = Vec::with_capacity(partitions.len());
                for p in partitions {
                    let (tables, start) = match resume(
                        consumer,
                        self.checkpoints.as_deref(),
                        p,
                        self.rewind,
                        self.settings.clone(),
                    ) {
                        Ok(resumed) => resumed,
                        Err(e) => {
                            // Not held, so nothing of it is folded; the
                            // loop stops on the error.
                            let mut fatal = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
                            fatal.get_or_insert(e);
                            continue;
                        }
                    };
                    if let Err(e) = tpl.set_partition_offset(&self.topic, p, start) {
                        warn!(partition = p, error = %e, "cannot set the start offset");
                    }
                    restored.push(tables);
                }
                self.pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Assignment::Assigned(restored));
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
                if self.closing.load(Ordering::Relaxed) =>
            {
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                // Unassigned by the loop once checkpointed (librdkafka
                // waits for the call; it need not come from this callback).
                self.pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Assignment::Revoked {
                        partitions,
                        tpl: tpl.clone(),
                        cooperative,
                        lost: consumer.assignment_lost(),
                    });
                Ok(())
            }
            other => {
                warn!(error = ?other, "Kafka rebalance failed; the group will retry");
                Ok(())
            }
        };
        if let Err(e) = result {
            warn!(error = %e, "applying the rebalance failed");
        }
    }
}

/// Starts the processor on its own thread. It runs until `stop` is set,
/// then publishes what it folded, checkpoints, and leaves the group; or
/// until the engine cannot go on ([`ProcessorError::Fatal`], the thread's
/// result), when it stops at once, writing nothing more.
pub fn spawn(
    config: ProcessorConfig,
    live: Arc<LiveTables>,
    metrics: ProcessorMetrics,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<Result<(), ProcessorError>>, ProcessorError> {
    // A follower owns no partition, so it writes no checkpoint.
    let checkpoints: Option<Arc<dyn CheckpointStore>> =
        match (&config.remote, &config.checkpoint_dir, config.mode) {
            (_, _, ConsumeMode::Follow) => None,
            (Some(remote), _, _) => Some(Arc::new(ObjectCheckpointStore::new(
                remote.checkpoints.clone(),
            ))),
            (None, Some(dir), _) => Some(Arc::new(
                FsCheckpointStore::new(dir).map_err(ProcessorError::Checkpoints)?,
            )),
            (None, None, _) => None,
        };
    // A follower refuses what the owners refuse, and leaves the dead
    // letters to them.
    let dead_letters = match config.mode {
        ConsumeMode::Group | ConsumeMode::Standalone => Some(Arc::new(
            DeadLetters::new(&config.brokers, &config.dead_letter_topic, &config.topic)
                .map_err(ProcessorError::DeadLetters)?,
        )),
        ConsumeMode::Follow => None,
    };
    let context = Context {
        pending: Mutex::new(Vec::new()),
        fatal: Mutex::new(None),
        closing: AtomicBool::new(false),
        checkpoints: checkpoints.clone(),
        rewind: config.resume_rewind_messages,
        settings: config.partition_settings(),
        dead_letters: dead_letters.clone(),
        last_warning: Mutex::new(None),
        brokers: config.brokers.clone(),
        topic: config.topic.clone(),
        metrics: metrics.clone(),
        live: live.clone(),
    };
    let consumer: BaseConsumer<Context> = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group_id)
        .set("client.id", "hoso-processor")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .set("session.timeout.ms", config.session_timeout_ms.to_string())
        .set("statistics.interval.ms", "1000")
        .set("fetch.wait.max.ms", config.fetch_wait_max_ms.to_string())
        .set(
            "fetch.queue.backoff.ms",
            config.fetch_queue_backoff_ms.to_string(),
        )
        .create_with_context(context)
        .map_err(ProcessorError::Create)?;
    if config.mode == ConsumeMode::Group {
        consumer
            .subscribe(&[&config.topic])
            .map_err(|source| ProcessorError::Subscribe {
                topic: config.topic.clone(),
                source,
            })?;
    }
    std::thread::Builder::new()
        .name("hoso-processor".into())
        .spawn(move || {
            Loop::new(config, consumer, live, metrics, checkpoints, dead_letters).run(&stop)
        })
        .map_err(ProcessorError::Thread)
}

struct Loop {
    config: ProcessorConfig,
    consumer: BaseConsumer<Context>,
    live: Arc<LiveTables>,
    metrics: ProcessorMetrics,
    /// The held partitions' tables: every fold, restatement, eviction and
    /// publish decision is the engine's; this loop only moves messages.
    engine: Engine,
    /// Set once a standalone or follower processor has assigned itself
    /// every partition.
    following: bool,
    last_error: Option<Instant>,
    checkpoints: Option<Arc<dyn CheckpointStore>>,
    dead_letters: Option<Arc<DeadLetters>>,
    last_checkpoint: Instant,
    events_since_checkpoint: u64,
    /// Years whose projected calendar has been logged once.
    projected_years_logged: std::collections::BTreeSet<i32>,
}

impl Loop {
    fn new(
        config: ProcessorConfig,
        consumer: BaseConsumer<Context>,
        live: Arc<LiveTables>,
        metrics: ProcessorMetrics,
        checkpoints: Option<Arc<dyn CheckpointStore>>,
        dead_letters: Option<Arc<DeadLetters>>,
    ) -> Self {
        Loop {
            engine: Engine::new(config.partition_settings()),
            dead_letters,
            config,
            consumer,
            live,
            metrics,
            following: false,
            last_error: None,
            checkpoints,
            last_checkpoint: Instant::now(),
            events_since_checkpoint: 0,
            projected_years_logged: Default::default(),
        }
    }

    fn run(mut self, stop: &AtomicBool) -> Result<(), ProcessorError> {
        let result = self.serve(stop);
        // The consumer's close revokes what is held: let the callback give
        // it up, with nothing more written after an error.
        self.consumer
            .context()
            .closing
            .store(true, Ordering::Relaxed);
        match &result {
            Ok(()) => info!("processor stopped"),
            Err(e) => error!(error = %e, "processor stopped: it cannot go on"),
        }
        result
    }

    fn serve(&mut self, stop: &AtomicBool) -> Result<(), ProcessorError> {
        let publish_every = Duration::from_millis(self.config.publish_interval_ms.max(1));
        let mut last_publish = Instant::now();
        info!(topic = %self.config.topic, mode = ?self.config.mode, "processor started");
        while !stop.load(Ordering::Relaxed) {
            if self.config.mode != ConsumeMode::Group && !self.following {
                self.assign_all_partitions()?;
            }
            self.fold_batch(Duration::from_millis(50))?;
            if self.live.brokers_down()
                && self
                    .last_error
                    .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
            {
                // An idle partition sends nothing when Kafka comes back: ask.
                self.last_error = Some(Instant::now());
                if self
                    .consumer
                    .fetch_metadata(Some(&self.config.topic), Duration::from_secs(1))
                    .is_ok()
                {
                    self.live.set_brokers_down(false);
                }
            }
            if last_publish.elapsed() >= publish_every {
                self.publish();
                last_publish = Instant::now();
            }
            let due = self.last_checkpoint.elapsed()
                >= Duration::from_millis(self.config.checkpoint_interval_ms)
                || self.events_since_checkpoint >= self.config.checkpoint_every_events;
            if due {
                self.checkpoint(CommitMode::Async);
            }
        }
        self.publish();
        self.checkpoint(CommitMode::Sync);
        Ok(())
    }

    /// Checkpoints every partition that read anything since its last
    /// checkpoint, then reports the checkpointed offsets to Kafka.
    fn checkpoint(&mut self, mode: CommitMode) {
        self.last_checkpoint = Instant::now();
        self.events_since_checkpoint = 0;
        let Some(store) = &self.checkpoints else {
            return;
        };
        // A checkpoint covers the rejects folded so far: their dead letters
        // must be in Kafka first, or a crash after it would lose them.
        if let Some(dlq) = &self.dead_letters
            && !dlq.settle(DEAD_LETTER_WAIT)
        {
            self.metrics
                .checkpoints
                .with_label_values(&["deferred"])
                .inc();
            warn!(
                topic = dlq.topic(),
                "dead letters not yet acknowledged by Kafka; checkpoint put off"
            );
            return;
        }
        let mut progress = TopicPartitionList::new();
        let started = Instant::now();
        let saved = self.engine.checkpoint(store.as_ref());
        if !saved.is_empty() {
            self.metrics
                .checkpoint_duration
                .observe(started.elapsed().as_secs_f64() / saved.len() as f64);
        }
        for (p, result) in saved {
            match result {
                Ok(CheckpointSaved {
                    saved: Saved::Written,
                    next_offset,
                }) => {
                    self.metrics.checkpoints.with_label_values(&["ok"]).inc();
                    let _ = progress.add_partition_offset(
                        &self.config.topic,
                        p,
                        Offset::Offset(next_offset),
                    );
                }
                Ok(CheckpointSaved {
                    saved: Saved::Superseded { current },
                    next_offset,
                }) => {
                    self.metrics
                        .checkpoints
                        .with_label_values(&["superseded"])
                        .inc();
                    warn!(
                        partition = p,
                        current,
                        ours = next_offset,
                        "a newer checkpoint is there (the partition has another owner); not written"
                    );
                }
                Err(e) => {
                    self.metrics
                        .checkpoints
                        .with_label_values(&["failed"])
                        .inc();
                    error!(partition = p, error = %e, "checkpoint failed; the next one will retry");
                }
            }
        }
        if progress.count() > 0
            && let Err(e) = self.consumer.commit(&progress, mode)
        {
            debug!(error = %e, "offset commit failed (it only reports progress)");
        }
    }

    /// Polls up to [`BATCH_MESSAGES`] messages, waiting at most `wait` for
    /// the first, and folds them.
    fn fold_batch(&mut self, wait: Duration) -> Result<(), ProcessorError> {
        let started = Instant::now();
        let (mut consumed, mut folded, mut duplicate, mut rejected) = (0u64, 0u64, 0u64, 0u64);
        let mut timeout = wait;
        for _ in 0..BATCH_MESSAGES {
            // A revocation (reported during the poll, applied below)
            // checkpoints its partitions: the dead letters those
            // checkpoints cover go to the producer first.
            self.apply_effects();
            let polled = self.consumer.poll(timeout);
            timeout = Duration::ZERO;
            apply_rebalances(&self.consumer, &mut self.engine, &self.live, &self.metrics)?;
            match polled {
                None => break,
                Some(Ok(msg)) => {
                    consumed += 1;
                    let timestamp = match msg.timestamp() {
                        Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => Some(t),
                        Timestamp::NotAvailable => None,
                    };
                    let message = EngineMessage {
                        partition: msg.partition(),
                        offset: msg.offset(),
                        key: msg.key(),
                        payload: msg.payload().unwrap_or_default(),
                        timestamp_ms: timestamp,
                    };
                    match self.engine.fold(message, now_ms())? {
                        Outcome::Folded => folded += 1,
                        Outcome::Duplicate => duplicate += 1,
                        Outcome::Rejected { .. } => rejected += 1,
                        // Fetched before a revocation took effect: its new
                        // owner's to fold, never a fresh state's here.
                        Outcome::NotHeld => {
                            debug!(
                                partition = msg.partition(),
                                "a message of a partition not held; skipped"
                            );
                        }
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    self.live.set_brokers_down(false);
                    self.engine.end_of_partition(p);
                }
                Some(Err(e)) => {
                    // Broker down, leader moves...: librdkafka retries by
                    // itself; say so now and then, not per poll.
                    if self
                        .last_error
                        .is_none_or(|t| t.elapsed() > Duration::from_secs(10))
                    {
                        warn!(error = %e, brokers = %self.config.brokers, "Kafka consumer error; retrying");
                        self.last_error = Some(Instant::now());
                    }
                    break;
                }
            }
        }
        self.apply_effects();
        if consumed > 0 {
            self.events_since_checkpoint += consumed;
            self.live.set_brokers_down(false);
            self.metrics
                .fold_duration
                .observe(started.elapsed().as_secs_f64());
            self.metrics.consumed.inc_by(consumed);
            let events = &self.metrics.events;
            events.with_label_values(&["folded"]).inc_by(folded);
            events.with_label_values(&["duplicate"]).inc_by(duplicate);
            events.with_label_values(&["rejected"]).inc_by(rejected);
        }
        Ok(())
    }

    /// Carries out what the engine asked for: dead letters, and the
    /// counters and logs of restatements, cold passes and offset gaps.
    fn apply_effects(&mut self) {
        let effects = self.engine.take_effects();
        for r in &effects.dead_letters {
            self.metrics.rejects.with_label_values(&[r.reason]).inc();
            debug!(partition = r.partition, offset = r.offset, reason = r.reason, detail = %r.detail,
                "refused a message; sent to the dead-letter topic");
            if let Some(dlq) = &self.dead_letters {
                dlq.send(r);
            }
        }
        self.metrics.restatements.inc_by(effects.restatements);
        for (p, n) in effects.evicted {
            self.metrics.cold_evicted.inc_by(n as u64);
            let files = self
                .engine
                .partition(p)
                .map_or(0, |t| t.cold().files().len());
            info!(
                partition = p,
                filings = n,
                files,
                "closed filings moved to cold files"
            );
        }
        for (p, e) in effects.cold_errors {
            error!(partition = p, error = %e, "cannot write cold files; the filings stay in memory");
        }
        for (year, n) in effects.projected_years {
            self.metrics
                .calendar_projected
                .with_label_values(&[&year.to_string()])
                .inc_by(n);
            if self.projected_years_logged.insert(year) {
                warn!(
                    year,
                    "events or due dates in {year}, a year without an announced holiday \
                     arrangement: its working days are projected from the Labour Code \
                     (Art. 111-112) until a days file gives the year (calendar.days_off_files)"
                );
            }
        }
        for (p, expected, got) in effects.offset_gaps {
            // Not on a plain topic: records were skipped (retention
            // deleted them unread, or a broker fetch bug).
            self.metrics.offset_gaps.inc();
            warn!(partition = p, expected, got, "gap in offsets");
        }
    }

    /// Standalone and follow modes: assign every partition of the topic,
    /// each restored from its checkpoint when there is one.
    fn assign_all_partitions(&mut self) -> Result<(), Fatal> {
        let metadata = match self
            .consumer
            .fetch_metadata(Some(&self.config.topic), Duration::from_secs(2))
        {
            Ok(m) => m,
            Err(e) => {
                debug!(error = %e, "waiting for topic metadata");
                return Ok(());
            }
        };
        let Some(topic) = metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.config.topic)
        else {
            return Ok(());
        };
        if topic.error().is_some() || topic.partitions().is_empty() {
            return Ok(());
        }
        let parts: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
        let mut tpl = TopicPartitionList::new();
        let mut restored = Vec::with_capacity(parts.len());
        for p in &parts {
            let (tables, start) = resume(
                &self.consumer,
                self.checkpoints.as_deref(),
                *p,
                self.config.resume_rewind_messages,
                self.engine.settings().clone(),
            )?;
            if tpl
                .add_partition_offset(&self.config.topic, *p, start)
                .is_err()
            {
                return Ok(());
            }
            restored.push(tables);
        }
        if let Err(e) = self.consumer.assign(&tpl) {
            warn!(error = %e, "cannot assign partitions; retrying");
            return Ok(());
        }
        for tables in restored {
            self.engine.assign(tables);
        }
        self.live.assign(&parts);
        self.following = true;
        info!(partitions = ?parts, mode = ?self.config.mode, "reading every partition");
        Ok(())
    }

    fn publish(&mut self) {
        let started = Instant::now();
        let published = self.engine.publish(now_ms());
        let any = !published.tables.is_empty();
        for (p, tables) in published.tables {
            self.live.publish(p, tables);
            if let Some(t) = self.engine.partition(p) {
                let label = p.to_string();
                self.metrics
                    .filings
                    .with_label_values(&[&label])
                    .set(t.filings().len() as i64);
                self.metrics
                    .cold_filings
                    .with_label_values(&[&label])
                    .set(t.cold().rows() as i64);
            }
        }
        for p in published.caught_up {
            self.live.mark_caught_up(p);
        }
        if any {
            self.metrics
                .publish_duration
                .observe(started.elapsed().as_secs_f64());
        }
    }
}

/// A partition's tables, restored from its checkpoint when there is one,
/// and where to start reading it: a little before the checkpoint's offset
/// (`rewind`), else the start. What is read twice, the fold drops; the
/// rewind guards against brokers that answer a fetch from inside a record
/// batch with the next batch (Tansu 0.6 does), which would skip records.
fn resume(
    consumer: &BaseConsumer<Context>,
    checkpoints: Option<&dyn CheckpointStore>,
    partition: i32,
    rewind: u64,
    settings: Settings,
) -> Result<(PartitionTables, Offset), Fatal> {
    let topic = consumer.context().topic.clone();
    let log_start = || {
        consumer
            .fetch_watermarks(&topic, partition, Duration::from_secs(10))
            .ok()
            .map(|(low, _)| low)
    };
    let tables = engine::restore(checkpoints, partition, settings, log_start)?;
    let start = match tables.next_offset() {
        0 => Offset::Beginning,
        next => Offset::Offset(next.saturating_sub(rewind as i64).max(0)),
    };
    Ok((tables, start))
}

/// Applies the rebalances librdkafka reported during the last poll.
fn apply_rebalances(
    consumer: &BaseConsumer<Context>,
    engine: &mut Engine,
    live: &LiveTables,
    metrics: &ProcessorMetrics,
) -> Result<(), Fatal> {
    let context = consumer.context();
    if let Some(e) = context
        .fatal
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        return Err(e);
    }
    let pending = std::mem::take(&mut *context.pending.lock().unwrap_or_else(|e| e.into_inner()));
    for change in pending {
        match change {
            Assignment::Assigned(restored) => {
                let ps: Vec<i32> = restored.iter().map(|t| t.partition()).collect();
                info!(partitions = ?ps, "partitions assigned");
                live.assign(&ps);
                for tables in restored {
                    engine.assign(tables);
                }
            }
            Assignment::Revoked {
                partitions: ps,
                tpl,
                cooperative,
                lost,
            } => {
                info!(partitions = ?ps, lost, "partitions revoked");
                // Their checkpoints cover their rejects: dead letters first.
                let settled = !lost
                    && context
                        .dead_letters
                        .as_ref()
                        .is_none_or(|d| d.settle(DEAD_LETTER_WAIT));
                for p in &ps {
                    // Checkpoint what was folded, for whoever gets it next.
                    if let (Some(mut tables), Some(store), true) =
                        (engine.revoke(*p), &context.checkpoints, settled)
                        && let Err(e) = checkpoint::save(store.as_ref(), &mut tables)
                    {
                        error!(partition = p, error = %e, "checkpoint of a revoked partition failed");
                    }
                    let _ = metrics.filings.remove_label_values(&[&p.to_string()]);
                    let _ = metrics.consumer_lag.remove_label_values(&[&p.to_string()]);
                }
                live.revoke(&ps);
                let given_up = if cooperative {
                    consumer.incremental_unassign(&tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(e) = given_up {
                    warn!(error = %e, "giving up revoked partitions failed");
                }
            }
        }
    }
    Ok(())
}
