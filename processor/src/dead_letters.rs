//! The dead-letter topic: every message the processor refuses is published
//! to it, unchanged, with headers saying why and where it came from.
//!
//! A reject is part of the partition's state (the `rejects` table), and the
//! checkpoint that covers its offset must not be written before Kafka has
//! the dead letter: [`DeadLetters::settle`] waits for every send, re-sends
//! what failed, and says whether all are acknowledged; the processor only
//! checkpoints when they are. After a crash the message is read again and
//! refused again, so a dead letter is sent at least once (consumers can
//! deduplicate on the source partition and offset headers).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use tracing::warn;

use crate::rejects::Reject;

/// Header names, stable: operators filter on them.
pub const REASON: &str = "hoso-reason";
pub const DETAIL: &str = "hoso-detail";
pub const SOURCE_TOPIC: &str = "hoso-source-topic";
pub const SOURCE_PARTITION: &str = "hoso-source-partition";
pub const SOURCE_OFFSET: &str = "hoso-source-offset";
pub const SEEN_AT: &str = "hoso-seen-at-ms";

/// A dead letter whose delivery failed, kept to be sent again.
struct Failed {
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: OwnedHeaders,
}

#[derive(Default)]
struct Delivery {
    failed: Mutex<Vec<Failed>>,
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, msg)) = result {
            warn!(error = %e, "a dead letter was not delivered; it will be sent again");
            let failed = Failed {
                key: msg.key().map(<[u8]>::to_vec),
                payload: msg.payload().unwrap_or_default().to_vec(),
                headers: msg
                    .headers()
                    .map(|h| h.detach())
                    .unwrap_or_else(OwnedHeaders::new),
            };
            self.failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(failed);
        }
    }
}

pub struct DeadLetters {
    producer: ThreadedProducer<Delivery>,
    topic: String,
    source_topic: String,
}

impl DeadLetters {
    pub fn new(brokers: &str, topic: &str, source_topic: &str) -> Result<Self, KafkaError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "hoso-processor-dlq")
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .set("allow.auto.create.topics", "false")
            .set("linger.ms", "5")
            // Never expire a dead letter inside librdkafka: an idempotent
            // producer whose message timed out bumps its epoch, which Tansu
            // 0.6 on sqlite cannot take (see ingest's producer). `settle`
            // bounds the wait instead.
            .set("message.timeout.ms", "0")
            .create_with_context(Delivery::default())?;
        Ok(DeadLetters {
            producer,
            topic: topic.to_string(),
            source_topic: source_topic.to_string(),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queues `r` for the dead-letter topic.
    pub fn send(&self, r: &Reject) {
        let headers = OwnedHeaders::new_with_capacity(6)
            .insert(header(REASON, r.reason.as_bytes()))
            .insert(header(DETAIL, r.detail.as_bytes()))
            .insert(header(SOURCE_TOPIC, self.source_topic.as_bytes()))
            .insert(header(SOURCE_PARTITION, r.partition.to_string().as_bytes()))
            .insert(header(SOURCE_OFFSET, r.offset.to_string().as_bytes()))
            .insert(header(SEEN_AT, r.seen_at_ms.to_string().as_bytes()));
        self.enqueue(Failed {
            key: r.key.clone(),
            payload: r.payload.clone(),
            headers,
        });
    }

    fn enqueue(&self, m: Failed) {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic)
            .payload(m.payload.as_slice())
            .headers(m.headers.clone());
        if let Some(k) = &m.key {
            record = record.key(k.as_slice());
        }
        // A full local queue: wait for room rather than drop a dead letter.
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((e, back)) => {
                    if !matches!(
                        e,
                        KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ) {
                        warn!(error = %e, "cannot queue a dead letter; keeping it to send again");
                        drop(back);
                        self.failed().push(m);
                        return;
                    }
                    // Wait for deliveries to make room (the producer's
                    // thread serves them), not for a fixed time.
                    let _ = self.producer.flush(Duration::from_millis(5));
                    record = back;
                }
            }
        }
    }

    fn failed(&self) -> std::sync::MutexGuard<'_, Vec<Failed>> {
        self.producer
            .context()
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Waits up to `timeout` for every dead letter to be acknowledged,
    /// sending failed ones again; true when none is outstanding.
    pub fn settle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let flushed = self.producer.flush(left).is_ok();
            let again = std::mem::take(&mut *self.failed());
            if again.is_empty() {
                return flushed;
            }
            for m in again {
                self.enqueue(m);
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }
}

fn header<'a>(key: &'a str, value: &'a [u8]) -> Header<'a, &'a [u8]> {
    Header {
        key,
        value: Some(value),
    }
}

/// Shared by the consumer loop and the rebalance callback.
pub type SharedDeadLetters = Option<Arc<DeadLetters>>;
