//! Ingest settings. Units are in the key names.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Kafka bootstrap servers, comma-separated (set from `kafka.brokers`).
    #[serde(skip)]
    pub brokers: String,
    /// The filing events topic (set from `kafka.topic`).
    #[serde(skip)]
    pub topic: String,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: usize,
    /// How long a request waits for Kafka's acknowledgements before it is
    /// answered 503. The producer itself never gives up on an event (no
    /// librdkafka `message.timeout.ms`), so a late one may still land.
    pub ack_timeout_ms: u64,
    /// librdkafka `linger.ms`: how long the producer gathers a batch.
    pub linger_ms: u64,
    /// librdkafka `compression.type`.
    pub compression: String,
    /// The `Retry-After` a 503 carries.
    pub retry_after_s: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            brokers: "127.0.0.1:9092".into(),
            topic: "filing-events".into(),
            max_body_bytes: 16 * 1024 * 1024,
            ack_timeout_ms: 10_000,
            linger_ms: 5,
            compression: "lz4".into(),
            retry_after_s: 1,
        }
    }
}
