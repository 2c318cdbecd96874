//! hoso-ingest: accepts filing events over HTTP and publishes them to Kafka,
//! answering `202` only after Kafka acknowledged every one.
//!
//! Data flow: [`http`] takes the body, [`body`] splits it into items and
//! validates each ([`validate`]: `hoso_model::decode_event`, then the
//! province and commune against the official list; one invalid item refuses
//! the whole request, before anything is published), [`publish`] sends the
//! items' bytes, unchanged, keyed by `filing_id`, and waits for every
//! acknowledgement. [`import`] sends files of events (`hoso import`)
//! through the same validation and the same producer.

pub mod body;
pub mod config;
pub mod dvcqg;
pub mod http;
pub mod import;
pub mod metrics;
pub mod publish;

pub use config::IngestConfig;
pub use http::{IngestState, router};
pub use metrics::IngestMetrics;
pub use publish::{BrokerHealth, PublishError, Publisher};

use hoso_model::catalogue::DueRules;
use hoso_model::event::Event;
use hoso_model::units::Units;

/// One event as ingest accepts it: valid by the contract
/// (`hoso_model::decode_event_with`, which computes a missing `due_at`
/// with `dues`), and naming a province and a commune of it that `units`
/// lists, when given. The error names the field.
pub fn validate<'a>(
    bytes: &'a [u8],
    dues: &DueRules,
    units: Option<&Units>,
) -> Result<Event<'a>, String> {
    let ev = hoso_model::decode_event_with(bytes, Some(dues)).map_err(|e| e.message)?;
    if let Some(units) = units {
        units
            .check(ev.province, ev.commune)
            .map_err(|e| e.to_string())?;
    }
    Ok(ev)
}
