//! The tables as last published, shared with the query side.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hoso_model::health::Readiness;
use hoso_model::tables::{PartitionStatus, TableSource, TablesSnapshot};

use crate::partition::PublishedPartition;

#[derive(Default)]
struct Inner {
    published: BTreeMap<i32, Arc<PublishedPartition>>,
    /// Assigned partitions and whether each has been read to its end once.
    caught_up: BTreeMap<i32, bool>,
    /// Whether the consumer has received an assignment (possibly empty).
    assigned: bool,
    /// High watermark and lag per partition, from librdkafka's statistics.
    lag: BTreeMap<i32, (i64, i64)>,
}

/// Published tables per partition, plus what readiness needs.
#[derive(Default)]
pub struct LiveTables {
    inner: RwLock<Inner>,
    /// librdkafka reported every broker down, and nothing has been read since.
    brokers_down: AtomicBool,
}

impl LiveTables {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain data behind.
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn publish(&self, partition: i32, tables: Arc<PublishedPartition>) {
        self.write().published.insert(partition, tables);
    }

    /// Partitions newly assigned: their state starts empty and they are not
    /// caught up until their folded end has been published.
    pub fn assign(&self, partitions: &[i32]) {
        let mut inner = self.write();
        inner.assigned = true;
        for p in partitions {
            inner.published.remove(p);
            inner.caught_up.insert(*p, false);
        }
    }

    /// Partitions taken away: their tables leave the snapshot.
    pub fn revoke(&self, partitions: &[i32]) {
        let mut inner = self.write();
        for p in partitions {
            inner.published.remove(p);
            inner.caught_up.remove(p);
            inner.lag.remove(p);
        }
    }

    /// The partition's end as librdkafka last saw it, and the lag behind it.
    pub fn set_lag(&self, partition: i32, high_watermark: i64, lag: i64) {
        let mut inner = self.write();
        if inner.published.contains_key(&partition) || inner.caught_up.contains_key(&partition) {
            inner.lag.insert(partition, (high_watermark, lag));
        }
    }

    /// The partition's end has been folded *and published*: SQL shows it.
    pub fn mark_caught_up(&self, partition: i32) {
        if let Some(c) = self.write().caught_up.get_mut(&partition) {
            *c = true;
        }
    }

    pub fn brokers_down(&self) -> bool {
        self.brokers_down.load(Ordering::Relaxed)
    }

    pub fn set_brokers_down(&self, down: bool) {
        if self.brokers_down.load(Ordering::Relaxed) != down {
            self.brokers_down.store(down, Ordering::Relaxed);
        }
    }
}

impl TableSource for LiveTables {
    fn snapshot(&self) -> TablesSnapshot {
        let inner = self.read();
        let mut snap = TablesSnapshot::default();
        for p in inner.published.values() {
            snap.filings.extend(p.filings.iter().cloned());
            snap.daily_partials.extend(p.daily_partials.iter().cloned());
            snap.rejects.extend(p.rejects.iter().cloned());
            snap.restatements.extend(p.restatements.iter().cloned());
            snap.cold_filings.extend(p.cold_files.iter().cloned());
            snap.commune_clocks.extend(p.commune_clocks.iter().cloned());
            snap.filing_alerts.extend(p.filing_alerts.iter().cloned());
            let lag = inner.lag.get(&p.status.partition);
            snap.partitions.push(PartitionStatus {
                high_watermark: lag.map(|l| l.0),
                lag: lag.map(|l| l.1),
                caught_up: inner
                    .caught_up
                    .get(&p.status.partition)
                    .copied()
                    .unwrap_or(false),
                ..p.status.clone()
            });
        }
        snap
    }
}

impl Readiness for LiveTables {
    fn readiness(&self) -> Result<(), String> {
        if self.brokers_down.load(Ordering::Relaxed) {
            return Err("processor: Kafka is unreachable; the tables are not moving".into());
        }
        let inner = self.read();
        if !inner.assigned {
            return Err("processor: waiting for Kafka to assign partitions".into());
        }
        let behind: Vec<String> = inner
            .caught_up
            .iter()
            .filter(|(_, c)| !**c)
            .map(|(p, _)| p.to_string())
            .collect();
        if behind.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "processor: still catching up on partitions {}",
                behind.join(", ")
            ))
        }
    }
}
