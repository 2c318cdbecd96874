//! `portal_766`: the portal's published index rows as imported, one per
//! unit and period. The rows come from the topic `hoso import --format
//! portal-766` writes (the binary's follower reads it into this book), so
//! every query node holds the same rows, and a restart reads them back.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::RecordBatch;
use hoso_model::portal::index::{IndexRow, batch};

use crate::catalog::ComputedTable;

/// The rows of `portal_766`, shared by the executor's table and the
/// follower that fills it.
#[derive(Clone, Default)]
pub struct PortalIndex {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// By unit and period ([`IndexRow::key`]).
    rows: BTreeMap<String, IndexRow>,
    /// The rows as a batch, made again after a change.
    batch: Option<RecordBatch>,
}

impl PortalIndex {
    /// Takes a row read from the topic: it replaces the row of its unit
    /// and period, since the topic holds imports in the order they were
    /// made (one key, one partition).
    pub fn put(&self, row: IndexRow) {
        let mut inner = self.inner.write().expect("portal index lock");
        inner.rows.insert(row.key(), row);
        inner.batch = None;
    }

    pub fn len(&self) -> usize {
        self.inner.read().expect("portal index lock").rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every row, in key order.
    pub fn batch(&self) -> RecordBatch {
        if let Some(b) = &self.inner.read().expect("portal index lock").batch {
            return b.clone();
        }
        let mut inner = self.inner.write().expect("portal index lock");
        let b = batch(inner.rows.values());
        inner.batch = Some(b.clone());
        b
    }

    /// The table over these rows (scoped to a caller's province by the
    /// catalog, as every table with a `province_code`).
    pub fn table(&self) -> ComputedTable {
        let me = self.clone();
        ComputedTable::new(hoso_model::schema::portal_766(), move |_| me.batch())
    }
}
