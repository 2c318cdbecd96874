//! The Kafka topic `alerts`: every alert state change as a JSON message,
//! keyed by rule and labels so that one alert's changes stay in order on
//! one partition.

use std::time::Duration;

use async_trait::async_trait;
use hoso_ingest::publish::QuietKafkaContext;
use hoso_query::alerts::engine::{AlertSink, change_json};
use hoso_query::alerts::rules::Transition;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tracing::warn;

pub struct AlertTopic {
    producer: FutureProducer<QuietKafkaContext>,
    topic: String,
}

impl AlertTopic {
    pub fn new(brokers: &str, topic: &str) -> anyhow::Result<Self> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "30000")
            .create_with_context(QuietKafkaContext)?;
        Ok(AlertTopic {
            producer,
            topic: topic.to_string(),
        })
    }
}

#[async_trait]
impl AlertSink for AlertTopic {
    async fn deliver(&self, changes: &[Transition]) {
        // All in flight at once (filing alerts come by the thousand after
        // a restart); librdkafka keeps each key's messages in order.
        let sends = changes.iter().map(|t| async move {
            let key = format!(
                "{}{}",
                t.alert.rule,
                serde_json::to_string(&t.alert.labels).unwrap_or_default()
            );
            let payload = change_json(t).to_string();
            let record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
            if let Err((e, _)) = self.producer.send(record, Duration::from_secs(30)).await {
                warn!(topic = %self.topic, error = %e, rule = %t.alert.rule, "alert not written to Kafka");
            }
        });
        futures::future::join_all(sends).await;
    }
}
