//! hoso-processor: consumes the filing events from Kafka and folds them into
//! live Arrow tables.
//!
//! Data flow: [`consumer`] polls Kafka on its own thread and hands each
//! message to the [`engine::Engine`], which owns the held partitions and
//! does no I/O; the [`partition::PartitionTables`] of the message's Kafka
//! partition decodes it, folds it into [`store::FilingStore`] and moves the
//! filing's contribution in [`daily::DailyAggregates`]. Every
//! `publish_interval_ms` the changed parts are re-encoded as Arrow batches
//! and published to [`live::LiveTables`], which the query side reads
//! through `hoso_model::tables::TableSource`. Every
//! `checkpoint_interval_ms`, [`checkpoint`] writes each changed partition's
//! state with its next offset, the single source of truth for where the
//! partition resumes. What cannot be applied is logged in [`rejects`] and
//! sent to the dead-letter topic ([`dead_letters`]); changes to closed days
//! are logged in [`restatements`]. With a [`table_store`], checkpoints and
//! cold files live in an object store, where [`checkpoint_reader`] gives a
//! query node the tables without Kafka.

pub mod checkpoint;
pub mod checkpoint_reader;
pub mod cold;
pub mod completeness;
pub mod config;
pub mod consumer;
pub mod daily;
pub mod dead_letters;
pub mod deadlines;
mod encode;
pub mod engine;
pub mod live;
pub mod metrics;
pub mod partition;
pub mod portal;
pub mod rejects;
pub mod replay;
pub mod restatements;
pub mod store;
pub mod table_store;

pub use config::{ConsumeMode, ProcessorConfig};
pub use consumer::{ProcessorError, spawn};
pub use live::LiveTables;
pub use metrics::ProcessorMetrics;
pub use partition::{FoldResult, PartitionTables};
