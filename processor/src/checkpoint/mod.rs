//! Checkpoints: one partition's folded state and the next offset to read,
//! as one self-checking blob.
//!
//! Layout (little-endian):
//!
//! ```text
//! "HOSOCKP1"  version:u32  partition:i32  first_offset:i64  next_offset:i64
//! watermark_ms:i64
//! procedures:   count:u32, then each a length-prefixed string
//! filings:      count:u32, then each id (length-prefixed) + FilingState
//! daily:        count:u32, then each day:i32 province:u8 commune:u32 + 11 counts:i64
//!               (`DayCounts::NAMES`)
//! rejects:      see `RejectLog::encode`
//! restatements: see `RestatementLog::encode`
//! cold tier:    see `ColdTier::encode`
//! clocks:       see `CommuneClock::encode` (newest event time per commune)
//! portal:       see `PortalFilings::encode` (records in force and steps)
//! crc32 of all the above: u32
//! ```
//!
//! The hash index is not stored; it is rebuilt from the ids on load.

mod fs;
mod object;

pub use fs::FsCheckpointStore;
pub use object::ObjectCheckpointStore;

use hoso_model::Interner;
use hoso_model::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, Saved};
use hoso_model::codec::{ByteReader, CodecError, put_bytes, put_i32, put_i64, put_u8, put_u32};
use hoso_model::fold::FilingState;
use tracing::info;

use crate::cold::ColdTier;
use crate::completeness::CommuneClock;
use crate::daily::{DailyAggregates, DayCounts};
use crate::partition::{PartitionTables, Settings};
use crate::portal::PortalFilings;
use crate::rejects::RejectLog;
use crate::restatements::RestatementLog;
use crate::store::FilingStore;

const MAGIC: &[u8; 8] = b"HOSOCKP1";
/// 2: the dedup memory holds `event_id` fingerprints; rejects,
/// restatements and the event-time watermark are part of the state.
/// 3: the daily counts of the Decision 766 shares (e-ID, digitised, fees),
/// and the newest event time per commune.
/// 4: each cold file says whether it holds filings still expecting their
/// `returned` event.
/// 5: a filing's state is its event log (every event seen, folded or
/// refused, with the offset it was read at), from which the row is derived;
/// the reject log is no longer keyed against re-reads. Version 4 states
/// hold no log to derive from: rebuild with `hoso replay`.
/// 6: each logged event keeps its commune and province and a second
/// `event_id` check, `extended` events their new due date, the daily rows
/// an 11th count (`extensions`); the fold's rules follow contract v1.1
/// (pauses, the clock's start, fates by the highest `seq`). A version 5
/// state derived under the old rules, so it is not read: the engine
/// rebuilds the partition from the topic (see `engine::restore`).
/// 7: restatements are written as runs of the rows one event left, its
/// cause once per run (version 6's rows, each with its cause, still read).
/// 8: the filings fed by portal records, each with its record in force
/// and its steps (a version 6 or 7 checkpoint holds none).
const VERSION: u32 = 8;
/// The oldest version this hoso reads.
const OLDEST: u32 = 6;

/// The partition's state as checkpoint bytes.
pub fn encode(tables: &PartitionTables) -> Vec<u8> {
    let filings = tables.filings();
    let mut out = Vec::with_capacity(64 + filings.len() * 96);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, VERSION);
    put_i32(&mut out, tables.partition());
    put_i64(&mut out, tables.first_offset());
    put_i64(&mut out, tables.next_offset());
    put_i64(&mut out, tables.watermark_ms());
    let procedures: Vec<&str> = filings.procedures().names().collect();
    put_u32(&mut out, procedures.len() as u32);
    for p in procedures {
        put_bytes(&mut out, p.as_bytes());
    }
    put_u32(&mut out, filings.len() as u32);
    for (id, state) in filings.rows() {
        put_bytes(&mut out, id);
        state.encode(&mut out);
    }
    // Sorted, so the same state always gives the same bytes.
    let mut rows: Vec<_> = tables.daily().rows().collect();
    rows.sort_unstable_by_key(|(k, _)| **k);
    put_u32(&mut out, rows.len() as u32);
    for ((day, province, commune), c) in rows {
        put_i32(&mut out, *day);
        put_u8(&mut out, *province);
        put_u32(&mut out, *commune);
        for v in c.values() {
            put_i64(&mut out, v);
        }
    }
    tables.rejects.encode(&mut out);
    tables.restatements.encode(&mut out);
    tables.cold.encode(&mut out);
    tables.clocks.encode(&mut out);
    tables.portal.encode(&mut out);
    let crc = crc32fast::hash(&out);
    put_u32(&mut out, crc);
    out
}

