//! The interface through which the query side reads the processor's tables.
//!
//! The processor publishes Arrow batches per Kafka partition; a reader takes
//! a consistent snapshot (cheap `Arc` clones, never a rebuild) per query.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, TimestampMillisecondArray,
};

/// The tables at one instant.
#[derive(Clone, Debug, Default)]
pub struct TablesSnapshot {
    /// Batches of [`crate::schema::filings`].
    pub filings: Vec<RecordBatch>,
    /// Batches of [`crate::schema::daily_partials`].
    pub daily_partials: Vec<RecordBatch>,
    /// Batches of [`crate::schema::rejects`].
    pub rejects: Vec<RecordBatch>,
    /// Batches of [`crate::schema::restatements`].
    pub restatements: Vec<RecordBatch>,
    /// Parquet files holding the rest of `filings` (closed filings past the
    /// hot horizon): the `filings` columns plus `state`. Each is an absolute
    /// local path or the URL of an object in the table store
    /// (`s3://bucket/...`), which the query engine has registered.
    pub cold_filings: Vec<String>,
    /// The state of each partition held.
    pub partitions: Vec<PartitionStatus>,
    /// Batches of [`crate::schema::commune_clocks`].
    pub commune_clocks: Vec<RecordBatch>,
    /// Batches of [`crate::schema::filing_alerts`].
    pub filing_alerts: Vec<RecordBatch>,
}

/// Where one Kafka partition's tables are (`system.partitions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionStatus {
    pub partition: i32,
    /// Offset of the next message to fold.
    pub next_offset: i64,
    /// The partition's end as librdkafka last reported it, and how far
    /// behind it the processor is (`None` until the first report).
    pub high_watermark: Option<i64>,
    pub lag: Option<i64>,
    /// The partition's event time (its watermark), UTC ms.
    pub last_event_at_ms: Option<i64>,
    /// The partition's end has been folded and published once.
    pub caught_up: bool,
    pub hot_filings: u64,
    pub cold_filings: u64,
    /// Wall clock of the publish these tables come from, UTC ms.
    pub published_at_ms: i64,
}

/// The rows of `system.partitions`.
pub fn partitions_batch(parts: &[PartitionStatus]) -> RecordBatch {
    let ts = |v: Vec<Option<i64>>| -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC"))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter_values(
            parts.iter().map(|p| p.partition),
        )),
        Arc::new(Int64Array::from_iter_values(
            parts.iter().map(|p| p.next_offset),
        )),
        Arc::new(Int64Array::from_iter(
            parts.iter().map(|p| p.high_watermark),
        )),
        Arc::new(Int64Array::from_iter(parts.iter().map(|p| p.lag))),
        ts(parts.iter().map(|p| p.last_event_at_ms).collect()),
        Arc::new(BooleanArray::from_iter(
            parts.iter().map(|p| Some(p.caught_up)),
        )),
        Arc::new(Int64Array::from_iter_values(
            parts
                .iter()
                .map(|p| i64::try_from(p.hot_filings).unwrap_or(i64::MAX)),
        )),
        Arc::new(Int64Array::from_iter_values(
            parts
                .iter()
                .map(|p| i64::try_from(p.cold_filings).unwrap_or(i64::MAX)),
        )),
        ts(parts.iter().map(|p| Some(p.published_at_ms)).collect()),
    ];
    RecordBatch::try_new(crate::schema::partitions(), columns)
        .expect("partitions match their schema")
}

/// Anything that can hand out the current tables.
pub trait TableSource: Send + Sync + 'static {
    fn snapshot(&self) -> TablesSnapshot;
}
