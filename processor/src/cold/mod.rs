//! The cold tier: filings closed longer ago than a horizon leave memory for
//! Parquet files, so memory is bounded by open and recent filings.
//!
//! Files live under the cold directory in Hive-style paths,
//! `filings/province=PP/month=YYYY-MM/p<partition>-<seq>.parquet` (`month`
//! is that of the local day the filing ended, or was received for filings
//! closed without ending), so Spark, Trino or DuckDB read them as they are.
//! SQL's `filings` is the union of the hot rows and these files, published
//! together so a filing is never in both or in neither.
//!
//! Each daily pass writes small files; files of one province and month
//! are merged by size tier (two small ones, or four of a bigger tier, make
//! one), and into one `sealed` file once no daily pass can write to the
//! month (what it gets after that joins the month's small pending file), so a
//! year is a few hundred files, not tens of thousands, and each row is
//! rewritten a few times at most. Filings still expecting their `returned`
//! go to files of their own (`pending`): nearly every late event is for one
//! of them, so the file a recall rewrites is small. Settled filings, in the
//! big merged files, almost never come back.
//!
//! A late event for a cold filing brings it back: a Bloom filter over every
//! id sent cold answers "certainly not cold" for new filings in a few
//! probes; on a maybe, per-file filters name the candidate files, and the
//! row groups whose id statistics admit the id are read (`state` holds the
//! fold state). The file is rewritten without the filing. Files are part of
//! the checkpoint: a file is deleted only once a checkpoint no longer names
//! it, and files no checkpoint names (a crash between writing and
//! checkpointing) are deleted on restore.

mod bloom;
pub(crate) mod file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hoso_model::codec::{ByteReader, CodecError, put_bytes, put_i32, put_u8, put_u32};
use hoso_model::time::{civil_from_days, days_from_civil, local_day};
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
use crate::table_store::StoreDir;

/// Filings by id, as they leave or return to memory.
type Rows = Vec<(Vec<u8>, FilingState)>;

/// One Parquet file of closed filings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColdFile {
    /// Path under the cold directory.
    pub name: String,
    pub province: u8,
    /// The earliest day a filing in it closed; all are in that month.
    pub day: i32,
    pub rows: u32,
    /// Holds filings that still expect their `returned` event.
    pub pending: bool,
    /// The month's files merged once no daily pass writes to the month.
    pub sealed: bool,
    bloom: Bloom,
}

/// A file read to recall a filing, to be rewritten without it.
struct Recalled {
    file: usize,
    rest: Rows,
}

/// A cold file's flags in the checkpoint.
const PENDING: u8 = 1;
const SEALED: u8 = 2;

/// This many files of one size tier (and province, month, pending) are
/// merged into one.
const MERGE_FAN_IN: usize = 4;

/// A sealed month's pending file up to this size takes in what the month
/// still gets; a bigger one (a source that never sends `returned`) is not
/// rewritten for a few rows.
const ABSORB_MAX_ROWS: u32 = 16_384;

/// Files of `tier` merged at a time: small files two at a time, since a
/// query pays for every file it opens and rewriting a small file is cheap.
fn fan_in(tier: u32) -> usize {
    if tier == 0 { 2 } else { MERGE_FAN_IN }
}

/// A file's size tier: under 4,096 rows 0, then one more for each four
/// times as many.
fn tier(rows: u32) -> u32 {
    (rows / 1024).max(1).ilog2() / 2
}

/// The first day of `day`'s month.
fn month_start(day: i32) -> i32 {
    let (y, m, _) = civil_from_days(i64::from(day));
    days_from_civil(y, m, 1) as i32
}

/// The first day of the month after `day`'s.
fn next_month_start(day: i32) -> i32 {
    let (y, m, _) = civil_from_days(i64::from(day));
    if m == 12 {
        days_from_civil(y + 1, 1, 1) as i32
    } else {
        days_from_civil(y, m + 1, 1) as i32
    }
}

pub struct ColdTier {
    partition: i32,
    /// `None`: no cold tier, everything stays in memory (or, with `remote`
    /// only, a query node's read-only view of the files).
    dir: Option<Arc<Path>>,
    /// The table store the files are made durable in, when it is not `dir`
    /// itself; `dir` is then this machine's copy of the files it wrote or
    /// read, and a file it lacks (a partition taken over) is downloaded.
    remote: Option<StoreDir>,
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
            remote: None,
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
    pub fn configure(&mut self, dir: Option<Arc<Path>>, remote: Option<StoreDir>, after_days: i32) {
        self.dir = dir;
        self.remote = remote;
        self.after_days = after_days.max(0);
    }

