//! The tables of one Kafka partition: filings plus daily aggregates, and
//! where the partition has been read to.

use std::sync::Arc;

use arrow_array::RecordBatch;
use hoso_model::{Applied, InvalidEvent, decode_event};

use crate::daily::DailyAggregates;
use crate::store::FilingStore;

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum FoldResult {
    Folded,
    /// This `(filing_id, seq)` was folded before.
    Duplicate,
    /// The bytes are not a valid event. Ingest never publishes such a
    /// message; it comes from a producer that bypassed ingest.
    Invalid(InvalidEvent),
}

/// One partition's published tables.
#[derive(Clone, Debug, Default)]
pub struct PublishedPartition {
    pub filings: Vec<RecordBatch>,
    pub daily_partials: Vec<RecordBatch>,
}

pub struct PartitionTables {
    partition: i32,
    filings: FilingStore,
    daily: DailyAggregates,
    /// Offset of the next message to read.
    next_offset: i64,
    /// Changed since the last publish.
    changed: bool,
    /// `next_offset` of the last checkpoint written or restored.
    checkpointed_offset: i64,
    /// Read to the end of the partition at least once.
    reached_end: bool,
    /// `reached_end` has been published (and announced as caught up).
    end_published: bool,
}

impl PartitionTables {
    pub fn new(partition: i32) -> Self {
        PartitionTables {
            partition,
            filings: FilingStore::new(),
            daily: DailyAggregates::new(),
            next_offset: 0,
            changed: true,
            checkpointed_offset: 0,
            reached_end: false,
            end_published: false,
        }
    }

    /// Decodes and folds the message at `offset`.
    pub fn fold_message(&mut self, offset: i64, payload: &[u8]) -> FoldResult {
        // Never backwards: messages re-read after a resume are behind it.
        self.next_offset = self.next_offset.max(offset + 1);
        let event = match decode_event(payload) {
            Ok(e) => e,
            Err(e) => return FoldResult::Invalid(e),
        };
        let r = self.filings.apply(&event);
        match r.applied {
            Applied::Duplicate => FoldResult::Duplicate,
            Applied::Folded => {
                self.daily.update(&r.before, &r.after);
                self.changed = true;
                FoldResult::Folded
            }
        }
    }

    /// Tables rebuilt from a checkpoint, to continue at `next_offset`.
    pub fn restored(
        partition: i32,
        next_offset: i64,
        filings: FilingStore,
        daily: DailyAggregates,
    ) -> Self {
        PartitionTables {
            next_offset,
            filings,
            daily,
            ..PartitionTables::new(partition)
        }
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Messages read since the last checkpoint.
    pub fn needs_checkpoint(&self) -> bool {
        self.next_offset != self.checkpointed_offset
    }

    /// A checkpoint of the current state is durable.
    pub fn mark_checkpointed(&mut self) {
        self.checkpointed_offset = self.next_offset;
    }

    pub fn filings(&self) -> &FilingStore {
        &self.filings
    }

    pub fn daily(&self) -> &DailyAggregates {
        &self.daily
    }

    pub fn has_changes(&self) -> bool {
        self.changed
    }

    /// Kafka reported the end of the partition.
    pub fn mark_end(&mut self) {
        self.reached_end = true;
    }

    /// True once, right after the first publish that included the end of
    /// the partition: the moment SQL shows a caught-up partition.
    pub fn take_caught_up(&mut self) -> bool {
        let now = self.reached_end && !self.end_published && !self.changed;
        if now {
            self.end_published = true;
        }
        now
    }

    /// The current tables as Arrow, re-encoding only what changed.
    pub fn publish(&mut self) -> Arc<PublishedPartition> {
        self.changed = false;
        Arc::new(PublishedPartition {
            filings: self.filings.batches(),
            daily_partials: self.daily.batches(self.partition),
        })
    }
}
