//! The filings of one partition: a hash index from `filing_id` to a row, and
//! the rows in fixed-size chunks.
//!
//! A chunk keeps its filing ids as one byte buffer plus offsets, which is
//! both the hash index's key storage (the index holds only row numbers) and,
//! unchanged, the `filing_id` column of the chunk's Arrow batch. A chunk
//! whose rows changed since its last batch is dirty; publishing re-encodes
//! only dirty chunks, so a query never waits for a rebuild and a publish
//! costs what changed, not what is held.

use arrow_array::RecordBatch;
use hashbrown::HashTable;
use hoso_model::fold::Deadline;
use hoso_model::fold::Displaced;
use hoso_model::{Applied, Contribution, Event, FilingState, Interner};

/// Rows per chunk: big enough that a province-year is ~100 batches, small
/// enough that re-encoding one is a fraction of a millisecond per column.
pub const CHUNK_ROWS: usize = 1 << 16;

pub(crate) struct Chunk {
    pub(crate) states: Vec<FilingState>,
    /// Filing ids, concatenated; `id_offsets[i]..id_offsets[i + 1]` is row `i`.
    pub(crate) id_bytes: Vec<u8>,
    pub(crate) id_offsets: Vec<i32>,
    dirty: bool,
    batch: Option<RecordBatch>,
}

impl Chunk {
    /// A chunk of the given rows, for encoding them elsewhere (cold files).
    pub(crate) fn of_rows<'a>(rows: impl IntoIterator<Item = (&'a [u8], &'a FilingState)>) -> Self {
        let mut chunk = Chunk {
            states: Vec::new(),
            id_bytes: Vec::new(),
            id_offsets: vec![0],
            dirty: true,
            batch: None,
        };
        for (id, state) in rows {
            chunk.states.push(state.clone());
            chunk.id_bytes.extend_from_slice(id);
            chunk.id_offsets.push(chunk.id_bytes.len() as i32);
        }
        chunk
    }

    /// An empty chunk. Its vectors grow as rows come, not to
    /// [`CHUNK_ROWS`] at once: a partition of 10,000 filings would
    /// otherwise reserve room for 65,536 states (25 MB).
    fn new() -> Self {
        Chunk {
            states: Vec::new(),
            id_bytes: Vec::new(),
            id_offsets: vec![0],
            dirty: true,
            batch: None,
        }
    }

    /// Gives back the room reserved past the rows held.
    fn shrink_to_fit(&mut self) {
        self.states.shrink_to_fit();
        self.id_bytes.shrink_to_fit();
        self.id_offsets.shrink_to_fit();
    }

    fn id(&self, row: usize) -> &[u8] {
        &self.id_bytes[self.id_offsets[row] as usize..self.id_offsets[row + 1] as usize]
    }
}

/// What folding one event into the store did.
pub struct StoreApply {
    pub applied: Applied,
    /// The filing's contribution to the daily aggregates before and after.
    pub before: Contribution,
    pub after: Contribution,
    /// What its deadline alerts follow, before and after.
    pub deadline_before: Deadline,
    pub deadline_after: Deadline,
}

pub struct FilingStore {
    /// Row numbers, hashed and compared through the chunks' id bytes.
    index: HashTable<u32>,
    hasher: foldhash::quality::RandomState,
    chunks: Vec<Chunk>,
    procedures: Interner,
    len: usize,
}

impl Default for FilingStore {
    fn default() -> Self {
        FilingStore {
            index: HashTable::new(),
            hasher: foldhash::quality::RandomState::default(),
            chunks: Vec::new(),
            procedures: Interner::new(),
            len: 0,
        }
    }
}

