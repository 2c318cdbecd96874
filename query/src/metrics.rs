//! The query side's Prometheus metrics.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct QueryMetrics {
    /// Queries by outcome: `ok` or an error label.
    pub queries: IntCounterVec,
    /// Wall time per query, by outcome.
    pub duration: HistogramVec,
}

impl QueryMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let m = QueryMetrics {
            queries: IntCounterVec::new(
                Opts::new("hoso_query_queries_total", "SQL queries by outcome."),
                &["outcome"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new("hoso_query_duration_seconds", "Wall time of SQL queries.")
                    .buckets(prometheus::exponential_buckets(1e-4, 4.0, 10)?),
                &["outcome"],
            )?,
        };
        registry.register(Box::new(m.queries.clone()))?;
        registry.register(Box::new(m.duration.clone()))?;
        Ok(m)
    }
}