    pub fn files(&self) -> &[ColdFile] {
        &self.files
    }

    /// The files' names (paths under the cold directory), in order.
    pub fn names(&self) -> Vec<String> {
        self.files.iter().map(|f| f.name.clone()).collect()
    }

    /// The cold files a checkpoint of this state needs: every file of the
    /// tier, and only those. Refused while a recall is half done (a file
    /// still holds a filing that is back in memory) or when a file named
    /// is also set for deletion: a checkpoint then would count a filing
    /// twice or name a file that goes.
    pub fn needed_files(&self) -> Result<Vec<String>, String> {
        if self.has_recalled() {
            return Err("a cold file is being rewritten after a recall".into());
        }
        let names = self.names();
        if let Some(n) = names
            .iter()
            .find(|n| self.garbage.contains(n) || self.aging.contains(n))
        {
            return Err(format!("cold file {n} is both named and set for deletion"));
        }
        Ok(names)
    }

    /// Where SQL reads the files: their URLs in the table store when there
    /// is one (this machine has only the files it needed), else absolute
    /// paths under the cold directory.
    pub fn paths(&self) -> Vec<String> {
        match (&self.dir, &self.remote) {
            (_, Some(remote)) => self
                .files
                .iter()
                .map(|f| remote.store.url(&remote.rel(&f.name)))
                .collect(),
            (Some(dir), None) => {
                let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
                self.files
                    .iter()
                    .map(|f| dir.join(&f.name).to_string_lossy().into_owned())
                    .collect()
            }
            (None, None) => Vec::new(),
        }
    }

