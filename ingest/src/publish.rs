//! Publishing to Kafka, and knowing whether Kafka is there.
//!
//! The producer is idempotent with `acks=all`: an acknowledgement means the
//! event is in every in-sync replica, and a retry inside librdkafka never
//! writes it twice. A request is answered only when every one of its events
//! is acknowledged or one has failed.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tracing::{debug, info, warn};

use crate::config::IngestConfig;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Kafka did not take the events in time; retrying later can help.
    #[error("Kafka did not acknowledge the events: {0}")]
    Unavailable(String),
    /// The producer could not be built: a configuration error.
    #[error("cannot create the Kafka producer: {0}")]
    Config(#[source] KafkaError),
}

/// Routes librdkafka's client errors to `debug`: a broker that is down is
/// reported once, in words, by whoever watches it ([`BrokerHealth`], the
/// topic set-up), not once per connection attempt.
pub struct QuietKafkaContext;

impl ClientContext for QuietKafkaContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        // A refused connection is logged by librdkafka at error level; for
        // hoso it is a state (Kafka down) that is reported once, in words.
        if (level as i32) <= rdkafka::config::RDKafkaLogLevel::Warning as i32 {
            tracing::warn!(facility = fac, "librdkafka: {message}");
        } else {
            debug!(facility = fac, "librdkafka: {message}");
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        debug!(error = %error, reason, "Kafka producer error");
    }
}

#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer<QuietKafkaContext>,
    topic: String,
    ack_timeout: Duration,
}

impl Publisher {
    pub fn new(config: &IngestConfig) -> Result<Self, PublishError> {
        let producer: FutureProducer<QuietKafkaContext> = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", "hoso-ingest")
            // Kafka's Java clients hash keys with murmur2: so does hoso, so a
            // filing lands on the same partition whoever produces it.
            .set("partitioner", "murmur2_random")
            // Only hoso's topic set-up creates topics, with the configured
            // partition count; never a broker's auto-create default.
            .set("allow.auto.create.topics", "false")
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("compression.type", &config.compression)
            .set("linger.ms", config.linger_ms.to_string())
            .set("batch.size", "1000000")
            .set("queue.buffering.max.messages", "1000000")
            // No local message timeout: librdkafka keeps retrying an event
            // until Kafka takes it, and `publish` alone enforces
            // `ack_timeout_ms` (a request past it gets 503; its events may
            // still land later, which a resend makes harmless). A message
            // timed out inside librdkafka makes the idempotent producer bump
            // its epoch by itself, and Tansu 0.6 on sqlite storage panics on
            // the first produce with an epoch it did not hand out: its
            // storage stays dead until restarted, and the same producer
            // kills it again (seen in the broker-restart e2e test).
            .set("message.timeout.ms", "0")
            .create_with_context(QuietKafkaContext)
            .map_err(PublishError::Config)?;
        Ok(Publisher {
            producer,
            topic: config.topic.clone(),
            ack_timeout: Duration::from_millis(config.ack_timeout_ms),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Sends every `(key, payload)` and waits for all acknowledgements.
    pub async fn publish<'a>(
        &self,
        events: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<usize, PublishError> {
        let deadline = Instant::now() + self.ack_timeout;
        let mut pending = Vec::new();
        for (key, payload) in events {
            loop {
                let record = FutureRecord::to(&self.topic).key(key).payload(payload);
                match self.producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // The producer's queue is full of other requests'
                        // events: wait for room, within this request's time.
                        if Instant::now() >= deadline {
                            return Err(PublishError::Unavailable(
                                "the producer queue stayed full".into(),
                            ));
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err((e, _)) => return Err(PublishError::Unavailable(e.to_string())),
                }
            }
        }
        let n = pending.len();
        // One deadline for the whole request; librdkafka has none of its
        // own (see `message.timeout.ms` above).
        let deadline = tokio::time::Instant::from_std(deadline);
        for delivery in pending {
            match tokio::time::timeout_at(deadline, delivery).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err((e, _)))) => return Err(PublishError::Unavailable(e.to_string())),
                Ok(Err(_)) => {
                    return Err(PublishError::Unavailable(
                        "the producer was shut down".into(),
                    ));
                }
                Err(_) => {
                    return Err(PublishError::Unavailable(format!(
                        "no acknowledgement within {} ms (ingest.ack_timeout_ms)",
                        self.ack_timeout.as_millis()
                    )));
                }
            }
        }
        Ok(n)
    }

    /// Waits for in-flight events to be delivered, for a clean shutdown.
    pub fn flush(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(timeout) {
            warn!(error = %e, "events still in flight at shutdown");
        }
    }

    /// Asks the brokers for the topic's metadata: `Err` says what is wrong.
    pub fn check_broker(&self, timeout: Duration) -> Result<(), String> {
        if let Some((code, reason)) = self.producer.client().fatal_error() {
            return Err(format!(
                "the Kafka producer hit a fatal error ({code}: {reason}); restart ingest"
            ));
        }
        let md = self
            .producer
            .client()
            .fetch_metadata(Some(&self.topic), timeout)
            .map_err(|e| format!("Kafka is unreachable: {e}"))?;
        match md.topics().iter().find(|t| t.name() == self.topic) {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(()),
            _ => Err(format!(
                "topic {} does not exist on the brokers",
                self.topic
            )),
        }
    }
}

/// The last known state of the brokers, refreshed in the background, so a
/// request can be refused at once when Kafka is known to be down.
#[derive(Clone)]
pub struct BrokerHealth {
    state: Arc<RwLock<Result<(), String>>>,
}

impl Default for BrokerHealth {
    fn default() -> Self {
        BrokerHealth {
            state: Arc::new(RwLock::new(
                Err("ingest: not yet connected to Kafka".into()),
            )),
        }
    }
}

impl BrokerHealth {
    pub fn get(&self) -> Result<(), String> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, v: Result<(), String>) {
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        match (&*s, &v) {
            (Err(_), Ok(())) => info!("Kafka is reachable; ingest is accepting events"),
            (Ok(()), Err(e)) => {
                warn!(error = %e, "Kafka is not reachable; ingest answers 503 until it is")
            }
            _ => {}
        }
        *s = v;
    }

    /// Checks the brokers every `interval` until `stop` resolves.
    pub async fn watch(
        self,
        publisher: Publisher,
        interval: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            let p = publisher.clone();
            let result =
                tokio::task::spawn_blocking(move || p.check_broker(Duration::from_secs(2)))
                    .await
                    .unwrap_or_else(|e| Err(format!("broker check failed: {e}")));
            self.set(result);
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}

impl hoso_model::health::Readiness for BrokerHealth {
    fn readiness(&self) -> Result<(), String> {
        self.get()
    }
}
