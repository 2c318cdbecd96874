//! The processor's engine: the held partitions' tables, driven by messages
//! and the clock, with no I/O of its own.
//!
//! It takes Kafka messages (partition, offset, key, bytes, timestamp) and
//! the wall clock, and returns what must happen outside: dead letters to
//! send, partitions to publish, partitions caught up. Every decision it
//! makes follows the messages alone; the clock only stamps rows
//! (`seen_at`, `changed_at`) and moves deadline timers. The live consumer
//! (`consumer.rs`), `hoso replay` (`replay.rs`) and the province-year
//! benchmark drive this one engine, so all three fold, restate, evict and
//! publish in one order, and tests drive it by the thousand without a
//! broker (`tests.rs`: arrival orders and crash points).
//!
//! Per message, in this order: fold it into its partition; turn the closed
//! days it changed into restatements (summed over every partition held);
//! queue the dead letters of what it refused or displaced. Between
//! messages, on the driver's clock: [`Engine::publish`] (which first moves
//! the filings past the cold horizon to cold files, in a partition whose
//! event time reached a new day: [`Engine::evict_cold`]) and
//! [`Engine::checkpoint`] (which runs that pass first too, so a checkpoint
//! never covers a message whose pass is still due).

use std::collections::BTreeMap;
use std::sync::Arc;

use hoso_model::checkpoint::{CheckpointError, CheckpointStore, Saved};

use crate::checkpoint;
use crate::cold::ColdError;
use crate::daily::DayCounts;
use crate::partition::{FoldResult, PartitionTables, PublishedPartition, Settings};
use crate::rejects::Reject;
use crate::restatements::{self, Restatement};

#[cfg(test)]
mod tests;

/// One message of the topic, as the engine needs it.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
    /// The Kafka timestamp, when the message has one.
    pub timestamp_ms: Option<i64>,
}

/// What the engine cannot go on from. It is returned, never acted on here:
/// the driver stops, and only the `hoso` binary decides to exit (a restart
/// resumes from the last checkpoint, with nothing lost or counted twice).
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    /// The partition's checkpoint cannot be read: the store is away, the
    /// checkpoint is corrupt, or of a format this build does not read.
    /// Reading the partition from its beginning instead would, at the next
    /// save, replace a good checkpoint with a partial state.
    #[error("partition {partition}: cannot restore its checkpoint: {source}")]
    Restore {
        partition: i32,
        #[source]
        source: CheckpointError,
    },
    /// A cold file that may hold the message's filing cannot be read:
    /// folding it into a fresh state would count the filing twice.
    #[error("partition {partition}, offset {offset}: cannot read a cold file: {source}")]
    ColdRead {
        partition: i32,
        offset: i64,
        #[source]
        source: ColdError,
    },
}

/// A partition's tables from its latest checkpoint in `store`, or fresh
/// ones when it has none (or there is no store).
///
/// A checkpoint older than this build reads (an upgrade across a format
/// change) is rebuilt from the topic, read again from offset 0, but only
/// when `log_start` (asked only then: the partition's first offset in
/// Kafka) says the topic still holds the partition's whole log; else it is
/// an error, as is any other checkpoint that cannot be read.
pub fn restore(
    store: Option<&dyn CheckpointStore>,
    partition: i32,
    settings: Settings,
    log_start: impl FnOnce() -> Option<i64>,
) -> Result<PartitionTables, Fatal> {
    let Some(store) = store else {
        return Ok(PartitionTables::new(partition).with_settings(settings));
    };
    match checkpoint::restore(store, partition, settings.clone()) {
        Ok(t) => Ok(t),
        Err(CheckpointError::Version { found, oldest, .. })
            if found < oldest && log_start() == Some(0) =>
        {
            tracing::warn!(
                partition,
                version = found,
                oldest,
                "the checkpoint predates this hoso's format; rebuilding the partition from the \
                 topic, which still holds its whole log (read again from offset 0)"
            );
            let mut t = PartitionTables::new(partition).with_settings(settings);
            // Its files belonged to the old state: a rebuild writes its own.
            t.cold.remove_orphans(true);
            Ok(t)
        }
        Err(source) => Err(Fatal::Restore { partition, source }),
    }
}

