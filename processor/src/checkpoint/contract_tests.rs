//! The checkpoint contract (`hoso_model::checkpoint`), one suite for every
//! store: a local directory, and the table store in memory and on a
//! `file://` mount. A store that breaks a promise fails here, not in a
//! takeover in production.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hoso_model::checkpoint::{
    Checkpoint, CheckpointError, CheckpointStore, Saved, latest, load, object_name, save,
};

use super::{FsCheckpointStore, ObjectCheckpointStore};
use crate::table_store::{StoreDir, TableStore};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hoso-contract-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cp<'a>(partition: i32, next_offset: i64, bytes: &'a [u8], cold: &'a [String]) -> Checkpoint<'a> {
    Checkpoint {
        partition,
        next_offset,
        bytes,
        cold_files: cold,
    }
}

fn bytes_of(store: &dyn CheckpointStore, p: i32) -> Option<Vec<u8>> {
    load(store, p).unwrap().map(|l| l.bytes)
}

/// Every promise of the contract, against `store`.
fn keeps_the_contract(store: &dyn CheckpointStore) {
    // Nothing yet.
    assert_eq!(load(store, 0).unwrap(), None);
    assert_eq!(latest(store, 0).unwrap(), None);
    assert_eq!(store.partitions().unwrap(), Vec::<i32>::new());

    // The latest save is what loads, with the cold files it names.
    let cold = vec![
        "filings/province=01/month=2025-07/p0-1.parquet".to_string(),
        "filings/province=01/month=2025-07/p0-2.parquet".to_string(),
    ];
    assert_eq!(
        save(store, &cp(0, 10, b"ten", &[])).unwrap(),
        Saved::Written
    );
    assert_eq!(
        save(store, &cp(0, 25, b"twenty-five", &cold)).unwrap(),
        Saved::Written
    );
    assert_eq!(
        save(store, &cp(4, 7, b"seven", &[])).unwrap(),
        Saved::Written
    );
    let got = load(store, 0).unwrap().unwrap();
    assert_eq!(got.bytes, b"twenty-five");
    assert_eq!(got.manifest.next_offset, 25);
    assert_eq!(got.manifest.cold_files, cold);
    assert_eq!(store.partitions().unwrap(), vec![0, 4]);

    // Only older checkpoints go: the one named stays, alone.
    assert_eq!(store.list(0).unwrap(), vec![object_name(25)]);

    // The manifest never moves backwards: an older state writes nothing.
    assert_eq!(
        save(store, &cp(0, 15, b"stale owner", &[])).unwrap(),
        Saved::Superseded { current: 25 }
    );
    assert_eq!(bytes_of(store, 0).unwrap(), b"twenty-five");
    assert_eq!(store.list(0).unwrap(), vec![object_name(25)]);
    // The same offset again is the same place: written.
    assert_eq!(
        save(store, &cp(0, 25, b"again", &cold)).unwrap(),
        Saved::Written
    );
    assert_eq!(bytes_of(store, 0).unwrap(), b"again");

    // A save cut short: its object was written, the manifest never moved.
    // The previous checkpoint loads; the next save removes the leftover.
    store.put(0, &object_name(40), b"half").unwrap();
    store
        .put(0, &format!("{}.tmp", object_name(41)), b"ha")
        .unwrap();
    assert_eq!(bytes_of(store, 0).unwrap(), b"again");
    assert_eq!(
        save(store, &cp(0, 30, b"thirty", &[])).unwrap(),
        Saved::Written
    );
    assert_eq!(bytes_of(store, 0).unwrap(), b"thirty");
    // A whole checkpoint further on is never deleted (a newer owner's).
    assert_eq!(
        store.list(0).unwrap(),
        vec![object_name(30), object_name(40)]
    );
    assert_eq!(
        save(store, &cp(0, 50, b"fifty", &[])).unwrap(),
        Saved::Written
    );
    assert_eq!(store.list(0).unwrap(), vec![object_name(50)]);

    // A checkpoint must name its cold files exactly once, by safe names.
    let twice = vec![cold[0].clone(), cold[0].clone()];
    for bad in [
        twice,
        vec!["../../etc/passwd".to_string()],
        vec!["/abs".to_string()],
    ] {
        assert!(matches!(
            save(store, &cp(0, 60, b"bad", &bad)),
            Err(CheckpointError::Refused(_))
        ));
    }
    assert_eq!(
        bytes_of(store, 0).unwrap(),
        b"fifty",
        "a refused save writes nothing"
    );

    // What a manifest holds is checked: a manifest naming something else,
    // or a checkpoint that is not there, is corruption, said as such.
    store.put_manifest(4, "../../etc/passwd\n").unwrap();
    assert!(matches!(load(store, 4), Err(CheckpointError::Corrupt(_))));
    store
        .put_manifest(4, &format!("{}\n", object_name(999)))
        .unwrap();
    assert!(matches!(load(store, 4), Err(CheckpointError::Corrupt(_))));
}

#[test]
fn a_local_directory_keeps_the_contract() {
    let dir = scratch("fs");
    keeps_the_contract(&FsCheckpointStore::new(&dir).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_table_store_in_memory_keeps_the_contract() {
    let store = Arc::new(TableStore::open("memory:///t", &BTreeMap::new()).unwrap());
    keeps_the_contract(&ObjectCheckpointStore::new(StoreDir::new(
        store,
        "checkpoints/topic",
    )));
}

#[test]
fn the_table_store_on_a_mount_keeps_the_contract() {
    let dir = scratch("mount");
    let url = format!("file://{}", dir.display());
    let store = Arc::new(TableStore::open(&url, &BTreeMap::new()).unwrap());
    keeps_the_contract(&ObjectCheckpointStore::new(StoreDir::new(
        store,
        "checkpoints/topic",
    )));
    let _ = std::fs::remove_dir_all(&dir);
}