/// Rebuilds a partition's tables from checkpoint bytes, checking them whole.
pub fn decode(bytes: &[u8]) -> Result<PartitionTables, CheckpointError> {
    let corrupt = |e: CodecError| CheckpointError::Corrupt(e.to_string());
    if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(CheckpointError::Corrupt(
            "not a hoso checkpoint (bad magic)".into(),
        ));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32fast::hash(body) != stored {
        return Err(CheckpointError::Corrupt("checksum mismatch".into()));
    }
    let mut r = ByteReader::new(&body[MAGIC.len()..]);
    let version = r.u32().map_err(corrupt)?;
    if !(OLDEST..=VERSION).contains(&version) {
        return Err(CheckpointError::Version {
            found: version,
            oldest: OLDEST,
            newest: VERSION,
        });
    }
    let partition = r.i32().map_err(corrupt)?;
    let first_offset = r.i64().map_err(corrupt)?;
    let next_offset = r.i64().map_err(corrupt)?;
    let watermark_ms = r.i64().map_err(corrupt)?;
    let n = r.count(4).map_err(corrupt)?;
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let raw = r.bytes().map_err(corrupt)?;
        names.push(std::str::from_utf8(raw).map_err(|e| CheckpointError::Corrupt(e.to_string()))?);
    }
    let mut filings = FilingStore::with_procedures(Interner::from_names(names));
    let n = r.count(4 + 13).map_err(corrupt)?;
    for _ in 0..n {
        let id = r.bytes().map_err(corrupt)?;
        let state = FilingState::decode(&mut r).map_err(corrupt)?;
        if !filings.restore_row(id, state) {
            return Err(CheckpointError::Corrupt(format!(
                "filing {} appears twice",
                String::from_utf8_lossy(id)
            )));
        }
    }
    filings.shrink_to_fit();
    let mut daily = DailyAggregates::new();
    let n = r.count(9 + 8 * DayCounts::NAMES.len()).map_err(corrupt)?;
    for _ in 0..n {
        let key = (
            r.i32().map_err(corrupt)?,
            r.u8().map_err(corrupt)?,
            r.u32().map_err(corrupt)?,
        );
        let mut v = [0i64; DayCounts::NAMES.len()];
        for x in &mut v {
            *x = r.i64().map_err(corrupt)?;
        }
        daily.restore_row(key, DayCounts::from_values(v));
    }
    let rejects = RejectLog::decode(&mut r, usize::MAX).map_err(corrupt)?;
    let restatements = RestatementLog::decode(&mut r, usize::MAX, version).map_err(corrupt)?;
    let cold = ColdTier::decode(&mut r, partition, version).map_err(corrupt)?;
    let clocks = CommuneClock::decode(&mut r).map_err(corrupt)?;
    let portal = if version >= 8 {
        PortalFilings::decode(&mut r).map_err(corrupt)?
    } else {
        PortalFilings::new()
    };
    if r.remaining() != 0 {
        return Err(CheckpointError::Corrupt(format!(
            "{} bytes after the end",
            r.remaining()
        )));
    }
    Ok(PartitionTables::restored(
        partition,
        first_offset,
        next_offset,
        watermark_ms,
        filings,
        daily,
        rejects,
        restatements,
        cold,
    )
    .with_clocks(clocks)
    .with_portal(portal))
}

/// A partition's tables from its latest checkpoint, or fresh tables (to be
/// read from the partition's beginning) when it has none.
///
/// A checkpoint that cannot be read is an error for the caller to stop on,
/// never a silent re-read from the beginning: the store may only be away,
/// and the next save of a partial state would replace a good checkpoint
/// (and lose what the topic no longer holds). A corrupt one, or one of a
/// format this build does not read, needs an operator (see
/// `docs/operations.md`).
pub fn restore(
    store: &dyn CheckpointStore,
    partition: i32,
    settings: Settings,
) -> Result<PartitionTables, CheckpointError> {
    let started = std::time::Instant::now();
    let Some(loaded) = hoso_model::checkpoint::load(store, partition)? else {
        let mut t = PartitionTables::new(partition).with_settings(settings);
        t.cold.remove_orphans(false);
        return Ok(t);
    };
    let t = decode(&loaded.bytes)?;
    if t.partition() != partition {
        return Err(CheckpointError::Corrupt(format!(
            "partition {partition}'s checkpoint holds partition {}",
            t.partition()
        )));
    }
    if t.next_offset() != loaded.manifest.next_offset {
        return Err(CheckpointError::Corrupt(format!(
            "partition {partition}'s manifest says offset {}, its checkpoint {}",
            loaded.manifest.next_offset,
            t.next_offset()
        )));
    }
    // Manifests of the first version 5 checkpoints name no cold file.
    let named = &loaded.manifest.cold_files;
    if !named.is_empty() && *named != t.cold.names() {
        return Err(CheckpointError::Corrupt(format!(
            "partition {partition}'s manifest names other cold files than its checkpoint"
        )));
    }
    info!(
        partition,
        next_offset = t.next_offset(),
        filings = t.filings().len(),
        bytes = loaded.bytes.len(),
        ms = started.elapsed().as_millis() as u64,
        "restored from checkpoint"
    );
    let mut t = t.with_settings(settings);
    t.cold.remove_orphans(true);
    Ok(t)
}

/// Writes the partition's checkpoint if it read anything since the last;
/// `None` when there was nothing to write. Files the state let go of are
/// deleted only after a checkpoint that no longer names them was written.
pub fn save(
    store: &dyn CheckpointStore,
    tables: &mut PartitionTables,
) -> Result<Option<Saved>, CheckpointError> {
    if !tables.needs_checkpoint() {
        return Ok(None);
    }
    tables.finish_recalls();
    let cold_files = tables
        .cold
        .needed_files()
        .map_err(CheckpointError::Refused)?;
    let bytes = encode(tables);
    let saved = hoso_model::checkpoint::save(
        store,
        &Checkpoint {
            partition: tables.partition(),
            next_offset: tables.next_offset(),
            bytes: &bytes,
            cold_files: &cold_files,
        },
    )?;
    if saved == Saved::Written {
        tables.mark_checkpointed();
        tables.collect_garbage();
    }
    Ok(Some(saved))
}

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod tests;
