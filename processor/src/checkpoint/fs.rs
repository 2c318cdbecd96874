//! Checkpoints in a local directory, written so a crash at any instant
//! leaves either the old or the new checkpoint readable:
//!
//! 1. write `partition-P/checkpoint-OFFSET.bin.tmp`, fsync it;
//! 2. rename it to `checkpoint-OFFSET.bin`, fsync the directory;
//! 3. write `MANIFEST.tmp` naming that file, fsync, rename to `MANIFEST`,
//!    fsync the directory;
//! 4. only then delete older checkpoint files.
//!
//! `load` trusts only what `MANIFEST` names; leftovers of an interrupted
//! save are ignored and cleaned up by the next one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use hoso_model::checkpoint::{CheckpointError, CheckpointStore};

const MANIFEST: &str = "MANIFEST";

/// The checkpoint file a manifest names, or what it names instead.
pub(super) fn checked_name(manifest: &str) -> Result<String, String> {
    let name = manifest.trim();
    let valid =
        name.starts_with("checkpoint-") && name.ends_with(".bin") && !name.contains(['/', '\\']);
    if valid {
        Ok(name.to_string())
    } else {
        Err(name.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct FsCheckpointStore {
    root: PathBuf,
}

impl FsCheckpointStore {
    /// Checkpoints under `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, CheckpointError> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(FsCheckpointStore { root })
    }

    fn dir(&self, partition: i32) -> PathBuf {
        self.root.join(format!("partition-{partition}"))
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

impl CheckpointStore for FsCheckpointStore {
    fn save(&self, partition: i32, next_offset: i64, bytes: &[u8]) -> Result<(), CheckpointError> {
        let dir = self.dir(partition);
        fs::create_dir_all(&dir)?;
        let name = format!("checkpoint-{next_offset:020}.bin");
        let tmp = dir.join(format!("{name}.tmp"));
        write_durably(&tmp, bytes)?;
        fs::rename(&tmp, dir.join(&name))?;
        sync_dir(&dir)?;
        let manifest_tmp = dir.join(format!("{MANIFEST}.tmp"));
        write_durably(&manifest_tmp, format!("{name}\n").as_bytes())?;
        fs::rename(&manifest_tmp, dir.join(MANIFEST))?;
        sync_dir(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let file = entry.file_name();
            let file = file.to_string_lossy();
            let stale = file.starts_with("checkpoint-") && *file != *name;
            if stale {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    fn load(&self, partition: i32) -> Result<Option<Vec<u8>>, CheckpointError> {
        match self.latest(partition)? {
            Some(name) => Ok(Some(fs::read(self.dir(partition).join(name))?)),
            None => Ok(None),
        }
    }

    fn latest(&self, partition: i32) -> Result<Option<String>, CheckpointError> {
        let path = self.dir(partition).join(MANIFEST);
        match fs::read_to_string(&path) {
            Ok(m) => checked_name(&m).map(Some).map_err(|name| {
                CheckpointError::Corrupt(format!("{} names {name:?}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn partitions(&self) -> Result<Vec<i32>, CheckpointError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let name = entry?.file_name();
            if let Some(p) = name
                .to_string_lossy()
                .strip_prefix("partition-")
                .and_then(|p| p.parse().ok())
                && self.dir(p).join(MANIFEST).exists()
            {
                out.push(p);
            }
        }
        out.sort_unstable();
        Ok(out)
    }
}
