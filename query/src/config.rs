//! Query settings. Units are in the key names.

use std::sync::Arc;

use hoso_model::catalogue::DueRules;
use hoso_model::units::Units;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// A query still running after this long is cancelled. The time counts
    /// from the query's arrival: waiting for a slot, planning, running and
    /// sending the result to the client.
    pub timeout_ms: u64,
    /// DataFusion's parallelism per query.
    pub target_partitions: usize,
    /// Memory all running queries may use together (joins, sorts,
    /// aggregations); past it a query spills or fails, the server lives.
    pub memory_limit_bytes: usize,
    /// Cold files up to this size are decoded once and scanned from
    /// memory (a query pays for every Parquet file it opens, and cold
    /// files never change); 0 reads every cold file from Parquet.
    pub small_cold_file_bytes: u64,
    /// A result with more rows is refused: add a LIMIT or aggregate.
    pub max_result_rows: usize,
    /// Queries running at once; more wait for a slot until their timeout,
    /// then get 503. Bounds the CPU and the open result streams that slow
    /// clients can pin.
    pub max_concurrent_queries: usize,
    /// An open filing is at risk (`at_risk`, `backlog`) when its effective
    /// due is at most this many working hours away.
    pub at_risk_working_hours: u32,
    /// Where the Postgres wire protocol listens (psql, Grafana, DBeaver);
    /// empty turns it off. The user and token of an `[[auth.tokens]]`
    /// entry log in; in local mode, loopback only, `hoso`/`hoso`.
    pub postgres_listen: String,
    /// Where Arrow Flight SQL listens (ADBC, JDBC, DBeaver); empty turns it
    /// off. Logins as on the Postgres wire.
    pub flight_listen: String,
    /// One more units file for the table `communes` (the columns of the
    /// reference list: province_code, province_name, commune_code,
    /// commune_name, unit_type), read after the official list and
    /// `units.files`; empty for none. The table always holds the official
    /// list.
    pub communes_file: String,
    /// How often the per-province KPI gauges on `/metrics` are refreshed
    /// (`hoso_kpi_*`); 0 turns them off.
    pub kpi_metrics_interval_ms: u64,
    /// The calendar of the working-day functions and the catalogue of the
    /// `procedures` table (set from the `calendar` and `procedures`
    /// sections).
    #[serde(skip)]
    pub due_rules: DueRules,
    /// The provinces and communes of the table `communes` (set from the
    /// `units` section).
    #[serde(skip)]
    pub units: Arc<Units>,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            timeout_ms: 30_000,
            target_partitions: 2,
            memory_limit_bytes: 1 << 30,
            small_cold_file_bytes: 1 << 20,
            max_result_rows: 1_000_000,
            max_concurrent_queries: 64,
            at_risk_working_hours: 8,
            postgres_listen: "127.0.0.1:5433".into(),
            flight_listen: "127.0.0.1:50051".into(),
            kpi_metrics_interval_ms: 15_000,
            communes_file: String::new(),
            due_rules: DueRules::vietnam(),
            units: Units::official(),
        }
    }
}
