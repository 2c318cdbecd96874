//! The `public` schema: the processor's live tables and the contract's views.
//!
//! Tables are found through this [`SchemaProvider`], not registered by hand:
//! a base table is a [`LiveTable`] that takes a snapshot of the published
//! Arrow batches at plan time (no copy, no rebuild); a view is a DataFusion
//! view over them, defined once by `hoso_model::views`. The procedure
//! catalogue is one more (static) table, `procedures`.
//!
//! Province scoping lives in the scans: a `province:<code>` caller's
//! [`Scope`] filters every base table (the live ones here, the others
//! through [`crate::scoped::ProvinceScoped`]), so views, joins and every
//! protocol see the same subset.

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
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use hoso_model::catalogue::{Catalogue, Deadline, Procedure};
use hoso_model::schema;
use hoso_model::tables::{TableSource, TablesSnapshot};

use crate::auth::{Caller, Role};
use crate::query_log::{self, QueryLog};
use crate::scoped::{self, ProvinceScoped};
use crate::small_cold::{BigFile, SmallColdFiles};

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
    /// `filing_alerts`.
    FilingAlerts,
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
            LiveKind::FilingAlerts => schema::filing_alerts(),
        }
    }

    /// How a `province:<code>` caller sees it.
    fn scoping(self) -> Scoping {
        match self {
            LiveKind::Filings
            | LiveKind::DailyPartials
            | LiveKind::Restatements
            | LiveKind::CommuneClocks
            | LiveKind::FilingAlerts => Scoping::ByProvinceCode,
            // A refused event's province is not known: any of them may
            // belong to another province.
            LiveKind::Rejects => Scoping::Hidden,
            // The pipeline's own rows (offsets, lag), of no province.
            LiveKind::Partitions => Scoping::Shared,
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
            LiveKind::FilingAlerts => snap.filing_alerts,
        }
    }
}

/// How a province-scoped caller sees a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scoping {
    /// Only rows whose `province_code` is the caller's.
    ByProvinceCode,
    /// No rows.
    Hidden,
    /// Every row: they belong to no province.
    Shared,
}

/// What one query's caller may see. The executor puts it on each query's
/// session; every scan of a base table applies it, so no view, join or
/// protocol can reach rows outside it.
#[derive(Clone, Debug)]
pub struct Scope {
    /// Only this province's rows exist (`province:<code>`).
    pub province: Option<String>,
    /// Only this user's rows of `system.queries` (all for `admin`).
    pub own_queries: Option<Arc<str>>,
}

impl Scope {
    pub fn of(caller: &Caller) -> Scope {
        Scope {
            province: caller.role.province().map(str::to_string),
            own_queries: (caller.role != Role::Admin).then(|| caller.user.clone()),
        }
    }
}

/// The caller's scope, which the executor always sets: a scan without one
/// did not come through the executor and reads nothing.
pub(crate) fn scope_of(state: &dyn Session) -> Result<Arc<Scope>> {
    state.config().get_extension::<Scope>().ok_or_else(|| {
        DataFusionError::Internal(
            "a table was scanned without its caller's scope; queries run through the executor"
                .into(),
        )
    })
}

/// A table whose rows are whatever the source published last.
pub struct LiveTable {
    kind: LiveKind,
    source: Arc<dyn TableSource>,
    /// The snapshot's small cold files, decoded (`filings` has cold files).
    small_cold: SmallColdFiles,
}

impl LiveTable {
    fn new(kind: LiveKind, source: Arc<dyn TableSource>, small_cold_file_bytes: u64) -> Self {
        LiveTable {
            kind,
            source,
            small_cold: SmallColdFiles::new(kind.schema(), small_cold_file_bytes),
        }
    }
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
        let scope = scope_of(state)?;
        let table = self.kind.schema();
        let Some(province) = scope.province.as_deref() else {
            return self.scan_all(state, projection).await;
        };
        match self.kind.scoping() {
            Scoping::Shared => self.scan_all(state, projection).await,
            Scoping::Hidden => {
                let schema = match projection {
                    Some(p) => Arc::new(table.project(p)?),
                    None => table,
                };
                Ok(Arc::new(EmptyExec::new(schema)))
            }
            Scoping::ByProvinceCode => {
                let (read, keep) = scoped::reading_province(&table, projection)?;
                let input = self.scan_all(state, read.as_ref()).await?;
                scoped::only_province(input, province, keep)
            }
        }
    }
}

impl LiveTable {
    /// Every row of the snapshot, hot and cold.
    async fn scan_all(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
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
        let mut batches = self.kind.batches(snapshot);
        // Small cold files join the hot batches; the big ones are scanned.
        let (small, cold) = self.small_cold.split(state.runtime_env(), &cold).await?;
        batches.extend(small);
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
        let cold = cold_scan(state, cold, self.kind.schema(), projection, n)?;
        UnionExec::try_new(vec![exec, cold])
    }
}

