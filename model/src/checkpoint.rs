//! The checkpoint contract: where a partition's checkpoints are kept, and
//! the rules every store keeps, stated and enforced once here.
//!
//! A store (a local directory, an object store) only provides objects per
//! partition and a manifest, with [`CheckpointStore`]. [`save`] and [`load`]
//! are the only way checkpoints are written and read, and they keep these
//! promises whatever the store:
//!
//! 1. **Atomic.** After a crash at any instant, [`load`] returns either the
//!    previous checkpoint or the new one: the checkpoint object is written
//!    whole first, and only then does the manifest name it.
//! 2. **The manifest never moves backwards.** A save whose `next_offset` is
//!    below the one the manifest names writes nothing and answers
//!    [`Saved::Superseded`]: a member that lost the partition without
//!    knowing it yet (expelled from the group) must not put its older
//!    state over the new owner's.
//! 3. **A checkpoint names exactly the cold files it needs.** The manifest
//!    lists them with the checkpoint, each once, as relative paths; a cold
//!    file may be deleted only once no checkpoint a reader can still load
//!    names it, and a file no manifest names was written after the
//!    checkpoint and may be deleted on restore.
//! 4. **Only older checkpoints are deleted**, after the manifest moved: never
//!    the one it names, never a newer owner's.
//!
//! The bytes of a checkpoint are opaque here; the processor owns their
//! format.

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
    /// A checkpoint of a format this build does not read (written by a
    /// newer hoso, or too old to read).
    #[error(
        "checkpoint format version {found}; this hoso reads versions {oldest} to {newest} \
         (after a downgrade, run the newer hoso again; else rebuild the state with `hoso replay`)"
    )]
    Version {
        found: u32,
        oldest: u32,
        newest: u32,
    },
    /// The checkpoint asked of [`save`] breaks the contract (a bug, not a
    /// storage problem): nothing was written.
    #[error("checkpoint refused: {0}")]
    Refused(String),
}

/// Storage of checkpoint objects and one manifest per Kafka partition: the
/// primitives [`save`] and [`load`] build the contract from.
pub trait CheckpointStore: Send + Sync + fmt::Debug + 'static {
    /// Writes object `name` of the partition, atomically: after a crash it
    /// is whole or absent (leftovers of a partial write carry another name
    /// and are listed by [`CheckpointStore::list`]).
    fn put(&self, partition: i32, name: &str, bytes: &[u8]) -> Result<(), CheckpointError>;

    /// Object `name` of the partition, `None` when absent.
    fn get(&self, partition: i32, name: &str) -> Result<Option<Vec<u8>>, CheckpointError>;

    /// Replaces the partition's manifest, atomically.
    fn put_manifest(&self, partition: i32, text: &str) -> Result<(), CheckpointError>;

    /// The partition's manifest, `None` when it has none.
    fn manifest(&self, partition: i32) -> Result<Option<String>, CheckpointError>;

    /// Names of the partition's checkpoint objects (the manifest aside),
    /// leftovers of interrupted writes included.
    fn list(&self, partition: i32) -> Result<Vec<String>, CheckpointError>;

    fn delete(&self, partition: i32, name: &str) -> Result<(), CheckpointError>;

    /// Partitions that have a manifest, in order.
    fn partitions(&self) -> Result<Vec<i32>, CheckpointError>;
}

/// A checkpoint to save.
#[derive(Clone, Copy, Debug)]
pub struct Checkpoint<'a> {
    pub partition: i32,
    /// Where the partition resumes: the offset of the next message to read.
    pub next_offset: i64,
    pub bytes: &'a [u8],
    /// The cold files (relative paths) the state's rows are completed by.
    pub cold_files: &'a [String],
}

/// What a partition's manifest says: its latest checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The checkpoint object's name; it changes with every save.
    pub checkpoint: String,
    pub next_offset: i64,
    pub cold_files: Vec<String>,
}

/// What [`save`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// The manifest names a checkpoint further on (`current`): the
    /// partition has another owner; nothing was written.
    Superseded {
        current: i64,
    },
}

/// A checkpoint read by [`load`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub manifest: Manifest,
    pub bytes: Vec<u8>,
}

const PREFIX: &str = "checkpoint-";
const SUFFIX: &str = ".bin";
const COLD: &str = "cold ";

/// The object name of the checkpoint at `next_offset`: names sort as
/// offsets do.
pub fn object_name(next_offset: i64) -> String {
    format!("{PREFIX}{next_offset:020}{SUFFIX}")
}

/// The offset a checkpoint object's name says, `None` for anything else.
fn offset_of(name: &str) -> Option<i64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// A cold file's name as a manifest may hold it: relative, inside the
/// cold directory, one line.
fn valid_cold_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\n')
        && !name.split('/').any(|part| part.is_empty() || part == "..")
}

