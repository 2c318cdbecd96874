//! Wiring: the parts a command runs, on one HTTP server, with one shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use hoso_ingest::{BrokerHealth, IngestMetrics, IngestState, Publisher};
use hoso_model::checkpoint::CheckpointStore;
use hoso_model::health::Readiness;
use hoso_processor::checkpoint::{FsCheckpointStore, ObjectCheckpointStore};
use hoso_processor::table_store::{RemoteTables, StoreDir, TableStore};
use hoso_processor::{ConsumeMode, LiveTables, ProcessorMetrics};
use hoso_query::alerts::engine::{AlertMetrics, Engine};
use hoso_query::auth::{Auth, LOCAL_PASSWORD, LOCAL_USER};
use hoso_query::kpi_metrics::KpiGauges;
use hoso_query::{QueryExecutor, QueryMetrics};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::alert_topic::AlertTopic;
use crate::config::Config;
use crate::{ops, topic};

/// Which parts to run.
#[derive(Clone, Copy, Debug)]
pub struct Roles {
    pub ingest: bool,
    /// Fold the topic, joining the group or following every partition.
    pub process: Option<ConsumeMode>,
    /// Serve SQL over the folded tables (needs `process` or `checkpoints`).
    pub query: bool,
    /// The tables are the processors' latest checkpoints in the table
    /// store, read again as they are written: no Kafka, no disk.
    pub checkpoints: bool,
}

impl Roles {
    /// One process owns every partition (standalone): no group to join.
    pub const UP: Roles = Roles {
        ingest: true,
        process: Some(ConsumeMode::Standalone),
        query: true,
        checkpoints: false,
    };
    pub const INGEST: Roles = Roles {
        ingest: true,
        process: None,
        query: false,
        checkpoints: false,
    };
    pub const PROCESS: Roles = Roles {
        ingest: false,
        process: Some(ConsumeMode::Group),
        query: false,
        checkpoints: false,
    };
    /// A stateless query node over the table store.
    pub const QUERY: Roles = Roles {
        ingest: false,
        process: None,
        query: true,
        checkpoints: true,
    };
}

/// The processor's thread (or a query node's checkpoint reader), once the
/// topic exists and it has started.
type ProcessorSlot = Arc<Mutex<Option<TablesThread>>>;

/// The thread that moves the tables.
enum TablesThread {
    /// Ends with an error when the engine cannot go on.
    Processor(std::thread::JoinHandle<Result<(), hoso_processor::ProcessorError>>),
    Reader(std::thread::JoinHandle<()>),
}

impl TablesThread {
    fn is_finished(&self) -> bool {
        match self {
            TablesThread::Processor(h) => h.is_finished(),
            TablesThread::Reader(h) => h.is_finished(),
        }
    }

    /// Waits for the thread; what stopped it, when it was an error.
    fn join(self) -> Option<String> {
        match self {
            TablesThread::Processor(h) => match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("the processor thread panicked".into()),
            },
            TablesThread::Reader(h) => h
                .join()
                .err()
                .map(|_| "the checkpoint reader panicked".into()),
        }
    }
}

/// Not ready once the processor thread has ended without being asked to:
/// the tables would silently stop moving.
struct ProcessorAlive {
    slot: ProcessorSlot,
    stopping: Arc<AtomicBool>,
}

impl Readiness for ProcessorAlive {
    fn readiness(&self) -> Result<(), String> {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some(h) if h.is_finished() && !self.stopping.load(Ordering::Relaxed) => Err(
                "processor: its thread has stopped; the tables no longer move (see the log)".into(),
            ),
            _ => Ok(()),
        }
    }
}

/// A running server; [`Running::shutdown`] stops it cleanly.
pub struct Running {
    /// Where the HTTP server listens (useful with port 0).
    pub addr: SocketAddr,
    /// The folded tables, when this process folds.
    pub live: Option<Arc<LiveTables>>,
    cancel: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
    processor: ProcessorSlot,
    stop_processor: Arc<AtomicBool>,
    /// Why the processor stopped on its own, when it did: the process
    /// shuts down and exits with an error (a restart resumes from the
    /// checkpoints).
    fatal: Arc<Mutex<Option<String>>>,
    publisher: Option<Publisher>,
}

