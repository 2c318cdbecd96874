//! The cold tier: filings closed longer ago than a horizon leave memory for
//! Parquet files, so memory is bounded by open and recent filings.
//!
//! Files live under the cold directory in Hive-style paths,
//! `filings/province=PP/day=YYYY-MM-DD/p<partition>-<seq>.parquet` (`day`
//! is the local day the filing ended, or was received for filings closed
//! without ending), so Spark, Trino or DuckDB read them as they are. SQL's
//! `filings` is the union of the hot rows and these files, published
//! together so a filing is never in both or in neither.
//!
//! A late event for a cold filing brings it back: a Bloom filter over every
//! id sent cold answers "certainly not cold" for new filings in a few
//! probes; on a maybe, per-file filters name the file, whose `state` column
//! holds the fold state. The file is rewritten without the filing. Files
//! are part of the checkpoint: a file is deleted only once a checkpoint no
//! longer names it, and files no checkpoint names (a crash between writing
//! and checkpointing) are deleted on restore.

mod bloom;
mod file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hoso_model::codec::{ByteReader, CodecError, put_bytes, put_i32, put_u8, put_u32};
use hoso_model::time::{format_day, local_day};
use hoso_model::{FilingState, Interner};
use tracing::{error, info, warn};

pub use bloom::{Bloom, id_hash};

/// Bits per id: the partition's filter, asked for every new filing, at
/// about 0.1% false positives; a file's, asked only after that one said
/// maybe, at about 1%.
const PARTITION_BITS: usize = 15;
const FILE_BITS: usize = 10;
pub use file::{ColdError, STATE};

use crate::store::FilingStore;

/// Filings by id, as they leave or return to memory.
type Rows = Vec<(Vec<u8>, FilingState)>;

/// One Parquet file of closed filings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColdFile {
    /// Path under the cold directory.
    pub name: String,
    pub province: u8,
    pub day: i32,
    pub rows: u32,
    bloom: Bloom,
}

/// A file read to recall a filing, to be rewritten without it.
struct Recalled {
    file: usize,
    rest: Rows,
}

pub struct ColdTier {
    partition: i32,
    /// `None`: no cold tier, everything stays in memory.
    dir: Option<Arc<Path>>,
    after_days: i32,
    files: Vec<ColdFile>,
    /// Every id sent cold by this partition (recalled ones too: a false
    /// positive costs a look at the per-file filters, nothing more).
    bloom: Bloom,
    next_seq: u64,
    /// Watermark day of the last eviction pass.
    last_pass_day: i32,
    recalled: Vec<Recalled>,
    /// Files no longer in the tier, deleted after the next checkpoint but
    /// one (`aging`), so a query still reading an older snapshot finds them.
    garbage: Vec<String>,
    aging: Vec<String>,
    /// Filings brought back by a late event since start (for `hoso
    /// bench`; not checkpointed).
    recalls: u64,
}

/// The local day a closed filing is filed under, `None` while it is open
/// (or has no time at all).
pub fn closed_day(s: &FilingState) -> Option<i32> {
    if !s.is_closed() {
        return None;
    }
    s.ended_at().or(s.received_at()).map(local_day)
}

/// A filing resolved or stopped whose result has not been handed over
/// still expects its `returned` event, days later when the citizen comes
/// to collect it: it stays in memory this many times longer, so that the
/// common late `returned` does not recall it (a recall rewrites a file).
const UNRETURNED_FACTOR: i32 = 4;

/// Whether nothing more is expected of a closed filing: its result was
/// handed over, or it never had one (withdrawn, refused at intake).
fn settled(s: &FilingState) -> bool {
    s.is_returned() || s.is_withdrawn() || s.is_not_received()
}

impl ColdTier {
    pub fn new(partition: i32, dir: Option<Arc<Path>>, after_days: i32) -> Self {
        ColdTier {
            partition,
            dir,
            after_days: after_days.max(0),
            files: Vec::new(),
            bloom: Bloom::with_capacity(1 << 16, PARTITION_BITS),
            next_seq: 0,
            last_pass_day: i32::MIN,
            recalled: Vec::new(),
            garbage: Vec::new(),
            aging: Vec::new(),
            recalls: 0,
        }
    }

    /// The same files under other settings.
    pub fn configure(&mut self, dir: Option<Arc<Path>>, after_days: i32) {
        self.dir = dir;
        self.after_days = after_days.max(0);
    }

    pub fn files(&self) -> &[ColdFile] {
        &self.files
    }