impl Manifest {
    pub fn encode(&self) -> String {
        let mut out = format!("{}\n", self.checkpoint);
        for f in &self.cold_files {
            out.push_str(COLD);
            out.push_str(f);
            out.push('\n');
        }
        out
    }

    /// Reads a manifest; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<Manifest, CheckpointError> {
        let corrupt = |why: String| CheckpointError::Corrupt(format!("{what}: {why}"));
        let mut lines = text.lines();
        let checkpoint = lines.next().unwrap_or_default().trim().to_string();
        let next_offset = offset_of(&checkpoint)
            .ok_or_else(|| corrupt(format!("names {checkpoint:?}, not a checkpoint")))?;
        let mut cold_files = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let name = line
                .strip_prefix(COLD)
                .filter(|n| valid_cold_name(n))
                .ok_or_else(|| corrupt(format!("line {line:?}")))?;
            cold_files.push(name.to_string());
        }
        Ok(Manifest {
            checkpoint,
            next_offset,
            cold_files,
        })
    }
}

/// Saves `cp` as its partition's checkpoint, keeping the contract (see the
/// module): refused when it names a cold file twice or by a bad name;
/// [`Saved::Superseded`] when the manifest is already further on.
pub fn save(store: &dyn CheckpointStore, cp: &Checkpoint<'_>) -> Result<Saved, CheckpointError> {
    let mut seen = std::collections::HashSet::new();
    for f in cp.cold_files {
        if !valid_cold_name(f) {
            return Err(CheckpointError::Refused(format!("cold file name {f:?}")));
        }
        if !seen.insert(f.as_str()) {
            return Err(CheckpointError::Refused(format!(
                "cold file {f} named twice"
            )));
        }
    }
    if cp.next_offset < 0 {
        return Err(CheckpointError::Refused(format!(
            "next offset {}",
            cp.next_offset
        )));
    }
    let p = cp.partition;
    if let Some(current) = latest(store, p)?
        && current.next_offset > cp.next_offset
    {
        return Ok(Saved::Superseded {
            current: current.next_offset,
        });
    }
    let name = object_name(cp.next_offset);
    store.put(p, &name, cp.bytes)?;
    let manifest = Manifest {
        checkpoint: name.clone(),
        next_offset: cp.next_offset,
        cold_files: cp.cold_files.to_vec(),
    };
    store.put_manifest(p, &manifest.encode())?;
    for other in store.list(p)? {
        // Older checkpoints, and leftovers of interrupted writes (never a
        // whole checkpoint further on: it is a newer owner's).
        let ours = other.starts_with(PREFIX) && other != name;
        let older = other < name;
        let leftover = offset_of(&other).is_none();
        if ours && (older || leftover) {
            store.delete(p, &other)?;
        }
    }
    Ok(Saved::Written)
}

/// The partition's manifest, `None` when it has no checkpoint. Cheap: a
/// reader polls it before loading.
pub fn latest(
    store: &dyn CheckpointStore,
    partition: i32,
) -> Result<Option<Manifest>, CheckpointError> {
    match store.manifest(partition)? {
        Some(text) => {
            Manifest::parse(&text, &format!("partition {partition}'s manifest")).map(Some)
        }
        None => Ok(None),
    }
}

/// The partition's latest checkpoint, `None` when it has none. A save
/// between reading the manifest and the object may delete the object; the
/// manifest then names a newer one, so it is read again (a few times).
pub fn load(
    store: &dyn CheckpointStore,
    partition: i32,
) -> Result<Option<Loaded>, CheckpointError> {
    for _ in 0..3 {
        let Some(manifest) = latest(store, partition)? else {
            return Ok(None);
        };
        if let Some(bytes) = store.get(partition, &manifest.checkpoint)? {
            return Ok(Some(Loaded { manifest, bytes }));
        }
    }
    Err(CheckpointError::Corrupt(format!(
        "partition {partition}'s manifest names a checkpoint that is not there"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_refuse_what_is_not_one() {
        let m = Manifest {
            checkpoint: object_name(42),
            next_offset: 42,
            cold_files: vec!["filings/province=01/month=2025-07/p0-1.parquet".into()],
        };
        assert_eq!(Manifest::parse(&m.encode(), "m").unwrap(), m);
        // The one-line manifests of earlier versions read as naming no file.
        let old = Manifest::parse("checkpoint-00000000000000000042.bin\n", "m").unwrap();
        assert_eq!(old.next_offset, 42);
        assert!(old.cold_files.is_empty());
        for bad in [
            "../x",
            "checkpoint-42.bin",
            "checkpoint-00000000000000000042.bin\nwhat\n",
            "checkpoint-00000000000000000042.bin\ncold ../../etc/passwd\n",
            "checkpoint-00000000000000000042.bin\ncold /abs\n",
        ] {
            assert!(
                matches!(Manifest::parse(bad, "m"), Err(CheckpointError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}
