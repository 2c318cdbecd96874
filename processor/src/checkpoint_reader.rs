//! A query node's tables without Kafka: every partition's latest checkpoint
//! in the store, decoded and published as its processor would publish it,
//! and read again whenever its processor writes a newer one. The cold files
//! the checkpoints name are read where they are (the table store).
//!
//! So any number of query nodes serve SQL with no disk and no consumer of
//! their own, over exactly what the processors made durable: the tables
//! are at most the processors' `checkpoint_interval_ms` plus one poll
//! behind, and never show a state no checkpoint held. It is the same
//! decode as a restore, so a query node and a processor taking the
//! partition over agree.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hoso_model::checkpoint::{CheckpointError, CheckpointStore};
use tracing::{error, info, warn};

use crate::checkpoint;
use crate::live::LiveTables;
use crate::partition::Settings;

/// What was last loaded of each partition: the checkpoint's name.
type Loaded = BTreeMap<i32, String>;

/// Reads the store's checkpoints into `live` every `poll` until `stop`.
pub fn spawn(
    store: Arc<dyn CheckpointStore>,
    settings: Settings,
    live: Arc<LiveTables>,
    poll: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("hoso-checkpoints".into())
        .spawn(move || {
            let mut loaded = Loaded::new();
            let mut last_warning: Option<Instant> = None;
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = refresh(store.as_ref(), &settings, &live, &mut loaded) {
                    // The store may be down for a while: say so now and then.
                    if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(30)) {
                        warn!(error = %e, "cannot read the checkpoints; the tables stay as they are");
                        last_warning = Some(Instant::now());
                    }
                }
                let until = Instant::now() + poll;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20).min(poll));
                }
            }
        })
}

/// One pass: loads every partition whose checkpoint changed since
/// `loaded`, and publishes it; how many were. An error only when nothing
/// loaded and some partition failed.
pub fn refresh(
    store: &dyn CheckpointStore,
    settings: &Settings,
    live: &LiveTables,
    loaded: &mut Loaded,
) -> Result<usize, CheckpointError> {
    let partitions = store.partitions()?;
    let gone: Vec<i32> = loaded
        .keys()
        .filter(|p| !partitions.contains(p))
        .copied()
        .collect();
    if !gone.is_empty() {
        live.revoke(&gone);
        loaded.retain(|p, _| !gone.contains(p));
    }
    let new: Vec<i32> = partitions
        .iter()
        .filter(|p| !loaded.contains_key(p))
        .copied()
        .collect();
    // Listed, even when there is nothing yet: the node is ready once each
    // partition the store holds is shown.
    live.assign(&new);
    let mut changed = 0;
    let mut failed = None;
    for p in partitions {
        // One partition the store will not give now does not hold up the
        // others: it keeps what it showed and is asked again next poll.
        match load(store, p, settings, live, loaded) {
            Ok(true) => changed += 1,
            Ok(false) => {}
            Err(e) => {
                warn!(partition = p, error = %e, "cannot read the partition's checkpoint");
                failed = Some(e);
            }
        }
    }
    if let (0, Some(e)) = (changed, failed) {
        return Err(e);
    }
    Ok(changed)
}