    /// Makes a file just written under `dir` durable in the table store
    /// (nothing to do when `dir` is the store).
    fn publish_file(&self, dir: &Path, name: &str) -> Result<(), ColdError> {
        if let Some(r) = &self.remote {
            r.store
                .upload(&dir.join(name), &r.rel(name))
                .map_err(|e| ColdError::Store {
                    path: name.to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// The local path of `name`, downloaded from the table store first
    /// when this machine does not have it (the store's client retries a
    /// failing call itself, with backoff).
    fn local_file(&self, dir: &Path, name: &str) -> Result<PathBuf, ColdError> {
        let path = dir.join(name);
        if let Some(r) = &self.remote
            && !path.exists()
        {
            r.store
                .download(&r.rel(name), &path)
                .map_err(|e| ColdError::Store {
                    path: name.to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(path)
    }

    /// Deletes a file here and in the table store.
    fn delete_file(&self, dir: &Path, name: &str) -> Result<(), String> {
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => {}
            // Only in the store: a file this machine never needed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.remote.is_some() => {}
            Err(e) => return Err(e.to_string()),
        }
        if let Some(r) = &self.remote {
            r.store.delete(&r.rel(name)).map_err(|e| e.to_string())?;
        }
        Ok(())
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
        // By province, month and pending; the earliest day of each.
        let mut groups: BTreeMap<(u8, i32, bool), (i32, Rows)> = BTreeMap::new();
        for (id, s) in taken {
            let day = closed_day(&s).expect("picked for being closed");
            let key = (s.province(), month_start(day), !settled(&s));
            let group = groups.entry(key).or_insert((day, Vec::new()));
            group.0 = group.0.min(day);
            group.1.push((id, s));
        }
        let mut written: Vec<ColdFile> = Vec::new();
        let mut failure = None;
        for ((province, _, pending), (day, rows)) in groups.iter_mut() {
            let flags = (*pending, false);
            match self.write_file(&dir, *province, *day, flags, rows, store.procedures()) {
                Ok(f) => written.push(f),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            for f in &written {
                let _ = self.delete_file(&dir, &f.name);
            }
            for (_, rows) in groups.into_values() {
                for (id, s) in rows {
                    store.restore_row(&id, s);
                }
            }
            return Err(e);
        }
        for (_, rows) in groups.values() {
            for (id, _) in rows {
                self.bloom.insert(id_hash(id));
            }
        }
        self.files.extend(written);
        if self.bloom.is_full() {
            self.rebuild_bloom(&dir)?;
        }
        self.merge(&dir, store.procedures(), watermark_day);
        Ok(n)
    }

    /// Merges files of one province, month and pending flag. Once no
    /// daily pass writes to a month any more (it ended more than the
    /// unreturned horizon ago), its files become one `sealed` file, and
    /// the few files a sealed month still gets (filings a late event
    /// recalled, moving back) join its pending file when that is small, or
    /// are merged into one beside it. Before that,
    /// files of one size tier are merged [`fan_in`] at a time. A file that
    /// cannot be read or written leaves the files as they are: merging is
    /// an optimisation, never a reason to lose a row.
    fn merge(&mut self, dir: &Path, procedures: &Interner, watermark_day: i32) {
        debug_assert!(self.recalled.is_empty(), "merge between messages only");
        let closed_before =
            watermark_day.saturating_sub(self.after_days.saturating_mul(UNRETURNED_FACTOR));
        loop {
            let mut groups: BTreeMap<(u8, i32, bool), Vec<usize>> = BTreeMap::new();
            let mut sealed = std::collections::BTreeSet::new();
            for (i, f) in self.files.iter().enumerate() {
                let key = (f.province, month_start(f.day), f.pending);
                if f.sealed {
                    sealed.insert(key);
                } else {
                    groups.entry(key).or_default().push(i);
                }
            }
            let mut pick = None;
            for (key, members) in groups {
                let month_done = next_month_start(key.1) <= closed_before;
                if month_done && !sealed.contains(&key) {
                    pick = Some((key, members, true));
                    break;
                }
                if sealed.contains(&key) {
                    // What a sealed month still gets is a few rows now and
                    // then. They join the month's small sealed pending file
                    // (a query pays for every file, and that one is cheap
                    // to rewrite); without one, they make one file of
                    // their own, whatever their tiers.
                    let pending_file = self.files.iter().position(|f| {
                        f.sealed
                            && f.pending
                            && f.province == key.0
                            && month_start(f.day) == key.1
                            && f.rows <= ABSORB_MAX_ROWS
                    });
                    if let Some(p) = pending_file {
                        let mut members = members;
                        members.push(p);
                        pick = Some(((key.0, key.1, true), members, true));
                        break;
                    }
                    if members.len() >= 2 {
                        pick = Some((key, members, false));
                        break;
                    }
                    continue;
                }
                let mut tiers: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
                for i in members {
                    tiers.entry(tier(self.files[i].rows)).or_default().push(i);
                }
                if let Some(same) = tiers
                    .into_iter()
                    .find(|(tier, v)| v.len() >= fan_in(*tier))
                    .map(|(_, v)| v)
                {
                    pick = Some((key, same, false));
                    break;
                }
            }
            let Some(((province, _, pending), members, seal)) = pick else {
                return;
            };
            if let [only] = members[..] {
                // Already one file: sealing it is a flag, not a rewrite.
                self.files[only].sealed = true;
                continue;
            }
            let inputs: Result<Vec<PathBuf>, ColdError> = members
                .iter()
                .map(|&i| self.local_file(dir, &self.files[i].name))
                .collect();
            let inputs = match inputs {
                Ok(paths) => paths,
                Err(e) => {
                    warn!(partition = self.partition, error = %e, "cannot fetch cold files to merge; merging stops");
                    return;
                }
            };
            let expected: u64 = members.iter().map(|&i| u64::from(self.files[i].rows)).sum();
            let day = members
                .iter()
                .map(|&i| self.files[i].day)
                .min()
                .unwrap_or(0);
            let name = self.next_name(province, day);
            let mut bloom = Bloom::with_capacity(expected as usize, FILE_BITS);
            let merged = file::merge(&inputs, &dir.join(&name), procedures, |id| {
                bloom.insert(id_hash(id))
            });
            let merged = merged.and_then(|rows| {
                if rows == expected {
                    self.publish_file(dir, &name)?;
                }
                Ok(rows)
            });
            match merged {
                Ok(rows) if rows == expected => {}
                Ok(rows) => {
                    // The files say other than the checkpoint: keep them.
                    error!(
                        partition = self.partition,
                        rows, expected, "a merge read other than the files' rows; merging stops"
                    );
                    let _ = std::fs::remove_file(dir.join(&name));
                    return;
                }
                Err(e) => {
                    warn!(partition = self.partition, error = %e, "cannot merge cold files; merging stops");
                    let _ = std::fs::remove_file(dir.join(&name));
                    return;
                }
            }
            let merged = ColdFile {
                name,
                province,
                day,
                rows: expected as u32,
                pending,
                sealed: seal,
                bloom,
            };
            // Highest index first, so removals keep the lower indexes valid.
            let mut members = members;
            members.sort_unstable();
            for &i in members.iter().rev() {
                let old = self.files.remove(i);
                self.garbage.push(old.name);
            }
            self.files.push(merged);
        }
    }

    fn write_file(
        &mut self,
        dir: &Path,
        province: u8,
        day: i32,
        (pending, sealed): (bool, bool),
        rows: &mut [(Vec<u8>, FilingState)],
        procedures: &Interner,
    ) -> Result<ColdFile, ColdError> {
        let name = self.next_name(province, day);
        file::write(&dir.join(&name), rows, procedures)?;
        if let Err(e) = self.publish_file(dir, &name) {
            let _ = std::fs::remove_file(dir.join(&name));
            return Err(e);
        }
        let mut bloom = Bloom::with_capacity(rows.len(), FILE_BITS);
        for (id, _) in rows.iter() {
            bloom.insert(id_hash(id));
        }
        Ok(ColdFile {
            name,
            province,
            day,
            rows: rows.len() as u32,
            pending,
            sealed,
            bloom,
        })
    }

    /// A name no file of this partition had: its province and the month
    /// of `day`, and the next number.
    fn next_name(&mut self, province: u8, day: i32) -> String {
        let (y, m, _) = civil_from_days(i64::from(day));
        let name = format!(
            "filings/province={province:02}/month={y:04}-{m:02}/p{}-{:010}.parquet",
            self.partition, self.next_seq
        );
        self.next_seq += 1;
        name
    }

    /// Sizes the partition's filter for twice what it holds, from the files.
    fn rebuild_bloom(&mut self, dir: &Path) -> Result<(), ColdError> {
        let mut bloom = Bloom::with_capacity(self.bloom.len() * 2, PARTITION_BITS);
        for f in &self.files {
            for (id, _) in file::read_states(&self.local_file(dir, &f.name)?)? {
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
    ///
    /// A file that may hold it and cannot be read is an error, and the
    /// event must not be folded: into a fresh state it would count the
    /// filing twice, for good. The caller stops; a restart reads on from
    /// the last checkpoint.
    pub fn recall(&mut self, id: &[u8]) -> Result<Option<FilingState>, ColdError> {
        // Every new filing asks: answer "not cold" before any other work.
        if self.files.is_empty() {
            return Ok(None);
        }
        let h = id_hash(id);
        if !self.bloom.may_contain(h) {
            return Ok(None);
        }
        let Some(dir) = self.dir.clone() else {
            return Ok(None);
        };
        // Pending files first: nearly every recall is for one of them.
        let order = (0..self.files.len())
            .rev()
            .filter(|&i| self.files[i].pending)
            .chain(
                (0..self.files.len())
                    .rev()
                    .filter(|&i| !self.files[i].pending),
            );
        for i in order {
            if !self.files[i].bloom.may_contain(h) {
                continue;
            }
            // A file already read for a recall of this message.
            if let Some(r) = self.recalled.iter_mut().find(|r| r.file == i) {
                if let Some(at) = r.rest.iter().position(|(x, _)| x == id) {
                    self.recalls += 1;
                    return Ok(Some(r.rest.swap_remove(at).1));
                }
                continue;
            }
            // Look in the row groups that may hold it; read the whole file
            // (to rewrite it) only when it does.
            let path = self.local_file(&dir, &self.files[i].name)?;
            let Some(_) = file::find_state(&path, id)? else {
                continue;
            };
            let mut rows = file::read_states(&path)?;
            if let Some(at) = rows.iter().position(|(x, _)| x == id) {
                let (_, state) = rows.swap_remove(at);
                self.recalls += 1;
                self.recalled.push(Recalled {
                    file: i,
                    rest: rows,
                });
                return Ok(Some(state));
            }
        }
        Ok(None)
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
        for Recalled { file: i, mut rest } in recalled {
            let old = self.files[i].clone();
            if rest.is_empty() {
                self.files.remove(i);
            } else {
                match self.write_file(
                    &dir,
                    old.province,
                    old.day,
                    (old.pending, old.sealed),
                    &mut rest,
                    store.procedures(),
                ) {
                    Ok(f) => self.files[i] = f,
                    Err(e) => {
                        warn!(partition = self.partition, error = %e, file = %old.name,
                            "cannot rewrite a cold file; its filings return to memory");
                        for (id, s) in rest {
                            store.restore_row(&id, s);
                        }
                        self.files.remove(i);
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
            if let Err(e) = self.delete_file(dir, &name) {
                warn!(file = %name, error = %e, "cannot delete an old cold file");
            }
        }
    }

    /// With `restored`, deletes this partition's files that the restored
    /// checkpoint does not name: written after it, by a process that died
    /// before the next (on this machine or, with a table store, any); the
    /// ones it had let go of are deleted two checkpoints from now.
    /// Either way, new files are numbered past every one that exists, so a
    /// name never comes back with other rows (query engines cache footers
    /// by name).
    pub fn remove_orphans(&mut self, restored: bool) {
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let known: std::collections::HashSet<&str> =
            self.files.iter().map(|f| f.name.as_str()).collect();
        // Every file of the partition: (name under the cold directory, here).
        let mut found: BTreeMap<String, bool> = BTreeMap::new();
        let mut stack = vec![dir.join("filings")];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&dir) {
                    found.insert(rel.to_string_lossy().into_owned(), true);
                }
            }
        }
        if let Some(r) = &self.remote {
            match r.store.list(&r.rel("filings")) {
                Ok(objects) => {
                    for (rel, _) in objects {
                        if let Some(name) = rel.strip_prefix(&r.rel("")) {
                            found.entry(name.to_string()).or_insert(false);
                        }
                    }
                }
                Err(e) => {
                    // Numbering past what is here only could reuse a name
                    // that is there: number from the clock instead (in
                    // microseconds, past any count of files), and leave
                    // orphans to a later restore.
                    error!(partition = self.partition, error = %e, "cannot list the cold files in the table store; numbering new files from the clock");
                    let micros = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_micros() as u64);
                    self.next_seq = self.next_seq.max(micros);
                    return;
                }
            }
        }
        let prefix = format!("p{}-", self.partition);
        // Numbered before the checkpoint was written: files it had already
        // let go of (merged, rewritten), which a query node one checkpoint
        // behind may still read. They age out like any garbage.
        let checkpointed_seq = self.next_seq;
        let (mut removed, mut failed, mut aging) = (0usize, 0usize, 0usize);
        for name in found.keys() {
            let file = name.rsplit('/').next().unwrap_or_default();
            let Some(rest) = file.strip_prefix(&prefix) else {
                continue;
            };
            let seq = rest.split('.').next().and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                self.next_seq = self.next_seq.max(seq + 1);
            }
            if restored && !known.contains(name.as_str()) {
                if seq.is_some_and(|seq| seq < checkpointed_seq) {
                    self.garbage.push(name.clone());
                    aging += 1;
                    continue;
                }
                // Written after the checkpoint by a process that died.
                match self.delete_file(&dir, name) {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        failed += 1;
                        warn!(file = %name, error = %e, "cannot remove a cold file no checkpoint names");
                    }
                }
            }
        }
        if removed + failed + aging > 0 {
            info!(
                partition = self.partition,
                removed, failed, aging, "cold files no checkpoint names"
            );
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
            put_u8(
                out,
                (u8::from(f.pending) * PENDING) | (u8::from(f.sealed) * SEALED),
            );
            f.bloom.encode(out);
        }
    }

    /// Checkpoints before version 4 do not say which files are pending:
    /// theirs are taken as pending, which only keeps them out of merges
    /// with newer settled files.
    pub fn decode(
        r: &mut ByteReader<'_>,
        partition: i32,
        version: u32,
    ) -> Result<ColdTier, CodecError> {
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
            let (province, day, rows) = (r.u8()?, r.i32()?, r.u32()?);
            let flags = if version < 4 { PENDING } else { r.u8()? };
            tier.files.push(ColdFile {
                name,
                province,
                day,
                rows,
                pending: flags & PENDING != 0,
                sealed: flags & SEALED != 0,
                bloom: Bloom::decode(r)?,
            });
        }
        Ok(tier)
    }
}

#[cfg(test)]
mod tests;