pub async fn start(config: Config, roles: Roles) -> anyhow::Result<Running> {
    let auth = Auth::new(&config.auth).map_err(|e| anyhow::anyhow!("{e}"))?;
    if auth.is_local() {
        require_loopback(&config.http.listen).await?;
    }
    let cancel = CancellationToken::new();
    // The state itself is in memory and re-folded from Kafka at start;
    // the directory is where checkpoints are kept.
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let registry = prometheus::Registry::new();
    #[cfg(target_os = "linux")]
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;

    let mut app = axum::Router::new();
    let mut checks: Vec<Arc<dyn Readiness>> = Vec::new();
    let mut background = Vec::new();
    let mut publisher = None;

    if roles.ingest {
        let p = Publisher::new(&config.ingest)?;
        let health = BrokerHealth::default();
        checks.push(Arc::new(health.clone()));
        let watch_cancel = cancel.clone();
        background.push(tokio::spawn(health.clone().watch(
            p.clone(),
            Duration::from_secs(2),
            async move { watch_cancel.cancelled().await },
        )));
        let state = IngestState {
            config: config.ingest.clone(),
            publisher: p.clone(),
            health,
            metrics: IngestMetrics::new(&registry)?,
            due_rules: config.due_rules.clone(),
            units: config.checked_units(),
            portal_units: config.portal_units.clone(),
        };
        app = app.merge(hoso_ingest::router(Arc::new(state)).layer(
            axum::middleware::from_fn_with_state(auth.clone(), ingest_auth),
        ));
        publisher = Some(p);
    }

    let table_store = open_table_store(&config)?;
    let live = (roles.process.is_some() || roles.checkpoints).then(LiveTables::new);
    if let Some(live) = &live {
        checks.push(live.clone());
    }
    if roles.query {
        let source = live
            .clone()
            .context("the query role needs the processor's tables")?;
        let executor =
            QueryExecutor::new(source, &config.query, QueryMetrics::new(&registry)?).await?;
        if let Some(store) = &table_store {
            let (url, store) = store.object_store();
            executor.register_object_store(&url, store);
        }
        if !config.query.postgres_listen.is_empty() {
            background.push(
                postgres(
                    &config.query.postgres_listen,
                    executor.clone(),
                    auth.clone(),
                    &cancel,
                )
                .await?,
            );
        }
        if !config.query.flight_listen.is_empty() {
            background.push(
                flight(
                    &config.query.flight_listen,
                    executor.clone(),
                    auth.clone(),
                    &cancel,
                )
                .await?,
            );
        }
        app = app.merge(hoso_query::http::router(executor.clone(), auth.clone()));
        app = app.merge(hoso_query::alerts::http::router(
            executor.clone(),
            auth.clone(),
        ));
        app = app.merge(hoso_query::dashboard::router());
        if config.query.kpi_metrics_interval_ms > 0 {
            let gauges = KpiGauges::new(&registry)?;
            let interval = Duration::from_millis(config.query.kpi_metrics_interval_ms);
            let stop = cancel.clone();
            background.push(tokio::spawn(gauges.run(
                executor.clone(),
                interval,
                async move { stop.cancelled().await },
            )));
        }
        if !config.alerting.rules.is_empty() {
            let engine = Engine::new(
                &config.alerting,
                executor.clone(),
                executor.alerts().clone(),
                AlertMetrics::new(&registry)?,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            let topic = config.alerting.kafka_topic.clone();
            let engine = if topic.is_empty() {
                engine
            } else {
                engine.with_sink(Box::new(AlertTopic::new(&config.kafka.brokers, &topic)?))
            };
            let (stop, kafka) = (cancel.clone(), config.kafka.clone());
            background.push(tokio::spawn(async move {
                if !topic.is_empty() && !topic::ensure_named(&kafka, &topic, &stop).await {
                    return;
                }
                engine.run(async move { stop.cancelled().await }).await
            }));
        }
    }

    // The topic first, then the processor: a consumer subscribed to a
    // missing topic would only notice it minutes later.
    let processor: ProcessorSlot = Arc::new(Mutex::new(None));
    let stop_processor = Arc::new(AtomicBool::new(false));
    if roles.process.is_some() || roles.checkpoints {
        checks.push(Arc::new(ProcessorAlive {
            slot: processor.clone(),
            stopping: stop_processor.clone(),
        }));
    }
    {
        let kafka = config.kafka.clone();
        let cancel = cancel.clone();
        let slot = processor.clone();
        let stop = stop_processor.clone();
        let spawn_processor = match (roles.process, &live) {
            (Some(mode), Some(live)) => {
                let mut pc = config.processor.clone();
                pc.mode = mode;
                match mode {
                    ConsumeMode::Follow => pc.group_id = format!("{}-follower", pc.group_id),
                    ConsumeMode::Standalone => {
                        // Offsets are committed under a group of its own: it
                        // is not a member of the processors' group.
                        pc.group_id = format!("{}-standalone", pc.group_id);
                        pc.checkpoint_dir = Some(checkpoint_dir(&config));
                        pc.cold_dir = Some(cold_dir(&config));
                        pc.remote = remote_tables(&config, &table_store);
                    }
                    ConsumeMode::Group => {
                        pc.checkpoint_dir = Some(checkpoint_dir(&config));
                        pc.cold_dir = Some(cold_dir(&config));
                        pc.remote = remote_tables(&config, &table_store);
                    }
                }
                Some((pc, live.clone(), ProcessorMetrics::new(&registry)?))
            }
            _ => None,
        };
        if let (true, Some(live)) = (roles.checkpoints, &live) {
            let handle = read_checkpoints(&config, &table_store, live.clone(), stop.clone())?;
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(TablesThread::Reader(handle));
        }
        // A query node reads the table store only: no Kafka to wait for.
        let needs_topic = roles.ingest || roles.process.is_some();
        background.push(tokio::spawn(async move {
            if !needs_topic {
                return;
            }
            if !topic::ensure_topic(&kafka, &cancel).await {
                return;
            }
            if let Some((pc, live, metrics)) = spawn_processor {
                // Owners dead-letter what they refuse: the topic must exist.
                if pc.mode != ConsumeMode::Follow
                    && !topic::ensure_named(&kafka, &pc.dead_letter_topic, &cancel).await
                {
                    return;
                }
                match hoso_processor::spawn(pc, live, metrics, stop) {
                    Ok(handle) => {
                        *slot.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(TablesThread::Processor(handle))
                    }
                    Err(e) => error!(error = %e, "the processor cannot start"),
                }
            }
        }));
    }

    // The processor stops on its own only when it cannot go on: say why,
    // and shut the process down (only the binary decides to exit).
    let fatal = Arc::new(Mutex::new(None));
    {
        let (slot, stopping, fatal, cancel) = (
            processor.clone(),
            stop_processor.clone(),
            fatal.clone(),
            cancel.clone(),
        );
        background.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let ended = {
                    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
                    match &*slot {
                        Some(t) if t.is_finished() && !stopping.load(Ordering::Relaxed) => {
                            slot.take()
                        }
                        _ => None,
                    }
                };
                if let Some(thread) = ended {
                    let why = tokio::task::spawn_blocking(move || thread.join())
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "its thread ended".into());
                    error!(error = %why, "the processor stopped; shutting down");
                    *fatal.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                    cancel.cancel();
                    return;
                }
            }
        }));
    }
    app = app.merge(ops::router(registry, checks));
    let listener = tokio::net::TcpListener::bind(&config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.http.listen))?;
    let addr = listener.local_addr()?;
    let server_cancel = cancel.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { server_cancel.cancelled().await })
            .await
    });
    info!(%addr, ?roles, brokers = %config.kafka.brokers, topic = %config.kafka.topic, "hoso is listening");
    Ok(Running {
        addr,
        live,
        cancel,
        server,
        background,
        processor,
        stop_processor,
        fatal,
        publisher,
    })
}

