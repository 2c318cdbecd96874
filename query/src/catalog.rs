//! The `public` schema: the processor's live tables and the contract's views.
//!
//! Tables are found through this [`SchemaProvider`], not registered by hand:
//! a base table is a [`LiveTable`] that takes a snapshot of the published
//! Arrow batches at plan time (no copy, no rebuild); a view is a DataFusion
//! view over them, defined once by `hoso_model::views`. The procedure
//! catalogue is one more (static) table, `procedures`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, StringArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::union::UnionExec;
use hoso_model::catalogue::{Catalogue, Deadline, Procedure};
use hoso_model::schema;
use hoso_model::tables::{TableSource, TablesSnapshot};

/// Which of the source's tables a [`LiveTable`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveKind {
    Filings,
    DailyPartials,
    Rejects,
    Restatements,
    /// `system.partitions`.
    Partitions,
    /// `system.commune_clocks`.
    CommuneClocks,
}

impl LiveKind {
    fn schema(self) -> SchemaRef {
        match self {
            LiveKind::Filings => schema::filings(),
            LiveKind::DailyPartials => schema::daily_partials(),
            LiveKind::Rejects => schema::rejects(),
            LiveKind::Restatements => schema::restatements(),
            LiveKind::Partitions => schema::partitions(),
            LiveKind::CommuneClocks => schema::commune_clocks(),
        }
    }

    fn batches(self, snap: TablesSnapshot) -> Vec<RecordBatch> {
        match self {
            LiveKind::Filings => snap.filings,
            LiveKind::DailyPartials => snap.daily_partials,
            LiveKind::Rejects => snap.rejects,
            LiveKind::Restatements => snap.restatements,
            LiveKind::Partitions => vec![hoso_model::tables::partitions_batch(&snap.partitions)],
            LiveKind::CommuneClocks => snap.commune_clocks,
        }
    }
}

/// A table whose rows are whatever the source published last.
pub struct LiveTable {
    kind: LiveKind,
    source: Arc<dyn TableSource>,
}

impl std::fmt::Debug for LiveTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTable")
            .field("kind", &self.kind)
            .finish()
    }
}

#[async_trait]
impl TableProvider for LiveTable {
    fn schema(&self) -> SchemaRef {
        self.kind.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The query's snapshot when the executor took one, else a fresh one.
        let snapshot = match state.config().get_extension::<TablesSnapshot>() {
            Some(s) => (*s).clone(),
            None => self.source.snapshot(),
        };
        let cold = match self.kind {
            LiveKind::Filings => snapshot.cold_filings.clone(),
            _ => Vec::new(),
        };
        let batches = self.kind.batches(snapshot);
        // Spread the batches over the session's partitions so a scan uses
        // every core; batches are Arc-backed, so this copies no data.
        let n = state.config().target_partitions().max(1);
        let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); n.min(batches.len()).max(1)];
        let len = partitions.len();
        for (i, b) in batches.into_iter().enumerate() {
            partitions[i % len].push(b);
        }
        let exec =
            MemorySourceConfig::try_new_exec(&partitions, self.kind.schema(), projection.cloned())?;
        if cold.is_empty() {
            return Ok(exec);
        }
        // Closed filings past the hot horizon: the same rows, in Parquet.
        let cold = cold_scan(&cold, self.kind.schema(), projection, n)?;
        Ok(UnionExec::try_new(vec![exec, cold])?)
    }
}

