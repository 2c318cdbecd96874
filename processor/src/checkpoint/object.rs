//! Checkpoints in the table store (S3-compatible or a shared mount), laid
//! out as in a local directory: `partition-P/` holds the checkpoint
//! objects and `MANIFEST`. A put is atomic (the object is whole or absent),
//! so an object needs no temporary name. The rules (what is written in
//! which order, that the manifest only moves forward, what is deleted) are
//! the contract's, in `hoso_model::checkpoint::save`. Without a
//! conditional put, "forward only" narrows, not closes, the window of two
//! owners; the group's session timeout does the rest.

use bytes::Bytes;
use hoso_model::checkpoint::{CheckpointError, CheckpointStore};

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
}

impl CheckpointStore for ObjectCheckpointStore {
    fn put(&self, partition: i32, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        self.dir
            .store
            .put(&self.rel(partition, name), Bytes::copy_from_slice(bytes))
            .map_err(io)
    }

    fn get(&self, partition: i32, name: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        let got = self.dir.store.get(&self.rel(partition, name)).map_err(io)?;
        Ok(got.map(|b| b.to_vec()))
    }

    fn put_manifest(&self, partition: i32, text: &str) -> Result<(), CheckpointError> {
        self.put(partition, MANIFEST, text.as_bytes())
    }

    fn manifest(&self, partition: i32) -> Result<Option<String>, CheckpointError> {
        Ok(self
            .get(partition, MANIFEST)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn list(&self, partition: i32) -> Result<Vec<String>, CheckpointError> {
        let dir = self.rel(partition, "");
        let mut out: Vec<String> = self
            .dir
            .store
            .list(&dir)
            .map_err(io)?
            .into_iter()
            .filter_map(|(rel, _)| rel.rsplit('/').next().map(str::to_string))
            .filter(|name| name != MANIFEST)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn delete(&self, partition: i32, name: &str) -> Result<(), CheckpointError> {
        self.dir
            .store
            .delete(&self.rel(partition, name))
            .map_err(io)
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
}
