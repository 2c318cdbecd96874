//! Creating the topics when they are missing (the events topic and the
//! dead-letter topic), and waiting for Kafka while it is down.

use std::time::Duration;

use hoso_ingest::publish::QuietKafkaContext;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::KafkaConfig;

/// Creates the events topic if it does not exist, retrying (and saying
/// so) while the brokers are unreachable. Returns false if cancelled first.
pub async fn ensure_topic(kafka: &KafkaConfig, cancel: &CancellationToken) -> bool {
    ensure_named(kafka, &kafka.topic, cancel).await
}

/// [`ensure_topic`], giving up after `wait`: false when Kafka did not
/// answer in time or `cancel` came first (for commands that send once and
/// exit, like `hoso import` and `hoso gen`).
pub async fn ensure_topic_within(
    kafka: &KafkaConfig,
    cancel: &CancellationToken,
    wait: Duration,
) -> bool {
    let waited = cancel.child_token();
    let timer = {
        let waited = waited.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            waited.cancel();
        })
    };
    let ok = ensure_topic(kafka, &waited).await;
    timer.abort();
    ok
}

/// Creates the topic `name` (with the events topic's partitions and
/// replication) if it does not exist, retrying while Kafka is down.
pub async fn ensure_named(kafka: &KafkaConfig, name: &str, cancel: &CancellationToken) -> bool {
    let mut delay = Duration::from_millis(500);
    loop {
        match try_create(kafka, name).await {
            Ok(created) => {
                if created {
                    info!(topic = %name, partitions = kafka.partitions, "created a topic");
                }
                return true;
            }
            Err(e) => warn!(
                brokers = %kafka.brokers, error = %e,
                "Kafka is not reachable (is the broker running? `deploy/local.sh broker` starts one); retrying in {:?}",
                delay
            ),
        }
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Ok(true) when created, Ok(false) when it already existed.
async fn try_create(kafka: &KafkaConfig, name: &str) -> anyhow::Result<bool> {
    let admin: AdminClient<QuietKafkaContext> = ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("client.id", "hoso-admin")
        .set("allow.auto.create.topics", "false")
        .create_with_context(QuietKafkaContext)?;
    // A blocking call: keep it off the async workers.
    let admin = std::sync::Arc::new(admin);
    let exists = {
        let (admin, topic) = (admin.clone(), name.to_string());
        tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let md = admin
                .inner()
                .fetch_metadata(Some(&topic), Duration::from_secs(3))?;
            Ok(md
                .topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
        })
        .await??
    };
    if exists {
        return Ok(false);
    }
    let topic = NewTopic::new(
        name,
        kafka.partitions,
        TopicReplication::Fixed(kafka.replication_factor),
    );
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    let results = admin.create_topics([&topic], &opts).await?;
    for r in results {
        match r {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => return Ok(false),
            Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(true)
}
