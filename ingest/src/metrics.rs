//! Ingest's Prometheus metrics, updated once per request.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct IngestMetrics {
    /// Events Kafka acknowledged.
    pub accepted: IntCounter,
    /// Events of refused requests, by reason: `invalid`, `unavailable`.
    pub rejected: IntCounterVec,
    /// Requests by HTTP status.
    pub requests: IntCounterVec,
    /// Time from the first send to the last acknowledgement of a request.
    pub publish_duration: Histogram,
}

impl IngestMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let m = IngestMetrics {
            accepted: IntCounter::new(
                "hoso_ingest_events_accepted_total",
                "Events acknowledged by Kafka.",
            )?,
            rejected: IntCounterVec::new(
                Opts::new(
                    "hoso_ingest_events_rejected_total",
                    "Events in refused requests, by reason.",
                ),
                &["reason"],
            )?,
            requests: IntCounterVec::new(
                Opts::new(
                    "hoso_ingest_requests_total",
                    "Ingest requests by HTTP status.",
                ),
                &["status"],
            )?,
            publish_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "hoso_ingest_publish_duration_seconds",
                    "Time from a request's first send to Kafka's last acknowledgement.",
                )
                .buckets(prometheus::exponential_buckets(1e-4, 4.0, 10)?),
            )?,
        };
        registry.register(Box::new(m.accepted.clone()))?;
        registry.register(Box::new(m.rejected.clone()))?;
        registry.register(Box::new(m.requests.clone()))?;
        registry.register(Box::new(m.publish_duration.clone()))?;
        Ok(m)
    }
}
