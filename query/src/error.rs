//! Query errors, each knowing whose fault it is.

use std::time::Duration;

use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement is not allowed: hoso's SQL is read-only.
    #[error("{0}")]
    Refused(String),
    /// The SQL is wrong: syntax, unknown table or column, bad cast...
    #[error("{0}")]
    Invalid(String),
    #[error("query cancelled: it ran longer than the {} ms timeout (query.timeout_ms)", .0.as_millis())]
    Timeout(Duration),
    #[error("the result has more than {0} rows (query.max_result_rows); add a LIMIT or aggregate")]
    TooManyRows(usize),
    /// Every query slot stayed taken until the query's timeout; retrying
    /// later may help.
    #[error("too many queries: all {limit} slots (query.max_concurrent_queries) stayed busy for {} ms; retry later", .waited.as_millis())]
    Busy { limit: usize, waited: Duration },
    /// Memory or another resource ran out; retrying later may help.
    #[error("{0}")]
    Exhausted(String),
    /// A fault of hoso's, not of the query.
    #[error("internal error: {0}")]
    Internal(String),
}

impl QueryError {
    /// Whether the caller can fix it by changing the query.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            QueryError::Refused(_) | QueryError::Invalid(_) | QueryError::TooManyRows(_)
        )
    }

    /// Whether the same query may succeed if retried later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueryError::Busy { .. } | QueryError::Exhausted(_))
    }

    /// A small fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            QueryError::Refused(_) => "refused",
            QueryError::Invalid(_) => "invalid",
            QueryError::Timeout(_) => "timeout",
            QueryError::TooManyRows(_) => "too_many_rows",
            QueryError::Busy { .. } => "busy",
            QueryError::Exhausted(_) => "exhausted",
            QueryError::Internal(_) => "internal",
        }
    }
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> Self {
        let text = e.to_string();
        match e.find_root() {
            DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_)
            | DataFusionError::Execution(_)
            | DataFusionError::ArrowError(..) => QueryError::Invalid(text),
            DataFusionError::ResourcesExhausted(_) => QueryError::Exhausted(text),
            _ => QueryError::Internal(text),
        }
    }
}