/// What became of one message, for the driver's counters.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Folded,
    /// Seen before (or before a replay's start): nothing changed.
    Duplicate,
    /// Refused; `new` when it was refused for the first time (a re-read
    /// refusal is neither logged nor dead-lettered again).
    Rejected {
        reason: &'static str,
        new: bool,
    },
    /// A message of a partition this engine does not hold (fetched before a
    /// revocation took effect): its new owner's to fold.
    NotHeld,
}

/// What the engine asks of the outside world. Drained by
/// [`Engine::take_effects`].
#[derive(Debug, Default)]
pub struct Effects {
    /// Refused messages, and events displaced by later ones, for the
    /// dead-letter topic; each is logged in its partition's `rejects`. A
    /// checkpoint must wait until they are acknowledged.
    pub dead_letters: Vec<Reject>,
    /// Restatement rows recorded since the last drain.
    pub restatements: u64,
    /// Filings moved to cold files, per partition.
    pub evicted: Vec<(i32, usize)>,
    /// Cold files that could not be written: the filings stay in memory
    /// and the next day retries.
    pub cold_errors: Vec<(i32, ColdError)>,
    /// A message's offset was past the next one expected (records skipped
    /// by retention or by a broker).
    pub offset_gaps: Vec<(i32, i64, i64)>,
    /// Messages dated (event or due) in a year whose holidays are only
    /// projected from the law, no arrangement announced, by year.
    pub projected_years: BTreeMap<i32, u64>,
}

/// The held partitions and what their messages asked for.
pub struct Engine {
    settings: Settings,
    parts: BTreeMap<i32, PartitionTables>,
    effects: Effects,
}

impl Engine {
    pub fn new(settings: Settings) -> Self {
        Engine {
            settings,
            parts: BTreeMap::new(),
            effects: Effects::default(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Holds `tables` (restored from a checkpoint, or fresh), replacing any
    /// tables of that partition.
    pub fn assign(&mut self, tables: PartitionTables) {
        self.parts.insert(tables.partition(), tables);
    }

    /// Gives partition `p` up, returning its tables (to checkpoint, or to
    /// drop when the assignment was lost).
    pub fn revoke(&mut self, p: i32) -> Option<PartitionTables> {
        self.parts.remove(&p)
    }

    pub fn holds(&self, p: i32) -> bool {
        self.parts.contains_key(&p)
    }

    pub fn partition(&self, p: i32) -> Option<&PartitionTables> {
        self.parts.get(&p)
    }

    /// The held partitions, by number.
    pub fn partitions(&self) -> impl Iterator<Item = &PartitionTables> {
        self.parts.values()
    }

    pub fn partitions_mut(&mut self) -> impl Iterator<Item = &mut PartitionTables> {
        self.parts.values_mut()
    }

    /// Folds one message. `now_ms` is the wall clock. On an error nothing
    /// of the message was folded, and the driver must stop.
    pub fn fold(&mut self, msg: Message<'_>, now_ms: i64) -> Result<Outcome, Fatal> {
        let Some(tables) = self.parts.get_mut(&msg.partition) else {
            return Ok(Outcome::NotHeld);
        };
        let expected = tables.next_offset();
        if msg.offset > expected && expected > 0 {
            self.effects
                .offset_gaps
                .push((msg.partition, expected, msg.offset));
        }
        let result = tables
            .fold_message_at(msg.offset, msg.key, msg.payload, msg.timestamp_ms, now_ms)
            .map_err(|source| Fatal::ColdRead {
                partition: msg.partition,
                offset: msg.offset,
                source,
            })?;
        let outcome = match result {
            FoldResult::Folded => Outcome::Folded,
            FoldResult::Duplicate | FoldResult::BeforeStart => Outcome::Duplicate,
            FoldResult::Rejected { reason, new } => {
                let fresh = new.is_some();
                if let Some(r) = new {
                    self.effects.dead_letters.push(*r);
                }
                Outcome::Rejected { reason, new: fresh }
            }
        };
        let displaced = tables.take_displaced();
        self.effects.dead_letters.extend(displaced);
        for (year, n) in tables.take_projected_years() {
            *self.effects.projected_years.entry(year).or_default() += n;
        }
        if tables.has_closed_changes() {
            self.effects.restatements += restate(&mut self.parts, msg.partition, now_ms);
        }
        Ok(outcome)
    }

    /// Moves the closed filings past the cold horizon to cold files, in
    /// each partition whose event time reached a new day since its last
    /// pass. The drivers call it between messages: [`Engine::publish`]
    /// does, so a pass costs at most once per publish interval however
    /// fast a backlog folds (a pass scans the partition and merges files),
    /// and its files show in the publish that follows. Where filings are
    /// kept never changes a figure.
    pub fn evict_cold(&mut self) {
        for (p, tables) in self.parts.iter_mut() {
            match tables.evict_cold() {
                Ok(0) => {}
                Ok(n) => self.effects.evicted.push((*p, n)),
                Err(e) => self.effects.cold_errors.push((*p, e)),
            }
        }
    }

    /// Kafka reported the end of partition `p`.
    pub fn end_of_partition(&mut self, p: i32) {
        if let Some(t) = self.parts.get_mut(&p) {
            t.mark_end();
        }
    }

    /// Moves every partition's deadline timers to `now_ms` and returns the
    /// tables of those that changed since their last publish, and the
    /// partitions whose end is now published (caught up).
    pub fn publish(&mut self, now_ms: i64) -> Published {
        self.evict_cold();
        let mut out = Published::default();
        for (p, tables) in self.parts.iter_mut() {
            // Filings whose deadline timers came due since the last
            // publish turn at risk or overdue, folded events or not.
            tables.tick_deadlines(now_ms);
            if tables.has_changes() {
                out.tables.push((*p, tables.publish_at(now_ms)));
            }
            if tables.take_caught_up() {
                out.caught_up.push(*p);
            }
        }
        out
    }

    /// Writes the checkpoint of every partition that read anything since
    /// its last; returns each partition tried with what became of it and
    /// its next offset, or the error (a save that failed is tried again at
    /// the next checkpoint). The driver must first have every dead letter
    /// queued so far acknowledged: a checkpoint covers the rejects folded
    /// before it.
    ///
    /// A cold pass made due by the messages it covers runs first: a pass
    /// after the last checkpoint of a partition that then goes quiet would
    /// otherwise reach the table store only with the next message, and
    /// query nodes would go on reading those filings from the checkpoint.
    pub fn checkpoint(&mut self, store: &dyn CheckpointStore) -> Vec<(i32, Checkpointed)> {
        self.evict_cold();
        let mut out = Vec::new();
        for (p, tables) in self.parts.iter_mut() {
            match checkpoint::save(store, tables) {
                Ok(None) => {}
                Ok(Some(saved)) => out.push((
                    *p,
                    Ok(CheckpointSaved {
                        saved,
                        next_offset: tables.next_offset(),
                    }),
                )),
                Err(e) => out.push((*p, Err(e))),
            }
        }
        out
    }

    /// What the messages folded since the last call asked for.
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.effects)
    }
}

/// A partition's checkpoint written (or superseded by another owner's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointSaved {
    pub saved: Saved,
    pub next_offset: i64,
}

