//! hoso-ingest: accepts filing events over HTTP and publishes them to Kafka,
//! answering `202` only after Kafka acknowledged every one.
//!
//! Data flow: [`http`] takes the body, [`body`] splits it into items and
//! validates each with `hoso_model::decode_event` (one invalid item refuses
//! the whole request, before anything is published), [`publish`] sends the
//! items' bytes, unchanged, keyed by `filing_id`, and waits for every
//! acknowledgement. [`import`] sends files of events (`hoso import`)
//! through the same validation and the same producer.

pub mod body;
pub mod config;
pub mod http;
pub mod import;
pub mod metrics;
pub mod publish;

pub use config::IngestConfig;
pub use http::{IngestState, router};
pub use metrics::IngestMetrics;
pub use publish::{BrokerHealth, PublishError, Publisher};
