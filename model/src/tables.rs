//! The interface through which the query side reads the processor's tables.
//!
//! The processor publishes Arrow batches per Kafka partition; a reader takes
//! a consistent snapshot (cheap `Arc` clones, never a rebuild) per query.

use arrow_array::RecordBatch;

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
    /// hot horizon): the `filings` columns plus `state`.
    pub cold_filings: Vec<std::path::PathBuf>,
}

/// Anything that can hand out the current tables.
pub trait TableSource: Send + Sync + 'static {
    fn snapshot(&self) -> TablesSnapshot;
}
