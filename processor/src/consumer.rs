//! The Kafka side: a consumer on its own thread that folds every message
//! into its partition's tables and publishes them every
//! `publish_interval_ms`.
//!
//! Offsets are never committed: until checkpoints exist, the state lives
//! only in memory, so a (re)assigned partition is always read from its
//! beginning (`auto.offset.reset=earliest` with no committed offset). That
//! is what makes a restart lose and double-count nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientContext, Timestamp};
use tracing::{debug, info, warn};

use crate::config::{ConsumeMode, ProcessorConfig};
use crate::live::LiveTables;
use crate::metrics::ProcessorMetrics;
use crate::partition::{FoldResult, PartitionTables};

/// Messages folded per batch before the loop looks at the clock again.
const BATCH_MESSAGES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// The consumer could not be created: a configuration error, not retryable.
    #[error("cannot create the Kafka consumer: {0}")]
    Create(#[source] KafkaError),
    #[error("cannot subscribe to topic {topic}: {source}")]
    Subscribe { topic: String, source: KafkaError },
    #[error("cannot start the processor thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Rebalance events, handed from librdkafka's callback to the poll loop.
enum Assignment {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

struct Context {
    pending: Mutex<Vec<Assignment>>,
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
    /// `consumer_lag` counts from the committed offset, and hoso commits
    /// none.) Tansu's watermark can under-report, so never below 0.
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
            }
        }
    }
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let parts =
            |tpl: &TopicPartitionList| tpl.elements().iter().map(|e| e.partition()).collect();
        let event = match rebalance {
            Rebalance::Assign(tpl) => Assignment::Assigned(parts(tpl)),
            Rebalance::Revoke(tpl) => Assignment::Revoked(parts(tpl)),
            Rebalance::Error(e) => {
                warn!(error = %e, "Kafka rebalance failed; the group will retry");
                return;
            }
        };
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }
}