/// A scan of cold files with the table's schema (their extra `state`
/// column is not read), spread over `partitions` groups.
fn cold_scan(
    paths: &[std::path::PathBuf],
    schema: SchemaRef,
    projection: Option<&Vec<usize>>,
    partitions: usize,
) -> Result<Arc<dyn ExecutionPlan>> {
    let mut groups: Vec<Vec<PartitionedFile>> =
        vec![Vec::new(); partitions.min(paths.len()).max(1)];
    let len = groups.len();
    for (i, path) in paths.iter().enumerate() {
        let size = std::fs::metadata(path)
            .map_err(|e| DataFusionError::External(format!("{}: {e}", path.display()).into()))?
            .len();
        // Object-store paths are relative to the file system's root.
        let key = path.to_string_lossy().trim_start_matches('/').to_string();
        groups[i % len].push(PartitionedFile::new(key, size));
    }
    let source = Arc::new(ParquetSource::new(schema));
    let mut builder = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source);
    for g in groups {
        builder = builder.with_file_group(FileGroup::new(g));
    }
    let config = builder
        .with_projection_indices(projection.cloned())?
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// The schema holding hoso's tables and views.
pub struct HosoSchema {
    tables: HashMap<&'static str, Arc<dyn TableProvider>>,
    /// Views, registered once at start-up by [`crate::executor`].
    views: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
}

impl std::fmt::Debug for HosoSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HosoSchema")
            .field("tables", &self.table_names())
            .finish()
    }
}

impl HosoSchema {
    /// The live tables of `source` and the `procedures` of `catalogue`.
    pub fn new(source: Arc<dyn TableSource>, catalogue: &Catalogue) -> Result<Self> {
        let mut tables: HashMap<&'static str, Arc<dyn TableProvider>> = HashMap::new();
        tables.insert(schema::PROCEDURES, Arc::new(procedures_table(catalogue)?));
        for (name, kind) in [
            (schema::FILINGS, LiveKind::Filings),
            (schema::DAILY_PARTIALS, LiveKind::DailyPartials),
            (schema::REJECTS, LiveKind::Rejects),
            (schema::RESTATEMENTS, LiveKind::Restatements),
        ] {
            let table = LiveTable {
                kind,
                source: source.clone(),
            };
            tables.insert(name, Arc::new(table));
        }
        Ok(HosoSchema {
            tables,
            views: RwLock::new(HashMap::new()),
        })
    }

    /// The `system` schema: how far the processor is, per partition and
    /// per commune (its views are defined by `hoso_model::views::system`).
    pub fn system(source: Arc<dyn TableSource>) -> Self {
        let mut tables: HashMap<&'static str, Arc<dyn TableProvider>> = HashMap::new();
        for (name, kind) in [
            ("partitions", LiveKind::Partitions),
            ("commune_clocks", LiveKind::CommuneClocks),
        ] {
            let table = LiveTable {
                kind,
                source: source.clone(),
            };
            tables.insert(name, Arc::new(table));
        }
        HosoSchema {
            tables,
            views: RwLock::new(HashMap::new()),
        }
    }
}

/// The catalogue as a table; it changes only with the configuration.
fn procedures_table(catalogue: &Catalogue) -> Result<MemTable> {
    let ps = catalogue.procedures();
    let text = |f: fn(&Procedure) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(ps.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        text(|p| &p.code),
        text(|p| &p.name_vi),
        text(|p| &p.name_en),
        Arc::new(BooleanArray::from_iter(
            ps.iter().map(|p| Some(p.deadline == Deadline::SameDay)),
        )),
        Arc::new(Int32Array::from_iter_values(
            ps.iter().map(|p| i32::from(p.deadline.working_days())),
        )),
        Arc::new(Int64Array::from_iter_values(
            ps.iter()
                .map(|p| i64::try_from(p.fee_vnd).unwrap_or(i64::MAX)),
        )),
        text(|p| p.online.as_str()),
        text(|p| p.level.as_str()),
        text(|p| &p.source),
    ];
    let batch = RecordBatch::try_new(schema::procedures(), columns)?;
    MemTable::try_new(schema::procedures(), vec![vec![batch]])
}

#[async_trait]
impl SchemaProvider for HosoSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.keys().map(|s| s.to_string()).collect();
        names.extend(
            self.views
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned(),
        );
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.tables.get(name) {
            return Ok(Some(t.clone()));
        }
        Ok(self
            .views
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned())
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        if table.table_type() != TableType::View || self.tables.contains_key(name.as_str()) {
            return Err(DataFusionError::Plan(format!(
                "cannot create table {name}: hoso's tables are read-only"
            )));
        }
        Ok(self
            .views
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, table))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
            || self
                .views
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(name)
    }
}
