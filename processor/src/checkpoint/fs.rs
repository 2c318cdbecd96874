//! Checkpoints in a local directory, `partition-P/`, each write made
//! durable so that a crash at any instant leaves the old or the new state:
//! an object (and the manifest) is written to `NAME.tmp`, fsync'd, renamed
//! into place, and the directory fsync'd. The rules (what is written in
//! which order, what is deleted) are the contract's, in
//! `hoso_model::checkpoint::save`; leftovers of an interrupted write are
//! listed, and the next save deletes them.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use hoso_model::checkpoint::{CheckpointError, CheckpointStore};

const MANIFEST: &str = "MANIFEST";

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

/// Writes `dir/name` through `name.tmp`: fsync'd, renamed into place, the
/// directory fsync'd.
fn replace_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

impl CheckpointStore for FsCheckpointStore {
    fn put(&self, partition: i32, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        let dir = self.dir(partition);
        fs::create_dir_all(&dir)?;
        replace_durably(&dir, name, bytes)?;
        Ok(())
    }

    fn get(&self, partition: i32, name: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        match fs::read(self.dir(partition).join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn put_manifest(&self, partition: i32, text: &str) -> Result<(), CheckpointError> {
        self.put(partition, MANIFEST, text.as_bytes())
    }

    fn manifest(&self, partition: i32) -> Result<Option<String>, CheckpointError> {
        match fs::read_to_string(self.dir(partition).join(MANIFEST)) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn list(&self, partition: i32) -> Result<Vec<String>, CheckpointError> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(self.dir(partition)) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if !name.starts_with(MANIFEST) {
                out.push(name);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn delete(&self, partition: i32, name: &str) -> Result<(), CheckpointError> {
        match fs::remove_file(self.dir(partition).join(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
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