/// Starts the processor on its own thread. It runs until `stop` is set,
/// then publishes what it folded and leaves the group.
pub fn spawn(
    config: ProcessorConfig,
    live: Arc<LiveTables>,
    metrics: ProcessorMetrics,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, ProcessorError> {
    let context = Context {
        pending: Mutex::new(Vec::new()),
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
        .spawn(move || Loop::new(config, consumer, live, metrics).run(&stop))
        .map_err(ProcessorError::Thread)
}

struct Loop {
    config: ProcessorConfig,
    consumer: BaseConsumer<Context>,
    live: Arc<LiveTables>,
    metrics: ProcessorMetrics,
    parts: HashMap<i32, PartitionTables>,
    /// Set once the follower has assigned itself every partition.
    following: bool,
    last_error: Option<Instant>,
}

impl Loop {
    fn new(
        config: ProcessorConfig,
        consumer: BaseConsumer<Context>,
        live: Arc<LiveTables>,
        metrics: ProcessorMetrics,
    ) -> Self {
        Loop {
            config,
            consumer,
            live,
            metrics,
            parts: HashMap::new(),
            following: false,
            last_error: None,
        }
    }

    fn run(mut self, stop: &AtomicBool) {
        let publish_every = Duration::from_millis(self.config.publish_interval_ms.max(1));
        let mut last_publish = Instant::now();
        info!(topic = %self.config.topic, mode = ?self.config.mode, "processor started");
        while !stop.load(Ordering::Relaxed) {
            if self.config.mode == ConsumeMode::Follow && !self.following {
                self.follow_all_partitions();
            }
            self.fold_batch(Duration::from_millis(50));
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
        }
        self.publish();
        info!("processor stopped");
    }

    /// Polls up to [`BATCH_MESSAGES`] messages, waiting at most `wait` for
    /// the first, and folds them.
    fn fold_batch(&mut self, wait: Duration) {
        let started = Instant::now();
        let (mut consumed, mut folded, mut duplicate, mut invalid) = (0u64, 0u64, 0u64, 0u64);
        let mut timeout = wait;
        for _ in 0..BATCH_MESSAGES {
            let polled = self.consumer.poll(timeout);
            timeout = Duration::ZERO;
            apply_rebalances(
                self.consumer.context(),
                &mut self.parts,
                &self.live,
                &self.metrics,
            );
            match polled {
                None => break,
                Some(Ok(msg)) => {
                    consumed += 1;
                    let partition = msg.partition();
                    let tables = self
                        .parts
                        .entry(partition)
                        .or_insert_with(|| PartitionTables::new(partition));
                    match tables.fold_message(msg.offset(), msg.payload().unwrap_or_default()) {
                        FoldResult::Folded => folded += 1,
                        FoldResult::Duplicate => duplicate += 1,
                        FoldResult::Invalid(e) => {
                            invalid += 1;
                            let ts = match msg.timestamp() {
                                Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => t,
                                Timestamp::NotAvailable => -1,
                            };
                            warn!(partition, offset = msg.offset(), timestamp_ms = ts, error = %e,
                                "skipping a message that is not a valid filing event");
                        }
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    self.live.set_brokers_down(false);
                    self.parts
                        .entry(p)
                        .or_insert_with(|| PartitionTables::new(p))
                        .mark_end();
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
        if consumed > 0 {
            self.live.set_brokers_down(false);
            self.metrics
                .fold_duration
                .observe(started.elapsed().as_secs_f64());
            self.metrics.consumed.inc_by(consumed);
            let events = &self.metrics.events;
            events.with_label_values(&["folded"]).inc_by(folded);
            events.with_label_values(&["duplicate"]).inc_by(duplicate);
            events.with_label_values(&["invalid"]).inc_by(invalid);
        }
    }

    /// Follow mode: assign every partition of the topic from its beginning.
    fn follow_all_partitions(&mut self) {
        let metadata = match self
            .consumer
            .fetch_metadata(Some(&self.config.topic), Duration::from_secs(2))
        {
            Ok(m) => m,
            Err(e) => {
                debug!(error = %e, "waiting for topic metadata");
                return;
            }
        };
        let Some(topic) = metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.config.topic)
        else {
            return;
        };
        if topic.error().is_some() || topic.partitions().is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        let parts: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
        for p in &parts {
            if tpl
                .add_partition_offset(&self.config.topic, *p, Offset::Beginning)
                .is_err()
            {
                return;
            }
        }
        if let Err(e) = self.consumer.assign(&tpl) {
            warn!(error = %e, "cannot assign partitions; retrying");
            return;
        }
        for p in &parts {
            self.parts.insert(*p, PartitionTables::new(*p));
        }
        self.live.assign(&parts);
        self.following = true;
        info!(partitions = ?parts, "following every partition");
    }

    fn publish(&mut self) {
        let started = Instant::now();
        let mut any = false;
        for (p, tables) in self.parts.iter_mut() {
            if tables.has_changes() {
                self.live.publish(*p, tables.publish());
                self.metrics
                    .filings
                    .with_label_values(&[&p.to_string()])
                    .set(tables.filings().len() as i64);
                any = true;
            }
            if tables.take_caught_up() {
                self.live.mark_caught_up(*p);
            }
        }
        if any {
            self.metrics
                .publish_duration
                .observe(started.elapsed().as_secs_f64());
        }
    }
}

/// Applies the rebalances librdkafka reported during the last poll.
fn apply_rebalances(
    context: &Context,
    parts: &mut HashMap<i32, PartitionTables>,
    live: &LiveTables,
    metrics: &ProcessorMetrics,
) {
    let pending = std::mem::take(&mut *context.pending.lock().unwrap_or_else(|e| e.into_inner()));
    for change in pending {
        match change {
            Assignment::Assigned(ps) => {
                info!(partitions = ?ps, "partitions assigned");
                for p in &ps {
                    // Read from the beginning: nothing was committed.
                    parts.insert(*p, PartitionTables::new(*p));
                }
                live.assign(&ps);
            }
            Assignment::Revoked(ps) => {
                info!(partitions = ?ps, "partitions revoked");
                for p in &ps {
                    parts.remove(p);
                    let _ = metrics.filings.remove_label_values(&[&p.to_string()]);
                    let _ = metrics.consumer_lag.remove_label_values(&[&p.to_string()]);
                }
                live.revoke(&ps);
            }
        }
    }
}
