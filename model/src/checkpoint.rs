//! Where checkpoints are kept: an interface, so the processor can write to
//! a local directory or an object store, and a query node can read what
//! processors wrote. The bytes are opaque here; the processor owns
//! their format.

use std::fmt;

/// A checkpoint store failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the storage failed; retrying may help.
    #[error("checkpoint storage: {0}")]
    Io(#[from] std::io::Error),
    /// What is stored is not a valid checkpoint: an operator must look.
    #[error("checkpoint is corrupt: {0}")]
    Corrupt(String),
}

/// Durable, atomic storage of one checkpoint per Kafka partition.
pub trait CheckpointStore: Send + Sync + fmt::Debug + 'static {
    /// Makes `bytes` the partition's checkpoint, atomically: after a crash
    /// at any point, `load` returns either the previous checkpoint or this one.
    fn save(&self, partition: i32, next_offset: i64, bytes: &[u8]) -> Result<(), CheckpointError>;

    /// The partition's latest checkpoint, `None` if it has none.
    fn load(&self, partition: i32) -> Result<Option<Vec<u8>>, CheckpointError>;

    /// Partitions that have a checkpoint.
    fn partitions(&self) -> Result<Vec<i32>, CheckpointError>;

    /// A name of the partition's latest checkpoint that changes with every
    /// save (cheap to ask: a reader polls it before loading), `None` if it
    /// has none.
    fn latest(&self, partition: i32) -> Result<Option<String>, CheckpointError>;
}
