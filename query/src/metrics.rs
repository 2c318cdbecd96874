//! The query side's Prometheus metrics.

use std::time::{Instant, SystemTime};

use crate::auth::Caller;
use crate::error::QueryError;
use crate::query_log::{QueryLog, QueryRecord};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct QueryMetrics {
    /// Queries by outcome: `ok`, `cancelled` (the caller went away before
    /// the end of the result) or an error label.
    pub queries: IntCounterVec,
    /// Wall time per query, from arrival to the last row sent, by outcome.
    pub duration: HistogramVec,
    /// Queries holding a slot: planning, running or streaming their result.
    pub running: IntGauge,
    /// Queries waiting for a slot (`query.max_concurrent_queries`).
    pub waiting: IntGauge,
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
            running: IntGauge::new(
                "hoso_query_running_queries",
                "SQL queries holding a slot: planning, running or streaming their result.",
            )?,
            waiting: IntGauge::new(
                "hoso_query_waiting_queries",
                "SQL queries waiting for a slot (query.max_concurrent_queries).",
            )?,
        };
        registry.register(Box::new(m.queries.clone()))?;
        registry.register(Box::new(m.duration.clone()))?;
        registry.register(Box::new(m.running.clone()))?;
        registry.register(Box::new(m.waiting.clone()))?;
        Ok(m)
    }
}

/// One query's outcome, counted exactly once, in the metrics and in
/// `system.queries`: by [`Tally::count`], or as `cancelled` if the query is
/// dropped first (its caller went away while it waited for a slot, planned
/// or streamed).
pub(crate) struct Tally {
    metrics: QueryMetrics,
    log: QueryLog,
    /// The row `system.queries` gets; its outcome is filled in at the end.
    record: Option<QueryRecord>,
    /// When the query arrived.
    started: Instant,
    /// Whether the outcome is counted already.
    counted: bool,
}

impl Tally {
    pub(crate) fn start(
        metrics: &QueryMetrics,
        log: &QueryLog,
        caller: &Caller,
        sql: &str,
    ) -> Self {
        Tally {
            metrics: metrics.clone(),
            log: log.clone(),
            record: Some(QueryRecord {
                id: log.next_id(),
                caller: caller.clone(),
                sql: sql.to_string(),
                started_at: SystemTime::now(),
                duration_s: 0.0,
                rows: 0,
                outcome: "cancelled",
                error: None,
            }),
            started: Instant::now(),
            counted: false,
        }
    }

    /// Rows sent so far.
    pub(crate) fn add_rows(&mut self, rows: usize) {
        if let Some(r) = &mut self.record {
            r.rows += rows as u64;
        }
    }

    /// Counts `outcome` (`ok` or an error label) unless already counted.
    pub(crate) fn count(&mut self, outcome: &'static str, error: Option<&QueryError>) {
        if std::mem::replace(&mut self.counted, true) {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        self.metrics.queries.with_label_values(&[outcome]).inc();
        self.metrics
            .duration
            .with_label_values(&[outcome])
            .observe(elapsed);
        let Some(mut record) = self.record.take() else {
            return;
        };
        record.duration_s = elapsed;
        record.outcome = outcome;
        record.error = error.map(|e| e.to_string());
        self.log.push(record);
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.count("cancelled", None);
    }
}