/// Loads partition `p`'s checkpoint if it is not the one shown; true when
/// it was.
fn load(
    store: &dyn CheckpointStore,
    p: i32,
    settings: &Settings,
    live: &LiveTables,
    loaded: &mut Loaded,
) -> Result<bool, CheckpointError> {
    let Some(manifest) = hoso_model::checkpoint::latest(store, p)? else {
        return Ok(false);
    };
    if loaded.get(&p) == Some(&manifest.checkpoint) {
        return Ok(false);
    }
    let started = Instant::now();
    let Some(got) = hoso_model::checkpoint::load(store, p)? else {
        return Ok(false);
    };
    let (name, bytes) = (got.manifest.checkpoint, got.bytes);
    let tables = match checkpoint::decode(&bytes) {
        Ok(t) if t.partition() == p => t,
        other => {
            // A checkpoint this hoso cannot read (a newer format during an
            // upgrade, a damaged object): what was shown would go stale and
            // its cold files be deleted under it. The partition leaves the
            // tables and the node says it is not ready, until its processor
            // writes one it reads. Said once per checkpoint, not per poll.
            let why = match other {
                Ok(t) => format!("it holds partition {}", t.partition()),
                Err(e) => e.to_string(),
            };
            error!(partition = p, checkpoint = %name, error = %why, "cannot use a checkpoint; the partition leaves the tables until a newer one");
            live.assign(&[p]);
            loaded.insert(p, name);
            return Ok(false);
        }
    };
    let mut tables = tables.with_settings(settings.clone());
    live.publish(p, tables.publish());
    live.mark_caught_up(p);
    info!(
        partition = p,
        checkpoint = %name,
        bytes = bytes.len(),
        ms = started.elapsed().as_millis() as u64,
        "checkpoint loaded"
    );
    loaded.insert(p, name);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hoso_model::health::Readiness;
    use hoso_model::tables::TableSource;

    use super::*;
    use crate::checkpoint::ObjectCheckpointStore;
    use crate::partition::PartitionTables;
    use crate::table_store::{StoreDir, TableStore};

    fn received(id: &str) -> Vec<u8> {
        format!(
            r#"{{"event_id":"{id}-1","filing_id":"{id}","seq":1,"type":"received","occurred_at":"2025-07-01T09:00:00+07:00","province_code":"01","commune_code":"00004","procedure_code":"1.001193","channel":"online","due_at":"2025-07-03T17:00:00+07:00"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn new_checkpoints_replace_what_a_query_node_shows() {
        let store = Arc::new(TableStore::open("memory:///", &BTreeMap::new()).unwrap());
        let cps = ObjectCheckpointStore::new(StoreDir::new(store, "checkpoints/t"));
        let live = LiveTables::new();
        let mut loaded = Loaded::new();
        let settings = Settings::default();
        // An empty store: nothing to show, and nothing to wait for.
        assert_eq!(refresh(&cps, &settings, &live, &mut loaded).unwrap(), 0);
        assert!(live.readiness().is_ok());

        let mut parts: Vec<PartitionTables> = (0..2).map(PartitionTables::new).collect();
        for (p, t) in parts.iter_mut().enumerate() {
            t.fold_message(0, None, &received(&format!("F{p}")), None)
                .unwrap();
            checkpoint::save(&cps, t).unwrap();
        }
        assert_eq!(refresh(&cps, &settings, &live, &mut loaded).unwrap(), 2);
        let hot = |live: &LiveTables| -> Vec<u64> {
            live.snapshot()
                .partitions
                .iter()
                .map(|p| p.hot_filings)
                .collect()
        };
        assert_eq!(hot(&live), vec![1, 1]);
        assert!(live.readiness().is_ok());
        // Unchanged manifests are not loaded again.
        assert_eq!(refresh(&cps, &settings, &live, &mut loaded).unwrap(), 0);

        // Partition 1 moves on; only it is loaded again.
        parts[1]
            .fold_message(1, None, &received("G1"), None)
            .unwrap();
        checkpoint::save(&cps, &mut parts[1]).unwrap();
        assert_eq!(refresh(&cps, &settings, &live, &mut loaded).unwrap(), 1);
        assert_eq!(hot(&live), vec![1, 2]);
        assert_eq!(live.snapshot().partitions[1].next_offset, 2);

        // A checkpoint that does not decode takes its partition out of the
        // tables (not ready) and is not read again; the next good one is.
        let bad = hoso_model::checkpoint::Checkpoint {
            partition: 1,
            next_offset: 9,
            bytes: b"not a checkpoint",
            cold_files: &[],
        };
        hoso_model::checkpoint::save(&cps, &bad).unwrap();
        assert_eq!(refresh(&cps, &settings, &live, &mut loaded).unwrap(), 0);
        assert_eq!(hot(&live), vec![1]);
        assert!(live.readiness().is_err());
        assert_eq!(loaded[&1], "checkpoint-00000000000000000009.bin");
        parts[1]
            .fold_message(10, None, &received("H1"), None)
            .unwrap();
        checkpoint::save(&cps, &mut parts[1]).unwrap();
        assert_eq!(refresh(&cps, &settings, &live, &mut loaded).unwrap(), 1);
        assert_eq!(hot(&live), vec![1, 3]);
    }
}
