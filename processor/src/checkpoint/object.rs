//! Checkpoints in the table store (S3-compatible or a shared mount), laid
//! out as in a local directory:
//!
//! 1. put `partition-P/checkpoint-OFFSET.bin` (a put is atomic: the object
//!    is whole or absent);
//! 2. put `partition-P/MANIFEST` naming it;
//! 3. only then delete the partition's older checkpoint objects.
//!
//! The manifest only moves forward: a save whose offset is below the one
//! the manifest names (a member expelled from the group that does not know
//! it yet) writes nothing. Without a conditional put this narrows, not
//! closes, the window of two owners; the group's session timeout does the
//! rest.
//!
//! `load` trusts only what `MANIFEST` names. A crash between 1 and 2 leaves
//! an object no manifest names, deleted by the next save. A reader that
//! read a manifest just before step 3 of the next save may find its object
//! gone: [`CheckpointStore::load`] reads the manifest again once.

use bytes::Bytes;
use hoso_model::checkpoint::{CheckpointError, CheckpointStore};

use super::fs::checked_name;
use crate::table_store::{StoreDir, StoreError};

const MANIFEST: &str = "MANIFEST";

#[derive(Debug, Clone)]
pub struct ObjectCheckpointStore {
    dir: StoreDir,
}

fn io(e: StoreError) -> CheckpointError {
    CheckpointError::Io(std::io::Error::other(e.to_string()))
}

impl ObjectCheckpointStore {
    /// Checkpoints under `dir` (`checkpoints/<topic>` of the store).
    pub fn new(dir: StoreDir) -> Self {
        ObjectCheckpointStore { dir }
    }

    fn rel(&self, partition: i32, name: &str) -> String {
        self.dir.rel(&format!("partition-{partition}/{name}"))
    }

    fn read(&self, partition: i32, name: &str) -> Result<Option<Bytes>, CheckpointError> {
        self.dir.store.get(&self.rel(partition, name)).map_err(io)
    }
}

impl CheckpointStore for ObjectCheckpointStore {
    fn save(&self, partition: i32, next_offset: i64, bytes: &[u8]) -> Result<(), CheckpointError> {
        let name = format!("checkpoint-{next_offset:020}.bin");
        let store = &self.dir.store;
        // The manifest only moves forward: a member that lost the partition
        // without knowing it yet (expelled from the group) must not put
        // its older state over the new owner's.
        if let Some(current) = self.latest(partition)?
            && current > name
        {
            tracing::warn!(
                partition,
                current = %current,
                ours = %name,
                "a newer checkpoint is there (the partition has another owner); not written"
            );
            return Ok(());
        }
        store
            .put(&self.rel(partition, &name), Bytes::copy_from_slice(bytes))
            .map_err(io)?;
        store
            .put(
                &self.rel(partition, MANIFEST),
                Bytes::from(format!("{name}\n")),
            )
            .map_err(io)?;
        let dir = self.rel(partition, "");
        for (rel, _) in store.list(&dir).map_err(io)? {
            let file = rel.rsplit('/').next().unwrap_or_default();
            // Older ones only (names sort by offset): never a newer owner's.
            if file.starts_with("checkpoint-") && *file < *name {
                store.delete(&rel).map_err(io)?;
            }
        }
        Ok(())
    }

    fn load(&self, partition: i32) -> Result<Option<Vec<u8>>, CheckpointError> {
        // A save between reading the manifest and the object may delete
        // the object: the manifest then names a newer one.
        for _ in 0..3 {
            let Some(name) = self.latest(partition)? else {
                return Ok(None);
            };
            if let Some(bytes) = self.read(partition, &name)? {
                return Ok(Some(bytes.to_vec()));
            }
        }
        Err(CheckpointError::Corrupt(format!(
            "{} names a checkpoint that is not there",
            self.rel(partition, MANIFEST)
        )))
    }

    fn partitions(&self) -> Result<Vec<i32>, CheckpointError> {
        let mut out: Vec<i32> = self
            .dir
            .store
            .list(&self.dir.prefix)
            .map_err(io)?
            .into_iter()
            .filter_map(|(rel, _)| {
                let rest = rel.strip_prefix(&self.dir.rel(""))?;
                let (dir, file) = rest.trim_start_matches('/').split_once('/')?;
                let p = dir.strip_prefix("partition-")?.parse().ok()?;
                (file == MANIFEST).then_some(p)
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn latest(&self, partition: i32) -> Result<Option<String>, CheckpointError> {
        match self.read(partition, MANIFEST)? {
            Some(m) => checked_name(&String::from_utf8_lossy(&m))
                .map(Some)
                .map_err(|name| {
                    CheckpointError::Corrupt(format!(
                        "{} names {name:?}",
                        self.rel(partition, MANIFEST)
                    ))
                }),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::table_store::TableStore;

    #[test]
    fn the_manifest_names_the_latest_and_older_ones_go() {
        let store = Arc::new(TableStore::open("memory:///t", &BTreeMap::new()).unwrap());
        let cps = ObjectCheckpointStore::new(StoreDir::new(store.clone(), "checkpoints/topic"));
        assert_eq!(cps.load(0).unwrap(), None);
        assert_eq!(cps.partitions().unwrap(), Vec::<i32>::new());
        cps.save(0, 10, b"first").unwrap();
        cps.save(0, 20, b"second").unwrap();
        cps.save(2, 5, b"other").unwrap();
        assert_eq!(cps.load(0).unwrap().unwrap(), b"second");
        assert_eq!(cps.partitions().unwrap(), vec![0, 2]);
        assert_eq!(
            cps.latest(0).unwrap().unwrap(),
            "checkpoint-00000000000000000020.bin"
        );
        let objects: Vec<String> = store
            .list("checkpoints/topic/partition-0")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            objects,
            vec![
                "checkpoints/topic/partition-0/MANIFEST",
                "checkpoints/topic/partition-0/checkpoint-00000000000000000020.bin"
            ]
        );
        // The manifest only moves forward: an older state is not written.
        cps.save(0, 15, b"stale owner").unwrap();
        assert_eq!(cps.load(0).unwrap().unwrap(), b"second");
        // A manifest naming something else is corruption, said as such.
        store
            .put(
                "checkpoints/topic/partition-2/MANIFEST",
                Bytes::from("../x"),
            )
            .unwrap();
        assert!(matches!(cps.load(2), Err(CheckpointError::Corrupt(_))));
    }
}