/// A scan of cold files with the table's schema (their extra `state`
/// column is not read), spread over `partitions` groups, one scan per
/// object store (the local disk, the table store). Their footers are kept
/// in the session's metadata cache: a cold file is never changed in place
/// (a rewrite is a new name), so a cached footer is never stale.
fn cold_scan(
    state: &dyn Session,
    files: Vec<BigFile>,
    schema: SchemaRef,
    projection: Option<&Vec<usize>>,
    partitions: usize,
) -> Result<Arc<dyn ExecutionPlan>> {
    let mut by_store: std::collections::BTreeMap<String, (ObjectStoreUrl, Vec<PartitionedFile>)> =
        std::collections::BTreeMap::new();
    for (url, key, size) in files {
        by_store
            .entry(url.as_str().to_string())
            .or_insert_with(|| (url, Vec::new()))
            .1
            .push(PartitionedFile::new(key.to_string(), size));
    }
    let mut scans = Vec::with_capacity(by_store.len());
    for (url, mut files) in by_store.into_values() {
        // Merged files differ in size by a factor of a thousand: the
        // biggest first, each to the group with the fewest bytes, so the
        // cores finish together.
        files.sort_by_key(|f| std::cmp::Reverse(f.object_meta.size));
        let mut groups: Vec<(u64, Vec<PartitionedFile>)> =
            vec![(0, Vec::new()); partitions.min(files.len()).max(1)];
        for f in files {
            let lightest = groups
                .iter_mut()
                .min_by_key(|(bytes, _)| *bytes)
                .expect("at least one group");
            lightest.0 += f.object_meta.size;
            lightest.1.push(f);
        }
        let runtime = state.runtime_env();
        let footers = Arc::new(CachedParquetFileReaderFactory::new(
            runtime.object_store(&url)?,
            runtime.cache_manager.get_file_metadata_cache(),
        ));
        let source =
            Arc::new(ParquetSource::new(schema.clone()).with_parquet_file_reader_factory(footers));
        let mut builder = FileScanConfigBuilder::new(url, source);
        for (_, g) in groups {
            builder = builder.with_file_group(FileGroup::new(g));
        }
        let config = builder
            .with_projection_indices(projection.cloned())?
            .build();
        scans.push(DataSourceExec::from_data_source(config) as Arc<dyn ExecutionPlan>);
    }
    if scans.len() == 1 {
        return Ok(scans.pop().expect("one scan"));
    }
    UnionExec::try_new(scans)
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
    /// The live tables of `source`, the `procedures` of `catalogue`, and
    /// `extra` tables kept elsewhere (`alerts`).
    pub fn new(
        source: Arc<dyn TableSource>,
        catalogue: &Catalogue,
        extra: Vec<(&'static str, Arc<dyn TableProvider>)>,
        small_cold_file_bytes: u64,
    ) -> Result<Self> {
        let mut tables: HashMap<&'static str, Arc<dyn TableProvider>> = HashMap::new();
        // A table kept elsewhere is scoped like the live ones if it has
        // a province (`communes`).
        tables.extend(
            extra
                .into_iter()
                .map(|(name, table)| (name, ProvinceScoped::wrap(table))),
        );
        tables.insert(schema::PROCEDURES, Arc::new(procedures_table(catalogue)?));
        for (name, kind) in [
            (schema::FILINGS, LiveKind::Filings),
            (schema::DAILY_PARTIALS, LiveKind::DailyPartials),
            (schema::REJECTS, LiveKind::Rejects),
            (schema::RESTATEMENTS, LiveKind::Restatements),
            ("filing_alerts", LiveKind::FilingAlerts),
        ] {
            let table = LiveTable::new(kind, source.clone(), small_cold_file_bytes);
            tables.insert(name, Arc::new(table));
        }
        Ok(HosoSchema {
            tables,
            views: RwLock::new(HashMap::new()),
        })
    }

    /// The `system` schema: how far the processor is, per partition and
    /// per commune (its views are defined by `hoso_model::views::system`),
    /// and the recent queries.
    pub fn system(source: Arc<dyn TableSource>, log: QueryLog) -> Self {
        let mut tables: HashMap<&'static str, Arc<dyn TableProvider>> = HashMap::new();
        let queries = ComputedTable::new(query_log::schema(), move |scope| {
            log.batch(scope.own_queries.as_deref())
        });
        tables.insert("queries", Arc::new(queries));
        for (name, kind) in [
            ("partitions", LiveKind::Partitions),
            ("commune_clocks", LiveKind::CommuneClocks),
        ] {
            // No system table has cold files.
            let table = LiveTable::new(kind, source.clone(), 0);
            tables.insert(name, Arc::new(table));
        }
        HosoSchema {
            tables,
            views: RwLock::new(HashMap::new()),
        }
    }
}

/// A table computed at each scan for the caller's [`Scope`], from state
/// kept outside the snapshot (`system.queries`, `alerts`).
pub struct ComputedTable {
    schema: SchemaRef,
    rows: Box<dyn Fn(&Scope) -> RecordBatch + Send + Sync>,
}

impl ComputedTable {
    pub fn new(
        schema: SchemaRef,
        rows: impl Fn(&Scope) -> RecordBatch + Send + Sync + 'static,
    ) -> Self {
        ComputedTable {
            schema,
            rows: Box::new(rows),
        }
    }
}

impl std::fmt::Debug for ComputedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ComputedTable")
    }
}

#[async_trait]
impl TableProvider for ComputedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
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
        let batch = (self.rows)(&*scope_of(state)?);
        MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())
            .map(|e| e as Arc<dyn ExecutionPlan>)
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
        Arc::new(Int32Array::from_iter(
            ps.iter().map(|p| p.deadline.working_days().map(i32::from)),
        )),
        Arc::new(Int64Array::from_iter_values(
            ps.iter()
                .map(|p| i64::try_from(p.fee_vnd).unwrap_or(i64::MAX)),
        )),
        text(|p| p.online.as_str()),
        text(|p| p.level.as_str()),
        text(|p| &p.source),
        Arc::new(Int32Array::from_iter(
            ps.iter().map(|p| p.deadline.calendar_days().map(i32::from)),
        )),
        text(|p| p.deadline.unit()),
        Arc::new(StringArray::from_iter(ps.iter().map(|p| {
            p.same_day_cutoff_min
                .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
        }))),
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