    /// Absolute paths of the files, for SQL.
    pub fn paths(&self) -> Vec<PathBuf> {
        match &self.dir {
            Some(dir) => self.files.iter().map(|f| dir.join(&f.name)).collect(),
            None => Vec::new(),
        }
    }

    /// Filings brought back by a late event since start.
    pub fn recalls(&self) -> u64 {
        self.recalls
    }

    /// Rows held in files.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| u64::from(f.rows)).sum()
    }

    /// Bytes of memory the filters take.
    pub fn memory_bytes(&self) -> usize {
        self.bloom.bytes()
            + self
                .files
                .iter()
                .map(|f| f.bloom.bytes() + f.name.len() + 48)
                .sum::<usize>()
    }

    /// An eviction pass is due: the watermark reached a new day.
    pub fn due(&self, watermark_day: i32) -> bool {
        self.dir.is_some() && watermark_day > self.last_pass_day
    }

    /// Moves the filings closed before `watermark_day - after_days` to
    /// files. On failure every filing is back in `store` and nothing of
    /// the pass remains.
    pub fn evict(
        &mut self,
        store: &mut FilingStore,
        watermark_day: i32,
    ) -> Result<usize, ColdError> {
        let Some(dir) = self.dir.clone() else {
            return Ok(0);
        };
        self.last_pass_day = watermark_day;
        let cutoff = watermark_day.saturating_sub(self.after_days);
        let unreturned_cutoff =
            watermark_day.saturating_sub(self.after_days.saturating_mul(UNRETURNED_FACTOR));
        let taken = store.take_where(|s| {
            let before = if settled(s) {
                cutoff
            } else {
                unreturned_cutoff
            };
            closed_day(s).is_some_and(|d| d < before)
        });
        if taken.is_empty() {
            return Ok(0);
        }
        let n = taken.len();
        let mut groups: BTreeMap<(u8, i32), Rows> = BTreeMap::new();
        for (id, s) in taken {
            let day = closed_day(&s).expect("picked for being closed");
            groups.entry((s.province(), day)).or_default().push((id, s));
        }
        let mut written: Vec<ColdFile> = Vec::new();
        let mut failure = None;
        for ((province, day), rows) in groups.iter_mut() {
            match self.write_file(&dir, *province, *day, rows, store.procedures()) {
                Ok(f) => written.push(f),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            for f in &written {
                let _ = std::fs::remove_file(dir.join(&f.name));
            }
            for rows in groups.into_values() {
                for (id, s) in rows {
                    store.restore_row(&id, s);
                }
            }
            return Err(e);
        }
        for rows in groups.values() {
            for (id, _) in rows {
                self.bloom.insert(id_hash(id));
            }
        }
        self.files.extend(written);
        if self.bloom.is_full() {
            self.rebuild_bloom(&dir)?;
        }
        Ok(n)
    }

    fn write_file(
        &mut self,
        dir: &Path,
        province: u8,
        day: i32,
        rows: &mut [(Vec<u8>, FilingState)],
        procedures: &Interner,
    ) -> Result<ColdFile, ColdError> {
        let name = format!(
            "filings/province={province:02}/day={}/p{}-{:010}.parquet",
            format_day(day),
            self.partition,
            self.next_seq
        );
        self.next_seq += 1;
        file::write(&dir.join(&name), rows, procedures)?;
        let mut bloom = Bloom::with_capacity(rows.len(), FILE_BITS);
        for (id, _) in rows.iter() {
            bloom.insert(id_hash(id));
        }
        Ok(ColdFile {
            name,
            province,
            day,
            rows: rows.len() as u32,
            bloom,
        })
    }

    /// Sizes the partition's filter for twice what it holds, from the files.
    fn rebuild_bloom(&mut self, dir: &Path) -> Result<(), ColdError> {
        let mut bloom = Bloom::with_capacity(self.bloom.len() * 2, PARTITION_BITS);
        for f in &self.files {
            for (id, _) in file::read_states(&dir.join(&f.name))? {
                bloom.insert(id_hash(&id));
            }
        }
        info!(
            partition = self.partition,
            filings = bloom.len(),
            bytes = bloom.bytes(),
            "cold filter resized"
        );
        self.bloom = bloom;
        Ok(())
    }

    /// The state of a cold filing, taken out of its file (rewritten by
    /// [`ColdTier::finish_recall`]); `None` when it is not cold.
    pub fn recall(&mut self, id: &[u8]) -> Option<FilingState> {
        // Every new filing asks: answer "not cold" before any other work.
        if self.files.is_empty() {
            return None;
        }
        let h = id_hash(id);
        if !self.bloom.may_contain(h) {
            return None;
        }
        let dir = self.dir.clone()?;
        for i in (0..self.files.len()).rev() {
            if !self.files[i].bloom.may_contain(h) || self.recalled.iter().any(|r| r.file == i) {
                continue;
            }
            let path = dir.join(&self.files[i].name);
            let mut rows = match file::read_states(&path) {
                Ok(rows) => rows,
                Err(e) => {
                    // The filing may be in it: folding the event into a
                    // fresh state would count the filing twice. Say so loudly.
                    error!(partition = self.partition, error = %e, "cannot read a cold file; an event for a filing in it starts a new row");
                    continue;
                }
            };
            if let Some(at) = rows.iter().position(|(x, _)| x == id) {
                let (_, state) = rows.swap_remove(at);
                self.recalls += 1;
                self.recalled.push(Recalled {
                    file: i,
                    rest: rows,
                });
                return Some(state);
            }
        }
        None
    }

    /// True when a recall awaits [`ColdTier::finish_recall`].
    pub fn has_recalled(&self) -> bool {
        !self.recalled.is_empty()
    }

    /// Rewrites the files filings were recalled from, without them. A file
    /// that cannot be rewritten has its other filings brought back into
    /// `store` instead: never shown twice, never lost.
    pub fn finish_recall(&mut self, store: &mut FilingStore) {
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let mut recalled = std::mem::take(&mut self.recalled);
        // Highest index first, so removals keep the lower indexes valid.
        recalled.sort_by_key(|r| std::cmp::Reverse(r.file));
        for mut r in recalled {
            let old = self.files[r.file].clone();
            if r.rest.is_empty() {
                self.files.remove(r.file);
            } else {
                match self.write_file(&dir, old.province, old.day, &mut r.rest, store.procedures())
                {
                    Ok(f) => self.files[r.file] = f,
                    Err(e) => {
                        warn!(partition = self.partition, error = %e, file = %old.name,
                            "cannot rewrite a cold file; its filings return to memory");
                        for (id, s) in r.rest {
                            store.restore_row(&id, s);
                        }
                        self.files.remove(r.file);
                    }
                }
            }
            self.garbage.push(old.name);
        }
    }

    /// A checkpoint that no longer names the garbage is durable: delete
    /// what the checkpoint before it already did not name.
    pub fn collect_garbage(&mut self) {
        let Some(dir) = &self.dir else {
            return;
        };
        let old = std::mem::replace(&mut self.aging, std::mem::take(&mut self.garbage));
        for name in old {
            if let Err(e) = std::fs::remove_file(dir.join(&name)) {
                warn!(file = %name, error = %e, "cannot delete an old cold file");
            }
        }
    }

    /// Deletes this partition's files that the restored checkpoint does
    /// not name: written after it, by a process that died before the next.
    pub fn remove_orphans(&self) {
        let Some(dir) = &self.dir else {
            return;
        };
        let prefix = format!("p{}-", self.partition);
        let known: std::collections::HashSet<PathBuf> = self.paths().into_iter().collect();
        let mut stack = vec![dir.join("filings")];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if e.file_name().to_string_lossy().starts_with(&prefix)
                    && !known.contains(&path)
                {
                    info!(file = %path.display(), "removing a cold file no checkpoint names");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.next_seq.to_le_bytes());
        put_i32(out, self.last_pass_day);
        self.bloom.encode(out);
        put_u32(out, self.files.len() as u32);
        for f in &self.files {
            put_bytes(out, f.name.as_bytes());
            put_u8(out, f.province);
            put_i32(out, f.day);
            put_u32(out, f.rows);
            f.bloom.encode(out);
        }
    }

    pub fn decode(r: &mut ByteReader<'_>, partition: i32) -> Result<ColdTier, CodecError> {
        let mut tier = ColdTier::new(partition, None, 0);
        tier.next_seq = u64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes"));
        tier.last_pass_day = r.i32()?;
        tier.bloom = Bloom::decode(r)?;
        let n = r.count(13)?;
        for _ in 0..n {
            let name = String::from_utf8(r.bytes()?.to_vec())
                .map_err(|_| CodecError::Corrupt("cold file name".into()))?;
            if name.contains("..") || name.starts_with('/') {
                return Err(CodecError::Corrupt(format!("cold file name {name:?}")));
            }
            tier.files.push(ColdFile {
                name,
                province: r.u8()?,
                day: r.i32()?,
                rows: r.u32()?,
                bloom: Bloom::decode(r)?,
            });
        }
        Ok(tier)
    }
}

#[cfg(test)]
mod tests;