/// The table store `store.url` names, `None` for the local default.
pub fn open_table_store(config: &Config) -> anyhow::Result<Option<Arc<TableStore>>> {
    if config.store.url.is_empty() {
        return Ok(None);
    }
    let store = TableStore::open(&config.store.url, &config.store.options)?;
    info!(store = ?store, "checkpoints and cold files in the table store");
    Ok(Some(Arc::new(store)))
}

/// Where the topic's checkpoints and cold files go in the table store.
pub fn remote_tables(config: &Config, store: &Option<Arc<TableStore>>) -> Option<RemoteTables> {
    let store = store.as_ref()?;
    let topic = topic_dir(config);
    Some(RemoteTables {
        checkpoints: StoreDir::new(store.clone(), &format!("checkpoints/{topic}")),
        cold: StoreDir::new(store.clone(), &format!("cold/{topic}")),
    })
}

/// A query node's tables: every partition's latest checkpoint, from the
/// table store (or, without one, `data_dir`), on a thread of its own.
fn read_checkpoints(
    config: &Config,
    store: &Option<Arc<TableStore>>,
    live: Arc<LiveTables>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let mut pc = config.processor.clone();
    pc.remote = remote_tables(config, store);
    let checkpoints: Arc<dyn CheckpointStore> = match &pc.remote {
        Some(remote) => Arc::new(ObjectCheckpointStore::new(remote.checkpoints.clone())),
        None => {
            // The processors' own files: read where they are, never written.
            pc.cold_dir = Some(cold_dir(config));
            Arc::new(FsCheckpointStore::new(checkpoint_dir(config))?)
        }
    };
    let poll = Duration::from_millis(config.store.poll_interval_ms.max(10));
    Ok(hoso_processor::checkpoint_reader::spawn(
        checkpoints,
        pc.partition_settings(),
        live,
        poll,
        stop,
    )?)
}