/// What became of one partition's checkpoint.
pub type Checkpointed = Result<CheckpointSaved, CheckpointError>;

/// The engine's answer to [`Engine::publish`].
#[derive(Default)]
pub struct Published {
    pub tables: Vec<(i32, Arc<PublishedPartition>)>,
    pub caught_up: Vec<i32>,
}

/// Turns the closed days the last event of `partition` changed into
/// restatements; returns how many. The figures are summed over every
/// partition held (all of them under `hoso up`), so they are the figures
/// SQL shows.
fn restate(parts: &mut BTreeMap<i32, PartitionTables>, partition: i32, now_ms: i64) -> u64 {
    let Some(tables) = parts.get_mut(&partition) else {
        return 0;
    };
    let changes = tables.take_closed_changes();
    let held = parts.len() as i32;
    let mut rows = Vec::new();
    for c in changes {
        let others = parts
            .iter()
            .filter(|(p, _)| **p != partition)
            .filter_map(|(_, t)| t.daily().get(c.key))
            .fold(DayCounts::default(), |a, b| a.plus(&b));
        let (old, new) = (others.plus(&c.old), others.plus(&c.new));
        for (metric, old, new) in restatements::changed(&old, &new) {
            rows.push(Restatement {
                key: c.key,
                metric,
                old,
                new,
                changed_at_ms: now_ms,
                cause: c.cause.clone(),
                partition,
                offset: c.offset,
                partitions_held: held,
            });
        }
    }
    let n = rows.len() as u64;
    if let Some(tables) = parts.get_mut(&partition) {
        for r in rows {
            tables.restatements.record(r);
        }
        tables.mark_changed();
    }
    n
}
