//! The processor's Prometheus metrics, registered once and updated per batch.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

#[derive(Clone)]
pub struct ProcessorMetrics {
    /// Messages read from Kafka, whatever became of them.
    pub consumed: IntCounter,
    /// Events folded, by outcome: `folded`, `duplicate`, `invalid`.
    pub events: IntCounterVec,
    /// Time to take a batch of messages off the local queue, decode and fold them.
    pub fold_duration: Histogram,
    /// Time to re-encode changed tables and publish them.
    pub publish_duration: Histogram,
    /// Messages behind the partition's end, as librdkafka reports it.
    pub consumer_lag: IntGaugeVec,
    /// Filings held, per partition.
    pub filings: IntGaugeVec,
    /// Time to encode and durably write one partition's checkpoint.
    pub checkpoint_duration: Histogram,
    /// Checkpoints written, by result: `ok`, `failed`.
    pub checkpoints: IntCounterVec,
    /// Offsets skipped between two messages of a partition.
    pub offset_gaps: IntCounter,
    /// Messages dated in a year without an announced holiday arrangement.
    pub calendar_projected: IntCounterVec,
    /// Messages refused (first time per offset), by reason.
    pub rejects: IntCounterVec,
    /// Figures of closed days that changed.
    pub restatements: IntCounter,
    /// Filings held in cold files, per partition.
    pub cold_filings: IntGaugeVec,
    /// Filings moved from memory to cold files.
    pub cold_evicted: IntCounter,
}

impl ProcessorMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let m = ProcessorMetrics {
            consumed: IntCounter::new(
                "hoso_processor_messages_consumed_total",
                "Kafka messages consumed by the processor.",
            )?,
            events: IntCounterVec::new(
                Opts::new(
                    "hoso_processor_events_total",
                    "Events by what the fold did with them.",
                ),
                &["result"],
            )?,
            fold_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "hoso_processor_fold_duration_seconds",
                    "Time to decode and fold one batch of up to 4096 messages.",
                )
                .buckets(prometheus::exponential_buckets(1e-5, 4.0, 10)?),
            )?,
            publish_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "hoso_processor_publish_duration_seconds",
                    "Time to re-encode changed tables as Arrow and publish them.",
                )
                .buckets(prometheus::exponential_buckets(1e-5, 4.0, 10)?),
            )?,
            consumer_lag: IntGaugeVec::new(
                Opts::new(
                    "hoso_processor_consumer_lag_messages",
                    "Messages behind the partition's end.",
                ),
                &["partition"],
            )?,
            filings: IntGaugeVec::new(
                Opts::new(
                    "hoso_processor_filings",
                    "Filings held in memory, per partition.",
                ),
                &["partition"],
            )?,
            checkpoint_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "hoso_processor_checkpoint_duration_seconds",
                    "Time to encode and durably write one partition's checkpoint.",
                )
                .buckets(prometheus::exponential_buckets(1e-4, 4.0, 10)?),
            )?,
            checkpoints: IntCounterVec::new(
                Opts::new(
                    "hoso_processor_checkpoints_total",
                    "Partition checkpoints written, by result.",
                ),
                &["result"],
            )?,
            offset_gaps: IntCounter::new(
                "hoso_processor_offset_gaps_total",
                "Times a partition's next message came after skipped offsets (records never read).",
            )?,
            calendar_projected: IntCounterVec::new(
                Opts::new(
                    "hoso_processor_calendar_projected_total",
                    "Messages whose event or due date falls in a year with no announced holiday \
                     arrangement (its days off are projected from the Labour Code), by year.",
                ),
                &["year"],
            )?,
            rejects: IntCounterVec::new(
                Opts::new(
                    "hoso_processor_rejects_total",
                    "Messages refused and dead-lettered, by reason (counted once per offset).",
                ),
                &["reason"],
            )?,
            restatements: IntCounter::new(
                "hoso_processor_restatements_total",
                "Figures of closed days changed by late events (rows of `restatements`).",
            )?,
            cold_filings: IntGaugeVec::new(
                Opts::new(
                    "hoso_processor_cold_filings",
                    "Closed filings held in cold Parquet files, per partition.",
                ),
                &["partition"],
            )?,
            cold_evicted: IntCounter::new(
                "hoso_processor_cold_evicted_total",
                "Filings moved from memory to cold files.",
            )?,
        };
        registry.register(Box::new(m.cold_filings.clone()))?;
        registry.register(Box::new(m.cold_evicted.clone()))?;
        registry.register(Box::new(m.rejects.clone()))?;
        registry.register(Box::new(m.restatements.clone()))?;
        registry.register(Box::new(m.offset_gaps.clone()))?;
        registry.register(Box::new(m.calendar_projected.clone()))?;
        registry.register(Box::new(m.checkpoint_duration.clone()))?;
        registry.register(Box::new(m.checkpoints.clone()))?;
        registry.register(Box::new(m.consumed.clone()))?;
        registry.register(Box::new(m.events.clone()))?;
        registry.register(Box::new(m.fold_duration.clone()))?;
        registry.register(Box::new(m.publish_duration.clone()))?;
        registry.register(Box::new(m.consumer_lag.clone()))?;
        registry.register(Box::new(m.filings.clone()))?;
        Ok(m)
    }
}