/// Checkpoints of the topic's partitions: `data_dir/checkpoints/<topic>/`.
pub fn checkpoint_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("checkpoints").join(topic_dir(config))
}

/// Cold files of the topic's filings: `data_dir/cold/<topic>/filings/...`.
pub fn cold_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("cold").join(topic_dir(config))
}

/// The topic's name as a directory name.
fn topic_dir(config: &Config) -> String {
    config
        .kafka
        .topic
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The Postgres wire protocol on `listen`, stopped by `cancel`. The port is
/// tried first so that a taken one fails the start, with its name.
async fn postgres(
    listen: &str,
    executor: QueryExecutor,
    auth: Auth,
    cancel: &CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    if auth.is_local() {
        require_loopback(listen).await?;
    }
    let addr = tokio::net::lookup_host(listen)
        .await
        .with_context(|| format!("query.postgres_listen {listen:?} is not an address"))?
        .next()
        .with_context(|| format!("query.postgres_listen {listen:?} is not an address"))?;
    drop(
        tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (query.postgres_listen)"))?,
    );
    if auth.is_local() {
        info!(
            "Postgres wire protocol: psql postgresql://{LOCAL_USER}:{LOCAL_PASSWORD}@{addr}/hoso \
             (local mode: no [auth] tokens configured)"
        );
    } else {
        info!("Postgres wire protocol on {addr}: user and token of an [auth] entry");
    }
    let cancel = cancel.clone();
    Ok(tokio::spawn(async move {
        let stop = async move { cancel.cancelled().await };
        if let Err(e) = hoso_query::pg::serve(executor, addr, auth, stop).await {
            tracing::error!(error = %e, %addr, "the Postgres wire protocol stopped");
        }
    }))
}

/// Arrow Flight SQL on `listen`, stopped by `cancel`; like [`postgres`],
/// the port is tried first.
async fn flight(
    listen: &str,
    executor: QueryExecutor,
    auth: Auth,
    cancel: &CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let addr = protocol_addr(listen, "query.flight_listen", &auth).await?;
    if auth.is_local() {
        info!(
            "Arrow Flight SQL: grpc://{addr} user {LOCAL_USER} password {LOCAL_PASSWORD} \
             (local mode: no [auth] tokens configured)"
        );
    } else {
        info!("Arrow Flight SQL on grpc://{addr}: user and token of an [auth] entry");
    }
    let cancel = cancel.clone();
    Ok(tokio::spawn(async move {
        let stop = async move { cancel.cancelled().await };
        if let Err(e) = hoso_query::flight::serve(executor, addr, auth, stop).await {
            tracing::error!(error = %e, %addr, "Arrow Flight SQL stopped");
        }
    }))
}

/// The address of a protocol's `listen` setting (`key`), loopback only in
/// local mode, checked free so that a taken port fails the start.
async fn protocol_addr(listen: &str, key: &str, auth: &Auth) -> anyhow::Result<SocketAddr> {
    if auth.is_local() {
        require_loopback(listen).await?;
    }
    let addr = tokio::net::lookup_host(listen)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("{key} {listen:?} is not an address"))?;
    drop(
        tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} ({key})"))?,
    );
    Ok(addr)
}

