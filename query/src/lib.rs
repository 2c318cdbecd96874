//! hoso-query: DataFusion SQL over the live tables.
//!
//! [`catalog`] exposes the processor's tables (read through
//! `hoso_model::tables::TableSource`) and the contract's views to
//! DataFusion; [`executor`] is the one place a SQL text becomes rows, with
//! the read-only policy, the `slots` that bound concurrent queries, and
//! the timeout and row cap that [`stream`] keeps while rows flow; [`http`]
//! is a thin adapter over it that sends each [`format`] as rows come, and
//! [`pg`] another, for the Postgres wire protocol, and [`flight`] a third,
//! for Arrow Flight SQL (ADBC, JDBC, DBeaver).
//! [`udf`] adds the working-day functions.

pub mod alerts;
pub mod auth;
pub mod catalog;
pub mod communes;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod executor;
pub mod flight;
pub mod format;
pub mod http;
pub mod kpi_metrics;
pub mod metrics;
pub mod pg;
pub mod plain_text;
pub mod portal_index;
pub mod query_log;
pub mod schedule;
pub mod scoped;
mod slots;
pub mod small_cold;
pub mod stream;
pub mod udf;

pub use auth::{Auth, Caller, Protocol, Role};
pub use config::QueryConfig;
pub use error::QueryError;
pub use executor::QueryExecutor;
pub use metrics::QueryMetrics;
pub use stream::QueryStream;