impl FilingStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of filings held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Folds one event into its filing, creating the row on first sight.
    pub fn apply(&mut self, ev: &Event<'_>) -> StoreApply {
        let recall = |_: &[u8]| Ok::<_, std::convert::Infallible>(None);
        let Ok(applied) = self.apply_at(ev, 0, recall, &mut Vec::new());
        applied
    }

    /// Folds the event read at `offset`, asking `recall` for the state of a
    /// filing not held (one that went cold) before starting a new one;
    /// events it displaces (see [`FilingState::apply_at`]) are pushed to
    /// `displaced`. When `recall` fails nothing changed.
    pub fn apply_at<E>(
        &mut self,
        ev: &Event<'_>,
        offset: i64,
        recall: impl FnOnce(&[u8]) -> Result<Option<FilingState>, E>,
        displaced: &mut Vec<Displaced>,
    ) -> Result<StoreApply, E> {
        let row = self.row_for(ev.filing_id.as_bytes(), recall)?;
        let chunk = &mut self.chunks[row >> 16];
        let state = &mut chunk.states[row & (CHUNK_ROWS - 1)];
        let before = state.contribution();
        let deadline_before = state.deadline();
        let applied = state.apply_at(ev, offset, &mut self.procedures, displaced);
        // A refusal changes the log (it is remembered), so the chunk is
        // written again either way but for a duplicate.
        if applied != Applied::Duplicate {
            chunk.dirty = true;
        }
        Ok(StoreApply {
            applied,
            before,
            after: state.contribution(),
            deadline_before,
            deadline_after: state.deadline(),
        })
    }

    /// Replaces a filing's state with the fold of `events` (all read at
    /// `offset`): a filing fed by portal records is a function of its
    /// record in force and its steps, so it is folded afresh whenever they
    /// change. Returns what moved and the state it replaced (recalled from
    /// a cold file when it went cold). When `recall` fails nothing changed.
    pub fn rebuild_at<E>(
        &mut self,
        filing_id: &str,
        events: &[Event<'_>],
        offset: i64,
        recall: impl FnOnce(&[u8]) -> Result<Option<FilingState>, E>,
    ) -> Result<(StoreApply, FilingState), E> {
        let row = self.row_for(filing_id.as_bytes(), recall)?;
        let mut fresh = FilingState::new();
        let mut displaced = Vec::new();
        for ev in events {
            fresh.apply_at(ev, offset, &mut self.procedures, &mut displaced);
        }
        debug_assert!(displaced.is_empty(), "derived events never conflict");
        let chunk = &mut self.chunks[row >> 16];
        let state = &mut chunk.states[row & (CHUNK_ROWS - 1)];
        let (before, deadline_before) = (state.contribution(), state.deadline());
        let old = std::mem::replace(state, fresh);
        chunk.dirty = true;
        Ok((
            StoreApply {
                applied: Applied::Folded,
                before,
                after: state.contribution(),
                deadline_before,
                deadline_after: state.deadline(),
            },
            old,
        ))
    }

    /// The state of a filing, if held.
    pub fn get(&self, filing_id: &str) -> Option<&FilingState> {
        let key = filing_id.as_bytes();
        let hash = self.hash(key);
        let chunks = &self.chunks;
        self.index
            .find(hash, |&r| row_id(chunks, r as usize) == key)
            .map(|&r| &chunks[r as usize >> 16].states[r as usize & (CHUNK_ROWS - 1)])
    }

    fn hash(&self, key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    fn row_for<E>(
        &mut self,
        key: &[u8],
        recall: impl FnOnce(&[u8]) -> Result<Option<FilingState>, E>,
    ) -> Result<usize, E> {
        let hash = self.hash(key);
        let chunks = &self.chunks;
        if let Some(&r) = self
            .index
            .find(hash, |&r| row_id(chunks, r as usize) == key)
        {
            return Ok(r as usize);
        }
        let state = recall(key)?.unwrap_or_default();
        let row = self.len;
        if row.is_multiple_of(CHUNK_ROWS) {
            self.chunks.push(Chunk::new());
        }
        let chunk = self.chunks.last_mut().expect("a chunk was just ensured");
        chunk.states.push(state);
        chunk.id_bytes.extend_from_slice(key);
        chunk.id_offsets.push(chunk.id_bytes.len() as i32);
        chunk.dirty = true;
        self.len += 1;
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index.insert_unique(hash, row as u32, |&r| {
            use std::hash::BuildHasher;
            hasher.hash_one(row_id(chunks, r as usize))
        });
        Ok(row)
    }

    /// Every filing in row order: its id and state (what a checkpoint holds).
    pub fn rows(&self) -> impl Iterator<Item = (&[u8], &FilingState)> {
        self.chunks
            .iter()
            .flat_map(|c| (0..c.states.len()).map(move |i| (c.id(i), &c.states[i])))
    }

    /// The procedure codes the states' ids refer to.
    pub fn procedures(&self) -> &Interner {
        &self.procedures
    }

    /// An empty store whose states will refer to `procedures`.
    pub fn with_procedures(procedures: Interner) -> Self {
        FilingStore {
            procedures,
            ..FilingStore::default()
        }
    }

    /// Gives back the room the last chunk reserved past its rows (the
    /// others are full), after a restore or a rebuild; the next row grows
    /// it again.
    pub fn shrink_to_fit(&mut self) {
        if let Some(last) = self.chunks.last_mut() {
            last.shrink_to_fit();
        }
    }

    /// Adds a filing restored from a checkpoint; false if the id was
    /// already there (a corrupt checkpoint).
    pub fn restore_row(&mut self, filing_id: &[u8], state: FilingState) -> bool {
        let before = self.len;
        let Ok(row) = self.row_for(filing_id, |_| Ok::<_, std::convert::Infallible>(None));
        self.chunks[row >> 16].states[row & (CHUNK_ROWS - 1)] = state;
        self.len > before
    }

    /// Removes the filings `leave` picks and hands them back, in row
    /// order. The rest are rebuilt into fresh chunks (a once-a-day cost
    /// for the cold tier, paid in one pass).
    pub fn take_where(
        &mut self,
        leave: impl Fn(&FilingState) -> bool,
    ) -> Vec<(Vec<u8>, FilingState)> {
        if !self.rows().any(|(_, s)| leave(s)) {
            return Vec::new();
        }
        let old = std::mem::replace(self, FilingStore::with_procedures(Interner::new()));
        let FilingStore {
            chunks, procedures, ..
        } = old;
        *self = FilingStore::with_procedures(procedures);
        let mut taken = Vec::new();
        for chunk in chunks {
            // The states move; a clone would copy every filing's event log.
            let Chunk {
                states,
                id_bytes,
                id_offsets,
                ..
            } = chunk;
            for (i, state) in states.into_iter().enumerate() {
                let id = &id_bytes[id_offsets[i] as usize..id_offsets[i + 1] as usize];
                if leave(&state) {
                    taken.push((id.to_vec(), state));
                } else {
                    self.restore_row(id, state);
                }
            }
        }
        self.shrink_to_fit();
        taken
    }

    /// One Arrow batch per chunk, re-encoding (with `encode`, the
    /// publisher's) only the chunks that changed.
    pub(crate) fn batches(
        &mut self,
        encode: impl Fn(&Chunk, &Interner) -> RecordBatch,
    ) -> Vec<RecordBatch> {
        let procedures = &self.procedures;
        self.chunks
            .iter_mut()
            .map(|chunk| {
                if chunk.dirty || chunk.batch.is_none() {
                    chunk.batch = Some(encode(chunk, procedures));
                    chunk.dirty = false;
                }
                chunk.batch.clone().expect("encoded above")
            })
            .collect()
    }

    /// Bytes held by the rows and the index (not counting cached batches).
    pub fn state_bytes(&self) -> usize {
        let rows: usize = self
            .chunks
            .iter()
            .map(|c| {
                c.states.capacity() * std::mem::size_of::<FilingState>()
                    + c.id_bytes.capacity()
                    + c.id_offsets.capacity() * 4
            })
            .sum();
        rows + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

fn row_id(chunks: &[Chunk], row: usize) -> &[u8] {
    chunks[row >> 16].id(row & (CHUNK_ROWS - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoso_model::decode_event;

    fn event(filing: &str, seq: u32, kind: &str) -> Vec<u8> {
        format!(
            r#"{{"event_id":"{filing}-{seq}","filing_id":"{filing}","seq":{seq},"type":"{kind}","occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004","procedure_code":"1.001193","channel":"online","due_at":"2025-07-03T17:00:00+07:00"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn rows_are_found_again_across_chunks() {
        let mut store = FilingStore::new();
        let n = CHUNK_ROWS + 10;
        for i in 0..n {
            let bytes = event(&format!("F{i}"), 1, "received");
            store.apply(&decode_event(&bytes).unwrap());
        }
        assert_eq!(store.len(), n);
        for i in [0, 1, CHUNK_ROWS - 1, CHUNK_ROWS, n - 1] {
            let bytes = event(&format!("F{i}"), 2, "resolved");
            let r = store.apply(&decode_event(&bytes).unwrap());
            assert_eq!(r.applied, Applied::Folded);
            assert!(store.get(&format!("F{i}")).unwrap().ended_at().is_some());
        }
        assert_eq!(store.len(), n, "no new rows for known filings");
        assert!(store.get("nope").is_none());
        let batches = store.batches(crate::encode::filings);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), n);
    }

    #[test]
    fn clean_chunks_keep_their_batch() {
        let mut store = FilingStore::new();
        for i in 0..(CHUNK_ROWS + 1) {
            store.apply(&decode_event(&event(&format!("F{i}"), 1, "received")).unwrap());
        }
        let first = store.batches(crate::encode::filings);
        store.apply(&decode_event(&event("F0", 2, "processing")).unwrap());
        let second = store.batches(crate::encode::filings);
        // Chunk 1 did not change: the very same buffers are handed out.
        assert!(
            first[1]
                .column(0)
                .to_data()
                .ptr_eq(&second[1].column(0).to_data())
        );
        assert!(
            !first[0]
                .column(0)
                .to_data()
                .ptr_eq(&second[0].column(0).to_data())
        );
    }
}