/// Ingest takes events from `admin` and `ingest` tokens; in local mode from
/// anyone on loopback.
async fn ingest_auth(
    axum::extract::State(auth): axum::extract::State<Auth>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let caller = match hoso_query::http::caller_of(&auth, request.headers()) {
        Ok(c) => c,
        Err(e) => return hoso_query::http::unauthorized(e),
    };
    if !caller.role.may_ingest() {
        let message = format!(
            "user {:?} has the role {}, which may not publish events (admin or ingest may)",
            caller.user, caller.role
        );
        return (
            axum::http::StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "error": message })),
        )
            .into_response();
    }
    next.run(request).await
}

/// Contract: with no auth configured, hoso binds only to loopback; any
/// other address is refused, saying why.
async fn require_loopback(listen: &str) -> anyhow::Result<()> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .with_context(|| format!("http.listen {listen:?} is not an address"))?
        .collect();
    if let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        anyhow::bail!(
            "refusing to listen on {open}: without configured credentials hoso serves loopback \
             addresses only (127.0.0.1, ::1); add [[auth.tokens]] (see `hoso token`) to expose it"
        );
    }
    Ok(())
}

impl Running {
    /// A token that stops the server when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs until the token is cancelled, then shuts down; an error when
    /// the processor stopped because it could not go on.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.cancel.cancelled().await;
        let fatal = self.fatal.clone();
        self.shutdown().await?;
        match fatal.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(why) => anyhow::bail!("the processor stopped: {why}"),
            None => Ok(()),
        }
    }

    /// Stops serving, lets the processor publish what it folded, and
    /// flushes the producer.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        let served = self.server.await;
        for task in self.background {
            let _ = task.await;
        }
        self.stop_processor.store(true, Ordering::Relaxed);
        let handle = self
            .processor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle
            && let Some(why) = tokio::task::spawn_blocking(move || handle.join()).await?
        {
            error!(error = %why, "the processor stopped");
        }
        if let Some(p) = self.publisher {
            tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(5))).await?;
        }
        served??;
        info!("hoso stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::require_loopback;

    #[tokio::test]
    async fn only_loopback_without_credentials() {
        for ok in ["127.0.0.1:0", "[::1]:0", "localhost:0", "127.0.0.2:8080"] {
            assert!(require_loopback(ok).await.is_ok(), "{ok}");
        }
        for refused in ["0.0.0.0:8080", "[::]:8080", "192.0.2.10:8080"] {
            let err = require_loopback(refused).await.unwrap_err().to_string();
            assert!(err.contains("loopback"), "{refused}: {err}");
        }
        assert!(require_loopback("no port here").await.is_err());
    }
}
